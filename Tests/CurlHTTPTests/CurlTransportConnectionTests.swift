import CurlHTTP
import FerryHTTP
import FerryTestSupport
import Foundation
import Testing

@Suite(.tags(.loopback)) struct CurlTransportConnectionTests {
    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try TestHTTPServer { request in .text(request.path) }
        defer { server.stop() }
        let transport = try makeTransport()

        for index in 0..<5 {
            let response = try await transport.send(
                HTTPRequest(method: index == 2 ? .head : .get, url: server.url("/r\(index)")), maxBodyBytes: 64)
            #expect(response.status == 200)
        }

        #expect(server.acceptedConnections == 1)
        #expect(server.requests.map(\.connection) == [1, 1, 1, 1, 1])
    }

    @Test func uploadsAndDownloadsShareTheConnection() async throws {
        let scratch = try ScratchDirectory()
        let blob = testBytes(100_000)
        let server = try TestHTTPServer { request in
            request.method == "GET" ? .serving(.bytes(blob), for: request) : TestHTTPResponse(status: 201)
        }
        defer { server.stop() }
        let transport = try makeTransport()

        _ = try await transport.send(
            HTTPRequest(method: .put, url: server.url("/up"), body: .bytes(blob)), maxBodyBytes: 64)
        _ = try await transport.download(
            DownloadRequest(
                request: HTTPRequest(method: .get, url: server.url("/down")), destination: scratch.file("b")))
        _ = try await transport.send(HTTPRequest(method: .get, url: server.url("/again")), maxBodyBytes: 1 << 20)

        #expect(server.acceptedConnections == 1)
    }

    @Test func concurrentRequestsWithAsyncLet() async throws {
        let server = try TestHTTPServer { request in .text(request.path) }
        defer { server.stop() }
        let transport = try makeTransport()

        async let first = transport.send(HTTPRequest(method: .get, url: server.url("/first")), maxBodyBytes: 64)
        async let second = transport.send(HTTPRequest(method: .get, url: server.url("/second")), maxBodyBytes: 64)
        let (a, b) = try await (first, second)

        #expect(a.body == Array("/first".utf8))
        #expect(b.body == Array("/second".utf8))
    }

    @Test func twentyConcurrentRequestsInATaskGroupStayUnderTheHostCap() async throws {
        let server = try TestHTTPServer { request in .text(request.path) }
        defer { server.stop() }
        let transport = try makeTransport()

        let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in 0..<20 {
                group.addTask {
                    let response = try await transport.send(
                        HTTPRequest(method: .get, url: server.url("/item/\(index)")), maxBodyBytes: 64)
                    return (index, response.body)
                }
            }
            var bodies: [Int: [UInt8]] = [:]
            for try await (index, body) in group { bodies[index] = body }
            return bodies
        }

        #expect(bodies.count == 20)
        for (index, body) in bodies { #expect(body == Array("/item/\(index)".utf8)) }
        #expect(server.requests.count == 20)
        #expect(server.acceptedConnections <= 6)
        #expect(transport.activeTransferCount == 0)
        #expect(transport.openHandleCount == 0)
    }

    @Test func perHostCapLimitsParallelConnections() async throws {
        let blob = testBytes(256 * 1024)
        let server = try TestHTTPServer { request in .serving(.bytes(blob), for: request) }
        defer { server.stop() }
        let transport = try makeTransport(maxConnectionsPerHost: 2)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<10 {
                group.addTask {
                    let response = try await transport.send(
                        HTTPRequest(method: .get, url: server.url("/\(index)")), maxBodyBytes: 1 << 20)
                    #expect(response.body.count == blob.count)
                }
            }
            try await group.waitForAll()
        }

        #expect(server.requests.count == 10)
        #expect(server.acceptedConnections <= 2)
    }
}
