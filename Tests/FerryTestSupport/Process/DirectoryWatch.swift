import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Waits for files to change without polling: inotify on a directory wakes the waiter whenever a file in it is
/// created, written, closed or renamed into it, and the condition is checked again then.
public enum DirectoryWatch {
    private typealias InotifyInit1 = @convention(c) (Int32) -> Int32
    private typealias InotifyAddWatch = @convention(c) (Int32, UnsafePointer<CChar>, UInt32) -> Int32

    // <sys/inotify.h>
    private static let inModify: UInt32 = 0x0000_0002
    private static let inCloseWrite: UInt32 = 0x0000_0008
    private static let inMovedTo: UInt32 = 0x0000_0080
    private static let inCreate: UInt32 = 0x0000_0100

    /// Returns once `condition` holds, checking it now and after every change in `directory` (which must exist);
    /// throws ``TestSupportError/timedOut(what:seconds:)`` after `timeout` seconds.
    public static func wait(
        in directory: String, for what: String, timeout: Double = 30, until condition: @escaping @Sendable () -> Bool
    ) async throws {
        try await onDedicatedThread {
            try waitBlocking(in: directory, for: what, timeout: timeout, until: condition)
        }
    }

    static func waitBlocking(
        in directory: String, for what: String, timeout: Double, until condition: () -> Bool
    ) throws {
        guard let initRaw = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "inotify_init1"),
            let addRaw = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "inotify_add_watch")
        else { throw TestSupportError.invalidArgument("inotify is not available") }
        let inotifyInit = unsafeBitCast(initRaw, to: InotifyInit1.self)
        let addWatch = unsafeBitCast(addRaw, to: InotifyAddWatch.self)
        let fd = inotifyInit(O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw TestSupportError.spawnFailed(command: "inotify_init1", errno: errno) }
        defer { close(fd) }
        guard addWatch(fd, directory, inModify | inCloseWrite | inMovedTo | inCreate) >= 0 else {
            throw TestSupportError.fileIO(path: directory, message: "inotify_add_watch: \(String(cString: strerror(errno)))")
        }
        let deadline = GlibcExtensions.monotonicMilliseconds() + timeout * 1000
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if condition() { return }
            let remaining = deadline - GlibcExtensions.monotonicMilliseconds()
            guard remaining > 0 else { throw TestSupportError.timedOut(what: "waiting for \(what)", seconds: timeout) }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining, Double(Int32.max))))
            if ready < 0, errno != EINTR {
                throw TestSupportError.spawnFailed(command: "poll(inotify)", errno: errno)
            }
            // Drain the events; which file changed does not matter, the condition says what is awaited.
            while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
        }
    }
}
