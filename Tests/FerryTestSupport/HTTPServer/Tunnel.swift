import Glibc

/// The byte relay behind a `CONNECT` answered with ``TestHTTPResponse/tunnel(toPort:)``: what one side sends, the
/// other receives, unread (TLS passes through untouched), until either side closes. ``TestHTTPServer/stop()`` ends
/// it by shutting the client's socket down.
enum Tunnel {
    static func relay(client: Int32, pending: [UInt8], upstreamPort: Int) {
        let clientStream = SocketStream(descriptor: client)
        let upstream: UpstreamConnection
        do {
            upstream = try UpstreamConnection(port: upstreamPort)
        } catch {
            _ = clientStream.send(Array("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            return
        }
        defer { upstream.close() }
        let server = upstream.stream.descriptor
        guard clientStream.send(Array("HTTP/1.1 200 Connection Established\r\n\r\n".utf8)),
            pending.isEmpty || upstream.stream.send(pending)
        else { return }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            var fds = [
                pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                pollfd(fd: server, events: Int16(POLLIN), revents: 0),
            ]
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            for (entry, destination) in [(fds[0], server), (fds[1], client)] where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, 0) }
                if count < 0, errno == EINTR { continue }
                guard count > 0,
                    buffer.withUnsafeBytes({
                        SocketStream(descriptor: destination).send(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                    })
                else { return }
            }
        }
    }
}
