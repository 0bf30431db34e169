import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a child process ended.
public enum ProcessExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called `exit` with this code.
    case exited(Int32)
    /// It was killed by this signal.
    case signaled(Int32)

    /// True for `exit(0)`.
    public var isSuccess: Bool { self == .exited(0) }

    /// `exit status N` or `killed by signal N`.
    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }

    /// Decodes a `waitpid` status word; the W* macros are not importable into Swift.
    init(waitStatus: Int32) {
        let signal = waitStatus & 0x7F
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xFF) : .signaled(signal)
    }
}

/// The outcome of ``ProcessRunner/run(_:_:environment:timeout:)``.
public struct ProcessResult: Sendable {
    /// The command line, for messages.
    public var command: String
    /// How the process ended.
    public var status: ProcessExitStatus
    /// Everything written to standard output.
    public var stdout: [UInt8]
    /// Everything written to standard error.
    public var stderr: [UInt8]

    /// Standard output decoded as UTF-8.
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error decoded as UTF-8.
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// Returns `self` when the process exited 0, else throws ``TestSupportError/commandFailed(command:status:stderr:)``.
    @discardableResult
    public func checked() throws -> ProcessResult {
        guard status.isSuccess else {
            throw TestSupportError.commandFailed(
                command: command, status: status, stderr: stderrText.isEmpty ? stdoutText : stderrText)
        }
        return self
    }
}

/// Runs executables directly (no shell), capturing their output.
public enum ProcessRunner {
    /// The absolute path of `name` on `PATH` (or `name` itself when it contains a slash and is executable).
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    /// The path of `name`, or ``TestSupportError/toolNotFound(_:)`` saying how to install it.
    public static func requireTool(_ name: String) throws -> String {
        guard let path = which(name) else { throw TestSupportError.toolNotFound(name) }
        return path
    }

    /// Runs `executable` (a name looked up on `PATH`, or a path) with `arguments`, waits for it and returns its
    /// output. `environment` entries are added to (or replace) the inherited environment. A process still
    /// running after `timeout` seconds is killed with SIGKILL and reported as ``TestSupportError/timedOut(what:seconds:)``.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 120
    ) async throws -> ProcessResult {
        let path = try requireTool(executable)
        let command = ([executable] + arguments).joined(separator: " ")
        let env = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        return try await onDedicatedThread {
            try runBlocking(path: path, command: command, arguments: arguments, environment: env, timeout: timeout)
        }
    }

    /// Like ``run(_:_:environment:timeout:)`` but throws ``TestSupportError/commandFailed(command:status:stderr:)``
    /// unless the process exited 0.
    @discardableResult
    public static func runChecked(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 120
    ) async throws -> ProcessResult {
        try await run(executable, arguments, environment: environment, timeout: timeout).checked()
    }

    /// Spawns, drains both pipes with `poll` until EOF, then reaps the child.
    static func runBlocking(
        path: String, command: String, arguments: [String], environment: [String: String], timeout: Double
    ) throws -> ProcessResult {
        let out = try OwnedPipe()
        let err = try OwnedPipe()
        let pid = try ChildProcess.spawn(
            path: path, arguments: arguments, environment: environment, stdout: out.writeEnd,
            stderr: err.writeEnd, newSession: false)
        out.closeWriteEnd()
        err.closeWriteEnd()
        var stdoutBytes: [UInt8] = []
        var stderrBytes: [UInt8] = []
        var openFDs: [Int32] = [out.readEnd, err.readEnd]
        let deadline = Date().addingTimeInterval(timeout)
        var killed = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !openFDs.isEmpty {
            var fds = openFDs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let remaining = killed ? 1000 : Int32(max(0, min(Double(Int32.max), deadline.timeIntervalSinceNow * 1000)))
            let ready = poll(&fds, nfds_t(fds.count), remaining)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                // Past the deadline: SIGKILL closes the child's pipe ends, so the loop still ends on EOF.
                if !killed {
                    kill(pid, SIGKILL)
                    killed = true
                    continue
                }
                break
            }
            var closed: [Int32] = []
            for entry in fds where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if entry.fd == out.readEnd {
                        stdoutBytes.append(contentsOf: buffer[0..<count])
                    } else {
                        stderrBytes.append(contentsOf: buffer[0..<count])
                    }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    closed.append(entry.fd)
                }
            }
            openFDs.removeAll { closed.contains($0) }
        }
        let status = ChildProcess.waitForExit(pid)
        if killed { throw TestSupportError.timedOut(what: command, seconds: timeout) }
        return ProcessResult(command: command, status: status, stdout: stdoutBytes, stderr: stderrBytes)
    }
}

/// Runs blocking work on its own thread so that it never occupies Swift's small cooperative pool.
func onDedicatedThread<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.start()
    }
}
