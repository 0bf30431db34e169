import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive `flock(2)` on a store's lock file. The kernel releases it when the process dies, so a crashed
/// or killed run never leaves a stale lock behind (unlike a create-exclusive lock file).
public final class RunLock: Sendable {
    /// Who holds a lock, as written into the lock file by the holder.
    public struct Holder: Sendable, Hashable, CustomStringConvertible {
        /// The holder's process ID.
        public var pid: Int32
        /// When the holder took the lock (ISO 8601), as it wrote it.
        public var startedAt: String
        /// The holder's command, e.g. `sync`.
        public var command: String

        /// `PID 123 (sync, started 2026-11-29T10:30:00Z)`.
        public var description: String { "PID \(pid) (\(command), started \(startedAt))" }
    }

    /// Why the lock could not be taken.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// Another process holds it.
        case held(path: String, holder: Holder?)
        /// The lock file could not be opened or locked.
        case system(FileSystemError)

        /// One line naming the holder.
        public var description: String {
            switch self {
            case .held(let path, let holder?): "store is locked by \(holder): \(path)"
            case .held(let path, nil): "store is locked by another ferry process: \(path)"
            case .system(let error): "cannot lock store: \(error)"
            }
        }
    }

    private let fd: Atomic<Int32>
    /// The lock file's path.
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = Atomic(fd)
        self.path = path
    }

    deinit { release() }

    /// Takes the lock without waiting and records this process as holder.
    public static func acquire(at path: String, command: String, now: Date = Date()) throws(Failure) -> RunLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(.errno("open", path)) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = readHolder(fd: fd)
            close(fd)
            if code == EWOULDBLOCK { throw .held(path: path, holder: holder) }
            throw .system(.errno("flock", path, code))
        }
        let stamp = ISO8601DateFormatter().string(from: now)
        let text = "pid=\(getpid())\nstarted=\(stamp)\ncommand=\(command)\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return RunLock(fd: fd, path: path)
    }

    private static func readHolder(fd: Int32) -> Holder? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        var fields: [String: String] = [:]
        for line in String(decoding: buffer[0..<count], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }) else { return nil }
        return Holder(pid: pid, startedAt: fields["started"] ?? "?", command: fields["command"] ?? "?")
    }

    /// Releases the lock. The holder text is left in place; it is only read while the lock is held.
    public func release() {
        let descriptor = fd.exchange(-1, ordering: .acquiringAndReleasing)
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
