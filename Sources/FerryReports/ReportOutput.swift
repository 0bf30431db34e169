import FerrySystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where a renderer writes, piece by piece, so that a report of 20,000 rows is never one string in memory.
public protocol ReportOutput: AnyObject {
    /// Appends `text`.
    func write(_ text: String) throws(ReportError)
    /// Appends UTF-8 bytes copied from elsewhere (a spilled section).
    func write(bytes: [UInt8]) throws(ReportError)
}

/// Text collected in memory: small reports, tests, and the sections of a report rendered in one pass.
public final class StringOutput: ReportOutput {
    /// Everything written so far.
    public private(set) var text = ""

    /// An empty output.
    public init() {}

    /// Appends `text`.
    public func write(_ text: String) { self.text += text }

    /// Appends UTF-8 bytes.
    public func write(bytes: [UInt8]) { text += String(decoding: bytes, as: UTF8.self) }
}

/// A file written through a 64 KiB buffer; ``close()`` flushes what is left.
public final class FileOutput: ReportOutput {
    /// The file's path.
    public let path: String
    private let file: WritableFile
    private var buffer: [UInt8] = []
    private static let capacity = 64 * 1024

    /// Creates (or empties) the file at `path`.
    public init(path: String) throws(ReportError) {
        self.path = path
        do { file = try WritableFile(path: path, truncate: true) } catch { throw .io(error) }
        buffer.reserveCapacity(Self.capacity)
    }

    /// Appends `text`.
    public func write(_ text: String) throws(ReportError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= Self.capacity { try flush() }
    }

    /// Writes the buffer out.
    public func flush() throws(ReportError) {
        guard !buffer.isEmpty else { return }
        do { try file.write(buffer) } catch { throw .io(error) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes to the file and to stable storage, then closes it.
    public func finish() throws(ReportError) {
        try flush()
        do { try file.sync() } catch { throw .io(error) }
        file.close()
    }

    /// Closes without flushing (a failed render).
    public func discard() { file.close() }

    /// Appends UTF-8 bytes, past the buffer.
    public func write(bytes: [UInt8]) throws(ReportError) {
        try flush()
        do { try file.write(bytes) } catch { throw .io(error) }
    }
}

/// A section of a report rendered while the rows stream by and placed into the document afterwards, once its
/// count is known: in memory for a small report, spilled to a scratch file past 256 KiB.
public final class SpooledText: ReportOutput {
    private var memory = ""
    private var spill: FileOutput?
    private let scratchPath: String?
    private static let limit = 256 * 1024

    /// A section that may spill into `scratchPath` (removed by ``remove()``); nil keeps it in memory.
    public init(scratchPath: String?) {
        self.scratchPath = scratchPath
    }

    /// Appends `text`.
    public func write(_ text: String) throws(ReportError) {
        if let spill {
            try spill.write(text)
            return
        }
        memory += text
        if memory.utf8.count > Self.limit, let scratchPath {
            let file = try FileOutput(path: scratchPath)
            try file.write(memory)
            memory = ""
            spill = file
        }
    }

    /// Appends UTF-8 bytes.
    public func write(bytes: [UInt8]) throws(ReportError) {
        try write(String(decoding: bytes, as: UTF8.self))
    }

    /// Copies everything written into `output`.
    public func copy(into output: any ReportOutput) throws(ReportError) {
        guard let spill else {
            try output.write(memory)
            return
        }
        try spill.flush()
        try Self.stream(spill.path) { bytes throws(ReportError) in try output.write(bytes: bytes) }
    }

    /// Deletes the scratch file, if one was made.
    public func remove() {
        spill?.discard()
        if let scratchPath, spill != nil { try? FileSystem.removeFile(scratchPath) }
        spill = nil
    }

    /// Reads `path` in chunks that end on UTF-8 character boundaries, so any output can take them as text.
    private static func stream(_ path: String, _ body: ([UInt8]) throws(ReportError) -> Void) throws(ReportError) {
        let file: ReadableFile
        do { file = try ReadableFile(path: path) } catch { throw .io(error) }
        defer { file.close() }
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var pending: [UInt8] = []
        while true {
            let count: Int
            do { count = try file.read(into: &chunk) } catch { throw .io(error) }
            if count == 0 {
                if !pending.isEmpty { try body(pending) }
                return
            }
            pending.append(contentsOf: chunk[0..<count])
            let end = characterBoundary(pending, upTo: pending.count)
            try body(Array(pending[0..<end]))
            pending.removeFirst(end)
        }
    }

    /// The largest `n <= count` such that `bytes[0..<n]` does not end inside a UTF-8 sequence.
    static func characterBoundary(_ bytes: [UInt8], upTo count: Int) -> Int {
        var start = count
        // Continuation bytes are 10xxxxxx; look back at most 3 of them to the sequence's lead byte.
        while start > 0, count - start < 4, bytes[start - 1] & 0xC0 == 0x80 { start -= 1 }
        guard start > 0 else { return count }
        let lead = bytes[start - 1]
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return count - (start - 1) >= length ? count : start - 1
    }
}
