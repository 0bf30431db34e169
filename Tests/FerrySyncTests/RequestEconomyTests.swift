import FerryHTTP
import FerryTestSupport
import Foundation
import Ledger
import OCIModel
import OCIRegistry
import Synchronization
import Testing

@testable import FerrySync

/// Issue 10: no request for what cannot have changed (`immutable-tags`, `revalidate`), a rate budget for what can.
@Suite struct RequestEconomyTests {
    static func list(tags: [String], policy: String = "") -> String {
        """
        version: 1
        images:
          - source: registry.test/team/app
            tags: [\(tags.map { "\"\($0)\"" }.joined(separator: ", "))]
        \(policy.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    static func registry(tags: [String]) -> InMemoryRegistry {
        let registry = InMemoryRegistry(host: "registry.test")
        for tag in tags { registry.addImage(repository: "team/app", tag: tag, seed: "app" + tag) }
        return registry
    }

    static func manifestRequests(_ transport: ScriptedTransport) -> [HTTPRequest] {
        transport.requests.filter { $0.url.path.contains("/manifests/") }
    }

    @Test func aRecordedImmutableTagCostsNoRequestAndMutableTagsOneHead() async throws {
        let tags = ["1.0.0", "1.1.0", "latest"]
        let registry = Self.registry(tags: tags)
        let harness = try SyncHarness { registry.handle($0) }
        let yaml = Self.list(tags: tags, policy: "immutable-tags: ['\\d+\\.\\d+\\.\\d+']")
        let first = try await harness.run(yaml)
        #expect(first.rows.allSatisfy { $0.outcome == .pulled })

        harness.transport.resetLog()
        let second = try await harness.run(yaml)
        #expect(second.exitStatus == 0)
        #expect(second.rows.allSatisfy { $0.outcome == .upToDate })
        // Only latest was asked for: its HEAD, then its referrer lookup (the registry's referrers API, once per
        // registry, and the repository's tag list for fallback and cosign tags). The two versions cost nothing.
        let latest = try #require(first.rows.first { $0.reference.tag == "latest" }?.digest)
        #expect(harness.transport.requests.map { "\($0.method.rawValue) \($0.url.path)" } == [
            "HEAD /v2/team/app/manifests/latest", "GET /v2/team/app/referrers/\(latest)", "GET /v2/team/app/tags/list",
        ])
        let run = try #require(try await harness.ledger.run(second.runID))
        #expect(run.counts.notAsked == 2)
        #expect(run.counts.upToDate == 3)
        let observations = try await harness.ledger.observations(run: second.runID)
        #expect(observations.filter { !$0.checked }.map(\.reference).sorted() == [
            "registry.test/team/app:1.0.0", "registry.test/team/app:1.1.0",
        ])
        #expect(observations.filter { !$0.checked }.allSatisfy { $0.servedBy == "store" && $0.manifestDigest != nil })

        // --revalidate-all asks for every tag again.
        harness.transport.resetLog()
        _ = try await harness.run(yaml, revalidateAll: true)
        #expect(Self.manifestRequests(harness.transport).count == 3)
    }

    @Test func revalidateAsksOnceAfterTheIntervalAndAMoveIsDrift() async throws {
        let tags = ["2.0.0"]
        let registry = Self.registry(tags: tags)
        let harness = try SyncHarness { registry.handle($0) }
        let yaml = Self.list(tags: tags, policy: "immutable-tags: ['\\d+\\.\\d+\\.\\d+']\nrevalidate: 24h")
        let first = try await harness.run(yaml)
        let original = try #require(first.rows.first?.digest)

        harness.transport.resetLog()
        _ = try await harness.run(yaml)
        #expect(harness.transport.requests.isEmpty)

        // 23 hours later: still within the interval.
        try await harness.ledger.age(by: 23 * 3600)
        _ = try await harness.run(yaml)
        #expect(harness.transport.requests.isEmpty)

        // Another two hours: the last check is 25 hours old, so exactly one HEAD, and the moved tag is drift.
        try await harness.ledger.age(by: 2 * 3600)
        let moved = registry.addImage(repository: "team/app", tag: "2.0.0", seed: "moved").manifest
        let due = try await harness.run(yaml)
        #expect(Self.manifestRequests(harness.transport).first.map { "\($0.method.rawValue) \($0.url.path)" }
            == "HEAD /v2/team/app/manifests/2.0.0")
        let row = try #require(due.rows.first)
        #expect(row.outcome == .drift)
        #expect(row.previousDigest == original)
        #expect(row.digest == moved)
        #expect(row.driftEvents.map(\.kind) == [.tagMoved])
        #expect(due.exitStatus == 2)

        // The check moved the clock: the next run asks nothing again.
        harness.transport.resetLog()
        _ = try await harness.run(yaml)
        #expect(harness.transport.requests.isEmpty)
    }

    /// Without referrers: their lookup lists a repository's tags for cosign tags itself, whatever the selector did.
    @Test func aTagListIsReusedWithinRevalidate() async throws {
        let registry = Self.registry(tags: ["1.0.0", "1.1.0"])
        let harness = try SyncHarness { registry.handle($0) }
        let yaml = """
            version: 1
            images:
              - source: registry.test/team/app
                include: ['\\d+\\.\\d+\\.\\d+']
                revalidate: 1h
                referrers: none
            """
        _ = try await harness.run(yaml)
        harness.transport.resetLog()
        _ = try await harness.run(yaml)
        #expect(harness.transport.requests.filter { $0.url.path.hasSuffix("/tags/list") }.isEmpty)
        try await harness.ledger.age(by: 3601)
        harness.transport.resetLog()
        _ = try await harness.run(yaml)
        #expect(harness.transport.requests.filter { $0.url.path.hasSuffix("/tags/list") }.count == 1)
    }

    /// A registry with Docker Hub's quota headers on every answer: `limit` manifest GETs per hour, counted here.
    final class QuotaRegistry: Sendable {
        let registry: InMemoryRegistry
        private let quota: Mutex<Int>
        private let gets = Mutex(0)

        init(_ registry: InMemoryRegistry, limit: Int) {
            self.registry = registry
            quota = Mutex(limit)
        }

        /// A new window, with `limit` GETs in it.
        func reset(limit: Int) {
            gets.withLock { $0 = 0 }
            quota.withLock { $0 = limit }
        }

        var limit: Int { quota.withLock { $0 } }

        var manifestGets: Int { gets.withLock { $0 } }

        func handle(_ request: HTTPRequest) -> ScriptedTransport.Reply {
            let isGet = request.method == .get && request.url.path.contains("/manifests/")
            let used = gets.withLock { count -> Int? in
                guard isGet else { return count }
                guard count < limit else { return nil }
                count += 1
                return count
            }
            guard let used else {
                var refused = HTTPResponse.registryError(429, code: "TOOMANYREQUESTS", message: "pull rate limit")
                refused.headers.add("RateLimit-Limit", "\(limit);w=3600")
                refused.headers.add("RateLimit-Remaining", "0;w=3600")
                return .response(refused)
            }
            guard case .response(var response) = registry.handle(request) else { return registry.handle(request) }
            response.headers.add("RateLimit-Limit", "\(limit);w=3600")
            response.headers.add("RateLimit-Remaining", "\(limit - used);w=3600")
            return .response(response)
        }
    }

    @Test func aBudgetOfFivePullsFiveDefersSevenAndTheNextWindowPullsTheRest() async throws {
        let tags = (1...12).map { "1.0.\($0)" }
        let quota = QuotaRegistry(Self.registry(tags: tags), limit: 5)
        let harness = try SyncHarness { quota.handle($0) }
        let yaml = Self.list(tags: tags)
        let first = try await harness.run(yaml, jobs: 1)
        #expect(first.outcomes[.pulled] == 5)
        #expect(first.outcomes[.deferred] == 7)
        #expect(first.outcomes[.failed] == nil)
        #expect(first.exitStatus == 0)
        // Never past the quota: no 429 was provoked.
        #expect(quota.manifestGets == 5)
        let deferred = first.rows.filter { $0.outcome == .deferred }
        #expect(deferred.count == 7)
        #expect(deferred.allSatisfy { row in
            let error = row.error ?? ""
            // The HEAD was free; the GET of the manifest by its digest is what the budget refused.
            return error.hasPrefix("Get \"https://registry.test/v2/team/app/manifests/sha256:")
                && error.contains(": rate limit of registry.test reached; not asked again before 20")
        })
        let host = try #require(first.hosts.first { $0.host == "registry.test" })
        #expect(host.rateLimit?.remaining == 0)
        #expect(host.rateLimit?.limit == 5)
        #expect(host.throttled == 0)
        #expect(host.counts[.manifestGet] == 5)
        let stored = try await harness.ledger.observations(run: first.runID).filter { $0.outcome == .deferred }
        #expect(stored.count == 7)
        #expect(stored.allSatisfy { $0.retryAt != nil })

        // The next cron run starts from the stored budget: still spent, so nothing is fetched and nothing fails.
        let again = try await harness.run(yaml, jobs: 1)
        #expect(again.outcomes[.deferred] == 7)
        #expect(again.outcomes[.upToDate] == 5)
        #expect(quota.manifestGets == 5)

        // After the window (an hour and a second, through the reference store's clock) the rest is pulled: the new
        // window grants ten.
        try await harness.ledger.age(by: 3601)
        quota.reset(limit: 10)
        let later = try await harness.run(yaml, jobs: 1)
        #expect(later.outcomes[.pulled] == 7)
        #expect(later.outcomes[.upToDate] == 5)
        #expect(later.outcomes[.deferred] == nil)
        #expect(later.exitStatus == 0)
        #expect(later.hosts.first { $0.host == "registry.test" }?.rateLimit?.remaining == 3)
    }

    @Test func aTooManyRequestsWithoutHeadersDefersTheRestOfTheHost() async throws {
        let tags = (1...6).map { "1.0.\($0)" }
        let registry = Self.registry(tags: tags)
        let served = Mutex(0)
        let harness = try SyncHarness { request in
            // Two references get through, then the registry's abuse limit answers 429 to everything.
            let allowed = served.withLock { count -> Bool in
                guard request.url.path.contains("/manifests/"), request.method == .head else { return true }
                count += 1
                return count <= 2
            }
            if allowed { return registry.handle(request) }
            return .response(HTTPResponse(status: 429, reason: "Too Many Requests"))
        }
        let summary = try await harness.run(Self.list(tags: tags), jobs: 1)
        #expect(summary.outcomes[.pulled] == 2)
        #expect(summary.outcomes[.deferred] == 4)
        #expect(summary.exitStatus == 0)
        let host = try #require(summary.hosts.first { $0.host == "registry.test" })
        #expect(host.blocked)
        #expect(host.blockedUntil == nil)
        // The retry once (RetryPolicy(retries: 1)) and then nothing more: the other three were never asked.
        #expect(host.throttled == 2)
        let deferred = summary.rows.filter { $0.outcome == .deferred }.map { $0.error ?? "" }
        #expect(deferred.filter { $0.hasSuffix("rate limit of registry.test reached (429 Too Many Requests); not asked again in this run") }.count == 4)
    }

    @Test func aRetryAfterDateIsWhenTheHostMayBeAskedAgain() async throws {
        let registry = Self.registry(tags: ["1.0.0", "1.0.1"])
        let reset = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 1).rounded(.down) + 7200)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let header = formatter.string(from: reset)
        let harness = try SyncHarness { request in
            if request.url.path.contains("/manifests/") {
                return .response(HTTPResponse(status: 429, reason: "Too Many Requests", headers: ["Retry-After": header]))
            }
            return registry.handle(request)
        }
        let summary = try await harness.run(Self.list(tags: ["1.0.0", "1.0.1"]), jobs: 1)
        #expect(summary.outcomes[.deferred] == 2)
        #expect(summary.exitStatus == 0)
        let host = try #require(summary.hosts.first { $0.host == "registry.test" })
        #expect(host.blockedUntil.map { abs($0.timeIntervalSince(reset)) < 1 } == true)
        // Two hours is longer than a batch job waits: the first answer blocks the host at once, without a retry.
        #expect(host.throttled == 1)
        let stored = try await harness.ledger.observations(run: summary.runID).filter { $0.outcome == .deferred }
        #expect(stored.count == 2)
        #expect(stored.allSatisfy { $0.retryAt.map { abs($0.timeIntervalSince(reset)) < 1 } == true })
    }
}
