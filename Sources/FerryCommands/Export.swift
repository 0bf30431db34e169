import ArgumentParser
import FerryBundle
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import OCIModel

extension FerryCommand {
    /// `ferry export`: the store's references into a bundle for an air-gapped site.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the store's references into a bundle (tar + ferry-bundle.json) for an air-gapped site.",
            discussion: """
                Writes FILE, an uncompressed tar holding an OCI image layout (oci-layout, index.json, blobs/) and \
                ferry-bundle.json, and the sidecar FILE.ferry-bundle.json (references, blobs, history, and the size \
                and SHA-256 of each part). With --split-size the tar is cut into FILE.part0001, FILE.part0002, … \
                With --since only blobs the other side does not have yet are written: those not carried by that \
                bundle and the bundles it was based on (or, for a run ID, not reachable from what the store had \
                recorded by the end of that run). Exit status: 0 written, 64 bad --since or --split-size, \
                74 store or I/O error (nothing is left behind), 75 another run holds the store.
                """)

        @Option(help: ArgumentHelp("The bundle file to write.", valueName: "file"))
        var to: String

        @Option(
            help: ArgumentHelp(
                "Only blobs not carried by this bundle (ID, ID prefix or file) and its bases, or not stored by this "
                    + "run.",
                valueName: "bundle|run"))
        var since: String?

        @Option(help: ArgumentHelp("Cut the tar into parts of this size, e.g. 4GiB, 700MiB, 4.7G.", valueName: "size"))
        var splitSize: String?

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let status = try await run(Environment(global: global), output: Console.standardOutput)
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment, output: any LineSink) async throws(CommandFailure) -> ExitStatus {
            let clock = ContinuousClock()
            let started = clock.now
            var split: Int64?
            if let splitSize {
                do { split = try ByteCount.parse(splitSize) } catch {
                    throw CommandFailure(error.description, status: .usage)
                }
            }
            guard FileSystem.exists(env.global.store + "/index.json") else {
                throw CommandFailure(
                    ContentStoreError.notAStore(env.global.store).description, status: .ioError)
            }
            let store = ContentStore(root: env.global.store)
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "export")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            let exporter = BundleExporter(store: store, ledger: ledger, logger: env.logger)
            let summary: ExportSummary
            do {
                summary = try await exporter.export(
                    BundleExporter.Options(
                        file: to, since: since, splitSize: split, toolVersion: FerryCommand.version))
            } catch {
                throw CommandFailure(
                    error.description,
                    status: error.isUsageError ? .usage : (error.isBadBundle ? .invalidInput : .ioError))
            }
            let description = summary.description
            if !env.global.quiet {
                output.writeLine("bundle \(description.id)")
                if let base = description.since {
                    var text = "since "
                    if let bundle = base.bundle {
                        text += "bundle \(ExportLines.short(bundle)) (chain of \(base.chain.count))"
                        if let run = base.run { text += " and run \(run)" }
                    } else if let run = base.run {
                        text += "run \(run)"
                    }
                    output.writeLine(
                        text + ": \(description.excludedBlobs.count) blobs left out "
                            + "(\(SyncConsole.formatBytes(description.excludedBlobs.reduce(0) { $0 + $1.size })))")
                }
                for part in summary.parts {
                    output.writeLine(
                        "wrote \(part.path)  \(SyncConsole.formatBytes(part.part.size))  \(part.part.sha256)")
                }
                output.writeLine("wrote \(summary.sidecarPath)")
                let referrers = BundleReferrers.find(
                    description.references, store: ContentStore(root: env.global.store))
                if !referrers.isEmpty { output.writeLine("with \(Referrer.summary(referrers.map(\.referrer)))") }
            }
            output.writeLine(
                "exported \(SyncConsole.count(description.references.count, "reference")), "
                    + "\(SyncConsole.count(description.blobs.count, "blob")) "
                    + "(\(SyncConsole.formatBytes(summary.blobBytes))) in \(summary.parts.count) "
                    + (summary.parts.count == 1 ? "part" : "parts")
                    + " (\(SyncConsole.formatBytes(summary.bundleBytes))) in "
                    + String(format: "%.1fs", SyncConsole.seconds(clock.now - started))
                    + ": bundle \(ExportLines.short(description.id))")
            return .ok
        }
    }
}

/// Shared formatting of bundle lines.
enum ExportLines {
    /// `sha256:` and the first 12 hex digits, as ferry prints bundle IDs (and accepts them in `--since`).
    static func short(_ digest: Digest) -> String { "\(digest.algorithm.rawValue):\(digest.shortHex)" }
}
