import Foundation
import Testing

@testable import MirrorConfig

@Suite struct RequestPolicyTests {
    @Test(arguments: [
        ("24h", 86_400), ("30m", 1_800), ("90s", 90), ("7d", 604_800), ("1h30m", 5_400), ("1d12h", 129_600),
    ])
    func revalidateDurationsParse(text: String, seconds: Int64) throws {
        let interval = try #require(RevalidateInterval(parsing: text))
        #expect(interval.duration == .seconds(seconds))
        #expect(interval.description == text)
    }

    @Test(arguments: ["", "24", "h", "0s", "0h0m", "1.5h", "1 h", "-1h", "1w", "24H", "9999999d"])
    func revalidateRefuses(text: String) {
        #expect(RevalidateInterval(parsing: text) == nil)
    }

    @Test func policiesComeFromTheEntryOrTheDefaults() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(
            "mirror.yaml",
            """
            version: 1
            defaults:
              immutable-tags: ['v?\\d+\\.\\d+\\.\\d+']
              revalidate: 24h
            registries:
              docker.io:
                requests-per-second: 2.5
                max-concurrent: 3
            images:
              - source: alpine
                tags: ["3.20.1", latest]
              - source: nginx
                tags: ["1.27.0"]
                revalidate: 7d
              - source: redis
                tags: ["7.2.4"]
                immutable-tags: []
                revalidate: 1h
            """)
        let list = try MirrorList.load(from: path, environment: [:])
        let alpine = try #require(list.images[0].trust)
        #expect(alpine.trusts("3.20.1"))
        #expect(alpine.trusts("v3.20.1"))
        #expect(!alpine.trusts("latest"))
        // Anchored like include: a pattern matches the whole tag.
        #expect(!alpine.trusts("3.20.1-rc1"))
        #expect(alpine.revalidate?.duration == .seconds(86_400))
        #expect(list.images[1].trust?.revalidate?.duration == .seconds(604_800))
        #expect(list.images[1].trust?.trusts("1.27.0") == true)
        // An empty list overrides the defaults: nothing is trusted, the interval still reuses tag lists.
        #expect(list.images[2].trust?.patterns == [])
        #expect(list.images[2].trust?.revalidate?.duration == .seconds(3_600))
        let hub = list.settings(for: "docker.io")
        #expect(hub.requestsPerSecond == 2.5)
        #expect(hub.maxConcurrent == 3)
        #expect(list.planLines.contains("registry docker.io  tls=default  credentials=docker-config  requests-per-second=2.5  max-concurrent=3"))
        #expect(list.images[1].planLine.hasSuffix(#"immutable-tags=v?\d+\.\d+\.\d+ revalidate=7d"#))
    }

    @Test func noPolicyMeansEveryTagIsChecked() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("mirror.yaml", "version: 1\nimages: [alpine]\n")
        let list = try MirrorList.load(from: path, environment: [:])
        #expect(list.images[0].trust == nil)
        #expect(list.settings(for: "docker.io").requestsPerSecond == nil)
    }
}
