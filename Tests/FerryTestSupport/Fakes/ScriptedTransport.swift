import FerryHTTP
import Foundation
import OCIModel
import Synchronization

/// An `HTTPTransport` that answers from a script, records every request and writes downloads the way the real
/// transport's contract says. Lets registry and fallback logic be tested without sockets.
public final class ScriptedTransport: HTTPTransport {
    /// What the script answers for one request.
    public enum Reply: Sendable {
        /// A complete response.
        case response(HTTPResponse)
        /// The request fails before any response.
        case failure(TransportError)
        /// A response whose body breaks off after `after` bytes with `error` (downloads only; `send` fails).
        case truncated(HTTPResponse, after: Int, error: TransportError)
    }

    /// Decides the reply for a request.
    public typealias Script = @Sendable (HTTPRequest) -> Reply

    private let script: Script
    private let log = Mutex<[HTTPRequest]>([])

    /// A transport answering with `script`.
    public init(_ script: @escaping Script) {
        self.script = script
    }

    /// Every request received, in order.
    public var requests: [HTTPRequest] { log.withLock { $0 } }

    /// Requests whose URL host is `host`.
    public func requests(to host: String) -> [HTTPRequest] { requests.filter { $0.url.host == host } }

    /// Forgets the recorded requests.
    public func resetLog() { log.withLock { $0.removeAll() } }

    /// Answers from the script.
    public func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws(TransportError) -> HTTPResponse {
        log.withLock { $0.append(request) }
        if Task.isCancelled { throw .cancelled }
        switch script(request) {
        case .response(var response):
            if request.method == .head { response.body = [] }
            if response.body.count > maxBodyBytes { throw .bodyTooLarge(limit: maxBodyBytes) }
            return response
        case .failure(let error):
            throw error
        case .truncated(_, _, let error):
            throw error
        }
    }

    /// Answers from the script, writing 2xx bodies into the destination per the `DownloadRequest` contract.
    public func download(_ request: DownloadRequest) async throws(DownloadError) -> DownloadResult {
        log.withLock { $0.append(request.request) }
        let existing = FileSystemProbe.size(request.destination)
        if Task.isCancelled {
            throw DownloadError(error: .cancelled, fileLength: existing, hasher: request.hasher)
        }
        let reply = script(request.request)
        let response: HTTPResponse
        var cut: (Int, TransportError)?
        switch reply {
        case .failure(let error):
            throw DownloadError(error: error, fileLength: min(existing, request.offset), hasher: request.hasher)
        case .response(let full):
            response = full
        case .truncated(let full, let after, let error):
            response = full
            cut = (after, error)
        }
        guard response.isSuccess else {
            var head = response
            head.body = Array(response.body.prefix(64 * 1024))
            return DownloadResult(response: head, fileLength: existing, hasher: request.hasher)
        }
        let resume = response.status == 206 && request.offset > 0
        var hasher = resume ? request.hasher : DigestHasher(request.hasher.algorithm)
        let keep = resume ? request.offset : 0
        var body = cut.map { Array(response.body.prefix($0.0)) } ?? response.body
        if let limit = request.maxLength, Int64(response.body.count) > limit - keep {
            // As the real transport: a declared length over the bound writes nothing, else bytes stop at the bound.
            let declared = response.headers["Content-Length"] != nil
            if declared {
                throw DownloadError(
                    error: .bodyTooLarge(limit: Int(limit)), fileLength: min(existing, request.offset),
                    hasher: request.hasher)
            }
            body = Array(body.prefix(Int(max(0, limit - keep))))
            cut = (body.count, .bodyTooLarge(limit: Int(limit)))
        }
        FileSystemProbe.truncateAndAppend(request.destination, keep: keep, bytes: body)
        hasher.update(body)
        request.progress?.add(Int64(body.count))
        let length = keep + Int64(body.count)
        var head = response
        head.body = []
        if let (_, error) = cut {
            throw DownloadError(error: error, fileLength: length, hasher: hasher, response: head)
        }
        return DownloadResult(response: head, fileLength: length, hasher: hasher)
    }
}

/// Tiny file helpers for the fake transport, kept apart from the code under test.
enum FileSystemProbe {
    static func size(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    static func truncateAndAppend(_ path: String, keep: Int64, bytes: [UInt8]) {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let handle = FileHandle(forUpdatingAtPath: path) else { return }
        defer { try? handle.close() }
        try? handle.truncate(atOffset: UInt64(keep))
        try? handle.seek(toOffset: UInt64(keep))
        handle.write(Data(bytes))
    }
}

extension HTTPResponse {
    /// A JSON error body in the distribution format.
    public static func registryError(_ status: Int, code: String, message: String, detail: String? = nil) -> HTTPResponse {
        var body = #"{"errors":[{"code":"\#(code)","message":"\#(message)""#
        if let detail { body += #","detail":\#(detail)"# }
        body += "}]}"
        return HTTPResponse(
            status: status, reason: HTTPResponse.standardReason(status),
            headers: ["Content-Type": "application/json; charset=utf-8"], body: Array(body.utf8))
    }

    /// The standard reason phrase of `status`.
    public static func standardReason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 206: "Partial Content"
        case 307: "Temporary Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 416: "Requested Range Not Satisfiable"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}
