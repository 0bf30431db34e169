import ArgumentParser
import FerryReports
import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Synchronization
import Testing

@testable import FerryCommands

/// Collects lines in memory.
private final class Lines: LineSink {
    private let storage = Mutex<[String]>([])
    func writeLine(_ text: String) { storage.withLock { $0.append(text) } }
    var all: [String] { storage.withLock { $0 } }
    /// Everything written, as the terminal would show it.
    var text: String { all.map { $0 + "\n" }.joined() }
}

private struct CommandRun {
    var status: FerryCommands.ExitStatus
    var stdout: Lines
    var stderr: Lines
}

private func label(_ text: String) -> Digest { Digest.sha256(of: Array(text.utf8)) }
private func at(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: 1_795_948_200 + seconds) }

/// A store directory whose ferry.db has two finished runs: the first pulls alpine and busybox, the second sees
/// alpine's image ID drift and fails ghcr.io/org/tool.
private struct SeededStore {
    let directory: TemporaryDirectory
    let first: RunID
    let second: RunID
    var path: String { directory.path }

    init() async throws {
        directory = try TemporaryDirectory(prefix: "ferry-report-cmd")
        let store = try ReferenceStore.open(at: directory.appending("ferry.db"))
        func resolved(_ manifest: String, _ config: String, _ servedBy: String) -> Observation.Result {
            .resolved(
                ResolvedManifest(
                    digest: label(manifest), mediaType: .ociManifest, imageID: label(config), servedBy: servedBy))
        }
        first = try await store.beginRun(RunStart(startedAt: at(0), command: "sync", toolVersion: "0.1.0"))
        _ = try await store.record(
            Observation(
                runID: first, reference: try ImageReference(parsing: "alpine:3.20"), bytesTransferred: 2048,
                observedAt: at(1), result: resolved("A", "config A", "https://mirror.example.internal")))
        _ = try await store.record(
            Observation(
                runID: first, reference: try ImageReference(parsing: "busybox:1.36"), observedAt: at(2),
                result: resolved("B", "config B", "https://registry-1.docker.io")))
        _ = try await store.finishRun(first, RunFinish(finishedAt: at(10), status: .completed, exitStatus: 0))
        second = try await store.beginRun(RunStart(startedAt: at(3600), command: "sync", toolVersion: "0.1.0"))
        _ = try await store.record(
            Observation(
                runID: second, reference: try ImageReference(parsing: "alpine:3.20"), observedAt: at(3601),
                result: resolved("A", "config X", "https://mirror.example.internal")))
        _ = try await store.record(
            Observation(
                runID: second, reference: try ImageReference(parsing: "ghcr.io/org/tool:1.0"),
                attempts: [EndpointAttempt(endpoint: "https://ghcr.io", error: "manifest unknown", fellBack: false)],
                observedAt: at(3602), result: .failed(error: "manifest unknown")))
        _ = try await store.finishRun(second, RunFinish(finishedAt: at(3610), status: .completed, exitStatus: 3))
        try store.close()
        try directory.makeSubdirectory("blobs/sha256")
        try TestFiles.write([UInt8](repeating: 7, count: 1000), to: directory.appending("blobs/sha256/aa"))
        try TestFiles.write([UInt8](repeating: 7, count: 24), to: directory.appending("blobs/sha256/bb"))
    }
}

/// Parses `ferry <arguments>` as the binary would and runs the command with captured output.
private func ferry(_ arguments: [String]) async throws -> CommandRun {
    let parsed = try FerryCommand.parseAsRoot(arguments)
    let out = CommandRun(status: .ok, stdout: Lines(), stderr: Lines())
    let output = CommandOutput(standardOutput: out.stdout, standardError: out.stderr)
    var result = out
    switch parsed {
    case let report as FerryCommand.Report: result.status = await report.run(output: output, now: at(7200))
    case let ls as FerryCommand.Ls: result.status = await ls.run(output: output)
    default: Issue.record("parsed \(type(of: parsed))")
    }
    return result
}

