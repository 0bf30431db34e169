import FerrySystem
import Foundation
import LayoutStore
import Ledger
import OCIModel

/// The export's scratch directory under the store's `tmp/`, where the two documents at the head of the stream
/// are written before their sizes go into the tar headers.
struct ExportScratch {
    private let tmp: String
    private let directory: String
    private let createdTmp: Bool

    init(store: ContentStore) throws(BundleError) {
        tmp = store.path("tmp")
        createdTmp = !FileSystem.exists(tmp)
        // An export killed before it cleaned up left its directory behind; the store's lock says none runs now.
        for name in (try? FileSystem.list(tmp)) ?? [] where name.hasPrefix("export-") {
            try? FileSystem.removeTree(tmp + "/" + name)
        }
        directory = tmp + "/export-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        do { try FileSystem.createDirectory(directory) } catch { throw .io(error) }
    }

    /// `name` in the directory.
    func path(_ name: String) -> String { directory + "/" + name }

    /// Removes the directory (and `tmp/`, when the export made it).
    func remove() {
        try? FileSystem.removeTree(createdTmp ? tmp : directory)
    }
}

extension BundleExporter {
    /// The description as written, and where its arrays are in it (the sidecar copies them from there).
    struct WrittenDescription {
        var document: SpooledDocument
        var slotRanges: [Range<Int64>]
    }

    /// Writes the description of `outline` with the reference store's history of its references, one record at a
    /// time as the store reads them.
    func writeDescription(
        _ outline: BundleOutline, manifests: Set<Digest>, scratch: ExportScratch
    ) throws(BundleError) -> WrittenDescription {
        let document = SpooledDocument(path: scratch.path("ferry-bundle.json"))
        let writer = try DescriptionWriter(outline: outline) { bytes throws(BundleError) in try document.write(bytes) }
        for blob in outline.blobs { try writer.add(.blob(blob)) }
        for blob in outline.excludedBlobs { try writer.add(.excludedBlob(blob)) }
        // Parsed as the reference store reads them, not all at once.
        let parsed = outline.references.lazy.compactMap { try? ImageReference(parsing: $0.name) }
        do {
            try ledger.forEachHistoryRecord(of: parsed, manifests: manifests) { record in
                try writer.add(.history(record))
            }
        } catch let error as BundleError {
            throw error
        } catch {
            throw .ledger("\(error)")
        }
        for reference in outline.references { try writer.add(.reference(reference)) }
        try writer.finish()
        try document.finish()
        return WrittenDescription(document: document, slotRanges: writer.slotRanges)
    }

    /// Writes the bundle's `index.json`, the store's named entries (compact, sorted keys, as the store writes its
    /// own), one entry at a time; returns it and the entries as bundle references.
    ///
    /// The store's `index.json` is read one entry at a time too, unless this store object holds changes not
    /// written yet: parsed whole, 20,000 entries cost some 25 MB at once, the largest allocation of an export.
    static func writeIndex(
        of store: ContentStore, scratch: ExportScratch
    ) throws(BundleError) -> (SpooledDocument, [BundleReference]) {
        struct Index: Encodable {
            var schemaVersion = 2
            var mediaType: MediaType = .ociIndex
            var manifests: [Descriptor]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let document = SpooledDocument(path: scratch.path("index.json"))
        var references: [BundleReference] = []
        var mediaTypes = MediaTypeInterner()
        let writer: JSONSpliceWriter<BundleError>
        do {
            let shell = try JSONShell(
                Array(try encoder.encode(Index(manifests: []))), slots: [JSONShell.Slot("manifests")], layout: .compact)
            writer = JSONSpliceWriter(shell: shell) { bytes throws(BundleError) in try document.write(bytes) }
        } catch {
            throw .invalidDocument(entry: "index.json", reason: "cannot encode: \(error)")
        }
        func add(_ entry: Descriptor) throws(BundleError) {
            guard entry.annotations?[Descriptor.refNameAnnotation] != nil else { return }
            do { try writer.add(Array(try encoder.encode(entry))) } catch let error as BundleError {
                throw error
            } catch {
                throw .invalidDocument(entry: "index.json", reason: "cannot encode: \(error)")
            }
            var reference = BundleReference(entry)
            reference.mediaType = mediaTypes.intern(reference.mediaType)
            references.append(reference)
        }
        if store.hasUnwrittenIndexChanges {
            let entries: [Descriptor]
            do { entries = try store.references() } catch { throw .store(error) }
            for entry in entries { try add(entry) }
        } else {
            let path = store.path("index.json")
            let source: FileByteSource
            do { source = try FileByteSource(path: path) } catch {
                if case .io(let cause) = error, cause.code == ENOENT { throw .store(.notAStore(store.root)) }
                throw error
            }
            try BundleImporter.walkIndex(source, invalid: { .store(.invalidIndex(path: path, message: $0)) }) {
                _, entry throws(BundleError) in try add(entry)
            }
        }
        try writer.finish()
        try document.finish()
        return (document, references)
    }

    /// Writes the sidecar, the description with `parts`: the sidecar's own shell, with each array copied from the
    /// description written before.
    static func writeSidecar(
        _ outline: BundleOutline, description: WrittenDescription, parts: [BundlePart], to path: String
    ) throws(BundleError) {
        let shell = try DescriptionSlot.shell(
            BundleSidecar(description: DescriptionWriter.empty(outline), parts: parts))
        let file: AtomicFile
        do { file = try AtomicFile(path: path) } catch { throw .io(error) }
        func write(_ bytes: [UInt8]) throws(BundleError) {
            do { try file.write(bytes) } catch { throw .io(error) }
        }
        do throws(BundleError) {
            try shell.write(
                content: { slot throws(BundleError) in
                    try description.document.copy(description.slotRanges[slot], to: write)
                }, to: write)
            do { try file.commit() } catch { throw .io(error) }
        } catch {
            file.abandon()
            throw error
        }
    }
}

/// The tar stream of a bundle, entry by entry, and its exact size, known before a byte is written (so the part
/// count is checked up front). Headers are made as they are written: 60,000 of them would be 30 MB.
struct StreamPlan {
    enum Content {
        case none
        case bytes([UInt8])
        case document(SpooledDocument)
        case blob(BundleBlob)
    }

