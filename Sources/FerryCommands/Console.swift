import Foundation
import Synchronization

/// Line-oriented output to stdout or stderr; whole lines are written at once so concurrent tasks never
/// interleave within a line.
public final class Console: Sendable {
    private let fileDescriptor: Int32
    private let lock = Mutex<Void>(())

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// Standard output: results and status lines.
    public static let standardOutput = Console(fileDescriptor: 1)
    /// Standard error: errors and logs.
    public static let standardError = Console(fileDescriptor: 2)

    /// Writes `text` followed by a newline.
    public func writeLine(_ text: String) {
        write(text + "\n")
    }

    /// Writes `text` as is.
    public func write(_ text: String) {
        lock.withLock { _ in
            var bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { buffer in
                    Foundation.write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                }
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
            bytes.removeAll()
        }
    }

    /// True when this stream is a terminal.
    public var isTerminal: Bool { isatty(fileDescriptor) == 1 }
}
