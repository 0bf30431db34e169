import FerryTestSupport
import Foundation
import LayoutStore
import OCIModel
import Testing

/// The OCI layout store on its own: what becomes visible under `blobs/`, what `index.json` says, and the exact
/// errors for content that does not match its name.
@Suite struct ContentStoreTests {
    let directory: TemporaryDirectory
    let store: ContentStore

    init() throws {
        directory = try TemporaryDirectory(prefix: "ferry-layout")
        store = ContentStore(root: directory.appending("store"))
        try store.prepare()
    }

    static let manifest = Array(#"{"schemaVersion":2}"#.utf8)
    static var manifestDigest: Digest { Digest.compute(.sha256, of: manifest) }

    func descriptor(_ text: String) -> Descriptor {
        let bytes = Array(text.utf8)
        return Descriptor(mediaType: .ociManifest, digest: Digest.compute(.sha256, of: bytes), size: Int64(bytes.count))
    }

    func names() throws -> [String] {
        try store.references().map { $0.annotations?[Descriptor.refNameAnnotation] ?? "" }
    }

    func inode(_ relative: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: store.path(relative))[.systemFileNumber] as? Int
    }

    @Test func prepareWritesTheLayoutSkeletonOnceAndKeepsExistingContent() throws {
        #expect(try TestFiles.readText(store.path("oci-layout")) == #"{"imageLayoutVersion":"1.0.0"}"#)
        #expect(try store.references().isEmpty)
        #expect(FileManager.default.fileExists(atPath: store.path("blobs/sha256")))
        #expect(FileManager.default.fileExists(atPath: store.path("tmp")))
        try store.writeBlob(Self.manifest, digest: Self.manifestDigest)
        try store.setReference("example.com/a:1", to: descriptor("1"))
        try store.prepare()
        #expect(try names() == ["example.com/a:1"])
        #expect(store.hasBlob(Self.manifestDigest))
    }

    @Test func aWrittenBlobIsReadBackVerified() throws {
        try store.writeBlob(Self.manifest, digest: Self.manifestDigest)
        #expect(try store.readBlob(Self.manifestDigest) == Self.manifest)
        #expect(store.blobSize(Self.manifestDigest) == Int64(Self.manifest.count))
        #expect(try store.allBlobs() == [Self.manifestDigest])
    }

