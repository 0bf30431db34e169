import FerryHTTP
import Foundation
import Synchronization

/// Pacing and concurrency asked for a host in the mirror list (`requests-per-second`, `max-concurrent`).
public struct HostLimits: Sendable, Hashable {
    /// At most this many requests per second (all kinds); nil: no pacing.
    public var requestsPerSecond: Double?
    /// At most this many requests in flight at once; nil: unbounded here.
    public var maxConcurrent: Int?

    /// Creates limits.
    public init(requestsPerSecond: Double? = nil, maxConcurrent: Int? = nil) {
        self.requestsPerSecond = requestsPerSecond
        self.maxConcurrent = maxConcurrent
    }
}

/// What a host said about its rate limit, kept in the reference store so the next run starts from it.
public struct RateLimitState: Sendable, Hashable, Codable {
    /// `host[:port]`.
    public var host: String
    /// Requests allowed per window.
    public var limit: Int?
    /// Requests left when last seen (after this run's own use).
    public var remaining: Int?
    /// The window's length.
    public var window: Duration?
    /// When the quota comes back; nil when the host never said and no window is known.
    public var resetAt: Date?
    /// When the host last said it.
    public var observedAt: Date

    /// Creates a state.
    public init(
        host: String, limit: Int? = nil, remaining: Int? = nil, window: Duration? = nil, resetAt: Date? = nil,
        observedAt: Date
    ) {
        self.host = host
        self.limit = limit
        self.remaining = remaining
        self.window = window
        self.resetAt = resetAt
        self.observedAt = observedAt
    }
}

/// The requests of a run to one host, for the report and the metrics.
public struct HostRequests: Sendable, Hashable {
    /// `host[:port]`.
    public var host: String
    /// Requests sent, by kind (redirect hops count under the host they went to).
    public var counts: [RequestKind: Int]
    /// Responses with status 429.
    public var throttled: Int
    /// The host's rate limit as last known; nil when it never sent rate-limit headers.
    public var rateLimit: RateLimitState?
    /// Set when a 429 stopped new work on the host: until then (or, when nil, for the rest of the run).
    public var blocked: Bool
    /// When a blocked host may be asked again; nil while ``blocked`` means the rest of this run.
    public var blockedUntil: Date?

    /// All requests.
    public var total: Int { counts.values.reduce(0, +) }
}

/// Draws every request of a run from one per-host budget: pacing (`requests-per-second`), concurrency
/// (`max-concurrent`), the registry's advertised quota (`RateLimit-*` headers; only manifest GETs are drawn from it,
/// as Docker Hub counts them) and 429 blocks. Shared by every job of the run, so parallel pulls cannot overdraw it.
///
/// A request that the budget cannot pay for fails before it is sent, with ``RequestFailure/rateLimited(host:until:)``:
/// the sync engine records its reference as deferred, not failed. Requests are admitted in arrival order; a shard of
/// `share` shards uses `1/share` of the pacing and of the remaining quota it first sees.
public final class RateGovernor: Sendable {
    /// A request that was let through; hand it back to ``settle(_:status:headers:)``.
    public struct Admission: Sendable {
        let host: String
        let kind: RequestKind
        let holdsSlot: Bool
    }

    struct HostState {
        var counts: [RequestKind: Int] = [:]
        var throttled = 0
        var limit: Int?
        var remaining: Int?
        var window: Duration?
        var resetAt: Date?
        var observedAt: Date?
        var reserved = 0
        var used = 0
        var allowance: Int?
        var blocked = false
        var blockedUntil: Date?
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var budgetWaiters: [CheckedContinuation<Void, Never>] = []
        var nextSlot: ContinuousClock.Instant?
    }

    private let limits: [String: HostLimits]
    private let share: Int
    private let now: @Sendable () -> Date
    private let state = Mutex<[String: HostState]>([:])

    /// Creates a governor with the mirror list's limits (keyed by `host[:port]`) and what earlier runs learned.
    public init(
        limits: [String: HostLimits] = [:], known: [RateLimitState] = [], share: Int = 1,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.limits = limits
        self.share = max(share, 1)
        self.now = now
        let current = now()
        var hosts: [String: HostState] = [:]
        for saved in known {
            var host = HostState()
            host.limit = saved.limit
            host.window = saved.window
            host.observedAt = saved.observedAt
            // A quota whose window has passed is back (or unknown): only a live one is carried into this run.
            if let resetAt = saved.resetAt, resetAt > current {
                host.remaining = saved.remaining
                host.resetAt = resetAt
                host.allowance = saved.remaining.map { $0 / self.share }
            }
            hosts[saved.host] = host
        }
        state.withLock { $0 = hosts }
    }

