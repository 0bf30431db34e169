import FerryHTTP
import Glibc
import OCIModel

/// The destination of a 2xx download: an open file plus the hash over exactly the bytes it holds.
///
/// Every byte is hashed only after `pwrite` put it in the file, so after any failure `length` and `hasher`
/// still describe the same bytes and the caller can resume with `Range: bytes=<length>-`.
final class DownloadFile {
    let path: String
    private var descriptor: Int32
    /// Bytes in the file, all of them covered by `hasher`.
    private(set) var length: Int64
    /// The hash state over the first `length` bytes.
    private(set) var hasher: DigestHasher

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
    }

    /// Writes `bytes` at the end and hashes them; on failure only the written prefix is hashed.
    func append(_ bytes: UnsafeRawBufferPointer) -> TransportError? {
        guard let base = bytes.baseAddress else { return nil }
        var done = 0
        while done < bytes.count {
            let count = pwrite(descriptor, base + done, bytes.count - done, off_t(length))
            if count < 0 {
                if errno == EINTR { continue }
                return .fileIO(path: path, message: systemError(errno))
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: bytes[done..<done + count]))
            length += Int64(count)
            done += count
        }
        return nil
    }

    /// Closes the file; a failing `close` (e.g. a deferred write error on NFS) is reported.
    func close() -> TransportError? {
        guard descriptor >= 0 else { return nil }
        let result = Glibc.close(descriptor)
        descriptor = -1
        return result == 0 ? nil : .fileIO(path: path, message: systemError(errno))
    }
}

@available(*, unavailable)
extension DownloadFile: Sendable {}
