import FerryHTTP
import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import Synchronization
import Testing

/// Issue 10 with the built binary against the real registry: `immutable-tags` costs no request for recorded tags,
/// and a quota advertised by a header-adding front defers what it cannot pay for, with exit 0.
@Suite(.demoRegistry) struct RequestEconomyIntegrationTests {
    @Test func recordedImmutableTagsCostNoRequestAndTheReportCountsThem() async throws {
        let demo = try DemoRegistry.get()
        let proxy = try RegistryProxy(for: demo.registry)
        defer { proxy.stop() }
        let workspace = try FerryWorkspace()
        try workspace.writeConfig(
            plainHTTPList(
                [proxy.host],
                images: [
                    "- source: \(proxy.host)/demo/app\n    tags: [\"1.0.0\", \"1.1.0\", \"1.2.0\", latest]\n"
                        + "    immutable-tags: ['\\d+\\.\\d+\\.\\d+']\n    referrers: none"
                ]))
        let first = try await workspace.sync()
        #expect(first.status == 0, "\(first)")

        let before = proxy.requests.count
        let second = try await workspace.sync()
        #expect(second.status == 0, "\(second)")
        // The registry saw exactly one request: the HEAD of the mutable tag (its referrers are not asked for here;
        // RequestEconomyTests counts that lookup).
        #expect(proxy.requests.dropFirst(before).map { "\($0.method) \($0.path)" } == [
            "HEAD /v2/demo/app/manifests/latest"
        ])
        let report = try TestFiles.read(workspace.store + "/reports/latest.json")
        #expect(try await workspace.schemaProblems(report) == [])
        let document = try JSONValue.parse(report)
        #expect(document["counts"]?["notAsked"] == .integer(3))
        #expect(document["counts"]?["upToDate"] == .integer(4))
        let host = try #require(document["hosts"]?.elements?.first)
        #expect(host["host"] == .string(proxy.host))
        #expect(host["total"] == .integer(1))
        #expect(host["requests"] == .array([.object(["kind": .string("manifest-head"), "count": .integer(1)])]))
        let markdown = try TestFiles.readText(workspace.store + "/reports/latest.md")
        #expect(markdown.contains("| of which not asked (immutable-tags) | 3 |"))
        #expect(markdown.contains("| `\(proxy.host)` | 1 | 0 | 0 | 0 | 0 | 0 | 1 | 0 |  |  |"))
        let metrics = try TestFiles.readText(workspace.store + "/metrics.prom")
        #expect(metrics.contains("ferry_not_asked 3\n"))
        #expect(metrics.contains("ferry_requests_total{host=\"\(proxy.host)\",kind=\"manifest-head\"} 1\n"))

        // A dry run says what a real run costs now, and costs no more than that itself.
        let dry = try await workspace.sync(["--dry-run"])
        #expect(dry.status == 0, "\(dry)")
        #expect(dry.stdoutLines.suffix(2) == [
            "cost of a real run now (this dry run made 1 request):",
            "  \(proxy.host): 4 references: 3 not asked (no request), 1 unchanged, 0 to pull; about 1 manifest HEAD "
                + "and at least 0 manifest GETs (plus one per platform of an index and the blobs the store lacks)",
        ])
    }

    /// A front that advertises `quota` manifest GETs per hour the way Docker Hub does, and answers 429 past it.
    final class Quota: Sendable {
        private let state = Mutex((limit: 0, used: 0))
        private let refusals = Mutex(0)

        /// GETs answered with 429.
        var refused: Int { refusals.withLock { $0 } }

        init(_ limit: Int) { state.withLock { $0 = (limit, 0) } }

        /// A new window with `limit` GETs.
        func reset(_ limit: Int) { state.withLock { $0 = (limit, 0) } }

        var used: Int { state.withLock { $0.used } }

        static func isManifestGet(_ request: TestHTTPRequest) -> Bool {
            request.method == "GET" && request.path.contains("/manifests/")
        }

        func headers(_ remaining: Int) -> HTTPHeaders {
            let limit = state.withLock { $0.limit }
            return ["RateLimit-Limit": "\(limit);w=3600", "RateLimit-Remaining": "\(remaining);w=3600"]
        }

        /// Refuses a GET past the quota; counts the others.
        func intercept(_ request: TestHTTPRequest) -> TestHTTPResponse? {
            guard Self.isManifestGet(request) else { return nil }
            let allowed = state.withLock { state -> Bool in
                guard state.used < state.limit else { return false }
                state.used += 1
                return true
            }
            if allowed { return nil }
            refusals.withLock { $0 += 1 }
            var refused = TestHTTPResponse.text(
                #"{"errors":[{"code":"TOOMANYREQUESTS","message":"pull rate limit"}]}"#, status: 429)
            for field in headers(0) { refused.headers.add(field.name, field.value) }
            return refused
        }

        func decorate(_ request: TestHTTPRequest, _ status: Int) -> HTTPHeaders {
            headers(state.withLock { max($0.limit - $0.used, 0) })
        }
    }

    @Test func aBudgetOfFiveOverTwelveReferencesPullsFiveDefersSevenAndTheNextWindowTakesTheRest() async throws {
        let registry = try await RegistryServer.start()
        defer { _ = registry.stop() }
        let layoutDirectory = try TemporaryDirectory(prefix: "ferry-economy-layout")
        let seeded = try await SampleImages.seedBenchmark(
            into: registry.endpoint, layout: try OCILayoutBuilder(path: layoutDirectory.appending("layout")),
            repositories: 2, tags: 6, layers: 1, layerSize: 512)
        let proxy = try RegistryProxy(for: registry)
        defer { proxy.stop() }
        let quota = Quota(5)
        proxy.intercept { quota.intercept($0) }
        proxy.decorate { quota.decorate($0, $1) }
        let workspace = try FerryWorkspace()
        let references = seeded.map { "\(proxy.host)/\($0.repository):\($0.tag)" }
        try workspace.writeConfig(plainHTTPList([proxy.host], images: references.map { "- source: \($0)" }))

        let first = try await workspace.sync(["--jobs", "4"])
        #expect(first.status == 0, "\(first)")
        #expect(quota.used == 5)
        #expect(proxy.requests { $0.contains("/manifests/") }.filter { $0.method == "GET" }.count == 5)
        let summary = try #require(first.stdoutLines.first { $0.hasPrefix("run ") })
        #expect(summary.contains("12 references (5 pulled, 0 up-to-date, 0 updated, 0 failed, 0 drift, 7 deferred)"))
        #expect(first.stdoutLines.contains { $0.hasPrefix("rate limit: \(proxy.host) quota 0 of 5 left, resets ") && $0.hasSuffix("; 7 references deferred to a later run") })
        let report = try TestFiles.read(workspace.store + "/reports/latest.json")
        #expect(try await workspace.schemaProblems(report) == [])
        let document = try JSONValue.parse(report)
        #expect(document["counts"]?["deferred"] == .integer(7))
        let deferred = (document["images"]?.elements ?? []).filter { $0["outcome"] == .string("deferred") }
        #expect(deferred.count == 7)
        #expect(deferred.allSatisfy { $0["retryAt"] != nil })
        let host = try #require(document["hosts"]?.elements?.first { $0["host"] == .string(proxy.host) })
        #expect(host["remaining"] == .integer(0))
        #expect(host["limit"] == .integer(5))
        #expect(host["throttled"] == .integer(0))
        let markdown = try TestFiles.readText(workspace.store + "/reports/latest.md")
        #expect(markdown.contains("## Deferred (7)"))
        let metrics = try TestFiles.readText(workspace.store + "/metrics.prom")
        #expect(metrics.contains("ferry_deferred 7\n"))
        #expect(metrics.contains("ferry_rate_limit_remaining{host=\"\(proxy.host)\"} 0\n"))

        // The next cron run starts from the stored budget: nothing is fetched, nothing fails, exit 0.
        let again = try await workspace.sync()
        #expect(again.status == 0, "\(again)")
        #expect(quota.used == 5)
        #expect(again.stdoutLines.contains { $0.contains("(0 pulled, 5 up-to-date, 0 updated, 0 failed, 0 drift, 7 deferred)") })

        // An hour and a second later (through the reference store's clock), in a new window of ten, the rest.
        try await workspace.withLedger { try await $0.age(by: 3601) }
        quota.reset(10)
        let later = try await workspace.sync()
        #expect(later.status == 0, "\(later)")
        #expect(later.stdoutLines.contains { $0.contains("12 references (7 pulled, 5 up-to-date, 0 updated, 0 failed, 0 drift)") })
        #expect(quota.used == 7)
        let verify = try await workspace.run(["verify"])
        #expect(verify.status == 0, "\(verify)")
    }

    @Test func shardsSplitTheQuotaSoTogetherTheyNeverOverdrawIt() async throws {
        let registry = try await RegistryServer.start()
        defer { _ = registry.stop() }
        let layoutDirectory = try TemporaryDirectory(prefix: "ferry-economy-shards")
        let seeded = try await SampleImages.seedBenchmark(
            into: registry.endpoint, layout: try OCILayoutBuilder(path: layoutDirectory.appending("layout")),
            repositories: 4, tags: 6, layers: 1, layerSize: 256)
        let proxy = try RegistryProxy(for: registry)
        defer { proxy.stop() }
        let quota = Quota(10)
        proxy.intercept { quota.intercept($0) }
        proxy.decorate { quota.decorate($0, $1) }
        let list = plainHTTPList(
            [proxy.host], images: seeded.map { "- source: \(proxy.host)/\($0.repository):\($0.tag)" })
        // Two machines, one after the other, behind the same quota of ten GETs: each may spend half of what it
        // first sees, so together they stay within it, and nothing is ever refused with a 429.
        let planner = try FerryWorkspace()
        try planner.writeConfig(list)
        let plan = try await planner.runBinary(["plan", "--shards", "2", "--json", "--config", planner.config])
        #expect(plan.status == 0, "\(plan)")
        let sizes = try (JSONValue.parse(Array(plan.stdout.utf8)).elements ?? []).map { $0["references"]?.elements?.count ?? 0 }
        #expect(sizes.reduce(0, +) == 24)
        var spent: [Int] = []
        for index in 0..<2 {
            let workspace = try FerryWorkspace()
            try workspace.writeConfig(list)
            let before = quota.used
            let result = try await workspace.sync(["--shard", "\(index)/2", "--jobs", "4"])
            #expect(result.status == 0, "\(result)")
            spent.append(quota.used - before)
        }
        #expect(quota.refused == 0)
        // Shard 0 sees 10 left and may spend 5; shard 1 sees what shard 0 left and may spend half of it.
        #expect(spent[0] == min(sizes[0], 5), "\(spent), shards of \(sizes)")
        #expect(spent[1] == min(sizes[1], (10 - spent[0]) / 2), "\(spent), shards of \(sizes)")
    }
}
