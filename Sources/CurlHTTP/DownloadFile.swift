internal import CCurl
import FerryHTTP
import FerrySystem
import Foundation
import Glibc
import OCIModel
import Synchronization

/// The destination of a 2xx download: an open file plus the hash over exactly the bytes it holds.
///
/// curl hands the write callback at most 16 KiB at a time (`CURL_MAX_WRITE_SIZE`), so bytes are gathered in
/// 1 MiB buffers. For a large body a full buffer goes to a writer thread that writes and hashes it while curl fills
/// the next one: receiving, writing and SHA-256 then run on two cores instead of one, and memory stays at two
/// buffers whatever the blob size. A small body (under ``pipelineThreshold``) is written and hashed on curl's thread
/// with one buffer: a thread per small layer would cost more memory and time than it saves. Bytes are hashed only after `pwrite` put them in the file, so after
/// ``flush()`` `length` and `hasher` describe the same bytes and the caller can resume with `Range`.
final class DownloadFile {
    /// Bytes gathered before one write.
    static let bufferSize = 1024 * 1024
    /// Buffers per download at most: one filling, one being written.
    static let maxBuffers = 2
    /// Bodies larger than this are written and hashed on a second thread.
    static let pipelineThreshold: Int64 = 8 << 20

    let path: String
    private let writer: BufferWriter
    private var allocated: [UnsafeMutableRawBufferPointer] = []
    private var current: UnsafeMutableRawBufferPointer
    private var buffered = 0
    private let pipelined: Bool

    /// Bytes in the file, all of them covered by `hasher` (valid after ``flush()``).
    var length: Int64 { writer.length }
    /// The hash state over the first `length` bytes (valid after ``flush()``).
    var hasher: DigestHasher { writer.hasher }

    /// Opens `path` (creating it) and cuts it to `length` bytes, which `hasher` must already cover.
    init(path: String, keeping length: Int64, hasher: DigestHasher, pipelined: Bool = true) throws(TransportError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw fileError(path, errno) }
        if length > 0 {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else {
                let code = errno
                Glibc.close(descriptor)
                throw fileError(path, code)
            }
            // Growing the file with zeros would make the hasher's claim about those bytes false.
            guard Int64(status.st_size) >= length else {
                Glibc.close(descriptor)
                throw .fileIO(path: path, message: "file has \(status.st_size) bytes, cannot resume at \(length)")
            }
        }
        guard ftruncate(descriptor, off_t(length)) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw fileError(path, code)
        }
        self.path = path
        writer = BufferWriter(
            path: path, descriptor: descriptor, length: length, hasher: hasher, startsWriteback: pipelined)
        guard let first = BufferPool.shared.take() else {
            Glibc.close(descriptor)
            throw .other(code: 27, message: "cannot map a download buffer: \(systemError(errno))")
        }
        current = first
        allocated = [first]
        self.pipelined = pipelined
    }

    deinit {
        _ = writer.finish()
        for buffer in allocated { BufferPool.shared.give(buffer) }
    }

    /// Adds `bytes` at the end of the file; full buffers go to the writer thread.
    func append(_ bytes: UnsafeRawBufferPointer) -> TransportError? {
        var rest = bytes
        while !rest.isEmpty {
            if buffered == Self.bufferSize, let error = handOff() { return error }
            let buffer = current
            let count = min(rest.count, Self.bufferSize - buffered)
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<buffered + count])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<count]))
            buffered += count
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        }
        return nil
    }

    /// Queues the full current buffer for the writer and continues in a free one: a buffer the writer finished, a
    /// new one while fewer than ``maxBuffers`` exist, else the next one the writer finishes.
    private func handOff() -> TransportError? {
        guard pipelined else {
            defer { buffered = 0 }
            return writer.writeNow(UnsafeRawBufferPointer(current), count: buffered)
        }
        if let error = writer.submit(current, count: buffered) { return error }
        if allocated.count < Self.maxBuffers, !writer.hasFinishedBuffer {
            guard let buffer = BufferPool.shared.take() else {
                return .other(code: 27, message: "cannot map a download buffer: \(systemError(errno))")
            }
            current = buffer
            allocated.append(buffer)
        } else {
            switch writer.takeFinishedBuffer() {
            case .success(let buffer): current = buffer
            case .failure(let error): return error
            }
        }
        buffered = 0
        return nil
    }

    /// Waits for the writer, then writes and hashes the partial buffer here. After a failed write the unwritten
    /// rest is dropped, so `length` and `hasher` still agree with the file.
    func flush() -> TransportError? {
        if let error = writer.drain() {
            buffered = 0
            return error
        }
        defer { buffered = 0 }
        return writer.writeNow(UnsafeRawBufferPointer(current), count: buffered)
    }

    /// Flushes and closes the file; a failing `close` (e.g. a deferred write error on NFS) is reported.
    func close() -> TransportError? {
        let flushError = flush()
        let closeError = writer.finish()
        return flushError ?? closeError
    }
}

@available(*, unavailable)
extension DownloadFile: Sendable {}

