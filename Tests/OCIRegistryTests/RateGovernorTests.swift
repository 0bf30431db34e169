import FerryHTTP
import Foundation
import Synchronization
import Testing

@testable import OCIRegistry

@Suite struct RateGovernorTests {
    static let get = URL(string: "https://registry.test/v2/app/manifests/1.0")!
    static let head = URL(string: "https://registry.test/v2/app/manifests/latest")!
    static let blob = URL(string: "https://registry.test/v2/app/blobs/sha256:00")!

    static func quota(_ remaining: Int, limit: Int = 10) -> HTTPHeaders {
        ["RateLimit-Limit": "\(limit);w=3600", "RateLimit-Remaining": "\(remaining);w=3600"]
    }

    @Test(arguments: [
        ("GET", "/v2/", RequestKind.ping), ("HEAD", "/v2/a/b/manifests/1", .manifestHead),
        ("GET", "/v2/a/manifests/sha256:00", .manifestGet), ("PUT", "/v2/a/manifests/1", .push),
        ("GET", "/v2/a/blobs/sha256:00", .blob), ("HEAD", "/v2/a/blobs/sha256:00", .blob),
        ("POST", "/v2/a/blobs/uploads/", .push), ("PATCH", "/v2/a/blobs/uploads/x", .push),
        ("GET", "/v2/a/tags/list", .tags), ("GET", "/v2/a/referrers/sha256:00", .referrers), ("GET", "/token", .other),
    ])
    func requestsAreClassifiedByMethodAndPath(method: String, path: String, kind: RequestKind) throws {
        let url = try #require(URL(string: "https://registry.test" + path))
        #expect(RequestKind(method: try #require(HTTPMethod(rawValue: method)), url: url) == kind)
    }

    @Test func manifestGetsDrawFromTheQuotaHeadsAndBlobsDoNot() async throws {
        let governor = RateGovernor()
        let probe = try await governor.admit(Self.head, kind: .manifestHead)
        governor.settle(probe, status: 200, headers: Self.quota(1))
        let first = try await governor.admit(Self.get, kind: .manifestGet)
        governor.settle(first, status: 200, headers: Self.quota(0))
        await #expect(throws: RequestFailure.self) { _ = try await governor.admit(Self.get, kind: .manifestGet) }
        // Free requests still pass: a HEAD of an unchanged tag and the blobs of an image already begun.
        governor.settle(try await governor.admit(Self.head, kind: .manifestHead), status: 200, headers: Self.quota(0))
        governor.settle(try await governor.admit(Self.blob, kind: .blob), status: 200, headers: nil)
        let host = try #require(governor.hosts.first)
        #expect(host.counts == [.manifestHead: 2, .manifestGet: 1, .blob: 1])
        #expect(host.rateLimit?.remaining == 0)
        #expect(host.rateLimit?.limit == 10)
        #expect(governor.isExhausted("registry.test"))
    }

    @Test func withoutHeadersAGetCountsDownAKnownQuota() async throws {
        let governor = RateGovernor()
        governor.settle(try await governor.admit(Self.head, kind: .manifestHead), status: 200, headers: Self.quota(2))
        for _ in 0..<2 {
            governor.settle(try await governor.admit(Self.get, kind: .manifestGet), status: 200, headers: nil)
        }
        await #expect(throws: RequestFailure.self) { _ = try await governor.admit(Self.get, kind: .manifestGet) }
    }

    @Test func aSavedQuotaCarriesOverUntilItsWindowEnds() async throws {
        let now = Date()
        let live = RateLimitState(
            host: "registry.test", limit: 5, remaining: 0, window: .seconds(3600), resetAt: now.addingTimeInterval(60),
            observedAt: now)
        let spent = RateGovernor(known: [live], now: { now })
        await #expect(throws: RequestFailure.rateLimited(host: "registry.test", until: live.resetAt)) {
            _ = try await spent.admit(Self.get, kind: .manifestGet)
        }
        var expired = live
        expired.resetAt = now.addingTimeInterval(-1)
        let renewed = RateGovernor(known: [expired], now: { now })
        _ = try await renewed.admit(Self.get, kind: .manifestGet)
    }

    @Test func aShardUsesItsShareOfTheQuota() async throws {
        let governor = RateGovernor(share: 4)
        governor.settle(try await governor.admit(Self.head, kind: .manifestHead), status: 200, headers: Self.quota(8))
        for _ in 0..<2 {
            governor.settle(try await governor.admit(Self.get, kind: .manifestGet), status: 200, headers: Self.quota(7))
        }
        await #expect(throws: RequestFailure.self) { _ = try await governor.admit(Self.get, kind: .manifestGet) }
    }

    @Test func aBlockStopsNewWorkButNotBlobs() async throws {
        let governor = RateGovernor()
        governor.block("registry.test", until: nil)
        await #expect(throws: RequestFailure.rateLimited(host: "registry.test", until: nil)) {
            _ = try await governor.admit(Self.head, kind: .manifestHead)
        }
        _ = try await governor.admit(Self.blob, kind: .blob)
        #expect(governor.refusal(for: "registry.test") == .some(nil))
        #expect(governor.refusal(for: "other.test") == nil)
    }

    @Test func maxConcurrentHoldsTheRestUntilASlotIsFree() async throws {
        let governor = RateGovernor(limits: ["registry.test": HostLimits(maxConcurrent: 2)])
        let first = try await governor.admit(Self.blob, kind: .blob)
        let second = try await governor.admit(Self.blob, kind: .blob)
        let admitted = Mutex(0)
        let third = Task {
            let admission = try await governor.admit(Self.blob, kind: .blob)
            admitted.withLock { $0 += 1 }
            return admission
        }
        while governor.waiting("registry.test") == 0 { await Task.yield() }
        // Two in flight: the third waits for a slot.
        #expect(admitted.withLock { $0 } == 0)
        governor.settle(first, status: 200, headers: nil)
        let admission = try await third.value
        #expect(admitted.withLock { $0 } == 1)
        governor.settle(second, status: 200, headers: nil)
        governor.settle(admission, status: 200, headers: nil)
        #expect(governor.hosts.first?.counts[.blob] == 3)
    }
}
