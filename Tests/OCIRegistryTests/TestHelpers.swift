import FerryHTTP
import Foundation
import FerryTestSupport
import Logging
import OCIModel

@testable import OCIRegistry

extension HTTPResponse {
    static func standardReasonForTests(_ status: Int) -> String { standardReason(status) }
}

enum ISO8601DateFormatterForTests {
    static func date(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}

/// A session over a scripted transport that retries instantly.
func makeSession(
    _ transport: ScriptedTransport, credentials: any CredentialProvider = AnonymousCredentials(), retries: Int = 5
) -> RegistrySession {
    RegistrySession(
        transport: transport, credentials: credentials,
        retry: RetryPolicy(retries: retries, baseDelay: .zero, maxDelay: .zero, maxRetryAfter: .seconds(120), jitter: false),
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
}

func endpoint(_ text: String, mirror: Bool = false) -> RegistryEndpoint {
    RegistryEndpoint(baseURL: URL(string: text)!, isMirror: mirror)
}

/// A fresh temporary directory path (created), removed by the caller's `defer`.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "ferry-test-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
