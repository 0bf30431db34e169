import ArgumentParser
import FerryPull
import FerryPush
import FerrySync
import FerrySystem
import Foundation
import Ledger
import MirrorConfig
import OCIModel
import OCIRegistry

extension FerryCommand {
    /// `ferry push`: what the store holds, to a registry or layout target (the air-gapped side's job).
    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push every reference the store holds to a target registry or layout.",
            discussion: """
                --target NAME uses a target of the mirror list (--config); --to HOST[:PORT][/PREFIX] pushes to a \
                registry directly (TLS, CA and credentials from the mirror list's registries: section when \
                --config is given, else Docker's defaults). Destination = prefix + the full source path, e.g. \
                registry.internal:5000/mirror/docker.io/library/alpine:3.20. Blobs already there cost a HEAD, \
                blobs ferry pushed to another repository of that registry are mounted, the rest are uploaded; \
                manifests are pushed byte for byte, so digests are preserved. A tag already at the right digest \
                costs one HEAD. Exit 0, or 1 when a push failed.
                """)

        @Option(help: ArgumentHelp("A target from the mirror list.", valueName: "name"))
        var target: String?

        @Option(help: ArgumentHelp("A registry destination: host[:port][/prefix].", valueName: "destination"))
        var to: String?

        @Option(help: ArgumentHelp("Only references matching this glob.", valueName: "glob"))
        var only: String?

        @Option(help: ArgumentHelp("References pushed at once.", valueName: "n"))
        var jobs: Int = SyncCommandDefaults.jobs

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if (target == nil) == (to == nil) { throw ValidationError("give exactly one of --target NAME or --to HOST[/PREFIX]") }
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        }

        func run() async throws {
            let status = try await run(Environment(global: global))
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment) async throws(CommandFailure) -> ExitStatus {
            let list = (target != nil || env.global.config != nil) ? try env.loadMirrorList() : MirrorList.empty
            let destination: PushTarget
            if let name = target {
                guard let configured = list.targets[name] else {
                    let known = list.targets.keys.sorted().joined(separator: ", ")
                    throw CommandFailure("unknown target \"\(name)\"; the mirror list defines: \(known.isEmpty ? "none" : known)",
                                         status: .invalidInput)
                }
                destination = PushTarget(configured)
            } else {
                destination = try Self.parseDestination(to ?? "")
            }
            let store = try env.openExistingStore()
            let glob = only.map(Glob.init)
            if let glob, let only {
                let names: [String]
                do {
                    names = try store.namedReferences().map(\.name)
                } catch {
                    throw CommandFailure(error.description, status: .ioError)
                }
                let matching = names.contains { name in
                    guard let reference = try? ImageReference(parsing: name) else { return false }
                    return glob.matches(reference.string) || glob.matches(reference.familiarString)
                }
                guard matching else {
                    throw CommandFailure("--only \"\(only)\" matches no reference in the store at \(env.global.store)",
                                         status: .usage)
                }
            }
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "push")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            let session = try env.makeSession(for: list)
            let pusher = ImagePusher(session: session, store: store, ledger: ledger, resolver: EndpointResolver(mirrorList: list))
            let stop = StopSignal()
            let trap = SignalTrap { stop.request($0) }
            defer { trap.release() }
            let runner = PushRunner(pusher: pusher, ledger: ledger, target: destination, jobs: jobs, stop: stop,
                                    toolVersion: FerryCommand.version)
            let output = env.output
            let quiet = env.global.quiet
            let summary: PushRunner.Summary
            do {
                summary = try await runner.run(
                    filter: { reference in glob.map { $0.matches(reference.string) || $0.matches(reference.familiarString) } ?? true },
                    onPush: { record in
                        if !quiet || record.outcome == .failed {
                            output.writeLine(SyncConsole.line(for: record, showingSource: true))
                        }
                    })
            } catch {
                throw CommandFailure(ioError: error, error.message)
            }
            try await env.writeReports(runID: summary.runID, ledger: ledger, extraDirectory: nil)
            let failed = summary.pushes.filter { $0.outcome == .failed }.count
            let pushed = summary.pushes.filter { $0.outcome == .pushed }.count
            env.output.writeLine(
                "run \(summary.runID) push to \(destination): \(SyncConsole.count(summary.pushes.count, "reference")) (\(pushed) pushed, "
                    + "\(summary.pushes.count - pushed - failed) up-to-date, \(failed) failed); exit \(summary.exitStatus)")
            return ExitStatus(rawValue: summary.exitStatus) ?? .someFailed
        }

        /// `host[:port][/prefix]` → a registry target named `--to`.
        static func parseDestination(_ text: String) throws(CommandFailure) -> PushTarget {
            let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
            let parts = trimmed.split(separator: "/", maxSplits: 1).map(String.init)
            guard let host = parts.first, !host.isEmpty, !text.contains("://") else {
                throw CommandFailure("invalid --to \"\(text)\": expected host[:port][/prefix]", status: .usage)
            }
            let prefix = parts.count > 1 ? parts[1] : nil
            do { _ = try ImageReference(parsingStrict: "\(host)/\(prefix.map { $0 + "/" } ?? "")x") } catch {
                throw CommandFailure("invalid --to \"\(text)\": \(error)", status: .usage)
            }
            // The reference grammar reads a first component without a dot or port as a Docker Hub path, not a host.
            guard host.contains(".") || host.contains(":") || host == "localhost" else {
                throw CommandFailure(
                    "invalid --to \"\(text)\": \"\(host)\" is not a registry host (it needs a dot, a port or to be localhost)",
                    status: .usage)
            }
            return PushTarget(name: "--to", destination: .registry(host: host, prefix: prefix))
        }
    }
}
