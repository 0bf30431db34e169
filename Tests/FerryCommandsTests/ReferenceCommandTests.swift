import ArgumentParser
import Foundation
import Testing

@testable import FerryCommands

/// Parses `ferry <arguments>` as the binary would and runs `ferry reference` with captured output.
private func runReference(
    _ arguments: [String]
) throws -> (status: FerryCommands.ExitStatus, stdout: [String], stderr: [String]) {
    let parsed = try FerryCommand.parseAsRoot(arguments)
    let command = try #require(parsed as? FerryCommand.Reference)
    var stdout: [String] = []
    var stderr: [String] = []
    let status = command.run(output: { stdout.append($0) }, errors: { stderr.append($0) })
    return (status, stdout, stderr)
}

private let alpineJSON =
    [#"{"input":"alpine:3.20","name":"docker.io/library/alpine","domain":"docker.io","path":"library/alpine","#,
        #""tag":"3.20","digest":null,"familiarName":"alpine","familiarString":"alpine:3.20","#,
        #""string":"docker.io/library/alpine:3.20"}"#
    ].joined()
private let digest = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"

@Suite struct ReferenceCommandTests {
    @Test func printsTheFullAndFamiliarFormsInText() throws {
        let result = try runReference(["reference", "alpine:3.20", "ghcr.io/org/tool@\(digest)"])
        #expect(result.status == .ok)
        #expect(
            result.stdout == [
                "docker.io/library/alpine:3.20\talpine:3.20",
                "ghcr.io/org/tool@\(digest)\tghcr.io/org/tool@\(digest)",
            ])
        #expect(result.stderr.isEmpty)
    }

    @Test func reportsTextErrorsOnStderrAndExits65() throws {
        let result = try runReference(["reference", "Foo", "busybox", ""])
        #expect(result.status == .invalidInput)
        #expect(result.status.exitCode.rawValue == 65)
        #expect(result.stdout == ["docker.io/library/busybox\tbusybox"])
        #expect(
            result.stderr == [
                "Foo: invalid reference format: repository name (library/Foo) must be lowercase",
                ": invalid reference format",
            ])
    }

    @Test func printsOneJSONObjectPerArgumentWithKeysInOrder() throws {
        let result = try runReference(["reference", "--json", "alpine:3.20"])
        #expect(result.status == .ok)
        #expect(result.stdout == [alpineJSON])
    }

    @Test func keepsStdoutPureJSONWhenSomeReferencesFail() throws {
        let inputs = ["alpine:3.20", "Foo", "-docker", "a@sha256:abc", "x@sha256:" + String(repeating: "f", count: 34)]
        let result = try runReference(["reference", "--json"] + inputs)
        #expect(result.status == .invalidInput)
        #expect(result.stderr.isEmpty)
        #expect(
            result.stdout == [
                alpineJSON,
                #"{"input":"Foo","error":"invalid reference format: repository name (library/Foo) must be lowercase"}"#,
                #"{"input":"-docker","error":"invalid reference format"}"#,
                #"{"input":"a@sha256:abc","error":"invalid reference format"}"#,
                #"{"input":"x@sha256:ffffffffffffffffffffffffffffffffff","error":"invalid checksum digest length"}"#,
            ])
        for line in result.stdout {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["input"] != nil)
        }
    }

    @Test func writesAbsentPartsAsNull() throws {
        let result = try runReference(["reference", "--json", "localhost:5000/app@\(digest)"])
        #expect(
            result.stdout == [
                [#"{"input":"localhost:5000/app@\#(digest)","name":"localhost:5000/app","domain":"localhost:5000","#,
                    #""path":"app","tag":null,"digest":"\#(digest)","familiarName":"localhost:5000/app","#,
                    #""familiarString":"localhost:5000/app@\#(digest)","string":"localhost:5000/app@\#(digest)"}"#
                ].joined()
            ])
    }

    @Test func escapesInputsInJSON() throws {
        let result = try runReference(["reference", "--json", "a\"b\\c\n\u{1}"])
        #expect(result.stdout == [#"{"input":"a\"b\\c\n\u0001","error":"invalid reference format"}"#])
    }

    @Test func parsesStrictlyWithoutDefaults() throws {
        let result = try runReference(["reference", "--json", "--strict", "test_com", "foo/bar:1"])
        #expect(
            result.stdout == [
                [#"{"input":"test_com","name":"test_com","domain":null,"path":"test_com","tag":null,"digest":null,"#,
                    #""familiarName":"test_com","familiarString":"test_com","string":"test_com"}"#
                ].joined(),
                [#"{"input":"foo/bar:1","name":"foo/bar","domain":"foo","path":"bar","tag":"1","digest":null,"#,
                    #""familiarName":"foo/bar","familiarString":"foo/bar:1","string":"foo/bar:1"}"#
                ].joined(),
            ])
    }

    @Test func acceptsImageIDsAndDigestsWithAny() throws {
        let id = String(digest.dropFirst("sha256:".count))
        let result = try runReference(["reference", "--json", "--any", id, "redis"])
        #expect(result.status == .ok)
        #expect(
            result.stdout == [
                [#"{"input":"\#(id)","name":null,"domain":null,"path":null,"tag":null,"digest":"\#(digest)","#,
                    #""familiarName":null,"familiarString":"\#(digest)","string":"\#(digest)"}"#
                ].joined(),
                [#"{"input":"redis","name":"docker.io/library/redis","domain":"docker.io","path":"library/redis","#,
                    #""tag":null,"digest":null,"familiarName":"redis","familiarString":"redis","#,
                    #""string":"docker.io/library/redis"}"#
                ].joined(),
            ])
    }

    @Test func refusesAnImageIDWhenNormalising() throws {
        let id = String(digest.dropFirst("sha256:".count))
        let result = try runReference(["reference", id])
        #expect(result.status == .invalidInput)
        #expect(result.stderr == ["\(id): invalid repository name (\(id)), cannot specify 64-byte hexadecimal strings"])
    }

    @Test func treatsEverythingAfterTheTerminatorAsReferences() throws {
        let result = try runReference(["reference", "--json", "alpine:3.20", "--", "--json"])
        #expect(result.stdout == [alpineJSON, #"{"input":"--json","error":"invalid reference format"}"#])
    }

    @Test(arguments: [
        ["reference"], ["reference", "--json"], ["reference", "--"], ["reference", "--strict", "--any", "x"],
    ])
    func isAUsageErrorWithoutReferencesOrWithTwoGrammars(arguments: [String]) {
        do {
            _ = try FerryCommand.parseAsRoot(arguments)
            Issue.record("parsing \(arguments) succeeded")
        } catch {
            #expect(FerryCommand.exitCode(for: error).rawValue == FerryCommands.ExitStatus.usage.rawValue)
        }
    }
}
