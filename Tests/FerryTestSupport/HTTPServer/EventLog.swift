import Foundation
import Synchronization

/// Events recorded by a test server's threads, with event-driven waits: a waiter is resumed by the thread that
/// records a matching event, never by re-checking on a timer (the timeout is only a deadline).
public final class EventLog<Event: Sendable>: Sendable {
    private struct Waiter {
        var id: Int
        var predicate: @Sendable (Event) -> Bool
        var continuation: CheckedContinuation<Event?, Never>
    }

    private struct State {
        var events: [Event] = []
        var waiters: [Waiter] = []
        var expiredEarly: Set<Int> = []
        var nextID = 0
    }

    private let state = Mutex(State())

    /// An empty log.
    public init() {}

    /// Every event so far, oldest first.
    public var events: [Event] { state.withLock { $0.events } }

    /// Records `event` and resumes the waiters it satisfies.
    public func append(_ event: Event) {
        let ready: [CheckedContinuation<Event?, Never>] = state.withLock { state in
            state.events.append(event)
            var ready: [CheckedContinuation<Event?, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.predicate(event) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume(returning: event) }
    }

    /// The first event (already recorded or still to come) that satisfies `predicate`; throws after `timeout`.
    public func wait(
        for what: String, timeout: Double = 30, where predicate: @escaping @Sendable (Event) -> Bool
    ) async throws -> Event {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            if !Task.isCancelled { self?.expire(id) }
        }
        defer { timer.cancel() }
        let found: Event? = await withCheckedContinuation { continuation in
            let immediate: Event?? = state.withLock { state in
                if let event = state.events.first(where: predicate) { return .some(event) }
                if state.expiredEarly.remove(id) != nil { return .some(nil) }
                state.waiters.append(Waiter(id: id, predicate: predicate, continuation: continuation))
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        guard let found else { throw TestSupportError.timedOut(what: "waiting for \(what)", seconds: timeout) }
        return found
    }

    private func expire(_ id: Int) {
        let waiter: Waiter? = state.withLock { state in
            guard let position = state.waiters.firstIndex(where: { $0.id == id }) else {
                state.expiredEarly.insert(id)
                return nil
            }
            return state.waiters.remove(at: position)
        }
        waiter?.continuation.resume(returning: nil)
    }
}
