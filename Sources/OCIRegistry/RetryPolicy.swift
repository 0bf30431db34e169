import FerryHTTP
import Foundation

/// How often and how patiently idempotent requests are retried before an endpoint counts as failed.
///
/// ferry retries every idempotent request (ping, token, HEAD/GET of manifests, tags and blobs) on connection
/// errors, resets, truncated bodies, 408, 429, 500, 502, 503 and 504, with exponential backoff and jitter,
/// honouring `Retry-After` — Docker retries only layer downloads (PULL-SEMANTICS §1.6, PRODUCT "departs").
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt (Docker's layer limit is 5).
    public var retries: Int
    /// Delay before the first retry; doubles each time.
    public var baseDelay: Duration
    /// Upper bound of one backoff delay.
    public var maxDelay: Duration
    /// A `Retry-After` longer than this is not waited for: the request fails with the 429/503.
    public var maxRetryAfter: Duration
    /// Randomise each delay by ±50% so parallel workers do not retry in lockstep.
    public var jitter: Bool

    /// Creates a policy.
    public init(
        retries: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30),
        maxRetryAfter: Duration = .seconds(120), jitter: Bool = true
    ) {
        self.retries = retries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.jitter = jitter
    }

    /// ferry's default: 5 retries from 0.5 s, doubling, at most 30 s apart.
    public static let standard = RetryPolicy()
    /// No retries at all.
    public static let none = RetryPolicy(retries: 0, baseDelay: .zero, maxDelay: .zero, jitter: false)

    /// The backoff before retry number `retry` (1-based).
    public func delay(beforeRetry retry: Int) -> Duration {
        guard baseDelay > .zero else { return .zero }
        var delay = baseDelay
        for _ in 1..<max(retry, 1) {
            delay = delay * 2
            if delay >= maxDelay { break }
        }
        delay = min(delay, maxDelay)
        if jitter {
            let factor = Double.random(in: 0.5...1.5)
            delay = delay * factor
        }
        return delay
    }

    /// True for statuses worth retrying on an idempotent request.
    public static func isRetryableStatus(_ status: Int) -> Bool {
        [408, 429, 500, 502, 503, 504].contains(status)
    }

    /// The `Retry-After` of a response, in seconds or as an HTTP date.
    public static func retryAfter(_ headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        guard let value = headers["Retry-After"]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else {
            return nil
        }
        if let seconds = Int(value) { return .seconds(max(seconds, 0)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(date.timeIntervalSince(now), 0))
    }
}
