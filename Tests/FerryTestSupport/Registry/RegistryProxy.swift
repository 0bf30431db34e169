import FerryHTTP
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A counting reverse proxy on 127.0.0.1 in front of a plain-HTTP test registry.
///
/// Every request is recorded when it arrives (before it is answered), so once a client call returned, the
/// counts are final: no waiting on the registry's access log. Bodies are streamed through, never buffered, so
/// big blobs cost no memory. Tests can answer requests themselves (``intercept(_:)``) and hold a body after a
/// number of bytes (``stallBodies(after:where:)``) to catch a client mid-transfer; ``events`` tells them when a
/// request arrived, stalled or finished, without polling. As a forward proxy (`http_proxy`, `https_proxy`) it relays
/// absolute-form requests the same way and tunnels `CONNECT 127.0.0.1:PORT` (to 127.0.0.1 only), recording the
/// `CONNECT` request itself.
public final class RegistryProxy: Sendable {
    /// What happened to a request.
    public enum Event: Sendable {
        /// The request arrived.
        case arrived(TestHTTPRequest)
        /// The body of the response to the request is held after `bytes` bytes, until ``releaseStalls()``.
        case stalled(TestHTTPRequest, bytes: Int64)
        /// The whole response (status, and `bytes` body bytes) was handed to the client's connection.
        case completed(TestHTTPRequest, status: Int, bytes: Int64)
    }

    /// Answers a request instead of the registry when it returns a response.
    public typealias Interceptor = @Sendable (TestHTTPRequest) -> TestHTTPResponse?
    /// Header fields to add to the registry's response to a request (its status given): a rate-limiting front.
    public typealias Decorator = @Sendable (TestHTTPRequest, Int) -> HTTPHeaders

    private let core: ProxyCore
    private let server: TestHTTPServer

    /// Starts a proxy for the registry listening on `127.0.0.1:upstreamPort`.
    public init(upstreamPort: Int) throws {
        let core = ProxyCore(upstreamPort: upstreamPort)
        self.core = core
        server = try TestHTTPServer { request in core.handle(request) }
    }

    /// A proxy in front of `registry`, which must speak plain HTTP.
    public convenience init(for registry: RegistryServer) throws {
        guard !registry.endpoint.usesTLS else {
            throw TestSupportError.invalidArgument("RegistryProxy relays plain HTTP only; \(registry.baseURL) uses TLS")
        }
        try self.init(upstreamPort: registry.port)
    }

    deinit { stop() }

    /// The proxy's port.
    public var port: Int { server.port }
    /// `127.0.0.1:PORT`, the host part of image references through the proxy.
    public var host: String { "127.0.0.1:\(server.port)" }
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://\(host)" }

    /// Every request so far, in arrival order.
    public var requests: [TestHTTPRequest] { server.requests }

    /// What happened so far, and waits for what comes.
    public var events: EventLog<Event> { core.events }

    /// Requests so far with `method` (any when nil) whose path satisfies `path`.
    public func requests(_ method: String? = nil, path: (String) -> Bool = { _ in true }) -> [TestHTTPRequest] {
        requests.filter { (method == nil || $0.method == method) && path($0.path) }
    }

    /// Blob requests (`/v2/<name>/blobs/<digest>`) so far.
    public var blobRequests: [TestHTTPRequest] { requests { $0.contains("/blobs/") } }

    /// Answers matching requests with `interceptor`'s response instead of relaying them (nil: relay).
    public func intercept(_ interceptor: Interceptor?) {
        core.control.withLock { $0.interceptor = interceptor }
    }

    /// Adds `decorator`'s fields to every relayed response (nil: relay as is).
    public func decorate(_ decorator: Decorator?) {
        core.control.withLock { $0.decorator = decorator }
    }

    /// Holds the body of every response whose request satisfies `predicate` after `bytes` bytes, until
    /// ``releaseStalls()``. A stall with `bytes: 0` holds the response before its first body byte.
    public func stallBodies(after bytes: Int64, where predicate: @escaping @Sendable (TestHTTPRequest) -> Bool) {
        core.control.withLock { $0.stall = (bytes, predicate) }
        core.gate.arm()
    }

