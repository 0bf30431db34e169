// The tar format ferry writes and reads: POSIX ustar headers, with a pax extended header ('x') in front of an
// entry whose path does not fit the 100-byte name field or whose size does not fit 11 octal digits.
// https://pubs.opengroup.org/onlinepubs/9799919799/utilities/pax.html (ustar Interchange Format, pax Header Block)

/// What a tar header says an entry is.
public enum TarEntryType: Sendable, Hashable, CustomStringConvertible {
    /// `'0'` (or NUL, the pre-POSIX spelling).
    case regular
    /// `'5'`.
    case directory
    /// `'2'`, pointing at `target`.
    case symbolicLink(target: String)
    /// `'1'`, naming an earlier entry `target`.
    case hardLink(target: String)
    /// `'3'`.
    case characterDevice
    /// `'4'`.
    case blockDevice
    /// `'6'`.
    case fifo
    /// Any other type flag (`'7'`, `'g'`, GNU `'L'`, …).
    case other(UInt8)

    /// The kind in words, as error messages use it.
    public var description: String {
        switch self {
        case .regular: "regular file"
        case .directory: "directory"
        case .symbolicLink: "symbolic link"
        case .hardLink: "hard link"
        case .characterDevice: "character device"
        case .blockDevice: "block device"
        case .fifo: "FIFO"
        case .other(let flag): "type '\(Self.flagText(flag))'"
        }
    }

    private static func flagText(_ flag: UInt8) -> String {
        (0x21...0x7E).contains(flag) ? String(UnicodeScalar(flag)) : "\\(\(flag))"
    }
}

/// One entry's header after any pax extended header was applied.
public struct TarEntryHeader: Sendable, Hashable {
    /// The path, exactly as stored (no normalisation).
    public var path: String
    /// The entry type.
    public var type: TarEntryType
    /// Content bytes that follow the header (0 for everything but regular files).
    public var size: Int64
    /// Permission bits.
    public var mode: UInt32
    /// Modification time, seconds since the epoch.
    public var modificationTime: Int64

    /// Creates a header.
    public init(path: String, type: TarEntryType, size: Int64, mode: UInt32, modificationTime: Int64) {
        self.path = path
        self.type = type
        self.size = size
        self.mode = mode
        self.modificationTime = modificationTime
    }
}

/// Encoding and decoding of tar headers.
public enum Tar {
    /// Headers and content are padded to this many bytes.
    public static let blockSize = 512
    /// Largest size an 11-digit octal field holds (8 GiB - 1); larger entries get a pax `size` record.
    public static let maximumOctalSize: Int64 = 0o77777777777
    /// Largest pax extended header ferry accepts; its own are a few hundred bytes.
    public static let maximumPaxSize = 64 * 1024

    /// Zero bytes after `size` content bytes up to the next block boundary.
    public static func padding(after size: Int64) -> Int {
        let remainder = Int(size % Int64(blockSize))
        return remainder == 0 ? 0 : blockSize - remainder
    }

    /// How many bytes ``headerBytes(for:)`` makes, without making them for the common entry that needs no pax
    /// header: an export sizes its stream before writing it, and a bundle has tens of thousands of blobs.
    public static func headerSize(for header: TarEntryHeader) -> Int {
        paxRecords(for: header).isEmpty ? blockSize : headerBytes(for: header).count
    }

    /// The bytes that precede an entry's content: a pax header (when needed) and the ustar header.
    public static func headerBytes(for header: TarEntryHeader) -> [UInt8] {
        let pax = paxRecords(for: header)
        let pathBytes = Array(header.path.utf8)
        var out: [UInt8] = []
        if !pax.isEmpty {
            let records = pax.flatMap(paxRecord)
            // The name of a pax header is not used by readers; this is what GNU tar writes, shortened.
            let base = header.path.split(separator: "/").last.map(String.init) ?? "entry"
            out += ustarHeader(
                name: Array("PaxHeaders/\(base)".utf8.prefix(100)), flag: 0x78, size: Int64(records.count), mode: 0o644,
                modificationTime: header.modificationTime,
                link: [])
            out += records
            out += [UInt8](repeating: 0, count: padding(after: Int64(records.count)))
        }
        let flag: UInt8
        var link: [UInt8] = []
        switch header.type {
        case .regular: flag = 0x30
        case .directory: flag = 0x35
        case .symbolicLink(let target):
            flag = 0x32
            link = Array(target.utf8)
        case .hardLink(let target):
            flag = 0x31
            link = Array(target.utf8)
        case .characterDevice: flag = 0x33
        case .blockDevice: flag = 0x34
        case .fifo: flag = 0x36
        case .other(let value): flag = value
        }
        out += ustarHeader(
            name: Array(pathBytes.prefix(100)), flag: flag, size: min(header.size, maximumOctalSize),
            mode: header.mode, modificationTime: header.modificationTime, link: Array(link.prefix(100)))
        return out
    }

    /// The pax records an entry needs: a path over 100 bytes (or with a NUL), a size over 11 octal digits.
    private static func paxRecords(for header: TarEntryHeader) -> [(String, String)] {
        var pax: [(String, String)] = []
        let pathLength = header.path.utf8.count
        if pathLength > 100 || header.path.utf8.contains(0) { pax.append(("path", header.path)) }
        if header.size > maximumOctalSize { pax.append(("size", String(header.size))) }
        return pax
    }

