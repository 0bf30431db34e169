import FerryHTTP
import Foundation

/// What a response says about the client's rate limit, from whichever header family the registry speaks.
///
/// * Docker Hub: `RateLimit-Limit: 100;w=21600` and `RateLimit-Remaining: 76;w=21600` (a quota of pulls per window
///   of `w` seconds).
/// * The IETF drafts' structured fields: `RateLimit-Policy: "default";q=100;w=3600` and
///   `RateLimit: "default";r=50;t=30` (quota `q` per window `w`, `r` remaining, reset in `t` seconds).
/// * Their earlier forms: `RateLimit: limit=100, remaining=50, reset=30`, `RateLimit-Reset: 30`,
///   `RateLimit-Policy: 100;w=3600`.
///
/// Unparsable values are ignored rather than trusted: a budget built on a misread header would stop a run for
/// nothing, or not stop it at all.
// https://docs.docker.com/docker-hub/usage/pulls/
// https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
public struct RateLimitInfo: Sendable, Hashable {
    /// Requests allowed per window.
    public var limit: Int?
    /// Requests left in the current window.
    public var remaining: Int?
    /// The window's length.
    public var window: Duration?
    /// How long until the window resets (the quota comes back).
    public var resetIn: Duration?

    /// Creates an info.
    public init(limit: Int? = nil, remaining: Int? = nil, window: Duration? = nil, resetIn: Duration? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.window = window
        self.resetIn = resetIn
    }

    /// True when the headers said nothing usable.
    public var isEmpty: Bool { limit == nil && remaining == nil && window == nil && resetIn == nil }

    /// Reads the rate-limit headers of a response; nil when it has none.
    public static func parse(_ headers: HTTPHeaders) -> RateLimitInfo? {
        var info = RateLimitInfo()
        if let text = headers["RateLimit-Limit"] {
            let (value, window) = Self.valueAndWindow(text)
            info.limit = value
            info.window = info.window ?? window
        }
        if let text = headers["RateLimit-Remaining"] {
            let (value, window) = Self.valueAndWindow(text)
            info.remaining = value
            info.window = info.window ?? window
        }
        if let text = headers["RateLimit-Reset"], let seconds = Self.integer(text) {
            info.resetIn = .seconds(seconds)
        }
        if let text = headers["RateLimit-Policy"] {
            let parameters = Self.parameters(text)
            info.limit = info.limit ?? parameters["q"].flatMap(Self.integer) ?? Self.integer(Self.firstItem(text))
            info.window = info.window ?? parameters["w"].flatMap(Self.integer).map { .seconds($0) }
        }
        if let text = headers["RateLimit"] {
            let parameters = Self.parameters(text)
            info.remaining = info.remaining ?? (parameters["r"] ?? parameters["remaining"]).flatMap(Self.integer)
            info.limit = info.limit ?? parameters["limit"].flatMap(Self.integer)
            if info.resetIn == nil, let seconds = (parameters["t"] ?? parameters["reset"]).flatMap(Self.integer) {
                info.resetIn = .seconds(seconds)
            }
        }
        return info.isEmpty ? nil : info
    }

    /// `76;w=21600` → (76, 21600 s); `100` → (100, nil).
    static func valueAndWindow(_ text: String) -> (Int?, Duration?) {
        // Several policies may be listed (`100, 100;w=21600`): the one with a window tells the most.
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let chosen = items.first { $0.contains("w=") } ?? items.first ?? ""
        let parts = chosen.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        let value = parts.first.flatMap { integer(String($0)) }
        let window = parts.dropFirst().first { $0.hasPrefix("w=") }.flatMap { integer(String($0.dropFirst(2))) }
        return (value, window.map { .seconds($0) })
    }

    /// `key=value` pairs of a header, separated by `;` or `,`, quotes removed; the first wins.
    static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for piece in text.split(whereSeparator: { $0 == ";" || $0 == "," }) {
            let pair = piece.split(separator: "=", maxSplits: 1).map {
                $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            guard pair.count == 2, result[pair[0].lowercased()] == nil else { continue }
            result[pair[0].lowercased()] = pair[1]
        }
        return result
    }

    /// The first `;`/`,`-separated item, for `RateLimit-Policy: 100;w=3600`.
    static func firstItem(_ text: String) -> String {
        String(text.split(whereSeparator: { $0 == ";" || $0 == "," }).first ?? "").trimmingCharacters(in: .whitespaces)
    }

    /// A non-negative decimal integer, or nil.
    static func integer(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 18, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(trimmed)
    }
}
