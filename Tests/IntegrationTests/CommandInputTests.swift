import FerryPush
import FerryTestSupport
import Foundation
import Testing

@testable import FerryCommands

/// Bad command-line input is refused before anything is touched, with a message naming the input.
@Suite struct CommandInputTests {
    static let destinations: [(text: String, host: String?, prefix: String?, expectedError: String?)] = [
        ("registry.internal:5000", "registry.internal:5000", nil, nil),
        ("registry.internal:5000/", "registry.internal:5000", nil, nil),
        ("registry.internal/mirror/site-a", "registry.internal", "mirror/site-a", nil),
        ("localhost/x", "localhost", "x", nil),
        ("127.0.0.1:5000/m", "127.0.0.1:5000", "m", nil),
        ("[::1]:5000", "[::1]:5000", nil, nil),
        ("", nil, nil, #"invalid --to "": expected host[:port][/prefix]"#),
        ("https://registry.internal", nil, nil, #"invalid --to "https://registry.internal": expected host[:port][/prefix]"#),
        ("bad host", nil, nil, #"invalid --to "bad host": invalid reference format"#),
        ("registry.internal/Mirror", nil, nil, #"invalid --to "registry.internal/Mirror": repository name must be lowercase"#),
        ("mirror", nil, nil,
         #"invalid --to "mirror": "mirror" is not a registry host (it needs a dot, a port or to be localhost)"#),
        ("mirror/site", nil, nil,
         #"invalid --to "mirror/site": "mirror" is not a registry host (it needs a dot, a port or to be localhost)"#),
    ]

    @Test(arguments: destinations)
    func pushDestinations(text: String, host: String?, prefix: String?, expectedError: String?) {
        do {
            let target = try FerryCommand.Push.parseDestination(text)
            #expect(expectedError == nil, "\"\(text)\" was accepted")
            #expect(target.destination == .registry(host: host ?? "", prefix: prefix))
        } catch {
            #expect(error.message == (expectedError ?? "(accepted)"))
            #expect(error.status == .usage)
        }
    }

    @Test func pushFromAMissingStoreSaysSoAndCreatesNothing() async throws {
        let workspace = try FerryWorkspace()
        let result = try await workspace.run(["push", "--to", "registry.internal/m"])
        #expect(result.status == 74)
        #expect(result.stderrLines == ["Error: no ferry store at \(workspace.store): run ferry sync or ferry pull first"])
        #expect(!FileManager.default.fileExists(atPath: workspace.store))
    }

    @Test func syncOnlyMatchingNoImageIsAUsageError() async throws {
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(
            """
            version: 1
            images:
              - source: registry.example/team/app:1.0
            """)
        let result = try await workspace.sync(["--only", "*/other"])
        #expect(result.status == 64)
        #expect(result.stderrLines == [#"Error: --only "*/other" matches no image of the mirror list"#])
        #expect(!FileManager.default.fileExists(atPath: workspace.store))
    }
}
