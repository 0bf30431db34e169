import FerryTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `ferry-devtool`: starts seeded registries on 127.0.0.1 for demos, benchmarks and scripts, and stops them.
@main
enum DevTool {
    static let usage = """
        usage: ferry-devtool COMMAND --dir DIR [options]

          demo-registry  --dir D [--tls] [--htpasswd USER:PASS]
                         registry with demo/app (OCI, tags 1.0.0 1.1.0 1.2.0 2.0.0-rc1 latest), demo/tool (Docker),
                         demo/multi (OCI index) and demo/multi-docker (Docker manifest list)
          bench-registry --dir D [--repos 20] [--tags 3] [--layers 4] [--layer-size 2MiB] [--format oci|docker]
                         [--gzip] [--tls] [--htpasswd USER:PASS]
                         registry with bench/repo-NN:1.T.0 images of pseudo-random layers
          big-blob       --dir D [--size 256MiB] [--tls] [--htpasswd USER:PASS]
                         registry with big/blob:latest, one layer of SIZE pseudo-random bytes
          scale-registry --dir D --images N [--tags-per-repo 100] [--layer-size 1KiB] [--tls] [--htpasswd USER:PASS]
                         [--quiet-log]
                         registry with N small images scale/repo-NNN:1.T.0 (one layer each), written straight
                         into its storage tree (no push, no D/layout): 20,000 images take seconds
          stop           --dir D
                         stop the registry whose PID is in D/registry.env and wait for it to exit

        --quiet-log (any command) makes the registry log warnings only (its access log stays on).
        The registry keeps running after the tool exits. D/registry.env gets PORT, PID, HOST, URL, LOG, STORAGE and
        CA_FILE (with --tls); D/images.tsv lists reference, digest and media type of every pushed tag; D/layout is
        the OCI layout the images were built in (except for scale-registry).
        """

    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first else { exit(usageError("missing command")) }
        arguments.removeFirst()
        do {
            let options = try Options(parsing: arguments)
            switch command {
            case "demo-registry":
                try await start(options) { endpoint, layout in
                    try await SampleImages.seedDemo(into: endpoint, layout: layout)
                }
            case "bench-registry":
                let format = try ManifestFormatOption.parse(options.value("format") ?? "oci")
                try await start(options) { endpoint, layout in
                    try await SampleImages.seedBenchmark(
                        into: endpoint, layout: layout, repositories: try options.integer("repos", default: 20),
                        tags: try options.integer("tags", default: 3),
                        layers: try options.integer("layers", default: 4),
                        layerSize: try DeterministicBlob.parseSize(options.value("layer-size") ?? "2MiB"),
                        format: format, compression: options.flag("gzip") ? .gzip : .none)
                }
            case "big-blob":
                try await start(options) { endpoint, layout in
                    let size = try DeterministicBlob.parseSize(options.value("size") ?? "256MiB")
                    return [try await SampleImages.seedBigBlob(into: endpoint, layout: layout, size: size)]
                }
            case "scale-registry":
                guard options.value("images") != nil else { throw UsageError(message: "--images is required") }
                let images = try options.integer("images", default: 1)
                let tagsPerRepository = try options.integer("tags-per-repo", default: 100)
                let layerSize = try DeterministicBlob.parseSize(options.value("layer-size") ?? "1KiB")
                try await launch(options) { endpoint, _ in
                    try SampleImages.seedScale(
                        into: endpoint.storage, images: images, tagsPerRepository: tagsPerRepository,
                        layerSize: layerSize)
                }
            case "stop":
                try stop(options)
            case "-h", "--help", "help":
                print(usage)
            default:
                exit(usageError("unknown command \(command)"))
            }
        } catch let error as UsageError {
            exit(usageError(error.message))
        } catch {
            FileHandle.standardError.write(Data("ferry-devtool: \(error)\n".utf8))
            exit(1)
        }
    }

    static func usageError(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("ferry-devtool: \(message)\n\n\(usage)\n".utf8))
        return 64
    }

    /// Launches a detached registry in `--dir`, builds images into `--dir`/layout and seeds the registry from there.
    static func start(
        _ options: Options,
        seed: @Sendable (RegistryServerEndpoint, OCILayoutBuilder) async throws -> [SeededReference]
    ) async throws {
        try await launch(options) { endpoint, directory in
            try await seed(endpoint, try OCILayoutBuilder(path: directory + "/layout"))
        }
    }

    /// Launches a detached registry in `--dir`, seeds it, writes the env file; stops the registry again on failure.
    /// `seed` gets the registry and `--dir`.
    static func launch(
        _ options: Options, seed: @Sendable (RegistryServerEndpoint, String) async throws -> [SeededReference]
    ) async throws {
        let directory = TestFiles.absolute(try options.directory())
        let envPath = directory + "/registry.env"
        if let running = try? EnvFile.read(envPath), let pid = running["PID"].flatMap({ pid_t($0) }),
            DetachedRegistry.isRunning(pid: pid)
        {
            throw UsageError(message: "a registry (PID \(pid)) is already running for \(directory); stop it first")
        }
        var registryOptions = RegistryServerOptions(
            tls: options.flag("tls"), storageDirectory: directory + "/storage", quietLog: options.flag("quiet-log"))
        if let userPass = options.value("htpasswd") {
            guard let colon = userPass.firstIndex(of: ":") else {
                throw UsageError(message: "--htpasswd expects USER:PASS")
            }
            registryOptions.auth = .htpasswd(
                RegistryUser(
                    username: String(userPass[..<colon]), password: String(userPass[userPass.index(after: colon)...])))
        }
        let registry = try await DetachedRegistry.launch(in: directory, options: registryOptions)
        do {
            let seeded = try await seed(registry.endpoint, directory)
            let rows = seeded.map {
                "\($0.reference(on: registry.endpoint))\t\($0.artifact.digest)\t\($0.artifact.descriptor.mediaType)"
            }
            try TestFiles.write(rows.joined(separator: "\n") + "\n", to: directory + "/images.tsv")
            var env: [(String, String)] = [
                ("PORT", "\(registry.endpoint.port)"), ("PID", "\(registry.pid)"), ("HOST", registry.endpoint.host),
                ("URL", registry.endpoint.baseURL), ("LOG", registry.logPath),
                ("STORAGE", registry.endpoint.storageRoot),
            ]
            if let ca = registry.endpoint.caCertificatePath { env.append(("CA_FILE", ca)) }
            let text = env.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n"
            try TestFiles.write(text, to: envPath)
            print(text, terminator: "")
        } catch {
            _ = try? DetachedRegistry.terminate(pid: registry.pid)
            throw error
        }
    }

    static func stop(_ options: Options) throws {
        let directory = TestFiles.absolute(try options.directory())
        let envPath = directory + "/registry.env"
        let env = try EnvFile.read(envPath)
        guard let pid = env["PID"].flatMap({ pid_t($0) }) else {
            throw UsageError(message: "\(envPath) has no PID")
        }
        if try DetachedRegistry.terminate(pid: pid) {
            print("stopped registry PID \(pid)")
        } else {
            print("no registry running as PID \(pid)")
        }
    }
}

