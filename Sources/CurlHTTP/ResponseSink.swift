import FerryHTTP
import Foundation
import OCIModel

/// Status line and header fields of the final response (1xx blocks are discarded).
struct ResponseHead: Sendable {
    var status = 0
    var reason = ""
    var headers = HTTPHeaders()

    /// The head as a response with the given body.
    func response(body: [UInt8] = []) -> HTTPResponse {
        HTTPResponse(status: status, reason: reason, headers: headers, body: body)
    }

    /// The declared body length, nil when absent or unparsable.
    var contentLength: Int64? {
        headers["Content-Length"].flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil }
    }
}

/// Where one transfer's response goes, and the one place its caller's continuation is resumed.
///
/// Used only on the loop thread. `finish` must be called exactly once; the loop guarantees that by
/// removing the transfer from its table before calling it.
protocol ResponseSink: AnyObject {
    /// The final header block is complete. Returning an error aborts the transfer with it.
    func begin(_ head: ResponseHead) -> TransportError?
    /// Body bytes arrived. Returning false aborts the transfer; ``failure`` or ``isSatisfied`` says why.
    func consume(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// The local reason the sink aborted, if any.
    var failure: TransportError? { get }
    /// The sink aborted on purpose because it has all it wants (a capped error body): not a failure.
    var isSatisfied: Bool { get }
    /// Resumes the caller: `head` on success, or the error plus the head if one was complete.
    func finish(_ outcome: Result<ResponseHead, TransportError>, head: ResponseHead?)
}

/// Buffers the body in memory, up to a limit, for ``CurlTransport/send(_:maxBodyBytes:)``.
final class BufferSink: ResponseSink {
    private let limit: Int
    private let expectsBody: Bool
    private var body: [UInt8] = []
    private var continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>?
    private(set) var failure: TransportError?
    let isSatisfied = false

    init(
        limit: Int, method: HTTPMethod,
        continuation: CheckedContinuation<Result<HTTPResponse, TransportError>, Never>
    ) {
        self.limit = max(0, limit)
        self.expectsBody = method != .head
        self.continuation = continuation
    }

    func begin(_ head: ResponseHead) -> TransportError? {
        guard expectsBody, let length = head.contentLength else { return nil }
        // A declared length over the limit fails now instead of after reading `limit` bytes.
        guard length <= Int64(limit) else {
            failure = .bodyTooLarge(limit: limit)
            return failure
        }
        // Trust the declared length only so far: a server could announce gigabytes under a generous limit.
        body.reserveCapacity(Int(min(length, 8 * 1024 * 1024)))
        return nil
    }

    func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= limit else {
            failure = .bodyTooLarge(limit: limit)
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func finish(_ outcome: Result<ResponseHead, TransportError>, head: ResponseHead?) {
        let result = outcome.map { $0.response(body: body) }
        body = []
        continuation?.resume(returning: result)
        continuation = nil
    }
}

/// Streams a 2xx body into the destination file while hashing it; buffers a non-2xx body instead.
///
/// Implements the contract documented on ``DownloadRequest``.
final class DownloadSink: ResponseSink {
    /// The most of a non-2xx body that is kept.
    static let errorBodyLimit = 64 * 1024

    private enum State {
        case awaitingHead
        case writing(DownloadFile)
        case errorBody([UInt8])
        case failed
    }

    private let request: DownloadRequest
    private var state = State.awaitingHead
    private var continuation: CheckedContinuation<Result<DownloadResult, DownloadError>, Never>?
    private(set) var failure: TransportError?
    private(set) var isSatisfied = false
    /// The file's length and hash state when nothing was written (the caller's resume point).
    private var untouched: (length: Int64, hasher: DigestHasher)
    /// Bytes the file holds once what was handed to it is written; checked against the request's `maxLength`.
    private var length: Int64 = 0

    init(request: DownloadRequest, continuation: CheckedContinuation<Result<DownloadResult, DownloadError>, Never>) {
        self.request = request
        self.continuation = continuation
        self.untouched = (request.offset, request.hasher)
    }

