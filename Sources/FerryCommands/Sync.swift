import ArgumentParser
import FerryPull
import FerryPush
import FerrySync
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import MirrorConfig
import OCIRegistry

extension FerryCommand {
    /// `ferry sync`: the batch job.
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mirror everything in the mirror list into the store, record it, flag drift, write reports.",
            discussion: """
                Exit status: 0 in sync, 1 some references failed, 2 drift, 3 both, 65 invalid mirror list, \
                74 store or report error, 75 another run holds the store, 130/143 stopped by SIGINT/SIGTERM \
                (run recorded as interrupted; a rerun resumes).
                """)

        @Flag(help: "Resolve tags and record what would change; fetch no blob, move no tag.")
        var dryRun = false

        @Option(help: ArgumentHelp("References processed at once.", valueName: "n"))
        var jobs: Int = SyncCommandDefaults.jobs

        @Option(help: ArgumentHelp("Only images whose source matches this glob (*, ?, [..]).", valueName: "glob"))
        var only: String?

        @Option(help: ArgumentHelp("Also copy the run's reports into this directory.", valueName: "dir"))
        var reportDir: String?

        @Flag(help: "Ask for every tag, those that immutable-tags trusts included, and list every repository afresh.")
        var revalidateAll = false

        @Option(help: ArgumentHelp(
            "Sync only shard K of N of the mirror list, split by repository (K counts from 0).", valueName: "k/n"))
        var shard: String?

        @Option(help: ArgumentHelp(
            "Split the mirror list into N shards; the index comes from FERRY_SHARD or JOB_COMPLETION_INDEX.",
            valueName: "n"))
        var shards: String?

        @Option(help: ArgumentHelp(
            "The group of shard runs that ferry merge makes one run (default: FERRY_SHARD_GROUP).", valueName: "name"))
        var shardGroup: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        }

        func run() async throws {
            let status = try await run(Environment(global: global))
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment) async throws(CommandFailure) -> ExitStatus {
            let split = try ShardOptions(shard: shard, shards: shards, group: shardGroup).resolve(env.variables)
            var list = try env.loadMirrorList()
            if let only {
                let all = list
                list = list.filtered(onlyGlob: only)
                if list.images.isEmpty, !all.images.isEmpty {
                    throw CommandFailure("--only \"\(only)\" matches no image of the mirror list", status: .usage)
                }
            }
            // After --only, so that a glob is checked against the whole list; a shard with no image is a run of
            // nothing, which succeeds (an Indexed Job's pod must not fail because its part is empty).
            if let shard = split?.shard { list = list.filtered(shard: shard) }
            let store = try env.openStore(writes: .batched)
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "sync")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            if !dryRun { try await env.reconcileIndex(store: store, ledger: ledger) }
            // The quotas earlier runs learned: a cron run starts where the last one left the budget.
            let known: [RateLimitState]
            do { known = try await ledger.rateLimits().map(SyncEngine.state) } catch {
                throw CommandFailure(ioError: error, "\(error)")
            }
            // A shard spends its share of each registry's pacing and quota, so N shards together send what one
            // machine would.
            let session = try env.makeSession(for: list, rateLimits: known, share: split?.shard.count ?? 1)
            let resolver = EndpointResolver(mirrorList: list)
            let puller = FallbackPuller(
                session: session, store: store, blobs: BlobFetcher(store: store), resolver: resolver)
            let pusher = ImagePusher(session: session, store: store, ledger: ledger, resolver: resolver)
            let stop = StopSignal()
            let trap = SignalTrap { stop.request($0) }
            defer { trap.release() }
            let engine = SyncEngine(
                list: list, puller: puller, ledger: ledger,
                options: SyncEngine.Options(
                    dryRun: dryRun, jobs: jobs, toolVersion: FerryCommand.version, collectRows: false,
                    revalidateAll: revalidateAll, shard: split?.shard, shardGroup: split?.group),
                stop: stop, logger: env.logger, pusher: pusher, targets: list.targets.mapValues(PushTarget.init))
            let console = SyncConsole(mode: SyncConsole.mode(for: env.global, output: env.output), quiet: env.global.quiet,
                                      output: env.output)
            let clock = ContinuousClock()
            let started = clock.now
            console.start()
            let summary: SyncSummary
            do {
                summary = try await engine.run(observer: console)
            } catch {
                console.finish()
                throw CommandFailure(ioError: error, error.message)
            }
            console.finish()
            try await env.writeReports(runID: summary.runID, ledger: ledger, extraDirectory: reportDir)
            console.summary(summary, elapsed: clock.now - started)
            return ExitStatus(rawValue: summary.exitStatus) ?? .ioError
        }
    }
}

/// Defaults that depend on the machine.
enum SyncCommandDefaults {
    /// Two references per core, at least 2 and at most 8: references spend most of their time waiting on I/O.
    static var jobs: Int { min(max(ProcessInfo.processInfo.activeProcessorCount * 2, 2), 8) }
}