    private let description: SpooledDocument
    private let index: SpooledDocument
    private let blobs: [BundleBlob]
    private let time: Int64
    /// The stream's size in bytes, end-of-archive marker included.
    private(set) var size: Int64 = 0

    init(description: SpooledDocument, index: SpooledDocument, blobs: [BundleBlob], modificationTime: Date) {
        self.description = description
        self.index = index
        self.blobs = blobs
        time = Int64(modificationTime.timeIntervalSince1970)
        var size = Int64(2 * Tar.blockSize)
        forEachEntry { header, _ in
            size += Int64(Tar.headerSize(for: header)) + header.size + Int64(Tar.padding(after: header.size))
        }
        self.size = size
    }

    /// Every entry in stream order: `ferry-bundle.json`, `oci-layout`, `index.json`, the `blobs/` directories, then
    /// every blob.
    func forEachEntry<E: Error>(_ body: (TarEntryHeader, Content) throws(E) -> Void) throws(E) {
        func file(_ path: String, size: Int64, _ content: Content) throws(E) {
            try body(
                TarEntryHeader(path: path, type: .regular, size: size, mode: 0o644, modificationTime: time), content)
        }
        func directory(_ path: String) throws(E) {
            try body(TarEntryHeader(path: path, type: .directory, size: 0, mode: 0o755, modificationTime: time), .none)
        }
        try file("ferry-bundle.json", size: description.size, .document(description))
        try file("oci-layout", size: Int64(ContentStore.layoutMarker.count), .bytes(ContentStore.layoutMarker))
        try file("index.json", size: index.size, .document(index))
        try directory("blobs/")
        var algorithms: [Digest.Algorithm] = []
        for blob in blobs where !algorithms.contains(blob.digest.algorithm) { algorithms.append(blob.digest.algorithm) }
        for algorithm in algorithms { try directory("blobs/\(algorithm.rawValue)/") }
        for blob in blobs { try file(blobEntryName(blob.digest), size: blob.size, .blob(blob)) }
    }

    /// Writes the stream into `writer`; `copy` writes a blob's content.
    func write(
        into writer: PartStreamWriter, copy: (BundleBlob) throws(BundleError) -> Void
    ) throws(BundleError) {
        func bytes(_ bytes: [UInt8]) throws(BundleError) {
            do { try writer.write(bytes) } catch { throw .io(error) }
        }
        try forEachEntry { (header, content) throws(BundleError) in
            try bytes(Tar.headerBytes(for: header))
            switch content {
            case .none: break
            case .bytes(let content): try bytes(content)
            case .document(let document): try Self.copy(document, into: writer)
            case .blob(let blob): try copy(blob)
            }
            let padding = Tar.padding(after: header.size)
            if padding > 0 { try bytes([UInt8](repeating: 0, count: padding)) }
        }
        try bytes([UInt8](repeating: 0, count: 2 * Tar.blockSize))
    }

    private static func copy(_ document: SpooledDocument, into writer: PartStreamWriter) throws(BundleError) {
        let source = try document.source()
        var remaining = document.size
        while remaining > 0 {
            let count = try writer.fill(upTo: Int(min(remaining, Int64(streamBufferSize)))) {
                buffer throws(BundleError) in try source.read(into: buffer)
            }
            guard count > 0 else {
                throw .io(
                    FileSystemError(path: document.path, operation: "read", message: "the document ends early"))
            }
            remaining -= Int64(count)
        }
    }
}
