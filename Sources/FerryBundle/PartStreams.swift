import FerrySystem
import Foundation
import Ledger
import OCIModel
import Synchronization

/// The size of the one buffer each direction streams through; memory does not grow with the bundle.
let streamBufferSize = 1 << 20

/// One part as written.
struct WrittenPart {
    /// Where it was written: its name in the export's staging directory until the export is complete.
    var temporaryPath: String
    /// Its final path.
    var path: String
    /// Its size and SHA-256.
    var part: BundlePart
}

/// Writes a byte stream into one file, or into parts of at most `splitSize` bytes, hashing each part as it is
/// written.
///
/// Bytes gather in one of two buffers; a full buffer goes to a writer thread that hashes it into the part's
/// checksum and writes it, while the exporter reads and verifies the next blob into the other buffer. Export hashes
/// every byte twice (the blob's own digest and the part's), so the two hashes then run on two cores. Memory stays
/// at two buffers whatever the bundle size.
final class PartStreamWriter {
    private let flusher: PartFlusher
    private var buffers: [UnsafeMutableRawBufferPointer]
    private var current = 0
    private var filled = 0
    /// Bytes accepted so far.
    private(set) var offset: Int64 = 0
    /// Every part written; complete after ``finish()``.
    var written: [WrittenPart] { flusher.written }

    /// A writer for `file` (one tar) or, with `splitSize`, `file.part0001`, … Files are created under their
    /// final names in `staging` (see ``ExportStaging``) and moved into place by the caller once everything
    /// succeeded.
    init(file: String, splitSize: Int64?, staging: String) {
        flusher = PartFlusher(file: file, splitSize: splitSize, staging: staging)
        buffers = [
            .allocate(byteCount: streamBufferSize, alignment: 4096), .allocate(byteCount: streamBufferSize, alignment: 4096),
        ]
    }

