import FerrySystem
import Foundation
import Ledger
import OCIModel

/// Bundle descriptions read in parts: the big arrays one element at a time, the rest (the shell) whole.
enum DescriptionReading {
    /// What a sidecar says, its history checked and left in the file.
    struct Sidecar {
        var outline: BundleOutline
        var parts: [BundlePart]
        /// SHA-256 of the sidecar without its `parts` member: what the copy inside the tar hashes to when ferry
        /// wrote both. Nil when the member cannot be cut out that way (a sidecar written by hand).
        var descriptionDigest: Digest?
        /// The exporting store's last sighting of each tag.
        var tagsLastSeen: [BundleTagKey: Date]
    }

    /// Reads and checks the sidecar at `path`: every element of every array is decoded (so a bad history is
    /// refused before the store is touched), only the outline is kept.
    static func readSidecar(_ path: String) throws(BundleError) -> Sidecar {
        func invalid(_ reason: String) -> BundleError { .invalidSidecar(path: path, reason: reason) }
        let reader = JSONReader(try FileByteSource(path: path)) { invalid("not valid JSON: \($0)") }
        let decoder = BundleJSON.decoder()
        var references: [BundleReference] = []
        var blobs: [BundleBlob] = []
        var excluded: [BundleDescription.ExcludedBlob] = []
        var tagsLastSeen: [BundleTagKey: Date] = [:]
        var repositories = Set<String>()
        var mediaTypes = MediaTypeInterner()
        var elementError: String?
        let walk = try bundleErrors(invalid) {
            try reader.walk(streaming: DescriptionSlot.paths, keepingShell: true) { position, index, bytes in
                // Decoding goes on only to the first error: the format version, checked first, may explain it.
                guard elementError == nil, let slot = DescriptionSlot(rawValue: position) else { return }
                let element: DescriptionElement
                do throws(DescriptionElement.Failure) {
                    element = try .decode(bytes, slot: slot, index: index, decoder: decoder)
                } catch {
                    elementError = error.reason
                    return
                }
                switch element {
                case .reference(var reference):
                    reference.mediaType = mediaTypes.intern(reference.mediaType)
                    references.append(reference)
                case .blob(let blob): blobs.append(blob)
                case .excludedBlob(let blob): excluded.append(blob)
                case .history(.repository(let entry)):
                    // A lookup by repository finds its first entry, and in it the first record of a tag.
                    guard repositories.insert(entry.repository).inserted else { return }
                    for tag in entry.tags {
                        let key = BundleTagKey(repository: entry.repository, tag: tag.tag)
                        if tagsLastSeen[key] == nil { tagsLastSeen[key] = tag.lastSeen }
                    }
                case .history: break
                }
            }
        }
        struct Version: Decodable { var formatVersion: Int }
        guard let version = try? decoder.decode(Version.self, from: Data(walk.shell)) else {
            throw invalid("not a ferry bundle description (no formatVersion)")
        }
        guard version.formatVersion == BundleDescription.formatVersion else {
            throw .unsupportedFormat(path: path, version: version.formatVersion)
        }
        if let elementError { throw invalid(elementError) }
        let shell: BundleSidecar
        do { shell = try decoder.decode(BundleSidecar.self, from: Data(walk.shell)) } catch {
            throw invalid(BundleJSON.reason(error))
        }
        var outline = shell.description.outline
        outline.references = references
        outline.blobs = blobs
        outline.excludedBlobs = excluded
        var digest: Digest?
        if let parts = walk.members.first(where: { $0.key == "parts" }), let start = parts.start {
            digest = try digestOmitting(start..<parts.end, of: path)
        }
        return Sidecar(outline: outline, parts: shell.parts, descriptionDigest: digest, tagsLastSeen: tagsLastSeen)
    }