    func begin(_ head: ResponseHead) -> TransportError? {
        guard (200..<300).contains(head.status) else {
            state = .errorBody([])
            return nil
        }
        let start: Int64
        if head.status == 206 {
            let range = head.headers["Content-Range"].flatMap(ContentRange.init(parsing:))
            switch range?.first {
            case request.offset:
                start = request.offset
            case 0:
                start = 0
            default:
                // Bytes from an unexpected position cannot extend the file; restart from an empty file so
                // the caller's retry without `Range` starts from a consistent state.
                let text = head.headers["Content-Range"] ?? "none"
                return fail(
                    .other(
                        code: CurlError.rangeNotDelivered,
                        message: "206 response with Content-Range \(text) does not start at \(request.offset)"),
                    restart: true)
            }
            if let progress = request.progress {
                progress.reset(to: start)
                if let total = range?.total {
                    progress.setExpected(total)
                } else if let length = head.contentLength {
                    progress.setExpected(start + length)
                }
            }
        } else {
            start = 0
            if let progress = request.progress {
                progress.reset(to: 0)
                if let length = head.contentLength { progress.setExpected(length) }
            }
        }
        if let limit = request.maxLength, let declared = head.contentLength, declared > limit - start {
            return fail(.bodyTooLarge(limit: Int(clamping: limit)), restart: false)
        }
        length = start
        let hasher = start == 0 ? DigestHasher(request.hasher.algorithm) : request.hasher
        do {
            // Unknown lengths count as large: a chunked body may be a layer of any size.
            let pipelined = (head.contentLength ?? Int64.max) > DownloadFile.pipelineThreshold
            state = .writing(
                try DownloadFile(path: request.destination, keeping: start, hasher: hasher, pipelined: pipelined))
            return nil
        } catch {
            // A file that cannot take the resumed bytes (e.g. shorter than `offset`) is emptied if possible, so
            // the reported length and hash describe what is really on disk.
            return fail(error, restart: start > 0)
        }
    }

    private func fail(_ error: TransportError, restart: Bool) -> TransportError {
        if restart {
            let fresh = DigestHasher(request.hasher.algorithm)
            if let file = try? DownloadFile(path: request.destination, keeping: 0, hasher: fresh) {
                _ = file.close()
                untouched = (0, fresh)
            }
        }
        state = .failed
        failure = error
        return error
    }

    func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        switch state {
        case .writing(let file):
            if let limit = request.maxLength, Int64(bytes.count) > limit - length {
                // Stop at the bound: a body that never ends must not fill the disk.
                failure = .bodyTooLarge(limit: Int(clamping: limit))
                return false
            }
            length += Int64(bytes.count)
            if let error = file.append(bytes) {
                failure = error
                return false
            }
            request.progress?.add(Int64(bytes.count))
            return true
        case .errorBody(var body):
            let room = Self.errorBodyLimit - body.count
            state = .failed  // drop the array's reference so the append below does not copy it
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(room)))
            state = .errorBody(body)
            guard bytes.count <= room else {
                isSatisfied = true
                return false
            }
            return true
        case .awaitingHead, .failed:
            return false
        }
    }

    func finish(_ outcome: Result<ResponseHead, TransportError>, head: ResponseHead?) {
        var error: TransportError?
        var response: HTTPResponse?
        var length = untouched.length
        var hasher = untouched.hasher
        switch outcome {
        case .success(let head): response = head.response()
        case .failure(let failure): error = failure
        }
        switch state {
        case .writing(let file):
            let closeError = file.close()
            error = error ?? closeError
            length = file.length
            hasher = file.hasher
        case .errorBody(let body):
            response = response.map {
                HTTPResponse(status: $0.status, reason: $0.reason, headers: $0.headers, body: body)
            }
        case .awaitingHead, .failed:
            break
        }
        state = .failed
        let result: Result<DownloadResult, DownloadError>
        if let error {
            result = .failure(
                DownloadError(error: error, fileLength: length, hasher: hasher, response: head?.response()))
        } else if let response {
            result = .success(DownloadResult(response: response, fileLength: length, hasher: hasher))
        } else {
            result = .failure(
                DownloadError(
                    error: .other(code: -1, message: "transfer ended without a response"), fileLength: length,
                    hasher: hasher))
        }
        continuation?.resume(returning: result)
        continuation = nil
    }
}

/// `Content-Range: bytes <first>-<last>/<total|*>` of a 206 response.
// https://www.rfc-editor.org/rfc/rfc9110#name-content-range
struct ContentRange: Equatable {
    let first: Int64
    let last: Int64
    let total: Int64?

    init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = trimmed.dropFirst("bytes ".count).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first
        else { return nil }
        self.first = first
        self.last = last
        if parts[1] == "*" {
            total = nil
        } else {
            guard let total = Int64(parts[1]), total > last else { return nil }
            self.total = total
        }
    }
}