    deinit {
        flusher.stop()
        for buffer in buffers { buffer.deallocate() }
    }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        var rest = bytes
        while !rest.isEmpty {
            if filled == streamBufferSize { try handOff() }
            let count = min(rest.count, streamBufferSize - filled)
            UnsafeMutableRawBufferPointer(rebasing: buffers[current][filled..<(filled + count)]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: rest[0..<count]))
            filled += count
            offset += Int64(count)
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: [UInt8]) throws(FileSystemError) {
        let failure = bytes.withUnsafeBytes { raw -> FileSystemError? in
            do throws(FileSystemError) {
                try write(raw)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
    }

    /// Lets `body` fill the free end of the buffer directly (a blob read from disk is copied once) and returns
    /// what it wrote; 0 means `body` had nothing more.
    func fill(
        upTo limit: Int, _ body: (UnsafeMutableRawBufferPointer) throws(BundleError) -> Int
    ) throws(BundleError)
        -> Int
    {
        if filled == streamBufferSize {
            do { try handOff() } catch { throw .io(error) }
        }
        let space = min(limit, streamBufferSize - filled)
        let count = try body(UnsafeMutableRawBufferPointer(rebasing: buffers[current][filled..<(filled + space)]))
        filled += count
        offset += Int64(count)
        return count
    }

    /// Queues the full buffer for the writer thread and continues in the other one, which the thread has finished
    /// with (it takes a buffer only after the previous one is written).
    private func handOff() throws(FileSystemError) {
        guard filled > 0 else { return }
        try flusher.submit(UnsafeRawBufferPointer(rebasing: buffers[current][0..<filled]))
        current = 1 - current
        filled = 0
    }

    /// Flushes and closes the last part; returns every part written. The buffers go at once: the export still
    /// writes the sidecar.
    func finish() throws(FileSystemError) -> [WrittenPart] {
        try handOff()
        try flusher.finish()
        for buffer in buffers { buffer.deallocate() }
        buffers = []
        return flusher.written
    }

    /// Closes and deletes everything written (after a failure).
    func discard() {
        flusher.discard()
    }
}

/// The writer thread of a ``PartStreamWriter``: hashes and writes queued buffers in order, cutting parts.
///
/// Hand-off uses two semaphores (one buffer in flight at a time); the part state sits behind a mutex that only the
/// thread takes while buffers are in flight and only the owner takes once the thread is idle.
final class PartFlusher: Sendable {
    private struct Parts {
        var current: (file: WritableFile, number: Int, size: Int64, hasher: DigestHasher)?
        var written: [WrittenPart] = []
        // Bytes of the current part handed to the kernel for writeback, so closing a part waits only for its tail.
        var writebackStarted: Int64 = 0
    }

    /// How much unflushed data a part accumulates before its writeback is started.
    private static let writebackStep: Int64 = 8 << 20

    private let file: String
    private let splitSize: Int64?
    private let staging: String
    private let parts = Mutex(Parts())
    // A buffer address and length, or nil to stop the thread.
    private let queue = Mutex<[(UInt, Int)?]>([])
    private let failure = Mutex<FileSystemError?>(nil)
    private let itemReady = DispatchSemaphore(value: 0)
    private let slotFree = DispatchSemaphore(value: 1)
    private let started = Mutex(false)

    init(file: String, splitSize: Int64?, staging: String) {
        self.file = file
        self.splitSize = splitSize
        self.staging = staging
    }

    /// Every part written so far (complete once idle).
    var written: [WrittenPart] { parts.withLock { $0.written } }

    /// Queues `bytes` once the previous buffer is written; reports an earlier failure instead.
    func submit(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        slotFree.wait()
        if let error = failure.withLock({ $0 }) {
            slotFree.signal()
            throw error
        }
        let launch = started.withLock { running -> Bool in
            defer { running = true }
            return !running
        }
        if launch {
            let thread = Thread { [self] in run() }
            thread.name = "ferry-bundle-writer"
            thread.start()
        }
        queue.withLock { $0.append((UInt(bitPattern: bytes.baseAddress), bytes.count)) }
        itemReady.signal()
    }

    /// Waits until the last queued buffer is written.
    private func drain() {
        slotFree.wait()
        slotFree.signal()
    }

    /// Waits for the thread, then closes the last part.
    func finish() throws(FileSystemError) {
        drain()
        if let error = failure.withLock({ $0 }) { throw error }
        try parts.withLock { (state: inout Parts) throws(FileSystemError) in
            try Self.closePart(&state, file, splitSize, staging)
        }
    }

    /// Stops the thread (after its current buffer).
    func stop() {
        guard started.withLock({ $0 }) else { return }
        drain()
        queue.withLock { $0.append(nil) }
        itemReady.signal()
    }

    /// Deletes everything written to the staging directory (after a failure).
    func discard() {
        drain()
        parts.withLock { state in
            state.current?.file.close()
            if let current = state.current {
                try? FileSystem.removeFile(Self.stagedPath(file, current.number, splitSize, staging))
            }
            state.current = nil
            for part in state.written { try? FileSystem.removeFile(part.temporaryPath) }
        }
    }

    /// The final path of part `number`.
    private static func finalPath(_ file: String, _ number: Int, _ splitSize: Int64?) -> String {
        splitSize == nil ? file : BundleFiles.partPath(for: file, number: number)
    }

    /// Where part `number` is written.
    private static func stagedPath(_ file: String, _ number: Int, _ splitSize: Int64?, _ staging: String) -> String {
        staging + "/" + BundleFiles.name(finalPath(file, number, splitSize))
    }

    private func run() {
        while true {
            itemReady.wait()
            guard let item = queue.withLock({ $0.removeFirst() }) else { return }
            if failure.withLock({ $0 }) == nil, let base = UnsafeRawPointer(bitPattern: item.0) {
                let bytes = UnsafeRawBufferPointer(start: base, count: item.1)
                do throws(FileSystemError) {
                    try parts.withLock { (state: inout Parts) throws(FileSystemError) in
                        try Self.write(bytes, into: &state, file, splitSize, staging)
                    }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
            slotFree.signal()
        }
    }

    /// Writes `bytes`, cutting parts where `splitSize` says.
    private static func write(
        _ bytes: UnsafeRawBufferPointer, into state: inout Parts, _ file: String, _ splitSize: Int64?,
        _ staging: String
    ) throws(FileSystemError) {
        var start = 0
        while start < bytes.count {
            if state.current == nil {
                let number = state.written.count + 1
                let path = stagedPath(file, number, splitSize, staging)
                state.current = (try WritableFile(path: path, truncate: true), number, 0, DigestHasher(.sha256))
            }
            let room = splitSize.map { Int(min(Int64(bytes.count - start), $0 - state.current!.size)) } ?? (bytes.count - start)
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + room)])
            state.current!.hasher.update(chunk)
            try state.current!.file.write(chunk)
            state.current!.size += Int64(room)
            start += room
            if state.current!.size - state.writebackStarted >= writebackStep {
                state.current!.file.startWriteback(
                    offset: state.writebackStarted, length: state.current!.size - state.writebackStarted)
                state.writebackStarted = state.current!.size
            }
            if let splitSize, state.current!.size == splitSize { try closePart(&state, file, splitSize, staging) }
        }
    }

    private static func closePart(
        _ state: inout Parts, _ file: String, _ splitSize: Int64?, _ staging: String
    ) throws(FileSystemError) {
        guard let part = state.current else { return }
        state.current = nil
        state.writebackStarted = 0
        try part.file.sync()
        part.file.close()
        let path = finalPath(file, part.number, splitSize)
        state.written.append(
            WrittenPart(
                temporaryPath: stagedPath(file, part.number, splitSize, staging), path: path,
                part: BundlePart(name: BundleFiles.name(path), size: part.size, sha256: part.hasher.finalize())))
    }
}

