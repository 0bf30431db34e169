import Foundation
import OCIModel

/// An HTTP method ferry uses.
public enum HTTPMethod: String, Sendable, Hashable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case patch = "PATCH"
    case delete = "DELETE"

    /// True for methods ferry may retry without side effects.
    public var isIdempotent: Bool { self == .get || self == .head }
}

/// An ordered list of header fields with case-insensitive lookup.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    /// One header field.
    public struct Field: Sendable, Hashable {
        /// The field name as sent or received.
        public var name: String
        /// The field value, trimmed.
        public var value: String
    }

    private var fields: [Field] = []

    /// An empty header list.
    public init() {}

    /// Headers from literal pairs, in order.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name, value) }
    }

    /// The first value of `name`, compared case-insensitively.
    public subscript(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    /// Appends a field.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Replaces every field called `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field called `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// Iterates the fields in order.
    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// True when there is no field.
    public var isEmpty: Bool { fields.isEmpty }
}

/// What a request sends as its body.
public enum RequestBody: Sendable, Hashable {
    /// No body.
    case empty
    /// Bytes held in memory (small documents: manifests, token forms).
    case bytes([UInt8])
    /// A byte range of a file, streamed from disk (blob uploads).
    case file(path: String, offset: Int64, length: Int64)

    /// The number of bytes the body sends.
    public var length: Int64 {
        switch self {
        case .empty: 0
        case .bytes(let bytes): Int64(bytes.count)
        case .file(_, _, let length): length
        }
    }
}

/// TLS settings for one endpoint.
public struct TLSOptions: Sendable, Hashable {
    /// Verify the server certificate and host name.
    public var verifyPeer: Bool
    /// A PEM bundle of CAs to trust instead of the system store.
    public var caFile: String?
    /// A PEM client certificate for mutual TLS.
    public var clientCertificate: String?
    /// The PEM private key of `clientCertificate`.
    public var clientKey: String?

    /// Creates TLS options; the default verifies against the system CAs.
    public init(verifyPeer: Bool = true, caFile: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.verifyPeer = verifyPeer
        self.caFile = caFile
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }

    /// Verify against the system CAs.
    public static let verify = TLSOptions()
    /// Encrypt but do not verify (`insecure-skip-verify`).
    public static let insecureSkipVerify = TLSOptions(verifyPeer: false)
}

/// One HTTP request. The transport never follows redirects: the registry client does, so it controls
/// which headers travel to the new location.
public struct HTTPRequest: Sendable, Hashable {
    /// The method.
    public var method: HTTPMethod
    /// The absolute URL (`http` or `https`).
    public var url: URL
    /// Header fields to send. The transport adds `User-Agent` and `Content-Length`.
    public var headers: HTTPHeaders
    /// The body.
    public var body: RequestBody
    /// TLS settings when `url` is https.
    public var tls: TLSOptions
    /// Upper bound for the whole exchange; nil means only the connect and low-speed limits apply.
    public var timeout: Duration?

    /// Creates a request.
    public init(
        method: HTTPMethod, url: URL, headers: HTTPHeaders = HTTPHeaders(), body: RequestBody = .empty,
        tls: TLSOptions = .verify, timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.tls = tls
        self.timeout = timeout
    }
}

/// A response whose body was buffered in memory.
public struct HTTPResponse: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// The status line's reason phrase, e.g. `Not Found` (may be empty with HTTP/2).
    public var reason: String
    /// Response header fields (of the final response when the server sent 1xx first).
    public var headers: HTTPHeaders
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, reason: String = "", headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// `HTTP <status> <reason>` as Go prints a status line (`404 Not Found`).
    public var statusLine: String { reason.isEmpty ? "\(status)" : "\(status) \(reason)" }

    /// True for 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }
}
