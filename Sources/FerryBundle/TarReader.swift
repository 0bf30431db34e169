/// Reads tar entries from a part stream, one at a time, applying pax extended headers and never holding more than
/// a header (or a small pax record set) in memory.
struct TarReader {
    private let source: PartStreamReader
    private var remaining: Int64 = 0
    private var padding = 0
    private var currentPath: String?
    private var block: [UInt8] = []

    init(source: PartStreamReader) {
        self.source = source
        block.reserveCapacity(Tar.blockSize)
    }

    /// The next entry's header, or nil after the end-of-archive marker (two zero blocks, then only zeros until
    /// the end of the stream). Unread content of the previous entry is skipped.
    mutating func nextEntry() throws(BundleError) -> TarEntryHeader? {
        try skipContent()
        var pax: [String: String] = [:]
        while true {
            let offset = source.offset
            guard try source.read(Tar.blockSize, into: &block) == Tar.blockSize else {
                throw .truncatedArchive(entry: nil)
            }
            let parsed = try Tar.parseBlock(block, offset: offset)
            switch parsed {
            case .zero:
                guard pax.isEmpty else {
                    throw .invalidTarHeader(offset: offset, reason: "pax header without an entry")
                }
                try finishArchive()
                return nil
            case .header(let flag, let name, let size, let mode, let modificationTime, let link):
                if flag == 0x78 {  // 'x': pax extended header for the next entry
                    guard size <= Int64(Tar.maximumPaxSize) else {
                        throw .invalidTarHeader(offset: offset, reason: "pax extended header of \(size) bytes")
                    }
                    var records: [UInt8] = []
                    guard try source.read(Int(size), into: &records) == Int(size) else {
                        throw .truncatedArchive(entry: name)
                    }
                    try skip(Tar.padding(after: size), entry: name)
                    pax.merge(try Tar.parsePax(records, offset: offset)) { _, new in new }
                    continue
                }
                var entrySize = size
                if let text = pax["size"] {
                    guard let value = Int64(text), value >= 0 else {
                        throw .invalidTarHeader(offset: offset, reason: "pax size \"\(text)\" is not a size")
                    }
                    entrySize = value
                }
                let path = pax["path"] ?? name
                let target = pax["linkpath"] ?? link
                let type: TarEntryType =
                    switch flag {
                    case 0x30, 0: .regular
                    case 0x31: .hardLink(target: target)
                    case 0x32: .symbolicLink(target: target)
                    case 0x33: .characterDevice
                    case 0x34: .blockDevice
                    case 0x35: .directory
                    case 0x36: .fifo
                    default: .other(flag)
                    }
                // Only regular files (and unknown types, conservatively) carry content; links and devices do not,
                // whatever their size field says.
                switch type {
                case .regular, .other: break
                default: entrySize = 0
                }
                remaining = entrySize
                padding = Tar.padding(after: entrySize)
                currentPath = path
                return TarEntryHeader(
                    path: path, type: type, size: entrySize, mode: mode, modificationTime: modificationTime)
            }
        }
    }

    /// Hands the current entry's content to `body` in chunks of at most the stream buffer.
    mutating func readContent(_ body: (UnsafeRawBufferPointer) throws(BundleError) -> Void) throws(BundleError) {
        while remaining > 0 {
            let chunk = try source.next(upTo: Int(min(remaining, Int64(streamBufferSize))))
            guard !chunk.isEmpty else { throw .truncatedArchive(entry: currentPath) }
            remaining -= Int64(chunk.count)
            try body(chunk)
        }
        try skip(padding, entry: currentPath)
        padding = 0
    }

    /// Reads the whole content of a small entry, refusing more than `limit` bytes.
    mutating func readSmallContent(limit: Int, entry: String) throws(BundleError) -> [UInt8] {
        guard remaining <= Int64(limit) else { throw .entryTooLarge(entry: entry, limit: limit) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(remaining))
        try readContent { chunk throws(BundleError) in bytes.append(contentsOf: chunk) }
        return bytes
    }

    private mutating func skipContent() throws(BundleError) {
        try readContent { _ throws(BundleError) in }
    }

    private func skip(_ count: Int, entry: String?) throws(BundleError) {
        var left = count
        while left > 0 {
            let chunk = try source.next(upTo: left)
            guard !chunk.isEmpty else { throw .truncatedArchive(entry: entry) }
            left -= chunk.count
        }
    }

    /// After the first zero block: a second one, then nothing but zeros (what some writers pad records with).
    private mutating func finishArchive() throws(BundleError) {
        let offset = source.offset
        guard try source.read(Tar.blockSize, into: &block) == Tar.blockSize else { throw .truncatedArchive(entry: nil) }
        guard block.allSatisfy({ $0 == 0 }) else {
            throw .invalidTarHeader(offset: offset, reason: "a single zero block inside the archive")
        }
        while true {
            let position = source.offset
            let chunk = try source.next(upTo: streamBufferSize)
            if chunk.isEmpty { return }
            if let index = chunk.firstIndex(where: { $0 != 0 }) {
                throw .trailingData(offset: position + Int64(index - chunk.startIndex))
            }
        }
    }
}
