import FerrySystem
import Foundation
import Ledger
import OCIModel

/// The size of the one buffer each direction streams through; memory does not grow with the bundle.
let streamBufferSize = 1 << 20

/// One part as written.
struct WrittenPart {
    /// Where it was written (a temporary name until the export is complete).
    var temporaryPath: String
    /// Its final path.
    var path: String
    /// Its size and SHA-256.
    var part: BundlePart
}

/// Writes a byte stream into one file, or into parts of at most `splitSize` bytes, hashing each part as it is
/// written. Everything goes through one fixed buffer; a part is flushed to disk before the next is opened.
final class PartStreamWriter {
    private let file: String
    private let splitSize: Int64?
    private let buffer: UnsafeMutableRawBufferPointer
    private var filled = 0
    private var current: (file: WritableFile, number: Int, size: Int64, hasher: DigestHasher)?
    private(set) var written: [WrittenPart] = []
    /// Bytes accepted so far.
    private(set) var offset: Int64 = 0

    /// A writer for `file` (one tar) or, with `splitSize`, `file.part0001`, … Files are created as
    /// `<final name>.partial` and renamed by the caller once everything succeeded.
    init(file: String, splitSize: Int64?) {
        self.file = file
        self.splitSize = splitSize
        buffer = .allocate(byteCount: streamBufferSize, alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        var rest = bytes
        while !rest.isEmpty {
            if filled == buffer.count { try flush() }
            let count = min(rest.count, buffer.count - filled)
            UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + count)]).copyMemory(
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
        if filled == buffer.count {
            do { try flush() } catch { throw .io(error) }
        }
        let space = min(limit, buffer.count - filled)
        let count = try body(UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + space)]))
        filled += count
        offset += Int64(count)
        return count
    }

    /// Writes the buffer out, cutting parts where `splitSize` says.
    private func flush() throws(FileSystemError) {
        var start = 0
        while start < filled {
            if current == nil {
                let number = written.count + 1
                let path = splitSize == nil ? file : BundleFiles.partPath(for: file, number: number)
                current = (try WritableFile(path: path + ".partial", truncate: true), number, 0, DigestHasher(.sha256))
            }
            let room = splitSize.map { Int(min(Int64(filled - start), $0 - current!.size)) } ?? (filled - start)
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + room)])
            current!.hasher.update(chunk)
            try current!.file.write(chunk)
            current!.size += Int64(room)
            start += room
            if let splitSize, current!.size == splitSize { try closePart() }
        }
        filled = 0
    }

    private func closePart() throws(FileSystemError) {
        guard let part = current else { return }
        current = nil
        try part.file.sync()
        part.file.close()
        let path = splitSize == nil ? file : BundleFiles.partPath(for: file, number: part.number)
        written.append(
            WrittenPart(
                temporaryPath: path + ".partial", path: path,
                part: BundlePart(name: BundleFiles.name(path), size: part.size, sha256: part.hasher.finalize())))
    }

    /// Flushes and closes the last part; returns every part written.
    func finish() throws(FileSystemError) -> [WrittenPart] {
        try flush()
        try closePart()
        return written
    }

    /// Closes and deletes everything written (after a failure).
    func discard() {
        current?.file.close()
        if let current {
            let path = splitSize == nil ? file : BundleFiles.partPath(for: file, number: current.number)
            try? FileSystem.removeFile(path + ".partial")
        }
        current = nil
        for part in written {
            try? FileSystem.removeFile(part.temporaryPath)
            try? FileSystem.removeFile(part.path)
        }
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
