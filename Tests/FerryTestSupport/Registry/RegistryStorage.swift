import Foundation
import OCIModel

// https://github.com/distribution/distribution/blob/release/2.8/registry/storage/paths.go
/// Direct access to a distribution 2.8 filesystem storage tree, for scenarios no client can produce: a blob whose
/// bytes no longer match its digest, a tag moved behind the registry's back, content that vanished.
///
/// The registry in these tests runs without a blob-descriptor cache, so every change here is visible to the next
/// request.
public struct RegistryStorage: Sendable, Hashable {
    /// `storage.filesystem.rootdirectory`.
    public var root: String

    /// Wraps a storage root.
    public init(root: String) { self.root = root }

    private var v2: String { root + "/docker/registry/v2" }

    /// `.../blobs/sha256/<first two hex>/<hex>/data`, the file holding the blob's bytes.
    public func blobDataPath(_ digest: Digest) -> String {
        "\(v2)/blobs/\(digest.algorithm.rawValue)/\(digest.hex.prefix(2))/\(digest.hex)/data"
    }

    /// The directory holding a repository's links.
    public func repositoryPath(_ repository: String) -> String { "\(v2)/repositories/\(repository)" }

    /// The `current/link` file naming the manifest a tag points to.
    public func tagLinkPath(repository: String, tag: String) -> String {
        "\(repositoryPath(repository))/_manifests/tags/\(tag)/current/link"
    }

    /// The link that makes the config or layer blob `digest` readable through `repository`.
    public func layerLinkPath(repository: String, digest: Digest) -> String {
        "\(repositoryPath(repository))/_layers/\(digest.algorithm.rawValue)/\(digest.hex)/link"
    }

    /// The link that makes the manifest `digest` part of `repository`.
    public func revisionLinkPath(repository: String, digest: Digest) -> String {
        "\(repositoryPath(repository))/_manifests/revisions/\(digest.algorithm.rawValue)/\(digest.hex)/link"
    }

    /// The link recording that `tag` has pointed to `digest` (the registry looks tags up by digest through it).
    public func tagIndexLinkPath(repository: String, tag: String, digest: Digest) -> String {
        "\(repositoryPath(repository))/_manifests/tags/\(tag)/index/\(digest.algorithm.rawValue)/\(digest.hex)/link"
    }

    /// The bytes the registry serves for `digest`.
    public func readBlob(_ digest: Digest) throws -> [UInt8] { try TestFiles.read(blobDataPath(digest)) }

    /// True when the blob's data file exists.
    public func hasBlob(_ digest: Digest) -> Bool { TestFiles.exists(blobDataPath(digest)) }

    /// Replaces the stored bytes of `digest` with `bytes` (the registry keeps serving them under the old digest).
    public func overwriteBlob(_ digest: Digest, with bytes: [UInt8]) throws {
        let path = blobDataPath(digest)
        guard TestFiles.exists(path) else {
            throw TestSupportError.fileIO(path: path, message: "no such blob in registry storage")
        }
        try TestFiles.write(bytes, to: path)
    }

    /// Flips one bit of the stored blob, keeping its length, so that a client downloads the full size and only
    /// the digest check can notice. Returns the new bytes.
    @discardableResult
    public func corruptBlob(_ digest: Digest, at offset: Int? = nil) throws -> [UInt8] {
        var bytes = try readBlob(digest)
        guard !bytes.isEmpty else {
            throw TestSupportError.fileIO(path: blobDataPath(digest), message: "empty blob cannot be corrupted")
        }
        let position = offset ?? bytes.count / 2
        guard position >= 0, position < bytes.count else {
            throw TestSupportError.invalidArgument("offset \(position) outside blob \(digest) of \(bytes.count) bytes")
        }
        bytes[position] ^= 0x01
        try overwriteBlob(digest, with: bytes)
        return bytes
    }

    /// Deletes the blob's data file; the registry then answers 404 (or 500) for it although manifests name it.
    public func removeBlob(_ digest: Digest) throws {
        let path = blobDataPath(digest)
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw TestSupportError.fileIO(path: path, message: "cannot remove: \(error.localizedDescription)")
        }
    }

    /// The manifest digest `tag` currently points to, nil when the tag does not exist.
    public func tagDigest(repository: String, tag: String) throws -> Digest? {
        let path = tagLinkPath(repository: repository, tag: tag)
        guard TestFiles.exists(path) else { return nil }
        let text = try TestFiles.readText(path).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            return try Digest(parsing: text)
        } catch {
            throw TestSupportError.fileIO(path: path, message: "not a digest: \(text)")
        }
    }

    /// Points `tag` at `digest` by rewriting its link files; the manifest must already be stored in the repository
    /// (pushed there under any tag or digest). Nothing is uploaded and the registry is not told.
    public func pointTag(repository: String, tag: String, to digest: Digest) throws {
        let revision = revisionLinkPath(repository: repository, digest: digest)
        guard TestFiles.exists(revision) else {
            throw TestSupportError.fileIO(path: revision, message: "manifest \(digest) is not stored in \(repository)")
        }
        // The index entry first, as the registry writes them: the tag's current link names a recorded digest.
        let links = [
            tagIndexLinkPath(repository: repository, tag: tag, digest: digest),
            tagLinkPath(repository: repository, tag: tag),
        ]
        for link in links {
            try TestFiles.makeDirectory(String(link.dropLast("/link".count)))
            try TestFiles.write(digest.description, to: link)
        }
    }

    /// Removes `tag` from the repository's storage (distribution 2.8 has no tag-delete API that keeps the manifest).
    public func removeTag(repository: String, tag: String) throws {
        let path = "\(repositoryPath(repository))/_manifests/tags/\(tag)"
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw TestSupportError.fileIO(path: path, message: "cannot remove tag: \(error.localizedDescription)")
        }
    }
}