@Suite struct ReportCommandTests {
    @Test func printsTheLatestRunAsMarkdownByDefault() async throws {
        let store = try await SeededStore()
        let result = try await ferry(["report", "--store", store.path])
        #expect(result.status == .ok)
        #expect(result.stderr.all.isEmpty)
        let markdown = result.stdout.text
        #expect(markdown.hasPrefix("# ferry sync run \(store.second): completed, exit 3\n"))
        #expect(markdown.contains("## Drift (1)\n"))
        #expect(markdown.contains("## Failures (1)\n"))
        #expect(markdown.hasSuffix(" |\n"))
    }

    @Test func rendersAPastRunAsJSONThatDecodes() async throws {
        let store = try await SeededStore()
        let result = try await ferry([
            "report", "--store", store.path, "--run", store.first.rawValue, "--format", "json",
        ])
        #expect(result.status == .ok)
        let report = try ReportJSON.decodeRunReport(Array(result.stdout.text.utf8))
        #expect(report.run.id == store.first)
        #expect(report.images.map(\.reference) == ["docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36"])
        #expect(report.images.map(\.outcome) == [.pulled, .pulled])
    }

    @Test func rendersHTML() async throws {
        let store = try await SeededStore()
        let result = try await ferry(["report", "--store", store.path, "--format", "html"])
        #expect(result.status == .ok)
        #expect(result.stdout.text.hasPrefix("<!DOCTYPE html>\n"))
        #expect(result.stdout.text.contains("<tr class=\"row drift\">"))
    }

    @Test func rendersTheInventory() async throws {
        let store = try await SeededStore()
        let json = try await ferry(["report", "--store", store.path, "--inventory", "--format", "json"])
        #expect(json.status == .ok)
        let inventory = try ReportJSON.decodeInventoryReport(Array(json.stdout.text.utf8))
        #expect(inventory.generatedAt == at(7200))
        #expect(inventory.repositories.map(\.repository) == ["docker.io/library/alpine", "docker.io/library/busybox"])
        #expect(inventory.driftHistory.map(\.kind) == [.imageIDDrift])
        let markdown = try await ferry(["report", "--store", store.path, "--inventory"])
        #expect(markdown.stdout.text.hasPrefix("# ferry inventory\n"))
    }

    @Test func anUnknownRunListsTheRecentOnesAndExits65() async throws {
        let store = try await SeededStore()
        let unknown = try await ferry(["report", "--store", store.path, "--run", "20000101T000000Z-0000"])
        #expect(unknown.status == .invalidInput)
        #expect(unknown.status.rawValue == 65)
        #expect(unknown.stdout.all.isEmpty)
        #expect(
            unknown.stderr.all == [
                "Error: run \"20000101T000000Z-0000\" is not in \(store.path)/ferry.db; the most recent: "
                    + "\(store.second), \(store.first)"
            ])
        let malformed = try await ferry(["report", "--store", store.path, "--run", "latest"])
        #expect(malformed.status == .invalidInput)
        #expect(
            malformed.stderr.all == [
                "Error: run \"latest\" is not a run ID (yyyyMMddTHHmmssZ-xxxx); the most recent: "
                    + "\(store.second), \(store.first)"
            ])
    }

    @Test func aMissingStoreIsAnIOErrorAndIsNotCreated() async throws {
        let directory = try TemporaryDirectory(prefix: "ferry-report-cmd")
        let missing = directory.appending("nowhere")
        for arguments in [["report", "--store", missing], ["ls", "--store", missing]] {
            let result = try await ferry(arguments)
            #expect(result.status == .ioError)
            #expect(result.stderr.all == ["Error: no ferry store at \(missing): run ferry sync or ferry pull first"])
            #expect(result.stdout.all.isEmpty)
        }
        #expect(!TestFiles.exists(missing))
    }

    @Test func anEmptyStoreSaysSo() async throws {
        let directory = try TemporaryDirectory(prefix: "ferry-report-cmd")
        try ReferenceStore.open(at: directory.appending("ferry.db")).close()
        let report = try await ferry(["report", "--store", directory.path])
        #expect(report.status == .invalidInput)
        #expect(
            report.stderr.all == [
                "Error: no runs recorded in \(directory.path)/ferry.db yet: run ferry sync or ferry pull first"
            ])
        let unknown = try await ferry(["report", "--store", directory.path, "--run", "20000101T000000Z-0000"])
        #expect(unknown.stderr.all.first?.hasSuffix("; the store has no runs yet") == true)
        let ls = try await ferry(["ls", "--store", directory.path])
        #expect(ls.status == .ok)
        #expect(
            ls.stdout.all == ["0 references (0 tags, 0 untagged digests) in 0 repositories · blobs: 0 B in 0 files"])
    }

    @Test func runAndInventoryTogetherIsAUsageError() throws {
        #expect(throws: (any Error).self) {
            try FerryCommand.parseAsRoot(["report", "--run", "20000101T000000Z-0000", "--inventory"])
        }
        do {
            _ = try FerryCommand.parseAsRoot(["report", "--run", "20000101T000000Z-0000", "--inventory"])
        } catch {
            #expect(FerryCommand.exitCode(for: error).rawValue == 64)
            #expect(FerryCommand.message(for: error) == "--run and --inventory cannot be used together")
        }
        #expect(throws: (any Error).self) { try FerryCommand.parseAsRoot(["report", "--format", "pdf"]) }
    }

    @Test func printsTheSchemas() async throws {
        let run = try await ferry(["report", "--schema"])
        #expect(run.status == .ok)
        #expect(run.stdout.all == [ReportSchema.runReportV2])
        let inventory = try await ferry(["report", "--schema", "--inventory"])
        #expect(inventory.stdout.all == [ReportSchema.inventoryReportV1])
    }
}

