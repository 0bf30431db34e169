import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A registry started in its own session that outlives the process that started it (for `ferry-devtool` and
/// scripts). Its output goes to `registry.log` in its directory; stop it with ``terminate(pid:timeout:)``.
public struct DetachedRegistry: Sendable {
    /// How to reach the registry.
    public var endpoint: RegistryServerEndpoint
    /// The registry's process ID.
    public var pid: pid_t
    /// The file receiving its log and access log.
    public var logPath: String
    /// Its config file.
    public var configPath: String

    /// Starts a registry with config, certificates and storage under `directory` and waits for "listening on".
    ///
    /// Readiness is read from the log file as it grows: an inotify watch on the file and a pidfd on the process
    /// wake the wait, so it reacts to the line or to an early exit without polling on a timer.
    public static func launch(in directory: String, options: RegistryServerOptions = RegistryServerOptions())
        async throws
        -> DetachedRegistry
    {
        let directory = TestFiles.absolute(directory)
        try TestFiles.makeDirectory(directory)
        let configuration = try await RegistryConfiguration.prepare(in: directory, options: options)
        let executable = try ProcessRunner.requireTool("docker-registry")
        let logPath = directory + "/registry.log"
        var lastFailure = TestSupportError.registryStartFailed(reason: "no attempt made", log: "")
        for _ in 0..<5 {
            let port = try RegistryConfiguration.freePort()
            try configuration.write(port: port)
            let logFD = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
            guard logFD >= 0 else {
                throw TestSupportError.fileIO(path: logPath, message: String(cString: strerror(errno)))
            }
            let pid: pid_t
            do {
                pid = try ChildProcess.spawn(
                    path: executable, arguments: ["serve", configuration.configPath],
                    environment: RegistryConfiguration.environment, stdout: logFD, stderr: logFD, newSession: true)
            } catch {
                close(logFD)
                throw error
            }
            close(logFD)
            let timeout = options.startTimeout
            let outcome = try await onDedicatedThread {
                try LogFileWatch.waitForReadiness(
                    logPath: logPath, pid: pid, timeout: timeout, port: options.quietLog ? port : nil)
            }
            switch outcome {
            case .ready:
                return DetachedRegistry(
                    endpoint: configuration.endpoint(port: port), pid: pid, logPath: logPath,
                    configPath: configuration.configPath)
            case .failed(let log, let reaped):
                let status = reaped ?? RegistryServer.terminate(child: pid)
                lastFailure = .registryStartFailed(reason: "it exited (\(status))", log: log)
                if !RegistryConfiguration.isPortInUse(log) { throw lastFailure }
            case .timedOut(let log):
                _ = RegistryServer.terminate(child: pid)
                throw TestSupportError.registryStartFailed(
                    reason: "no \"listening on\" line within \(timeout) s", log: log)
            }
        }
        throw lastFailure
    }

    /// True when `pid` is a live `docker-registry` process. A zombie (exited, not yet reaped by its parent) has an
    /// empty command line and counts as stopped; so does an unrelated process that reused the PID.
    public static func isRunning(pid: pid_t) -> Bool {
        guard pid > 0, let commandLine = try? TestFiles.read("/proc/\(pid)/cmdline") else { return false }
        return String(decoding: commandLine, as: UTF8.self).contains("docker-registry")
    }

    /// Stops a registry started by another process (or by this one): sends SIGTERM, waits up to `timeout` seconds
    /// for it to exit, then SIGKILL. Returns false when no such registry was running.
    @discardableResult
    public static func terminate(pid: pid_t, timeout: Double = 10) throws -> Bool {
        guard isRunning(pid: pid), kill(pid, SIGTERM) == 0 else { return false }
        switch GlibcExtensions.waitForExit(of: pid, timeout: timeout) {
        case true?:
            break
        case false?:
            kill(pid, SIGKILL)
            _ = GlibcExtensions.waitForExit(of: pid, timeout: timeout)
        case nil:
            // No pidfd (old kernel or glibc), or the process vanished between the checks; without a way to wait
            // for a non-child, make sure it is at least gone.
            if isRunning(pid: pid) { kill(pid, SIGKILL) }
        }
        // When this process started the registry it is our child: reap it so that no zombie is left. For anybody
        // else's child this fails with ECHILD and does nothing.
        var status: Int32 = 0
        _ = waitpid(pid, &status, WNOHANG)
        return true
    }
}

/// Follows a log file that another process appends to.
enum LogFileWatch {
    enum Outcome {
        case ready
        case failed(log: String, status: ProcessExitStatus?)
        case timedOut(log: String)
    }

    /// Blocks until the registry logs its ready line, logs a fatal line or exits, or `timeout` passes.
    /// Waits for the "listening on" line, or, with `port` (a registry logging warnings only), for the port to accept
    /// a connection, checked whenever the log changes and at least every 20 ms.
    static func waitForReadiness(logPath: String, pid: pid_t, timeout: Double, port: Int? = nil) throws -> Outcome {
        let watch = inotify_init1(Int32(IN_CLOEXEC))
        guard watch >= 0 else { throw TestSupportError.spawnFailed(command: "inotify_init1", errno: errno) }
        defer { close(watch) }
        guard inotify_add_watch(watch, logPath, UInt32(IN_MODIFY)) >= 0 else {
            throw TestSupportError.fileIO(
                path: logPath, message: "inotify_add_watch: \(String(cString: strerror(errno)))")
        }
        let processFD = GlibcExtensions.pidfdOpen(pid) ?? -1
        defer { if processFD >= 0 { close(processFD) } }
        let start = GlibcExtensions.monotonicMilliseconds()
        var eventBuffer = [UInt8](repeating: 0, count: 4096)
        while true {
            // Check the file first: the line may have been written before the watch existed.
            let log = (try? TestFiles.readText(logPath)) ?? ""
            let lines = log.split(separator: "\n").map(String.init)
            if lines.contains(where: RegistryConfiguration.isReadyLine) { return .ready }
            if let port, Self.accepts(port: port) { return .ready }
            if lines.contains(where: RegistryConfiguration.isFatalLine) { return .failed(log: log, status: nil) }
            if let status = ChildProcess.exitStatusIfExited(pid) { return .failed(log: log, status: status) }
            let remaining = timeout * 1000 - (GlibcExtensions.monotonicMilliseconds() - start)
            if remaining <= 0 { return .timedOut(log: log) }
            var fds = [pollfd(fd: watch, events: Int16(POLLIN), revents: 0)]
            if processFD >= 0 { fds.append(pollfd(fd: processFD, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(port == nil ? remaining : min(remaining, 20)))
            if ready < 0, errno != EINTR {
                throw TestSupportError.spawnFailed(command: "poll", errno: errno)
            }
            if fds[0].revents != 0 {
                _ = eventBuffer.withUnsafeMutableBytes { read(watch, $0.baseAddress, $0.count) }
            }
        }
    }

    /// True when 127.0.0.1:`port` accepts a TCP connection.
    static func accepts(port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
