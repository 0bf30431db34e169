import FerryHTTP
import Foundation
import Logging
import OCIModel

/// Talks to one registry endpoint (a registry or a mirror) over the OCI distribution API v1.1.
///
/// Every request goes through one funnel that pre-authorises with the endpoint's learned challenge, follows
/// redirects itself (only `Accept` and `Range` travel, and `Authorization` only to the endpoint's own origin),
/// retries idempotent requests, and turns a 401 on a cached token into one retry with a fresh token.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md
public struct RegistryClient: Sendable {
    /// The endpoint this client talks to.
    public let endpoint: RegistryEndpoint
    /// Shared transport, credentials and caches.
    public let session: RegistrySession

    /// Creates a client; no network I/O happens here.
    public init(endpoint: RegistryEndpoint, session: RegistrySession) {
        self.endpoint = endpoint
        self.session = session
    }

    var logger: Logger { session.logger }

    /// Result of `GET /v2/`.
    public struct PingResult: Sendable, Hashable {
        /// The status code (ignored by pull logic, as Docker does).
        public var status: Int
        /// True when `Docker-Distribution-API-Version` names `registry/2.0`.
        public var foundV2: Bool
        /// The challenges of a 401 answer.
        public var challenges: [AuthChallenge]
    }

    /// `GET /v2/`: checks the endpoint speaks the v2 API and learns its auth challenges. The status is not an
    /// error; only a transport failure is.
    public func ping() async throws(RegistryError) -> PingResult {
        let call = Call(method: .get, url: endpoint.url("/v2/"), scopes: [], maxBodyBytes: 64 * 1024,
                        timeout: .seconds(15), authorize: false)
        let response = try await perform(call)
        let challenges = response.status == 401 ? AuthChallenge.parse(headers: response.headers) : []
        await session.challenges.record(challenges, for: endpoint)
        let foundV2 = response.headers.values(for: "Docker-Distribution-API-Version").contains {
            $0.lowercased().contains("registry/2.0")
        }
        return PingResult(status: response.status, foundV2: foundV2, challenges: challenges)
    }

    // MARK: The funnel

    /// One logical API call.
    struct Call: Sendable {
        var method: HTTPMethod
        var url: URL
        var headers = HTTPHeaders()
        var body: RequestBody = .empty
        /// Token scopes, e.g. `repository:library/alpine:pull`.
        var scopes: [String]
        var maxBodyBytes = 1 << 20
        var timeout: Duration?
        var authorize = true
        var followRedirects = true
        /// Whether transport errors and retryable statuses may be retried; true for GET/HEAD.
        var retryable: Bool
        /// What the request is for, as counted and budgeted per host.
        var kind: RequestKind

