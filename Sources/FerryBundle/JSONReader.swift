import FerrySystem
import Foundation

/// Where a ``JSONReader`` gets its bytes.
protocol ByteSource: AnyObject {
    /// Up to `buffer.count` next bytes into `buffer`; 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(BundleError) -> Int
}

/// A file read from its start.
final class FileByteSource: ByteSource {
    private let file: ReadableFile

    init(path: String) throws(BundleError) {
        do { file = try ReadableFile(path: path) } catch { throw .io(error) }
    }

    deinit { file.close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(BundleError) -> Int {
        do { return try file.read(into: buffer) } catch { throw .io(error) }
    }
}

/// Bytes in memory.
final class MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(BundleError) -> Int {
        let count = min(buffer.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)]))
        }
        offset += count
        return count
    }
}

/// Reads one JSON document (a top-level object) without holding it: chosen arrays are handed out one element at a
/// time, each element's bytes on their own for `JSONDecoder`; everything else is either kept as a compact document
/// with those arrays empty (the shell, small enough to decode whole) or skipped.
///
/// Only the structure around the elements is checked here (strings, nesting, the members of the objects walked);
/// what is kept or handed out is checked by the decoder that reads it.
final class JSONReader {
    /// The keys from the top-level object down to a member.
    typealias Path = [String]

    /// What a walk found besides the elements.
    struct Walk {
        /// The document with the streamed arrays empty and no whitespace; empty unless the shell was kept.
        var shell: [UInt8]
        /// Each member of the top-level object: its key and its bytes in the document, from the end of the previous
        /// member's value (so the comma is included) to the end of its own; nil start for the first member.
        var members: [(key: String, start: Int64?, end: Int64)]
    }

    /// The most bytes one element, or the shell, may have.
    static let valueLimit = BundleImporter.documentLimit

    private let source: any ByteSource
    private let buffer: UnsafeMutableRawBufferPointer
    private var position = 0
    private var end = 0
    private var atEnd = false
    /// Document offset of the next byte.
    private var offset: Int64 = 0
    private let failure: (String) -> BundleError

