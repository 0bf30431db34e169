import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Synchronization
import Testing

@testable import FerryCommands

/// Text a command wrote, kept in memory.
final class CapturedOutput: TextOutput {
    private let text = Mutex("")

    func write(_ text: String) { self.text.withLock { $0 += text } }
    func writeLine(_ text: String) { write(text + "\n") }
    var isTerminal: Bool { false }

    /// Everything written.
    var all: String { text.withLock { $0 } }
    /// Complete lines.
    var lines: [String] { all.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
}

/// How one ferry invocation ended.
struct FerryResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var stdoutLines: [String] { Self.lines(stdout) }
    var stderrLines: [String] { Self.lines(stderr) }

    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
}

/// A store, a home directory and a mirror list for one test, and ways to run ferry on them: in-process
/// (parsed like argv, run through the same `run(Environment)` as the binary, output captured) or as the
/// built `ferry` binary (for the lock and signals).
final class FerryWorkspace: Sendable {
    let directory: TemporaryDirectory
    /// `--store`.
    let store: String
    /// HOME for runs: no user's docker config can leak in.
    let home: String
    /// The mirror list file (`--config`).
    let config: String

    init() throws {
        directory = try TemporaryDirectory(prefix: "ferry-integ")
        store = directory.appending("store")
        home = try directory.makeSubdirectory("home")
        config = directory.appending("mirrors.yaml")
    }

    /// Writes the mirror list.
    func writeConfig(_ yaml: String) throws { try TestFiles.write(yaml, to: config) }

