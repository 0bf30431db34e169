import FerrySystem
import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Testing

@testable import FerryBundle

/// The bundle description is written one element at a time and read back the same way; these tests hold it to
/// the bytes of encoding the whole `BundleDescription` at once, which is what the format is defined by.
@Suite struct StreamedDescriptionTests {
    /// A real description (the populated source's), with text that is not ASCII and quotes where a store can have
    /// them, a `since` base, and an excluded blob; its drift events are empty, as are most attempt lists.
    static func fixture(_ directory: TemporaryDirectory) async throws -> BundleDescription {
        let (source, _) = try await populatedSource(directory)
        try await source.addImage(
            .small(seed: 7), repository: "team/intl", tag: "1.0", at: at(300), servedBy: "https://miroir.example",
            attempts: [
                EndpointAttempt(
                    endpoint: "https://spiegel.example",
                    error: "503 „Dienst nicht verfügbar“ — réessayez\n\"plus tard\"", fellBack: true)
            ])
        var description = try await source.export(to: directory.appending("fixture.tar")).wholeDescription()
        description.toolVersion = "1.0.0-ß"
        description.sourceStore = BundleDescription.SourceStore(
            id: "abc", host: "hôte", path: "/srv/ferry-störe/日本")
        let base = Digest.sha256(of: Array("base".utf8))
        description.since = BundleDescription.Base(bundle: base, chain: [base], run: nil)
        description.excludedBlobs = [
            BundleDescription.ExcludedBlob(digest: Digest.sha256(of: Array("gone".utf8)), size: 12, carriedBy: base)
        ]
        return description
    }

    /// `description` through the streaming writer, and where its arrays went.
    static func streamed(_ description: BundleDescription) throws -> (bytes: [UInt8], ranges: [Range<Int64>]) {
        var out: [UInt8] = []
        let writer = try DescriptionWriter(outline: description.outline) { out += $0 }
        for blob in description.blobs { try writer.add(.blob(blob)) }
        for blob in description.excludedBlobs { try writer.add(.excludedBlob(blob)) }
        try description.history.forEachRecord(.all) { try writer.add(.history($0)) }
        for reference in description.references { try writer.add(.reference(reference)) }
        try writer.finish()
        return (out, writer.slotRanges)
    }

    static func empty(_ description: BundleDescription) -> BundleDescription {
        DescriptionWriter.empty(description.outline)
    }

    @Test func theStreamedDescriptionIsTheWholeEncodingByteForByte() async throws {
        let directory = try TemporaryDirectory()
        let description = try await Self.fixture(directory)
        #expect(description.history.driftEvents.isEmpty)
        #expect(!description.history.observations.isEmpty)
        let streamed = try Self.streamed(description)
        #expect(streamed.bytes == (try description.encoded()))
        #expect(String(decoding: streamed.bytes, as: UTF8.self).contains("réessayez"))
        // Every array empty, at both depths.
        let empty = Self.empty(description)
        #expect(try Self.streamed(empty).bytes == (try empty.encoded()))
    }

    @Test func theSidecarIsTheStreamedDescriptionSplicedIntoItsOwnShell() async throws {
        let directory = try TemporaryDirectory()
        let description = try await Self.fixture(directory)
        let streamed = try Self.streamed(description)
        let parts = [
            BundlePart(name: "b.tar.part0001", size: 4096, sha256: Digest.sha256(of: Array("1".utf8))),
            BundlePart(name: "b.tar.part0002", size: 100, sha256: Digest.sha256(of: Array("2".utf8))),
        ]
        let shell = try DescriptionSlot.shell(
            BundleSidecar(description: DescriptionWriter.empty(description.outline), parts: parts))
        var sidecar: [UInt8] = []
        shell.write(
            content: { slot in
                let range = streamed.ranges[slot]
                sidecar += streamed.bytes[Int(range.lowerBound)..<Int(range.upperBound)]
            }, to: { sidecar += $0 })
        #expect(sidecar == (try BundleSidecar(description: description, parts: parts).encoded()))
    }

