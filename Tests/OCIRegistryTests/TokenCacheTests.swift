import Foundation
import Synchronization
import Testing

@testable import OCIRegistry

/// Token lifetime at the unit level: real token servers cannot issue tokens shorter than the 60 s floor.
@Suite struct TokenCacheTests {
    final class Fetches: Sendable {
        let count = Mutex(0)
        func next(expiry: Date) -> TokenCache.Token {
            let number = count.withLock { count in
                count += 1
                return count
            }
            return TokenCache.Token(value: "token-\(number)", expiry: expiry)
        }
    }

    @Test func aTokenIsReusedUntilShortlyBeforeItExpiresThenFetchedAgain() async throws {
        let cache = TokenCache()
        let key = TokenCache.Key(realm: "https://auth.test/token", service: "registry.test", scopes: ["repository:a:pull"], account: "")
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let fetches = Fetches()
        let expiry = start.addingTimeInterval(60)

        let (first, firstCached) = try await cache.token(for: key, now: { start }) { fetches.next(expiry: expiry) }
        #expect(first.value == "token-1" && !firstCached)
        let (again, cached) = try await cache.token(for: key, now: { start.addingTimeInterval(54) }) {
            fetches.next(expiry: expiry)
        }
        #expect(again.value == "token-1" && cached)
        // Within 5 s of expiry a transfer could outlive the token: a fresh one is fetched.
        let (fresh, freshCached) = try await cache.token(for: key, now: { start.addingTimeInterval(56) }) {
            fetches.next(expiry: start.addingTimeInterval(120))
        }
        #expect(fresh.value == "token-2" && !freshCached)
        #expect(fetches.count.withLock { $0 } == 2)
    }

    @Test func invalidatingTheCachedTokenForcesAFetchButAStaleInvalidationDoesNot() async throws {
        let cache = TokenCache()
        let key = TokenCache.Key(realm: "https://auth.test/token", service: "s", scopes: ["repository:a:pull"], account: "u")
        let now = Date()
        let fetches = Fetches()
        let far = now.addingTimeInterval(300)
        _ = try await cache.token(for: key) { fetches.next(expiry: far) }
        await cache.invalidate(key, value: "token-1")
        let (second, _) = try await cache.token(for: key) { fetches.next(expiry: far) }
        #expect(second.value == "token-2")
        // A 401 for a token that was already replaced must not drop the new one.
        await cache.invalidate(key, value: "token-1")
        let (still, cached) = try await cache.token(for: key) { fetches.next(expiry: far) }
        #expect(still.value == "token-2" && cached)
    }
}
