import FerryBundle
import FerrySystem
import FerryTestSupport
import Foundation
import LayoutStore
import Ledger
import OCIModel
import Testing

/// Ways to damage or poison a bundle.
enum Tamper: String, CaseIterable, CustomStringConvertible {
    case dotDotEntry, absolutePath, symlink, hardLink, characterDevice, blockDevice, fifo, unknownEntry
    case blobNotMatchingItsName
    case referenceToAbsentBlob, blobDroppedFromTar, blobNotListed, sidecarOfAnotherBundle
    case truncatedPart, corruptedPart, corruptedHeaderByte, missingPart, missingSidecar, unsupportedFormat

    var description: String { rawValue }
}

/// A target that has imported one bundle already, and the pieces of a second, valid bundle to tamper with.
struct RejectionScene {
    let directory: TemporaryDirectory
    let target: TargetStore
    let first: ExportSummary
    let second: ExportSummary
    let split: ExportSummary
    let entries: [ForgedEntry]
    /// The new layer the second bundle carries.
    let layer: Digest

    static func make() async throws -> RejectionScene {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let first = try await source.export(to: directory.appending("first.tar"))
        let target = try TargetStore(in: directory)
        _ = try await target.importBundle([first.sidecarPath])
        let added = try await source.addImage(
            IncrementalTests.sharingImage(), repository: "team/app", tag: "1.1", at: at(5000))
        let second = try await source.export(to: directory.appending("second.tar"), now: at(11_000))
        let split = try await source.export(to: directory.appending("split.tar"), splitSize: 4096, now: at(11_000))
        return RejectionScene(
            directory: directory, target: target, first: first, second: second, split: split,
            entries: Forge.entries(of: try TestFiles.read(second.parts[0].path)), layer: added.layers[1].digest)
    }

    var layerEntry: String { "blobs/sha256/\(layer.hex)" }

    /// `entries` with `entry` inserted after `index.json`.
    func inserting(_ entry: ForgedEntry) -> [ForgedEntry] {
        var out = entries
        out.insert(entry, at: out.firstIndex { $0.path == "index.json" }! + 1)
        return out
    }

    /// `entries` with the new layer replaced by `entry` (or dropped).
    func replacingLayer(with entry: ForgedEntry?) -> [ForgedEntry] {
        entries.compactMap { $0.path == layerEntry ? entry : $0 }
    }

