import Foundation
import OCIModel

#if canImport(Glibc)
    import Glibc
#endif

/// `write(2)` until every byte is out.
enum FileDescriptorIO {
    /// Writes all of `bytes` to `fd`, continuing after short writes and EINTR; errors name `path`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw TestSupportError.fileIO(path: path, message: String(cString: strerror(errno)))
            }
            offset += written
        }
    }
}

/// Streams bytes into a temporary file inside a layout's blob directory while hashing them, then renames the file
/// to its digest, so large blobs never sit in memory and a half-written blob never appears under its digest.
final class BlobFileWriter {
    private let blobDirectory: String
    private let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var hasher = DigestHasher(.sha256)
    private static let bufferSize = 1 << 20

    init(blobDirectory: String) throws {
        self.blobDirectory = blobDirectory
        temporaryPath = blobDirectory + "/.partial-" + UUID().uuidString
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TestSupportError.fileIO(path: temporaryPath, message: String(cString: strerror(errno)))
        }
        buffer.reserveCapacity(Self.bufferSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        if buffer.count + bytes.count > Self.bufferSize { try flush() }
        if bytes.count >= Self.bufferSize {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Closes the file and moves it to `blobs/sha256/<hex>`; returns the digest and size.
    func finish() throws -> (digest: Digest, size: Int64) {
        try flush()
        close(fd)
        fd = -1
        let digest = hasher.finalize()
        let destination = blobDirectory + "/" + digest.hex
        guard rename(temporaryPath, destination) == 0 else {
            throw TestSupportError.fileIO(path: destination, message: String(cString: strerror(errno)))
        }
        return (digest, hasher.count)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        try FileDescriptorIO.writeAll(fd, bytes, path: temporaryPath)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporaryPath)
        }
    }
}

/// Writes one layer: uncompressed tar bytes in, optionally wrapped in stored-block gzip, out to a blob file. Tracks
/// the diff ID (SHA-256 of the uncompressed tar) alongside the blob digest.
final class LayerBlobWriter {
    private let file: BlobFileWriter
    private let compression: LayerCompression
    private var diffHasher = DigestHasher(.sha256)
    private var crc = CRC32()
    private var pending: [UInt8] = []

    init(blobDirectory: String, compression: LayerCompression) throws {
        file = try BlobFileWriter(blobDirectory: blobDirectory)
        self.compression = compression
        if compression == .gzip {
            try file.write(StoredGzip.header)
            pending.reserveCapacity(StoredGzip.maximumBlockLength)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        diffHasher.update(bytes)
        switch compression {
        case .none:
            try file.write(bytes)
        case .gzip:
            crc.update(bytes)
            var offset = 0
            while offset < bytes.count {
                let take = min(StoredGzip.maximumBlockLength - pending.count, bytes.count - offset)
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
                // A full block is emitted as non-final; the final block is emitted by finish(), possibly empty.
                if pending.count == StoredGzip.maximumBlockLength { try emitBlock(isFinal: false) }
            }
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    func finish() throws -> (digest: Digest, size: Int64, diffID: Digest, uncompressedSize: Int64) {
        if compression == .gzip {
            try emitBlock(isFinal: true)
            try file.write(StoredGzip.trailer(crc: crc.value, size: UInt64(diffHasher.count)))
        }
        let (digest, size) = try file.finish()
        return (digest, size, diffHasher.finalize(), diffHasher.count)
    }

    private func emitBlock(isFinal: Bool) throws {
        try file.write(StoredGzip.blockHeader(length: pending.count, isFinal: isFinal))
        try file.write(pending)
        pending.removeAll(keepingCapacity: true)
    }
}
