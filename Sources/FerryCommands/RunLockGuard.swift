import FerrySystem

/// Takes the store's run lock (`DIR/ferry.lock`) or fails with exit status 75 and one line naming the holder.
enum RunLockGuard {
    static func acquire(store: String, command: String) throws(CommandFailure) -> RunLock {
        do {
            return try RunLock.acquire(at: store + "/ferry.lock", command: command)
        } catch {
            switch error {
            case .held: throw CommandFailure(error.description, status: .locked)
            case .system: throw CommandFailure(error.description, status: .ioError)
            }
        }
    }
}
