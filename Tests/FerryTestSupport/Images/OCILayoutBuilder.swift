import Foundation
import OCIModel
import Synchronization

// https://github.com/opencontainers/image-spec/blob/main/image-layout.md
/// Builds deterministic images into an OCI image layout directory (`oci-layout`, `index.json`,
/// `blobs/sha256/<hex>`), naming tagged artifacts with `org.opencontainers.image.ref.name`.
///
/// The same specs always give the same bytes and digests. `index.json` is rewritten after every ``tag(_:as:)``, so
/// the directory is a valid layout at any time.
public final class OCILayoutBuilder: Sendable {
    /// The layout directory.
    public let path: String
    private let tagged = Mutex<[(refName: String, artifact: BuiltArtifact)]>([])

    /// Creates (or resets the index of) a layout at `path`; blobs already there are kept.
    public init(path: String) throws {
        self.path = TestFiles.absolute(path)
        try TestFiles.makeDirectory(blobDirectory)
        try TestFiles.write(#"{"imageLayoutVersion":"1.0.0"}"#, to: self.path + "/oci-layout")
        try writeIndexFile([])
    }

    /// `<path>/blobs/sha256`.
    public var blobDirectory: String { path + "/blobs/sha256" }

    /// Where the blob `digest` lives.
    public func blobPath(_ digest: Digest) -> String { blobDirectory + "/" + digest.hex }

    /// The reference names in `index.json`, in order.
    public var refNames: [String] { tagged.withLock { $0.map(\.refName) } }

    /// The artifact tagged `refName`, if any.
    public func artifact(named refName: String) -> BuiltArtifact? {
        tagged.withLock { entries in entries.first { $0.refName == refName }?.artifact }
    }

    /// Writes an image's blobs and manifest (not tagged).
    public func image(_ spec: ImageSpec) throws -> BuiltImage {
        var layers: [BuiltLayer] = []
        for layer in spec.layers { layers.append(try writeLayer(layer, format: spec.format)) }
        let built = try BuiltImage.assemble(spec, layers: layers)
        try writeBlob(built.configBytes, mediaType: built.config.mediaType)
        try writeBlob(built.manifestBytes, mediaType: built.manifest.mediaType)
        return built
    }

    /// Writes an index, its children and their blobs (not tagged).
    public func index(_ spec: IndexSpec) throws -> BuiltIndex {
        let children = try spec.images.map { try image($0) }
        let entries = children.map { child in
            var descriptor = child.manifest
            descriptor.platform = child.platform
            return descriptor
        }
        let document = ImageIndex(
            mediaType: spec.format.indexMediaType, manifests: entries,
            annotations: spec.format == .oci ? spec.annotations : nil)
        let bytes = try DeterministicJSON.encode(document)
        let descriptor = try writeBlob(bytes, mediaType: spec.format.indexMediaType)
        return BuiltIndex(format: spec.format, index: descriptor, indexBytes: bytes, children: children)
    }

    /// Names `artifact` `refName` in `index.json`, replacing an earlier artifact of that name.
    public func tag(_ artifact: some BuiltArtifactConvertible, as refName: String) throws {
        let entries = tagged.withLock { entries in
            entries.removeAll { $0.refName == refName }
            entries.append((refName, artifact.artifact))
            return entries
        }
        try writeIndexFile(entries)
    }

    /// Builds and tags an image.
    @discardableResult
    public func addImage(_ spec: ImageSpec, refName: String) throws -> BuiltImage {
        let built = try image(spec)
        try tag(built, as: refName)
        return built
    }

    /// Builds and tags an index.
    @discardableResult
    public func addIndex(_ spec: IndexSpec, refName: String) throws -> BuiltIndex {
        let built = try index(spec)
        try tag(built, as: refName)
        return built
    }

    /// Stores `bytes` as a blob (no-op when present) and describes it.
    @discardableResult
    public func writeBlob(_ bytes: [UInt8], mediaType: MediaType) throws -> Descriptor {
        let digest = Digest.sha256(of: bytes)
        let destination = blobPath(digest)
        if !TestFiles.exists(destination) { try TestFiles.write(bytes, to: destination) }
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    private func writeIndexFile(_ entries: [(refName: String, artifact: BuiltArtifact)]) throws {
        let manifests = entries.map { entry in
            var descriptor = entry.artifact.descriptor
            descriptor.annotations = [Descriptor.refNameAnnotation: entry.refName]
            return descriptor
        }
        let index = ImageIndex(mediaType: .ociIndex, manifests: manifests)
        try TestFiles.write(try DeterministicJSON.encode(index), to: path + "/index.json")
    }

    private func writeLayer(_ spec: LayerSpec, format: ManifestFormat) throws -> BuiltLayer {
        let writer = try LayerBlobWriter(blobDirectory: blobDirectory, compression: spec.compression)
        switch spec.content {
        case .entries, .generated:
            try writer.write(try spec.content.tarArchive())
        case .random(let seed, let size):
            try Self.streamRandomTar(seed: seed, size: size, into: writer)
        }
        let result = try writer.finish()
        let descriptor = Descriptor(
            mediaType: format.layerMediaType(spec.compression), digest: result.digest, size: result.size)
        return BuiltLayer(descriptor: descriptor, diffID: result.diffID, uncompressedSize: result.uncompressedSize)
    }

    /// The files of a `.generated` layer: a marker naming the seed, then pseudo-random data files.
    static func generatedEntries(seed: UInt64, files: Int, fileSize: Int) -> [TarEntry] {
        var random = DeterministicRandom(seed: seed)
        var entries: [TarEntry] = [
            .directory("etc"),
            .file("etc/ferry-fixture", "seed=\(seed)\n"),
            .directory("data"),
        ]
        for index in 0..<files {
            entries.append(TarEntry(path: "data/file-\(index).bin", kind: .file(random.bytes(fileSize))))
        }
        return entries
    }

    /// A tar with `data/` and `data/blob.bin` of `size` pseudo-random bytes, generated 1 MiB at a time.
    static func streamRandomTar(seed: UInt64, size: Int64, into writer: LayerBlobWriter) throws {
        try writer.write(
            try TarFormat.header(
                path: "data/", type: .directory, size: 0, mode: 0o755, modificationTime: TarEntry.fixedTime))
        try writer.write(
            try TarFormat.header(
                path: "data/blob.bin", type: .regular, size: size, mode: 0o644, modificationTime: TarEntry.fixedTime))
        var random = DeterministicRandom(seed: seed)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var remaining = size
        while remaining > 0 {
            let count = Int(min(Int64(chunk.count), remaining))
            try chunk.withUnsafeMutableBytes { buffer in
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                random.fill(slice)
                try writer.write(UnsafeRawBufferPointer(slice))
            }
            remaining -= Int64(count)
        }
        try writer.write([UInt8](repeating: 0, count: TarFormat.padding(after: size)))
        try writer.write(TarFormat.endOfArchive)
    }
}

// https://github.com/opencontainers/image-spec/blob/main/config.md
/// The image configuration document fixtures write.
struct ConfigDocument: Encodable {
    struct Container: Encodable {
        var Env: [String]
        var Cmd: [String]
        var Labels: [String: String]?
    }

    struct RootFS: Encodable {
        var type = "layers"
        var diff_ids: [Digest]
    }

    struct History: Encodable {
        var created: String
        var created_by: String
    }

    var architecture: String
    var os: String
    var variant: String?
    var created: String
    var config: Container
    var rootfs: RootFS
    var history: [History]

    init(spec: ImageSpec, diffIDs: [Digest]) {
        architecture = spec.platform.architecture
        os = spec.platform.os
        variant = spec.platform.variant
        created = spec.created
        config = Container(
            Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"],
            Labels: spec.labels.isEmpty ? nil : spec.labels)
        rootfs = RootFS(diff_ids: diffIDs)
        history = diffIDs.indices.map {
            History(created: spec.created, created_by: "ferry fixture layer \($0)")
        }
    }
}
