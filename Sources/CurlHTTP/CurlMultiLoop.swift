internal import CCurl
import FerryHTTP
import Foundation
import Logging
import Synchronization

/// What a caller handed to the loop: the request and the continuation it is suspended on.
struct TransferJob: Sendable {
    enum Kind: Sendable {
        case send(HTTPRequest, maxBodyBytes: Int, CheckedContinuation<Result<HTTPResponse, TransportError>, Never>)
        case download(DownloadRequest, CheckedContinuation<Result<DownloadResult, DownloadError>, Never>)
    }

    let id: UInt64
    let cancellation: CancellationFlag
    let kind: Kind

    /// Resumes the caller with `error` before any transfer was created.
    func reject(_ error: TransportError) {
        switch kind {
        case .send(_, _, let continuation):
            continuation.resume(returning: .failure(error))
        case .download(let request, let continuation):
            continuation.resume(
                returning: .failure(DownloadError(error: error, fileLength: request.offset, hasher: request.hasher)))
        }
    }
}

/// Set by a task's cancellation handler; read by the loop when the job arrives.
///
/// The flag closes the race where `onCancel` runs before the job reaches the inbox: the loop checks it when it
/// adopts the job, and the id sent with ``CurlMultiLoop/cancel(_:)`` covers jobs already running.
final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A `CURLM *` that other threads may only pass to `curl_multi_wakeup`.
// Safety: curl_multi_wakeup is the one libcurl multi function documented as callable from any thread
// (https://curl.se/libcurl/c/curl_multi_wakeup.html). Every other use happens on the loop thread, and
// curl_multi_cleanup runs in CurlMultiLoop.deinit, when no thread can hold the loop any more.
struct MultiPointer: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// One libcurl multi handle driven by one dedicated thread.
///
/// Callers never touch curl: they append a Sendable ``TransferJob`` to a `Mutex`-guarded inbox and wake the
/// thread with `curl_multi_wakeup`. The thread owns every easy handle, runs `curl_multi_perform` and
/// `curl_multi_poll`, and resumes each continuation exactly once: on `CURLMSG_DONE`, on cancellation, or when
/// setting up the transfer fails. Swift's cooperative pool never blocks on I/O here.
final class CurlMultiLoop: Sendable {
    private struct Inbox {
        var jobs: [TransferJob] = []
        var cancellations: [UInt64] = []
        var stopping = false
    }

    private let multi: MultiPointer
    private let inbox = Mutex(Inbox())
    private let nextID = Atomic<UInt64>(1)
    private let activeCount = Atomic<Int>(0)
    let handles = HandleCounter()
    let settings: TransferSettings
    let logger: Logger

    init(settings: TransferSettings, maxConnectionsPerHost: Int, maxConnections: Int, logger: Logger)
        throws(CurlError)
    {
        // Reference-counted and thread-safe since 7.84, so every transport may call it.
        try curl_global_init(ccurl_global_default).check()
        guard let raw = curl_multi_init() else {
            curl_global_cleanup()
            throw CurlError(CURLE_OUT_OF_MEMORY)
        }
        do {
            // https://curl.se/libcurl/c/CURLMOPT_MAX_HOST_CONNECTIONS.html: extra transfers queue inside curl.
            try ccurl_multi_setopt_long(raw, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost)).check()
            // https://curl.se/libcurl/c/CURLMOPT_MAXCONNECTS.html: the idle pool kept for reuse.
            try ccurl_multi_setopt_long(raw, CURLMOPT_MAXCONNECTS, max(1, maxConnections)).check()
        } catch {
            curl_multi_cleanup(raw)
            curl_global_cleanup()
            throw error
        }
        self.multi = MultiPointer(raw: raw)
        self.settings = settings
        self.logger = logger
    }

    deinit {
        curl_multi_cleanup(multi.raw)
        curl_global_cleanup()
    }

    /// Starts the thread. It holds the loop until ``shutdown()``.
    func start() {
        let thread = Thread { [self] in
            let driver = CurlLoopDriver(loop: self, multi: multi.raw)
            driver.run()
        }
        thread.name = "ferry-curl"
        thread.start()
    }

    /// A fresh transfer id.
    func makeID() -> UInt64 { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Hands `job` to the loop thread.
    func submit(_ job: TransferJob) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopping else { return false }
            inbox.jobs.append(job)
            return true
        }
        guard accepted else { return job.reject(.cancelled) }
        wake()
    }

    /// Asks the loop to abort transfer `id` and resume its caller with ``TransportError/cancelled``.
    func cancel(_ id: UInt64, flag: CancellationFlag) {
        flag.set()
        inbox.withLock { $0.cancellations.append(id) }
        wake()
    }

    /// Makes the thread abandon every transfer, release its handles and exit.
    func shutdown() {
        inbox.withLock { $0.stopping = true }
        wake()
    }

    /// Transfers the loop has adopted and not yet finished.
    var activeTransfers: Int { activeCount.load(ordering: .relaxed) }

    fileprivate func take() -> (jobs: [TransferJob], cancellations: [UInt64], stopping: Bool) {
        inbox.withLock { inbox in
            defer {
                inbox.jobs.removeAll(keepingCapacity: true)
                inbox.cancellations.removeAll(keepingCapacity: true)
            }
            return (inbox.jobs, inbox.cancellations, inbox.stopping)
        }
    }

    fileprivate func adjustActive(by delta: Int) { activeCount.add(delta, ordering: .relaxed) }

    private func wake() {
        let code = curl_multi_wakeup(multi.raw)
        if code != CURLM_OK {
            logger.error("curl_multi_wakeup failed", metadata: ["curl.error": "\(CurlError(multi: code))"])
        }
    }
}

