import FerryHTTP
import Foundation

/// What a request is for, as the report's per-host table and `ferry_requests_total{kind}` count it.
///
/// Decided from the method and the URL's path, so every request of the one funnel is classified the same way,
/// redirect hops included (they keep the kind of the request that was redirected).
public enum RequestKind: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// `HEAD /v2/<name>/manifests/<ref>`: free on Docker Hub.
    case manifestHead = "manifest-head"
    /// `GET /v2/<name>/manifests/<ref>`: what Docker Hub's pull limit counts.
    case manifestGet = "manifest-get"
    /// A blob download (or a blob existence check before a push).
    case blob
    /// `GET /v2/<name>/tags/list`, every page.
    case tags
    /// A token server request.
    case token
    /// `GET /v2/`.
    case ping
    /// Uploads and manifest `PUT`s of a push.
    case push
    /// `GET /v2/<name>/referrers/<digest>`.
    case referrers
    /// Anything else.
    case other

    /// The kind of `method` on `url` (a token request is classified by its caller).
    public init(method: HTTPMethod, url: URL) {
        let path = url.path
        if path == "/v2/" || path == "/v2" {
            self = .ping
        } else if path.contains("/blobs/uploads") {
            self = .push
        } else if path.contains("/manifests/") {
            switch method {
            case .head: self = .manifestHead
            case .get: self = .manifestGet
            default: self = .push
            }
        } else if path.contains("/blobs/") {
            self = .blob
        } else if path.hasSuffix("/tags/list") {
            self = .tags
        } else if path.contains("/referrers/") {
            self = .referrers
        } else {
            self = .other
        }
    }

    /// Counted against a registry's pull budget (Docker Hub counts manifest GETs, not HEADs, not blobs).
    public var isBudgeted: Bool { self == .manifestGet }

    /// Stopped while a host is blocked after a 429: blobs and tokens of pulls already started still pass, so an
    /// image that was begun is finished.
    public var startsWork: Bool {
        switch self {
        case .manifestHead, .manifestGet, .tags, .referrers, .ping: true
        default: false
        }
    }

    /// Declaration order.
    public static func < (lhs: RequestKind, rhs: RequestKind) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
