/// One member of a tar archive.
public struct TarEntry: Sendable, Hashable {
    /// What the member is.
    public enum Kind: Sendable, Hashable {
        /// A regular file with these contents.
        case file([UInt8])
        /// A directory.
        case directory
        /// A symbolic link to `target`.
        case symlink(target: String)
    }

    /// The path inside the archive, relative, without a leading `/`; directories get a trailing `/` when written.
    public var path: String
    /// The member kind and contents.
    public var kind: Kind
    /// Permission bits.
    public var mode: UInt32
    /// Modification time, seconds since the epoch; fixed so that archives are reproducible.
    public var modificationTime: Int64

    /// The fixed time stamp every fixture uses: 2024-01-01T00:00:00Z.
    public static let fixedTime: Int64 = 1_704_067_200

    /// Creates an entry; mode defaults to 0644 for files and links and 0755 for directories.
    public init(path: String, kind: Kind, mode: UInt32? = nil, modificationTime: Int64 = TarEntry.fixedTime) {
        self.path = path
        self.kind = kind
        if let mode {
            self.mode = mode
        } else if case .directory = kind {
            self.mode = 0o755
        } else {
            self.mode = 0o644
        }
        self.modificationTime = modificationTime
    }

    /// A regular file holding `text` as UTF-8.
    public static func file(_ path: String, _ text: String, mode: UInt32 = 0o644) -> TarEntry {
        TarEntry(path: path, kind: .file(Array(text.utf8)), mode: mode)
    }

    /// A directory.
    public static func directory(_ path: String) -> TarEntry { TarEntry(path: path, kind: .directory) }
}

// https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
/// The POSIX ustar format (POSIX.1-1988, as pax's "ustar Interchange Format" describes it): 512-byte headers with
/// octal numeric fields, contents padded to 512 bytes, two zero blocks at the end. Owner is always root (0/0).
public enum TarFormat {
    /// The record size every header and content block is padded to.
    public static let blockSize = 512
    /// Two zero blocks close an archive.
    public static let endOfArchive = [UInt8](repeating: 0, count: 1024)
    /// The largest member an 11-digit octal size field can describe (8 GiB - 1).
    public static let maximumMemberSize: Int64 = 0o77777777777

    /// Which header type a member gets.
    public enum MemberType: UInt8, Sendable {
        /// Regular file, `'0'`.
        case regular = 0x30
        /// Symbolic link, `'2'`.
        case symlink = 0x32
        /// Directory, `'5'`.
        case directory = 0x35
    }

    /// A whole archive of `entries`, end blocks included.
    public static func archive(_ entries: [TarEntry]) throws -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            switch entry.kind {
            case .file(let contents):
                out += try header(
                    path: entry.path, type: .regular, size: Int64(contents.count), mode: entry.mode,
                    modificationTime: entry.modificationTime)
                out += contents
                out += [UInt8](repeating: 0, count: padding(after: Int64(contents.count)))
            case .directory:
                let path = entry.path.hasSuffix("/") ? entry.path : entry.path + "/"
                out += try header(
                    path: path, type: .directory, size: 0, mode: entry.mode, modificationTime: entry.modificationTime)
            case .symlink(let target):
                out += try header(
                    path: entry.path, type: .symlink, size: 0, mode: entry.mode,
                    modificationTime: entry.modificationTime, linkTarget: target)
            }
        }
        return out + endOfArchive
    }

    /// Zero bytes needed after `size` content bytes to reach a block boundary.
    public static func padding(after size: Int64) -> Int {
        let remainder = Int(size % Int64(blockSize))
        return remainder == 0 ? 0 : blockSize - remainder
    }

    /// One 512-byte ustar header.
    public static func header(
        path: String, type: MemberType, size: Int64, mode: UInt32, modificationTime: Int64,
        linkTarget: String = ""
    ) throws -> [UInt8] {
        guard size >= 0, size <= maximumMemberSize else {
            throw TestSupportError.invalidArgument("tar member \(path): size \(size) does not fit a ustar header")
        }
        let (prefix, name) = try splitPath(path)
        let link = Array(linkTarget.utf8)
        guard link.count <= 100 else {
            throw TestSupportError.invalidArgument("tar member \(path): link target longer than 100 bytes")
        }
        var block = [UInt8](repeating: 0, count: blockSize)
        put(name, at: 0, width: 100, into: &block)
        put(octal(Int64(mode), digits: 7), at: 100, width: 8, into: &block)
        put(octal(0, digits: 7), at: 108, width: 8, into: &block)
        put(octal(0, digits: 7), at: 116, width: 8, into: &block)
        put(octal(size, digits: 11), at: 124, width: 12, into: &block)
        put(octal(modificationTime, digits: 11), at: 136, width: 12, into: &block)
        block[156] = type.rawValue
        put(link, at: 157, width: 100, into: &block)
        put(Array("ustar\0".utf8), at: 257, width: 6, into: &block)
        put(Array("00".utf8), at: 263, width: 2, into: &block)
        put(Array("root".utf8), at: 265, width: 32, into: &block)
        put(Array("root".utf8), at: 297, width: 32, into: &block)
        put(octal(0, digits: 7), at: 329, width: 8, into: &block)
        put(octal(0, digits: 7), at: 337, width: 8, into: &block)
        put(prefix, at: 345, width: 155, into: &block)
        // The checksum is the byte sum of the header with its own field read as eight spaces.
        put([UInt8](repeating: 0x20, count: 8), at: 148, width: 8, into: &block)
        let sum = block.reduce(0) { $0 + Int64($1) }
        put(octal(sum, digits: 6) + [0, 0x20], at: 148, width: 8, into: &block)
        return block
    }

    /// Splits a long path at a `/` into the 155-byte prefix and 100-byte name fields.
    static func splitPath(_ path: String) throws -> (prefix: [UInt8], name: [UInt8]) {
        let bytes = Array(path.utf8)
        if bytes.count <= 100 { return ([], bytes) }
        for index in stride(from: min(bytes.count - 1, 155), through: 1, by: -1) where bytes[index] == 0x2F {
            let name = Array(bytes[(index + 1)...])
            if !name.isEmpty, name.count <= 100 { return (Array(bytes[..<index]), name) }
        }
        throw TestSupportError.invalidArgument("tar member path too long for ustar: \(path)")
    }

    /// `digits` octal digits, zero-padded, NUL-terminated.
    static func octal(_ value: Int64, digits: Int) -> [UInt8] {
        let text = String(value, radix: 8)
        return Array((String(repeating: "0", count: max(0, digits - text.count)) + text).utf8) + [0]
    }

    private static func put(_ bytes: [UInt8], at offset: Int, width: Int, into block: inout [UInt8]) {
        for (index, byte) in bytes.prefix(width).enumerated() { block[offset + index] = byte }
    }
}
