import OCIModel

/// An image built entirely in memory, with its layer blobs as bytes: for writers that place blobs somewhere other
/// than an OCI layout (``RegistryStorageWriter``), and fast enough to build thousands of small images a second.
///
/// The bytes and digests equal what ``OCILayoutBuilder/image(_:)`` writes for the same spec.
public struct InMemoryImage: Sendable, Hashable {
    /// The manifest, config and layer descriptors with their digests.
    public var image: BuiltImage
    /// Each layer blob's bytes, in ``BuiltImage/layers`` order.
    public var layerBytes: [[UInt8]]

    /// Builds `spec`; every layer must be uncompressed (the gzip framing is only written while streaming to a file).
    public init(_ spec: ImageSpec) throws {
        var layers: [BuiltLayer] = []
        var blobs: [[UInt8]] = []
        for layer in spec.layers {
            guard layer.compression == .none else {
                throw TestSupportError.invalidArgument("an in-memory image takes uncompressed layers only")
            }
            let tar = try layer.content.tarArchive()
            let digest = Digest.sha256(of: tar)
            let descriptor = Descriptor(
                mediaType: spec.format.layerMediaType(.none), digest: digest, size: Int64(tar.count))
            // An uncompressed layer is its own diff.
            layers.append(BuiltLayer(descriptor: descriptor, diffID: digest, uncompressedSize: Int64(tar.count)))
            blobs.append(tar)
        }
        image = try BuiltImage.assemble(spec, layers: layers)
        layerBytes = blobs
    }

    /// Every blob with its bytes: config first, then the layers, then the manifest.
    public var blobs: [(descriptor: Descriptor, bytes: [UInt8])] {
        [(image.config, image.configBytes)] + zip(image.layers.map(\.descriptor), layerBytes).map { ($0, $1) }
            + [(image.manifest, image.manifestBytes)]
    }
}

extension BuiltImage {
    /// The config and manifest of `spec` over layers that are already built, as ``OCILayoutBuilder`` and
    /// ``InMemoryImage`` both write them.
    static func assemble(_ spec: ImageSpec, layers: [BuiltLayer]) throws -> BuiltImage {
        let configBytes = try DeterministicJSON.encode(ConfigDocument(spec: spec, diffIDs: layers.map(\.diffID)))
        let config = Descriptor(
            mediaType: spec.format.configMediaType, digest: Digest.sha256(of: configBytes),
            size: Int64(configBytes.count))
        let manifestBytes = try DeterministicJSON.encode(
            ImageManifest(
                mediaType: spec.format.manifestMediaType, config: config, layers: layers.map(\.descriptor),
                annotations: spec.format == .oci ? spec.annotations : nil))
        let manifest = Descriptor(
            mediaType: spec.format.manifestMediaType, digest: Digest.sha256(of: manifestBytes),
            size: Int64(manifestBytes.count))
        return BuiltImage(
            format: spec.format, platform: spec.platform, manifest: manifest, manifestBytes: manifestBytes,
            config: config, configBytes: configBytes, layers: layers)
    }
}

extension LayerSpec.Content {
    /// The uncompressed tar of this content, whole, in memory.
    func tarArchive() throws -> [UInt8] {
        switch self {
        case .entries(let entries):
            return try TarFormat.archive(entries)
        case .generated(let seed, let files, let fileSize):
            return try TarFormat.archive(
                OCILayoutBuilder.generatedEntries(seed: seed, files: files, fileSize: fileSize))
        case .random(let seed, let size):
            guard size >= 0, size <= Int64(Int32.max) else {
                throw TestSupportError.invalidArgument("random layer of \(size) bytes is too large to hold in memory")
            }
            // The same members, modes and byte stream that OCILayoutBuilder.streamRandomTar writes in chunks: the
            // generator's output does not depend on how it is split, as long as chunks are multiples of 8 bytes.
            var random = DeterministicRandom(seed: seed)
            return try TarFormat.archive([
                .directory("data"), TarEntry(path: "data/blob.bin", kind: .file(random.bytes(Int(size)))),
            ])
        }
    }
}