    /// Lets every held body continue and stalls nothing from now on.
    public func releaseStalls() {
        core.control.withLock { $0.stall = nil }
        core.gate.release()
    }

    /// Releases stalls, breaks every connection and joins the proxy's threads. Idempotent.
    public func stop() {
        releaseStalls()
        server.stop()
    }
}

/// The proxy's state, shared with the server's connection threads.
final class ProxyCore: Sendable {
    struct Control {
        var interceptor: RegistryProxy.Interceptor?
        var decorator: RegistryProxy.Decorator?
        var stall: (Int64, @Sendable (TestHTTPRequest) -> Bool)?
    }

    let upstreamPort: Int
    let events = EventLog<RegistryProxy.Event>()
    let control = Mutex(Control())
    let gate = StallGate()

    init(upstreamPort: Int) { self.upstreamPort = upstreamPort }

    func handle(_ request: TestHTTPRequest) -> TestHTTPResponse {
        events.append(.arrived(request))
        if request.method == "CONNECT" { return Self.tunnel(request) }
        let (interceptor, stall, decorator) = control.withLock { ($0.interceptor, $0.stall, $0.decorator) }
        if let interceptor, let response = interceptor(request) {
            events.append(.completed(request, status: response.status, bytes: response.body.length))
            return response
        }
        let stallAfter = stall.flatMap { $0.1(request) ? $0.0 : nil }
        do {
            var response = try relay(request, stallAfter: stallAfter)
            if let decorator {
                for field in decorator(request, response.status) { response.headers.add(field.name, field.value) }
            }
            return response
        } catch {
            let response = TestHTTPResponse.text("proxy: \(error)", status: 502)
            events.append(.completed(request, status: 502, bytes: response.body.length))
            return response
        }
    }

    /// A tunnel for `https_proxy` clients, which never leads off the machine.
    static func tunnel(_ request: TestHTTPRequest) -> TestHTTPResponse {
        let parts = request.target.split(separator: ":")
        guard parts.count == 2, parts[0] == "127.0.0.1", let port = Int(parts[1]) else {
            return .text("proxy: tunnels lead to 127.0.0.1 only, not \(request.target)", status: 403)
        }
        return .tunnel(toPort: port)
    }

    /// Hop-by-hop fields, which a proxy must not forward.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    private func relay(_ request: TestHTTPRequest, stallAfter: Int64?) throws -> TestHTTPResponse {
        let connection = try UpstreamConnection(port: upstreamPort)
        var head = "\(request.method) \(request.target) HTTP/1.1\r\n"
        for field in request.headers
        where !Self.hopByHop.contains(field.name.lowercased()) && field.name.lowercased() != "content-length" {
            head += "\(field.name): \(field.value)\r\n"
        }
        if !request.body.isEmpty { head += "Content-Length: \(request.body.count)\r\n" }
        head += "Connection: close\r\n\r\n"
        guard connection.stream.send(Array(head.utf8)), connection.stream.send(request.body) else {
            connection.close()
            throw TestSupportError.invalidArgument("upstream 127.0.0.1:\(upstreamPort) closed while sending")
        }
        guard let statusLine = connection.stream.readLine() else {
            connection.close()
            throw TestSupportError.invalidArgument("upstream 127.0.0.1:\(upstreamPort) sent no response")
        }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            connection.close()
            throw TestSupportError.invalidArgument("upstream sent a bad status line: \(statusLine)")
        }
        let reason = parts.count == 3 ? String(parts[2]) : ""
        var upstreamHeaders = HTTPHeaders()
        while let line = connection.stream.readLine(), !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            upstreamHeaders.add(
                String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var headers = HTTPHeaders()
        for field in upstreamHeaders where !Self.hopByHop.contains(field.name.lowercased()) {
            headers.add(field.name, field.value)
        }
        let hasBody = request.method != "HEAD" && status != 204 && status != 304 && status >= 200
        guard hasBody else {
            connection.close()
            events.append(.completed(request, status: status, bytes: 0))
            return TestHTTPResponse(status: status, reason: reason, headers: headers)
        }
        let chunkedUpstream = upstreamHeaders["Transfer-Encoding"]?.lowercased().contains("chunked") == true
        let length = chunkedUpstream ? nil : upstreamHeaders["Content-Length"].flatMap { Int64($0) }
        let body = BodyRelay(
            connection: connection, chunked: chunkedUpstream, length: length, stallAfter: stallAfter,
            gate: gate, onStall: { [events] bytes in events.append(.stalled(request, bytes: bytes)) },
            onFinish: { [events] bytes in events.append(.completed(request, status: status, bytes: bytes)) })
        let stream = TestHTTPBodyStream(
            length: length, read: { buffer in body.read(into: buffer) }, finish: { body.finish() })
        if length == nil { headers.remove("Content-Length") }
        return TestHTTPResponse(status: status, reason: reason, headers: headers, body: .stream(stream), chunked: length == nil)
    }
}

