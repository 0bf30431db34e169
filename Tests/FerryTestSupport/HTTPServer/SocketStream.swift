import Glibc

/// Buffered reads and full writes on one connected socket.
struct SocketStream {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    /// Longest request line or header line accepted.
    private let lineLimit = 64 * 1024

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// The next line without its CRLF, nil at end of stream.
    mutating func readLine() -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                return line
            }
            guard buffer.count - start < lineLimit, fill() else { return nil }
        }
    }

    /// Exactly `count` bytes, nil if the stream ends first.
    mutating func read(count: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            if start == buffer.count {
                guard fill() else { return nil }
            }
            let take = min(count - out.count, buffer.count - start)
            out.append(contentsOf: buffer[start..<start + take])
            start += take
        }
        return out
    }

    /// Removes and returns what was received but not read yet.
    mutating func takeBuffered() -> [UInt8] {
        defer { buffer.removeAll(); start = 0 }
        return Array(buffer[start...])
    }

    /// Copies what is buffered into `destination`, or else receives once into it; 0 at end of stream, negative
    /// on a socket error.
    mutating func readSome(into destination: UnsafeMutableRawBufferPointer) -> Int {
        if start < buffer.count {
            let count = min(destination.count, buffer.count - start)
            buffer.withUnsafeBytes { source in
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + count]))
            }
            start += count
            return count
        }
        while true {
            let count = recv(descriptor, destination.baseAddress, destination.count, 0)
            if count < 0, errno == EINTR { continue }
            return count
        }
    }

    private mutating func fill() -> Bool {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
    }

    /// Writes all of `bytes`; false when the peer is gone. Never raises SIGPIPE.
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { send($0) }
    }

    /// Writes all of `bytes`; false when the peer is gone.
    func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var done = 0
        while done < bytes.count {
            let count = Glibc.send(descriptor, bytes.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            done += count
        }
        return true
    }
}
