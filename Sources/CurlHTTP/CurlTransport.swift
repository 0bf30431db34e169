import FerryHTTP
import Foundation
import Logging

/// The libcurl implementation of ``HTTPTransport``: one multi handle and one thread per transport.
///
/// Connections are pooled by the multi handle and reused across requests (HTTP/1.1 keep-alive, or one
/// multiplexed HTTP/2 connection over TLS). Redirects are never followed, proxies come from the usual
/// environment variables (`http_proxy`, `https_proxy`, `no_proxy`), and only `http` and `https` URLs are allowed.
///
/// Calls suspend without blocking Swift's cooperative pool; cancelling the calling task aborts the transfer.
public final class CurlTransport: HTTPTransport {
    private let loop: CurlMultiLoop

    /// Creates a transport and starts its thread.
    ///
    /// - Parameters:
    ///   - version: ferry's version, sent as `User-Agent: ferry/<version>`.
    ///   - logger: receives one debug line per request (method, URL without query, status, bytes, time).
    ///   - connectTimeout: how long TCP and TLS setup may take.
    ///   - lowSpeedLimit: bytes per second below which a transfer counts as stalled.
    ///   - lowSpeedTime: how long a transfer may stay below `lowSpeedLimit` before it fails with
    ///     ``TransportError/timeout(message:)``; whole seconds, at least one (curl's resolution).
    ///   - maxConnectionsPerHost: open connections per host; further requests queue inside curl.
    ///   - maxIdleConnections: connections kept open for reuse after their requests finished.
    ///   - receiveBufferSize: curl's receive buffer, large for blob throughput.
    /// - Throws: ``TransportError/other(code:message:)`` when libcurl cannot be initialised.
    public init(
        version: String,
        logger: Logger,
        connectTimeout: Duration = .seconds(30),
        lowSpeedLimit: Int = 1024,
        lowSpeedTime: Duration = .seconds(60),
        maxConnectionsPerHost: Int = 6,
        maxIdleConnections: Int = 32,
        receiveBufferSize: Int = 512 * 1024
    ) throws(TransportError) {
        let settings = TransferSettings(
            userAgent: "ferry/\(version)",
            connectTimeoutMilliseconds: max(1, connectTimeout.wholeMilliseconds),
            lowSpeedLimit: max(0, lowSpeedLimit),
            lowSpeedTimeSeconds: max(1, (lowSpeedTime.wholeMilliseconds + 999) / 1000),
            receiveBufferSize: min(max(16 * 1024, receiveBufferSize), 10 * 1024 * 1024))
        do {
            loop = try CurlMultiLoop(
                settings: settings, maxConnectionsPerHost: maxConnectionsPerHost,
                maxConnections: maxIdleConnections, logger: logger)
        } catch {
            throw .other(code: error.code, message: error.message)
        }
        loop.start()
    }

    deinit {
        // No call can be in flight here (each holds `self`), so the thread only has to release curl.
        loop.shutdown()
    }

    /// Sends `request` and buffers the response body, failing with ``TransportError/bodyTooLarge(limit:)``
    /// once it exceeds `maxBodyBytes`. HEAD responses never wait for a body.
    public func send(_ request: HTTPRequest, maxBodyBytes: Int) async throws(TransportError) -> HTTPResponse {
        let loop = self.loop
        let id = loop.makeID()
        let flag = CancellationFlag()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                loop.submit(
                    TransferJob(
                        id: id, cancellation: flag, kind: .send(request, maxBodyBytes: maxBodyBytes, continuation)))
            }
        } onCancel: {
            loop.cancel(id, flag: flag)
        }
        return try result.get()
    }

    /// Streams the response into `request.destination` while hashing it, per the contract on ``DownloadRequest``.
    ///
    /// On a failure after bytes were written, the thrown ``DownloadError`` carries the file's length and the
    /// hash over exactly those bytes, so the caller can resume with `Range`.
    public func download(_ request: DownloadRequest) async throws(DownloadError) -> DownloadResult {
        let loop = self.loop
        let id = loop.makeID()
        let flag = CancellationFlag()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                loop.submit(TransferJob(id: id, cancellation: flag, kind: .download(request, continuation)))
            }
        } onCancel: {
            loop.cancel(id, flag: flag)
        }
        return try result.get()
    }

    /// Requests currently handed to curl; for diagnostics and leak checks in tests.
    public var activeTransferCount: Int { loop.activeTransfers }

    /// libcurl easy handles that exist right now; zero once every request has finished.
    public var openHandleCount: Int { loop.handles.count }

}

extension Duration {
    /// The duration in whole milliseconds, rounded towards zero, as curl's `_MS` options take it.
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
