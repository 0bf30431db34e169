import Foundation
import Synchronization

// https://distribution.github.io/distribution/spec/auth/token/
/// A token server (the `realm` of a token-auth registry) on 127.0.0.1: `GET /token?service=…&scope=…` answers
/// with a JWT from ``TokenIssuer`` granting exactly the scopes asked for, valid for ``expiresIn`` seconds (also
/// sent as `expires_in`). Every request is recorded, so tests can count token fetches. With `issuedAgo`, the reply's
/// `issued_at` lies that many seconds in the past, so a client that honours it sees a token about to expire (or
/// expired) while the JWT itself, signed with the real time, is still accepted by the registry.
public final class TokenServer: Sendable {
    /// Signs the tokens; the registry trusts its certificate.
    public let issuer: TokenIssuer
    private let server: TestHTTPServer
    private let issued = IssuedTokens()

    /// Starts the server. With `credentials`, requests must carry them as Basic auth (else 401).
    public init(issuer: TokenIssuer, expiresIn: Int = 300, issuedAgo: Int = 0, credentials: RegistryUser? = nil) throws {
        self.issuer = issuer
        let issued = self.issued
        server = try TestHTTPServer { request in
            Self.answer(
                request, issuer: issuer, expiresIn: expiresIn, issuedAgo: issuedAgo, credentials: credentials,
                issued: issued)
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

    /// The scopes a request asked for, e.g. `repository:demo/app:pull`.
    public static func scopes(of request: TestHTTPRequest) -> [String] {
        queryItems(request).filter { $0.name == "scope" }.compactMap(\.value)
    }

    static func queryItems(_ request: TestHTTPRequest) -> [URLQueryItem] {
        URLComponents(string: "http://token" + request.target)?.queryItems ?? []
    }

    private static func answer(
        _ request: TestHTTPRequest, issuer: TokenIssuer, expiresIn: Int, issuedAgo: Int, credentials: RegistryUser?,
        issued: IssuedTokens
    ) -> TestHTTPResponse {
        guard request.path == "/token" else { return .text("not found", status: 404) }
        if let credentials, request.headers["Authorization"] != credentials.authorizationHeader {
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
