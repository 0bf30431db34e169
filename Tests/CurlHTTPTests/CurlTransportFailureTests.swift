import CurlHTTP
import FerryHTTP
import FerrySystem
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@Suite(.tags(.loopback)) struct CurlTransportFailureTests {
    @Test(arguments: [false, true])
    func bodyOverTheLimitFailsWithBodyTooLarge(chunked: Bool) async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(body: .bytes(testBytes(5000)), chunked: chunked) }
        defer { server.stop() }
        let transport = try makeTransport()

        await #expect(throws: TransportError.bodyTooLarge(limit: 1000)) {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/big")), maxBodyBytes: 1000)
        }
        #expect(transport.openHandleCount == 0)
    }

    @Test func bodyExactlyAtTheLimitIsFine() async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(body: .bytes(testBytes(1000)), chunked: true) }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(HTTPRequest(method: .get, url: server.url("/")), maxBodyBytes: 1000)

        #expect(response.body.count == 1000)
    }

    @Test func cancellingAStalledDownloadResumesPromptlyWithWhatWasWritten() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(100_000)
        let server = try TestHTTPServer { _ in .failing(.stallAfter(bodyBytes: 1000), body: .bytes(blob)) }
        defer { server.stop() }
        let transport = try makeTransport()
        let progress = TransferProgress()
        let destination = scratch.file("blob")

        let task = Task {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/slow")), destination: destination,
                    progress: progress))
        }
        try await waitUntil("the first 1000 bytes") { progress.bytes == 1000 }
        let cancelledAt = ContinuousClock.now
        task.cancel()
        let result = await task.result

        // The low-speed limit is 60 s here, so only cancellation can end the transfer this soon (with room for a
        // machine loaded by the parallel suite and other builds).
        #expect(ContinuousClock.now - cancelledAt < .seconds(30))
        guard case .failure(let failure) = result, let error = failure as? DownloadError else {
            Issue.record("expected DownloadError, got \(result)")
            return
        }
        #expect(error.error == .cancelled)
        #expect(error.fileLength == 1000)
        #expect(error.hasher.finalize() == sha256(blob[..<1000]))
        #expect(error.response?.status == 200)
        #expect(try scratch.read("blob") == Array(blob[..<1000]))
        #expect(transport.activeTransferCount == 0)
        #expect(transport.openHandleCount == 0)
        // curl closed the half-read connection rather than pooling it.
        try await waitUntil("the server to see the connection close") { server.openConnections == 0 }
    }

    @Test func cancellingAStalledSendResumesWithCancelled() async throws {
        let server = try TestHTTPServer { _ in .failing(.stallWithoutResponse) }
        defer { server.stop() }
        let transport = try makeTransport()

        let task = Task { try await transport.send(HTTPRequest(method: .get, url: server.url("/")), maxBodyBytes: 16) }
        try await waitUntil("the request to arrive") { server.requests.count == 1 }
        task.cancel()
        let result = await task.result

        guard case .failure(let error) = result else {
            Issue.record("expected failure, got \(result)")
            return
        }
        #expect(error as? TransportError == .cancelled)
        #expect(transport.activeTransferCount == 0)
        #expect(transport.openHandleCount == 0)
    }

    @Test func aTaskCancelledBeforeTheCallNeverReachesTheServer() async throws {
        let server = try TestHTTPServer { _ in .text("unexpected") }
        defer { server.stop() }
        let transport = try makeTransport()

        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await transport.send(HTTPRequest(method: .get, url: server.url("/")), maxBodyBytes: 16)
        }
        let result = await task.result

        guard case .failure(let error) = result else {
            Issue.record("expected failure, got \(result)")
            return
        }
        #expect(error as? TransportError == .cancelled)
        #expect(server.requests.isEmpty)
    }

    @Test func refusedConnectionIsConnect() async throws {
        let server = try TestHTTPServer { _ in .text("gone") }
        let port = server.port
        server.stop()
        let transport = try makeTransport()

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/v2/")), maxBodyBytes: 16)
        }
        guard case .connect(let host, let message, let cause) = try #require(failure) else {
            Issue.record("expected .connect, got \(String(describing: failure))")
            return
        }
        #expect(host == "127.0.0.1:\(port)")
        // The typed cause decides (a refusing mirror is skipped at once); the text is only for people.
        #expect(cause == SystemErrno(ECONNREFUSED))
        #expect(try #require(failure).isConnectionRefused)
        // Go's text, the same every time (curl's own names the milliseconds the attempt took).
        #expect(message == "connect: connection refused")
        #expect(try #require(failure).description == "dial tcp 127.0.0.1:\(port): connect: connection refused")
    }

    @Test func unresolvableHostIsResolveAndNeverShowsCredentials() async throws {
        let transport = try makeTransport()
        let url = try #require(URL(string: "http://user:s3cr3t@ferry-test.invalid/v2/?token=qu3ry"))

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: url), maxBodyBytes: 16)
        }
        let error = try #require(failure)
        guard case .resolve(let host, _) = error else {
            Issue.record("expected .resolve, got \(error)")
            return
        }
        #expect(host == "ferry-test.invalid")
        #expect(!"\(error)".contains("s3cr3t"))
        #expect(!"\(error)".contains("qu3ry"))
    }

    @Test func stalledBodyHitsTheLowSpeedLimit() async throws {
        let scratch = try ScratchDirectory()
        let server = try TestHTTPServer { _ in .failing(.stallAfter(bodyBytes: 10), body: .bytes(testBytes(10_000))) }
        defer { server.stop() }
        let transport = try makeTransport(lowSpeedTime: .seconds(1))

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/")), destination: scratch.file("b")))
        }
        let error = try #require(failure)
        guard case .timeout = error.error else {
            Issue.record("expected .timeout, got \(error.error)")
            return
        }
        #expect(error.fileLength == 10)
    }

    @Test func requestTimeoutBoundsTheWholeExchange() async throws {
        let server = try TestHTTPServer { _ in .failing(.stallWithoutResponse) }
        defer { server.stop() }
        let transport = try makeTransport()
        let started = ContinuousClock.now

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(
                HTTPRequest(method: .get, url: server.url("/"), timeout: .milliseconds(300)), maxBodyBytes: 16)
        }

        guard case .timeout = try #require(failure) else {
            Issue.record("expected .timeout, got \(String(describing: failure))")
            return
        }
        // A low-speed abort would also be a timeout, after 60 s: well under that, it was the request's own 300 ms
        // (the margin is for a machine loaded by the parallel suite and other builds; 5 s was seen to be exceeded).
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func connectionResetMidBodyIsInterrupted() async throws {
        let server = try TestHTTPServer { _ in .failing(.resetAfter(bodyBytes: 100), body: .bytes(testBytes(10_000))) }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/")), maxBodyBytes: 1 << 20)
        }
        guard case .interrupted = try #require(failure) else {
            Issue.record("expected .interrupted, got \(String(describing: failure))")
            return
        }
    }

    @Test func closedWithoutResponseIsInterrupted() async throws {
        let server = try TestHTTPServer { _ in .failing(.garbage([])) }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/")), maxBodyBytes: 16)
        }
        #expect(failure == .interrupted(message: "Empty reply from server"))
    }

    @Test func garbageInsteadOfHTTPIsReportedWithCurlsCode() async throws {
        let server = try TestHTTPServer { _ in .failing(.garbage(Array("SSH-2.0-OpenSSH_9.2\r\n\r\n".utf8))) }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: server.url("/")), maxBodyBytes: 16)
        }
        #expect(failure == .other(code: 1, message: "Received HTTP/0.9 when not allowed"))
    }

    @Test func tlsToAPlainHTTPServerIsATLSError() async throws {
        let server = try TestHTTPServer { _ in .text("plain") }
        defer { server.stop() }
        let transport = try makeTransport()
        let url = try #require(URL(string: "https://127.0.0.1:\(server.port)/v2/"))

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: url), maxBodyBytes: 16)
        }
        guard case .tls(let host, _) = try #require(failure) else {
            Issue.record("expected .tls, got \(String(describing: failure))")
            return
        }
        #expect(host == "127.0.0.1:\(server.port)")
    }

    @Test func onlyHTTPAndHTTPSAreAllowed() async throws {
        let transport = try makeTransport()
        let url = try #require(URL(string: "file:///etc/passwd"))

        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: url), maxBodyBytes: 1 << 20)
        }
        guard case .other(let code, _) = try #require(failure) else {
            Issue.record("expected .other, got \(String(describing: failure))")
            return
        }
        #expect(code == 1)  // CURLE_UNSUPPORTED_PROTOCOL
    }
}
