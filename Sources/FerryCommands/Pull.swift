import ArgumentParser
import FerryHTTP
import FerryPull
import FerrySync
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import MirrorConfig
import OCIModel
import OCIRegistry

extension FerryCommand {
    /// `ferry pull`: one reference into the store through the fallback orchestrator, with Docker's status lines.
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pull one image reference into the store, mirrors first (Docker's fallback rules).",
            discussion: """
                Prints Docker's status lines: '<tag>: Pulling from <repository>', 'Digest: sha256:…', and \
                'Status: Downloaded newer image for <ref>' or 'Status: Image is up to date for <ref>'. \
                A tag already stored costs one HEAD request; a digest already stored costs none. The pull is \
                recorded in the reference store like a sync run. With --config, the mirror list's registries \
                section (mirrors, tls, ca-file, credentials) applies; otherwise Docker's defaults and \
                ~/.docker/config.json.
                """)

        @Argument(help: "The image reference, e.g. alpine:3.20 or registry.example:5000/team/app@sha256:…")
        var reference: String

        @Option(help: ArgumentHelp("Platform to pull from an index, e.g. linux/arm64 (default: this machine's).",
                                   valueName: "os/arch[/variant]"))
        var platform: String?

        @Flag(help: "Keep the index and every platform of it.")
        var allPlatforms = false

        @Option(name: .customLong("mirror"),
                help: ArgumentHelp("A mirror to try first for this reference's registry; repeatable.", valueName: "url"))
        var mirrors: [String] = []

        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if platform != nil && allPlatforms { throw ValidationError("--platform and --all-platforms exclude each other") }
        }

        func run() async throws {
            let status = try await run(Environment(global: global))
            if status != .ok { throw status.exitCode }
        }

        func run(_ env: Environment) async throws(CommandFailure) -> ExitStatus {
            let parsed: ImageReference
            do { parsed = try ImageReference(parsing: reference) } catch {
                throw CommandFailure("invalid reference \"\(reference)\": \(error)", status: .invalidInput)
            }
            let selection: FerryPull.PlatformSelection
            if allPlatforms {
                selection = .all
            } else if let platform {
                do { selection = .single(try Platform(parsing: platform)) } catch {
                    throw CommandFailure("invalid platform: \(error)", status: .invalidInput)
                }
            } else {
                selection = .single(FerryPull.PlatformSelection.host)
            }
            var extraMirrors: [URL] = []
            for mirror in mirrors {
                do { extraMirrors.append(try MirrorURL.validate(mirror)) } catch {
                    throw CommandFailure(error.description, status: .invalidInput)
                }
            }
            let list = try env.optionalMirrorList()
            let store = try env.openStore(writes: .batched)
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "pull")
            defer { lock.release() }
            let ledger = try env.openLedger()
            defer { try? ledger.close() }
            try await env.reconcileIndex(store: store, ledger: ledger)
            let session = try env.makeSession(for: list)
            let puller = FallbackPuller(
                session: session, store: store, blobs: BlobFetcher(store: store),
                resolver: EndpointResolver(mirrorList: list, extraMirrors: [parsed.domain: extraMirrors]))
            let stop = StopSignal()
            let trap = SignalTrap { stop.request($0) }
            defer { trap.release() }
            let engine = SyncEngine(
                list: list, puller: puller, ledger: ledger,
                options: SyncEngine.Options(jobs: 1, command: "pull", toolVersion: FerryCommand.version),
                stop: stop, logger: env.logger)
            if parsed.isNameOnly, !env.global.quiet { env.output.writeLine("Using default tag: latest") }
            let item = SyncItem(reference: parsed.taggedLatestIfNameOnly(), platforms: selection)
            let console = DockerStatusLines(output: env.output, errors: env.errors, quiet: env.global.quiet)
            let summary: SyncSummary
            do {
                summary = try await engine.run(items: [item], observer: console)
            } catch {
                throw CommandFailure(ioError: error, error.message)
            }
            if let signal = summary.signal {
                throw CommandFailure("interrupted by signal \(signal)", status: signal == 2 ? .interrupted : .terminated)
            }
            guard let row = summary.rows.first, let outcome = row.outcome else {
                throw CommandFailure("\(parsed): not pulled", status: .someFailed)
            }
            if outcome == .failed { throw CommandFailure(row.error ?? "pull failed", status: .someFailed) }
            let name = parsed.taggedLatestIfNameOnly().familiarString
            if let digest = row.digest { env.output.writeLine("Digest: \(digest)") }
            for event in row.driftEvents {
                env.errors.writeLine(
                    "WARNING: \(event.kind.rawValue): \(event.reference) \(event.oldValue) -> \(event.newValue) (served by \(event.endpoint))")
            }
            env.output.writeLine(
                outcome == .upToDate ? "Status: Image is up to date for \(name)" : "Status: Downloaded newer image for \(name)")
            return ExitStatus(rawValue: summary.exitStatus) ?? .ok
        }
    }
}

extension MirrorList {
    /// A mirror list with nothing in it: Docker's defaults for every registry.
    static let empty = MirrorList(
        registries: [:], targets: [:], images: [], files: [], fingerprint: Digest.sha256(of: []))
}

/// Docker's per-layer status lines for `ferry pull`.
struct DockerStatusLines: SyncObserver {
    let output: any TextOutput
    let errors: any TextOutput
    let quiet: Bool

    func handle(_ event: SyncEvent) {
        switch event {
        case .pulling(_, let message):
            if !quiet { output.writeLine(message) }
        case .blobPresent(_, let descriptor):
            if !quiet, !Self.isConfig(descriptor) { output.writeLine("\(descriptor.digest.shortHex): Already exists") }
        case .blobStarted(_, let descriptor, _):
            if !quiet, !Self.isConfig(descriptor) { output.writeLine("\(descriptor.digest.shortHex): Pulling fs layer") }
        case .blobFinished(_, let descriptor, _):
            if !quiet, !Self.isConfig(descriptor) { output.writeLine("\(descriptor.digest.shortHex): Pull complete") }
        case .warning(_, let message):
            errors.writeLine("WARNING: \(message)")
        default:
            break
        }
    }

    static func isConfig(_ descriptor: Descriptor) -> Bool {
        descriptor.mediaType == .ociConfig || descriptor.mediaType == .dockerConfig
    }
}