@Suite struct LsCommandTests {
    @Test func listsEveryStoredReferenceWithAFooter() async throws {
        let store = try await SeededStore()
        let result = try await ferry(["ls", "--store", store.path])
        #expect(result.status == .ok)
        #expect(result.stderr.all.isEmpty)
        let lines = result.stdout.all
        #expect(lines.count == 4)
        #expect(
            lines[0] == "REFERENCE                       DIGEST        IMAGE ID      LAST SEEN                SERVED BY"
        )
        #expect(
            lines[1]
                == "docker.io/library/alpine:3.20   \(label("A").shortHex)  \(label("config X").shortHex)  "
                + "2026-11-29 11:30:01 UTC  https://mirror.example.internal (mirror)")
        #expect(
            lines[2]
                == "docker.io/library/busybox:1.36  \(label("B").shortHex)  \(label("config B").shortHex)  "
                + "2026-11-29 10:30:02 UTC  https://registry-1.docker.io")
        #expect(lines[3] == "2 references (2 tags, 0 untagged digests) in 2 repositories · blobs: 1.00 KiB in 2 files")
        let quiet = try await ferry(["ls", "--store", store.path, "--quiet"])
        #expect(quiet.stdout.all == Array(lines.prefix(3)))
    }

    @Test func printsJSON() async throws {
        let store = try await SeededStore()
        let result = try await ferry(["ls", "--store", store.path, "--json"])
        #expect(result.status == .ok)
        let listing = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.text.utf8)) as? [String: Any])
        let references = try #require(listing["references"] as? [[String: Any]])
        #expect(
            references.compactMap { $0["reference"] as? String } == [
                "docker.io/library/alpine:3.20", "docker.io/library/busybox:1.36",
            ])
        #expect(references.first?["digest"] as? String == label("A").description)
        #expect(references.first?["lastSeen"] as? String == "2026-11-29T11:30:01.000Z")
        let blobs = try #require(listing["blobs"] as? [String: Any])
        #expect(blobs["bytes"] as? Int == 1024)
        #expect(blobs["files"] as? Int == 2)
    }
}

@Suite struct WriteReportsTests {
    private func environment(_ store: String) throws -> Environment {
        Environment(global: try GlobalOptions.parse(["--store", store]))
    }