    /// The environment runs see: only HOME (and PATH for the binary) plus `extra`.
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ["HOME": home, "PATH": "/usr/local/bin:/usr/bin:/bin"].merging(extra) { _, new in new }
    }

    /// `ferry <arguments> --store STORE` in this process, like `main` does it (a failure prints `Error: …`).
    func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> FerryResult {
        let command = try FerryCommand.parseAsRoot(arguments + ["--store", store])
        let out = CapturedOutput()
        let err = CapturedOutput()
        let status: Int32
        do {
            let exit: FerryCommands.ExitStatus
            switch command {
            case let pull as FerryCommand.Pull:
                exit = try await pull.run(
                    Environment(global: pull.global, output: out, errors: err, variables: environment(extra)))
            case let sync as FerryCommand.Sync:
                exit = try await sync.run(
                    Environment(global: sync.global, output: out, errors: err, variables: environment(extra)))
            case let push as FerryCommand.Push:
                exit = try await push.run(
                    Environment(global: push.global, output: out, errors: err, variables: environment(extra)))
            case let verify as FerryCommand.Verify:
                exit = try await verify.run(
                    Environment(global: verify.global, output: out, errors: err, variables: environment(extra)))
            case let prune as FerryCommand.Prune:
                exit = try await prune.run(
                    Environment(global: prune.global, output: out, errors: err, variables: environment(extra)))
            default:
                Issue.record("no in-process runner for \(type(of: command))")
                exit = .usage
            }
            status = exit.rawValue
        } catch let failure {
            err.writeLine("Error: \(failure.message)")
            status = failure.status.rawValue
        }
        return FerryResult(status: status, stdout: out.all, stderr: err.all)
    }

    /// `ferry pull REF --config CONFIG …` in this process.
    func pull(_ reference: String, _ options: [String] = [], environment: [String: String] = [:]) async throws
        -> FerryResult
    {
        try await run(["pull", reference, "--config", config] + options, environment: environment)
    }

    /// `ferry sync --config CONFIG …` in this process.
    func sync(_ options: [String] = [], environment: [String: String] = [:]) async throws -> FerryResult {
        try await run(["sync", "--config", config] + options, environment: environment)
    }

    /// The built `ferry` binary started with `arguments --store STORE`.
    func spawn(_ arguments: [String], environment extra: [String: String] = [:]) throws -> BackgroundProcess {
        try BackgroundProcess(
            path: try PackageProduct.path(of: "ferry"), arguments: arguments + ["--store", store],
            environment: environment(extra))
    }

    /// The built binary run to its end with `arguments --store STORE`; a process killed by a signal reports
    /// 128 + the signal, as a shell does.
    func runBinary(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> FerryResult {
        let process = try spawn(arguments, environment: extra)
        let status: Int32
        switch try await process.waitForExit() {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        func text(_ log: OutputLog) -> String { log.lines().map { $0 + "\n" }.joined() }
        return FerryResult(status: status, stdout: text(process.stdout), stderr: text(process.stderr))
    }

    /// Starts the binary's `sync --config CONFIG extra…` and returns once it holds the store's lock and one of its
    /// blob transfers hangs at `proxy`, which holds every blob body from now on (until `proxy.releaseStalls()`).
    func spawnStalledSync(through proxy: RegistryProxy, _ extra: [String] = []) async throws -> BackgroundProcess {
        proxy.stallBodies(after: 0) { $0.path.contains("/blobs/") }
        let process = try spawn(["sync", "--config", config] + extra)
        _ = try await proxy.events.wait(for: "a blob transfer of the sync to stall") { event in
            if case .stalled(let request, _) = event { return request.path.contains("/blobs/") }
            return false
        }
        return process
    }

    /// The one line a command refused by the run lock prints while `holder` (running `command`) holds the store.
    func lockedLine(holder: BackgroundProcess, command: String) throws -> String {
        let lockFile = store + "/ferry.lock"
        let started = try #require(
            try TestFiles.readText(lockFile).split(separator: "\n").first { $0.hasPrefix("started=") }?
                .dropFirst("started=".count))
        return "Error: store is locked by PID \(holder.pid) (\(command), started \(started)): \(lockFile)"
    }

    /// What is wrong with the JSON document `bytes` by the schema `ferry report <schemaArguments> --schema` prints
    /// (`[]` for the run report, `["--inventory"]`, `["--since", ID]`); empty when it is valid.
    func schemaProblems(_ bytes: [UInt8], schema schemaArguments: [String] = []) async throws -> [String] {
        let schema = try await runBinary(["report"] + schemaArguments + ["--schema"])
        #expect(schema.status == 0, "\(schema)")
        return try SchemaValidator(root: try JSONValue.parse(schema.stdout)).validate(try JSONValue.parse(bytes))
    }

    /// The reference store, opened read-write; close it before the next run.
    func ledger() throws -> ReferenceStore { try ReferenceStore.open(at: store + "/ferry.db") }

    /// Runs `body` with the reference store open, closing it afterwards.
    func withLedger<T>(_ body: (ReferenceStore) async throws -> T) async throws -> T {
        let ledger = try ledger()
        do {
            let value = try await body(ledger)
            try ledger.close()
            return value
        } catch {
            try? ledger.close()
            throw error
        }
    }

    /// The digests under `STORE/blobs/sha256`. A missing directory throws: "no blobs" must not pass because the
    /// store is somewhere else.
    func storedBlobs() throws -> Set<Digest> {
        Set(try TestFiles.list(store + "/blobs/sha256").map { try Digest(parsing: "sha256:" + $0) })
    }

    /// The names under `STORE/tmp` (every prepared store has the directory; a missing one throws).
    func temporaryFiles() throws -> [String] {
        try TestFiles.list(store + "/tmp").sorted()
    }

    /// Re-hashes every blob in the store; returns the ones whose content does not match their name.
    func corruptBlobs() throws -> [Digest] {
        try storedBlobs().filter { digest in
            Digest.sha256(of: try TestFiles.read(store + "/blobs/sha256/" + digest.hex)) != digest
        }
    }
}

/// Fails the test when any of `secrets` appears in the outputs or in the bytes of any file under `roots`.
func expectNoSecrets(
    _ secrets: [String], in results: [FerryResult], filesUnder roots: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    for (index, secret) in secrets.enumerated() {
        for result in results {
            #expect(
                !result.stdout.contains(secret) && !result.stderr.contains(secret),
                "secret #\(index) printed: \(result)", sourceLocation: sourceLocation)
        }
    }
    for root in roots {
        #expect(
            try TestFiles.occurrences(of: secrets, inFilesUnder: root) == [], "secrets stored under \(root)",
            sourceLocation: sourceLocation)
    }
}

/// A mirror list registering `hosts` as plain HTTP, plus `images` (YAML list items, already indented by 2).
func plainHTTPList(_ hosts: [String], images: [String] = [], extra: String = "") -> String {
    var yaml = "version: 1\nregistries:\n"
    for host in hosts { yaml += "  \"\(host)\":\n    tls: plain-http\n" }
    yaml += extra
    if !images.isEmpty { yaml += "images:\n" + images.map { "  " + $0 + "\n" }.joined() }
    return yaml
}
