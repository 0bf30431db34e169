import Foundation
import OCIModel
import Testing

@testable import MirrorConfig

/// `--shard K/N`, `--shards N` and the environment, and the split itself: by repository, stable across machines
/// and versions (the vectors below are SHA-256 values computed outside Swift: changing them would move repositories
/// between the stores of a running deployment).
@Suite struct ShardTests {
    @Test(arguments: [
        ("docker.io/library/alpine", [2: 0, 3: 1, 7: 6, 10_000: 7172]),
        ("docker.io/library/nginx", [2: 1, 3: 0, 7: 1, 10_000: 6273]),
        ("quay.io/prometheus/node-exporter", [2: 1, 3: 2, 7: 5, 10_000: 9015]),
        ("ghcr.io/fluxcd/source-controller", [2: 1, 3: 2, 7: 1, 10_000: 5177]),
    ])
    func theShardOfARepositoryIsSHA256ModN(name: String, expected: [Int: Int]) throws {
        let repository = try RepositoryName(parsing: name)
        for (count, index) in expected {
            #expect(Shard.index(of: repository, count: count) == index, "\(name) of \(count)")
        }
        #expect(Shard.index(of: repository, count: 1) == 0)
    }

    @Test(arguments: [
        ("0/1", 0, 1), ("2/3", 2, 3), ("9999/10000", 9999, 10_000), ("007/010", 7, 10),
    ])
    func parsesShards(text: String, index: Int, count: Int) throws {
        let shard = try Shard(parsing: text)
        #expect(shard.index == index)
        #expect(shard.count == count)
        #expect(shard.description == "\(index)/\(count)")
    }

    @Test(arguments: [
        ("3/3", ShardError.indexOutOfRange(index: 3, count: 3)),
        ("0/0", .invalidCount("0")),
        ("0/10001", .invalidCount("10001")),
        ("1", .malformed("1")),
        ("1/2/3", .malformed("1/2/3")),
        ("-1/3", .malformed("-1/3")),
        ("+1/3", .malformed("+1/3")),
        (" 1/3", .malformed(" 1/3")),
        ("1/", .malformed("1/")),
        ("a/b", .malformed("a/b")),
        ("1/99999999999", .malformed("1/99999999999")),
    ])
    func refusesBadShards(text: String, error: ShardError) {
        #expect(throws: error) { try Shard(parsing: text) }
    }

    @Test(arguments: [
        (nil, "4", ["JOB_COMPLETION_INDEX": "3"], "3/4"),
        (nil, "4", ["FERRY_SHARD": "1", "JOB_COMPLETION_INDEX": "3"], "1/4"),
        (nil, nil, ["FERRY_SHARD": "1/2"], "1/2"),
        (nil, "2", ["FERRY_SHARD": "1/2"], "1/2"),
        ("0/5", nil, ["FERRY_SHARD": "1/2", "JOB_COMPLETION_INDEX": "3"], "0/5"),
        ("0/5", "5", [:], "0/5"),
        (nil, nil, ["JOB_COMPLETION_INDEX": "3"], nil),
        (nil, nil, ["FERRY_SHARD": ""], nil),
        (nil, nil, [:], nil),
    ] as [(String?, String?, [String: String], String?)])
    func resolvesFromOptionsAndEnvironment(
        shard: String?, shards: String?, environment: [String: String], expected: String?
    ) throws {
        let resolved = try ShardRequest(shard: shard, shards: shards, environment: environment).resolve()
        #expect(resolved?.description == expected)
    }

    @Test(arguments: [
        (nil, "3", [:], ShardError.countWithoutIndex(3)),
        ("1/3", "4", [:], .countsDisagree(shard: "1/3", shards: 4)),
        (nil, "4", ["FERRY_SHARD": "1/3"], .countsDisagree(shard: "1/3", shards: 4)),
        (nil, "3", ["JOB_COMPLETION_INDEX": "3"], .indexOutOfRange(index: 3, count: 3)),
        (nil, "3", ["JOB_COMPLETION_INDEX": "-1"], .malformedIndex(variable: "JOB_COMPLETION_INDEX", value: "-1")),
        (nil, nil, ["FERRY_SHARD": "2"], .indexWithoutCount(variable: "FERRY_SHARD", value: "2")),
        (nil, "zero", [:], .invalidCount("zero")),
    ] as [(String?, String?, [String: String], ShardError)])
    func refusesConflictingRequests(
        shard: String?, shards: String?, environment: [String: String], error: ShardError
    ) {
        #expect(throws: error) {
            try ShardRequest(shard: shard, shards: shards, environment: environment).resolve()
        }
    }

    @Test func everyEntryIsInExactlyOneShardAndARepositoryNeverSplits() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-shards-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var yaml = "version: 1\nimages:\n"
        for repository in 0..<40 {
            yaml += "  - source: example.com/team/repo-\(repository):1.0\n"
            yaml += "  - source: example.com/team/repo-\(repository)\n    include: ['^2\\.']\n"
        }
        try yaml.write(toFile: directory + "/list.yaml", atomically: true, encoding: .utf8)
        let list = try MirrorList.load(from: directory + "/list.yaml", environment: [:])
        for count in [1, 2, 3, 7] {
            let parts = try list.shards(count)
            #expect(parts.map(\.shard.index) == Array(0..<count))
            #expect(parts.map(\.images.count).reduce(0, +) == list.images.count)
            var owner: [String: Int] = [:]
            for part in parts {
                #expect(list.filtered(shard: part.shard).images == part.images)
                for entry in part.images {
                    #expect(owner[entry.source.name, default: part.shard.index] == part.shard.index)
                    owner[entry.source.name] = part.shard.index
                }
            }
            #expect(owner.count == 40)
            if count > 1 { #expect(parts.allSatisfy { !$0.images.isEmpty }, "40 repositories over \(count)") }
        }
    }
}
