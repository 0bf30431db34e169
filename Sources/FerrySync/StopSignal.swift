import Synchronization

/// A request to stop a run (SIGINT/SIGTERM), observable from async code without polling.
///
/// The engine stops starting work once it fires and cancels transfers in flight; partial downloads stay in the
/// store's `tmp/` so a rerun resumes them.
public final class StopSignal: Sendable {
    private struct State {
        var signal: Int32?
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
    }

    private let state = Mutex(State())

    /// A signal that has not fired.
    public init() {}

    /// Fires with `signal` (e.g. 2 for SIGINT, 15 for SIGTERM); later calls keep the first signal.
    public func request(_ signal: Int32) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int32?, Never>] in
            if state.signal == nil { state.signal = signal }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        let fired = state.withLock { $0.signal }
        for waiter in waiters { waiter.resume(returning: fired) }
    }

    /// The signal that fired, if any.
    public var firedSignal: Int32? { state.withLock { $0.signal } }

    /// Waits until the signal fires (returns it) or the waiting task is cancelled (returns nil).
    public func wait() async -> Int32? {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate: Int32?? = state.withLock { state in
                    if let signal = state.signal { return .some(signal) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }
}
