import FerryHTTP
import FerrySystem
import Glibc

/// Feeds a request body to curl's read callback, from memory or straight from a file range.
///
/// File bodies are read with `pread` one curl buffer at a time, so a multi-hundred-MB blob upload never sits
/// in memory. Used only on the loop thread.
final class RequestBodySource {
    private enum Storage {
        case bytes([UInt8])
        case file(descriptor: Int32, path: String, offset: Int64)
    }

    private let storage: Storage
    /// The number of bytes the body sends (the `Content-Length`).
    let length: Int64
    private var position: Int64 = 0
    /// Why the last read failed, reported instead of curl's generic read error.
    private(set) var failure: TransportError?

    init(_ body: RequestBody) throws(TransportError) {
        length = body.length
        switch body {
        case .empty:
            storage = .bytes([])
        case .bytes(let bytes):
            storage = .bytes(bytes)
        case .file(let path, let offset, let length):
            guard offset >= 0, length >= 0 else {
                throw .fileIO(path: path, message: "invalid body range \(offset)+\(length)")
            }
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw fileError(path, errno) }
            storage = .file(descriptor: descriptor, path: path, offset: offset)
        }
    }

    deinit {
        if case .file(let descriptor, _, _) = storage { close(descriptor) }
    }

    /// Copies the next bytes into `buffer`; returns 0 at the end of the body and `nil` on a local I/O failure.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let wanted = Int(min(Int64(buffer.count), length - position))
        guard wanted > 0, let base = buffer.baseAddress else { return 0 }
        switch storage {
        case .bytes(let bytes):
            bytes.withUnsafeBytes { source in
                let start = Int(position)
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + wanted]))
            }
            position += Int64(wanted)
            return wanted
        case .file(let descriptor, let path, let offset):
            while true {
                let count = pread(descriptor, base, wanted, off_t(offset + position))
                if count > 0 {
                    position += Int64(count)
                    return count
                }
                if count < 0, errno == EINTR { continue }
                failure =
                    count == 0
                    ? .fileIO(path: path, message: "file ended after \(position) of \(length) body bytes")
                    : fileError(path, errno)
                return nil
            }
        }
    }

    /// Moves to `offset` from the body's start; curl rewinds when it resends on a fresh connection.
    func seek(to offset: Int64) -> Bool {
        guard offset >= 0, offset <= length else { return false }
        position = offset
        return true
    }
}

@available(*, unavailable)
extension RequestBodySource: Sendable {}

/// `strerror` text for `code`.
/// A local file failure with its typed cause.
func fileError(_ path: String, _ code: Int32) -> TransportError {
    .fileIO(path: path, message: systemError(code), cause: SystemErrno(code))
}

func systemError(_ code: Int32) -> String {
    String(cString: strerror(code))
}
