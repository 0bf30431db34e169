import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The lines a child process wrote, collected on a background thread so that its pipe never fills up.
///
/// Waiting is event-driven: a waiter is resumed by the reader thread when a matching line arrives or the pipe
/// closes, never by re-checking on a timer.
public final class OutputLog: Sendable {
    /// How a wait ended.
    public enum WaitResult: Sendable, Equatable {
        /// A matching line, and its index in ``lines()``.
        case line(String, index: Int)
        /// The writer closed its end before a matching line arrived.
        case closed
        /// The deadline passed first.
        case timedOut
    }

    private struct Waiter {
        var id: Int
        var startIndex: Int
        var predicate: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<WaitResult, Never>
    }

    private struct State {
        var lines: [String] = []
        var partial: [UInt8] = []
        var closed = false
        var waiters: [Waiter] = []
        /// Timers that fired before their waiter was registered.
        var expiredEarly: Set<Int> = []
        var nextID = 0
    }

    private let state = Mutex(State())

    /// An empty log.
    public init() {}

    /// Every complete line so far, without line terminators.
    public func lines() -> [String] { state.withLock { $0.lines } }

    /// Every complete line so far, joined with newlines.
    public var text: String { lines().joined(separator: "\n") }

    /// True once the writer closed its end.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Adds bytes read from the pipe; complete lines are published and matching waiters resumed.
    func append(_ bytes: some Collection<UInt8>) {
        let ready: [(CheckedContinuation<WaitResult, Never>, WaitResult)] = state.withLock { state in
            state.partial.append(contentsOf: bytes)
            var first = state.partial.startIndex
            while let newline = state.partial[first...].firstIndex(of: 0x0A) {
                state.lines.append(String(decoding: state.partial[first..<newline], as: UTF8.self))
                first = state.partial.index(after: newline)
            }
            state.partial.removeSubrange(..<first)
            return Self.takeSatisfied(&state)
        }
        for (continuation, result) in ready { continuation.resume(returning: result) }
    }

    /// Marks the end of output; a trailing unterminated line is kept and waiters still pending get `.closed`.
    func close() {
        let ready: [(CheckedContinuation<WaitResult, Never>, WaitResult)] = state.withLock { state in
            if !state.partial.isEmpty {
                state.lines.append(String(decoding: state.partial, as: UTF8.self))
                state.partial.removeAll()
            }
            state.closed = true
            var ready = Self.takeSatisfied(&state)
            ready += state.waiters.map { ($0.continuation, .closed) }
            state.waiters.removeAll()
            return ready
        }
        for (continuation, result) in ready { continuation.resume(returning: result) }
    }

    /// Waits for the first line at or after `startIndex` that satisfies `predicate`.
    public func waitForLine(
        from startIndex: Int = 0, timeout: Double, where predicate: @escaping @Sendable (String) -> Bool
    ) async -> WaitResult {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
            if !Task.isCancelled { self?.expire(id) }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let immediate: WaitResult? = state.withLock { state in
                if let found = Self.firstMatch(in: state.lines, from: startIndex, predicate) { return found }
                if state.closed { return .closed }
                if state.expiredEarly.remove(id) != nil { return .timedOut }
                state.waiters.append(
                    Waiter(id: id, startIndex: startIndex, predicate: predicate, continuation: continuation))
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    private func expire(_ id: Int) {
        let waiter: Waiter? = state.withLock { state in
            guard let position = state.waiters.firstIndex(where: { $0.id == id }) else {
                // Either already resumed, or the timer beat the registration; remember it for the latter.
                state.expiredEarly.insert(id)
                return nil
            }
            return state.waiters.remove(at: position)
        }
        waiter?.continuation.resume(returning: .timedOut)
    }

    private static func firstMatch(
        in lines: [String], from startIndex: Int, _ predicate: (String) -> Bool
    ) -> WaitResult? {
        guard startIndex < lines.count else { return nil }
        for index in startIndex..<lines.count where predicate(lines[index]) {
            return .line(lines[index], index: index)
        }
        return nil
    }

    private static func takeSatisfied(_ state: inout State) -> [(CheckedContinuation<WaitResult, Never>, WaitResult)] {
        var ready: [(CheckedContinuation<WaitResult, Never>, WaitResult)] = []
        state.waiters.removeAll { waiter in
            guard let found = firstMatch(in: state.lines, from: waiter.startIndex, waiter.predicate) else {
                return false
            }
            ready.append((waiter.continuation, found))
            return true
        }
        return ready
    }

    /// Starts a thread that reads `fd` until EOF into `log`, then closes `fd`.
    static func drain(fd: Int32, into log: OutputLog) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    log.append(buffer[0..<count])
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            Glibc.close(fd)
            log.close()
        }
        thread.start()
    }
}
