import MirrorConfig
import Testing

@testable import FerrySync

/// The seam for issue 10's per-registry budgets: a shard of N spends 1/N of each.
@Suite struct ShardOptionTests {
    @Test func aShardSpendsItsShareOfEachBudget() throws {
        #expect(SyncEngine.Options(toolVersion: "test").budgetShare == 1)
        let shard = try Shard(index: 1, count: 4)
        let options = SyncEngine.Options(toolVersion: "test", shard: shard, shardGroup: "job-1")
        #expect(options.budgetShare == 0.25)
        #expect(options.shard == shard)
        #expect(options.shardGroup == "job-1")
    }
}
