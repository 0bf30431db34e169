import FerrySystem
import FerryTestSupport
import Foundation
import Testing

@testable import FerryBundle

/// An export killed mid-way leaves its staging directory `FILE.tmp-PID-RANDOM` (with the journal of the files it
/// was moving); the next export to FILE removes it and the moved files that still have their recorded stamps.
/// What a killed process really leaves is shown by `RandomKillTests`; here the leftovers are made by hand.
@Suite struct ExportRestartTests {
    /// The PID of a process that has exited and been reaped.
    static func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    /// Leaves what an export with `pid` killed after moving `paths` into place would leave: its staging directory
    /// with the journal naming them.
    static func leaveStaging(for file: String, pid: Int32, moved paths: [String]) throws -> String {
        let directory = "\(file)\(FileSystem.temporaryMarker)\(pid)-7"
        try TestFiles.makeDirectory(directory)
        let lines = try paths.map { path in
            "\(FileSystem.lastComponent(of: path))\t\(try #require(FileSystem.stamp(path)).description)\n"
        }
        try TestFiles.write(lines.joined(), to: directory + "/" + ExportStaging.journalName)
        return directory
    }

    static func bundleFiles(_ summary: ExportSummary) -> [String] {
        summary.parts.map(\.path) + [summary.sidecarPath]
    }

    static func names(in directory: TemporaryDirectory) throws -> [String] {
        try TestFiles.list(directory.path).filter { $0.hasPrefix("bundle.tar") }.sorted()
    }

    @Test func theNextExportRemovesAKilledExportsMovedFilesAndStagingDirectory() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        let first = try await source.export(to: file, splitSize: 4096, now: at(10_000))
        #expect(try Self.names(in: directory) == Self.bundleFiles(first).map { FileSystem.lastComponent(of: $0) }.sorted())
        // Killed after moving everything, before the journal went: the rerun rewrites the bundle.
        let staging = try Self.leaveStaging(for: file, pid: try Self.deadPID(), moved: Self.bundleFiles(first))
        try TestFiles.write("half a part", to: staging + "/bundle.tar.part0002")
        let second = try await source.export(to: file, splitSize: 4096, now: at(11_000))
        #expect(second.description.id == first.description.id)
        #expect(second.parts.map(\.part.sha256) != first.parts.map(\.part.sha256))
        #expect(try Self.names(in: directory) == Self.bundleFiles(second).map { FileSystem.lastComponent(of: $0) }.sorted())
        let target = try TargetStore(in: directory)
        #expect(try await target.importBundle([file]).partsChecked == second.parts.count)
    }

    @Test func aFileReplacedSinceTheKillIsKeptAndRefused() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        let first = try await source.export(to: file, splitSize: 4096, now: at(10_000))
        let staging = try Self.leaveStaging(for: file, pid: try Self.deadPID(), moved: Self.bundleFiles(first))
        try TestFiles.write("keep me", to: file + ".part0002")
        await #expect(throws: BundleError.outputExists(path: file + ".part0002")) {
            try await source.export(to: file, splitSize: 4096, now: at(11_000))
        }
        #expect(try TestFiles.readText(file + ".part0002") == "keep me")
        #expect(try Self.names(in: directory) == ["bundle.tar.part0002"])
        #expect(!TestFiles.exists(staging))
    }

    @Test func aRunningExportsStagingDirectoryAndACompleteBundleAreLeftAlone() async throws {
        let directory = try TemporaryDirectory()
        let (source, _) = try await populatedSource(directory)
        let file = directory.appending("bundle.tar")
        let first = try await source.export(to: file, now: at(10_000))
        let before = try Self.bundleFiles(first).map { try TestFiles.read($0) }
        // This process is alive: its staging directory belongs to an export still writing.
        let staging = try Self.leaveStaging(for: file, pid: getpid(), moved: Self.bundleFiles(first))
        await #expect(throws: BundleError.outputExists(path: file + ".ferry-bundle.json")) {
            try await source.export(to: file, now: at(11_000))
        }
        #expect(try Self.bundleFiles(first).map { try TestFiles.read($0) } == before)
        #expect(TestFiles.exists(staging + "/" + ExportStaging.journalName))
        try FileSystem.removeTree(staging)
        // Without any staging directory a complete bundle is refused just the same.
        await #expect(throws: BundleError.outputExists(path: file + ".ferry-bundle.json")) {
            try await source.export(to: file, now: at(11_000))
        }
        #expect(try Self.names(in: directory) == ["bundle.tar", "bundle.tar.ferry-bundle.json"])
    }

    @Test func stagingDirectoriesAreRecognisedByTheirExactName() {
        #expect(ExportStaging.isStagingDirectory("b.tar.tmp-12-345", of: "b.tar"))
        #expect(!ExportStaging.isStagingDirectory("b.tar.part0001.tmp-12-345", of: "b.tar"))
        #expect(!ExportStaging.isStagingDirectory("b.tar.tmp-12", of: "b.tar"))
        #expect(!ExportStaging.isStagingDirectory("a.tar.tmp-12-345", of: "b.tar"))
        #expect(!ExportStaging.isStagingDirectory("b.tar", of: "b.tar"))
    }
}