/// Reads a bundle's parts as one byte stream, hashing each part as it is read and comparing it with the
/// sidecar when the part ends, so a damaged part is reported by name.
final class PartStreamReader {
    private let parts: [(path: String, expected: BundlePart)]
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var index = 0
    private var file: ReadableFile?
    private var hasher = DigestHasher(.sha256)
    private var partBytes: Int64 = 0
    /// Stream offset of the next byte handed out.
    private(set) var offset: Int64 = 0
    /// Parts read completely and found intact.
    private(set) var verifiedParts = 0
    /// Bytes read from disk so far.
    private(set) var bytesRead: Int64 = 0

    init(parts: [(path: String, expected: BundlePart)]) {
        self.parts = parts
        buffer = .allocate(byteCount: streamBufferSize, alignment: 4096)
    }

    deinit {
        file?.close()
        buffer.deallocate()
    }

    /// Up to `limit` next bytes, valid until the next call; empty at the end of the last part.
    func next(upTo limit: Int) throws(BundleError) -> UnsafeRawBufferPointer {
        if start == end { try refill() }
        let count = min(limit, end - start)
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)])
        start += count
        offset += Int64(count)
        return chunk
    }

    /// Exactly `count` bytes into `output`; returns how many were available (less only at the end).
    func read(_ count: Int, into output: inout [UInt8]) throws(BundleError) -> Int {
        output.removeAll(keepingCapacity: true)
        while output.count < count {
            let chunk = try next(upTo: count - output.count)
            if chunk.isEmpty { break }
            output.append(contentsOf: chunk)
        }
        return output.count
    }

    /// Reads and checks whatever is left of every part, discarding it.
    func verifyRemaining() throws(BundleError) {
        while try !next(upTo: streamBufferSize).isEmpty {}
    }

    private func refill() throws(BundleError) {
        start = 0
        end = 0
        while index < parts.count {
            let part = parts[index]
            if file == nil {
                do { file = try ReadableFile(path: part.path) } catch { throw .io(error) }
                hasher = DigestHasher(.sha256)
                partBytes = 0
            }
            let count: Int
            do { count = try file!.read(into: buffer) } catch { throw .io(error) }
            if count > 0 {
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                hasher.update(chunk)
                partBytes += Int64(count)
                bytesRead += Int64(count)
                end = count
                // A part that grew since it was located is as untrustworthy as a corrupt one.
                if partBytes > part.expected.size {
                    throw .partTooLong(path: part.path, size: partBytes, expected: part.expected.size)
                }
                return
            }
            file?.close()
            file = nil
            if partBytes < part.expected.size {
                throw .partTruncated(path: part.path, size: partBytes, expected: part.expected.size)
            }
            let actual = hasher.finalize()
            guard actual == part.expected.sha256 else {
                throw .partCorrupt(path: part.path, actual: actual, expected: part.expected.sha256)
            }
            verifiedParts += 1
            index += 1
        }
    }
}
