import FerryTestSupport

@testable import FerryBundle

/// The bundle tar reader as a fuzz target (it is internal to FerryBundle, so the target lives with its tests).
enum TarFuzzTarget {
    /// Reads a whole tar stream into its entries, as the bundle importer's reader does.
    typealias TarRead = @Sendable ([UInt8]) throws -> [(TarEntryHeader, [UInt8])]

    /// The bundle tar reader, through `read`.
    ///
    /// Mutants get their header checksums recomputed first, so the mutations reach the fields behind the checksum.
    /// Property: a refusal is one of the tar-stream errors; what is accepted, written again with ferry's tar writer,
    /// reads back as the same paths, types, sizes and contents.
    static func make(read: @escaping TarRead) throws -> FuzzTarget {
        FuzzTarget(name: "tar", seeds: try tarSeeds(), tokens: tarTokens, repair: repairChecksums) {
            bytes throws(FuzzViolation) in
            let entries: [(TarEntryHeader, [UInt8])]
            do {
                entries = try read(bytes)
            } catch let error as BundleError {
                switch error {
                case .invalidTarHeader(_, let reason) where !reason.isEmpty: return .rejected
                case .truncatedArchive, .trailingData, .entryTooLarge: return .rejected
                default: throw FuzzViolation("refused with \(error), which is not a tar-stream error")
                }
            } catch {
                throw FuzzViolation("refused with \(error), which is not a BundleError")
            }
            var rewritten: [UInt8] = []
            for (header, content) in entries {
                guard header.size == Int64(content.count) else {
                    throw FuzzViolation("entry \(header.path) says \(header.size) bytes but has \(content.count)")
                }
                rewritten += Tar.headerBytes(for: header) + content
                rewritten += [UInt8](repeating: 0, count: Tar.padding(after: header.size))
            }
            rewritten += TarFormat.endOfArchive
            let again: [(TarEntryHeader, [UInt8])]
            do { again = try read(rewritten) } catch {
                throw FuzzViolation("accepted, but ferry's own rewrite of it is refused: \(error)")
            }
            guard again.count == entries.count else {
                throw FuzzViolation("rewritten, \(entries.count) entries read back as \(again.count)")
            }
            for ((first, content), (second, contentAgain)) in zip(entries, again) {
                let sameType = first.type == second.type || first.type.isLink && second.type.isLink
                guard first.path == second.path, first.size == second.size, sameType, content == contentAgain else {
                    throw FuzzViolation("entry \(first) reads back as \(second)")
                }
            }
            return .accepted
        }
    }

    /// Recomputes the checksum of every block that carries the ustar magic.
    @Sendable static func repairChecksums(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        var start = 0
        while start + Tar.blockSize <= bytes.count {
            if bytes[(start + 257)..<(start + 263)].elementsEqual("ustar\0".utf8) {
                for index in (start + 148)..<(start + 156) { bytes[index] = 0x20 }
                let sum = bytes[start..<(start + Tar.blockSize)].reduce(0) { $0 + Int($1) }
                let digits = Array(String(sum, radix: 8).utf8)
                let field = [UInt8](repeating: 0x30, count: max(0, 6 - digits.count)) + digits.suffix(6) + [0, 0x20]
                bytes.replaceSubrange((start + 148)..<(start + 156), with: field)
            }
            start += Tar.blockSize
        }
        return bytes
    }

    static func tarSeeds() throws -> [[UInt8]] {
        let long = "blobs/sha256/" + String(repeating: "ab", count: 60)
        var paxSized = Tar.headerBytes(
            for: TarEntryHeader(path: long, type: .regular, size: 5, mode: 0o600, modificationTime: 1_700_000_000))
        paxSized += Array("hello".utf8) + [UInt8](repeating: 0, count: 507) + TarFormat.endOfArchive
        // A pax header of two records before a small file, so mutations reach the second record's length.
        let records = Tar.paxRecord("path", "f") + Tar.paxRecord("comment", "seed")
        var twoRecords = Tar.ustarHeader(
            name: Array("PaxHeaders/f".utf8), flag: 0x78, size: Int64(records.count), mode: 0o644, modificationTime: 0,
            link: [])
        twoRecords += records + [UInt8](repeating: 0, count: Tar.padding(after: Int64(records.count)))
        twoRecords += Tar.headerBytes(for: TarEntryHeader(path: "f", type: .regular, size: 1, mode: 0o644, modificationTime: 0))
        twoRecords += [0x41] + [UInt8](repeating: 0, count: 511) + TarFormat.endOfArchive
        return [
            twoRecords,
            try TarFormat.archive([
                .directory("blobs/"), .directory("blobs/sha256/"), .file("oci-layout", #"{"imageLayoutVersion":"1.0.0"}"#),
                .file("index.json", #"{"schemaVersion":2,"manifests":[]}"#),
            ]),
            try TarFormat.archive([
                TarEntry(path: "link", kind: .symlink(target: "target")), .file(String(repeating: "d/", count: 70) + "f", "x"),
            ]),
            paxSized + [UInt8](repeating: 0, count: 512),
        ]
    }

    static let tarTokens: [[UInt8]] = [
        "ustar\0", "00", "0000644\0", "00000000012\0", "77777777777\0", "999999999999", " 17 ", "\0\0\0\0",
        "30 path=" + String(repeating: "p", count: 21) + "\n", "9223372036854775807 size=1\n", "20 size=99999999999\n",
        "12 linkpath=", "PaxHeaders/", "../../etc/passwd", "/abs",
    ].map { Array($0.utf8) } + [[0x78], [0x4C], [0x67], [0x31], [0x32], [UInt8](repeating: 0, count: 512)]
}

extension TarEntryType {
    /// Links keep their kind through a rewrite, but a target longer than 100 bytes is cut by the ustar field.
    fileprivate var isLink: Bool {
        switch self {
        case .symbolicLink, .hardLink: true
        default: false
        }
    }
}
