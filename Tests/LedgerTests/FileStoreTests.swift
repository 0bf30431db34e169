import Foundation
import OCIModel
import Testing

@testable import Ledger

@Suite struct FileStoreTests {
    @Test func reopeningKeepsDataInWALMode() async throws {
        let directory = try TemporaryDirectory()
        let run: RunID
        do {
            let store = try ReferenceStore.open(at: directory.database)
            let info = try await store.storageInfo()
            #expect(info.journalMode == "wal")
            #expect(info.foreignKeys)
            #expect(info.schemaVersion == ReferenceStore.schemaVersion)
            #expect(info.migrations == ["v1-reference-store", "v2-pushes", "v3-bundles", "v4-names", "v5-request-economy", "v6-referrers", "v7-shards"])
            let harness = try await Harness(store: store)
            run = harness.run
            try await harness.record("alpine:3.20", image("A", id: "config A"))
            try await store.finishRun(run, RunFinish(finishedAt: at(2), status: .completed, exitStatus: 0))
            try store.close()
        }

        let reopened = try ReferenceStore.open(at: directory.database)
        #expect(try await reopened.storageInfo().journalMode == "wal")
        #expect(try await reopened.latestRun()?.id == run)
        #expect(try await reopened.latestRun()?.counts.pulled == 1)
        let tag = try await reopened.tag(repository: try ref("alpine").repository, tag: "3.20")
        #expect(tag?.manifestDigest == digest("A"))
        #expect(
            try await reopened.digest(repository: try ref("alpine").repository, digest: digest("A"))?.imageID
                == digest("config A"))
        #expect(try await reopened.rawStrings("PRAGMA journal_mode") == [["wal"]])
        #expect(try await reopened.rawStrings("PRAGMA user_version") == [["\(ReferenceStore.schemaVersion)"]])
    }

    @Test func closingFoldsTheWALIntoTheMainFile() async throws {
        let directory = try TemporaryDirectory()
        do {
            let store = try ReferenceStore.open(at: directory.database)
            let harness = try await Harness(store: store)
            try await harness.record("alpine:3.20", image("A", id: "config A"))
            try store.close()
        }
        // A backup that copies ferry.db alone must hold the data.
        let copy = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: directory.database, toPath: copy.database)
        let restored = try ReferenceStore.open(at: copy.database)
        #expect(
            try await restored.tag(repository: try ref("alpine").repository, tag: "3.20")?.manifestDigest == digest("A")
        )
    }

    @Test func credentialsInEndpointsNeverReachTheDatabase() async throws {
        let directory = try TemporaryDirectory()
        let secrets = ["s3cr3t-pass", "hunter2", "tok3n", "ferry-bot"]
        do {
            let store = try ReferenceStore.open(at: directory.database)
            let harness = try await Harness(store: store)
            _ = try await store.record(
                Observation(
                    runID: harness.run, reference: try ref("alpine:3.20"),
                    attempts: [
                        EndpointAttempt(
                            endpoint: "https://ferry-bot:hunter2@mirror2.example",
                            error: #"Get "https://ferry-bot:hunter2@mirror2.example/v2/": 401 Unauthorized"#,
                            fellBack: true)
                    ],
                    result: .resolved(
                        image(
                            "A", id: "config A", servedBy: "https://ferry-bot:s3cr3t-pass@mirror.example.internal/v2/",
                            upstreamSaid: UpstreamCheck(
                                digest: digest("B"), endpoint: "https://x:tok3n@registry-1.docker.io")))))
            try await harness.fail(
                "alpine:3.21", error: "GET https://ferry-bot:s3cr3t-pass@mirror.example.internal/v2/ failed")

            var everything: [String] = []
            let tables = try await store.rawStrings("SELECT name FROM sqlite_master WHERE type = 'table'")
            for case let table? in tables.joined() {
                everything += try await store.rawStrings("SELECT * FROM \"\(table)\"").joined().compactMap { $0 }
            }
            #expect(everything.contains("https://mirror.example.internal/v2/"))
            #expect(everything.contains("https://mirror2.example"))
            #expect(everything.contains("https://registry-1.docker.io"))
            #expect(everything.contains(#"Get "https://mirror2.example/v2/": 401 Unauthorized"#))
            for secret in secrets {
                #expect(!everything.contains { $0.contains(secret) }, "\(secret) stored")
            }
            try store.close()
        }
        // The bytes on disk too, WAL included, in case something was written and then replaced.
        for suffix in ["", "-wal", "-shm"] {
            guard let bytes = FileManager.default.contents(atPath: directory.database + suffix) else { continue }
            for secret in secrets {
                #expect(bytes.firstRange(of: Data(secret.utf8)) == nil, "\(secret) in ferry.db\(suffix)")
            }
        }
    }

    @Test func twoStoresOnOneFileBothWrite() async throws {
        for _ in 0..<5 {
            let directory = try TemporaryDirectory()
            let path = directory.database
            // Opened concurrently, as two ferry processes starting together would: both race to migrate.
            let stores = try await withThrowingTaskGroup(of: ReferenceStore.self) { group in
                for _ in 0..<2 { group.addTask { try ReferenceStore.open(at: path) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let first = try await Harness(store: stores[0])
            let second = try await Harness(store: stores[1])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { try await first.record("alpine:a\(index)", image("a\(index)", id: "ca\(index)")) }
                    group.addTask { try await second.record("alpine:b\(index)", image("b\(index)", id: "cb\(index)")) }
                }
                try await group.waitForAll()
            }
            try await stores[0].finishRun(first.run, RunFinish(status: .completed, exitStatus: 0))
            try await stores[1].finishRun(second.run, RunFinish(status: .completed, exitStatus: 0))

            let inventory = try await stores[1].inventory()
            #expect(inventory.repositories.first?.tags.count == 40)
            #expect(try await stores[0].run(second.run)?.counts.pulled == 20)
            #expect(try await stores[1].run(first.run)?.counts.pulled == 20)
            #expect(
                try await stores[0].storageInfo().migrations == ["v1-reference-store", "v2-pushes", "v3-bundles", "v4-names", "v5-request-economy", "v6-referrers", "v7-shards"])
        }
    }

    @Test func aNewerSchemaIsRefusedAndLeftAlone() async throws {
        let directory = try TemporaryDirectory()
        do {
            let store = try ReferenceStore.open(at: directory.database)
            try await store.rawExecute(
                "INSERT INTO grdb_migrations VALUES ('v99-from-the-future'); PRAGMA user_version = 99;")
            try store.close()
        }
        #expect(throws: LedgerError.schemaTooNew(path: directory.database, found: 99, supported: ReferenceStore.schemaVersion)) {
            try ReferenceStore.open(at: directory.database)
        }
        let error = LedgerError.schemaTooNew(
            path: directory.database, found: 99, supported: ReferenceStore.schemaVersion)
        #expect(error.description.hasPrefix(directory.database + ": schema version 99 was written by a newer ferry"))
        // Still refused the second time: the failed open did not rewrite anything.
        #expect(throws: LedgerError.self) { try ReferenceStore.open(at: directory.database) }
    }

    @Test func unusableFilesFailToOpenWithTheirPath() async throws {
        let directory = try TemporaryDirectory()

        let missing = directory.path + "/no-such-dir/ferry.db"
        #expect {
            try ReferenceStore.open(at: missing)
        } throws: { error in
            guard case LedgerError.cannotOpen(let path, _) = error else { return false }
            return path == missing && "\(error)".hasPrefix(missing + ": cannot open: ")
        }

        let garbage = directory.path + "/garbage.db"
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: garbage))
        #expect {
            try ReferenceStore.open(at: garbage)
        } throws: { error in
            guard case LedgerError.cannotOpen(let path, _) = error else { return false }
            return path == garbage
        }

        do {
            let store = try ReferenceStore.open(at: directory.database)
            try await store.rawExecute("DROP TABLE grdb_migrations; PRAGMA user_version = 0;")
            try store.close()
        }
        #expect(
            throws: LedgerError.cannotOpen(
                path: directory.database, reason: "not a ferry reference store (it has tables but no ferry schema)")
        ) {
            try ReferenceStore.open(at: directory.database)
        }
    }

    @Test func theDatabaseEnforcesWriteOnceDigestsAndAppendOnlyLogs() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"))
        for statement in [
            "UPDATE digestMapping SET imageId = 'sha256:0'",
            "UPDATE observation SET outcome = 'failed'",
        ] {
            await #expect {
                try await harness.store.rawExecute(statement)
            } throws: { error in
                guard case LedgerError.database(_, _, let reason) = error else { return false }
                return reason.contains("written once") || reason.contains("append-only")
            }
        }
        #expect(try await harness.mapping("alpine", "A")?.imageID == digest("config A"))
    }
}

@Suite struct RedactionTests {
    @Test(arguments: [
        ("https://user:pass@mirror.example/v2/", "https://mirror.example/v2/"),
        ("https://token@mirror.example", "https://mirror.example"),
        ("http://a:b@127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("user:pass@registry.internal:5000", "registry.internal:5000"),
        ("https://mirror.example/v2/library/alpine@sha256:abc", "https://mirror.example/v2/library/alpine@sha256:abc"),
        ("registry.internal:5000/path@x", "registry.internal:5000/path@x"),
        ("https://mirror.example", "https://mirror.example"),
    ])
    func endpoints(input: String, expected: String) {
        #expect(Redaction.endpoint(input) == expected)
    }

    @Test(arguments: [
        (#"Get "https://u:p@h/v2/": EOF"#, #"Get "https://h/v2/": EOF"#),
        ("first https://a:b@one then http://c@two/x", "first https://one then http://two/x"),
        ("mail me at ops@example.com", "mail me at ops@example.com"),
        ("digest sha256:abc@ and https://h/v2/x@y", "digest sha256:abc@ and https://h/v2/x@y"),
    ])
    func freeText(input: String, expected: String) {
        #expect(Redaction.freeText(input) == expected)
    }
}