    /// A reader of `source`; `failure` turns a syntax problem into the error to throw (naming the document).
    init(_ source: any ByteSource, failure: @escaping (String) -> BundleError) {
        self.source = source
        self.failure = failure
        buffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Reads the whole document. The elements of each array at `arrays` go to `element` with the array's position
    /// in `arrays` and their index; `element`'s errors pass through.
    func walk(
        streaming arrays: [Path], keepingShell keep: Bool, element: (Int, Int, [UInt8]) throws -> Void
    ) throws -> Walk {
        var walk = Walk(shell: [], members: [])
        try skipWhitespace()
        guard try peek() == UInt8(ascii: "{") else { throw failure("not a JSON object") }
        try walkObject([], arrays: arrays, keep: keep, into: &walk, element: element)
        try skipWhitespace()
        guard try peek() == nil else { throw failure("unexpected data after the document at byte \(offset)") }
        return walk
    }

    private func walkObject(
        _ path: Path, arrays: [Path], keep: Bool, into walk: inout Walk, element: (Int, Int, [UInt8]) throws -> Void
    ) throws {
        try take(UInt8(ascii: "{"), keep: keep, into: &walk.shell)
        try skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            try take(UInt8(ascii: "}"), keep: keep, into: &walk.shell)
            return
        }
        var previousEnd: Int64?
        while true {
            try skipWhitespace()
            guard try peek() == UInt8(ascii: "\"") else { throw failure("expected a key at byte \(offset)") }
            var key: [UInt8] = []
            try value(keep: true, into: &key)
            let name = try Self.keyText(key, failure: failure)
            try skipWhitespace()
            try take(UInt8(ascii: ":"), keep: false, into: &walk.shell)
            try skipWhitespace()
            if keep { walk.shell += key + [UInt8(ascii: ":")] }
            let member = path + [name]
            let next = try peek()
            if let slot = arrays.firstIndex(of: member), next == UInt8(ascii: "[") {
                try streamArray(slot, element: element)
                if keep { walk.shell += Array("[]".utf8) }
            } else if next == UInt8(ascii: "{"),
                arrays.contains(where: { $0.count > member.count && $0.starts(with: member) })
            {
                try walkObject(member, arrays: arrays, keep: keep, into: &walk, element: element)
            } else {
                try value(keep: keep, into: &walk.shell)
            }
            if path.isEmpty { walk.members.append((key: name, start: previousEnd, end: offset)) }
            previousEnd = offset
            try skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","):
                try take(UInt8(ascii: ","), keep: keep, into: &walk.shell)
            case UInt8(ascii: "}"):
                try take(UInt8(ascii: "}"), keep: keep, into: &walk.shell)
                return
            default:
                throw failure("expected \",\" or \"}\" at byte \(offset)")
            }
        }
    }

    private func streamArray(_ slot: Int, element: (Int, Int, [UInt8]) throws -> Void) throws {
        var ignored: [UInt8] = []
        try take(UInt8(ascii: "["), keep: false, into: &ignored)
        try skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            try take(UInt8(ascii: "]"), keep: false, into: &ignored)
            return
        }
        var bytes: [UInt8] = []
        var index = 0
        while true {
            try skipWhitespace()
            bytes.removeAll(keepingCapacity: true)
            try value(keep: true, into: &bytes)
            try element(slot, index, bytes)
            index += 1
            try skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","): try take(UInt8(ascii: ","), keep: false, into: &ignored)
            case UInt8(ascii: "]"):
                try take(UInt8(ascii: "]"), keep: false, into: &ignored)
                return
            default: throw failure("expected \",\" or \"]\" at byte \(offset)")
            }
        }
    }

    // MARK: Bytes

    /// The next byte without taking it; nil at the end of the document.
    private func peek() throws -> UInt8? {
        if position == end {
            guard !atEnd else { return nil }
            try refill()
            if position == end { return nil }
        }
        return buffer[position]
    }

    private func refill() throws {
        position = 0
        end = 0
        end = try source.read(into: buffer)
        if end == 0 { atEnd = true }
    }

    private func take(_ byte: UInt8, keep: Bool, into output: inout [UInt8]) throws {
        guard try peek() == byte else {
            throw failure("expected \"\(Character(UnicodeScalar(byte)))\" at byte \(offset)")
        }
        position += 1
        offset += 1
        if keep { output.append(byte) }
    }

    private func skipWhitespace() throws {
        while true {
            while position < end {
                switch buffer[position] {
                case 0x20, 0x0A, 0x0D, 0x09:
                    position += 1
                    offset += 1
                default: return
                }
            }
            guard !atEnd else { return }
            try refill()
            if position == end { return }
        }
    }

    /// Takes one value (string, number, literal, array or object), appending its bytes to `output` when `keep`.
    private func value(keep: Bool, into output: inout [UInt8]) throws {
        guard let first = try peek() else { throw failure("the document ends where a value should be") }
        enum Mode { case nested, string, scalar }
        let mode: Mode =
            switch first {
            case UInt8(ascii: "{"), UInt8(ascii: "["): .nested
            case UInt8(ascii: "\""): .string
            default: .scalar
            }
        var closers: [UInt8] = []
        var inString = false
        var escaped = false
        var started = false
        var kept = 0
        while true {
            if position == end {
                try refill()
                if position == end {
                    guard mode == .scalar, started else { throw failure("the document ends inside a value") }
                    return
                }
            }
            let chunkStart = position
            var done = false
            scan: while position < end {
                let byte = buffer[position]
                if !started {
                    started = true
                    position += 1
                    switch mode {
                    case .nested: closers.append(byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]"))
                    case .string: inString = true
                    case .scalar: break
                    }
                    continue
                }
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                        if mode == .string {
                            position += 1
                            done = true
                            break scan
                        }
                    }
                    position += 1
                    continue
                }
                switch mode {
                case .scalar:
                    switch byte {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09:
                        done = true
                        break scan
                    default: position += 1
                    }
                case .nested:
                    switch byte {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"): closers.append(UInt8(ascii: "}"))
                    case UInt8(ascii: "["): closers.append(UInt8(ascii: "]"))
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        guard closers.last == byte else {
                            let at = offset + Int64(position - chunkStart)
                            throw failure("unbalanced \"\(Character(UnicodeScalar(byte)))\" at byte \(at)")
                        }
                        closers.removeLast()
                    default: break
                    }
                    position += 1
                    if closers.isEmpty {
                        done = true
                        break scan
                    }
                case .string:
                    position += 1
                }
            }
            let count = position - chunkStart
            offset += Int64(count)
            if keep {
                kept += count
                guard kept <= Self.valueLimit else { throw failure("a value larger than \(Self.valueLimit) bytes") }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[chunkStart..<position]))
            }
            if done { return }
        }
    }

    /// A key's text: most keys have no escapes and are taken as they are.
    private static func keyText(_ raw: [UInt8], failure: (String) -> BundleError) throws -> String {
        if !raw.contains(UInt8(ascii: "\\")) { return String(decoding: raw.dropFirst().dropLast(), as: UTF8.self) }
        guard let text = try? JSONDecoder().decode(String.self, from: Data(raw)) else {
            throw failure("invalid key \(String(decoding: raw, as: UTF8.self))")
        }
        return text
    }
}
