/// Seeded random mutations of byte strings, for fuzz tests of parsers.
///
/// Everything derives from the seed (SplitMix64 through ``SeededBytes``), so a failing run repeats exactly with the
/// same seed. Each call stacks one to four mutations: bit flips, random or boundary bytes, insertions, deletions,
/// duplicated runs, splices with another seed input, replaced digit runs, and "interesting tokens" — quotes,
/// brackets, NUL, huge and negative numbers, very long strings, deep nesting, invalid UTF-8 — plus the target's own.
public struct Mutator: Sendable {
    /// Mutants never grow past this many bytes: parsers refuse larger inputs up front, so bigger ones only cost time.
    public static let maximumLength = 256 * 1024

    /// Tokens every target gets: JSON and HTTP punctuation, boundary numbers, long and deep text, invalid UTF-8.
    public static let commonTokens: [[UInt8]] = [
        "\"", "{", "}", "[", "]", ",", ":", "=", ";", "<", ">", "\\", "\\u", "\\u0000", "\\ud800", "/", "..", "../../",
        "\u{0000}", "\r\n", "\n", " ", "\t", "%00", "%2F", "null", "true", "-", "+", "0", "-1", "-0", "1e309",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
        "99999999999999999999999999999999999999", "0.5", "NaN", "sha256:", "sha256:../../x",
        String(repeating: "a", count: 4096), String(repeating: "[", count: 1200), String(repeating: "{\"a\":", count: 800),
        String(repeating: "9", count: 400),
    ].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]]

    private var random: SeededBytes
    private let tokens: [[UInt8]]

    /// A mutator drawing from `seed`, with `tokens` added to ``commonTokens``.
    public init(seed: UInt64, tokens: [[UInt8]] = []) {
        random = SeededBytes(seed: seed)
        self.tokens = Self.commonTokens + tokens
    }

    /// A uniformly drawn number in `0..<bound` (`bound` > 0).
    public mutating func below(_ bound: Int) -> Int {
        Int(random.nextWord() % UInt64(bound))
    }

    /// A mutant of `input`; `others` (usually the seed corpus) supplies splices.
    public mutating func mutate(_ input: [UInt8], others: [[UInt8]] = []) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) {
            mutateOnce(&bytes, others: others)
        }
        if bytes.count > Self.maximumLength { bytes.removeLast(bytes.count - Self.maximumLength) }
        return bytes
    }

    private mutating func mutateOnce(_ bytes: inout [UInt8], others: [[UInt8]]) {
        switch below(11) {
        case 0 where !bytes.isEmpty:
            bytes[below(bytes.count)] ^= UInt8(1) << UInt8(below(8))
        case 1 where !bytes.isEmpty:
            let boundary: [UInt8] = [0x00, 0x7F, 0x80, 0xFF, 0x22, 0x5C, 0x0A, 0x20]
            bytes[below(bytes.count)] = below(2) == 0 ? boundary[below(boundary.count)] : UInt8(truncatingIfNeeded: below(256))
        case 2:
            let count = 1 + below(8)
            bytes.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: below(256)) }, at: position(in: bytes))
        case 3 where !bytes.isEmpty:
            let start = below(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + below(32)))
        case 4 where !bytes.isEmpty:
            let start = below(bytes.count)
            let run = Array(bytes[start..<min(bytes.count, start + 1 + below(64))])
            let copies = 1 + below(below(2) == 0 ? 4 : 64)
            bytes.insert(contentsOf: Array(repeatElement(run, count: copies).joined()), at: position(in: bytes))
        case 5 where !others.isEmpty:
            let other = others[below(others.count)]
            let cut = position(in: bytes)
            let from = other.isEmpty ? 0 : below(other.count)
            bytes = Array(bytes[..<cut]) + other[from...]
        case 6 where !bytes.isEmpty:
            bytes.removeLast(1 + below(bytes.count))
        case 7:
            replaceDigits(&bytes)
        case 8:
            replaceToken(&bytes)
        default:
            bytes.insert(contentsOf: tokens[below(tokens.count)], at: position(in: bytes))
        }
    }

    private mutating func position(in bytes: [UInt8]) -> Int { below(bytes.count + 1) }

    /// Swaps a run of ASCII digits (a size, a length, a port) for a boundary number.
    private mutating func replaceDigits(_ bytes: inout [UInt8]) {
        let isDigit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
        guard !bytes.isEmpty else { return }
        let from = below(bytes.count)
        guard let start = bytes[from...].firstIndex(where: isDigit) ?? bytes[..<from].firstIndex(where: isDigit) else {
            return
        }
        let end = bytes[start...].firstIndex { !isDigit($0) } ?? bytes.endIndex
        let numbers = ["0", "1", "-1", "255", "256", "65535", "65536", "2147483648", "4294967296", "9223372036854775807",
                       "9223372036854775808", "18446744073709551616", "-9223372036854775809", "1e400", "00000000000000000001"]
        bytes.replaceSubrange(start..<end, with: Array(numbers[below(numbers.count)].utf8))
    }

    /// Replaces one occurrence of a token found in the input with another token, keeping the structure around it.
    private mutating func replaceToken(_ bytes: inout [UInt8]) {
        let first = below(tokens.count)
        for offset in 0..<tokens.count {
            let token = tokens[(first + offset) % tokens.count]
            guard !token.isEmpty, token.count <= bytes.count, let range = firstRange(of: token, in: bytes) else { continue }
            bytes.replaceSubrange(range, with: tokens[below(tokens.count)])
            return
        }
        bytes.insert(contentsOf: tokens[below(tokens.count)], at: position(in: bytes))
    }

    private mutating func firstRange(of token: [UInt8], in bytes: [UInt8]) -> Range<Int>? {
        let last = bytes.count - token.count
        let start = below(last + 1)
        for base in [start, 0] {
            var index = base
            while index <= last {
                if bytes[index] == token[0], bytes[index..<(index + token.count)].elementsEqual(token) {
                    return index..<(index + token.count)
                }
                index += 1
            }
        }
        return nil
    }
}
