import ArgumentParser
import FerryBundle
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import OCIModel

extension FerryCommand {
    /// `ferry import`: a bundle into the store, verified completely before anything becomes visible.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a bundle completely, then add its blobs, references and history to the store.",
            discussion: """
                FILE is the bundle's sidecar (FILE.ferry-bundle.json), its tar, or any of its parts; the other files \
                are looked for next to it (and next to every FILE given, for parts on several media). Every part's \
                size and SHA-256, every entry and every blob digest is checked first; a bad bundle changes nothing \
                in the store. Importing a bundle twice does nothing the second time. Exit status: 0 imported (or \
                already imported), 2 the bundle maps a known digest to another image ID (drift), 65 bad bundle \
                (store unchanged), 74 store or I/O error, 75 another run holds the store. \
                With --check, the same checks run and nothing is written: use it on the media before carrying \
                them across the air gap, or before importing. Blobs an incremental bundle leaves out count as \
                present; if the --store directory exists, they are looked up there (read only). Exit status: 0 \
                the bundle is good, 65 it is not, 74 I/O error.
                """)

        @Argument(help: ArgumentHelp("The bundle's sidecar, tar or parts.", valueName: "file"))
        var files: [String]

        @Flag(help: "Check the bundle completely, as import does, and write nothing.")
        var check = false

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("give the bundle file (or its sidecar or parts)") }
        }

        func run() async throws {
            let status = try await run(Environment(global: global), output: Console.standardOutput)
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment, output: any LineSink) async throws(CommandFailure) -> ExitStatus {
            let clock = ContinuousClock()
            let started = clock.now
            let bundle: LocatedBundle
            do { bundle = try LocatedBundle.locate(files) } catch {
                throw check ? Self.checkFailure(error, bundle: files[0]) : Self.failure(error, bundle: files[0])
            }
            if check { return try runCheck(bundle, env: env, output: output, started: started, clock: clock) }
            // A store that this import creates is removed again if the bundle is refused: nothing is left behind.
            let storeExisted = FileSystem.exists(env.global.store)
            let store = try env.openStore()
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "import")
            defer { lock.release() }
            // The importer opens ferry.db for writing only once the bundle is verified, so a refused bundle leaves
            // it byte for byte as it was.
            let importer = BundleImporter(
                store: store, ledger: .file(env.global.store + "/ferry.db"), logger: env.logger)
            let summary: ImportSummary
            do {
                summary = try await importer.importBundle(bundle, toolVersion: FerryCommand.version)
            } catch {
                if !storeExisted, error.isBadBundle {
                    lock.release()
                    try? FileSystem.removeTree(env.global.store)
                }
                throw Self.failure(error, bundle: bundle.sidecarPath)
            }
            let description = bundle.description
            // A rerun after an import that stopped between its record and index.json finds the bundle imported;
            // this is where index.json catches up.
            let ledger: ReferenceStore
            do { ledger = try ReferenceStore.openReadOnly(at: env.global.store + "/ferry.db") } catch {
                throw CommandFailure(ioError: error)
            }
            try await env.reconcileIndex(store: store, ledger: ledger)
            try? ledger.close()
            if let previous = summary.alreadyImported {
                output.writeLine(
                    "bundle \(ExportLines.short(summary.id)) was already imported at "
                        + "\(previous.importedAt.formatted(Date.ISO8601FormatStyle())) (run \(previous.runID)); "
                        + "nothing to do")
                return .ok
            }
            if !env.global.quiet {
                Self.writeChecked(
                    description, parts: summary.partsChecked, bytes: summary.bytesRead, blobs: summary.blobs,
                    to: output)
                // Rows name references as the reference store does; the first bundle reference of each such name
                // gives the digest shown.
                var digests: [String: Digest] = [:]
                for reference in description.references {
                    guard let text = (try? ImageReference(parsing: reference.name))?.taggedLatestIfNameOnly().string,
                        digests[text] == nil
                    else { continue }
                    digests[text] = reference.digest
                }
                for row in summary.rows {
                    var line = row.outcome.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + row.reference
                    if let digest = digests[row.reference] { line += "  " + ExportLines.short(digest) }
                    if row.outcome == .updated, let previous = row.previousDigest {
                        line += "  (was \(ExportLines.short(previous)))"
                    }
                    output.writeLine(line)
                }
                for event in summary.driftEvents {
                    output.writeLine(
                        "WARNING: \(event.kind.rawValue): \(event.reference) \(event.digest) maps to "
                            + "\(event.oldValue) here, the bundle says \(event.newValue)")
                }
            }
            let counts = Dictionary(grouping: summary.rows, by: \.outcome).mapValues(\.count)
            let tally = Outcome.allCases.filter { $0 != .failed && $0 != .deferred }.map { "\(counts[$0, default: 0]) \($0.rawValue)" }
            output.writeLine(
                "imported \(SyncConsole.count(summary.references, "reference")) (\(tally.joined(separator: ", "))), "
                    + "\(SyncConsole.count(summary.blobs, "blob")) "
                    + "(\(summary.blobsAdded) new, \(SyncConsole.formatBytes(summary.bytesAdded))) from "
                    + "\(summary.partsChecked) \(summary.partsChecked == 1 ? "part" : "parts") in "
                    + String(format: "%.1fs", SyncConsole.seconds(clock.now - started))
                    + ": bundle \(ExportLines.short(summary.id)), run \(summary.runID.map(\.rawValue) ?? "-")")
            if !summary.referrers.isEmpty, !env.global.quiet {
                output.writeLine("with \(Referrer.summary(summary.referrers))")
            }
            return summary.driftEvents.isEmpty ? .ok : .drift
        }

        /// `--check`: every check of an import, in a scratch directory that is removed afterwards.
        func runCheck(
            _ bundle: LocatedBundle, env: Environment, output: any LineSink, started: ContinuousClock.Instant,
            clock: ContinuousClock
        ) throws(CommandFailure) -> ExitStatus {
            let storePath = env.global.store
            let store = FileSystem.exists(storePath + "/oci-layout") ? ContentStore(root: storePath) : nil
            let scratch: String
            do { scratch = try FileSystem.makeTemporaryDirectory(prefix: "ferry-check") } catch {
                throw CommandFailure("cannot check \(bundle.sidecarPath): \(error)", status: .ioError)
            }
            defer { try? FileSystem.removeTree(scratch) }
            let summary: BundleCheckSummary
            do { summary = try BundleImporter.check(bundle, store: store, scratch: scratch) } catch {
                throw Self.checkFailure(error, bundle: bundle.sidecarPath)
            }
            let description = bundle.description
            if !env.global.quiet {
                Self.writeChecked(
                    description, parts: summary.partsChecked, bytes: summary.bytesRead, blobs: summary.blobs,
                    to: output)
                if summary.excludedBlobs > 0 {
                    let base = description.since?.bundle.map { "bundle \(ExportLines.short($0))" }
                        ?? description.since?.run.map { "run \($0.rawValue)" } ?? "an earlier export"
                    var line = "\(SyncConsole.count(summary.excludedBlobs, "blob")) left out (exported before, since "
                        + "\(base)): the importing store must hold them"
                    if store != nil { line += "; \(summary.excludedInStore) of them are in \(storePath)" }
                    output.writeLine(line)
                }
                for name in summary.relyingOnBase {
                    output.writeLine("partly checked  \(name): its manifest is among the left-out blobs")
                }
                for item in summary.referrers {
                    let referrer = item.referrer
                    output.writeLine(
                        "referrer        \(item.repository)@\(referrer.digest): \(referrer.kind.word) "
                            + "(\(referrer.artifactType)) of \(referrer.subject)")
                }
                if !summary.referrers.isEmpty {
                    output.writeLine("with \(Referrer.summary(summary.referrers.map(\.referrer)))")
                }
            }
            let partly = summary.relyingOnBase.count
            let walked =
                partly == 0
                ? "every manifest read"
                : "\(summary.references - partly) with every manifest read, \(partly) partly"
            output.writeLine(
                "bundle \(ExportLines.short(summary.id)) is good: \(SyncConsole.count(summary.references, "reference")) "
                    + "(\(walked)), \(SyncConsole.count(summary.blobs, "blob")) in "
                    + String(format: "%.1fs", SyncConsole.seconds(clock.now - started)) + "; nothing was written")
            return .ok
        }

        /// The bundle's origin and what was verified of it, the first lines of an import and of a check.
        static func writeChecked(
            _ description: BundleOutline, parts: Int, bytes: Int64, blobs: Int, to output: any LineSink
        ) {
            output.writeLine(
                "bundle \(description.id) exported \(description.createdAt.formatted(Date.ISO8601FormatStyle())) "
                    + "from \(description.sourceStore.host):\(description.sourceStore.path)")
            output.writeLine(
                "checked \(parts) \(parts == 1 ? "part" : "parts") (\(SyncConsole.formatBytes(bytes))): sizes, SHA-256 "
                    + "and \(blobs) blob digests match")
        }

        /// A bad bundle is exit 65; anything else is local trouble, exit 74.
        static func checkFailure(_ error: BundleError, bundle: String) -> CommandFailure {
            if error.isBadBundle { return CommandFailure("bundle \(bundle) is bad: \(error)", status: .invalidInput) }
            return CommandFailure("cannot check \(bundle): \(error)", status: .ioError)
        }

        /// A bad bundle is exit 65 and leaves the store as it was; anything else is local trouble, exit 74.
        static func failure(_ error: BundleError, bundle: String) -> CommandFailure {
            if error.isBadBundle {
                return CommandFailure(
                    "cannot import \(bundle): \(error); the store is unchanged", status: .invalidInput)
            }
            return CommandFailure(ioError: error, "cannot import \(bundle): \(error)")
        }
    }
}
