import FerryHTTP
import Foundation
import Logging
import Synchronization

/// State shared by every registry client of one run: the transport, credentials, cached auth challenges and
/// tokens, the retry policy and request counters.
public final class RegistrySession: Sendable {
    /// Moves the bytes.
    public let transport: any HTTPTransport
    /// Supplies credentials per host.
    public let credentials: any CredentialProvider
    /// Retry behaviour of idempotent requests.
    public let retry: RetryPolicy
    /// Where debug and retry messages go.
    public let logger: Logger
    /// Pacing, concurrency and rate-limit budget per host, shared by every job of the run.
    public let governor: RateGovernor
    let tokens = TokenCache()
    let challenges = ChallengeStore()
    private let responded = Mutex<Set<String>>([])
    private let unreachable = Mutex<[String: RequestFailure]>([:])

    /// Creates a session.
    public init(
        transport: any HTTPTransport, credentials: any CredentialProvider = AnonymousCredentials(),
        retry: RetryPolicy = .standard, governor: RateGovernor = RateGovernor(), logger: Logger
    ) {
        self.governor = governor
        self.transport = transport
        self.credentials = credentials
        self.retry = retry
        self.logger = logger
    }

    /// A client for one endpoint that shares this session's caches.
    public func client(for endpoint: RegistryEndpoint) -> RegistryClient {
        RegistryClient(endpoint: endpoint, session: self)
    }

    /// How many HTTP requests went to each `host[:port]` (token servers included), for reports and tests.
    public var requestsByHost: [String: Int] {
        Dictionary(governor.hosts.filter { $0.total > 0 }.map { ($0.host, $0.total) }, uniquingKeysWith: +)
    }

    /// The total number of HTTP requests sent.
    public var totalRequests: Int { governor.hosts.reduce(0) { $0 + $1.total } }

    /// True once `endpoint` has answered any HTTP request in this session: its transport (and TLS, for https)
    /// is then confirmed, which decides moby's `transportOK` for a later failure.
    public func hasResponded(_ endpoint: RegistryEndpoint) -> Bool {
        responded.withLock { $0.contains(endpoint.description) }
    }

    /// Why `endpoint` counts as unreachable for the rest of this session, if it does.
    ///
    /// An endpoint that never answered and failed to connect through all its retries is not asked again in the same
    /// run: every later request fails at once with the same error, so a dead mirror costs one reference its retries
    /// instead of every reference (the fallback orchestrator then moves on to the next endpoint immediately).
    public func unreachableCause(_ endpoint: RegistryEndpoint) -> RequestFailure? {
        unreachable.withLock { $0[endpoint.description] }
    }

    func markUnreachable(_ endpoint: RegistryEndpoint, _ error: RegistryError) {
        guard !hasResponded(endpoint), case .request(_, _, let cause) = error else { return }
        unreachable.withLock { $0[endpoint.description] = $0[endpoint.description] ?? cause }
        logger.info(
            "Endpoint unreachable; not asked again in this run", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
    }

    func markResponded(_ endpoint: RegistryEndpoint) {
        _ = responded.withLock { $0.insert(endpoint.description) }
    }
}

/// Auth challenges learned per endpoint. ferry does not ping before every pull (that would make an unchanged tag
/// cost two requests): the first 401 of an endpoint teaches its challenges and later requests pre-authorise.
actor ChallengeStore {
    private var byEndpoint: [String: [AuthChallenge]] = [:]

    func challenges(for endpoint: RegistryEndpoint) -> [AuthChallenge]? { byEndpoint[endpoint.description] }

    func record(_ challenges: [AuthChallenge], for endpoint: RegistryEndpoint) {
        byEndpoint[endpoint.description] = challenges
    }
}

/// Bearer tokens per (realm, service, scopes, account), kept until `expires_in` and fetched once when many
/// requests need the same token at the same time.
// https://distribution.github.io/distribution/spec/auth/token/
actor TokenCache {
    struct Key: Hashable, Sendable {
        var realm: String
        var service: String
        var scopes: [String]
        var account: String
    }

    struct Token: Sendable {
        var value: String
        var expiry: Date
    }

    private var tokens: [Key: Token] = [:]
    private var inFlight: [Key: Task<Token, any Error>] = [:]

    /// A valid token for `key`, and whether it came from the cache.
    func token(
        for key: Key, now: @Sendable () -> Date = { Date() },
        fetch: @escaping @Sendable () async throws -> Token
    ) async throws -> (Token, cached: Bool) {
        // A token about to expire would fail mid-transfer; refresh it a few seconds early.
        if let token = tokens[key], token.expiry > now().addingTimeInterval(5) { return (token, true) }
        if let running = inFlight[key] { return (try await running.value, false) }
        let task = Task { try await fetch() }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        let token = try await task.value
        tokens[key] = token
        return (token, false)
    }

    /// Drops `value` for `key` if it is still the cached one (a 401 proved it useless).
    func invalidate(_ key: Key, value: String) {
        if tokens[key]?.value == value { tokens[key] = nil }
    }
}
