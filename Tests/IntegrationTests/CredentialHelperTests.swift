import FerryTestSupport
import Foundation
import Testing

/// Docker's credential helpers, as `~/.docker/config.json` names them (`credHelpers` per host, `credsStore` for
/// every host), through helper scripts the test writes on `PATH`, against an htpasswd registry: the binary runs
/// `docker-credential-<name> get` with the registry host on stdin and authenticates with the answer.
@Suite struct CredentialHelperTests {
    /// An htpasswd registry with `team/app:1`.
    struct Setup {
        let password = "helper-pw-\(UUID().uuidString)"
        let registry: RegistryServer
        let seeded: PullAuthIntegrationTests.Seeded

        init() async throws {
            registry = try await RegistryServer.start(
                RegistryServerOptions(auth: .htpasswd(RegistryUser(username: "helper-user", password: password))))
            seeded = try PullAuthIntegrationTests.Seeded(seed: 1401)
            try await RegistrySeeder(registry).push(seeded.one, from: seeded.layout, to: "team/app", tag: "1")
        }

        var reference: String { "\(registry.host)/team/app:1" }
    }

    /// Writes `BIN/docker-credential-NAME`, which logs its argument and stdin to `BIN/NAME.log`, then runs `body`
    /// (shell) to answer; returns BIN.
    static func writeHelper(_ name: String, in workspace: FerryWorkspace, answering body: String) throws -> String {
        let bin = try workspace.directory.makeSubdirectory("bin")
        let helper = "\(bin)/docker-credential-\(name)"
        try TestFiles.write(
            """
            #!/bin/sh
            host=$(cat)
            printf '%s %s\\n' "$1" "$host" >> '\(bin)/\(name).log'
            \(body)

            """, to: helper)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: helper)
        return bin
    }

    /// The Docker config under the workspace's HOME, where ferry looks by default.
    static func writeDockerConfig(_ json: String, in workspace: FerryWorkspace) throws {
        try TestFiles.write(json, to: try workspace.directory.makeSubdirectory("home/.docker") + "/config.json")
    }

    @Test(arguments: ["credHelpers", "credsStore"])
    func aHelperNamedByTheDockerConfigSuppliesTheCredentials(key: String) async throws {
        let setup = try await Setup()
        let workspace = try FerryWorkspace()
        let name = "ferry-test-\(key.lowercased())"
        let bin = try Self.writeHelper(
            name, in: workspace,
            answering: #"printf '{"ServerURL":"%s","Username":"helper-user","Secret":"\#(setup.password)"}\n' "$host""#)
        let value = key == "credHelpers" ? #"{"\#(setup.registry.host)":"\#(name)"}"# : #""\#(name)""#
        try Self.writeDockerConfig(#"{"\#(key)":\#(value)}"#, in: workspace)
        try workspace.writeConfig(plainHTTPList([setup.registry.host]))

        let pull = try await workspace.runBinary(
            ["pull", setup.reference, "--config", workspace.config, "--verbose"],
            environment: ["PATH": "\(bin):/usr/bin:/bin"])
        #expect(pull.status == 0, "\(pull)")
        #expect(pull.stdoutLines.last == "Status: Downloaded newer image for \(setup.reference)")
        #expect(try workspace.storedBlobs().isSuperset(of: setup.seeded.one.blobs.map(\.digest)))
        // Asked with Docker's protocol, for this host, and the answer reused for the whole pull.
        let calls = try TestFiles.readText("\(bin)/\(name).log").split(separator: "\n")
        #expect(!calls.isEmpty && calls.allSatisfy { $0 == "get \(setup.registry.host)" }, "\(calls)")
        try expectNoSecrets([setup.password], in: [pull], filesUnder: [workspace.store])
    }

    @Test func aFailingHelperIsNamedInTheErrorAndOneWithoutCredentialsMeansAnonymous() async throws {
        let setup = try await Setup()
        let workspace = try FerryWorkspace()
        let bin = try Self.writeHelper(
            "broken", in: workspace, answering: "echo 'keyring is locked' >&2; exit 3")
        _ = try Self.writeHelper(
            "empty", in: workspace, answering: "echo 'credentials not found in native keychain'; exit 1")
        try workspace.writeConfig(plainHTTPList([setup.registry.host]))
        let environment = ["PATH": "\(bin):/usr/bin:/bin"]

        try Self.writeDockerConfig(#"{"credHelpers":{"\#(setup.registry.host)":"broken"}}"#, in: workspace)
        let broken = try await workspace.runBinary(
            ["pull", setup.reference, "--config", workspace.config, "--retry-delay", "0"], environment: environment)
        #expect(broken.status == 1, "\(broken)")
        #expect(broken.stderrLines == [
            "Error: credential helper docker-credential-broken failed for \(setup.registry.host): keyring is locked"
        ])

        try Self.writeDockerConfig(#"{"credsStore":"empty"}"#, in: workspace)
        let anonymous = try await workspace.runBinary(
            ["pull", setup.reference, "--config", workspace.config, "--retry-delay", "0"], environment: environment)
        #expect(anonymous.status == 1, "\(anonymous)")
        // Docker's words when a Basic challenge finds no credentials.
        #expect(anonymous.stderrLines == [
            "Error: Head \"http://\(setup.registry.host)/v2/team/app/manifests/1\": no basic auth credentials"
        ])
        #expect(try TestFiles.readText("\(bin)/empty.log").split(separator: "\n").first == "get \(setup.registry.host)")
    }
}
