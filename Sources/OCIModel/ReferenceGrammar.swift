/// The productions of distribution/reference's `regexp.go`, matched by hand over UTF-8 bytes.
///
/// Hand-written so that parsing a mirror list never compiles a pattern: each predicate is one linear pass and
/// allocates nothing. The regexps are unambiguous once split at fixed separators — a digest follows the only `@`,
/// a tag follows the last `:` after the last `/`, and a domain is the first `/`-component or nothing — so no
/// backtracking is needed.
///
/// The separator production is `[-]+` in regexp.go and `[-]*` in reference.go's grammar comment; both accept the
/// same language (an empty dash run between two alphanumerics is just a longer alphanumeric run).
// https://github.com/distribution/reference/blob/main/regexp.go
enum ReferenceGrammar {
    typealias Bytes = Slice<UnsafeBufferPointer<UInt8>>

    /// Byte ranges of a match of the anchored `ReferenceRegexp`.
    struct Parts {
        var domain: Range<Int>?
        var path: Range<Int>
        var tag: Range<Int>?
        var digest: Range<Int>?
        /// `domain/path`, the regexp's first capture.
        var name: Range<Int> { (domain?.lowerBound ?? path.lowerBound)..<path.upperBound }
    }

    /// `^name(:tag)?(@digest)?$`, with the name split as `anchoredNameRegexp` splits it.
    static func matchReference(_ text: Bytes) -> Parts? {
        var end = text.endIndex
        var digest: Range<Int>?
        if let at = text.firstIndex(of: .at) {
            guard isDigestPattern(text[(at + 1)..<end]) else { return nil }
            digest = (at + 1)..<end
            end = at
        }
        let nameAndTag = text[text.startIndex..<end]
        let lastComponent = nameAndTag.lastIndex(of: .slash).map { $0 + 1 } ?? nameAndTag.startIndex
        var tag: Range<Int>?
        // A name holds `:` only inside a domain, which a `/` follows; so a `:` after the last `/` starts the tag.
        if let colon = nameAndTag[lastComponent...].lastIndex(of: .colon) {
            guard isTag(text[(colon + 1)..<end]) else { return nil }
            tag = (colon + 1)..<end
            end = colon
        }
        guard let (domain, path) = splitName(text[text.startIndex..<end]) else { return nil }
        return Parts(domain: domain, path: path, tag: tag, digest: digest)
    }

    /// `^(?:(domainAndPort)/)?(remoteName)$`. The optional domain group is greedy, so the first component is
    /// the domain whenever it can be one, even without a dot (`foo/bar` has domain `foo`).
    static func splitName(_ name: Bytes) -> (domain: Range<Int>?, path: Range<Int>)? {
        if let slash = name.firstIndex(of: .slash) {
            let domain = name[name.startIndex..<slash]
            let path = name[(slash + 1)...]
            if isDomainAndPort(domain), isRemoteName(path) {
                return (domain.startIndex..<domain.endIndex, path.startIndex..<path.endIndex)
            }
        }
        guard isRemoteName(name) else { return nil }
        return (nil, name.startIndex..<name.endIndex)
    }

    /// `remoteName = pathComponent(/pathComponent)*`.
    static func isRemoteName(_ text: Bytes) -> Bool {
        var start = text.startIndex
        while true {
            let end = text[start...].firstIndex(of: .slash) ?? text.endIndex
            guard isPathComponent(text[start..<end]) else { return false }
            if end == text.endIndex { return true }
            start = end + 1
        }
    }

    /// `pathComponent = [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
    static func isPathComponent(_ text: Bytes) -> Bool {
        var i = text.startIndex
        guard i < text.endIndex, isLowerAlphanumeric(text[i]) else { return false }
        while i < text.endIndex {
            let byte = text[i]
            if isLowerAlphanumeric(byte) {
                i += 1
                continue
            }
            var next = i + 1
            switch byte {
            case .dot:
                break
            case .underscore:
                if next < text.endIndex, text[next] == .underscore { next += 1 }
            case .dash:
                while next < text.endIndex, text[next] == .dash { next += 1 }
            default:
                return false
            }
            // Every separator sits between two alphanumerics.
            guard next < text.endIndex, isLowerAlphanumeric(text[next]) else { return false }
            i = next
        }
        return true
    }

