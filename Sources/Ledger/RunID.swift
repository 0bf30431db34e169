import Foundation

/// A run's identifier, e.g. `20261129T103000Z-3f9a`: the UTC start second plus four random hex digits.
///
/// The timestamp prefix makes IDs sort by start time and lets a human date a report file at a glance;
/// the suffix keeps two runs started in the same second apart.
public struct RunID: RawRepresentable, Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The ID text.
    public let rawValue: String

    /// Accepts only the `yyyyMMddTHHmmssZ-xxxx` form, so a mistyped `--run` fails before any lookup.
    public init?(rawValue: String) {
        guard Self.isWellFormed(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// A new ID for a run starting at `date`, with a random suffix.
    public static func make(startingAt date: Date) -> RunID {
        var suffix = String(UInt16.random(in: .min ... .max), radix: 16)
        suffix = String(repeating: "0", count: 4 - suffix.count) + suffix
        return RunID(unchecked: stamp(date) + "-" + suffix)
    }

    private init(unchecked: String) { rawValue = unchecked }

    /// The ID text.
    public var description: String { rawValue }

    /// The start second, `yyyyMMddTHHmmssZ`: two runs started in the same second share it, and their random
    /// suffixes say nothing about which started first.
    public var startSecond: Substring { rawValue.prefix { $0 != "-" } }

    /// Orders by text, which is start-time order to the second.
    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Decodes the bare string, rejecting malformed IDs.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = RunID(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid run ID \"\(text)\"")
        }
        self = id
    }

    /// Encodes the bare string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2) + "T" + pad(parts.hour, 2)
            + pad(parts.minute, 2) + pad(parts.second, 2) + "Z"
    }

    static func isWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 21 else { return false }
        func digits(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
        let hex = bytes[17..<21].allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        return digits(0..<8) && bytes[8] == 0x54 && digits(9..<15) && bytes[15] == 0x5A && bytes[16] == 0x2D && hex
    }
}
