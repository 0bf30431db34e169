import MirrorConfig

/// `--shard`, `--shards` and `--shard-group` of `ferry sync`, resolved against the process environment.
struct ShardOptions {
    /// `--shard K/N`.
    var shard: String?
    /// `--shards N`.
    var shards: String?
    /// `--shard-group NAME`.
    var group: String?

    /// The shard and group a sync runs as, or nil for the whole list; a bad value is a usage error (exit 64)
    /// naming it. The group is `--shard-group`, else `FERRY_SHARD_GROUP`; it means nothing without a shard.
    func resolve(_ environment: [String: String]) throws(CommandFailure) -> (shard: Shard, group: String?)? {
        let resolved: Shard?
        do {
            resolved = try ShardRequest(shard: shard, shards: shards, environment: environment).resolve()
        } catch {
            throw CommandFailure(error.description, status: .usage)
        }
        let group = group ?? environment["FERRY_SHARD_GROUP"].flatMap { $0.isEmpty ? nil : $0 }
        guard let resolved else {
            if let group = self.group {
                throw CommandFailure("--shard-group \(group) needs a shard: --shard K/N or --shards N", status: .usage)
            }
            return nil
        }
        if let group {
            // Printed in reports and used as a key: a control character or a huge value is a mistake.
            guard group.count <= 253, group.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
            else {
                throw CommandFailure(
                    "invalid shard group \"\(group.prefix(40))\": at most 253 printable characters", status: .usage)
            }
        }
        return (resolved, group)
    }
}
