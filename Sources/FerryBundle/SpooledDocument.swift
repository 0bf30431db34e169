import FerrySystem
import Foundation
import OCIModel

/// A document written or received in pieces and read back afterwards (a bundle description, an `index.json`):
/// in memory while small, in a scratch file once past ``memoryLimit``, so that one of 20,000 references is never
/// held whole. Its size and SHA-256 are known once it is finished.
final class SpooledDocument {
    /// Bytes kept in memory before the document moves to its file.
    static let memoryLimit = 256 * 1024

    /// Where the document goes once it outgrows memory (its directory must exist).
    let path: String
    private let limit: Int
    private var memory: [UInt8] = []
    private var file: WritableFile?
    private var buffer: [UInt8] = []
    private var hasher = DigestHasher(.sha256)
    private var spilled = false
    /// Bytes written so far.
    private(set) var size: Int64 = 0
    /// SHA-256 of the bytes; set by ``finish()``.
    private(set) var sha256: Digest?

    /// An empty document that spills into `path` past `memoryLimit` bytes.
    init(path: String, memoryLimit: Int = SpooledDocument.memoryLimit) {
        self.path = path
        limit = memoryLimit
    }

    deinit { file?.close() }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(BundleError) {
        hasher.update(bytes)
        try keep(bytes)
    }

    /// Appends `bytes`.
    func write(_ bytes: [UInt8]) throws(BundleError) {
        hasher.update(bytes)
        try keep(bytes)
    }

    private func keep(_ bytes: some Collection<UInt8>) throws(BundleError) {
        size += Int64(bytes.count)
        if spilled {
            buffer.append(contentsOf: bytes)
            if buffer.count >= Self.memoryLimit { try flush() }
            return
        }
        memory.append(contentsOf: bytes)
        if memory.count > limit {
            do { file = try WritableFile(path: path, truncate: true) } catch { throw .io(error) }
            spilled = true
            buffer = memory
            memory = []
            try flush()
        }
    }

    /// Writes out what is buffered and closes the file; the document is complete.
    func finish() throws(BundleError) {
        try flush()
        file?.close()
        file = nil
        sha256 = hasher.finalize()
    }

    /// A reader of the finished document from its start.
    func source() throws(BundleError) -> any ByteSource {
        spilled ? try FileByteSource(path: path) : MemoryByteSource(memory)
    }

    /// The finished document's bytes in `range`, in chunks, to `body`.
    func copy(_ range: Range<Int64>, to body: ([UInt8]) throws(BundleError) -> Void) throws(BundleError) {
        guard spilled else {
            try body(Array(memory[Int(range.lowerBound)..<Int(range.upperBound)]))
            return
        }
        guard !range.isEmpty else { return }
        let file: ReadableFile
        do {
            file = try ReadableFile(path: path)
            try file.seek(to: range.lowerBound)
        } catch {
            throw .io(error)
        }
        defer { file.close() }
        // Small chunks: the caller's own buffer (an AtomicFile's) grows to the largest one it is given.
        var chunk = [UInt8](repeating: 0, count: min(64 * 1024, max(range.count, 1)))
        var left = range.upperBound - range.lowerBound
        while left > 0 {
            let count: Int
            do { count = try file.read(into: &chunk) } catch { throw .io(error) }
            guard count > 0 else {
                throw .io(
                    FileSystemError(
                        path: path, operation: "read", message: "the file ends before byte \(range.upperBound)"))
            }
            let used = Int(min(Int64(count), left))
            try body(used == chunk.count ? chunk : Array(chunk[0..<used]))
            left -= Int64(used)
        }
    }

    /// Deletes the scratch file, if one was made.
    func remove() {
        file?.close()
        file = nil
        if spilled { try? FileSystem.removeFile(path) }
    }

    /// What the document holds in memory, for a small one; nil once spilled.
    var bytesInMemory: [UInt8]? { spilled ? nil : memory }

    private func flush() throws(BundleError) {
        guard let file, !buffer.isEmpty else { return }
        do { try file.write(buffer) } catch { throw .io(error) }
        buffer.removeAll(keepingCapacity: true)
    }
}
