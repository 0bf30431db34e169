import ArgumentParser
import FerryHTTP
import FerryPull
import Foundation
import LayoutStore
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
                A tag already stored costs one HEAD request; a digest already stored costs none.
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
            let selection: PlatformSelection
            if allPlatforms {
                selection = .all
            } else if let platform {
                do { selection = .single(try Platform(parsing: platform)) } catch {
                    throw CommandFailure("invalid platform: \(error)", status: .invalidInput)
                }
            } else {
                selection = .single(PlatformSelection.host)
            }
            var hosts: [String: HostSettings] = [:]
            if !mirrors.isEmpty {
                var urls: [URL] = []
                for mirror in mirrors {
                    switch EndpointResolver.validateMirror(mirror) {
                    case .success(let url): urls.append(url)
                    case .failure(let error): throw CommandFailure(error.description, status: .invalidInput)
                    }
                }
                hosts[parsed.domain, default: HostSettings()].mirrors = urls
            }
            let store = try env.openStore()
            let lock = try RunLockGuard.acquire(store: env.global.store, command: "pull")
            defer { lock.release() }
            let session = RegistrySession(
                transport: try env.makeTransport(), credentials: DockerConfigCredentials(environment: env.variables),
                retry: env.retryPolicy, logger: env.logger)
            let puller = FallbackPuller(
                session: session, store: store, blobs: BlobFetcher(store: store),
                resolver: EndpointResolver(hosts: hosts))
            let observer = StatusLineObserver(output: env.output, errors: env.errors, quiet: env.global.quiet)
            do {
                let result = try await puller.pull(PullRequest(reference: parsed, platforms: selection), observer: observer)
                let name = result.image.reference.familiarString
                env.output.writeLine("Digest: \(result.image.manifestDigest)")
                if result.previousDigest == result.image.manifestDigest {
                    env.output.writeLine("Status: Image is up to date for \(name)")
                } else {
                    env.output.writeLine("Status: Downloaded newer image for \(name)")
                }
                return .ok
            } catch {
                if error.kind == .localStore { throw CommandFailure(error.message, status: .ioError) }
                throw CommandFailure(error.message, status: .someFailed)
            }
        }
    }
}

/// Docker's per-layer status lines for `ferry pull`.
struct StatusLineObserver: PullObserver {
    let output: Console
    let errors: Console
    let quiet: Bool

    func pulling(_ reference: ImageReference, message: String) {
        if !quiet { output.writeLine(message) }
    }

    func blobPresent(_ descriptor: Descriptor) {
        if !quiet, !Self.isConfig(descriptor) { output.writeLine("\(descriptor.digest.shortHex): Already exists") }
    }

    func blobStarted(_ descriptor: Descriptor, progress: TransferProgress) {
        if !quiet, !Self.isConfig(descriptor) { output.writeLine("\(descriptor.digest.shortHex): Pulling fs layer") }
    }

    func blobFinished(_ descriptor: Descriptor, bytes: Int64) {
        if !quiet, !Self.isConfig(descriptor) { output.writeLine("\(descriptor.digest.shortHex): Pull complete") }
    }

    func warning(_ message: String) {
        errors.writeLine("WARNING: \(message)")
    }

    static func isConfig(_ descriptor: Descriptor) -> Bool {
        descriptor.mediaType == .ociConfig || descriptor.mediaType == .dockerConfig
    }
}