    /// Writes a forged bundle and returns the file to import and the exact error expected.
    func forge(_ tamper: Tamper) throws -> (files: [String], expected: BundleError) {
        let file = directory.appending("evil.tar")
        let description = try second.wholeDescription()
        func write(_ entries: [ForgedEntry], _ description: BundleDescription = description) throws -> [String] {
            [try Forge.write(try Forge.tar(entries), description: description, to: file)]
        }
        switch tamper {
        case .dotDotEntry:
            return (
                try write(inserting(.file("blobs/../../evil", [1, 2, 3]))),
                .unsafePath(entry: "blobs/../../evil", reason: "\"..\" components are refused")
            )
        case .absolutePath:
            return (
                try write(inserting(.file("/etc/cron.d/evil", Array("* * * * * root sh\n".utf8)))),
                .unsafePath(entry: "/etc/cron.d/evil", reason: "absolute paths are refused")
            )
        case .symlink:
            return (
                try write(replacingLayer(with: ForgedEntry(path: layerEntry, type: 0x32, link: "/etc/passwd"))),
                .forbiddenEntryType(entry: layerEntry, type: .symbolicLink(target: "/etc/passwd"))
            )
        case .hardLink:
            return (
                try write(replacingLayer(with: ForgedEntry(path: layerEntry, type: 0x31, link: "oci-layout"))),
                .forbiddenEntryType(entry: layerEntry, type: .hardLink(target: "oci-layout"))
            )
        case .characterDevice:
            return (
                try write(inserting(ForgedEntry(path: "dev/tty", type: 0x33))),
                .forbiddenEntryType(entry: "dev/tty", type: .characterDevice)
            )
        case .blockDevice:
            return (
                try write(inserting(ForgedEntry(path: "blobs/sha256/sda", type: 0x34))),
                .forbiddenEntryType(entry: "blobs/sha256/sda", type: .blockDevice)
            )
        case .fifo:
            return (
                try write(inserting(ForgedEntry(path: "blobs/pipe", type: 0x36))),
                .forbiddenEntryType(entry: "blobs/pipe", type: .fifo)
            )
        case .unknownEntry:
            return (
                try write(inserting(.file("README.txt", Array("hi\n".utf8)))), .unexpectedEntry(entry: "README.txt")
            )
        case .blobNotMatchingItsName:
            var bytes = entries.first { $0.path == layerEntry }!.content
            bytes[bytes.count / 2] ^= 0xFF
            return (
                try write(replacingLayer(with: .file(layerEntry, bytes))),
                .blobDigestMismatch(entry: layerEntry, actual: Digest.sha256(of: bytes))
            )
        case .referenceToAbsentBlob:
            let ghost = Digest.sha256(of: Array("ghost".utf8))
            var changed = description
            changed.references.append(
                BundleReference(name: "registry.test/team/ghost:1", digest: ghost, mediaType: .ociManifest, size: 5))
            var forged = try Forge.replacingDescription(entries, with: changed)
            let indexPosition = forged.firstIndex { $0.path == "index.json" }!
            var index = try #require(
                try JSONSerialization.jsonObject(with: Data(forged[indexPosition].content)) as? [String: Any])
            var manifests = index["manifests"] as? [[String: Any]] ?? []
            manifests.append([
                "mediaType": MediaType.ociManifest.rawValue, "digest": ghost.description, "size": 5,
                "annotations": [Descriptor.refNameAnnotation: "registry.test/team/ghost:1"],
            ])
            index["manifests"] = manifests
            forged[indexPosition].content = Array(try JSONSerialization.data(withJSONObject: index))
            return (
                try write(forged, changed),
                .missingReferencedBlob(reference: "registry.test/team/ghost:1", digest: ghost)
            )
        case .blobDroppedFromTar:
            return (try write(replacingLayer(with: nil)), .blobMissingFromBundle(digest: layer))
        case .blobNotListed:
            let extra = Array("a blob nobody asked for".utf8)
            let name = "blobs/sha256/\(Digest.sha256(of: extra).hex)"
            return (try write(inserting(.file(name, extra))), .blobNotListed(entry: name))
        case .sidecarOfAnotherBundle:
            var other = description
            other.id = Digest.sha256(of: Array("another bundle".utf8))
            return (
                try write(entries, other),
                .descriptionMismatch(
                    reason: "the sidecar describes bundle \(other.id), the parts hold bundle \(description.id)")
            )
        case .truncatedPart:
            let part = split.parts[1]
            let bytes = try TestFiles.read(part.path)
            try TestFiles.write(bytes.dropLast(100), to: part.path)
            return (
                [split.sidecarPath],
                .partTruncated(path: part.path, size: part.part.size - 100, expected: part.part.size)
            )
        case .corruptedPart:
            let part = split.parts[1]
            var bytes = try TestFiles.read(part.path)
            bytes[bytes.count / 2] ^= 0x01
            try TestFiles.write(bytes, to: part.path)
            return (
                [split.sidecarPath],
                .partCorrupt(path: part.path, actual: Digest.sha256(of: bytes), expected: part.part.sha256)
            )
        case .corruptedHeaderByte:
            // A flipped bit in the first header fails the header checksum long before part 1 ends; the import
            // still names the part, the cause, rather than the symptom.
            let part = split.parts[0]
            var bytes = try TestFiles.read(part.path)
            bytes[10] ^= 0x01
            try TestFiles.write(bytes, to: part.path)
            return (
                [split.parts[2].path],
                .partCorrupt(path: part.path, actual: Digest.sha256(of: bytes), expected: part.part.sha256)
            )
        case .missingPart:
            try FileSystem.removeFile(split.parts[1].path)
            return (
                [split.sidecarPath],
                .partMissing(
                    name: "split.tar.part0002", number: 2, count: split.parts.count, searched: [directory.path])
            )
        case .missingSidecar:
            try FileSystem.removeFile(split.sidecarPath)
            return ([split.parts[0].path], .sidecarMissing(path: split.sidecarPath))
        case .unsupportedFormat:
            var text = try TestFiles.readText(second.sidecarPath)
            text = text.replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 2")
            try TestFiles.write(text, to: second.sidecarPath)
            return ([second.sidecarPath], .unsupportedFormat(path: second.sidecarPath, version: 2))
        }
    }
}

@Suite struct RejectionTests {
    @Test(arguments: Tamper.allCases)
    func aBadBundleIsRefusedAndTheStoreIsByteForByteUnchanged(tamper: Tamper) async throws {
        let scene = try await RejectionScene.make()
        let before = try treeSnapshot(scene.target.root)
        #expect(before["ferry.db"] != nil)
        #expect(before["tmp/"] != nil)
        let (files, expected) = try scene.forge(tamper)

        await #expect(throws: expected) { try await scene.target.importBundle(files) }
        #expect(expected.isBadBundle)
        let after = try treeSnapshot(scene.target.root)
        #expect(after == before, "\(after.filter { before[$0.key] != $0.value }.keys.sorted())")
        try await scene.target.withLedger { ledger async throws in
            #expect(try await ledger.bundleImports().map(\.id) == [scene.first.description.id])
        }
    }

