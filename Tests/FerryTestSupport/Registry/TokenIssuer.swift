import Crypto
import Foundation

// https://distribution.github.io/distribution/spec/auth/jwt/
/// One entry of a registry token's `access` claim.
public struct TokenAccess: Sendable, Hashable, Codable {
    /// The resource type, `repository` for image repositories.
    public var type: String
    /// The resource name, e.g. `library/alpine`.
    public var name: String
    /// The granted actions, e.g. `["pull"]` or `["pull", "push"]`.
    public var actions: [String]

    /// Creates an access entry.
    public init(type: String = "repository", name: String, actions: [String]) {
        self.type = type
        self.name = name
        self.actions = actions
    }

    /// Access to repository `name` with `actions`.
    public static func repository(_ name: String, actions: [String] = ["pull"]) -> TokenAccess {
        TokenAccess(name: name, actions: actions)
    }
}

/// Signs registry Bearer tokens the way a distribution 2.8 token server does: ES256 JWS whose header carries the
/// signing certificate in `x5c`, which the registry checks against its `auth.token.rootcertbundle`.
public struct TokenIssuer: Sendable {
    /// The `iss` claim, and the registry's `auth.token.issuer`.
    public let issuer: String
    /// The default `aud` claim, and the registry's `auth.token.service`.
    public let service: String
    /// The signing certificate (PEM); the registry's `rootcertbundle`.
    public let certificatePath: String
    private let privateKey: P256.Signing.PrivateKey
    private let certificateDER: [UInt8]

    /// Generates a signing key and self-signed certificate in `directory` (files `<name>.crt`, `<name>.key`).
    public static func create(
        in directory: String, name: String = "token-signer", issuer: String = "ferry-test-issuer",
        service: String = "ferry-test-registry"
    ) async throws -> TokenIssuer {
        let certificate = try await SelfSignedCertificate.generate(in: directory, name: name, commonName: issuer)
        let keyPEM = try TestFiles.readText(certificate.privateKeyPath)
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw TestSupportError.fileIO(path: certificate.privateKeyPath, message: "not a P-256 key: \(error)")
        }
        return TokenIssuer(
            issuer: issuer, service: service, certificatePath: certificate.certificatePath, privateKey: key,
            certificateDER: try certificate.certificateDER())
    }

    private init(
        issuer: String, service: String, certificatePath: String, privateKey: P256.Signing.PrivateKey,
        certificateDER: [UInt8]
    ) {
        self.issuer = issuer
        self.service = service
        self.certificatePath = certificatePath
        self.privateKey = privateKey
        self.certificateDER = certificateDER
    }

    /// A signed token granting `access`. `audience` defaults to ``service`` and `issuer` to ``issuer``; tests pass
    /// other values to get tokens the registry must refuse. Valid from a minute before `now` for `lifetime` seconds.
    public func token(
        access: [TokenAccess], subject: String = "ferry-test", audience: String? = nil, issuer: String? = nil,
        lifetime: Int = 300, now: Date = Date()
    ) throws -> String {
        let issuedAt = Int(now.timeIntervalSince1970)
        let header = Header(alg: "ES256", typ: "JWT", x5c: [Base64.encode(certificateDER)])
        let claims = Claims(
            iss: issuer ?? self.issuer, sub: subject, aud: audience ?? service, exp: issuedAt + lifetime,
            nbf: issuedAt - 60, iat: issuedAt, jti: UUID().uuidString, access: access)
        let signingInput =
            Base64.urlEncode(try DeterministicJSON.encode(header)) + "."
            + Base64.urlEncode(try DeterministicJSON.encode(claims))
        // JWS ES256 wants the raw 64-byte r||s form, not DER (RFC 7518 §3.4).
        let signature = try privateKey.signature(for: Data(signingInput.utf8)).rawRepresentation
        return signingInput + "." + Base64.urlEncode(Array(signature))
    }

    /// The JSON body a token endpoint returns for `token` (both `token` and `access_token`, as Docker Hub does).
    public func tokenResponseBody(token: String, expiresIn: Int = 300, issuedAt: Date = Date()) throws -> [UInt8] {
        let formatter = ISO8601DateFormatter()
        let body = TokenResponse(
            token: token, access_token: token, expires_in: expiresIn, issued_at: formatter.string(from: issuedAt))
        return try DeterministicJSON.encode(body)
    }

    private struct Header: Encodable {
        var alg: String
        var typ: String
        var x5c: [String]
    }

    private struct Claims: Encodable {
        var iss: String
        var sub: String
        var aud: String
        var exp: Int
        var nbf: Int
        var iat: Int
        var jti: String
        var access: [TokenAccess]
    }

    private struct TokenResponse: Encodable {
        var token: String
        var access_token: String
        var expires_in: Int
        var issued_at: String
    }
}