    @Test func theBundleIDIsTheHashOfTheWholeContentList() async throws {
        struct ContentList: Encodable {
            var formatVersion: Int
            var references: [BundleReference]
            var blobs: [BundleBlob]
        }
        let directory = try TemporaryDirectory()
        let description = try await Self.fixture(directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (references, blobs) in [(description.references, description.blobs), ([], [])] {
            let whole = try encoder.encode(
                ContentList(
                    formatVersion: 1, references: references, blobs: blobs.sorted { $0.digest < $1.digest }))
            #expect(BundleDescription.id(references: references, blobs: blobs) == Digest.sha256(of: Array(whole)))
        }
        #expect(description.id == BundleDescription.id(references: description.references, blobs: description.blobs))
    }

    @Test func aSidecarReadInPartsGivesTheOutlineAndTheDigestOfTheTarsCopy() async throws {
        let directory = try TemporaryDirectory()
        let description = try await Self.fixture(directory)
        let parts = [BundlePart(name: "b.tar", size: 10, sha256: Digest.sha256(of: Array("p".utf8)))]
        let path = directory.appending("b.tar.ferry-bundle.json")
        try TestFiles.write(try BundleSidecar(description: description, parts: parts).encoded(), to: path)
        let read = try DescriptionReading.readSidecar(path)
        #expect(read.outline == description.outline)
        #expect(read.parts == parts)
        #expect(read.descriptionDigest == Digest.sha256(of: try description.encoded()))
        let first = try #require(description.history.repositories.first?.tags.first)
        #expect(read.tagsLastSeen[BundleTagKey(repository: first.repository, tag: first.tag)] == first.lastSeen)

        // The same content written another way (compact): no digest to compare bytes with, the same canonical one.
        let compact = BundleJSON.encoder()
        compact.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let other = directory.appending("c.tar.ferry-bundle.json")
        try TestFiles.write(Array(try compact.encode(BundleSidecar(description: description, parts: parts))), to: other)
        #expect(try DescriptionReading.readSidecar(other).outline == description.outline)
        func canonical(_ path: String) throws -> Digest {
            try DescriptionReading.canonicalDigest(try FileByteSource(path: path)) {
                .invalidSidecar(path: path, reason: $0)
            }.digest
        }
        #expect(try canonical(path) == (try canonical(other)))
        var changed = description
        changed.history.runs[0].command = "changed"
        try TestFiles.write(try BundleSidecar(description: changed, parts: parts).encoded(), to: other)
        #expect(try canonical(path) != (try canonical(other)))
    }

    @Test func aBrokenSidecarNamesWhereItBreaks() async throws {
        let directory = try TemporaryDirectory()
        let description = try await Self.fixture(directory)
        let parts = [BundlePart(name: "b.tar", size: 10, sha256: Digest.sha256(of: Array("p".utf8)))]
        let path = directory.appending("b.tar.ferry-bundle.json")
        let good = String(decoding: try BundleSidecar(description: description, parts: parts).encoded(), as: UTF8.self)
        let observation = try #require(description.history.observations.first)
        let cases: [(String, String)] = [
            (good.replacingOccurrences(of: "\"runID\" : \"\(observation.runID)\"", with: "\"runID\" : 7"),
             "history.observations[0].runID: "),
            (String(good.dropLast(40)), "not valid JSON: "),
            ("[1, 2]", "not valid JSON: not a JSON object"),
            (good.replacingOccurrences(of: "\"formatVersion\" : 1,", with: ""),
             "not a ferry bundle description (no formatVersion)"),
        ]
        for (text, reason) in cases {
            try TestFiles.write(text, to: path)
            #expect {
                try DescriptionReading.readSidecar(path)
            } throws: { error in
                guard case BundleError.invalidSidecar(let at, let found) = error else { return false }
                return at == path && found.hasPrefix(reason)
            }
        }
    }

    @Test func aDescriptionLargerThanTheInMemoryLimitRoundTrips() async throws {
        let directory = try TemporaryDirectory()
        let source = try SourceStore(in: directory)
        // One run of 100 images over 4 repositories: the description outgrows what is kept in memory, on both sides.
        let run = try await source.ledger.beginRun(RunStart(startedAt: at(0), command: "sync", toolVersion: "test"))
        for number in 0..<100 {
            let repository = "team/repo-\(number % 4)"
            let tag = "1.\(number)"
            let image = try source.layout.addImage(
                .small(seed: UInt64(100 + number)), refName: SourceStore.name(repository, tag))
            _ = try await source.ledger.record(
                Observation(
                    runID: run, reference: try ImageReference(parsing: SourceStore.name(repository, tag)),
                    observedAt: at(Double(number)),
                    result: .resolved(
                        ResolvedManifest(
                            digest: image.manifestDigest, mediaType: image.manifest.mediaType,
                            imageID: image.imageID, servedBy: mirrorEndpoint))))
        }
        try await source.ledger.finishRun(run, RunFinish(finishedAt: at(100), status: .completed, exitStatus: 0))
        let bundle = try await source.export(to: directory.appending("big.tar"))
        let description = try bundle.wholeDescription()
        let embedded = try description.encoded()
        #expect(embedded.count > SpooledDocument.memoryLimit)
        #expect(try Self.streamed(description).bytes == embedded)

        let target = try TargetStore(in: directory)
        let imported = try await target.importBundle([bundle.sidecarPath])
        #expect(imported.references == 100)
        #expect(imported.rows.allSatisfy { $0.outcome == .pulled })
        #expect(try target.references().count == 100)
        try await target.withLedger { ledger async throws in
            let repository = try RepositoryName(parsing: "registry.test/team/repo-3")
            let tag = try #require(try await ledger.tag(repository: repository, tag: "1.99"))
            #expect(tag.lastRunID == run)
            #expect(tag.servedBy == mirrorEndpoint)
            #expect(try await ledger.observations(run: run).count == 100)
            #expect(try await ledger.run(run)?.bundleID == description.id)
        }
    }

    @Test func aSidecarWrittenAnotherWayImportsWhileOneSayingSomethingElseIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let bundle = try await source.export(to: directory.appending("b.tar"))
        let description = try bundle.wholeDescription()
        let parts = bundle.parts.map(\.part)
        let compact = BundleJSON.encoder()
        compact.outputFormatting = [.withoutEscapingSlashes]

        var changed = description
        changed.history.observations[0].servedBy = "https://elsewhere.example"
        try TestFiles.write(try BundleSidecar(description: changed, parts: parts).encoded(), to: bundle.sidecarPath)
        let target = try TargetStore(in: directory)
        let before = try treeSnapshot(target.root)
        let mismatch = BundleError.descriptionMismatch(
            reason: "ferry-bundle.json inside the bundle differs from the sidecar")
        await #expect(throws: mismatch) { try await target.importBundle([bundle.sidecarPath]) }
        #expect(try treeSnapshot(target.root) == before)

        // Unsorted keys, no whitespace: other bytes, the same description.
        try TestFiles.write(
            Array(try compact.encode(BundleSidecar(description: description, parts: parts))), to: bundle.sidecarPath)
        let imported = try await target.importBundle([bundle.sidecarPath])
        #expect(imported.id == description.id)
        #expect(imported.references == description.references.count)
    }
}