    /// One `"<length> <key>=<value>\n"` record; the length counts itself.
    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n".utf8.count
        var length = body + 1
        while String(length).utf8.count + body != length { length += 1 }
        return Array("\(length) \(key)=\(value)\n".utf8)
    }

    static func ustarHeader(
        name: [UInt8], flag: UInt8, size: Int64, mode: UInt32, modificationTime: Int64, link: [UInt8]
    ) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        put(name, at: 0, width: 100, into: &block)
        put(octal(Int64(mode & 0o7777), digits: 7), at: 100, width: 8, into: &block)
        put(octal(0, digits: 7), at: 108, width: 8, into: &block)
        put(octal(0, digits: 7), at: 116, width: 8, into: &block)
        put(octal(size, digits: 11), at: 124, width: 12, into: &block)
        put(octal(max(0, min(modificationTime, maximumOctalSize)), digits: 11), at: 136, width: 12, into: &block)
        block[156] = flag
        put(link, at: 157, width: 100, into: &block)
        put(Array("ustar\0".utf8), at: 257, width: 6, into: &block)
        put(Array("00".utf8), at: 263, width: 2, into: &block)
        put(octal(0, digits: 7), at: 329, width: 8, into: &block)
        put(octal(0, digits: 7), at: 337, width: 8, into: &block)
        put([UInt8](repeating: 0x20, count: 8), at: 148, width: 8, into: &block)
        let sum = block.reduce(Int64(0)) { $0 + Int64($1) }
        put(octal(sum, digits: 6) + [0, 0x20], at: 148, width: 8, into: &block)
        return block
    }

    static func octal(_ value: Int64, digits: Int) -> [UInt8] {
        let text = String(value, radix: 8)
        return Array((String(repeating: "0", count: max(0, digits - text.count)) + text).utf8) + [0]
    }

    private static func put(_ bytes: [UInt8], at offset: Int, width: Int, into block: inout [UInt8]) {
        for (index, byte) in bytes.prefix(width).enumerated() { block[offset + index] = byte }
    }

    // MARK: Decoding

    /// What a 512-byte header block holds.
    enum Block: Equatable {
        /// All zeros: part of the end-of-archive marker.
        case zero
        /// A ustar header.
        case header(flag: UInt8, name: String, size: Int64, mode: UInt32, modificationTime: Int64, link: String)
    }

    /// Parses one header block; `offset` (of the block in the stream) only goes into errors.
    static func parseBlock(_ block: [UInt8], offset: Int64) throws(BundleError) -> Block {
        precondition(block.count == blockSize)
        if block.allSatisfy({ $0 == 0 }) { return .zero }
        func invalid(_ reason: String) -> BundleError { .invalidTarHeader(offset: offset, reason: reason) }
        guard block[257..<263].elementsEqual(Array("ustar\0".utf8)), block[263..<265].elementsEqual([0x30, 0x30])
        else { throw invalid("not a POSIX ustar header") }
        let recorded = try number(block, 148, 8, offset: offset, field: "checksum")
        var sum: Int64 = 0
        for index in 0..<blockSize { sum += (148..<156).contains(index) ? 0x20 : Int64(block[index]) }
        guard sum == recorded else { throw invalid("header checksum is \(recorded), the header sums to \(sum)") }
        let name = text(block, 0, 100)
        let prefix = text(block, 345, 155)
        return .header(
            flag: block[156], name: prefix.isEmpty ? name : prefix + "/" + name,
            size: try number(block, 124, 12, offset: offset, field: "size"),
            mode: UInt32(truncatingIfNeeded: try number(block, 100, 8, offset: offset, field: "mode")),
            modificationTime: try number(block, 136, 12, offset: offset, field: "mtime"), link: text(block, 157, 100))
    }

    private static func text(_ block: [UInt8], _ start: Int, _ width: Int) -> String {
        let field = block[start..<(start + width)]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[start..<end], as: UTF8.self)
    }

    /// An octal field: optional leading spaces, digits, then NUL or space padding.
    private static func number(
        _ block: [UInt8], _ start: Int, _ width: Int, offset: Int64, field: String
    ) throws(BundleError) -> Int64 {
        var value: Int64 = 0
        var index = start
        let end = start + width
        while index < end, block[index] == 0x20 { index += 1 }
        var digits = 0
        while index < end, (0x30...0x37).contains(block[index]) {
            value = value * 8 + Int64(block[index] - 0x30)
            digits += 1
            index += 1
        }
        while index < end, block[index] == 0 || block[index] == 0x20 { index += 1 }
        guard index == end, digits > 0 || field == "checksum" else {
            throw .invalidTarHeader(offset: offset, reason: "\(field) field is not an octal number")
        }
        return value
    }

    /// Parses pax records, keeping the last value of each key.
    static func parsePax(_ bytes: [UInt8], offset: Int64) throws(BundleError) -> [String: String] {
        var records: [String: String] = [:]
        var index = 0
        while index < bytes.count {
            guard let space = bytes[index...].firstIndex(of: 0x20),
                // Compared as a difference: `index + length` traps on a length near Int.max.
                let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)), length > 0,
                length <= bytes.count - index, bytes[index + length - 1] == 0x0A,
                let equals = bytes[(space + 1)..<(index + length)].firstIndex(of: 0x3D)
            else { throw .invalidTarHeader(offset: offset, reason: "malformed pax extended header") }
            let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
            records[key] = String(decoding: bytes[(equals + 1)..<(index + length - 1)], as: UTF8.self)
            index += length
        }
        return records
    }
}
