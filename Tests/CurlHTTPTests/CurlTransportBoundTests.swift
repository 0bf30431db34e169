import CurlHTTP
import FerryHTTP
import FerryTestSupport
import Foundation
import OCIModel
import Synchronization
import Testing

/// A body that never ends, streamed chunked: counts what it produced, so a test can show the client stopped it.
final class EndlessBody: Sendable {
    private let produced = Atomic<Int64>(0)

    /// Bytes handed to the server so far (final once the server is stopped).
    var bytes: Int64 { produced.load(ordering: .relaxed) }

    /// A chunked response that streams `x` until the client goes away.
    func response(headers: HTTPHeaders = HTTPHeaders()) -> TestHTTPResponse {
        TestHTTPResponse(
            headers: headers,
            body: .stream(TestHTTPBodyStream(length: nil) { [self] buffer in
                buffer.initializeMemory(as: UInt8.self, repeating: 0x78)
                produced.add(Int64(buffer.count), ordering: .relaxed)
                return buffer.count
            }),
            chunked: true)
    }
}

@Suite(.tags(.loopback)) struct CurlTransportBoundTests {
    @Test func aChunkedBodyThatNeverEndsStopsAtMaxLength() async throws {
        let scratch = try ScratchDirectory()
        let body = EndlessBody()
        let server = try TestHTTPServer { _ in body.response() }
        let transport = try makeTransport()
        let limit: Int64 = 3_000_000

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/v2/a/blobs/x")), destination: scratch.file("b"),
                    maxLength: limit))
        }
        server.stop()
        let stopped = try #require(failure)
        #expect(stopped.error == .bodyTooLarge(limit: Int(limit)))
        // Nothing past the bound is written, and what is written is what the hash covers.
        let written = try scratch.read("b")
        #expect(Int64(written.count) == stopped.fileLength)
        #expect(stopped.fileLength <= limit)
        #expect(stopped.hasher.finalize() == sha256(written))
        // The server was stopped from sending, not drained: only socket buffers' worth beyond the bound left it.
        #expect(body.bytes < limit + 64 << 20)
    }

    @Test func aDeclaredLengthOverMaxLengthFailsBeforeAnyByteIsWritten() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(200_000)
        let server = try TestHTTPServer { request in .serving(.bytes(blob), for: request) }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/b")), destination: scratch.file("b"),
                    maxLength: 1_000))
        }
        let refused = try #require(failure)
        #expect(refused.error == .bodyTooLarge(limit: 1_000))
        #expect(refused.fileLength == 0)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("b")))
    }

    @Test func aBodyExactlyAtMaxLengthIsFine() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(70_000)
        let server = try TestHTTPServer { _ in TestHTTPResponse(body: .bytes(blob), chunked: true) }
        defer { server.stop() }
        let transport = try makeTransport()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/b")), destination: scratch.file("b"),
                maxLength: Int64(blob.count)))
        #expect(result.fileLength == Int64(blob.count))
        #expect(result.hasher.finalize() == sha256(blob))
    }

    @Test(arguments: ["ftp://127.0.0.1/x", "gopher://127.0.0.1/x", "dict://127.0.0.1/x", "scp://127.0.0.1/x",
                      "ldap://127.0.0.1/x", "telnet://127.0.0.1/"])
    func schemesOtherThanHTTPAreRefusedByCurl(url: String) async throws {
        let transport = try makeTransport()
        let failure = await #expect(throws: TransportError.self) {
            try await transport.send(HTTPRequest(method: .get, url: try #require(URL(string: url))), maxBodyBytes: 1024)
        }
        let scheme = String(url.prefix { $0 != ":" })
        #expect(failure == .other(code: 1, message: "Protocol \"\(scheme)\" not supported or disabled in libcurl"))
    }
}
