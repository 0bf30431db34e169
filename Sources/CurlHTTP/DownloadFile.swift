import FerryHTTP
import Glibc
import OCIModel

/// The destination of a 2xx download: an open file plus the hash over exactly the bytes it holds.
///
/// curl hands the write callback at most 16 KiB at a time (`CURL_MAX_WRITE_SIZE`), so bytes are gathered in
/// a 1 MiB buffer and written and hashed a buffer at a time: one `pwrite` per 64 callbacks instead of one each.
/// Bytes are hashed only after `pwrite` put them in the file, so after ``flush()`` `length` and `hasher`
/// describe the same bytes and the caller can resume with `Range: bytes=<length>-`.
final class DownloadFile {
    /// Bytes gathered before one write.
    static let bufferSize = 1024 * 1024

    let path: String
    private var descriptor: Int32
    /// Bytes in the file, all of them covered by `hasher`; buffered bytes are not counted until flushed.
    private(set) var length: Int64
    /// The hash state over the first `length` bytes.
    private(set) var hasher: DigestHasher
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
    private var buffered = 0

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
        self.descriptor = descriptor
        self.length = length
        self.hasher = hasher
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
        buffer.deallocate()
    }

    /// Adds `bytes` at the end of the file, writing and hashing whenever the buffer fills.
    func append(_ bytes: UnsafeRawBufferPointer) -> TransportError? {
        var rest = bytes
        while !rest.isEmpty {
            if buffered == buffer.count, let error = flush() { return error }
            let count = min(rest.count, buffer.count - buffered)
            UnsafeMutableRawBufferPointer(rebasing: buffer[buffered..<buffered + count])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<count]))
            buffered += count
            rest = UnsafeRawBufferPointer(rebasing: rest[count...])
        }
        return nil
    }

    /// Writes the buffered bytes and hashes what was written. After a failed write the unwritten rest is
    /// dropped, so `length` and `hasher` still agree with the file.
    func flush() -> TransportError? {
        guard let base = buffer.baseAddress else { return nil }
        var done = 0
        defer { buffered = 0 }
        while done < buffered {
            let count = pwrite(descriptor, base + done, buffered - done, off_t(length))
            if count < 0 {
                if errno == EINTR { continue }
                return .fileIO(path: path, message: systemError(errno))
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[done..<done + count]))
            length += Int64(count)
            done += count
        }
        return nil
    }

    /// Flushes and closes the file; a failing `close` (e.g. a deferred write error on NFS) is reported.
    func close() -> TransportError? {
        guard descriptor >= 0 else { return nil }
        let flushError = flush()
        let result = Glibc.close(descriptor)
        descriptor = -1
        return flushError ?? (result == 0 ? nil : .fileIO(path: path, message: systemError(errno)))
    }
}

@available(*, unavailable)
extension DownloadFile: Sendable {}
