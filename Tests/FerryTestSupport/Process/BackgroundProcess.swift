import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process that runs while the test goes on: its stdout and stderr are collected line by line (wait for
/// a line with ``OutputLog/waitForLine(from:timeout:where:)``), it can be signalled, and its exit is awaited
/// without polling (a thread blocks in `waitpid` and records the status). A process still running when the
/// object goes away is killed with SIGKILL.
public final class BackgroundProcess: Sendable {
    /// The process ID.
    public let pid: pid_t
    /// What it wrote to standard output.
    public let stdout = OutputLog()
    /// What it wrote to standard error.
    public let stderr = OutputLog()
    private let exits = EventLog<ProcessExitStatus>()

    /// Starts `path` with `arguments` and exactly `environment` (nothing is inherited).
    public init(path: String, arguments: [String], environment: [String: String]) throws {
        let out = try OwnedPipe()
        let err = try OwnedPipe()
        pid = try ChildProcess.spawn(
            path: path, arguments: arguments, environment: environment, stdout: out.writeEnd, stderr: err.writeEnd,
            newSession: false)
        out.closeWriteEnd()
        err.closeWriteEnd()
        OutputLog.drain(fd: out.takeReadEnd(), into: stdout)
        OutputLog.drain(fd: err.takeReadEnd(), into: stderr)
        let pid = self.pid
        let exits = self.exits
        Thread { exits.append(ChildProcess.waitForExit(pid)) }.start()
    }

    /// Sends `signal` unless the process has already exited.
    public func send(_ signal: Int32) {
        if exits.events.isEmpty { kill(pid, signal) }
    }

    /// Waits for the process to exit and for both output pipes to close; throws after `timeout` seconds.
    public func waitForExit(timeout: Double = 60) async throws -> ProcessExitStatus {
        let status = try await exits.wait(for: "pid \(pid) to exit", timeout: timeout) { _ in true }
        // Children of the process may hold the pipes a little longer; the exit status is what matters then.
        _ = await stdout.waitForLine(timeout: 5) { _ in false }
        _ = await stderr.waitForLine(timeout: 5) { _ in false }
        return status
    }

    deinit {
        if exits.events.isEmpty { kill(pid, SIGKILL) }
    }
}

/// Finds the executables this package builds, next to the running test bundle.
public enum PackageProduct {
    /// The absolute path of the built executable `name` (e.g. `ferry`) in the build directory the tests run from.
    public static func path(of name: String) throws -> String {
        var directories: [String] = []
        // On Linux the test bundle is an executable in the build directory.
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append((executable as NSString).deletingLastPathComponent)
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            let absolute = TestFiles.absolute(first)
            directories.append((absolute as NSString).deletingLastPathComponent)
        }
        // macOS: …/debug/ferryPackageTests.xctest/Contents/MacOS/…; the products sit next to the bundle.
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            directories.append((bundle.bundlePath as NSString).deletingLastPathComponent)
        }
        directories.append((Bundle.main.bundlePath as NSString).deletingLastPathComponent)
        directories.append(Bundle.main.bundlePath)
        var searched: [String] = []
        for directory in directories where !searched.contains(directory + "/" + name) {
            let candidate = directory + "/" + name
            searched.append(candidate)
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw TestSupportError.productNotBuilt(name, searched: searched)
    }
}