/// The loop thread's state: the live transfers and the `CURL *` → id map. Never leaves that thread.
private final class CurlLoopDriver {
    private let loop: CurlMultiLoop
    private let multi: UnsafeMutableRawPointer
    private var live: [UInt64: CurlTransfer] = [:]
    private var idsByHandle: [UnsafeMutableRawPointer: UInt64] = [:]
    /// Upper bound for one `curl_multi_poll`; curl shortens it to its own next timer, and wakeups end it early.
    private let idlePollMilliseconds: Int32 = 10_000

    init(loop: CurlMultiLoop, multi: UnsafeMutableRawPointer) {
        self.loop = loop
        self.multi = multi
    }

    func run() {
        while true {
            let batch = loop.take()
            for job in batch.jobs { adopt(job, stopping: batch.stopping) }
            for id in batch.cancellations { abandon(id, with: .cancelled) }
            if batch.stopping {
                for id in Array(live.keys) { abandon(id, with: .cancelled) }
                return
            }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK { failAll(CurlError(multi: performed)) }
            collectFinished()
            let polled = curl_multi_poll(multi, nil, 0, idlePollMilliseconds, nil)
            if polled != CURLM_OK {
                failAll(CurlError(multi: polled))
                // A poll that keeps failing at once would otherwise spin this thread at full CPU.
                usleep(10_000)
            }
        }
    }

    private func adopt(_ job: TransferJob, stopping: Bool) {
        guard !stopping, !job.cancellation.isSet else { return job.reject(.cancelled) }
        let request: HTTPRequest
        let sink: any ResponseSink
        switch job.kind {
        case .send(let sent, let limit, let continuation):
            request = sent
            sink = BufferSink(limit: limit, method: sent.method, continuation: continuation)
        case .download(let download, let continuation):
            request = download.request
            sink = DownloadSink(request: download, continuation: continuation)
        }
        let transfer: CurlTransfer
        do {
            transfer = try CurlTransfer(
                id: job.id, request: request, sink: sink, settings: loop.settings, counter: loop.handles)
        } catch {
            sink.finish(.failure(error), head: nil)
            return
        }
        let added = curl_multi_add_handle(multi, transfer.handle.raw)
        guard added == CURLM_OK else {
            let failure = CurlError(multi: added)
            transfer.abandon(.other(code: failure.code, message: failure.message))
            return
        }
        live[job.id] = transfer
        idsByHandle[transfer.handle.raw] = job.id
        loop.adjustActive(by: 1)
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            // `message` dies with remove_handle below; everything needed was copied above.
            guard let id = idsByHandle[easy], let transfer = detach(id) else { continue }
            transfer.complete(code)
            log(transfer)
        }
    }

    private func abandon(_ id: UInt64, with error: TransportError) {
        guard let transfer = detach(id) else { return }  // already finished, or never adopted
        transfer.abandon(error)
        log(transfer)
    }

    private func failAll(_ error: CurlError) {
        loop.logger.error("curl multi interface failed", metadata: ["curl.error": "\(error)"])
        for id in Array(live.keys) { abandon(id, with: .other(code: error.code, message: error.message)) }
    }

    /// Takes a transfer out of curl and the tables; the caller then resumes it exactly once.
    private func detach(_ id: UInt64) -> CurlTransfer? {
        guard let transfer = live.removeValue(forKey: id) else { return nil }
        idsByHandle[transfer.handle.raw] = nil
        let removed = curl_multi_remove_handle(multi, transfer.handle.raw)
        if removed != CURLM_OK {
            loop.logger.error(
                "curl_multi_remove_handle failed", metadata: ["curl.error": "\(CurlError(multi: removed))"])
        }
        loop.adjustActive(by: -1)
        return transfer
    }

    private func log(_ transfer: CurlTransfer) {
        guard loop.logger.logLevel <= .debug else { return }
        let elapsed = ContinuousClock.now - transfer.startedAt
        var metadata: Logger.Metadata = [
            "http.method": "\(transfer.method.rawValue)",
            "http.url": "\(transfer.target.display)",
            "http.status": "\(transfer.status)",
            "http.bytes": "\(transfer.bytesReceived)",
            "http.duration_ms": "\(elapsed.wholeMilliseconds)",
        ]
        if let error = transfer.error { metadata["error"] = "\(error)" }
        loop.logger.debug("HTTP request finished", metadata: metadata)
    }
}
