import FerrySystem
import Foundation
import OCIModel
import Synchronization

/// When a store's writes become durable: at once, or at the commit points of a run that batches them.
public enum StoreWrites: Sendable, Hashable {
    /// Every change rewrites `index.json` at once and every new blob's directory entry is flushed at once:
    /// commands that store a few things.
    case immediate
    /// Changes to `index.json` stay in memory until ``ContentStore/flushIndex()``, and the directory entries of new
    /// blobs are flushed by ``ContentStore/syncDirectories()``: a run over thousands of references does both once
    /// per batch, before it commits the batch's records (a blob's bytes are still flushed before it is renamed into
    /// `blobs/`, so nothing partial is ever visible; a blob whose directory entry a power loss took was not
    /// recorded either, and the next run fetches it again).
    case batched
}

/// `index.json` as this process knows it.
struct IndexState {
    var loaded: LoadedIndex?
}

/// One `index.json` entry, kept compact: its name apart, its descriptor without that annotation (most entries then
/// carry no dictionary at all, which at 20,000 references is most of the index's memory).
struct IndexEntry {
    var name: String?
    var descriptor: Descriptor

    init(_ descriptor: Descriptor) {
        var plain = descriptor
        name = plain.annotations?.removeValue(forKey: Descriptor.refNameAnnotation)
        if plain.annotations?.isEmpty == true { plain.annotations = nil }
        self.descriptor = plain
    }

    /// The descriptor as `index.json` holds it, name annotation included.
    var stored: Descriptor {
        guard let name else { return descriptor }
        var full = descriptor
        var annotations = full.annotations ?? [:]
        annotations[Descriptor.refNameAnnotation] = name
        full.annotations = annotations
        return full
    }
}

/// The parsed file, a name → position map over its entries, and whether memory is ahead of the disk.
struct LoadedIndex {
    /// Everything but the entries (schema version, media type, annotations of the index itself).
    var document: StoredIndex
    var entries: [IndexEntry]
    /// The first entry of each `org.opencontainers.image.ref.name`, as every lookup has always taken the first.
    var positions: [String: Int]
    /// The file this was read from or last written as; nil when it had none.
    var stamp: FileStamp?
    /// Changes not written yet.
    var dirty = false

    init(document: StoredIndex, stamp: FileStamp?) {
        var shell = document
        shell.manifests = []
        self.init(document: shell, entries: document.manifests.map(IndexEntry.init), stamp: stamp)
    }

    init(document: StoredIndex, entries: [IndexEntry], stamp: FileStamp?) {
        self.document = document
        self.entries = entries
        self.stamp = stamp
        positions = Self.positions(of: entries)
    }

    static func positions(of entries: [IndexEntry]) -> [String: Int] {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(entries.count)
        for (position, entry) in entries.enumerated() {
            guard let name = entry.name, positions[name] == nil else { continue }
            positions[name] = position
        }
        return positions
    }
}

/// The `index.json` document.
struct StoredIndex: Codable {
    var schemaVersion = 2
    var mediaType: MediaType? = .ociIndex
    var manifests: [Descriptor]
    var annotations: [String: String]?

    init(manifests: [Descriptor]) { self.manifests = manifests }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The bytes ferry writes: sorted keys and unescaped slashes, as for every JSON document it hashes or compares.
    static func encode(_ index: StoredIndex) throws -> [UInt8] {
        Array(try encoder().encode(index))
    }
}

// MARK: index.json

extension ContentStore {
    /// The descriptors listed in `index.json`, in file order.
    public func references() throws(ContentStoreError) -> [Descriptor] {
        try withIndex { $0.entries.map(\.stored) }
    }

    /// The named entries of `index.json`, in file order, each descriptor without its name annotation (no dictionary
    /// per entry: what walks over every stored reference wants).
    public func namedReferences() throws(ContentStoreError) -> [(name: String, descriptor: Descriptor)] {
        try withIndex { index in index.entries.compactMap { entry in entry.name.map { ($0, entry.descriptor) } } }
    }

    /// The descriptor stored under reference name `name`, if any (the first, should the file list it twice).
    public func reference(named name: String) throws(ContentStoreError) -> Descriptor? {
        try withIndex { index in index.positions[name].map { index.entries[$0].stored } }
    }

    /// The digest reference name `name` points to, if any (a lookup without building the whole descriptor).
    public func digest(named name: String) throws(ContentStoreError) -> Digest? {
        try withIndex { index in index.positions[name].map { index.entries[$0].descriptor.digest } }
    }

    /// Points reference name `name` at `descriptor`, replacing an entry with the same name; written at once or at
    /// the next ``flushIndex()`` (``writes``). Pointing a name where it already points changes nothing.
    public func setReference(_ name: String, to descriptor: Descriptor) throws(ContentStoreError) {
        try setReferences([(name, descriptor)])
    }

    /// Points each name at its descriptor in one atomic rewrite of `index.json` (an import's references appear
    /// together or not at all). Entries keep their order; new names are appended in the order given.
    public func setReferences(_ entries: [(name: String, descriptor: Descriptor)]) throws(ContentStoreError) {
        guard !entries.isEmpty else { return }
        try withIndex { index throws(ContentStoreError) in
            var changed = false
            for (name, descriptor) in entries {
                var entry = IndexEntry(descriptor)
                entry.name = name
                if let position = index.positions[name] {
                    let current = index.entries[position]
                    guard current.name != entry.name || current.descriptor != entry.descriptor else { continue }
                    index.entries[position] = entry
                } else {
                    index.positions[name] = index.entries.count
                    index.entries.append(entry)
                }
                changed = true
            }
            guard changed else { return }
            index.dirty = true
            if writes == .immediate { try write(&index) }
        }
    }

