import FerrySystem
import Foundation
import Ledger
import OCIModel

/// How a bundle's files are named, and how `ferry import` finds them from whichever of them it was given.
///
/// `--to FILE` writes `FILE` (one tar) or, with `--split-size`, `FILE.part0001`, `FILE.part0002`, … (the tar
/// stream cut at byte boundaries; parts are concatenated in order on import), and always the sidecar
/// `FILE.ferry-bundle.json`. Four digits allow 9999 parts.
public enum BundleFiles {
    /// The sidecar's suffix.
    public static let sidecarSuffix = ".ferry-bundle.json"
    /// The most parts a bundle can have.
    public static let maximumParts = 9999

    /// `FILE.ferry-bundle.json`.
    public static func sidecarPath(for file: String) -> String { file + sidecarSuffix }

    /// `FILE.partNNNN` for part `number` (1-based).
    public static func partPath(for file: String, number: Int) -> String {
        let digits = String(number)
        return file + ".part" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The `FILE` a path belongs to: the path without `.ferry-bundle.json` or `.partNNNN`.
    public static func base(of path: String) -> String {
        if path.hasSuffix(sidecarSuffix) { return String(path.dropLast(sidecarSuffix.count)) }
        if let range = path.range(of: ".part", options: .backwards) {
            let number = path[range.upperBound...]
            if number.count == 4, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber) {
                return String(path[..<range.lowerBound])
            }
        }
        return path
    }

    /// The last path component.
    static func name(_ path: String) -> String { FileSystem.lastComponent(of: path) }

    /// The directory of `path` (`.` for a bare name).
    static func directory(_ path: String) -> String {
        FileSystem.parentDirectory(of: path)
    }
}

/// A bundle's sidecar and part files, found and size-checked, not yet read; the sidecar checked and its history
/// left in the file.
public struct LocatedBundle: Sendable, Hashable {
    /// The sidecar's path.
    public var sidecarPath: String
    /// The bundle description without its history.
    public var description: BundleOutline
    /// The bundle's files in stream order, as the sidecar lists them.
    public var parts: [BundlePart]
    /// Each part's path, in stream order.
    public var partPaths: [String]
    /// SHA-256 of the description inside the tar, when ferry wrote both it and the sidecar.
    var descriptionDigest: Digest?
    /// The exporting store's last sighting of each tag the bundle's history has.
    var tagsLastSeen: [BundleTagKey: Date]

    /// Finds the sidecar and every part from `files` (any of: the sidecar, the single tar, parts, or the `--to`
    /// name of a split bundle), reads the sidecar and checks that every part exists with the size it records.
    ///
    /// A part is looked for among the files given (by name), then next to the sidecar, then next to each file
    /// given, so parts spread over several media can be named one by one.
    /// - Throws: ``BundleError/fileNotFound(path:)``, ``BundleError/mixedBundles(first:second:)``,
    ///   ``BundleError/sidecarMissing(path:)``, ``BundleError/partMissing(name:number:count:searched:)``,
    ///   ``BundleError/partTruncated(path:size:expected:)``, ``BundleError/partTooLong(path:size:expected:)``,
    ///   or a sidecar parse error.
    public static func locate(_ files: [String]) throws(BundleError) -> LocatedBundle {
        guard let first = files.first else { throw .fileNotFound(path: "(no file given)") }
        // The `--to` name of a split bundle is no file of its own, but it names the bundle as well as its sidecar.
        for file in files where !FileSystem.exists(file) {
            guard file == BundleFiles.base(of: file), FileSystem.exists(BundleFiles.sidecarPath(for: file)) else {
                throw .fileNotFound(path: file)
            }
        }
        let baseName = BundleFiles.name(BundleFiles.base(of: first))
        for file in files.dropFirst() where BundleFiles.name(BundleFiles.base(of: file)) != baseName {
            throw .mixedBundles(first: first, second: file)
        }
        let sidecarPath =
            files.first { $0.hasSuffix(BundleFiles.sidecarSuffix) }
            ?? BundleFiles.sidecarPath(for: BundleFiles.base(of: first))
        guard FileSystem.exists(sidecarPath) else { throw .sidecarMissing(path: sidecarPath) }
        let sidecar = try DescriptionReading.readSidecar(sidecarPath)
        guard !sidecar.parts.isEmpty else { throw .invalidSidecar(path: sidecarPath, reason: "no parts listed") }

        var directories = [BundleFiles.directory(sidecarPath)]
        for file in files where !directories.contains(BundleFiles.directory(file)) {
            directories.append(BundleFiles.directory(file))
        }
        var partPaths: [String] = []
        for (index, part) in sidecar.parts.enumerated() {
            guard part.name == BundleFiles.name(part.name), !part.name.isEmpty, part.name != "..", part.name != "."
            else { throw .invalidSidecar(path: sidecarPath, reason: "part name \"\(part.name)\" is not a file name") }
            let candidates =
                files.filter { BundleFiles.name($0) == part.name } + directories.map { $0 + "/" + part.name }
            guard let path = candidates.first(where: FileSystem.exists) else {
                throw .partMissing(
                    name: part.name, number: index + 1, count: sidecar.parts.count, searched: directories)
            }
            let size = FileSystem.fileSize(path) ?? -1
            if size < part.size { throw .partTruncated(path: path, size: max(0, size), expected: part.size) }
            if size > part.size { throw .partTooLong(path: path, size: size, expected: part.size) }
            partPaths.append(path)
        }
        return LocatedBundle(
            sidecarPath: sidecarPath, description: sidecar.outline, parts: sidecar.parts, partPaths: partPaths,
            descriptionDigest: sidecar.descriptionDigest, tagsLastSeen: sidecar.tagsLastSeen)
    }
}

/// `--split-size` values: a number with an optional unit, `K`/`M`/`G`/`T` (powers of 1000, also `KB`…) or
/// `Ki`/`Mi`/`Gi`/`Ti` (powers of 1024, also `KiB`…); `B` or no unit means bytes.
public enum ByteCount {
    /// The smallest part: one tar block, so that every part holds something.
    public static let minimumSplitSize: Int64 = 512

    /// Parses `4GiB`, `700MiB`, `4.7G`, `1048576`.
    public static func parse(_ text: String) throws(BundleError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let numberEnd = trimmed.firstIndex { !($0.isNumber || $0 == ".") } ?? trimmed.endIndex
        let numberText = trimmed[..<numberEnd]
        let unit = trimmed[numberEnd...].trimmingCharacters(in: .whitespaces).lowercased()
        guard !numberText.isEmpty, numberText.allSatisfy(\.isASCII), let number = Double(numberText), number > 0
        else { throw .invalidSplitSize(text: text, reason: "expected a positive number with a unit, e.g. 4GiB") }
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
            "ki": 1024, "kib": 1024, "mi": 1_048_576, "mib": 1_048_576, "gi": 1_073_741_824, "gib": 1_073_741_824,
            "ti": 1_099_511_627_776, "tib": 1_099_511_627_776,
        ]
        guard let multiplier = multipliers[unit] else {
            throw .invalidSplitSize(text: text, reason: "unknown unit \"\(unit)\" (use K, M, G, T, Ki, Mi, Gi or Ti)")
        }
        let bytes = (number * multiplier).rounded(.down)
        guard bytes < 9e18 else { throw .invalidSplitSize(text: text, reason: "too large") }
        guard Int64(bytes) >= minimumSplitSize else {
            throw .invalidSplitSize(text: text, reason: "parts must hold at least \(minimumSplitSize) bytes")
        }
        return Int64(bytes)
    }
}
