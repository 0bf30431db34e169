import Foundation
import Synchronization

// https://distribution.github.io/distribution/spec/auth/token/
/// A token server (the `realm` of a token-auth registry) on 127.0.0.1: `GET /token?service=…&scope=…` answers
/// with a JWT from ``TokenIssuer`` granting exactly the scopes asked for, valid for ``expiresIn`` seconds (also
/// sent as `expires_in`). Every request is recorded, so tests can count token fetches. With `issuedAgo`, the reply's
/// `issued_at` lies that many seconds in the past, so a client that honours it sees a token about to expire (or
/// expired) while the JWT itself, signed with the real time, is still accepted by the registry. A `POST` is Docker's
/// OAuth2 form (`grant_type=refresh_token`, the scopes in the body), the way identity tokens are exchanged.
public final class TokenServer: Sendable {
    /// Signs the tokens; the registry trusts its certificate.
    public let issuer: TokenIssuer
    private let server: TestHTTPServer
    private let issued = IssuedTokens()

    /// Starts the server. With `credentials`, `GET` requests must carry them as Basic auth (else 401); a `POST` must
    /// carry `refreshToken` (else 401; without one every `POST` is refused).
    public init(
        issuer: TokenIssuer, expiresIn: Int = 300, issuedAgo: Int = 0, credentials: RegistryUser? = nil,
        refreshToken: String? = nil
    ) throws {
        self.issuer = issuer
        let issued = self.issued
        let check = Check(credentials: credentials, refreshToken: refreshToken)
        server = try TestHTTPServer { request in
            Self.answer(request, issuer: issuer, expiresIn: expiresIn, issuedAgo: issuedAgo, check: check, issued: issued)
        }
    }

    /// What a token request must carry.
    struct Check: Sendable {
        var credentials: RegistryUser?
        var refreshToken: String?

        func accepts(_ request: TestHTTPRequest) -> Bool {
            guard request.method == "POST" else {
                return credentials.map { request.headers["Authorization"] == $0.authorizationHeader } ?? true
            }
            let form = TokenServer.formItems(request)
            return refreshToken != nil && form.first { $0.name == "grant_type" }?.value == "refresh_token"
                && form.first { $0.name == "refresh_token" }?.value == refreshToken
        }
    }

    deinit { server.stop() }

    /// `http://127.0.0.1:PORT/token`, the registry's `auth.token.realm`.
    public var realm: String { "http://127.0.0.1:\(server.port)/token" }

    /// Every token request so far.
    public var requests: [TestHTTPRequest] { server.requests }

    /// Every token handed out so far, in order.
    public var issuedTokens: [String] { issued.tokens.withLock { $0 } }

    /// Stops the server.
    public func stop() { server.stop() }

    /// The scopes a request asked for, e.g. `repository:demo/app:pull`: `scope` query items of a `GET`, the
    /// space-separated `scope` field of a `POST` form.
    public static func scopes(of request: TestHTTPRequest) -> [String] {
        guard request.method == "POST" else {
            return queryItems(request).filter { $0.name == "scope" }.compactMap(\.value)
        }
        return formItems(request).filter { $0.name == "scope" }.compactMap(\.value)
            .flatMap { $0.split(separator: " ").map(String.init) }
    }

    static func queryItems(_ request: TestHTTPRequest) -> [URLQueryItem] {
        URLComponents(string: "http://token" + request.target)?.queryItems ?? []
    }

    /// The fields of an `application/x-www-form-urlencoded` body (`+` is a space).
    static func formItems(_ request: TestHTTPRequest) -> [URLQueryItem] {
        var components = URLComponents()
        components.percentEncodedQuery = String(decoding: request.body, as: UTF8.self)
            .replacingOccurrences(of: "+", with: "%20")
        return components.queryItems ?? []
    }

    private static func answer(
        _ request: TestHTTPRequest, issuer: TokenIssuer, expiresIn: Int, issuedAgo: Int, check: Check,
        issued: IssuedTokens
    ) -> TestHTTPResponse {
        guard request.path == "/token" else { return .text("not found", status: 404) }
        guard check.accepts(request) else {
            return .text(#"{"details":"incorrect username or password"}"#, status: 401)
        }
        let access = scopes(of: request).flatMap { scope -> [TokenAccess] in
            // `type:name:actions`; the name may itself hold a colon (a port), so split from both ends.
            guard let first = scope.firstIndex(of: ":"), let last = scope.lastIndex(of: ":"), first < last else {
                return []
            }
            let type = String(scope[..<first])
            let name = String(scope[scope.index(after: first)..<last])
            let actions = scope[scope.index(after: last)...].split(separator: ",").map(String.init)
            return [TokenAccess(type: type, name: name, actions: actions)]
        }
        do {
            let token = try issuer.token(access: access, lifetime: expiresIn)
            issued.tokens.withLock { $0.append(token) }
            let body = try issuer.tokenResponseBody(
                token: token, expiresIn: expiresIn, issuedAt: Date().addingTimeInterval(-Double(issuedAgo)))
            return TestHTTPResponse(status: 200, headers: ["Content-Type": "application/json"], body: .bytes(body))
        } catch {
            return .text("token server: \(error)", status: 500)
        }
    }
}

final class IssuedTokens: Sendable {
    let tokens = Mutex<[String]>([])
}