    @Test func writesTheRunsReportsLinksAndMetrics() async throws {
        let store = try await SeededStore()
        let extra = store.directory.appending("published")
        let ledger = try ReferenceStore.open(at: store.directory.appending("ferry.db"))
        defer { try? ledger.close() }
        try await environment(store.path).writeReports(runID: store.second, ledger: ledger, extraDirectory: extra)

        let id = store.second.rawValue
        for ext in ["json", "md", "html"] {
            #expect(TestFiles.exists(store.directory.appending("reports/\(id).\(ext)")))
            #expect(TestFiles.exists(extra + "/\(id).\(ext)"))
            #expect(
                try FileManager.default.destinationOfSymbolicLink(
                    atPath: store.directory.appending("reports/latest.\(ext)"))
                    == "\(id).\(ext)")
        }
        let report = try ReportJSON.decodeRunReport(
            try TestFiles.read(store.directory.appending("reports/latest.json")))
        #expect(report.run.id == store.second)
        let metrics = try TestFiles.readText(store.directory.appending("metrics.prom"))
        // The second run failed a reference, so the last success is the first run's end; bytes add up over runs.
        #expect(metrics.contains("\nferry_last_success_timestamp_seconds \(Int(at(10).timeIntervalSince1970))\n"))
        #expect(metrics.contains("\nferry_bytes_transferred_total 2048\n"))
        #expect(metrics.contains("\nferry_images{status=\"drift\"} 1\n"))
    }

    @Test func aDryRunGetsReportsButLeavesMetricsAlone() async throws {
        let store = try await SeededStore()
        let ledger = try ReferenceStore.open(at: store.directory.appending("ferry.db"))
        defer { try? ledger.close() }
        let dry = try await ledger.beginRun(RunStart(startedAt: at(7000), command: "sync", dryRun: true))
        _ = try await ledger.finishRun(dry, RunFinish(finishedAt: at(7001), status: .dryRun, exitStatus: 0))
        try await environment(store.path).writeReports(runID: dry, ledger: ledger, extraDirectory: nil)
        #expect(TestFiles.exists(store.directory.appending("reports/\(dry).json")))
        #expect(!TestFiles.exists(store.directory.appending("metrics.prom")))
    }

    @Test func failuresAreStoreErrors() async throws {
        let store = try await SeededStore()
        let ledger = try ReferenceStore.open(at: store.directory.appending("ferry.db"))
        defer { try? ledger.close() }
        let env = try environment(store.path)
        let unknown = try await #require(throws: CommandFailure.self) {
            try await env.writeReports(
                runID: try #require(RunID(rawValue: "20000101T000000Z-0000")), ledger: ledger, extraDirectory: nil)
        }
        #expect(unknown.status == .ioError)
        #expect(unknown.message == "\(store.path)/ferry.db: no run 20000101T000000Z-0000 to report")
        try TestFiles.write("not a directory", to: store.directory.appending("reports"))
        let blocked = try await #require(throws: CommandFailure.self) {
            try await env.writeReports(runID: store.second, ledger: ledger, extraDirectory: nil)
        }
        #expect(blocked.status == .ioError)
        #expect(blocked.message.hasPrefix(store.directory.appending("reports")))
    }
}

@Suite struct ReportSinceCommandTests {
    @Test func reportsWhatChangedSinceARunInEveryFormat() async throws {
        let store = try await SeededStore()
        let json = try await ferry(["report", "--store", store.path, "--since", store.first.rawValue, "--format", "json"])
        #expect(json.status == .ok)
        let report = try ReportJSON.decodeChangesReport(Array(json.stdout.text.utf8))
        #expect(report.since.id == store.first)
        #expect(report.runs.map(\.id) == [store.second])
        #expect(report.generatedAt == at(7200))
        let markdown = try await ferry(["report", "--store", store.path, "--since", store.first.rawValue])
        #expect(markdown.stdout.text.hasPrefix("# ferry: changes since run `\(store.first)`\n"))
        let html = try await ferry(["report", "--store", store.path, "--since", store.first.rawValue, "--format", "html"])
        #expect(html.stdout.text.hasPrefix("<!DOCTYPE html>\n"))
        let schema = try await ferry(["report", "--since", "x", "--schema"])
        #expect(schema.stdout.all == [ReportSchema.changesReportV1])
    }

    @Test func anUnknownSinceRunExits65AndSinceExcludesTheOtherViews() async throws {
        let store = try await SeededStore()
        let unknown = try await ferry(["report", "--store", store.path, "--since", "20000101T000000Z-0000"])
        #expect(unknown.status == .invalidInput)
        #expect(
            unknown.stderr.all == [
                "Error: run \"20000101T000000Z-0000\" is not in \(store.path)/ferry.db; the most recent: "
                    + "\(store.second), \(store.first)"
            ])
        #expect(throws: (any Error).self) { try FerryCommand.parseAsRoot(["report", "--since", "a", "--inventory"]) }
        #expect(throws: (any Error).self) { try FerryCommand.parseAsRoot(["report", "--since", "a", "--run", "b"]) }
    }
}
