import Foundation
import Synchronization
import Testing

@testable import FerryCommands

/// Collects lines in memory.
private final class CapturedLines: LineSink {
    private let storage = Mutex<[String]>([])

    func writeLine(_ text: String) { storage.withLock { $0.append(text) } }

    var lines: [String] { storage.withLock { $0 } }
}

/// A fresh directory under the system temp dir, removed when the test is done.
/// Private to this target: FerryTestSupport has no temp-dir helper yet.
private struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/ferry-validate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path + "/" + name))
    }
}

private struct Run {
    var status: FerryCommands.ExitStatus
    var standardOutput: [String]
    var standardError: [String]
}

private func validate(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
    let command = try #require(try FerryCommand.parseAsRoot(["validate"] + arguments) as? FerryCommand.Validate)
    let out = CapturedLines()
    let err = CapturedLines()
    let status = command.run(output: CommandOutput(standardOutput: out, standardError: err), environment: environment)
    return Run(status: status, standardOutput: out.lines, standardError: err.lines)
}

@Suite struct ValidateCommandTests {
    @Test func goodFolderPrintsThePlanAndExitsZero() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "a.yaml",
            """
            version: 1
            registries:
              ${DEMO:-127.0.0.1:5000}:
                tls: plain-http
                credentials: {username-env: DEMO_USER, password-env: DEMO_PASSWORD}
            targets:
              usb: {layout: /mnt/usb}
            images:
              - source: ${DEMO:-127.0.0.1:5000}/demo/alpine
                tags: [latest]
                semver: ">=1.0.0 <3"
                latest: 2
              - ${DEMO:-127.0.0.1:5000}/demo/busybox:1.36
            """)
        try directory.write(
            "b.yml", "version: 1\nimages:\n  - source: alpine\n    targets: [usb]\n    immutable: true\n")
        let run = try validate(["--config", directory.path], environment: ["DEMO_PASSWORD": "hunter2"])
        #expect(run.status == .ok)
        #expect(run.standardError == [])
        #expect(run.standardOutput.count == 7)
        #expect(run.standardOutput.first == "2 files, 3 images, 1 registry, 1 target")
        #expect(run.standardOutput[1].hasPrefix("fingerprint sha256:"))
        #expect(
            Array(run.standardOutput[2...]) == [
                "registry 127.0.0.1:5000  tls=plain-http  credentials=username:env:DEMO_USER,password:env:DEMO_PASSWORD",
                "target usb  layout=/mnt/usb",
                "image 127.0.0.1:5000/demo/alpine  tags=latest semver=\">=1.0.0 <3\" latest=2  platforms=all  targets=(none)",
                "image 127.0.0.1:5000/demo/busybox:1.36  pinned  platforms=all  targets=(none)",
                "image docker.io/library/alpine  tags=latest(implied)  platforms=all  targets=usb  immutable",
            ])
        #expect(!run.standardOutput.joined().contains("hunter2"))
    }

    @Test func quietPrintsOnlyTheSummary() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.yaml", "version: 1\nimages: [alpine, busybox]\n")
        let run = try validate(["--config", directory.path, "--quiet"])
        #expect(run.status == .ok)
        #expect(run.standardOutput == ["1 file, 2 images, 0 registries, 0 targets"])
    }

    @Test func brokenFolderPrintsEveryErrorAndExits65() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a.yaml", "version: 1\nimages:\n  - source: alpine\n    tagz: [x]\n  - source: \"a b\"\n")
        try directory.write("b.yaml", "images:\n  - source: alpine\n")
        let run = try validate(["--config", directory.path])
        #expect(run.status == .invalidInput)
        #expect(run.status.rawValue == 65)
        #expect(run.standardOutput == [])
        let path = directory.path
        #expect(
            run.standardError == [
                "\(path)/a.yaml:4:5: unknown key \"tagz\" in image entry; allowed: source, tags, include, exclude, semver, "
                    + "latest, platforms, targets, immutable, verify-upstream, immutable-tags, revalidate, referrers",
                "\(path)/a.yaml:5:13: bad reference \"a b\": invalid reference format",
                "\(path)/b.yaml:1:1: missing version; write \"version: 1\" at the top of every mirror list file",
                "\(path)/b.yaml:2:5: duplicate image docker.io/library/alpine; first listed at \(path)/a.yaml:3:5; "
                    + "list each source once",
                "4 errors in 2 files",
            ])
    }

    @Test func missingConfigIsAnInvalidMirrorList() throws {
        let directory = try TemporaryDirectory()
        let run = try validate(["--config", directory.path + "/missing"])
        #expect(run.status == .invalidInput)
        #expect(run.standardError == ["\(directory.path)/missing: no such file or directory", "1 error in 1 file"])
    }

    @Test func shippedManifestsValidate() throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let manifests = root.appendingPathComponent("manifests").path
        for config in [manifests, manifests + "/example.yaml", manifests + "/demo.yaml"] {
            let run = try validate(["--config", config])
            #expect(run.status == .ok, "\(config): \(run.standardError)")
        }
        let demo = try validate(["--config", manifests + "/demo.yaml"])
        #expect(
            demo.standardOutput.contains(
                "image 127.0.0.1:5000/demo/app  tags=latest include=\\d+\\.\\d+\\.\\d+(-.*)? semver=\">=1.0.0 <3\" "
                    + "latest=2  platforms=all  targets=(none)  immutable"))
    }
}
