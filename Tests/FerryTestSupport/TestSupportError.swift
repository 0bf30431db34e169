import OCIModel

/// Why a test-support helper failed; every text names the command, file or registry involved.
public enum TestSupportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A required executable is not on `PATH`.
    case toolNotFound(String)
    /// `posix_spawn` or a pipe/file set-up for it failed.
    case spawnFailed(command: String, errno: Int32)
    /// A command exited with a failure status.
    case commandFailed(command: String, status: ProcessExitStatus, stderr: String)
    /// A command or wait ran past its deadline.
    case timedOut(what: String, seconds: Double)
    /// A file or directory operation failed.
    case fileIO(path: String, message: String)
    /// The registry did not come up; `log` is the tail of its output.
    case registryStartFailed(reason: String, log: String)
    /// A pushed manifest came back from the registry with different bytes.
    case digestNotPreserved(reference: String, expected: Digest, actual: Digest)
    /// A registry answered an HTTP request with an unexpected status.
    case unexpectedHTTPStatus(method: String, url: String, status: Int, body: String)
    /// curl could not complete an HTTP exchange (connection, TLS).
    case httpFailed(url: String, curlExitCode: Int32, message: String)
    /// An argument to a helper was out of range or malformed.
    case invalidArgument(String)
    /// A product of this package was not built where the tests look for it.
    case productNotBuilt(String, searched: [String])

    /// A one-line message.
    public var description: String {
        switch self {
        case .toolNotFound(let tool):
            "\(tool) not found: run `make test`, which installs it"
        case .spawnFailed(let command, let errno):
            "cannot start \(command): \(String(cString: strerror(errno)))"
        case .commandFailed(let command, let status, let stderr):
            "\(command) failed (\(status)): \(Self.tail(stderr))"
        case .timedOut(let what, let seconds):
            "\(what) did not finish within \(seconds) s"
        case .fileIO(let path, let message):
            "\(path): \(message)"
        case .registryStartFailed(let reason, let log):
            "docker-registry did not start: \(reason); last output:\n\(Self.tail(log, lines: 12))"
        case .digestNotPreserved(let reference, let expected, let actual):
            "\(reference): registry serves manifest \(actual), expected \(expected) (digest not preserved)"
        case .unexpectedHTTPStatus(let method, let url, let status, let body):
            "\(method) \(url): HTTP \(status): \(Self.tail(body))"
        case .httpFailed(let url, let code, let message):
            "curl \(url) failed with exit code \(code): \(Self.tail(message))"
        case .invalidArgument(let message):
            message
        case .productNotBuilt(let name, let searched):
            "\(name) binary not found next to the test bundle (looked at \(searched.joined(separator: ", "))): "
                + "build it with `swift build --build-tests` (or `make test`) before running the integration tests"
        }
    }

    static func tail(_ text: String, lines: Int = 4) -> String {
        let kept = text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines)
        return kept.joined(separator: "\n")
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
