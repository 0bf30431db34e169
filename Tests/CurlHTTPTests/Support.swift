import CurlHTTP
import FerryHTTP
import Foundation
import Logging
import OCIModel
import Synchronization
import Testing

extension Tag {
    /// Talks to a server on 127.0.0.1.
    @Tag static var loopback: Self
}

/// A logger that drops everything; transports log at debug level only.
let quietLogger = Logger(label: "ferry.test.curl") { _ in SwiftLogNoOpLogHandler() }

/// A transport with test-friendly limits; anything slower than the defaults fails fast instead of hanging.
func makeTransport(
    lowSpeedTime: Duration = .seconds(60), maxConnectionsPerHost: Int = 6, logger: Logger = quietLogger
) throws -> CurlTransport {
    try CurlTransport(
        version: "9.9.9-test", logger: logger, connectTimeout: .seconds(5), lowSpeedLimit: 1024,
        lowSpeedTime: lowSpeedTime, maxConnectionsPerHost: maxConnectionsPerHost)
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
func testBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        out[index] = UInt8(truncatingIfNeeded: state)
    }
    return out
}

/// A directory under the system temp dir, removed with its contents on deinit.
final class ScratchDirectory: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// The path of `name` inside the directory.
    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `bytes` to `name` and returns its path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// The contents of `name`.
    func read(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: file(name))))
    }
}

struct ConditionTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds; for states only observable from outside (bytes received, sockets closed).
func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw ConditionTimeout(what: what) }
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// The SHA-256 digest of `bytes`.
func sha256(_ bytes: some Collection<UInt8>) -> Digest { Digest.sha256(of: Array(bytes)) }

/// A hasher that has consumed `bytes`.
func hasher(over bytes: some Collection<UInt8>) -> DigestHasher {
    var hasher = DigestHasher()
    hasher.update(Array(bytes))
    return hasher
}

/// Collects log records so tests can check what a transport logs.
final class CapturingLogHandler: LogHandler, Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let storage = Mutex<[Record]>([])

    var records: [Record] { storage.withLock { $0 } }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let flat = (event.metadata ?? [:]).mapValues { "\($0)" }
        storage.withLock { $0.append(Record(level: event.level, message: "\(event.message)", metadata: flat)) }
    }
}
