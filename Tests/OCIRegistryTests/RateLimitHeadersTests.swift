import FerryHTTP
import Testing

@testable import OCIRegistry

/// Every rate-limit header family registries send, read into one value; what cannot be read is left out.
@Suite struct RateLimitHeadersTests {
    @Test(arguments: [
        // Docker Hub.
        ([("RateLimit-Limit", "100;w=21600"), ("RateLimit-Remaining", "76;w=21600")],
         RateLimitInfo(limit: 100, remaining: 76, window: .seconds(21600))),
        // Docker Hub, two policies listed.
        ([("RateLimit-Limit", "100, 100;w=21600"), ("RateLimit-Remaining", "0;w=21600")],
         RateLimitInfo(limit: 100, remaining: 0, window: .seconds(21600))),
        // IETF structured fields.
        ([("RateLimit-Policy", "\"default\";q=100;w=3600"), ("RateLimit", "\"default\";r=50;t=30")],
         RateLimitInfo(limit: 100, remaining: 50, window: .seconds(3600), resetIn: .seconds(30))),
        // Earlier drafts.
        ([("RateLimit", "limit=100, remaining=50, reset=30")],
         RateLimitInfo(limit: 100, remaining: 50, resetIn: .seconds(30))),
        ([("RateLimit-Limit", "10"), ("RateLimit-Remaining", "9"), ("RateLimit-Reset", "60"),
          ("RateLimit-Policy", "10;w=60")],
         RateLimitInfo(limit: 10, remaining: 9, window: .seconds(60), resetIn: .seconds(60))),
    ] as [([(String, String)], RateLimitInfo)])
    func readsEveryHeaderFamily(fields: [(String, String)], expected: RateLimitInfo) {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name, value) }
        #expect(RateLimitInfo.parse(headers) == expected)
    }

    @Test(arguments: [
        [("RateLimit-Remaining", "-1")], [("RateLimit-Remaining", "many")], [("RateLimit-Limit", "1e9")],
        [("RateLimit-Reset", "99999999999999999999")], [("Content-Type", "application/json")],
    ])
    func ignoresWhatItCannotRead(fields: [(String, String)]) {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name, value) }
        #expect(RateLimitInfo.parse(headers) == nil)
    }
}