    /// Removes every entry named `name`; returns whether one existed.
    @discardableResult
    public func removeReference(_ name: String) throws(ContentStoreError) -> Bool {
        try withIndex { index throws(ContentStoreError) in
            let before = index.entries.count
            index.entries.removeAll { $0.name == name }
            guard index.entries.count != before else { return false }
            index.positions = LoadedIndex.positions(of: index.entries)
            index.dirty = true
            if writes == .immediate { try write(&index) }
            return true
        }
    }

    /// Writes `index.json` when it has changes not written yet; returns whether it wrote. An index this process
    /// never needed is not read for this.
    @discardableResult
    public func flushIndex() throws(ContentStoreError) -> Bool {
        guard hasUnwrittenIndexChanges else { return false }
        return try withIndex { index throws(ContentStoreError) in
            guard index.dirty else { return false }
            try write(&index)
            return true
        }
    }

    /// The identity and version of `index.json` on disk now, as text (see ``FileStamp``); nil without the file.
    public var indexStamp: String? { FileSystem.stamp(path("index.json"))?.description }

    /// How often this store object has written `index.json` (diagnostics and tests: a run writes it once per batch).
    public var indexFileWrites: Int { indexFileWriteCount.load(ordering: .relaxed) }

    /// True once this store object has read `index.json` (diagnostics: a no-op run never needs to).
    public var indexIsLoaded: Bool { index.withLock { $0.loaded != nil } }

    /// True when ``flushIndex()`` has something to write.
    public var hasUnwrittenIndexChanges: Bool {
        index.withLock { $0.loaded?.dirty ?? false }
    }

    /// Runs `body` on the loaded index, reading the file first when this process has not, or when it was replaced
    /// since and nothing here is waiting to be written.
    private func withIndex<T>(_ body: (inout LoadedIndex) throws(ContentStoreError) -> T) throws(ContentStoreError) -> T {
        try index.withLock { state throws(ContentStoreError) in
            let path = path("index.json")
            if let loaded = state.loaded, loaded.dirty || loaded.stamp == FileSystem.stamp(path) {
                // Current: use it.
            } else {
                state.loaded = nil
                state.loaded = try readIndex(path)
            }
            return try body(&state.loaded!)
        }
    }

    private func readIndex(_ path: String) throws(ContentStoreError) -> LoadedIndex {
        let stamp = FileSystem.stamp(path)
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch {
            if error.code == ENOENT { throw .notAStore(root) }
            throw .io(error)
        }
        let decoder = JSONDecoder()
        // Entry by entry when the structure allows: memory then follows one entry, not the whole parsed document.
        if let (shell, elements) = JSONArraySlices.split(bytes, key: "manifests"),
            var document = try? decoder.decode(StoredIndex.self, from: Data(shell))
        {
            var entries: [IndexEntry] = []
            entries.reserveCapacity(elements.count)
            for range in elements {
                guard let descriptor = try? decoder.decode(Descriptor.self, from: Data(bytes[range])) else {
                    return try Self.decodeWhole(bytes, path: path, stamp: stamp, decoder: decoder)
                }
                entries.append(IndexEntry(descriptor))
            }
            document.manifests = []
            return LoadedIndex(document: document, entries: entries, stamp: stamp)
        }
        return try Self.decodeWhole(bytes, path: path, stamp: stamp, decoder: decoder)
    }

    /// The whole document in one decode: the fallback, and the precise error for a bad file.
    private static func decodeWhole(
        _ bytes: [UInt8], path: String, stamp: FileStamp?, decoder: JSONDecoder
    ) throws(ContentStoreError) -> LoadedIndex {
        do {
            return LoadedIndex(document: try decoder.decode(StoredIndex.self, from: Data(bytes)), stamp: stamp)
        } catch {
            throw .invalidIndex(path: path, message: "\(error)")
        }
    }

    /// Streams the document to a temporary file, one entry encoded at a time (the same bytes as encoding it whole:
    /// compact JSON with sorted keys), and renames it over `index.json`.
    private func write(_ index: inout LoadedIndex) throws(ContentStoreError) {
        let path = path("index.json")
        let encoder = StoredIndex.encoder()
        let shell: String
        do { shell = String(decoding: try encoder.encode(index.document), as: UTF8.self) } catch {
            throw .invalidIndex(path: path, message: "\(error)")
        }
        let marker = "\"manifests\":[]"
        guard let cut = shell.range(of: marker) else {
            throw .invalidIndex(path: path, message: "no manifests array in the encoded index")
        }
        do throws(FileSystemError) {
            let file = try AtomicFile(path: path, temporaryDirectory: try scratchDirectory())
            do throws(FileSystemError) {
                try file.write(shell[..<cut.lowerBound] + "\"manifests\":[")
                for (position, entry) in index.entries.enumerated() {
                    if position > 0 { try file.write(",") }
                    let bytes: Data
                    do { bytes = try encoder.encode(entry.stored) } catch {
                        file.abandon()
                        throw FileSystemError(path: path, operation: "encode", message: "\(error)")
                    }
                    try file.write(bytes)
                }
                try file.write("]" + shell[cut.upperBound...])
                try file.commit()
            } catch {
                file.abandon()
                throw error
            }
        } catch {
            throw .io(error)
        }
        index.stamp = FileSystem.stamp(path)
        index.dirty = false
        indexFileWriteCount.add(1, ordering: .relaxed)
    }
}