    /// The key a URL's requests are counted under: `host[:port]`, lowercased.
    public static func hostKey(_ url: URL) -> String {
        (url.host?.lowercased() ?? "?") + (url.port.map { ":\($0)" } ?? "")
    }

    /// Lets one request to `url` through, waiting for pacing and a concurrency slot; throws when the host's quota
    /// is spent (a manifest GET) or a 429 blocked it (anything that starts work).
    public func admit(_ url: URL, kind: RequestKind) async throws(RequestFailure) -> Admission {
        let host = Self.hostKey(url)
        while true {
            switch reserve(host, kind: kind) {
            case .admitted: return try await pace(host, kind: kind)
            case .refused(let failure): throw failure
            case .wait:
                // The quota looks spent only because requests of this run are in flight: the host's count already
                // includes those it has seen. Wait for one of them to answer, then look again.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let waiting = state.withLock { hosts -> Bool in
                        guard let entry = hosts[host], entry.reserved > 0 else { return false }
                        hosts[host]?.budgetWaiters.append(continuation)
                        return true
                    }
                    if !waiting { continuation.resume() }
                }
            }
        }
    }

    private enum Reservation {
        case admitted
        case refused(RequestFailure)
        case wait
    }

    private func reserve(_ host: String, kind: RequestKind) -> Reservation {
        let current = now()
        return state.withLock { hosts -> Reservation in
            var entry = hosts[host] ?? HostState()
            defer { hosts[host] = entry }
            if let resetAt = entry.resetAt, resetAt <= current {
                entry.remaining = nil
                entry.resetAt = nil
                entry.allowance = nil
                entry.used = 0
            }
            if entry.blocked, let until = entry.blockedUntil, until <= current {
                entry.blocked = false
                entry.blockedUntil = nil
            }
            if kind.startsWork, entry.blocked { return .refused(.rateLimited(host: host, until: entry.blockedUntil)) }
            if kind.isBudgeted {
                let spent =
                    entry.remaining.map { $0 - entry.reserved <= 0 } == true
                    || entry.allowance.map { entry.used + entry.reserved >= $0 } == true
                if spent {
                    return entry.reserved > 0 ? .wait : .refused(.rateLimited(host: host, until: entry.resetAt))
                }
                entry.reserved += 1
            }
            entry.counts[kind, default: 0] += 1
            return .admitted
        }
    }

    private func pace(_ host: String, kind: RequestKind) async throws(RequestFailure) -> Admission {
        let limits = self.limits[host]
        if let perSecond = limits?.requestsPerSecond {
            let interval = Duration.seconds(Double(share) / perSecond)
            let clock = ContinuousClock()
            let slot: ContinuousClock.Instant = state.withLock { hosts in
                let start = max(clock.now, hosts[host]?.nextSlot ?? clock.now)
                hosts[host, default: HostState()].nextSlot = start + interval
                return start
            }
            // Pacing is a wait by design (not synchronisation); a cancelled run stops waiting at once.
            if slot > clock.now { try? await Task.sleep(until: slot, clock: clock) }
        }
        var holdsSlot = false
        if let maximum = limits?.maxConcurrent {
            holdsSlot = true
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let proceed = state.withLock { hosts in
                    if hosts[host, default: HostState()].inFlight < maximum {
                        hosts[host, default: HostState()].inFlight += 1
                        return true
                    }
                    hosts[host, default: HostState()].waiters.append(continuation)
                    return false
                }
                if proceed { continuation.resume() }
            }
        }
        return Admission(host: host, kind: kind, holdsSlot: holdsSlot)
    }

    /// Hands an admission back with what the response said (status nil: no response).
    public func settle(_ admission: Admission, status: Int?, headers: HTTPHeaders?) {
        let current = now()
        let info = headers.flatMap(RateLimitInfo.parse)
        var budgetWaiters: [CheckedContinuation<Void, Never>] = []
        let next: CheckedContinuation<Void, Never>? = state.withLock { hosts in
            var entry = hosts[admission.host] ?? HostState()
            defer { hosts[admission.host] = entry }
            if admission.kind.isBudgeted {
                entry.reserved = max(entry.reserved - 1, 0)
                if let status, status < 400 { entry.used += 1 }
                budgetWaiters = entry.budgetWaiters
                entry.budgetWaiters.removeAll()
            }
            if status == 429 { entry.throttled += 1 }
            if let info {
                entry.limit = info.limit ?? entry.limit
                entry.window = info.window ?? entry.window
                if let remaining = info.remaining {
                    // Responses can arrive out of order: within one window the smallest count is the newest.
                    entry.remaining = min(entry.remaining ?? remaining, remaining)
                    if entry.allowance == nil { entry.allowance = share > 1 ? remaining / share : nil }
                }
                if let resetIn = info.resetIn {
                    entry.resetAt = current.addingTimeInterval(Double(resetIn.components.seconds))
                } else if entry.resetAt == nil, let window = entry.window, entry.remaining != nil {
                    // Docker Hub gives no reset time: a full window from now is the latest the quota can return.
                    entry.resetAt = current.addingTimeInterval(Double(window.components.seconds))
                }
                entry.observedAt = current
            } else if admission.kind.isBudgeted, let status, status < 400, let remaining = entry.remaining {
                entry.remaining = max(remaining - 1, 0)
            }
            guard admission.holdsSlot else { return nil }
            if entry.waiters.isEmpty {
                entry.inFlight = max(entry.inFlight - 1, 0)
                return nil
            }
            // The slot passes straight to the next waiter.
            return entry.waiters.removeFirst()
        }
        next?.resume()
        for waiter in budgetWaiters { waiter.resume() }
    }

    /// Stops new work on `host` after a 429 that retries did not cure: until `until`, or for the rest of the run.
    public func block(_ host: String, until: Date?) {
        state.withLock { hosts in
            var entry = hosts[host] ?? HostState()
            entry.blocked = true
            if let until, let earlier = entry.blockedUntil {
                entry.blockedUntil = max(earlier, until)
            } else {
                entry.blockedUntil = until
            }
            hosts[host] = entry
        }
    }

    /// Requests waiting for a concurrency slot of `host` (tests wait on it instead of sleeping).
    func waiting(_ host: String) -> Int { state.withLock { $0[host]?.waiters.count ?? 0 } }

    /// True when `host` advertised a quota and it is spent.
    public func isExhausted(_ host: String) -> Bool { spentQuota(host) != nil }

    /// When `host`'s spent quota comes back (nil inside: not known); nil when it is not spent or never advertised.
    public func spentQuota(_ host: String) -> Date?? {
        state.withLock { hosts -> Date?? in
            guard let entry = hosts[host], let remaining = entry.remaining, remaining <= 0 else { return nil }
            return .some(entry.resetAt)
        }
    }

    /// Why new work on `host` would be refused now: the time it may resume (nil inside: the rest of the run);
    /// nil when the host takes work.
    public func refusal(for host: String) -> Date?? {
        let current = now()
        return state.withLock { hosts -> Date?? in
            guard let entry = hosts[host], entry.blocked else { return nil }
            if let until = entry.blockedUntil, until <= current { return nil }
            return .some(entry.blockedUntil)
        }
    }

    /// True when a 429 blocked some host in this run: until then no reference needs a per-host look.
    public var hasBlockedHost: Bool { state.withLock { $0.values.contains { $0.blocked } } }

    /// Every host asked in this run (or known from earlier runs), sorted by host.
    public var hosts: [HostRequests] {
        state.withLock { hosts in
            hosts.keys.sorted().compactMap { host -> HostRequests? in
                guard let entry = hosts[host] else { return nil }
                return HostRequests(
                    host: host, counts: entry.counts, throttled: entry.throttled, rateLimit: Self.snapshot(host, entry),
                    blocked: entry.blocked, blockedUntil: entry.blockedUntil)
            }
        }
    }

    /// What to keep for the next run: every host that advertised a quota.
    public var knownStates: [RateLimitState] { hosts.compactMap(\.rateLimit) }

    private static func snapshot(_ host: String, _ entry: HostState) -> RateLimitState? {
        guard entry.limit != nil || entry.remaining != nil, let observedAt = entry.observedAt else { return nil }
        return RateLimitState(
            host: host, limit: entry.limit, remaining: entry.remaining, window: entry.window, resetAt: entry.resetAt,
            observedAt: observedAt)
    }
}
