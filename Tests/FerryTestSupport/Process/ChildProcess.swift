import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A pipe whose both ends are close-on-exec, so that a child spawned concurrently by another test never inherits
/// them (an inherited write end would keep the reader from ever seeing EOF). Closes what is left open on deinit.
final class OwnedPipe {
    private(set) var readEnd: Int32
    private(set) var writeEnd: Int32

    init() throws {
        let fds = try GlibcExtensions.closeOnExecPipe()
        readEnd = fds.read
        writeEnd = fds.write
    }

    func closeWriteEnd() {
        if writeEnd >= 0 {
            close(writeEnd)
            writeEnd = -1
        }
    }

    /// Hands the read end to a new owner, which must close it.
    func takeReadEnd() -> Int32 {
        defer { readEnd = -1 }
        return readEnd
    }

    deinit {
        closeWriteEnd()
        if readEnd >= 0 { close(readEnd) }
    }
}

/// posix_spawn with the hygiene a long-running test process needs.
enum ChildProcess {
    /// glibc's `POSIX_SPAWN_SETSID`, a GNU extension the Swift importer does not always surface.
    static let spawnSetSID: Int32 = 0x80

    /// Starts `path` with stdin from /dev/null and stdout/stderr on the given descriptors; returns the PID.
    ///
    /// Every other descriptor is closed in the child, the signal mask is cleared and the usual termination signals
    /// are reset to their defaults, so the child behaves the same whatever the test runner blocked or ignored.
    /// `newSession` puts it in its own session (no controlling terminal, survives the parent's exit).
    static func spawn(
        path: String, arguments: [String], environment: [String: String], stdout: Int32, stderr: Int32,
        newSession: Bool
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Belt and braces: our own pipes are close-on-exec, but other code in the test process may leak descriptors.
        _ = GlibcExtensions.addCloseFrom(&actions, lowest: 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        if newSession { flags |= spawnSetSID }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([path] + arguments).map { strdup($0) }
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvBuffer in
            (envp + [nil]).withUnsafeBufferPointer { envBuffer in
                posix_spawn(
                    &pid, path, &actions, &attributes, UnsafeMutablePointer(mutating: argvBuffer.baseAddress!),
                    UnsafeMutablePointer(mutating: envBuffer.baseAddress!))
            }
        }
        guard result == 0 else { throw TestSupportError.spawnFailed(command: path, errno: result) }
        return pid
    }

    /// Blocks until `pid` (a child of this process) exits and reaps it.
    static func waitForExit(_ pid: pid_t) -> ProcessExitStatus {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { return ProcessExitStatus(waitStatus: status) }
            if result < 0, errno == EINTR { continue }
            // ECHILD: already reaped elsewhere; report it as a clean exit rather than hang.
            return .exited(0)
        }
    }

    /// Reaps `pid` if it has exited; nil while it is still running.
    static func exitStatusIfExited(_ pid: pid_t) -> ProcessExitStatus? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return ProcessExitStatus(waitStatus: status) }
        if result < 0, errno == ECHILD { return .exited(0) }
        return nil
    }
}
