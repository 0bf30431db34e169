#if canImport(Glibc)
    import Glibc
#endif

/// GNU extensions of glibc that the Swift importer hides (they sit behind `_GNU_SOURCE`), looked up at run time
/// so that the package needs no C shim target. Each is optional: callers fall back when a symbol is missing.
enum GlibcExtensions {
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        // RTLD_DEFAULT is the null handle in glibc.
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+); returns false when unavailable.
    static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, lowest: Int32) -> Bool {
        guard let raw = symbol("posix_spawn_file_actions_addclosefrom_np") else { return false }
        let function = unsafeBitCast(raw, to: AddCloseFrom.self)
        return function(&actions, lowest) == 0
    }

    /// A pipe with both ends close-on-exec: atomically through `pipe2` when present, else `pipe` + `fcntl`.
    static func closeOnExecPipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if let raw = symbol("pipe2") {
            let function = unsafeBitCast(raw, to: Pipe2.self)
            guard function(&fds, O_CLOEXEC) == 0 else {
                throw TestSupportError.spawnFailed(command: "pipe2", errno: errno)
            }
        } else {
            guard pipe(&fds) == 0 else { throw TestSupportError.spawnFailed(command: "pipe", errno: errno) }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        }
        return (fds[0], fds[1])
    }

    /// `pidfd_open` (glibc 2.36+, Linux 5.3+): a descriptor that polls readable once `pid` has exited.
    /// Works for processes that are not our children, which `waitpid` cannot wait for.
    static func pidfdOpen(_ pid: pid_t) -> Int32? {
        guard let raw = symbol("pidfd_open") else { return nil }
        let function = unsafeBitCast(raw, to: PidfdOpen.self)
        let fd = function(pid, 0)
        return fd >= 0 ? fd : nil
    }

    /// Waits until `pid` exits or `timeout` seconds pass; true when it exited. Event-driven through a pidfd.
    /// Nil when pidfds are unavailable or `pid` is already gone (ESRCH), so the caller decides.
    static func waitForExit(of pid: pid_t, timeout: Double) -> Bool? {
        guard let fd = pidfdOpen(pid) else { return nil }
        defer { close(fd) }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = timeout * 1000
        var waited = 0.0
        while true {
            let start = monotonicMilliseconds()
            let result = poll(&entry, 1, Int32(max(0, deadline - waited)))
            if result > 0 { return true }
            if result == 0 { return false }
            if errno != EINTR { return nil }
            waited += monotonicMilliseconds() - start
        }
    }

    static func monotonicMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) / 1_000_000
    }
}
