import FerrySystem
import Foundation
import Ledger

/// Opening an existing store for commands that only read it (`ferry report`, `ferry ls`).
enum StoreAccess {
    /// `DIR/ferry.db`.
    static func databasePath(_ store: String) -> String {
        store.hasSuffix("/") ? store + "ferry.db" : store + "/ferry.db"
    }

    /// Opens `DIR/ferry.db`, refusing to create one: a mistyped `--store` must not leave an empty store behind.
    ///
    /// A missing database and an unreadable one are store errors (exit 74), like every other store failure.
    static func openExisting(_ store: String) throws(CommandFailure) -> ReferenceStore {
        let path = databasePath(store)
        guard FileSystem.exists(path) else {
            throw CommandFailure("no ferry store at \(store): run ferry sync or ferry pull first", status: .ioError)
        }
        do {
            return try ReferenceStore.open(at: path)
        } catch {
            throw CommandFailure(String(describing: error), status: .ioError)
        }
    }
}
