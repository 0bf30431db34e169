/// Finds the elements of one array member of a top-level JSON object without decoding the document, so that a
/// big `index.json` can be decoded one entry at a time: the whole-document decoder holds a parsed copy of
/// everything at once (about four times the file's size), one entry's decoder only that entry.
///
/// Only the structure is scanned (strings, nesting); values are not checked. Anything unusual — malformed text,
/// the key twice, an escaped key — gives nil, and the caller decodes the whole document, which reports the error
/// precisely.
enum JSONArraySlices {
    /// The document with that array emptied (`[]`), and the byte range of each element, in order.
    static func split(_ bytes: [UInt8], key: String) -> (shell: [UInt8], elements: [Range<Int>])? {
        let wanted = Array(key.utf8)
        var scanner = Scanner(bytes: bytes)
        scanner.skipWhitespace()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        var found: (open: Int, close: Int, elements: [Range<Int>])?
        scanner.skipWhitespace()
        if scanner.take(UInt8(ascii: "}")) { return nil }
        while true {
            scanner.skipWhitespace()
            guard let name = scanner.string() else { return nil }
            scanner.skipWhitespace()
            guard scanner.take(UInt8(ascii: ":")) else { return nil }
            scanner.skipWhitespace()
            if bytes[name].elementsEqual(wanted), scanner.peek == UInt8(ascii: "[") {
                guard found == nil else { return nil }
                let open = scanner.position
                _ = scanner.take(UInt8(ascii: "["))
                var elements: [Range<Int>] = []
                scanner.skipWhitespace()
                if !scanner.take(UInt8(ascii: "]")) {
                    while true {
                        scanner.skipWhitespace()
                        let start = scanner.position
                        guard scanner.skipValue() else { return nil }
                        elements.append(start..<scanner.position)
                        scanner.skipWhitespace()
                        if scanner.take(UInt8(ascii: ",")) { continue }
                        guard scanner.take(UInt8(ascii: "]")) else { return nil }
                        break
                    }
                }
                found = (open, scanner.position - 1, elements)
            } else {
                guard scanner.skipValue() else { return nil }
            }
            scanner.skipWhitespace()
            if scanner.take(UInt8(ascii: ",")) { continue }
            guard scanner.take(UInt8(ascii: "}")) else { return nil }
            break
        }
        scanner.skipWhitespace()
        guard scanner.atEnd, let found else { return nil }
        let shell = Array(bytes[...found.open]) + Array(bytes[found.close...])
        return (shell, found.elements)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[position] }

        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            position += 1
            return true
        }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        /// A string's content range (between the quotes); nil when there is none or it holds an escape (a key
        /// written with escapes is left to the whole-document decoder).
        mutating func string() -> Range<Int>? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = position
            var escaped = false
            while let byte = peek {
                position += 1
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    guard !atEnd else { return nil }
                    position += 1
                } else if byte == UInt8(ascii: "\"") {
                    return escaped ? nil : start..<(position - 1)
                }
            }
            return nil
        }

        mutating func skipString() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            while let byte = peek {
                position += 1
                if byte == UInt8(ascii: "\\") {
                    guard !atEnd else { return false }
                    position += 1
                } else if byte == UInt8(ascii: "\"") {
                    return true
                }
            }
            return false
        }

        /// Skips one value of any kind; false when the text is not well formed at this point.
        mutating func skipValue() -> Bool {
            guard let byte = peek else { return false }
            switch byte {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let close = byte == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                position += 1
                skipWhitespace()
                if take(close) { return true }
                while true {
                    skipWhitespace()
                    if close == UInt8(ascii: "}") {
                        guard skipString() else { return false }
                        skipWhitespace()
                        guard take(UInt8(ascii: ":")) else { return false }
                        skipWhitespace()
                    }
                    guard skipValue() else { return false }
                    skipWhitespace()
                    if take(UInt8(ascii: ",")) { continue }
                    return take(close)
                }
            default:
                let start = position
                while let next = peek,
                    next != UInt8(ascii: ","), next != UInt8(ascii: "]"), next != UInt8(ascii: "}"),
                    next != 0x20, next != 0x0A, next != 0x0D, next != 0x09
                {
                    position += 1
                }
                return position > start
            }
        }
    }
}