        init(
            method: HTTPMethod, url: URL, headers: HTTPHeaders = HTTPHeaders(), body: RequestBody = .empty,
            scopes: [String], maxBodyBytes: Int = 1 << 20, timeout: Duration? = nil, authorize: Bool = true,
            followRedirects: Bool = true, retryable: Bool? = nil
        ) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.scopes = scopes
            self.maxBodyBytes = maxBodyBytes
            self.timeout = timeout
            self.authorize = authorize
            self.followRedirects = followRedirects
            self.retryable = retryable ?? method.isIdempotent
            kind = RequestKind(method: method, url: url)
        }
    }

    /// The credential-bearing header chosen for a call.
    struct Authorization: Sendable {
        var header: String?
        var tokenKey: TokenCache.Key?
        var fromCache = false
    }

    /// Sends `call` with auth, redirects and retries; returns the final response whatever its status.
    func perform(_ call: Call) async throws(RegistryError) -> HTTPResponse {
        if endpoint.isSameOrigin(call.url), let cause = session.unreachableCause(endpoint) {
            throw .request(method: call.method, url: redacted(call.url), cause: cause)
        }
        var retry = 0
        var reauthorized = false
        // A URL the registry handed out (a `Link` page, an upload `Location`) may name another origin: like Docker's
        // per-host authorizer, ferry sends credentials only to the endpoint's own origin and learns challenges
        // only from it.
        let authorizes = call.authorize && endpoint.isSameOrigin(call.url)
        while true {
            if Task.isCancelled { throw .cancelled }
            let authorization = authorizes ? try await authorize(call) : Authorization()
            let outcome = await sendFollowingRedirects(call, authorization: authorization)
            switch outcome {
            case .success(let response):
                if response.status == 401, authorizes, !reauthorized {
                    if let key = authorization.tokenKey, authorization.fromCache, let header = authorization.header {
                        // Docker gives up here; a batch job retries once with a fresh token (PRODUCT "departs").
                        await session.tokens.invalidate(key, value: String(header.dropFirst("Bearer ".count)))
                        reauthorized = true
                        continue
                    }
                    if authorization.header == nil {
                        let challenges = AuthChallenge.parse(headers: response.headers)
                        if !challenges.isEmpty {
                            await session.challenges.record(challenges, for: endpoint)
                            reauthorized = true
                            continue
                        }
                    }
                }
                if response.status == 429, endpoint.isSameOrigin(call.url),
                    let limited = rateLimited(response, retriesLeft: call.retryable && retry < session.retry.retries)
                {
                    throw .request(method: call.method, url: redacted(call.url), cause: limited)
                }
                if call.retryable, RetryPolicy.isRetryableStatus(response.status), retry < session.retry.retries {
                    retry += 1
                    let backoff = session.retry.delay(beforeRetry: retry)
                    if let after = RetryPolicy.retryAfter(response.headers) {
                        // A rate limit that resets in hours is not worth a batch job's wait: report it instead.
                        guard after <= session.retry.maxRetryAfter else { return response }
                        try await pause(max(backoff, after), call: call, reason: response.statusLine, retry: retry)
                    } else {
                        try await pause(backoff, call: call, reason: response.statusLine, retry: retry)
                    }
                    continue
                }
                return response
            case .failure(let error):
                if error.isCancellation { throw .cancelled }
                if call.retryable, isRetryable(error), retry < session.retry.retries {
                    retry += 1
                    try await pause(session.retry.delay(beforeRetry: retry), call: call, reason: "\(error)", retry: retry)
                    continue
                }
                if Self.isConnectionFailure(error), endpoint.isSameOrigin(call.url) { session.markUnreachable(endpoint, error) }
                throw error
            }
        }
    }

    /// What a 429 from the endpoint means for the run, or nil to retry it: a spent quota (the headers say so) is
    /// not retried; a 429 without one is retried with backoff, and one that retries do not cure (or whose
    /// `Retry-After` is too long to wait) blocks new work on the host — Docker Hub's abuse limit.
    func rateLimited(_ response: HTTPResponse, retriesLeft: Bool) -> RequestFailure? {
        let host = RateGovernor.hostKey(endpoint.baseURL)
        let after = RetryPolicy.retryAfter(response.headers)
        if let reset = session.governor.spentQuota(host) {
            let until = after.map { Date().addingTimeInterval(Double($0.components.seconds)) }
            if let until { session.governor.block(host, until: until) }
            return .rateLimited(host: host, until: until ?? reset)
        }
        if retriesLeft, (after ?? .zero) <= session.retry.maxRetryAfter { return nil }
        let until = after.map { Date().addingTimeInterval(Double($0.components.seconds)) }
        session.governor.block(host, until: until)
        logger.warning(
            "Rate limited; no new work on this host", metadata: ["host": "\(host)", "until": "\(until.map { "\($0)" } ?? "end of run")"])
        return .rateLimited(host: host, until: until)
    }

    /// True for failures before any HTTP exchange (DNS, connect, TLS): the endpoint itself is not reachable.
    static func isConnectionFailure(_ error: RegistryError) -> Bool {
        if case .request(_, _, .transport(let transport)) = error { return transport.isBeforeHTTP }
        return false
    }

    /// Whether a failed attempt is worth another: transport failures that may pass and retryable token-server
    /// statuses, except a refused connection to a mirror, which is definitive for the run (Docker falls back at
    /// once; the registry itself keeps its retries, since it has no one to fall back to).
    func isRetryable(_ error: RegistryError) -> Bool {
        switch error {
        case .request(_, _, .transport(let transport)): isRetryable(transport)
        case .request(_, _, .tokenServer(let status, _)): RetryPolicy.isRetryableStatus(status)
        default: false
        }
    }

    /// ``isRetryable(_:)`` for a transport failure of a request to this endpoint.
    func isRetryable(_ error: TransportError) -> Bool {
        error.isRetryable && !(endpoint.isMirror && error.isConnectionRefused)
    }

    func pause(_ delay: Duration, call: Call, reason: String, retry: Int) async throws(RegistryError) {
        logger.info(
            "Retrying after error",
            metadata: [
                "method": "\(call.method.rawValue)", "url": "\(redacted(call.url))", "error": "\(reason)",
                "retry": "\(retry)/\(session.retry.retries)", "delay": "\(delay)",
            ])
        guard delay > .zero else { return }
        do {
            try await Task.sleep(for: delay)
        } catch {
            throw .cancelled
        }
    }

    /// One attempt: send, and follow up to 10 redirects for GET/HEAD.
    private func sendFollowingRedirects(
        _ call: Call, authorization: Authorization
    ) async -> Result<HTTPResponse, RegistryError> {
        var url = call.url
        var method = call.method
        var headers = call.headers
        if let header = authorization.header { headers.set("Authorization", header) }
        var hops = 0
        while true {
            let request = HTTPRequest(
                method: method, url: url, headers: headers, body: call.body, tls: tls(for: url), timeout: call.timeout)
            let admission: RateGovernor.Admission
            do {
                admission = try await session.governor.admit(url, kind: call.kind)
            } catch {
                return .failure(.request(method: call.method, url: redacted(call.url), cause: error))
            }
            let response: HTTPResponse
            do {
                response = try await session.transport.send(request, maxBodyBytes: call.maxBodyBytes)
            } catch {
                session.governor.settle(admission, status: nil, headers: nil)
                return .failure(.request(method: call.method, url: redacted(call.url), cause: .transport(error)))
            }
            session.governor.settle(admission, status: response.status, headers: response.headers)
            if endpoint.isSameOrigin(url) { session.markResponded(endpoint) }
            logger.debug(
                "HTTP", metadata: ["method": "\(method.rawValue)", "url": "\(redacted(url))", "status": "\(response.status)"])
            guard call.followRedirects, let next = redirectTarget(response, from: url) else {
                return .success(response)
            }
            switch next {
            case .failure(let failure):
                return .failure(.request(method: call.method, url: redacted(call.url), cause: failure))
            case .success(let target):
                hops += 1
                if hops > 10 {
                    return .failure(.request(method: call.method, url: redacted(call.url), cause: .tooManyRedirects))
                }
                headers = redirectHeaders(from: call.headers, authorization: authorization, to: target)
                if response.status == 303 { method = .get }
                url = target
            }
        }
    }

    /// The next URL when `response` is a redirect.
    func redirectTarget(_ response: HTTPResponse, from url: URL) -> Result<URL, RequestFailure>? {
        guard [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["Location"] else {
            return nil
        }
        guard let target = URL(string: location, relativeTo: url)?.absoluteURL,
            let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https", target.host != nil
        else {
            return .failure(.badRedirect(location))
        }
        return .success(target)
    }

    /// Docker copies only `Accept` and `Range` onto a redirect; credentials go only to the endpoint's own origin
    /// (a storage redirect to S3 or a CDN never sees the registry token).
    func redirectHeaders(from original: HTTPHeaders, authorization: Authorization, to target: URL) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for field in original where ["accept", "range"].contains(field.name.lowercased()) {
            headers.add(field.name, field.value)
        }
        if let header = authorization.header, endpoint.isSameOrigin(target), target.path.hasPrefix("/v2/") {
            headers.set("Authorization", header)
        }
        return headers
    }

    /// The endpoint's TLS settings for its own host; system defaults for anything a redirect points to.
    func tls(for url: URL) -> TLSOptions {
        url.host?.lowercased() == endpoint.baseURL.host?.lowercased() ? endpoint.tls : .verify
    }

    // MARK: Authorization

    /// Picks the header for `call` from the endpoint's learned challenges: the first challenge whose scheme
    /// ferry handles wins, as in Docker's authorizer.
    func authorize(_ call: Call) async throws(RegistryError) -> Authorization {
        guard let challenges = await session.challenges.challenges(for: endpoint), !challenges.isEmpty else {
            return Authorization()
        }
        for challenge in challenges {
            switch challenge.scheme {
            case "bearer":
                guard let realm = challenge.parameters["realm"], let realmURL = URL(string: realm) else { continue }
                guard let scheme = realmURL.scheme?.lowercased(), scheme == "http" || scheme == "https",
                    realmURL.host?.isEmpty == false
                else {
                    throw .request(method: call.method, url: redacted(call.url), cause: .unsupportedRealm(realm))
                }
                let credential = try await credential(forRealm: realmURL)
                let key = TokenCache.Key(
                    realm: realm, service: challenge.parameters["service"] ?? "", scopes: call.scopes,
                    account: credential?.username ?? "")
                do {
                    let (token, cached) = try await session.tokens.token(for: key) {
                        try await fetchToken(realm: realmURL, key: key, credential: credential)
                    }
                    return Authorization(header: "Bearer \(token.value)", tokenKey: key, fromCache: cached)
                } catch let failure as RequestFailure {
                    throw .request(method: call.method, url: redacted(call.url), cause: failure)
                } catch {
                    if (error as? CancellationError) != nil || Task.isCancelled { throw .cancelled }
                    throw .request(method: call.method, url: redacted(call.url), cause: .noToken)
                }
            case "basic":
                guard case .basic(let username, let password)? = try await credential() else {
                    throw .request(method: call.method, url: redacted(call.url), cause: .noBasicAuthCredentials)
                }
                let encoded = Data("\(username):\(password)".utf8).base64EncodedString()
                return Authorization(header: "Basic \(encoded)")
            default:
                continue
            }
        }
        return Authorization()
    }

    /// The credentials a token request to `realm` carries.
    ///
    /// Docker sends the registry's credentials to whatever realm the registry names; ferry sends them only to a realm
    /// on the registry's own host (or, for Docker Hub, its token service `auth.docker.io`), and not over plain http
    /// unless the registry itself is plain http. A realm on another host gets only credentials the user configured
    /// for that host (docker config or the mirror list), and never any over plain http; otherwise the token is
    /// asked for anonymously.
    func credential(forRealm realm: URL) async throws(RegistryError) -> Credential? {
        let host = realm.host?.lowercased() ?? ""
        let https = realm.scheme?.lowercased() == "https"
        let ownHost = host == endpoint.baseURL.host?.lowercased()
        if ownHost || Self.tokenServices[endpoint.credentialHost]?.contains(host) == true {
            return https || endpoint.scheme == "http" ? try await credential() : nil
        }
        guard https else { return nil }
        do {
            return try await session.credentials.credential(for: RegistryEndpoint.hostAndPort(realm))
        } catch {
            throw .credentials(error)
        }
    }

    /// Token services that belong to a registry although they are on another host.
    static let tokenServices: [String: Set<String>] = ["docker.io": ["auth.docker.io"]]

    func credential() async throws(RegistryError) -> Credential? {
        do {
            return try await session.credentials.credential(for: endpoint.credentialHost)
        } catch {
            throw .credentials(error)
        }
    }

    /// Asks the token server for a token covering `key.scopes`: a GET with Basic auth (or anonymous), or a POST
    /// with the refresh token for identity-token credentials. Retries like any idempotent request.
    func fetchToken(realm: URL, key: TokenCache.Key, credential: Credential?) async throws -> TokenCache.Token {
        var query: [URLQueryItem] = []
        var request: HTTPRequest
        switch credential {
        case .identityToken(_, let token):
            var form = [("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", "ferry")]
            if !key.service.isEmpty { form.append(("service", key.service)) }
            if !key.scopes.isEmpty { form.append(("scope", key.scopes.joined(separator: " "))) }
            let body = form.map { "\(Self.formEscape($0.0))=\(Self.formEscape($0.1))" }.joined(separator: "&")
            request = HTTPRequest(
                method: .post, url: realm, headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: .bytes(Array(body.utf8)), tls: tls(for: realm), timeout: .seconds(60))
        case .basic(let username, let password):
            if !key.service.isEmpty { query.append(URLQueryItem(name: "service", value: key.service)) }
            for scope in key.scopes { query.append(URLQueryItem(name: "scope", value: scope)) }
            query.append(URLQueryItem(name: "account", value: username))
            var headers = HTTPHeaders()
            headers.set("Authorization", "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
            request = HTTPRequest(
                method: .get, url: Self.appending(query, to: realm), headers: headers, tls: tls(for: realm),
                timeout: .seconds(60))
        case nil:
            if !key.service.isEmpty { query.append(URLQueryItem(name: "service", value: key.service)) }
            for scope in key.scopes { query.append(URLQueryItem(name: "scope", value: scope)) }
            request = HTTPRequest(
                method: .get, url: Self.appending(query, to: realm), tls: tls(for: realm), timeout: .seconds(60))
        }
        var retry = 0
        while true {
            let requested = Date()
            let admission = try await session.governor.admit(request.url, kind: .token)
            let response: HTTPResponse
            do {
                response = try await session.transport.send(request, maxBodyBytes: 1 << 20)
                session.governor.settle(admission, status: response.status, headers: response.headers)
            } catch {
                session.governor.settle(admission, status: nil, headers: nil)
                if error == .cancelled { throw CancellationError() }
                if error.isRetryable, retry < session.retry.retries {
                    retry += 1
                    try await Task.sleep(for: session.retry.delay(beforeRetry: retry))
                    continue
                }
                throw RequestFailure.transport(error)
            }
            if RetryPolicy.isRetryableStatus(response.status), retry < session.retry.retries {
                retry += 1
                try await Task.sleep(for: session.retry.delay(beforeRetry: retry))
                continue
            }
            guard response.isSuccess else {
                throw RequestFailure.tokenServer(
                    status: response.status, message: RegistryError.fromResponse(response).description)
            }
            return try Self.decodeToken(response.body, requestedAt: requested)
        }
    }

    /// Reads `{"token"|"access_token", "expires_in", "issued_at"}`; `access_token` wins, `expires_in` defaults
    /// to and is floored at 60 s, and expiry counts from `issued_at` when given.
    static func decodeToken(_ body: [UInt8], requestedAt: Date) throws(RequestFailure) -> TokenCache.Token {
        struct Reply: Decodable {
            var token: String?
            var access_token: String?
            var expires_in: Int?
            var issued_at: String?
        }
        guard let reply = try? JSONDecoder().decode(Reply.self, from: Data(body)) else { throw .noToken }
        let value = (reply.access_token?.isEmpty == false ? reply.access_token : reply.token) ?? ""
        guard !value.isEmpty else { throw .noToken }
        let lifetime = max(reply.expires_in ?? 60, 60)
        var issued = requestedAt
        if let text = reply.issued_at {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) { issued = date }
        }
        return TokenCache.Token(value: value, expiry: issued.addingTimeInterval(TimeInterval(lifetime)))
    }

    static func appending(_ items: [URLQueryItem], to url: URL) -> URL {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else { return url }
        components.queryItems = (components.queryItems ?? []) + items
        // URLComponents leaves `+` alone in queries, but token servers decode it as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.url ?? url
    }

    static func formEscape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// The scope granting pull on `repository`.
    public static func pullScope(_ repository: String) -> String { "repository:\(repository):pull" }
    /// The scope granting pull and push on `repository`.
    public static func pushScope(_ repository: String) -> String { "repository:\(repository):pull,push" }
}
