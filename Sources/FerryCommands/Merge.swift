import ArgumentParser
import FerryMaintenance
import FerrySystem
import Foundation
import LayoutStore
import Ledger

extension FerryCommand {
    /// `ferry merge STORE... [--store DIR]`: the shards' stores into one.
    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge other stores (the shards of ferry sync --shard K/N) into the store given by --store.",
            discussion: """
                Copies every blob the store lacks (verified while copying), merges the reference stores' runs, \
                observations, drift events, tags, tag history and digest mappings (the runs of one shard group \
                become one run), rebuilds index.json from the merged reference store and writes the reports of \
                the runs merged. Merging the same stores again adds nothing. Exit status 0; 2 when two stores map \
                a digest to different image IDs (the store's own mapping is kept); 64 for a bad argument; 74 for \
                a store or I/O error (a corrupt blob in a source stops the merge before its records); 75 when \
                another run holds one of the stores.
                """)

        @Argument(help: ArgumentHelp("The stores to merge in (shard stores).", valueName: "store"))
        var sources: [String] = []

        @Option(help: ArgumentHelp("Also copy the merged runs' reports into this directory.", valueName: "dir"))
        var reportDir: String?

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard !sources.isEmpty else { throw ValidationError("give the stores to merge into --store") }
        }

        func run() async throws {
            let status = try await run(Environment(global: global))
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment) async throws(CommandFailure) -> ExitStatus {
            let destination = Self.canonical(env.global.store)
            var seen: [String: String] = [:]
            for source in sources {
                let path = Self.canonical(source)
                if path == destination {
                    throw CommandFailure("cannot merge \(source) into itself: it is the --store", status: .usage)
                }
                if let first = seen[path] {
                    let also = first == source ? "" : " (also as \(first))"
                    throw CommandFailure("\(source) is given twice\(also)", status: .usage)
                }
                seen[path] = source
                guard FileSystem.exists(source + "/index.json"), FileSystem.exists(source + "/ferry.db") else {
                    throw CommandFailure(StoreMerger.Failure.notAStore(source).description, status: .ioError)
                }
            }
            let store = try env.openStore(writes: .batched)
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "merge")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            do { try await ledger.setIndexStamp(nil) } catch { throw CommandFailure(ioError: error) }

            let merger = StoreMerger(store: store, ledger: ledger)
            var summaries: [StoreMerger.SourceSummary] = []
            for source in sources {
                // A shard still syncing would be merged half-done; a read-only source cannot be synced into, so
                // a lock it cannot take is no reason to stop.
                let sourceLock: RunLock?
                do { sourceLock = try RunLock.acquire(at: source + "/ferry.lock", command: "merge") } catch {
                    switch error {
                    case .held: throw CommandFailure(error.description, status: .locked)
                    case .system: sourceLock = nil
                    }
                }
                defer { sourceLock?.release() }
                let summary: StoreMerger.SourceSummary
                do { summary = try await merger.merge(source) } catch {
                    throw CommandFailure(ioError: error, error.description)
                }
                summaries.append(summary)
                if !env.global.quiet { env.output.writeLine(Self.line(summary)) }
            }
            // index.json is derived from the merged reference store: every name it records and the store now holds
            // completely is added or moved (a name index.json has at a digest never recorded is left alone).
            do {
                try store.removeLeftovers()
                try await IndexReconciler(store: store, ledger: ledger).reconcile()
                try await ledger.setIndexStamp(store.indexStamp)
            } catch {
                throw CommandFailure(ioError: error, "cannot write index.json of \(env.global.store): \(error)")
            }

            let runs = try await Self.reportedRuns(summaries, ledger: ledger, store: env.global.store)
            for run in runs {
                try await env.writeReports(runID: run.id, ledger: ledger, extraDirectory: reportDir)
                env.output.writeLine(try await Self.line(run, ledger: ledger))
            }
            let contradictions = summaries.flatMap(\.ledger.contradictions)
            for contradiction in contradictions { env.errors.writeLine("WARNING: \(contradiction)") }
            let names = (try? store.namedReferences().count) ?? 0
            env.output.writeLine(
                "merged \(SyncConsole.count(sources.count, "store")) into \(env.global.store): "
                    + "\(SyncConsole.count(names, "name")) in index.json, "
                    + "\(SyncConsole.count(runs.count, "run")) reported"
                    + (contradictions.isEmpty ? "" : ", \(contradictions.count) contradicting digest mappings kept"))
            return contradictions.isEmpty ? .ok : .drift
        }

        /// The runs here that received a run they did not have, or whose report is missing (a merge killed after
        /// its records and before its reports), oldest first; their reports are written.
        static func reportedRuns(_ summaries: [StoreMerger.SourceSummary], ledger: ReferenceStore, store: String)
            async throws(CommandFailure) -> [RunRecord]
        {
            let ids = Set(
                summaries.flatMap { summary in
                    summary.ledger.runs.filter {
                        $0.isNew || !FileSystem.exists(store + "/reports/\($0.run).json")
                    }.map(\.run)
                })
            var runs: [RunRecord] = []
            do {
                for id in ids { if let run = try await ledger.run(id) { runs.append(run) } }
            } catch {
                throw CommandFailure(ioError: error)
            }
            return runs.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
        }

        /// `merged SOURCE: N runs (M new), B blobs (C copied, SIZE)`.
        static func line(_ summary: StoreMerger.SourceSummary) -> String {
            let runs = summary.ledger.runs
            return "merged \(summary.source): \(SyncConsole.count(runs.count, "run")) "
                + "(\(runs.filter(\.isNew).count) new), \(SyncConsole.count(summary.blobs, "blob")) "
                + "(\(summary.blobsCopied) copied, \(SyncConsole.formatBytes(summary.bytesCopied))), "
                + "\(summary.ledger.rowsAdded["observation", default: 0]) observations added"
        }

        /// `run ID [shard group G: K of N shards]: counts; exit S`.
        static func line(_ run: RunRecord, ledger: ReferenceStore) async throws(CommandFailure) -> String {
            let shards: [MergedSource]
            let shard: RunShard?
            do {
                shards = try await ledger.mergedSources(of: run.id)
                shard = try await ledger.shard(ofRun: run.id)
            } catch {
                throw CommandFailure(ioError: error)
            }
            var text = "run \(run.id) \(run.status.rawValue)"
            if let count = shards.first?.shardCount, shard == nil {
                let present = Set(shards.compactMap(\.shardIndex))
                let missing = (0..<count).filter { !present.contains($0) }
                text += " (\(present.count) of \(count) shards"
                text += missing.isEmpty ? ")" : "; missing \(missing.map { "\($0)/\(count)" }.joined(separator: ", ")))"
            } else if let shard {
                text += " (shard \(shard.index)/\(shard.count))"
            }
            let counts = run.counts
            text += ": \(SyncConsole.count(counts.references, "reference")) (\(counts.pulled) pulled, "
                + "\(counts.upToDate) up-to-date, \(counts.updated) updated, \(counts.failed) failed, "
                + "\(counts.drift) drift); exit \(run.exitStatus.map(String.init) ?? "-")"
            return text
        }

        /// The directory's absolute path with symbolic links resolved (it may not exist yet).
        static func canonical(_ path: String) -> String {
            URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        }
    }
}
