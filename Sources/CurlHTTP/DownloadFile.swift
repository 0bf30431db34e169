import FerryHTTP
import Foundation
import Glibc
import OCIModel

/// The destination of a 2xx download: an open file plus the hash over exactly the bytes it holds.
///
/// curl hands the write callback at most 16 KiB at a time (`CURL_MAX_WRITE_SIZE`), so bytes are gathered in
/// 1 MiB buffers. A full buffer goes to a writer thread that writes and hashes it while curl fills the other
/// buffer: receiving, writing and SHA-256 then run on two cores instead of one (with one thread the hash alone
/// cost a large blob half its speed). Memory stays at two buffers whatever the blob size. Downloads smaller than
/// one buffer never start the thread. Bytes are hashed only after `pwrite` put them in the file, so after
/// ``flush()`` `length` and `hasher` describe the same bytes and the caller can resume with `Range`.
final class DownloadFile {
    /// Bytes gathered before one write.
    static let bufferSize = 1024 * 1024

    let path: String
    private let writer: BufferWriter
    private var buffers: [UnsafeMutableRawBufferPointer]
    private var current = 0
    private var buffered = 0

    /// Bytes in the file, all of them covered by `hasher` (valid after ``flush()``).
    var length: Int64 { writer.length }
    /// The hash state over the first `length` bytes (valid after ``flush()``).
    var hasher: DigestHasher { writer.hasher }

    /// Opens `path` (creating it) and cuts it to `length` bytes, which `hasher` must already cover.
    init(path: String, keeping length: Int64, hasher: DigestHasher) throws(TransportError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .fileIO(path: path, message: systemError(errno)) }
        if length > 0 {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else {
                let message = systemError(errno)
                Glibc.close(descriptor)
                throw .fileIO(path: path, message: message)
            }
            // Growing the file with zeros would make the hasher's claim about those bytes false.
            guard Int64(status.st_size) >= length else {
                Glibc.close(descriptor)
                throw .fileIO(path: path, message: "file has \(status.st_size) bytes, cannot resume at \(length)")
            }
        }
        guard ftruncate(descriptor, off_t(length)) == 0 else {
            let message = systemError(errno)
            Glibc.close(descriptor)
            throw .fileIO(path: path, message: message)
        }
        self.path = path
        writer = BufferWriter(path: path, descriptor: descriptor, length: length, hasher: hasher)
        buffers = [UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 64)]
    }

    deinit {
        _ = writer.finish()
        for buffer in buffers { buffer.deallocate() }
    }

    /// Adds `bytes` at the end of the file; full buffers go to the writer thread.
    func append(_ bytes: UnsafeRawBufferPointer) -> TransportError? {
        var rest = bytes
        while !rest.isEmpty {
            if buffered == Self.bufferSize, let error = handOff() { return error }
            let buffer = buffers[current]
            let count = min(rest.count, Self.bufferSize - buffered)
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<buffered + count])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<count]))
            buffered += count
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        }
        return nil
    }

    /// Gives the full current buffer to the writer and switches to the other one. The writer accepts a buffer only
    /// once it finished the previous one, so the buffer switched to is never still being written.
    private func handOff() -> TransportError? {
        if buffers.count == 1 {
            buffers.append(UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 64))
        }
        if let error = writer.submit(UnsafeRawBufferPointer(buffers[current]), count: buffered) { return error }
        current = 1 - current
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
        return writer.writeNow(UnsafeRawBufferPointer(buffers[current]), count: buffered)
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

/// Writes and hashes buffers on its own thread, one at a time and in order.
///
/// Safety of `@unchecked Sendable`: every stored property is read and written under `condition`, except the file
/// state (`descriptor`, `length`, `hasher`), which only the thread holding the current job touches — the writer
/// thread while a job is pending, the owner (curl's thread) when the writer is idle, after ``drain()``.
final class BufferWriter: @unchecked Sendable {
    private let condition = NSCondition()
    private let path: String
    private var descriptor: Int32
    private(set) var length: Int64
    private(set) var hasher: DigestHasher
    private var job: (UnsafeRawBufferPointer, Int)?
    private var failure: TransportError?
    private var started = false
    private var stopping = false

    init(path: String, descriptor: Int32, length: Int64, hasher: DigestHasher) {
        self.path = path
        self.descriptor = descriptor
        self.length = length
        self.hasher = hasher
    }

    /// Queues `count` bytes of `buffer`, first waiting until the previous job is done; returns an earlier failure.
    func submit(_ buffer: UnsafeRawBufferPointer, count: Int) -> TransportError? {
        condition.lock()
        defer { condition.unlock() }
        while job != nil { condition.wait() }
        if let failure { return failure }
        job = (buffer, count)
        if !started {
            started = true
            let thread = Thread { [self] in run() }
            thread.name = "ferry-download-writer"
            thread.start()
        }
        condition.broadcast()
        return nil
    }

    /// Waits until no job is pending; returns a failure the writer met.
    func drain() -> TransportError? {
        condition.lock()
        defer { condition.unlock() }
        while job != nil { condition.wait() }
        return failure
    }

    /// Writes and hashes on the calling thread; only while the writer is idle.
    func writeNow(_ buffer: UnsafeRawBufferPointer, count: Int) -> TransportError? {
        write(buffer, count: count)
    }

    /// Stops the thread (after its job) and closes the file.
    func finish() -> TransportError? {
        condition.lock()
        while job != nil { condition.wait() }
        stopping = true
        condition.broadcast()
        let descriptor = self.descriptor
        self.descriptor = -1
        condition.unlock()
        guard descriptor >= 0 else { return nil }
        return Glibc.close(descriptor) == 0 ? nil : .fileIO(path: path, message: systemError(errno))
    }

    private func run() {
        while true {
            condition.lock()
            while job == nil && !stopping { condition.wait() }
            guard let (buffer, count) = job else {
                condition.unlock()
                return
            }
            condition.unlock()
            let error = write(buffer, count: count)
            condition.lock()
            if let error, failure == nil { failure = error }
            job = nil
            condition.broadcast()
            condition.unlock()
        }
    }

    private func write(_ buffer: UnsafeRawBufferPointer, count: Int) -> TransportError? {
        guard let base = buffer.baseAddress else { return nil }
        var done = 0
        while done < count {
            let written = pwrite(descriptor, base + done, count - done, off_t(length))
            if written < 0 {
                if errno == EINTR { continue }
                return .fileIO(path: path, message: systemError(errno))
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[done..<done + written]))
            length += Int64(written)
            done += written
        }
        return nil
    }
}
