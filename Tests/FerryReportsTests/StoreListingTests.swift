import Foundation
import OCIModel
import Testing

@testable import FerryReports
@testable import Ledger

@Suite struct StoreListingTests {
    @Test func listsTagsThenDigestsNoTagPointsToWithoutIndexChildren() async throws {
        let fixture = try await LedgerFixture.make()
        let listing = StoreListing(try await fixture.store.inventory(), blobs: BlobUsage(files: 3, bytes: 5000))
        #expect(
            listing.references.map(\.reference) == [
                "docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36", "docker.io/library/nginx:1.27",
                "docker.io/library/nginx@\(digest("N1"))", "docker.io/library/redis:7", "example.org/app:1.0",
                "example.org/app@\(digest("D"))", "quay.io/new/thing:2",
            ])
        #expect(listing.counts.repositories == 6)
        #expect(listing.counts.tags == 6)
        #expect(listing.counts.untaggedDigests == 2)

        let nginx = try #require(listing.references.first { $0.reference == "docker.io/library/nginx:1.27" })
        #expect(nginx.imageID == nil)
        #expect(nginx.platforms.map(\.platform) == ["linux/amd64", "linux/arm64/v8"])
        #expect(nginx.platforms.first?.digest == digest("N2amd64"))
        #expect(nginx.servedBy.url == hub)
        #expect(!nginx.servedBy.mirror)
        // An index no tag points to any more keeps its platforms and is still not an image.
        let old = try #require(listing.references.first { $0.reference.hasSuffix("@\(digest("N1"))") })
        #expect(old.imageID == nil)
        #expect(old.platforms.count == 2)
        // The old digest was last confirmed by the first run.
        let app = try #require(listing.references.first { $0.reference == "example.org/app@\(digest("D"))" })
        #expect(app.imageID == digest("config D"))
        #expect(app.lastSeen == at(3))
        #expect(app.tag == nil)
    }

    @Test func rendersAlignedTextAndASummary() async throws {
        let fixture = try await LedgerFixture.make()
        let listing = StoreListing(try await fixture.store.inventory(), blobs: BlobUsage(files: 1, bytes: 1536))
        let lines = listing.textLines()
        #expect(lines.count == 1 + 8 + 1)
        let columns = lines[0].ranges(of: "DIGEST").first?.lowerBound
        let width = try #require(columns.map { lines[0].distance(from: lines[0].startIndex, to: $0) })
        for line in lines.dropFirst().dropLast() {
            // Every digest column starts at the same offset.
            #expect(line.dropFirst(width).prefix(12).allSatisfy { $0.isHexDigit }, "\(line)")
        }
        #expect(lines.contains { $0.contains("2 platforms") })
        #expect(lines.last == "8 references (6 tags, 2 untagged digests) in 6 repositories · blobs: 1.50 KiB in 1 file")
        #expect(listing.textLines(footer: false).count == 9)
        let empty = StoreListing(
            Inventory(schemaVersion: 1, repositories: [], driftHistory: []), blobs: BlobUsage(files: 0, bytes: 0))
        #expect(
            empty.textLines() == ["0 references (0 tags, 0 untagged digests) in 0 repositories · blobs: 0 B in 0 files"]
        )
    }

    @Test func measuresBlobsRecursively() throws {
        let directory = try TemporaryDirectoryForListing()
        #expect(try BlobUsage.measure(directory.path + "/blobs") == BlobUsage(files: 0, bytes: 0))
        try FileManager.default.createDirectory(
            atPath: directory.path + "/blobs/sha256", withIntermediateDirectories: true)
        try Data(count: 100).write(to: URL(fileURLWithPath: directory.path + "/blobs/sha256/a"))
        try Data(count: 23).write(to: URL(fileURLWithPath: directory.path + "/blobs/sha256/b"))
        try FileManager.default.createDirectory(
            atPath: directory.path + "/blobs/sha512", withIntermediateDirectories: true)
        try Data(count: 7).write(to: URL(fileURLWithPath: directory.path + "/blobs/sha512/c"))
        #expect(try BlobUsage.measure(directory.path + "/blobs") == BlobUsage(files: 3, bytes: 130))
    }
}

/// A scratch directory removed when the test ends.
private final class TemporaryDirectoryForListing {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-listing-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
