import FerryHTTP
import Foundation

/// One request as ``TestHTTPServer`` parsed it.
public struct TestHTTPRequest: Sendable {
    /// The method token, e.g. `GET`.
    public var method: String
    /// Path and query exactly as sent on the request line.
    public var target: String
    /// The header fields in order.
    public var headers: HTTPHeaders
    /// The body (de-chunked).
    public var body: [UInt8]
    /// 1-based number of the connection that carried the request, in accept order.
    public var connection: Int

    /// The target without its query.
    public var path: String { String(target.prefix { $0 != "?" }) }

    /// The query after `?`, nil when there is none.
    public var query: String? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: mark)...])
    }

    /// Creates a request record.
    public init(method: String, target: String, headers: HTTPHeaders, body: [UInt8], connection: Int) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.connection = connection
    }
}

/// What ``TestHTTPServer`` answers: a normal response, or a fault that breaks the connection on purpose.
public struct TestHTTPResponse: Sendable {
    /// Where the body comes from.
    public enum Body: Sendable {
        /// Bytes in memory.
        case bytes([UInt8])
        /// A byte range of a file, read and sent in chunks.
        case file(path: String, offset: Int64, length: Int64)
        /// Bytes produced while the response is sent (a proxy relaying another server's body).
        case stream(TestHTTPBodyStream)

        /// The number of body bytes (for a stream of unknown length: 0; send it `chunked`).
        public var length: Int64 {
            switch self {
            case .bytes(let bytes): Int64(bytes.count)
            case .file(_, _, let length): length
            case .stream(let stream): stream.length ?? 0
            }
        }
    }

    /// Ways to misbehave, for testing a client's failure paths.
    public enum Fault: Sendable, Equatable {
        /// Send the head (promising the full length) and `bodyBytes` bytes, then close normally (FIN).
        case closeAfter(bodyBytes: Int)
        /// Send the head and `bodyBytes` bytes, then reset the connection (`SO_LINGER` 0, RST).
        case resetAfter(bodyBytes: Int)
        /// Reset the connection without sending anything.
        case resetWithoutResponse
        /// Send the head and `bodyBytes` bytes, then wait until the client gives up or the server stops.
        case stallAfter(bodyBytes: Int)
        /// Send nothing and wait until the client gives up or the server stops.
        case stallWithoutResponse
        /// Send these bytes instead of a response, then close.
        case garbage([UInt8])
    }

    /// A 1xx response sent before the final one.
    public struct Interim: Sendable {
        /// The 1xx status.
        public var status: Int
        /// Its header fields.
        public var headers: HTTPHeaders

        /// Creates an interim response.
        public init(status: Int = 100, headers: HTTPHeaders = HTTPHeaders()) {
            self.status = status
            self.headers = headers
        }
    }

    /// The status code.
    public var status: Int
    /// The reason phrase; empty sends a status line without one.
    public var reason: String
    /// Header fields; `Content-Length` is added unless present or `chunked`.
    public var headers: HTTPHeaders
    /// The body, omitted on the wire for HEAD requests.
    public var body: Body
    /// Send the body with `Transfer-Encoding: chunked` instead of a `Content-Length`.
    public var chunked: Bool
    /// 1xx responses to send first.
    public var interim: [Interim]
    /// Close the connection after this response.
    public var closeConnection: Bool
    /// A deliberate failure instead of (part of) the response.
    public var fault: Fault?
    /// Answer a `CONNECT` with `200 Connection Established` and relay raw bytes both ways between the client and
    /// `127.0.0.1:tunnelPort` until either side closes; every other field is ignored then.
    public var tunnelPort: Int?

    /// Creates a response.
    public init(
        status: Int = 200, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([]),
        chunked: Bool = false, interim: [Interim] = [], closeConnection: Bool = false, fault: Fault? = nil
    ) {
        self.status = status
        self.reason = reason ?? Self.defaultReason(status)
        self.headers = headers
        self.body = body
        self.chunked = chunked
        self.interim = interim
        self.closeConnection = closeConnection
        self.fault = fault
    }

    /// A response with a UTF-8 text body.
    public static func text(_ text: String, status: Int = 200, headers: HTTPHeaders = HTTPHeaders()) -> Self {
        Self(status: status, headers: headers, body: .bytes(Array(text.utf8)))
    }

    /// The answer of a forward proxy to `CONNECT 127.0.0.1:port`: a tunnel to that port.
    public static func tunnel(toPort port: Int) -> Self {
        var response = Self()
        response.tunnelPort = port
        return response
    }

    /// A fault response: `fault` decides what, if anything, of the head and `body` is sent.
    public static func failing(
        _ fault: Fault, status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])
    ) -> Self {
        Self(status: status, headers: headers, body: body, fault: fault)
    }

    /// Serves `body` as a blob: a 206 for a satisfiable `Range: bytes=N-[M]`, 416 past the end, else 200.
    ///
    /// With `honourRange` false the whole body is sent with 200, as servers without range support do.
    public static func serving(
        _ body: Body, for request: TestHTTPRequest, honourRange: Bool = true, headers: HTTPHeaders = HTTPHeaders()
    ) -> Self {
        let total = body.length
        guard honourRange, let range = request.headers["Range"].flatMap({ parseRange($0, total: total) }) else {
            return Self(status: 200, headers: headers, body: body)
        }
        guard let (first, last) = range else {
            var failed = headers
            failed.set("Content-Range", "bytes */\(total)")
            return Self(status: 416, headers: failed)
        }
        var partial = headers
        partial.set("Content-Range", "bytes \(first)-\(last)/\(total)")
        let slice: Body
        switch body {
        case .bytes(let bytes): slice = .bytes(Array(bytes[Int(first)...Int(last)]))
        case .file(let path, let offset, _): slice = .file(path: path, offset: offset + first, length: last - first + 1)
        case .stream: return Self(status: 200, headers: headers, body: body)
        }
        return Self(status: 206, headers: partial, body: slice)
    }

    /// `.some(nil)` for an unsatisfiable range, nil for a header that is not a single byte range.
    private static func parseRange(_ header: String, total: Int64) -> (Int64, Int64)?? {
        let spec = header.trimmingCharacters(in: .whitespaces)
        guard spec.hasPrefix("bytes="), !spec.contains(",") else { return nil }
        let bounds = spec.dropFirst("bytes=".count).split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int64(bounds[0]) else { return nil }
        let last = bounds[1].isEmpty ? total - 1 : min(Int64(bounds[1]) ?? -1, total - 1)
        guard first < total, last >= first else { return .some(nil) }
        return .some((first, last))
    }

    static func defaultReason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 307: "Temporary Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 416: "Requested Range Not Satisfiable"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}

/// A response body read while it is sent: ``TestHTTPServer`` calls `read` with a buffer until it returns 0 (end)
/// or a negative value (failure: the connection is closed), or until `length` bytes were sent, then `finish`
/// exactly once, also when the client went away first.
public struct TestHTTPBodyStream: Sendable {
    /// The body length when known; nil sends the body chunked until `read` returns 0.
    public var length: Int64?
    /// Fills the buffer with the next bytes and returns their count; 0 at the end, negative on failure.
    public var read: @Sendable (UnsafeMutableRawBufferPointer) -> Int
    /// Called once after the last `read` (releases whatever produces the bytes).
    public var finish: @Sendable () -> Void

    /// Creates a stream.
    public init(
        length: Int64?, read: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Int,
        finish: @escaping @Sendable () -> Void = {}
    ) {
        self.length = length
        self.read = read
        self.finish = finish
    }
}
