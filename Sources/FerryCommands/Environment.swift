import CurlHTTP
import FerryHTTP
import FerryMaintenance
import FerryPull
import FerryReports
import FerrySync
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import Logging
import MirrorConfig
import OCIRegistry

/// The composition root: the only place that builds the libcurl transport, reads the environment and opens
/// stores. Commands get everything through it, so tests can run them in-process.
struct Environment {
    /// Options shared by every command.
    var global: GlobalOptions
    /// Where results and status lines go.
    var output: any TextOutput = Console.standardOutput
    /// Where errors and log events go.
    var errors: any TextOutput = Console.standardError
    /// The process environment.
    var variables: [String: String] = ProcessInfo.processInfo.environment

    /// The logger for this run.
    var logger: Logger { Logs.make(format: global.logFormat, level: global.logLevel, output: errors) }

    /// The retry policy from `--retries` and `--retry-delay`.
    var retryPolicy: RetryPolicy {
        RetryPolicy(retries: global.retries, baseDelay: .milliseconds(Int64(global.retryDelay * 1000)))
    }

    /// A libcurl transport.
    func makeTransport() throws(CommandFailure) -> CurlTransport {
        do {
            return try CurlTransport(version: FerryCommand.version, logger: logger)
        } catch {
            throw CommandFailure("cannot start the HTTP transport: \(error)", status: .ioError)
        }
    }

    /// A registry session for `list`: the libcurl transport, the list's credentials (Docker's config by default) and
    /// the retry policy of `--retries`/`--retry-delay`.
    func makeSession(for list: MirrorList, rateLimits: [RateLimitState] = [], share: Int = 1) throws(CommandFailure)
        -> RegistrySession
    {
        RegistrySession(
            transport: try makeTransport(), credentials: MirrorListCredentials(list: list, environment: variables),
            retry: retryPolicy, governor: RateGovernor(limits: Self.hostLimits(list), known: rateLimits, share: share),
            logger: logger)
    }

    /// `requests-per-second` and `max-concurrent` of each registry, under the hosts its requests go to.
    static func hostLimits(_ list: MirrorList) -> [String: HostLimits] {
        var limits: [String: HostLimits] = [:]
        for settings in list.registries.values where settings.requestsPerSecond != nil || settings.maxConcurrent != nil {
            let limit = HostLimits(requestsPerSecond: settings.requestsPerSecond, maxConcurrent: settings.maxConcurrent)
            // Docker Hub's API lives on registry-1.docker.io, not on the name references use.
            let hosts = settings.host == "docker.io" ? ["docker.io", "registry-1.docker.io"] : [settings.host]
            for host in hosts { limits[host.lowercased()] = limit }
        }
        return limits
    }

    /// The mirror list for commands where it is optional: loaded when `--config` was given, empty otherwise.
    func optionalMirrorList() throws(CommandFailure) -> MirrorList {
        global.config == nil ? MirrorList.empty : try loadMirrorList()
    }

    /// The mirror list at `--config`; every error is printed and the command exits 65.
    func loadMirrorList() throws(CommandFailure) -> MirrorList {
        do {
            return try MirrorList.load(from: global.configPath, environment: variables)
        } catch {
            for problem in error.errors { errors.writeLine(problem.description) }
            throw CommandFailure(error.summary, status: .invalidInput)
        }
    }

    /// The reference store `DIR/ferry.db`, created when missing.
    func openLedger() throws(CommandFailure) -> ReferenceStore {
        do {
            return try ReferenceStore.open(at: global.store + "/ferry.db")
        } catch {
            throw CommandFailure(ioError: error)
        }
    }

    /// Writes the run's reports (JSON, Markdown, HTML) and `metrics.prom` into the store, and into `extraDirectory`.
    ///
    /// A dry run gets its reports but leaves `metrics.prom` alone: it changed nothing, and its counts must not move
    /// the gauges that alerts watch.
    func writeReports(runID: RunID, ledger: ReferenceStore, extraDirectory: String?) async throws(CommandFailure) {
        do {
            guard let run = try await ledger.run(runID) else {
                throw CommandFailure("\(ledger.path): no run \(runID) to report", status: .ioError)
            }
            // metrics.prom describes the last sync: a push or dry run must not reset its gauges.
            let history =
                run.dryRun || run.command != "sync"
                ? nil
                : MetricsHistory(try await ledger.runTotals(excluding: runID, successCommand: run.command))
            // Rows stream from the reference store into the three files: memory does not follow the run's size.
            try await ReportWriter(storeDirectory: global.store, extraDirectory: extraDirectory)
                .write(run: runID, from: ledger, metrics: history)
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure(ioError: error)
        }
    }

    /// Brings `index.json` in line with the reference store when an earlier run stopped between committing its
    /// records and writing `index.json` (see ``IndexReconciler``); run by commands that hold the lock and write.
    func reconcileIndex(store: ContentStore, ledger: ReferenceStore) async throws(CommandFailure) {
        do {
            try store.removeLeftovers()
            // The last run recorded the file it left in line; the same file now means nothing to compare.
            if let stamp = try await ledger.indexStamp(), stamp == store.indexStamp { return }
            let findings = try await IndexReconciler(store: store, ledger: ledger).reconcile()
            if !findings.lagging.isEmpty {
                logger.notice(
                    "index.json was behind the reference store (an earlier run stopped before writing it); restored",
                    metadata: ["references": "\(findings.lagging.count)"])
            }
        } catch {
            throw CommandFailure(
                ioError: error, "cannot bring index.json in line with the reference store: \(error)")
        }
    }

    /// The store at `--store`, which must already exist (commands that only read or clean up).
    func openExistingStore() throws(CommandFailure) -> ContentStore {
        let store = ContentStore(root: global.store)
        guard FileSystem.exists(store.path("index.json")) else {
            throw CommandFailure("no ferry store at \(global.store): run ferry sync or ferry pull first", status: .ioError)
        }
        return store
    }

    /// The store at `--store`, created when missing; runs over many references defer their `index.json` writes.
    func openStore(writes: StoreWrites = .immediate) throws(CommandFailure) -> ContentStore {
        let store = ContentStore(root: global.store, writes: writes)
        do { try store.prepare() } catch { throw CommandFailure(ioError: error) }
        return store
    }
}
