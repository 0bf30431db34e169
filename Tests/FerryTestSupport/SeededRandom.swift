import Foundation

/// A reproducible random number generator (SplitMix64): the same seed gives the same sequence on every machine,
/// so a failure found with a seed can be replayed with it.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    // The fixtures' SplitMix64, with the standard library's generator interface on top (`Int.random(in:using:)`).
    private var source: DeterministicRandom

    /// Starts the sequence of `seed`.
    public init(seed: UInt64) { source = DeterministicRandom(seed: seed) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { source.next() }

    /// The seed from environment variable `name` (decimal or 0x-hex), or `fallback`.
    public static func seed(fromEnvironment name: String, default fallback: UInt64) -> UInt64 {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return fallback }
        if text.hasPrefix("0x") { return UInt64(text.dropFirst(2), radix: 16) ?? fallback }
        return UInt64(text) ?? fallback
    }
}
