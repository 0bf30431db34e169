import FerryHTTP
import Foundation
import Glibc
import Synchronization

/// Why ``TestHTTPServer`` could not start.
public struct TestHTTPServerError: Error, Sendable, CustomStringConvertible {
    /// The system call that failed.
    public var operation: String
    /// Its `errno`.
    public var code: Int32

    /// `operation: strerror`.
    public var description: String { "test HTTP server: \(operation): \(String(cString: strerror(code)))" }
}

/// A small real HTTP/1.1 server on `127.0.0.1` for transport tests.
///
/// POSIX sockets with one accept thread and one OS thread per connection (never Swift concurrency threads, so a
/// stalled connection cannot starve the tests' cooperative pool). Supports keep-alive, `Content-Length` and
/// chunked request bodies, `Expect: 100-continue`, and scripted faults (see ``TestHTTPResponse/Fault``).
/// Every request is recorded in arrival order. ``stop()`` closes everything and joins every thread; dropping
/// the last reference stops the server too.
public final class TestHTTPServer: Sendable {
    private let core: TestHTTPServerCore

    /// Starts listening on `127.0.0.1` on a free port; `handler` answers every request.
    public init(handler: @escaping @Sendable (TestHTTPRequest) -> TestHTTPResponse) throws(TestHTTPServerError) {
        core = try TestHTTPServerCore(handler: handler)
    }

    deinit {
        core.stop()
    }

    /// Runs `body` with a started server and stops the server afterwards, also when `body` throws.
    public static func withRunning<T>(
        handler: @escaping @Sendable (TestHTTPRequest) -> TestHTTPResponse,
        _ body: (TestHTTPServer) async throws -> T
    ) async throws -> T {
        let server = try TestHTTPServer(handler: handler)
        defer { server.stop() }
        return try await body(server)
    }

    /// The port the server listens on.
    public var port: Int { core.port }

    /// `http://127.0.0.1:<port>` followed by `pathAndQuery`.
    public func url(_ pathAndQuery: String = "/") -> URL {
        URL(string: "http://127.0.0.1:\(core.port)\(pathAndQuery)")!
    }

    /// Every request parsed so far, in arrival order.
    public var requests: [TestHTTPRequest] { core.requests }

    /// Connections accepted so far.
    public var acceptedConnections: Int { core.acceptedConnections }

    /// Connections currently open on the server side.
    public var openConnections: Int { core.openConnections }

    /// Stops accepting, breaks every connection (ending stalls), and joins all threads. Idempotent.
    public func stop() { core.stop() }
}

/// The server's sockets and threads; the threads hold this, not ``TestHTTPServer``, so the server can deinit.
final class TestHTTPServerCore: Sendable {
    private struct State {
        var requests: [TestHTTPRequest] = []
        var acceptedConnections = 0
        var openConnections: [Int: Int32] = [:]
        var connectionThreads: [ServerThread] = []
        var acceptThread: ServerThread?
        var stopped = false
    }

    let port: Int
    private let listener: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let handler: @Sendable (TestHTTPRequest) -> TestHTTPResponse
    private let state = Mutex(State())

    init(handler: @escaping @Sendable (TestHTTPRequest) -> TestHTTPResponse) throws(TestHTTPServerError) {
        self.handler = handler
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw TestHTTPServerError(operation: "socket", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 128) == 0
                    && getsockname(listener, generic, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(listener)
            throw TestHTTPServerError(operation: "bind/listen", code: code)
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            let code = errno
            close(listener)
            throw TestHTTPServerError(operation: "pipe", code: code)
        }
        for descriptor in pipeEnds { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        self.listener = listener
        self.wakeRead = pipeEnds[0]
        self.wakeWrite = pipeEnds[1]
        self.port = Int(UInt16(bigEndian: address.sin_port))
        do {
            let thread = try ServerThread { [self] in acceptLoop() }
            state.withLock { $0.acceptThread = thread }
        } catch {
            close(listener)
            close(wakeRead)
            close(wakeWrite)
            throw error
        }
    }

    var requests: [TestHTTPRequest] { state.withLock { $0.requests } }
    var acceptedConnections: Int { state.withLock { $0.acceptedConnections } }
    var openConnections: Int { state.withLock { $0.openConnections.count } }

    func stop() {
        let acceptThread: ServerThread? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.stopped = true
            return state.acceptThread
        }
        guard let acceptThread else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        acceptThread.join()
        // The accept thread is gone, so no connection can be added after this snapshot.
        let threads = state.withLock { state in
            for descriptor in state.openConnections.values { shutdown(descriptor, Int32(SHUT_RDWR)) }
            return state.connectionThreads
        }
        for thread in threads { thread.join() }
        close(listener)
        close(wakeRead)
        close(wakeWrite)
    }

