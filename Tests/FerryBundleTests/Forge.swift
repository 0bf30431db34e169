import FerryBundle
import FerryTestSupport
import Foundation
import Ledger
import OCIModel

/// One tar entry as a test writes or reads it, independent of FerryBundle's own tar code.
struct ForgedEntry: Equatable {
    var path: String
    /// The ustar type flag: `'0'` file, `'1'` hard link, `'2'` symlink, `'3'` char device, `'5'` directory, …
    var type: UInt8
    var content: [UInt8]
    var link: String

    init(path: String, type: UInt8 = 0x30, content: [UInt8] = [], link: String = "") {
        self.path = path
        self.type = type
        self.content = content
        self.link = link
    }

    static func file(_ path: String, _ content: [UInt8]) -> ForgedEntry { ForgedEntry(path: path, content: content) }
}

/// Builds and takes apart bundles byte by byte, for the rejection tests.
enum Forge {
    /// A ustar archive of `entries`, written with the test-support ustar writer and patched for the types it
    /// does not write (hard links, devices, FIFOs).
    static func tar(_ entries: [ForgedEntry]) throws -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            var header = try TarFormat.header(
                path: entry.path, type: .regular, size: Int64(entry.content.count), mode: 0o644,
                modificationTime: TarEntry.fixedTime)
            header[156] = entry.type
            for (index, byte) in Array(entry.link.utf8).prefix(100).enumerated() { header[157 + index] = byte }
            for index in 148..<156 { header[index] = 0x20 }
            let sum = header.reduce(0) { $0 + Int($1) }
            let octal = Array(String(sum, radix: 8).utf8)
            let field = [UInt8](repeating: 0x30, count: 6 - octal.count) + octal + [0, 0x20]
            for (index, byte) in field.enumerated() { header[148 + index] = byte }
            out += header + entry.content
            out += [UInt8](repeating: 0, count: TarFormat.padding(after: Int64(entry.content.count)))
        }
        return out + TarFormat.endOfArchive
    }

    /// The entries of a ustar archive (no pax support needed: every name in a small bundle fits).
    static func entries(of archive: [UInt8]) -> [ForgedEntry] {
        var entries: [ForgedEntry] = []
        var offset = 0
        while offset + 512 <= archive.count {
            let header = Array(archive[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) { break }
            func text(_ start: Int, _ width: Int) -> String {
                let field = header[start..<(start + width)]
                return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
            }
            let sizeText = text(124, 12).trimmingCharacters(in: .whitespaces)
            let size = Int(sizeText, radix: 8) ?? 0
            let start = offset + 512
            entries.append(
                ForgedEntry(
                    path: text(0, 100), type: header[156], content: Array(archive[start..<(start + size)]),
                    link: text(157, 100)))
            offset = start + size + TarFormat.padding(after: Int64(size))
        }
        return entries
    }

    /// Writes `archive` as a bundle at `file` (cut into parts of `splitSize` when given) with a sidecar holding
    /// `description` and the correct part checksums; returns the sidecar's path.
    @discardableResult
    static func write(
        _ archive: [UInt8], description: BundleDescription, to file: String, splitSize: Int? = nil
    ) throws -> String {
        var parts: [BundlePart] = []
        if let splitSize {
            var number = 1
            var offset = 0
            while offset < archive.count {
                let chunk = Array(archive[offset..<min(archive.count, offset + splitSize)])
                let path = BundleFiles.partPath(for: file, number: number)
                try TestFiles.write(chunk, to: path)
                parts.append(partEntry(chunk, name: (path as NSString).lastPathComponent))
                offset += splitSize
                number += 1
            }
        } else {
            try TestFiles.write(archive, to: file)
            parts.append(partEntry(archive, name: (file as NSString).lastPathComponent))
        }
        let sidecar = BundleFiles.sidecarPath(for: file)
        try TestFiles.write(try BundleSidecar(description: description, parts: parts).encoded(), to: sidecar)
        return sidecar
    }

    /// Replaces the embedded `ferry-bundle.json` with `description`.
    static func replacingDescription(
        _ entries: [ForgedEntry], with description: BundleDescription
    ) throws
        -> [ForgedEntry]
    {
        try entries.map { entry in
            entry.path == "ferry-bundle.json" ? .file(entry.path, try description.encoded()) : entry
        }
    }
}