/// One connection to the upstream registry, closed exactly once.
final class UpstreamConnection: @unchecked Sendable {
    // Used by one server thread at a time (the one answering the request).
    var stream: SocketStream
    private let closed = Atomic(false)

    init(port: Int) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw TestSupportError.spawnFailed(command: "socket", errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw TestSupportError.spawnFailed(command: "connect 127.0.0.1:\(port)", errno: code)
        }
        stream = SocketStream(descriptor: descriptor)
    }

    func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Glibc.close(stream.descriptor)
    }

    deinit { close() }
}

/// Reads an upstream body (by length, chunked, or to the end), holding it at the stall point.
final class BodyRelay: @unchecked Sendable {
    // Used by one server thread at a time; `finish` may come from the same thread only.
    private let connection: UpstreamConnection
    private let chunked: Bool
    private let length: Int64?
    private let stallAfter: Int64?
    private let gate: StallGate
    private let onStall: @Sendable (Int64) -> Void
    private let onFinish: @Sendable (Int64) -> Void
    private var relayed: Int64 = 0
    private var chunkLeft = 0
    private var ended = false
    private var stalled = false
    private var finished = false

    init(
        connection: UpstreamConnection, chunked: Bool, length: Int64?, stallAfter: Int64?, gate: StallGate,
        onStall: @escaping @Sendable (Int64) -> Void, onFinish: @escaping @Sendable (Int64) -> Void
    ) {
        self.connection = connection
        self.chunked = chunked
        self.length = length
        self.stallAfter = stallAfter
        self.gate = gate
        self.onStall = onStall
        self.onFinish = onFinish
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var room = buffer.count
        if let stallAfter, !stalled {
            if relayed >= stallAfter {
                stalled = true
                onStall(relayed)
                gate.wait()
            } else {
                room = min(room, Int(stallAfter - relayed))
            }
        }
        if let length { room = min(room, Int(length - relayed)) }
        if ended || room == 0 { return 0 }
        let count: Int
        if chunked {
            if chunkLeft == 0 {
                guard let sizeLine = connection.stream.readLine(),
                    let size = Int(sizeLine.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces), radix: 16)
                else { return -1 }
                if size == 0 {
                    while let trailer = connection.stream.readLine(), !trailer.isEmpty {}
                    ended = true
                    return 0
                }
                chunkLeft = size
            }
            count = connection.stream.readSome(into: UnsafeMutableRawBufferPointer(
                rebasing: buffer[0..<min(room, chunkLeft)]))
            if count > 0 {
                chunkLeft -= count
                if chunkLeft == 0, connection.stream.readLine() == nil { return -1 }
            }
        } else {
            count = connection.stream.readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<room]))
        }
        if count <= 0 {
            ended = true
            return count == 0 && length == nil ? 0 : -1
        }
        relayed += Int64(count)
        return count
    }

    func finish() {
        guard !finished else { return }
        finished = true
        connection.close()
        onFinish(relayed)
    }
}

/// Where stalled bodies wait: armed by a stall rule, opened by a release (or the proxy's stop).
final class StallGate: Sendable {
    private let condition = NSCondition()
    private let open = Mutex(true)

    func arm() {
        condition.lock()
        open.withLock { $0 = false }
        condition.unlock()
    }

    func release() {
        condition.lock()
        open.withLock { $0 = true }
        condition.broadcast()
        condition.unlock()
    }

    func wait() {
        condition.lock()
        while !open.withLock({ $0 }) { condition.wait() }
        condition.unlock()
    }
}
