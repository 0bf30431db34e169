import FerryHTTP
import Foundation
import FerrySystem
import OCIModel

/// Why a registry operation failed. Texts follow the docker/distribution client where PULL-SEMANTICS names
/// them; none contains credentials or query strings.
public enum RegistryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A 4xx with a parsable `{"errors":[…]}` body (distribution's `errcode.Errors`), never empty.
    case registry([DistributionError], status: Int)
    /// A 4xx whose body did not parse (distribution's `UnexpectedHTTPResponseError`).
    case unexpectedResponse(status: Int, parseError: String, body: String)
    /// A status outside 2xx/4xx that the operation did not expect (`UnexpectedHTTPStatusError`).
    case unexpectedStatus(statusLine: String)
    /// A request that did not complete, shown like Go's `*url.Error`: `Get "https://host/v2/": <cause>`.
    case request(method: HTTPMethod, url: String, cause: RequestFailure)
    /// Content did not hash to its digest.
    case verificationFailed(ContentKind, Digest)
    /// A manifest bigger than the 4 MiB ferry accepts, or than the size its descriptor gives.
    case manifestTooLarge(url: String, limit: Int)
    /// The registry served more bytes than the blob's descriptor gives; reading stopped there.
    case sizeExceeded(ContentKind, Digest, size: Int64)
    /// A schema-1 manifest, which ferry refuses.
    case schema1(String)
    /// A manifest of a media type ferry does not handle.
    case unsupportedManifestFormat(MediaType)
    /// A HEAD response without a required header.
    case missingHeader(String)
    /// A response that breaks the protocol in another way (bad JSON, bad digest header, …).
    case invalidResponse(url: String, message: String)
    /// Writing a download failed locally; never retried. `cause` is the `errno` when known (a full disk).
    case localIO(path: String, message: String, cause: SystemErrno?)
    /// Credentials could not be read.
    case credentials(CredentialError)
    /// The operation was cancelled.
    case cancelled

    /// The Go-compatible text.
    public var description: String {
        switch self {
        case .registry(let errors, _):
            // errcode.Errors: one error prints alone, several as a list.
            if errors.count == 1 { return errors[0].description }
            return "errors:\n" + errors.map { $0.description + "\n" }.joined()
        case .unexpectedResponse(let status, let parseError, let body):
            return "error parsing HTTP \(status) response body: \(parseError): \(goQuoted(body))"
        case .unexpectedStatus(let statusLine):
            return "received unexpected HTTP status: \(statusLine)"
        case .request(let method, let url, let cause):
            return "\(method.rawValue.prefix(1))\(method.rawValue.dropFirst().lowercased()) \(goQuoted(url)): \(cause)"
        case .verificationFailed(let kind, let digest):
            return "\(kind.verificationSubject) verification failed for digest \(digest)"
        case .manifestTooLarge(let url, let limit):
            return "manifest at \(url) is larger than \(limit) bytes"
        case .sizeExceeded(let kind, let digest, let size):
            return "\(kind.verificationSubject) \(digest) is larger than the \(size) bytes its descriptor gives"
        case .schema1(let reference):
            return "\(reference) uses a schema 1 manifest, which ferry does not support: ask its publisher for a schema 2 or OCI image"
        case .unsupportedManifestFormat:
            return "unsupported manifest format"
        case .missingHeader(let name):
            return "missing or empty \(name) header"
        case .invalidResponse(let url, let message):
            return "\(url): \(message)"
        case .localIO(let path, let message, _):
            return "\(path): \(message)"
        case .credentials(let error):
            return error.description
        case .cancelled:
            return "context canceled"
        }
    }

    /// The registry error codes carried, in order (empty for other cases).
    public var codes: [RegistryErrorCode] {
        if case .registry(let errors, _) = self { return errors.map(\.code) }
        return []
    }

    /// The rate limit that stopped this request, when one did: `(host, until)`.
    public var rateLimit: (host: String, until: Date?)? {
        if case .request(_, _, .rateLimited(let host, let until)) = self { return (host, until) }
        return nil
    }

    /// True when the operation was cancelled, directly or inside a request.
    public var isCancellation: Bool {
        switch self {
        case .cancelled: true
        case .request(_, _, .transport(.cancelled)): true
        default: false
        }
    }
}

/// What kind of content failed verification; decides the message.
public enum ContentKind: String, Sendable, Hashable {
    /// An image manifest or index.
    case manifest
    /// An image configuration blob.
    case config
    /// A layer blob.
    case layer

    var verificationSubject: String {
        switch self {
        case .manifest: "manifest"
        case .config: "image config"
        case .layer: "filesystem layer"
        }
    }
}

/// Why a request did not produce a usable response (the `Err` of Go's `*url.Error`).
public enum RequestFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The transport failed.
    case transport(TransportError)
    /// A Basic challenge but no credentials (`ErrNoBasicAuthCredentials`).
    case noBasicAuthCredentials
    /// The token server answered without a token.
    case noToken
    /// The token server refused or failed.
    case tokenServer(status: Int, message: String)
    /// More than 10 redirects.
    case tooManyRedirects
    /// A redirect to a URL ferry will not follow (bad scheme, unparsable).
    case badRedirect(String)
    /// A Bearer challenge whose realm is not an http(s) URL with a host.
    case unsupportedRealm(String)
    /// The host's rate limit is spent or a 429 stopped work on it; not sent. `until`: when it may be asked again
    /// (nil: not in this run).
    case rateLimited(host: String, until: Date?)

    /// distribution's texts.
    public var description: String {
        switch self {
        case .transport(let error): error.description
        case .noBasicAuthCredentials: "no basic auth credentials"
        case .noToken: "authorization server did not include a token in the response"
        case .tokenServer(_, let message): message
        case .tooManyRedirects: "stopped after 10 redirects"
        case .badRedirect(let location): "unsupported redirect location \(goQuoted(location))"
        case .unsupportedRealm(let realm): "unsupported token realm \(goQuoted(realm)): only http and https are asked"
        case .rateLimited(let host, let until):
            if let until {
                "rate limit of \(host) reached; not asked again before \(until.formatted(.iso8601))"
            } else {
                "rate limit of \(host) reached (429 Too Many Requests); not asked again in this run"
            }
        }
    }
}

