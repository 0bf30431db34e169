import CurlHTTP
import FerryHTTP
import FerrySystem
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@Suite(.tags(.loopback)) struct CurlTransportDownloadTests {
    @Test func streamsTheBodyToTheFileWithDigestAndProgress() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(3 * 1024 * 1024 + 123)
        let server = try TestHTTPServer { request in .serving(.bytes(blob), for: request) }
        defer { server.stop() }
        let transport = try makeTransport()
        let progress = TransferProgress()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/v2/a/blobs/x")), destination: scratch.file("blob"),
                progress: progress))

        #expect(result.response.status == 200)
        #expect(result.errorBody.isEmpty)
        #expect(result.fileLength == Int64(blob.count))
        #expect(result.hasher.finalize() == sha256(blob))
        #expect(result.hasher.count == Int64(blob.count))
        #expect(try scratch.read("blob") == blob)
        #expect(progress.bytes == Int64(blob.count))
        #expect(progress.total == Int64(blob.count))
    }

    @Test func overwritesAnExistingFileOnA200() async throws {
        let scratch = try ScratchDirectory()
        _ = try scratch.write("blob", testBytes(5000, seed: 7))
        let blob = testBytes(1000)
        let server = try TestHTTPServer { request in .serving(.bytes(blob), for: request) }
        defer { server.stop() }
        let transport = try makeTransport()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/b")), destination: scratch.file("blob")))

        #expect(result.fileLength == 1000)
        #expect(try scratch.read("blob") == blob)
        #expect(result.hasher.finalize() == sha256(blob))
    }

    @Test func streamsChunkedBodiesWithUnknownLength() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(1_500_000)
        let server = try TestHTTPServer { _ in TestHTTPResponse(body: .bytes(blob), chunked: true) }
        defer { server.stop() }
        let transport = try makeTransport()
        let progress = TransferProgress()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/c")), destination: scratch.file("c"),
                progress: progress))

        #expect(result.hasher.finalize() == sha256(blob))
        #expect(progress.total == nil)
        #expect(progress.bytes == Int64(blob.count))
    }

    @Test func resumesWithRangeAfterTheServerCutTheBody() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(900_000)
        let cut = 123_457
        let server = try TestHTTPServer { request in
            request.headers["Range"] == nil
                ? .failing(.closeAfter(bodyBytes: cut), body: .bytes(blob)) : .serving(.bytes(blob), for: request)
        }
        defer { server.stop() }
        let transport = try makeTransport()
        let url = server.url("/v2/a/blobs/sha256:x")
        let destination = scratch.file("blob")
        let progress = TransferProgress()

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(request: HTTPRequest(method: .get, url: url), destination: destination))
        }
        let cutOff = try #require(failure)
        guard case .interrupted = cutOff.error else {
            Issue.record("expected .interrupted, got \(cutOff.error)")
            return
        }
        #expect(cutOff.fileLength == Int64(cut))
        #expect(cutOff.hasher.count == Int64(cut))
        #expect(cutOff.hasher.finalize() == sha256(blob[..<cut]))
        #expect(cutOff.response?.status == 200)
        #expect(try scratch.read("blob") == Array(blob[..<cut]))

        let resumed = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: url, headers: ["Range": "bytes=\(cutOff.fileLength)-"]),
                destination: destination, offset: cutOff.fileLength, hasher: cutOff.hasher, progress: progress))

        #expect(resumed.response.status == 206)
        #expect(resumed.fileLength == Int64(blob.count))
        #expect(resumed.hasher.finalize() == sha256(blob))
        #expect(try scratch.read("blob") == blob)
        #expect(progress.bytes == Int64(blob.count))
        #expect(progress.total == Int64(blob.count))
        #expect(server.requests.map { $0.headers["Range"] } == [nil, "bytes=\(cut)-"])
    }

    @Test func aResetConnectionLeavesFileAndHasherConsistent() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(600_000)
        let server = try TestHTTPServer { _ in .failing(.resetAfter(bodyBytes: 300_000), body: .bytes(blob)) }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/b")), destination: scratch.file("b")))
        }
        let reset = try #require(failure)
        guard case .interrupted = reset.error else {
            Issue.record("expected .interrupted, got \(reset.error)")
            return
        }
        // How much arrives before the RST is up to the kernel; whatever it is, file and hash must agree.
        let written = try scratch.read("b")
        #expect(Int64(written.count) == reset.fileLength)
        #expect(reset.fileLength <= 300_000)
        #expect(written == Array(blob[..<written.count]))
        #expect(reset.hasher.finalize() == sha256(written))
    }

    @Test func restartsFromZeroWhenTheServerIgnoresRange() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(400_000)
        let offset = 100_000
        let destination = try scratch.write("blob", Array(blob[..<offset]))
        let server = try TestHTTPServer { request in .serving(.bytes(blob), for: request, honourRange: false) }
        defer { server.stop() }
        let transport = try makeTransport()
        let progress = TransferProgress()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/b"), headers: ["Range": "bytes=\(offset)-"]),
                destination: destination, offset: Int64(offset), hasher: hasher(over: blob[..<offset]),
                progress: progress))

        #expect(result.response.status == 200)
        #expect(result.fileLength == Int64(blob.count))
        #expect(result.hasher.finalize() == sha256(blob))
        #expect(try scratch.read("blob") == blob)
        #expect(progress.bytes == Int64(blob.count))
    }

    @Test func a206FromZeroIsTreatedAsARestart() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(50_000)
        let destination = try scratch.write("blob", Array(blob[..<1000]))
        let server = try TestHTTPServer { _ in
            TestHTTPResponse(
                status: 206, headers: ["Content-Range": "bytes 0-\(blob.count - 1)/\(blob.count)"], body: .bytes(blob))
        }
        defer { server.stop() }
        let transport = try makeTransport()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/b"), headers: ["Range": "bytes=1000-"]),
                destination: destination, offset: 1000, hasher: hasher(over: blob[..<1000])))

        #expect(result.response.status == 206)
        #expect(result.fileLength == Int64(blob.count))
        #expect(result.hasher.finalize() == sha256(blob))
        #expect(try scratch.read("blob") == blob)
    }

    @Test func a206AtAnotherOffsetFailsAndLeavesAnEmptyConsistentFile() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(50_000)
        let destination = try scratch.write("blob", Array(blob[..<1000]))
        let server = try TestHTTPServer { _ in
            TestHTTPResponse(
                status: 206, headers: ["Content-Range": "bytes 2000-\(blob.count - 1)/\(blob.count)"],
                body: .bytes(Array(blob[2000...])))
        }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/b"), headers: ["Range": "bytes=1000-"]),
                    destination: destination, offset: 1000, hasher: hasher(over: blob[..<1000])))
        }
        let error = try #require(failure)
        #expect(
            error.error
                == .other(
                    code: 33, message: "206 response with Content-Range bytes 2000-49999/50000 does not start at 1000"))
        #expect(error.fileLength == 0)
        #expect(error.hasher.count == 0)
        #expect(try scratch.read("blob").isEmpty)
    }

    @Test func non2xxLeavesTheFileUntouchedAndReturnsTheErrorBody() async throws {
        let scratch = try ScratchDirectory()
        let existing = Array("first half".utf8)
        let destination = try scratch.write("blob", existing)
        let errorJSON = Array(#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#.utf8)
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 404, body: .bytes(errorJSON)) }
        defer { server.stop() }
        let transport = try makeTransport()
        let before = hasher(over: existing)

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/b"), headers: ["Range": "bytes=10-"]),
                destination: destination, offset: Int64(existing.count), hasher: before))

        #expect(result.response.statusLine == "404 Not Found")
        #expect(result.errorBody == errorJSON)
        #expect(result.fileLength == Int64(existing.count))
        #expect(result.hasher.finalize() == before.finalize())
        #expect(try scratch.read("blob") == existing)
    }

    @Test func non2xxWithoutAnExistingFileDoesNotCreateOne() async throws {
        let scratch = try ScratchDirectory()
        let server = try TestHTTPServer { _ in .text("denied", status: 403) }
        defer { server.stop() }
        let transport = try makeTransport()

        let result = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/b")), destination: scratch.file("none")))

        #expect(result.response.status == 403)
        #expect(result.errorBody == Array("denied".utf8))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("none")))
    }

    @Test func capsTheErrorBodyAt64KiB() async throws {
        let scratch = try ScratchDirectory()
        let big = testBytes(200_000)
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 500, body: .bytes(big)) }
        defer { server.stop() }
        let transport = try makeTransport()

        let result = try await transport.download(
            DownloadRequest(request: HTTPRequest(method: .get, url: server.url("/b")), destination: scratch.file("b")))

        #expect(result.response.status == 500)
        #expect(result.errorBody == Array(big[..<65536]))
        #expect(result.fileLength == 0)
    }

    @Test func unwritableDestinationIsAFileErrorWithTheResponse() async throws {
        let scratch = try ScratchDirectory()
        let server = try TestHTTPServer { request in .serving(.bytes(testBytes(1000)), for: request) }
        defer { server.stop() }
        let transport = try makeTransport()
        let destination = scratch.file("missing-dir/blob")

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(request: HTTPRequest(method: .get, url: server.url("/b")), destination: destination))
        }
        let error = try #require(failure)
        #expect(error.error == .fileIO(path: destination, message: "No such file or directory", cause: SystemErrno(ENOENT)))
        #expect(error.fileLength == 0)
        #expect(error.response?.status == 200)
    }

    @Test func aResumeOffsetBeyondTheFileIsAFileError() async throws {
        let scratch = try ScratchDirectory()
        let destination = try scratch.write("blob", testBytes(10))
        let blob = testBytes(100)
        let server = try TestHTTPServer { request in .serving(.bytes(blob), for: request) }
        defer { server.stop() }
        let transport = try makeTransport()

        let failure = await #expect(throws: DownloadError.self) {
            try await transport.download(
                DownloadRequest(
                    request: HTTPRequest(method: .get, url: server.url("/b"), headers: ["Range": "bytes=50-"]),
                    destination: destination, offset: 50, hasher: hasher(over: blob[..<50])))
        }
        let error = try #require(failure)
        #expect(error.error == .fileIO(path: destination, message: "file has 10 bytes, cannot resume at 50"))
        #expect(error.fileLength == 0)
        #expect(error.hasher.count == 0)
        #expect(try scratch.read("blob").isEmpty)
    }
}
