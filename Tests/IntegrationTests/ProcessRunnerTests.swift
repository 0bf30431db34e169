import FerryTestSupport
import Foundation
import Testing

@Suite struct ProcessRunnerTests {
    @Test func capturesOutputStatusAndEnvironmentWithoutAShell() async throws {
        let result = try await ProcessRunner.run(
            "sh", ["-c", "echo \"$FERRY_PROBE\"; echo oops >&2; exit 3", "ignored;rm -rf /"],
            environment: ["FERRY_PROBE": "a b;c"])
        #expect(result.status == .exited(3))
        #expect(result.stdoutText == "a b;c\n")
        #expect(result.stderrText == "oops\n")
        #expect(throws: TestSupportError.self) { try result.checked() }
    }

    @Test func killsAProcessPastItsTimeout() async throws {
        await #expect(throws: TestSupportError.timedOut(what: "sleep 30", seconds: 0.3)) {
            try await ProcessRunner.run("sleep", ["30"], timeout: 0.3)
        }
    }

    @Test func missingToolsFailWithAnInstallHint() throws {
        #expect(ProcessRunner.which("sh") != nil)
        #expect(throws: TestSupportError.toolNotFound("ferry-no-such-tool")) {
            try ProcessRunner.requireTool("ferry-no-such-tool")
        }
        #expect(
            TestSupportError.toolNotFound("skopeo").description
                == "skopeo not found: run `make test`, which installs it")
    }

    @Test func temporaryDirectoriesAreRemoved() throws {
        var path = ""
        do {
            let directory = try TemporaryDirectory()
            path = directory.path
            try TestFiles.write("x", to: directory.appending("file"))
            #expect(TestFiles.exists(path))
        }
        #expect(!TestFiles.exists(path))
    }
}