    /// A digest of what a description says rather than how it is written (every element decoded and encoded
    /// again; `parts` ignored), and the bundle ID it names: equal digests, equal descriptions.
    static func canonicalDigest(
        _ source: any ByteSource, failure: @escaping (String) -> BundleError
    ) throws(BundleError) -> (digest: Digest, id: Digest) {
        let reader = JSONReader(source, failure: failure)
        let decoder = BundleJSON.decoder()
        let encoder = BundleJSON.encoder()
        var hashers = DescriptionSlot.allCases.map { _ in DigestHasher(.sha256) }
        let walk = try bundleErrors(failure) {
            try reader.walk(streaming: DescriptionSlot.paths, keepingShell: true) { position, index, bytes in
                guard let slot = DescriptionSlot(rawValue: position) else { return }
                let element: DescriptionElement
                do throws(DescriptionElement.Failure) {
                    element = try .decode(bytes, slot: slot, index: index, decoder: decoder)
                } catch {
                    throw failure(error.reason)
                }
                let encoded: [UInt8]
                do { encoded = try element.encoded(encoder) } catch { throw failure("cannot encode: \(error)") }
                hashers[position].update(Array("\(encoded.count):".utf8))
                hashers[position].update(encoded)
            }
        }
        let shell: BundleDescription
        var total = DigestHasher(.sha256)
        do {
            shell = try decoder.decode(BundleDescription.self, from: Data(walk.shell))
            total.update(Array(try encoder.encode(shell)))
        } catch {
            throw failure(BundleJSON.reason(error))
        }
        for hasher in hashers { total.update(Array(hasher.finalize().description.utf8)) }
        return (total.finalize(), shell.id)
    }

    /// SHA-256 of the file at `path` without the bytes in `range`.
    private static func digestOmitting(_ range: Range<Int64>, of path: String) throws(BundleError) -> Digest {
        let file: ReadableFile
        do { file = try ReadableFile(path: path) } catch { throw .io(error) }
        defer { file.close() }
        var hasher = DigestHasher(.sha256)
        var buffer = [UInt8](repeating: 0, count: streamBufferSize)
        var offset: Int64 = 0
        while true {
            let count: Int
            do { count = try file.read(into: &buffer) } catch { throw .io(error) }
            guard count > 0 else { return hasher.finalize() }
            let chunk = offset..<(offset + Int64(count))
            buffer.withUnsafeBytes { raw in
                if chunk.lowerBound < range.lowerBound {
                    let end = Int(min(chunk.upperBound, range.lowerBound) - offset)
                    hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<end]))
                }
                if chunk.upperBound > range.upperBound {
                    let start = Int(max(chunk.lowerBound, range.upperBound) - offset)
                    hasher.update(UnsafeRawBufferPointer(rebasing: raw[start..<count]))
                }
            }
            offset += Int64(count)
        }
    }

    /// Runs `body`, whose errors are bundle errors but for those of a reader's element handler.
    static func bundleErrors<T>(_ other: (String) -> BundleError, _ body: () throws -> T) throws(BundleError) -> T {
        do { return try body() } catch let error as BundleError { throw error } catch { throw other("\(error)") }
    }
}

/// A bundle's history read again from its description for each pass of an import: the copy from inside the tar,
/// which the part checksums vouch for, in the import's staging directory (or in memory when small).
struct DescriptionHistory: LedgerHistorySource {
    /// Where the description is.
    enum Origin: Sendable {
        /// Its bytes.
        case memory([UInt8])
        /// A file.
        case file(String)
    }

    /// Where the description is.
    let origin: Origin

    /// Calls `body` with every record of `kinds`, in the description's order.
    func forEachRecord(_ kinds: LedgerHistoryKinds, _ body: (LedgerHistoryRecord) throws -> Void) throws {
        func invalid(_ reason: String) -> BundleError { .invalidDocument(entry: "ferry-bundle.json", reason: reason) }
        let source: any ByteSource =
            switch origin {
            case .memory(let bytes): MemoryByteSource(bytes)
            case .file(let path): try FileByteSource(path: path)
            }
        let slots = DescriptionSlot.allCases.filter { $0.historyKind.map(kinds.contains) ?? false }
        let decoder = BundleJSON.decoder()
        _ = try JSONReader(source, failure: invalid).walk(streaming: slots.map(\.path), keepingShell: false) {
            position, index, bytes in
            let slot = slots[position]
            let element: DescriptionElement
            do throws(DescriptionElement.Failure) {
                element = try .decode(bytes, slot: slot, index: index, decoder: decoder)
            } catch {
                throw invalid(error.reason)
            }
            if case .history(let record) = element { try body(record) }
        }
    }
}
