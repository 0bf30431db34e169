import FerryTestSupport
import Foundation
import OCIModel
import Testing

/// The built binary with its store on a small tmpfs that fills up: mid-blob and at a `ferry.db` write. Exit 74 with
/// one line naming the path and "no space left on device", nothing partial under `blobs/`, and a rerun that
/// completes once space is freed.
///
/// The tmpfs lives in a private mount namespace (`unshare --user --map-root-user --mount`), so the test needs no
/// root and leaves no mount behind; the steps run in one shell inside it and leave their results in files the
/// test reads afterwards.
@Suite(.demoRegistry) struct DiskFullTests {
    /// Runs `script` in a private user and mount namespace with `STORE` a tmpfs of `size`, and returns the files it
    /// wrote into `OUT`.
    static func inSmallStore(
        size: String, script: String, environment: [String: String], workspace: FerryWorkspace
    ) async throws -> [String: String] {
        let out = try workspace.directory.makeSubdirectory("out")
        try FileManager.default.createDirectory(atPath: workspace.store, withIntermediateDirectories: true)
        let full = """
            set -u
            mount -t tmpfs -o size=\(size),mode=0755 tmpfs "$STORE" || { echo "cannot mount tmpfs" >&2; exit 99; }
            \(script)
            """
        var env = workspace.environment(environment)
        env["STORE"] = workspace.store
        env["OUT"] = out
        env["FERRY"] = try PackageProduct.path(of: "ferry")
        env["CONFIG"] = workspace.config
        let result = try await ProcessRunner.run(
            "unshare", ["--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", full],
            environment: env)
        #expect(result.status == .exited(0), "namespace script failed: \(result)")
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: out) {
            files[name] = try TestFiles.readText(out + "/" + name)
        }
        return files
    }

    /// A shell fragment: `ferry ARGS`, its stdout, stderr and exit status saved as OUT/NAME.{out,err,status}.
    static func ferry(_ name: String, _ arguments: String) -> String {
        "\"$FERRY\" \(arguments) --store \"$STORE\" >\"$OUT/\(name).out\" 2>\"$OUT/\(name).err\"; "
            + "echo $? >\"$OUT/\(name).status\""
    }

    /// A shell fragment recording every blob's name and content digest as OUT/NAME.blobs.
    static func hashBlobs(_ name: String) -> String {
        "(cd \"$STORE/blobs/sha256\" 2>/dev/null && sha256sum * 2>/dev/null) >\"$OUT/\(name).blobs\" || true"
    }

    static func expectEveryBlobWhole(_ listing: String?) throws {
        let lines = try #require(listing).split(separator: "\n")
        for line in lines {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            #expect(parts.count == 2 && parts[0] == parts[1], "a blob that does not hash to its name: \(line)")
        }
    }

    @Test func aDiskThatFillsMidBlobExits74NamingThePathAndTheRerunCompletes() async throws {
        let registry = try await RegistryServer.start()
        defer { _ = registry.stop() }
        let directory = try TemporaryDirectory()
        let layout = try OCILayoutBuilder(path: directory.appending("layout"))
        let big = try layout.image(ImageSpec(layers: [.random(seed: 61, size: 3 << 20)], labels: ["seed": "61"]))
        try await RegistrySeeder(registry).push(big, from: layout, to: "team/big", tag: "1")
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(plainHTTPList([registry.host], images: ["- source: \(registry.host)/team/big:1"]))

        let files = try await Self.inSmallStore(
            size: "2m",
            script: """
                \(Self.ferry("full", "sync --config \"$CONFIG\""))
                \(Self.hashBlobs("full"))
                ls "$STORE/tmp" >"$OUT/full.tmp"
                mount -o remount,size=16m "$STORE"
                \(Self.ferry("rerun", "sync --config \"$CONFIG\""))
                \(Self.ferry("verify", "verify"))
                """,
            environment: [:], workspace: workspace)

        #expect(files["full.status"] == "74\n", "\(files)")
        // The config downloads beside the layer: whichever write the full disk refused first is named.
        let staging = [big.layers[0].digest, big.config.digest].map { "\(workspace.store)/tmp/sha256-\($0.hex).partial" }
        #expect(
            staging.map {
                "Error: \($0): no space left on device; nothing partial is left in the store: "
                    + "free some space and run ferry again (it resumes where it stopped)\n"
            }.contains(files["full.err"] ?? ""), "\(files["full.err"] ?? "")")
        // Only whole, verified blobs under blobs/ (the manifest and config); the layer waits in tmp/.
        try Self.expectEveryBlobWhole(files["full.blobs"])
        #expect(files["full.blobs"]?.contains(big.layers[0].digest.hex) == false)
        #expect(files["full.tmp"]?.contains("sha256-\(big.layers[0].digest.hex).partial") == true)
        #expect(files["rerun.status"] == "0\n", "\(files["rerun.err"] ?? "")")
        #expect(files["verify.status"] == "0\n", "\(files["verify.out"] ?? "")")
    }

    @Test func aDiskThatIsFullAtAFerryDBWriteExits74NamingTheDatabaseAndTheRerunCompletes() async throws {
        let demo = try DemoRegistry.get()
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(
            plainHTTPList([demo.registry.host], images: ["- source: \(demo.registry.host)/demo/app:1.0.0"]))

        let files = try await Self.inSmallStore(
            size: "4m",
            script: """
                \(Self.ferry("first", "sync --config \"$CONFIG\""))
                # Room for opening ferry.db (its shared-memory index) and little more: the run's writes fill it.
                free=$(df --output=avail -k "$STORE" | tail -n 1 | tr -d ' ')
                dd if=/dev/zero of="$STORE/filler" bs=4k count=$(( (free - 48) / 4 )) 2>/dev/null
                \(Self.ferry("full", "sync --config \"$CONFIG\""))
                \(Self.hashBlobs("full"))
                rm "$STORE/filler"
                \(Self.ferry("rerun", "sync --config \"$CONFIG\""))
                \(Self.ferry("verify", "verify"))
                """,
            environment: [:], workspace: workspace)

        #expect(files["first.status"] == "0\n", "\(files["first.err"] ?? "")")
        #expect(files["full.status"] == "74\n", "\(files)")
        let lines = (files["full.err"] ?? "").split(separator: "\n")
        #expect(lines.count == 1, "\(lines)")
        #expect(
            lines.first?.hasPrefix("Error: \(workspace.store)/ferry.db: no space left on device;") == true,
            "\(lines)")
        try Self.expectEveryBlobWhole(files["full.blobs"])
        #expect(files["rerun.status"] == "0\n", "\(files["rerun.err"] ?? "")")
        #expect(files["verify.status"] == "0\n", "\(files["verify.out"] ?? "")")
    }
}
