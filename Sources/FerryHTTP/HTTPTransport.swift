import FerrySystem
import Foundation
import OCIModel
import Synchronization

/// Moves HTTP requests. Implementations must not block Swift's cooperative thread pool.
///
/// The transport is deliberately dumb: it never follows redirects, never retries and never adds
/// credentials. Those rules live in the registry client, where a scripted transport can test them.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and buffers the response body, failing with ``TransportError/bodyTooLarge(limit:)``
    /// once it exceeds `maxBodyBytes`.
    func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws(TransportError) -> HTTPResponse

    /// Streams a response body into a file while hashing it (see ``DownloadRequest``).
    func download(_ request: DownloadRequest) async throws(DownloadError) -> DownloadResult
}

/// A download into a file, possibly resuming one that was cut off.
///
/// Contract for implementations:
/// * 2xx other than 206: the file is truncated to zero and `hasher` restarts from empty.
/// * 206: the file is truncated to `offset` bytes and the body is appended; `hasher` continues from its state,
///   which must cover exactly those `offset` bytes. The caller sends the `Range` header.
/// * Any other status: the file is left as it is and the body (at most 64 KiB) is returned in
///   ``DownloadResult/errorBody``.
/// * With ``maxLength``, a 2xx body that would make the file longer fails with
///   ``TransportError/bodyTooLarge(limit:)`` before the byte past the limit is written: at once when the declared
///   `Content-Length` says so, else when the bytes arrive (a chunked body that never ends).
public struct DownloadRequest: Sendable {
    /// The GET request, including any `Range` header.
    public var request: HTTPRequest
    /// The file to write; created when missing.
    public var destination: String
    /// How many bytes of `destination` are already verified-good and covered by `hasher`.
    public var offset: Int64
    /// The hash state over the first `offset` bytes of the file.
    public var hasher: DigestHasher
    /// Counts body bytes as they arrive, for progress displays.
    public var progress: TransferProgress?
    /// The longest the file may get (resumed bytes included), e.g. the size a descriptor gives; nil for no bound.
    public var maxLength: Int64?

    /// Creates a download request.
    public init(
        request: HTTPRequest, destination: String, offset: Int64 = 0, hasher: DigestHasher = DigestHasher(),
        progress: TransferProgress? = nil, maxLength: Int64? = nil
    ) {
        self.request = request
        self.destination = destination
        self.offset = offset
        self.hasher = hasher
        self.progress = progress
        self.maxLength = maxLength
    }
}

/// What a finished download left behind.
public struct DownloadResult: Sendable {
    /// The response status, reason and headers.
    public var response: HTTPResponse
    /// The body of a non-2xx response (capped at 64 KiB); empty for 2xx.
    public var errorBody: [UInt8] { response.body }
    /// The length of `destination` now.
    public var fileLength: Int64
    /// The hash state over the whole of `destination`.
    public var hasher: DigestHasher

    /// Creates a result.
    public init(response: HTTPResponse, fileLength: Int64, hasher: DigestHasher) {
        self.response = response
        self.fileLength = fileLength
        self.hasher = hasher
    }
}

/// A download that failed part-way; what was written so far is kept so the caller can resume with `Range`.
public struct DownloadError: Error, Sendable {
    /// Why the transfer stopped.
    public var error: TransportError
    /// The length of `destination` now, every byte of it received from the server.
    public var fileLength: Int64
    /// The hash state over those bytes.
    public var hasher: DigestHasher
    /// Status and headers, when a response had started before the failure.
    public var response: HTTPResponse?

    /// Creates a download error.
    public init(error: TransportError, fileLength: Int64, hasher: DigestHasher, response: HTTPResponse? = nil) {
        self.error = error
        self.fileLength = fileLength
        self.hasher = hasher
        self.response = response
    }
}

/// Why a request did not produce a response. Texts never contain credentials: URLs are shown without
/// user info and query strings are not part of any message.
public enum TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The host name did not resolve.
    case resolve(host: String, message: String)
    /// The TCP connection could not be made (refused, unreachable); `cause` is the connect's `errno` when known.
    case connect(host: String, message: String, cause: SystemErrno? = nil)
    /// TLS failed: handshake, certificate or host-name verification.
    case tls(host: String, message: String)
    /// The connect, low-speed or total timeout expired.
    case timeout(message: String)
    /// The connection broke or closed before the whole body arrived.
    case interrupted(message: String)
    /// The response body exceeded the caller's limit.
    case bodyTooLarge(limit: Int)
    /// Reading the request body or writing the download failed locally; `cause` is the `errno` when known.
    case fileIO(path: String, message: String, cause: SystemErrno? = nil)
    /// The task was cancelled; never retried, never a reason to fall back.
    case cancelled
    /// Anything else the HTTP library reported.
    case other(code: Int, message: String)

    /// A one-line message.
    public var description: String {
        switch self {
        case .resolve(let host, let message): "dial tcp: lookup \(host): \(message)"
        case .connect(let host, let message, _): "dial tcp \(host): \(message)"
        case .tls(let host, let message): "tls: \(host): \(message)"
        case .timeout(let message): "timeout: \(message)"
        case .interrupted(let message): "connection interrupted: \(message)"
        case .bodyTooLarge(let limit): "response body larger than \(limit) bytes"
        case .fileIO(let path, let message, _): "\(path): \(message)"
        case .cancelled: "context canceled"
        case .other(let code, let message): "transport error \(code): \(message)"
        }
    }

    /// True when a retry of an idempotent request may succeed.
    public var isRetryable: Bool {
        switch self {
        case .resolve, .connect, .timeout, .interrupted, .other: true
        case .tls, .bodyTooLarge, .fileIO, .cancelled: false
        }
    }

    /// True when the connection was refused: nobody listens at the address, so asking again soon is pointless.
    public var isConnectionRefused: Bool {
        if case .connect(_, _, let cause?) = self { return cause.isConnectionRefused }
        return false
    }

    /// True when no byte of HTTP was exchanged, so the endpoint's transport is not confirmed.
    public var isBeforeHTTP: Bool {
        switch self {
        case .resolve, .connect, .tls: true
        case .timeout, .interrupted, .bodyTooLarge, .fileIO, .cancelled, .other: false
        }
    }
}

/// A byte counter shared between a transfer and whoever displays its progress.
public final class TransferProgress: Sendable {
    private let received = Atomic<Int64>(0)
    private let expected = Atomic<Int64>(-1)

    /// A counter at zero with an unknown total.
    public init() {}

    /// Adds `count` bytes.
    public func add(_ count: Int64) { received.add(count, ordering: .relaxed) }

    /// Sets the counter, e.g. to the resume offset.
    public func reset(to value: Int64) { received.store(value, ordering: .relaxed) }

    /// Records the expected total.
    public func setExpected(_ total: Int64) { expected.store(total, ordering: .relaxed) }

    /// Bytes received so far.
    public var bytes: Int64 { received.load(ordering: .relaxed) }

    /// The expected total, nil when unknown.
    public var total: Int64? {
        let value = expected.load(ordering: .relaxed)
        return value < 0 ? nil : value
    }
}