/// A command-line mistake; exits 64 with the usage text.
struct UsageError: Error {
    var message: String
}

/// `--name value` options and `--flag` switches.
struct Options {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private static let switches: Set<String> = ["tls", "gzip", "quiet-log"]

    init(parsing arguments: [String]) throws {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard argument.hasPrefix("--") else { throw UsageError(message: "unexpected argument \(argument)") }
            var name = String(argument.dropFirst(2))
            if let equals = name.firstIndex(of: "=") {
                values[String(name[..<equals])] = String(name[name.index(after: equals)...])
                continue
            }
            if Self.switches.contains(name) {
                flags.insert(name)
                continue
            }
            guard let value = iterator.next() else { throw UsageError(message: "\(argument) needs a value") }
            name = name.lowercased()
            values[name] = value
        }
    }

    func value(_ name: String) -> String? { values[name] }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    func directory() throws -> String {
        guard let directory = values["dir"], !directory.isEmpty else { throw UsageError(message: "--dir is required") }
        return directory
    }

    func integer(_ name: String, default fallback: Int) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), value > 0 else {
            throw UsageError(message: "--\(name) expects a positive integer")
        }
        return value
    }
}

/// Parses `--format`.
enum ManifestFormatOption {
    static func parse(_ text: String) throws -> ManifestFormat {
        guard let format = ManifestFormat(rawValue: text) else {
            throw UsageError(message: "--format expects oci or docker")
        }
        return format
    }
}

/// `KEY=value` lines.
enum EnvFile {
    static func read(_ path: String) throws -> [String: String] {
        var env: [String: String] = [:]
        for line in try TestFiles.readText(path).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            env[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return env
    }
}