    /// `domainAndPort = (domainName | \[[a-fA-F0-9:]+\])(:[0-9]+)?`.
    static func isDomainAndPort(_ text: Bytes) -> Bool {
        guard let first = text.first else { return false }
        let hostEnd: Int
        if first == .openBracket {
            guard let close = text.firstIndex(of: .closeBracket) else { return false }
            let address = text[(text.startIndex + 1)..<close]
            guard !address.isEmpty, address.allSatisfy({ isHexDigit($0) || $0 == .colon }) else { return false }
            hostEnd = close + 1
        } else {
            hostEnd = text.firstIndex(of: .colon) ?? text.endIndex
            guard isDomainName(text[text.startIndex..<hostEnd]) else { return false }
        }
        let port = text[hostEnd...]
        guard let colon = port.first else { return true }
        return colon == .colon && port.count > 1 && port.dropFirst().allSatisfy(isDigit)
    }

    /// `domainName = domainNameComponent(\.domainNameComponent)*`, where a component is alphanumeric (either case)
    /// with inner dashes.
    private static func isDomainName(_ text: Bytes) -> Bool {
        var start = text.startIndex
        while true {
            let end = text[start...].firstIndex(of: .dot) ?? text.endIndex
            let component = text[start..<end]
            guard let first = component.first, let last = component.last, isAlphanumeric(first),
                isAlphanumeric(last), component.allSatisfy({ isAlphanumeric($0) || $0 == .dash })
            else { return false }
            if end == text.endIndex { return true }
            start = end + 1
        }
    }

    /// `tag = [\w][\w.-]{0,127}`.
    static func isTag(_ text: Bytes) -> Bool {
        guard let first = text.first, text.count <= 128, isWord(first) else { return false }
        return text.allSatisfy { isWord($0) || $0 == .dot || $0 == .dash }
    }

    /// `digestPat = [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][[:xdigit:]]{32,}`.
    static func isDigestPattern(_ text: Bytes) -> Bool {
        guard let colon = text.firstIndex(of: .colon) else { return false }
        let encoded = text[(colon + 1)...]
        guard encoded.count >= 32, encoded.allSatisfy(isHexDigit) else { return false }
        var expectLetter = true
        for byte in text[text.startIndex..<colon] {
            if expectLetter {
                guard isLetter(byte) else { return false }
                expectLetter = false
            } else if byte == .dash || byte == .underscore || byte == .plus || byte == .dot {
                expectLetter = true
            } else if !isAlphanumeric(byte) {
                return false
            }
        }
        // Also rejects an empty algorithm and a trailing separator.
        return !expectLetter
    }

    /// `identifier = [a-f0-9]{64}`: an image ID, a sha256 digest without its algorithm.
    static func isIdentifier(_ text: Bytes) -> Bool {
        text.count == 64 && text.allSatisfy { isDigit($0) || ($0 >= .lowerA && $0 <= .lowerF) }
    }

    // MARK: String entry points

    /// Runs `body` over the UTF-8 bytes of `text` without copying native strings.
    static func withBytes<R>(_ text: some StringProtocol, _ body: (Bytes) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable({ body($0[...]) }) { return result }
        var copy = String(text)
        return copy.withUTF8 { body($0[...]) }
    }

    /// ``isIdentifier(_:)`` for a string.
    static func isIdentifier(_ text: some StringProtocol) -> Bool { withBytes(text) { isIdentifier($0) } }

    /// ``isTag(_:)`` for a string.
    static func isTag(_ text: some StringProtocol) -> Bool { withBytes(text) { isTag($0) } }

    // MARK: Byte classes

    static func isLowerAlphanumeric(_ b: UInt8) -> Bool { (b >= .lowerA && b <= .lowerZ) || isDigit(b) }
    static func isAlphanumeric(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) }
    static func isLetter(_ b: UInt8) -> Bool { (b >= .lowerA && b <= .lowerZ) || (b >= .upperA && b <= .upperZ) }
    static func isDigit(_ b: UInt8) -> Bool { b >= .digit0 && b <= .digit9 }
    static func isWord(_ b: UInt8) -> Bool { isAlphanumeric(b) || b == .underscore }
    static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= .lowerA && b <= .lowerF) || (b >= .upperA && b <= .upperF)
    }
}

// Named ASCII bytes keep the byte-level matchers of this module readable.
extension UInt8 {
    static let at = UInt8(ascii: "@")
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let dot = UInt8(ascii: ".")
    static let dash = UInt8(ascii: "-")
    static let underscore = UInt8(ascii: "_")
    static let plus = UInt8(ascii: "+")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let digit0 = UInt8(ascii: "0")
    static let digit9 = UInt8(ascii: "9")
    static let lowerA = UInt8(ascii: "a")
    static let lowerF = UInt8(ascii: "f")
    static let lowerZ = UInt8(ascii: "z")
    static let upperA = UInt8(ascii: "A")
    static let upperF = UInt8(ascii: "F")
    static let upperZ = UInt8(ascii: "Z")
}