/// Writes and hashes buffers on its own thread, in the order they were queued, and hands them back.
///
/// Safety of `@unchecked Sendable`: every stored property is read and written under `condition`, except the file
/// state (`descriptor`, `length`, `hasher`), which only the writer thread touches while buffers are queued or being
/// written, and only the owner (curl's thread) touches when the writer is idle, after ``drain()``. A queued buffer
/// belongs to the writer until it is handed back through `finished`.
final class BufferWriter: @unchecked Sendable {
    private let condition = NSCondition()
    private let path: String
    private var descriptor: Int32
    private(set) var length: Int64
    private(set) var hasher: DigestHasher
    private var queue: [(UnsafeMutableRawBufferPointer, Int)] = []
    private var finished: [UnsafeMutableRawBufferPointer] = []
    private var working = false
    private var failure: TransportError?
    private var started = false
    private var stopping = false
    private let startsWriteback: Bool

    init(path: String, descriptor: Int32, length: Int64, hasher: DigestHasher, startsWriteback: Bool) {
        self.path = path
        self.descriptor = descriptor
        self.length = length
        self.hasher = hasher
        self.startsWriteback = startsWriteback
    }

    /// Queues `count` bytes of `buffer`; returns an earlier failure instead.
    func submit(_ buffer: UnsafeMutableRawBufferPointer, count: Int) -> TransportError? {
        condition.lock()
        defer { condition.unlock() }
        if let failure { return failure }
        queue.append((buffer, count))
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = "ferry-download-writer"
            thread.start()
        }
        condition.broadcast()
        return nil
    }

    /// True when a written buffer is waiting to be reused.
    var hasFinishedBuffer: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !finished.isEmpty
    }

    /// A buffer the writer is done with, waiting for one if needed.
    func takeFinishedBuffer() -> Result<UnsafeMutableRawBufferPointer, TransportError> {
        condition.lock()
        defer { condition.unlock() }
        while finished.isEmpty && failure == nil { condition.wait() }
        if let failure { return .failure(failure) }
        return .success(finished.removeFirst())
    }

    /// Waits until every queued buffer is written; returns a failure the writer met.
    func drain() -> TransportError? {
        condition.lock()
        defer { condition.unlock() }
        while !queue.isEmpty || working { condition.wait() }
        return failure
    }

    /// Writes and hashes on the calling thread; only while the writer is idle.
    func writeNow(_ buffer: UnsafeRawBufferPointer, count: Int) -> TransportError? {
        write(buffer, count: count)
    }

    /// Stops the thread (after its job) and closes the file.
    func finish() -> TransportError? {
        condition.lock()
        while !queue.isEmpty || working { condition.wait() }
        stopping = true
        condition.broadcast()
        let descriptor = self.descriptor
        self.descriptor = -1
        condition.unlock()
        guard descriptor >= 0 else { return nil }
        return Glibc.close(descriptor) == 0 ? nil : fileError(path, errno)
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                return
            }
            let (buffer, count) = queue.removeFirst()
            working = true
            // After a failure the rest is dropped unwritten, so the file and the hash keep agreeing.
            let skip = failure != nil
            condition.unlock()
            let error = skip ? nil : write(UnsafeRawBufferPointer(buffer), count: count)
            condition.lock()
            if let error, failure == nil { failure = error }
            working = false
            finished.append(buffer)
            condition.broadcast()
            condition.unlock()
        }
    }

    private func write(_ buffer: UnsafeRawBufferPointer, count: Int) -> TransportError? {
        guard let base = buffer.baseAddress else { return nil }
        let start = length
        defer {
            // The store fsyncs a blob before renaming it into blobs/; for a large blob, starting writeback of each
            // buffer now overlaps that disk work with the transfer. A failure here only loses the head start.
            if startsWriteback, length > start { _ = ccurl_start_writeback(descriptor, start, length - start) }
        }
        var done = 0
        while done < count {
            let written = pwrite(descriptor, base + done, count - done, off_t(length))
            if written < 0 {
                if errno == EINTR { continue }
                return fileError(path, errno)
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[done..<done + written]))
            length += Int64(written)
            done += written
        }
        return nil
    }
}

/// 1 MiB download buffers shared by every download of the process and reused: fresh memory for each download cost
/// page faults, and malloc kept freed blocks in per-thread arenas, which a sync of many images held as resident
/// memory. Buffers are mapped straight from the kernel; at most ``retained`` stay mapped when idle.
final class BufferPool: Sendable {
    /// The process's pool.
    static let shared = BufferPool(retained: 16)

    // Addresses rather than buffer pointers, which are not Sendable; every buffer is DownloadFile.bufferSize long.
    private let free = Mutex<[UInt]>([])
    private let retained: Int

    init(retained: Int) { self.retained = retained }

    /// A buffer from the pool, or a new mapping; nil when the kernel has no memory to map.
    func take() -> UnsafeMutableRawBufferPointer? {
        if let address = free.withLock({ $0.popLast() }), let pointer = UnsafeMutableRawPointer(bitPattern: address) {
            return UnsafeMutableRawBufferPointer(start: pointer, count: DownloadFile.bufferSize)
        }
        let address = mmap(nil, DownloadFile.bufferSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let address, address != MAP_FAILED else { return nil }
        return UnsafeMutableRawBufferPointer(start: address, count: DownloadFile.bufferSize)
    }

    /// Returns a buffer; beyond ``retained`` idle buffers it is unmapped.
    func give(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        let kept = free.withLock { list -> Bool in
            guard list.count < retained else { return false }
            list.append(UInt(bitPattern: base))
            return true
        }
        if !kept { munmap(base, buffer.count) }
    }
}