    @Test func filesThatAreNotOneBundleAreRefusedBeforeTheStoreIsTouched() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let one = try await source.export(to: directory.appending("one.tar"))
        let two = try await source.export(to: directory.appending("two.tar"), now: at(11_000))
        #expect(throws: BundleError.fileNotFound(path: directory.appending("three.tar"))) {
            try LocatedBundle.locate([directory.appending("three.tar")])
        }
        #expect(throws: BundleError.mixedBundles(first: one.sidecarPath, second: two.parts[0].path)) {
            try LocatedBundle.locate([one.sidecarPath, two.parts[0].path])
        }
        #expect(
            BundleError.partMissing(name: "b.tar.part0002", number: 2, count: 3, searched: ["/media/a", "/media/b"])
                .description == "bundle part 2 of 3 is missing: b.tar.part0002 (looked in /media/a, /media/b)")
    }

    @Test func theUntamperedSceneImports() async throws {
        // The control for the table above: the same pieces, untouched, import fine.
        let scene = try await RejectionScene.make()
        let file = scene.directory.appending("forged.tar")
        let sidecar = try Forge.write(
            try Forge.tar(scene.entries), description: try scene.second.wholeDescription(), to: file)
        let imported = try await scene.target.importBundle([sidecar])
        #expect(imported.blobsAdded == 3)
        #expect(try scene.target.references()["registry.test/team/app:1.1"] != nil)
    }

    @Test func aFailedImportIntoAStoreWithoutTmpLeavesNoTmp() async throws {
        let scene = try await RejectionScene.make()
        try FileSystem.removeTree(scene.target.root + "/tmp")
        let before = try treeSnapshot(scene.target.root)
        let (files, expected) = try scene.forge(.blobNotMatchingItsName)
        await #expect(throws: expected) { try await scene.target.importBundle(files) }
        #expect(try treeSnapshot(scene.target.root) == before)
    }

    @Test func aTruncatedArchiveInsideIntactPartsIsRefused() async throws {
        // The parts match their (forged) sidecar, but the tar stops inside a blob.
        let scene = try await RejectionScene.make()
        let archive = try Forge.tar(scene.entries)
        let layerStart = try #require(archive.firstRange(of: Array(scene.layerEntry.utf8))?.lowerBound)
        let cut = Array(archive.prefix(layerStart + 512 + 10))
        let sidecar = try Forge.write(
            cut, description: try scene.second.wholeDescription(), to: scene.directory.appending("cut.tar"))
        let before = try treeSnapshot(scene.target.root)
        await #expect(throws: BundleError.truncatedArchive(entry: scene.layerEntry)) {
            try await scene.target.importBundle([sidecar])
        }
        #expect(try treeSnapshot(scene.target.root) == before)
    }
}

@Suite struct BundleErrorTextTests {
    static let digest = Digest.sha256(of: Array("x".utf8))

    @Test(arguments: [
        (
            BundleError.unsafePath(entry: "../evil", reason: "\"..\" components are refused"),
            #"entry "../evil": ".." components are refused"#
        ),
        (
            BundleError.unsafePath(entry: "/etc/passwd", reason: "absolute paths are refused"),
            #"entry "/etc/passwd": absolute paths are refused"#
        ),
        (
            BundleError.forbiddenEntryType(entry: "blobs/sha256/a", type: .symbolicLink(target: "/etc/passwd")),
            #"entry "blobs/sha256/a": symbolic link entries are refused"#
        ),
        (
            BundleError.forbiddenEntryType(entry: "x", type: .hardLink(target: "oci-layout")),
            #"entry "x": hard link entries are refused"#
        ),
        (
            BundleError.forbiddenEntryType(entry: "dev/tty", type: .characterDevice),
            #"entry "dev/tty": character device entries are refused"#
        ),
        (
            BundleError.unexpectedEntry(entry: "README.txt"),
            #"entry "README.txt": not part of a ferry bundle (only oci-layout, index.json, ferry-bundle.json and blobs/<algorithm>/<hex>)"#
        ),
        (
            BundleError.blobDigestMismatch(entry: "blobs/sha256/\(digest.hex)", actual: digest),
            #"entry "blobs/sha256/\#(digest.hex)": content does not match its name (it hashes to \#(digest))"#
        ),
        (
            BundleError.missingReferencedBlob(reference: "registry.test/team/ghost:1", digest: digest),
            "registry.test/team/ghost:1 needs blob \(digest), which is neither in the bundle nor in the store"
        ),
        (
            BundleError.partTruncated(path: "/m/b.tar.part0002", size: 100, expected: 4096),
            "/m/b.tar.part0002: bundle part is truncated: 100 of 4096 bytes"
        ),
        (
            BundleError.partCorrupt(path: "/m/b.tar.part0002", actual: digest, expected: digest),
            "/m/b.tar.part0002: bundle part is corrupt: SHA-256 \(digest.hex), expected \(digest.hex)"
        ),
        (
            BundleError.sidecarMissing(path: "/m/b.tar.ferry-bundle.json"),
            "/m/b.tar.ferry-bundle.json: bundle description not found; it holds the part checksums, so copy it along "
                + "with the bundle"
        ),
    ])
    func errorsNameTheThingAtFault(error: BundleError, text: String) {
        #expect(error.description == text)
        #expect(error.isBadBundle)
    }
}
