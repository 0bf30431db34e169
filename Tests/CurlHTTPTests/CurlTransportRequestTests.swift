import CurlHTTP
import FerryHTTP
import FerrySystem
import FerryTestSupport
import Foundation
import Logging
import Testing

@Suite(.tags(.loopback)) struct CurlTransportRequestTests {
    @Test func getReturnsStatusReasonHeadersAndBodyAndSendsUserAgent() async throws {
        let server = try TestHTTPServer { request in
            .text("hello \(request.path)", headers: ["Docker-Content-Digest": "sha256:abc", "X-Multi": "1"])
        }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(
            HTTPRequest(method: .get, url: server.url("/v2/"), headers: ["Accept": "application/json"]),
            maxBodyBytes: 1024)

        #expect(response.status == 200)
        #expect(response.reason == "OK")
        #expect(response.headers["docker-content-digest"] == "sha256:abc")
        #expect(response.body == Array("hello /v2/".utf8))
        let recorded = try #require(server.requests.first)
        #expect(recorded.method == "GET")
        #expect(recorded.headers["User-Agent"] == "ferry/9.9.9-test")
        #expect(recorded.headers["Accept"] == "application/json")
    }

    @Test func headDoesNotWaitForTheAnnouncedBody() async throws {
        let server = try TestHTTPServer { _ in
            TestHTTPResponse(status: 200, headers: ["Content-Length": "1000000", "Docker-Content-Digest": "sha256:d"])
        }
        defer { server.stop() }
        // If HEAD waited for the million bytes, the stall would end in a low-speed timeout instead.
        let transport = try makeTransport(lowSpeedTime: .seconds(2))

        let response = try await transport.send(HTTPRequest(method: .head, url: server.url("/blob")), maxBodyBytes: 0)

        #expect(response.status == 200)
        #expect(response.headers["Content-Length"] == "1000000")
        #expect(response.headers["Docker-Content-Digest"] == "sha256:d")
        #expect(response.body.isEmpty)
        #expect(server.requests.map(\.method) == ["HEAD"])
    }

    @Test func putSendsBytesBodyWithContentLength() async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 201, headers: ["Location": "/done"]) }
        defer { server.stop() }
        let transport = try makeTransport()
        let manifest = Array(#"{"schemaVersion":2}"#.utf8)

        let response = try await transport.send(
            HTTPRequest(
                method: .put, url: server.url("/v2/a/manifests/v1"),
                headers: ["Content-Type": "application/vnd.oci.image.manifest.v1+json"], body: .bytes(manifest)),
            maxBodyBytes: 1024)

        #expect(response.status == 201)
        #expect(response.reason == "Created")
        let recorded = try #require(server.requests.first)
        #expect(recorded.method == "PUT")
        #expect(recorded.body == manifest)
        #expect(recorded.headers["Content-Length"] == "\(manifest.count)")
        #expect(recorded.headers["Content-Type"] == "application/vnd.oci.image.manifest.v1+json")
        // Small bodies skip the 100-continue round trip.
        #expect(recorded.headers["Expect"] == nil)
    }

    @Test(arguments: [HTTPMethod.post, .patch, .put])
    func streamsFileRangeBodies(method: HTTPMethod) async throws {
        let scratch = try ScratchDirectory()
        let content = testBytes(3 * 1024 * 1024 + 17)
        let path = try scratch.write("blob", content)
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 202) }
        defer { server.stop() }
        let transport = try makeTransport()
        let offset: Int64 = 1000
        let length: Int64 = 2 * 1024 * 1024 + 5

        let response = try await transport.send(
            HTTPRequest(
                method: method, url: server.url("/v2/a/blobs/uploads/x?digest=sha256:1"),
                body: .file(path: path, offset: offset, length: length)),
            maxBodyBytes: 1024)

        #expect(response.status == 202)
        let recorded = try #require(server.requests.first)
        #expect(recorded.method == method.rawValue)
        #expect(recorded.target == "/v2/a/blobs/uploads/x?digest=sha256:1")
        #expect(recorded.headers["Content-Length"] == "\(length)")
        #expect(recorded.body == Array(content[Int(offset)..<Int(offset + length)]))
        // Large uploads ask first, so a 401 arrives before megabytes are sent.
        #expect(recorded.headers["Expect"] == "100-continue")
    }

    @Test func emptyPostSendsContentLengthZero() async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 202, headers: ["Location": "/upload/1"]) }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(
            HTTPRequest(method: .post, url: server.url("/v2/a/blobs/uploads/")), maxBodyBytes: 0)

        #expect(response.status == 202)
        let recorded = try #require(server.requests.first)
        #expect(recorded.method == "POST")
        #expect(recorded.headers["Content-Length"] == "0")
        #expect(recorded.body.isEmpty)
    }

    @Test func deleteWithoutBody() async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 202) }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(
            HTTPRequest(method: .delete, url: server.url("/v2/a/manifests/sha256:1")), maxBodyBytes: 0)

        #expect(response.status == 202)
        #expect(server.requests.map(\.method) == ["DELETE"])
    }

    @Test func keepsOnlyTheFinalResponseHeadersAfterInterimResponses() async throws {
        let server = try TestHTTPServer { _ in
            TestHTTPResponse(
                status: 201, headers: ["X-Final": "yes"],
                interim: [.init(status: 100, headers: ["X-Interim": "leaked"])])
        }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(
            HTTPRequest(method: .put, url: server.url("/m"), body: .bytes([1, 2, 3])), maxBodyBytes: 16)

        #expect(response.status == 201)
        #expect(response.headers["X-Final"] == "yes")
        #expect(response.headers["X-Interim"] == nil)
    }

    @Test func fillsInTheStandardReasonWhenTheStatusLineHasNone() async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 404, reason: "") }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(HTTPRequest(method: .get, url: server.url("/x")), maxBodyBytes: 16)

        #expect(response.statusLine == "404 Not Found")
    }

    @Test func keepsTheServersReasonPhrase() async throws {
        let server = try TestHTTPServer { _ in TestHTTPResponse(status: 404, reason: "Nothing Here Today") }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(HTTPRequest(method: .get, url: server.url("/x")), maxBodyBytes: 16)

        #expect(response.statusLine == "404 Nothing Here Today")
    }

    @Test func returnsRedirectsWithoutFollowingThem() async throws {
        let server = try TestHTTPServer { request in
            request.path == "/v2/a/blobs/sha256:1"
                ? .text("moved", status: 307, headers: ["Location": "/storage/blob?sig=1"]) : .text("followed!")
        }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(
            HTTPRequest(method: .get, url: server.url("/v2/a/blobs/sha256:1")), maxBodyBytes: 1024)

        #expect(response.status == 307)
        #expect(response.headers["Location"] == "/storage/blob?sig=1")
        #expect(response.body == Array("moved".utf8))
        #expect(server.requests.count == 1)
    }

    @Test func readsChunkedResponses() async throws {
        let body = testBytes(700_000)
        let server = try TestHTTPServer { _ in TestHTTPResponse(body: .bytes(body), chunked: true) }
        defer { server.stop() }
        let transport = try makeTransport()

        let response = try await transport.send(HTTPRequest(method: .get, url: server.url("/c")), maxBodyBytes: 1 << 20)

        #expect(response.body == body)
    }

    @Test func rejectsHeaderValuesThatWouldSplitTheRequest() async throws {
        let server = try TestHTTPServer { _ in .text("no") }
        defer { server.stop() }
        let transport = try makeTransport()

        await #expect(throws: TransportError.other(code: 43, message: "invalid request header field X-Bad")) {
            try await transport.send(
                HTTPRequest(method: .get, url: server.url("/"), headers: ["X-Bad": "a\r\nInjected: yes"]),
                maxBodyBytes: 16)
        }
        #expect(server.requests.isEmpty)
    }

    @Test func missingBodyFileIsAFileError() async throws {
        let server = try TestHTTPServer { _ in .text("no") }
        defer { server.stop() }
        let transport = try makeTransport()

        await #expect(
            throws: TransportError.fileIO(path: "/nonexistent/ferry-blob", message: "No such file or directory", cause: SystemErrno(ENOENT))
        ) {
            try await transport.send(
                HTTPRequest(
                    method: .put, url: server.url("/"),
                    body: .file(path: "/nonexistent/ferry-blob", offset: 0, length: 5)),
                maxBodyBytes: 16)
        }
        #expect(server.requests.isEmpty)
    }

    @Test func bodyFileShorterThanItsLengthIsAFileError() async throws {
        let scratch = try ScratchDirectory()
        let path = try scratch.write("short", testBytes(10))
        let server = try TestHTTPServer { _ in .text("no") }
        defer { server.stop() }
        let transport = try makeTransport()

        await #expect(throws: TransportError.fileIO(path: path, message: "file ended after 10 of 100 body bytes")) {
            try await transport.send(
                HTTPRequest(method: .put, url: server.url("/"), body: .file(path: path, offset: 0, length: 100)),
                maxBodyBytes: 16)
        }
    }

    @Test func logsOneDebugLinePerRequestWithoutQueryOrCredentials() async throws {
        let server = try TestHTTPServer { _ in .text("ok") }
        defer { server.stop() }
        let capture = CapturingLogHandler()
        var logger = Logger(label: "ferry.test.capture") { _ in capture }
        logger.logLevel = .debug
        let transport = try makeTransport(logger: logger)

        _ = try await transport.send(
            HTTPRequest(
                method: .get, url: server.url("/v2/a/blobs/b?X-Amz-Signature=querysecret"),
                headers: ["Authorization": "Bearer headersecret"]),
            maxBodyBytes: 16)

        let record = try #require(capture.records.first)
        #expect(capture.records.count == 1)
        #expect(record.level == .debug)
        #expect(record.metadata["http.method"] == "GET")
        #expect(record.metadata["http.url"] == "http://127.0.0.1:\(server.port)/v2/a/blobs/b")
        #expect(record.metadata["http.status"] == "200")
        #expect(record.metadata["http.bytes"] == "2")
        let everything = capture.records.map { "\($0.message) \($0.metadata)" }.joined()
        #expect(!everything.contains("querysecret"))
        #expect(!everything.contains("headersecret"))
    }
}
