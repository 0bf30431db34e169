/// Shell patterns with the rules of Go's `path.Match`, which distribution's `FamiliarMatch` uses.
///
/// `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]` / `[^a-z]` one character
/// from (or not from) a class, and `\c` the character `c`. A malformed pattern is an error even when the name
/// fails to match early, so a typo in `ferry sync --only` is reported rather than silently selecting nothing.
// https://pkg.go.dev/path#Match
enum PathPattern {
    private typealias Scalars = ArraySlice<Unicode.Scalar>

    /// True when `pattern` matches all of `name`.
    static func matches(_ pattern: String, _ name: String) throws(ReferenceError) -> Bool {
        var pattern = Scalars(pattern.unicodeScalars)
        var name = Scalars(name.unicodeScalars)
        // The pattern is a sequence of star-prefixed chunks of fixed width; placing each chunk at the first
        // position where it fits is enough, because no chunk can match more than one width.
        nextChunk: while !pattern.isEmpty {
            let (star, chunk, rest) = splitChunk(pattern)
            pattern = rest
            if star && chunk.isEmpty { return !name.contains("/") }
            if let remainder = try match(chunk, name), remainder.isEmpty || !pattern.isEmpty {
                name = remainder
                continue
            }
            if star {
                var skip = name.startIndex
                while skip < name.endIndex, name[skip] != "/" {
                    skip += 1
                    guard let remainder = try match(chunk, name[skip...]) else { continue }
                    // The last chunk must end the name; a later start might still do so.
                    if pattern.isEmpty && !remainder.isEmpty { continue }
                    name = remainder
                    continue nextChunk
                }
            }
            while !pattern.isEmpty {
                let (_, chunk, rest) = splitChunk(pattern)
                _ = try match(chunk, [])
                pattern = rest
            }
            return false
        }
        return name.isEmpty
    }

    /// Leading stars, then everything up to the next star outside a class.
    private static func splitChunk(_ pattern: Scalars) -> (star: Bool, chunk: Scalars, rest: Scalars) {
        var pattern = pattern
        var star = false
        while pattern.first == "*" {
            pattern.removeFirst()
            star = true
        }
        var inClass = false
        var i = pattern.startIndex
        scan: while i < pattern.endIndex {
            switch pattern[i] {
            case "\\" where i + 1 < pattern.endIndex: i += 1
            case "[": inClass = true
            case "]": inClass = false
            case "*" where !inClass: break scan
            default: break
            }
            i += 1
        }
        return (star, pattern[..<i], pattern[i...])
    }

    /// Matches `chunk` (no stars) at the start of `name`; the rest of `name`, or nil. Reads the whole chunk even
    /// after a mismatch so that syntax errors surface.
    private static func match(_ chunk: Scalars, _ name: Scalars) throws(ReferenceError) -> Scalars? {
        var chunk = chunk
        var name = name
        var failed = false
        while let head = chunk.first {
            if name.isEmpty { failed = true }
            chunk.removeFirst()
            switch head {
            case "[":
                let character = failed ? nil : name.removeFirst()
                let negated = chunk.first == "^"
                if negated { chunk.removeFirst() }
                var inClass = false
                var ranges = 0
                while !(chunk.first == "]" && ranges > 0) {
                    let low = try classCharacter(&chunk)
                    var high = low
                    if chunk.first == "-" {
                        chunk.removeFirst()
                        high = try classCharacter(&chunk)
                    }
                    if let character, low <= character, character <= high { inClass = true }
                    ranges += 1
                }
                chunk.removeFirst()
                if inClass == negated { failed = true }
            case "?":
                if !failed, name.removeFirst() == "/" { failed = true }
            default:
                var literal = head
                if head == "\\" {
                    guard let escaped = chunk.first else { throw .badPattern }
                    chunk.removeFirst()
                    literal = escaped
                }
                if !failed, name.removeFirst() != literal { failed = true }
            }
        }
        return failed ? nil : name
    }

    /// One end of a class range; a class must not end here, and `-` or `]` must be escaped.
    private static func classCharacter(_ chunk: inout Scalars) throws(ReferenceError) -> Unicode.Scalar {
        guard var character = chunk.first, character != "-", character != "]" else { throw .badPattern }
        chunk.removeFirst()
        if character == "\\" {
            guard let escaped = chunk.first else { throw .badPattern }
            chunk.removeFirst()
            character = escaped
        }
        // An unterminated class.
        if chunk.isEmpty { throw .badPattern }
        return character
    }
}