    private func acceptLoop() {
        while true {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0, errno == EINTR { continue }
            if ready < 0 || fds[1].revents != 0 { return }
            let descriptor = accept(listener, nil, nil)
            if descriptor < 0 { continue }
            // Tests spawn registries; accepted sockets must not leak into them.
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            let started: Bool = state.withLock { state in
                guard !state.stopped else { return false }
                state.acceptedConnections += 1
                let index = state.acceptedConnections
                state.openConnections[index] = descriptor
                do {
                    let thread = try ServerThread { [self] in serve(descriptor, connection: index) }
                    state.connectionThreads.append(thread)
                    return true
                } catch {
                    state.openConnections[index] = nil
                    return false
                }
            }
            if !started { close(descriptor) }
        }
    }

    private func serve(_ descriptor: Int32, connection: Int) {
        var reader = SocketStream(descriptor: descriptor)
        var reset = false
        while let request = readRequest(&reader, connection: connection) {
            state.withLock { $0.requests.append(request) }
            let response = handler(request)
            if let port = response.tunnelPort {
                Tunnel.relay(client: descriptor, pending: reader.takeBuffered(), upstreamPort: port)
                break
            }
            let outcome = respond(response, to: request, on: descriptor)
            if outcome == .reset { reset = true }
            if outcome != .keepAlive { break }
        }
        state.withLock { _ = $0.openConnections.removeValue(forKey: connection) }
        if reset {
            var option = linger(l_onoff: 1, l_linger: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        }
        close(descriptor)
    }

    // MARK: Reading requests

    private func readRequest(_ reader: inout SocketStream, connection: Int) -> TestHTTPRequest? {
        guard let requestLine = reader.readLine(), !requestLine.isEmpty else { return nil }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3 else { return nil }
        var headers = HTTPHeaders()
        while true {
            guard let line = reader.readLine() else { return nil }
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.add(String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        if headers["Expect"]?.lowercased() == "100-continue" {
            guard reader.send(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return nil }
        }
        var body: [UInt8] = []
        if headers["Transfer-Encoding"]?.lowercased().contains("chunked") == true {
            while true {
                guard let sizeLine = reader.readLine(),
                    let size = Int(sizeLine.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces), radix: 16)
                else { return nil }
                if size == 0 {
                    while let trailer = reader.readLine(), !trailer.isEmpty {}
                    break
                }
                guard let chunk = reader.read(count: size), reader.readLine() != nil else { return nil }
                body.append(contentsOf: chunk)
            }
        } else if let length = headers["Content-Length"].flatMap({ Int($0) }), length > 0 {
            guard let bytes = reader.read(count: length) else { return nil }
            body = bytes
        }
        return TestHTTPRequest(
            method: String(parts[0]), target: String(parts[1]), headers: headers, body: body, connection: connection)
    }

    // MARK: Writing responses

    private enum Outcome { case keepAlive, close, reset }

    private func respond(_ response: TestHTTPResponse, to request: TestHTTPRequest, on descriptor: Int32) -> Outcome {
        // Whatever happens to the response, the producer of a streamed body is released.
        defer { if case .stream(let stream) = response.body { stream.finish() } }
        let writer = SocketStream(descriptor: descriptor)
        switch response.fault {
        case .resetWithoutResponse:
            return .reset
        case .stallWithoutResponse:
            waitForClientToLeave(descriptor)
            return .close
        case .garbage(let bytes):
            _ = writer.send(bytes)
            return .close
        default:
            break
        }
        for interim in response.interim {
            var head = "HTTP/1.1 \(interim.status) \(TestHTTPResponse.defaultReason(interim.status))\r\n"
            for field in interim.headers { head += "\(field.name): \(field.value)\r\n" }
            guard writer.send(Array((head + "\r\n").utf8)) else { return .close }
        }
        let clientWantsClose =
            request.headers["Connection"]?.lowercased() == "close" || response.closeConnection
        var head = "HTTP/1.1 \(response.status)\(response.reason.isEmpty ? "" : " " + response.reason)\r\n"
        var headers = response.headers
        if response.chunked {
            headers.set("Transfer-Encoding", "chunked")
        } else if headers["Content-Length"] == nil {
            headers.add("Content-Length", "\(response.body.length)")
        }
        if clientWantsClose { headers.set("Connection", "close") }
        for field in headers { head += "\(field.name): \(field.value)\r\n" }
        guard writer.send(Array((head + "\r\n").utf8)) else { return .close }

        let sendsBody = request.method != "HEAD" && response.status != 204 && response.status != 304
        var limit = sendsBody ? response.body.length : 0
        switch response.fault {
        case .closeAfter(let count), .resetAfter(let count), .stallAfter(let count):
            limit = min(limit, Int64(count))
        default:
            break
        }
        guard sendBody(response.body, limit: limit, chunked: response.chunked && sendsBody, writer: writer) else {
            return .close
        }
        switch response.fault {
        case .closeAfter: return .close
        case .resetAfter: return .reset
        case .stallAfter:
            waitForClientToLeave(descriptor)
            return .close
        default: return clientWantsClose ? .close : .keepAlive
        }
    }

    private func sendBody(_ body: TestHTTPResponse.Body, limit: Int64, chunked: Bool, writer: SocketStream)
        -> Bool
    {
        if case .stream(let stream) = body {
            return sendStream(stream, limit: chunked ? nil : limit, chunked: chunked, writer: writer)
        }
        let chunkSize = 256 * 1024
        var sent: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var descriptor: Int32 = -1
        defer { if descriptor >= 0 { close(descriptor) } }
        while sent < limit {
            let count = Int(min(Int64(chunkSize), limit - sent))
            switch body {
            case .bytes(let bytes):
                buffer.replaceSubrange(0..<count, with: bytes[Int(sent)..<Int(sent) + count])
            case .file(let path, let offset, _):
                if descriptor < 0 { descriptor = open(path, O_RDONLY | O_CLOEXEC) }
                let read = buffer.withUnsafeMutableBytes {
                    pread(descriptor, $0.baseAddress, count, off_t(offset + sent))
                }
                guard read == count else { return false }
            case .stream:
                return false
            }
            if chunked { guard writer.send(Array((String(count, radix: 16) + "\r\n").utf8)) else { return false } }
            guard buffer.withUnsafeBytes({ writer.send(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }) else {
                return false
            }
            if chunked { guard writer.send(Array("\r\n".utf8)) else { return false } }
            sent += Int64(count)
        }
        if chunked { return writer.send(Array("0\r\n\r\n".utf8)) }
        return true
    }

    /// Sends what `stream` produces: up to `limit` bytes (exactly that many, or the connection is closed), or
    /// until the stream ends when `limit` is nil (chunked).
    private func sendStream(_ stream: TestHTTPBodyStream, limit: Int64?, chunked: Bool, writer: SocketStream) -> Bool {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var sent: Int64 = 0
        while limit.map({ sent < $0 }) ?? true {
            let room = Int(min(Int64(buffer.count), limit.map { $0 - sent } ?? Int64(buffer.count)))
            let count = stream.read(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<room]))
            if count < 0 { return false }
            if count == 0 {
                // A known length not reached: the client must see a broken body, not a complete one.
                if limit != nil { return false }
                break
            }
            if chunked { guard writer.send(Array((String(count, radix: 16) + "\r\n").utf8)) else { return false } }
            guard writer.send(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) else { return false }
            if chunked { guard writer.send(Array("\r\n".utf8)) else { return false } }
            sent += Int64(count)
        }
        if chunked { return writer.send(Array("0\r\n\r\n".utf8)) }
        return true
    }

    /// Blocks until the peer closes or resets, or ``stop()`` shuts the socket down; whichever comes first.
    private func waitForClientToLeave(_ descriptor: Int32) {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            let count = scratch.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
        }
    }
}

/// A joinable POSIX thread, so ``TestHTTPServer/stop()`` can wait for every connection to end.
struct ServerThread: Sendable {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private let thread: pthread_t

    init(_ run: @escaping @Sendable () -> Void) throws(TestHTTPServerError) {
        let context = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let code = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        guard code == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw TestHTTPServerError(operation: "pthread_create", code: code)
        }
        self.thread = thread
    }

    /// Waits for the thread to return.
    func join() {
        pthread_join(thread, nil)
    }
}