    @Test func bytesThatDoNotHashToTheGivenDigestAreRefusedAndNothingIsWritten() throws {
        let other = Digest.compute(.sha256, of: Array("other".utf8))
        #expect(throws: ContentStoreError.digestMismatch(expected: other, actual: Self.manifestDigest)) {
            try store.writeBlob(Self.manifest, digest: other)
        }
        #expect(!store.hasBlob(other))
        #expect(try store.allBlobs().isEmpty)
        #expect(
            ContentStoreError.digestMismatch(expected: other, actual: Self.manifestDigest).description
                == "content does not match digest \(other) (got \(Self.manifestDigest))")
    }

    @Test func aBlobChangedOnDiskIsReportedNeverServed() throws {
        try store.writeBlob(Self.manifest, digest: Self.manifestDigest)
        let path = store.blobPath(Self.manifestDigest)
        let tampered = Array(#"{"schemaVersion":3}"#.utf8)
        try FileManager.default.removeItem(atPath: path)
        try TestFiles.write(tampered, to: path)
        let actual = Digest.compute(.sha256, of: tampered)
        let error = ContentStoreError.corruptBlob(Self.manifestDigest, actual: actual, path: path)
        #expect(throws: error) { try store.readBlob(Self.manifestDigest) }
        #expect(error.description == "\(path): blob \(Self.manifestDigest) is corrupt: content hashes to \(actual)")
    }

    @Test func aMissingBlobIsNamed() throws {
        #expect(throws: ContentStoreError.missingBlob(Self.manifestDigest)) { try store.readBlob(Self.manifestDigest) }
        #expect(
            ContentStoreError.missingBlob(Self.manifestDigest).description
                == "blob \(Self.manifestDigest) is not in the store")
    }

    @Test func foreignFilesUnderBlobsAreNotBlobs() throws {
        try store.writeBlob(Self.manifest, digest: Self.manifestDigest)
        try TestFiles.write("x", to: store.path("blobs/sha256/notes.txt"))
        try TestFiles.write("x", to: store.path("blobs/sha256/\(Self.manifestDigest.hex)~"))
        #expect(try store.allBlobs() == [Self.manifestDigest])
    }

    @Test func setReferenceReplacesTheSameNameInPlaceAndAppendsNewNames() throws {
        try store.setReference("example.com/a:1", to: descriptor("1"))
        try store.setReference("example.com/b:1", to: descriptor("1"))
        try store.setReference("example.com/a:1", to: descriptor("2"))
        #expect(try names() == ["example.com/a:1", "example.com/b:1"])
        #expect(try store.reference(named: "example.com/a:1")?.digest == descriptor("2").digest)
        #expect(try store.reference(named: "example.com/c:1") == nil)
        let stored = try #require(try store.reference(named: "example.com/b:1"))
        #expect(stored.annotations == [Descriptor.refNameAnnotation: "example.com/b:1"])
    }

    @Test func setReferencesWritesEveryNameInOneRewriteKeepingOrder() throws {
        try store.setReference("example.com/a:1", to: descriptor("1"))
        try store.setReferences([
            (name: "example.com/c:1", descriptor: descriptor("2")),
            (name: "example.com/a:1", descriptor: descriptor("2")),
            (name: "example.com/b:1", descriptor: descriptor("1")),
        ])
        #expect(try names() == ["example.com/a:1", "example.com/c:1", "example.com/b:1"])
        #expect(try store.reference(named: "example.com/a:1")?.digest == descriptor("2").digest)
    }

    @Test func nothingNewLeavesIndexJSONUntouched() throws {
        try store.setReference("example.com/a:1", to: descriptor("1"))
        // index.json is only ever replaced by rename, so an unchanged inode means it was not rewritten.
        let before = try inode("index.json")
        try store.setReferences([(name: "example.com/a:1", descriptor: descriptor("1"))])
        try store.setReference("example.com/a:1", to: descriptor("1"))
        #expect(try store.removeReference("example.com/z:1") == false)
        #expect(try inode("index.json") == before)
        try store.setReference("example.com/a:1", to: descriptor("2"))
        #expect(try inode("index.json") != before)
    }

    @Test func removeReferenceSaysWhetherTheNameExisted() throws {
        try store.setReference("example.com/a:1", to: descriptor("1"))
        try store.setReference("example.com/b:1", to: descriptor("1"))
        #expect(try store.removeReference("example.com/a:1"))
        #expect(try store.removeReference("example.com/a:1") == false)
        #expect(try names() == ["example.com/b:1"])
    }

    @Test func theIndexIsAnOCIImageIndex() throws {
        try store.setReference("example.com/a:1", to: descriptor("1"))
        let object = try JSONSerialization.jsonObject(with: Data(TestFiles.read(store.path("index.json"))))
        let json = try #require(object as? [String: Any])
        #expect(json["schemaVersion"] as? Int == 2)
        #expect(json["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        #expect((json["manifests"] as? [Any])?.count == 1)
    }

    @Test func aDirectoryWithoutIndexJSONIsNotAStore() throws {
        let elsewhere = ContentStore(root: directory.appending("empty"))
        #expect(throws: ContentStoreError.notAStore(elsewhere.root)) { try elsewhere.references() }
        #expect(
            ContentStoreError.notAStore("/srv/x").description
                == "/srv/x: not a ferry store (no index.json); run ferry pull or ferry sync first")
    }

    @Test func anUnparsableIndexNamesTheFile() throws {
        try TestFiles.write("{", to: store.path("index.json"))
        let indexPath = store.path("index.json")
        #expect {
            try store.references()
        } throws: { error in
            guard case .invalidIndex(let path, _) = error as? ContentStoreError else { return false }
            return path == indexPath
        }
    }

    @Test func copyBlobStreamsAVerifiedCopyAndSkipsWhatIsPresent() throws {
        let source = ContentStore(root: directory.appending("source"))
        try source.prepare()
        let size: Int64 = 3 << 20 + 17
        let written = directory.appending("big")
        let digest = try DeterministicBlob.write(size: size, seed: 7, to: written)
        try FileManager.default.moveItem(atPath: written, toPath: source.blobPath(digest))
        #expect(try store.copyBlob(digest, from: source) == size)
        #expect(try TestFiles.read(store.blobPath(digest)) == TestFiles.read(source.blobPath(digest)))
        #expect(try store.copyBlob(digest, from: source) == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path("tmp")).isEmpty)
    }

    @Test func copyBlobRefusesACorruptSourceAndLeavesNothingBehind() throws {
        let source = ContentStore(root: directory.appending("source"))
        try source.prepare()
        let claimed = Self.manifestDigest
        try TestFiles.write(Array("tampered".utf8), to: source.blobPath(claimed))
        let actual = Digest.compute(.sha256, of: Array("tampered".utf8))
        #expect(throws: ContentStoreError.corruptBlob(claimed, actual: actual, path: source.blobPath(claimed))) {
            try store.copyBlob(claimed, from: source)
        }
        #expect(!store.hasBlob(claimed))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path("tmp")).isEmpty)
    }

    @Test func copyBlobOfAnAbsentBlobSaysItIsMissing() throws {
        let empty = ContentStore(root: directory.appending("empty"))
        #expect(throws: ContentStoreError.missingBlob(Self.manifestDigest)) {
            try store.copyBlob(Self.manifestDigest, from: empty)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.path("tmp")).isEmpty)
    }

    @Test func anIndexWrittenByAnotherToolIsReadEntryByEntryAndKeepsEverything() throws {
        // Pretty-printed, extra annotations, a platform, an index annotation: what skopeo or umoci may leave.
        let text = """
            {
              "schemaVersion": 2,
              "annotations": { "made-by": "umoci" },
              "manifests": [
                {
                  "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "digest": "\(Self.manifestDigest)",
                  "size": 19,
                  "annotations": { "org.opencontainers.image.ref.name": "example.com/a:1", "x": "y" },
                  "platform": { "os": "linux", "architecture": "arm64", "variant": "v8" }
                },
                { "mediaType": "application/vnd.oci.image.index.v1+json", "digest": "\(Self.manifestDigest)", "size": 19 }
              ]
            }
            """
        try TestFiles.write(text, to: store.path("index.json"))
        let fresh = ContentStore(root: store.root)
        let whole = try JSONDecoder().decode(IndexShape.self, from: Data(text.utf8))
        #expect(try fresh.references() == whole.manifests)
        #expect(try fresh.reference(named: "example.com/a:1")?.platform?.architecture == "arm64")
        // Rewriting keeps the index's own annotations and every entry's.
        try fresh.setReference("example.com/b:2", to: descriptor("2"))
        let rewritten = try JSONDecoder().decode(IndexShape.self, from: Data(try TestFiles.read(store.path("index.json"))))
        #expect(rewritten.annotations == ["made-by": "umoci"])
        #expect(Array(rewritten.manifests.prefix(2)) == whole.manifests)
    }

    struct IndexShape: Decodable {
        var manifests: [Descriptor]
        var annotations: [String: String]?
    }
}
