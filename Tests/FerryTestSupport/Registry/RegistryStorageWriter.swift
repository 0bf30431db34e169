import OCIModel

#if canImport(Glibc)
    import Glibc
#endif

// https://github.com/distribution/distribution/blob/release/2.8/registry/storage/paths.go
/// Writes images straight into a distribution 2.8 filesystem storage tree, with the files and links the registry
/// itself writes when it accepts a push: one `data` file per blob, a `_layers` link per config and layer, a manifest
/// revision link, and per tag its `current` link and `index` entry.
///
/// Pushing through the API costs several requests and a registry-side hash per blob; writing the tree costs a few
/// system calls, which is what makes a set of 20,000 images quick to seed. The registry needs no restart: it keeps
/// no cache in front of the tree (see ``RegistryStorage``). Not thread-safe: use one writer per thread.
public final class RegistryStorageWriter {
    /// The tree written to.
    public let storage: RegistryStorage
    /// Directories known to exist, so that each is created with one `mkdir` and never checked again.
    private var directories: Set<String> = []

    /// A writer for the tree under `storage.root`.
    public init(storage: RegistryStorage) { self.storage = storage }

    /// Stores `image`'s blobs and manifest in `repository` and points each of `tags` at it.
    public func put(_ image: InMemoryImage, repository: String, tags: [String]) throws {
        for blob in image.blobs { try putBlob(blob.bytes, digest: blob.descriptor.digest) }
        for blob in image.image.blobs { try linkBlob(blob.digest, into: repository) }
        try linkManifest(image.image.manifestDigest, into: repository)
        for tag in tags { try self.tag(repository, tag, to: image.image.manifestDigest) }
    }

    /// Writes the blob's `data` file unless it is there already (blobs are shared by every repository).
    public func putBlob(_ bytes: [UInt8], digest: Digest) throws {
        let path = storage.blobDataPath(digest)
        let directory = Self.parent(of: path)
        // A new blob's directory is new as well, so mkdir answers "is it stored?" for the usual case; a directory
        // that was there already may be left from an interrupted run, hence the check for its data file.
        if try !makeDirectory(directory), access(path, F_OK) == 0 { return }
        try writeFile(bytes, to: path)
    }

    /// Makes a stored config or layer blob readable through `repository`.
    public func linkBlob(_ digest: Digest, into repository: String) throws {
        try writeLink(digest, to: storage.layerLinkPath(repository: repository, digest: digest))
    }

    /// Makes a stored manifest part of `repository`, so that it is served by digest.
    public func linkManifest(_ digest: Digest, into repository: String) throws {
        try writeLink(digest, to: storage.revisionLinkPath(repository: repository, digest: digest))
    }

    /// Points `tag` at the manifest `digest`, which ``linkManifest(_:into:)`` must have linked.
    public func tag(_ repository: String, _ tag: String, to digest: Digest) throws {
        try writeLink(digest, to: storage.tagIndexLinkPath(repository: repository, tag: tag, digest: digest))
        try writeLink(digest, to: storage.tagLinkPath(repository: repository, tag: tag))
    }

    /// A link file holds the digest without a line feed, as the registry writes it.
    private func writeLink(_ digest: Digest, to path: String) throws {
        try makeDirectory(Self.parent(of: path))
        try writeFile(Array(digest.description.utf8), to: path)
    }

    /// Creates `path` and missing parents; true when `path` itself was created now.
    @discardableResult
    private func makeDirectory(_ path: String) throws -> Bool {
        if directories.contains(path) { return false }
        var created = mkdir(path, 0o755) == 0
        if !created, errno == ENOENT {
            try makeDirectory(Self.parent(of: path))
            created = mkdir(path, 0o755) == 0
        }
        guard created || errno == EEXIST else { throw Self.failure(path, "mkdir") }
        directories.insert(path)
        return created
    }

    private func writeFile(_ bytes: [UInt8], to path: String) throws {
        // No fsync: a seeded tree is scratch data, rebuilt whenever it is lost.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.failure(path, "open") }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FileDescriptorIO.writeAll(fd, $0, path: path) }
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return String(path[..<slash])
    }

    private static func failure(_ path: String, _ call: String) -> TestSupportError {
        .fileIO(path: path, message: "\(call): \(String(cString: strerror(errno)))")
    }
}
