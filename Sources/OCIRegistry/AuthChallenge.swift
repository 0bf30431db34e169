import FerryHTTP

/// One challenge of a `WWW-Authenticate` header, e.g. `Bearer realm="…",service="…",scope="…"`.
// https://datatracker.ietf.org/doc/html/rfc7235#section-4.1
// https://distribution.github.io/distribution/spec/auth/token/
public struct AuthChallenge: Sendable, Hashable {
    /// The scheme, lowercased (`bearer`, `basic`).
    public var scheme: String
    /// Parameters with lowercased names.
    public var parameters: [String: String]

    /// Creates a challenge.
    public init(scheme: String, parameters: [String: String] = [:]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    /// Every challenge in every `WWW-Authenticate` field of `headers`; unparsable fields yield nothing.
    public static func parse(headers: HTTPHeaders) -> [AuthChallenge] {
        headers.values(for: "WWW-Authenticate").flatMap { parse(header: $0) }
    }

    /// The challenges in one header value. Several challenges may share a field, separated by commas; a new
    /// challenge starts at a token that is not followed by `=`.
    public static func parse(header: String) -> [AuthChallenge] {
        var scanner = Scanner(Array(header.utf8))
        var challenges: [AuthChallenge] = []
        while true {
            scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2C }
            guard let scheme = scanner.token(), !scheme.isEmpty else { break }
            var challenge = AuthChallenge(scheme: scheme)
            while true {
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                let mark = scanner.position
                guard let name = scanner.token(), !name.isEmpty else { break }
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                guard scanner.consume(0x3D) else {
                    // A token without `=` starts the next challenge.
                    scanner.position = mark
                    break
                }
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                let value = scanner.peek() == 0x22 ? scanner.quoted() : scanner.token()
                challenge.parameters[name.lowercased()] = value ?? ""
                scanner.skip { $0 == 0x20 || $0 == 0x09 }
                if !scanner.consume(0x2C) { break }
            }
            challenges.append(challenge)
        }
        return challenges
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skip(while predicate: (UInt8) -> Bool) {
            while position < bytes.count, predicate(bytes[position]) { position += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek() == byte else { return false }
            position += 1
            return true
        }

        // RFC 7230 tchar plus `/` so token68-ish values survive.
        mutating func token() -> String? {
            let start = position
            while position < bytes.count, Self.isTokenByte(bytes[position]) { position += 1 }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        mutating func quoted() -> String? {
            guard consume(0x22) else { return nil }
            var out: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte == 0x5C, position < bytes.count {
                    out.append(bytes[position])
                    position += 1
                } else if byte == 0x22 {
                    return String(decoding: out, as: UTF8.self)
                } else {
                    out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        static func isTokenByte(_ b: UInt8) -> Bool {
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) { return true }
            return "!#$%&'*+-.^_`|~/:".utf8.contains(b)
        }
    }
}
