import ArgumentParser
import FerryMaintenance
import FerryPull
import FerrySync
import Foundation
import LayoutStore
import Ledger
import MirrorConfig
import OCIRegistry

extension FerryCommand {
    /// `ferry verify`: is every byte in the store what its name says, and is everything a reference needs there?
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash every blob and check every stored reference is complete and recorded.",
            discussion: """
                Reports corrupt blobs (bytes that do not hash to their name), missing content (a manifest, \
                config or layer a stored reference needs), disagreements between the reference store and \
                index.json, and stray files. --repair deletes corrupt blobs and re-fetches what the affected \
                references need, by digest, through the mirrors and registries (with --config, the mirror \
                list's registries: settings apply), then verifies again. Exit 0 when the store is healthy, \
                1 when problems remain.
                """)

        @Flag(help: "Delete corrupt blobs and re-fetch missing content through the fallback orchestrator.")
        var repair = false

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let status = try await run(Environment(global: global))
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment) async throws(CommandFailure) -> ExitStatus {
            let store = try env.openExistingStore()
            let lock = try RunLockGuard.acquire(store: env.global.store, command: repair ? "verify --repair" : "verify")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            let verifier = StoreVerifier(store: store, ledger: ledger)
            var report: VerifyReport
            do { report = try await verifier.verify() } catch {
                throw CommandFailure(ioError: error)
            }
            print(report, to: env.output)
            if repair && !report.leftovers.isEmpty {
                do { try store.removeLeftovers(inBlobs: true) } catch { throw CommandFailure(ioError: error) }
                env.output.writeLine("removed \(SyncConsole.count(report.leftovers.count, "leftover file"))")
                report.leftovers = []
            }
            if repair && report.isHealthy && !report.lagging.isEmpty {
                try await reconcile(store: store, ledger: ledger, env: env)
                do { report = try await verifier.verify() } catch {
                    throw CommandFailure(ioError: error)
                }
                print(report, to: env.output)
            } else if repair && !report.isHealthy {
                let list = try env.optionalMirrorList()
                let session = try env.makeSession(for: list)
                let puller = FallbackPuller(
                    session: session, store: store, blobs: BlobFetcher(store: store),
                    resolver: EndpointResolver(mirrorList: list))
                env.output.writeLine("repairing \(SyncConsole.count(report.affectedReferences.count, "reference"))…")
                let failures = await verifier.repair(report, puller: puller)
                for failure in failures { env.errors.writeLine("cannot repair \(failure)") }
                try await reconcile(store: store, ledger: ledger, env: env)
                do { report = try await verifier.verify() } catch {
                    throw CommandFailure(ioError: error)
                }
                print(report, to: env.output)
            }
            return report.isHealthy ? .ok : .someFailed
        }

        private func reconcile(store: ContentStore, ledger: ReferenceStore, env: Environment) async throws(CommandFailure) {
            do {
                let findings = try await IndexReconciler(store: store, ledger: ledger).reconcile()
                if !findings.lagging.isEmpty {
                    env.output.writeLine(
                        "index.json: restored \(SyncConsole.count(findings.lagging.count, "reference")) from the reference store")
                }
            } catch {
                throw CommandFailure(ioError: error)
            }
        }

        private func print(_ report: VerifyReport, to output: any TextOutput) {
            for entry in report.corrupt {
                output.writeLine("corrupt     \(entry.digest): content hashes to \(entry.actual)")
            }
            for entry in report.missing {
                output.writeLine("missing     \(entry.reference): \(entry.kind) \(entry.digest)")
            }
            for entry in report.missingReferrers {
                output.writeLine(
                    "missing     \(entry.image): referrer \(entry.kind.word) \(entry.digest) (\(entry.artifactType))")
            }
            for text in report.inconsistent { output.writeLine("inconsistent \(text)") }
            for entry in report.lagging {
                let indexed = entry.indexed.map { "index.json still has \($0)" } ?? "not in index.json yet"
                output.writeLine("lagging     \(entry.name): recorded at \(entry.recorded), \(indexed)")
            }
            for file in report.strayFiles { output.writeLine("stray       \(file)") }
            let verdict = report.isHealthy ? "healthy" : "\(report.corrupt.count) corrupt, \(report.missing.count) missing, \(report.missingReferrers.isEmpty ? "" : "\(report.missingReferrers.count) referrers missing, ")\(report.inconsistent.count) inconsistent, \(report.strayFiles.count) stray"
            output.writeLine(
                "verified \(SyncConsole.count(report.blobsChecked, "blob")) (\(SyncConsole.formatBytes(report.bytesChecked))) and "
                    + "\(SyncConsole.count(report.referencesChecked, "reference")): \(verdict)"
                    + (report.partialDownloads > 0 ? "; \(report.partialDownloads) partial downloads in tmp/ (resumed by the next run)" : "")
                    + (report.leftovers.isEmpty
                        ? ""
                        : "; \(SyncConsole.count(report.leftovers.count, "temporary file")) left by an interrupted write "
                            + "(removed by the next run or --repair)")
                    + (report.lagging.isEmpty
                        ? ""
                        : "; index.json is behind the reference store for \(SyncConsole.count(report.lagging.count, "reference")) "
                            + "(a run stopped before writing it; the next run or --repair brings it in line)"))
        }
    }

    /// `ferry prune`: delete what no reference needs.
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove blobs and manifests no stored reference needs.",
            discussion: """
                Keeps everything reachable from index.json and, for every tag the reference store knows, the \
                content of its last N digests (--keep, default 1: only the current one). The reference store's \
                history is kept. Takes the store's lock, so it is safe against a concurrent sync.
                """)

        @Option(help: ArgumentHelp("Digests kept per tag, newest first.", valueName: "n"))
        var keep: Int = 1

        @Flag(help: "Print what would be removed, remove nothing.")
        var dryRun = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
        }

        func run() async throws {
            let status = try await run(Environment(global: global))
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment) async throws(CommandFailure) -> ExitStatus {
            let store = try env.openExistingStore()
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "prune")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            let report: PruneReport
            do {
                report = try await StorePruner(store: store, ledger: ledger, keep: keep).prune(dryRun: dryRun)
            } catch {
                throw CommandFailure(ioError: error)
            }
            if !env.global.quiet {
                for entry in report.removed {
                    env.output.writeLine("\(dryRun ? "would remove" : "removed")  \(entry.digest)  \(SyncConsole.formatBytes(entry.size))")
                }
            }
            env.output.writeLine(
                "\(dryRun ? "would free" : "freed") \(SyncConsole.formatBytes(report.bytesFreed)) "
                    + "(\(report.removed.count) blobs); kept \(report.kept) blobs")
            return .ok
        }
    }
}
