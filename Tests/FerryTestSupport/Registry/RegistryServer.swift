import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real `docker-registry` (CNCF distribution 2.8) on 127.0.0.1, owned by the test that started it.
///
/// It runs from a config written into its own temporary directory, with its output (stderr log and stdout access
/// log) on a pipe drained by a background thread into ``output``. ``start(_:)`` returns once the registry logged
/// "listening on"; ``stop()`` (also run on deinit) sends SIGTERM and reaps the process.
public final class RegistryServer: Sendable {
    /// How to reach the registry.
    public let endpoint: RegistryServerEndpoint
    /// The registry's process ID.
    public let pid: pid_t
    /// Everything the registry printed so far.
    public let output: OutputLog
    /// The config file the registry runs from.
    public let configPath: String
    /// The directory holding config, certificates and (unless overridden) storage; removed after ``stop()``.
    public let directory: TemporaryDirectory
    private let exitStatus = Mutex<ProcessExitStatus?>(nil)

    /// `http(s)://127.0.0.1:PORT`.
    public var baseURL: String { endpoint.baseURL }
    /// `127.0.0.1:PORT`.
    public var host: String { endpoint.host }
    /// The TCP port.
    public var port: Int { endpoint.port }

    private init(
        endpoint: RegistryServerEndpoint, pid: pid_t, output: OutputLog, configPath: String,
        directory: TemporaryDirectory
    ) {
        self.endpoint = endpoint
        self.pid = pid
        self.output = output
        self.configPath = configPath
        self.directory = directory
    }

    /// Starts a registry and waits until it listens. Retries on another port when the one picked was taken.
    public static func start(_ options: RegistryServerOptions = RegistryServerOptions()) async throws -> RegistryServer
    {
        let directory = try TemporaryDirectory(prefix: "ferry-registry")
        let configuration = try await RegistryConfiguration.prepare(in: directory.path, options: options)
        let executable = try ProcessRunner.requireTool("docker-registry")
        var lastFailure = TestSupportError.registryStartFailed(reason: "no attempt made", log: "")
        for _ in 0..<5 {
            let port = try RegistryConfiguration.freePort()
            try configuration.write(port: port)
            let pipe = try OwnedPipe()
            let pid = try ChildProcess.spawn(
                path: executable, arguments: ["serve", configuration.configPath],
                environment: RegistryConfiguration.environment, stdout: pipe.writeEnd, stderr: pipe.writeEnd,
                newSession: false)
            pipe.closeWriteEnd()
            let output = OutputLog()
            OutputLog.drain(fd: pipe.takeReadEnd(), into: output)
            let server = RegistryServer(
                endpoint: configuration.endpoint(port: port), pid: pid, output: output,
                configPath: configuration.configPath, directory: directory)
            let result = await output.waitForLine(timeout: options.startTimeout) { line in
                RegistryConfiguration.isReadyLine(line) || RegistryConfiguration.isFatalLine(line)
            }
            switch result {
            case .line(let line, _) where RegistryConfiguration.isReadyLine(line):
                return server
            case .line, .closed:
                let status = server.stop()
                lastFailure = .registryStartFailed(reason: "it exited (\(status))", log: output.text)
                if !RegistryConfiguration.isPortInUse(output.text) { throw lastFailure }
            case .timedOut:
                server.stop()
                throw TestSupportError.registryStartFailed(
                    reason: "no \"listening on\" line within \(options.startTimeout) s", log: output.text)
            }
        }
        throw lastFailure
    }

    /// True until the process has been stopped and reaped.
    public var isRunning: Bool { exitStatus.withLock { $0 == nil } }

    /// Sends SIGTERM and waits for the process to exit (SIGKILL after 10 s); returns how it ended.
    /// Later calls return the same status without signalling anything.
    @discardableResult
    public func stop() -> ProcessExitStatus {
        exitStatus.withLock { status in
            if let status { return status }
            let ended = Self.terminate(child: pid)
            status = ended
            return ended
        }
    }

    /// Signals and reaps a child: SIGTERM, an event-driven wait of up to `grace` seconds, then SIGKILL.
    static func terminate(child pid: pid_t, grace: Double = 10) -> ProcessExitStatus {
        kill(pid, SIGTERM)
        if GlibcExtensions.waitForExit(of: pid, timeout: grace) == false {
            kill(pid, SIGKILL)
        }
        return ChildProcess.waitForExit(pid)
    }

    deinit { stop() }

    /// The access-log entries so far, oldest first.
    public func accessLog() -> [AccessLogEntry] { output.lines().compactMap(AccessLogEntry.init(line:)) }

    /// How many requests with `method` to `path` (query string ignored) were logged so far.
    public func requestCount(method: String, path: String) -> Int {
        accessLog().count { $0.method == method && $0.path == path }
    }

    /// Waits for an access-log entry that satisfies `predicate`, for counting requests without racing the log:
    /// the registry writes the entry after it sent the response, so the client may see the response first.
    public func waitForRequest(
        timeout: Double = 10, where predicate: @escaping @Sendable (AccessLogEntry) -> Bool
    ) async throws -> AccessLogEntry {
        let result = await output.waitForLine(timeout: timeout) { line in
            AccessLogEntry(line: line).map(predicate) ?? false
        }
        switch result {
        case .line(let line, _):
            if let entry = AccessLogEntry(line: line) { return entry }
            throw TestSupportError.invalidArgument("unparsable access-log line: \(line)")
        case .closed:
            throw TestSupportError.registryStartFailed(
                reason: "registry exited while waiting for a request", log: output.text)
        case .timedOut:
            throw TestSupportError.timedOut(what: "waiting for a matching access-log entry", seconds: timeout)
        }
    }
}

/// One line of the registry's combined-format access log.
public struct AccessLogEntry: Sendable, Hashable {
    /// The request method.
    public var method: String
    /// The request path, without the query string.
    public var path: String
    /// The request target as sent, query string included.
    public var uri: String
    /// The response status.
    public var status: Int

    /// Parses `127.0.0.1 - user [date] "GET /v2/ HTTP/1.1" 200 2 "referer" "agent"`; nil for other lines.
    public init?(line: String) {
        guard let open = line.firstIndex(of: "\""), line[..<open].contains("["),
            let close = line[line.index(after: open)...].firstIndex(of: "\"")
        else { return nil }
        let request = line[line.index(after: open)..<close].split(separator: " ")
        let after = line[line.index(after: close)...].split(separator: " ")
        guard request.count == 3, request[2].hasPrefix("HTTP/"), let first = after.first, let status = Int(first)
        else { return nil }
        method = String(request[0])
        uri = String(request[1])
        path = String(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        self.status = status
    }
}
