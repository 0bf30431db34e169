import FerryTestSupport
import OCIModel

extension FuzzTargets {
    /// The reference grammar: `ImageReference(parsing:)` (and its strict form), `AnyReference`, `RepositoryName` and
    /// `Digest(parsing:)` on one string.
    ///
    /// Property: each refusal is a ``ReferenceError`` or ``DigestError`` with a message (typed throws make the type
    /// certain); what is accepted prints to a form that parses back to the same value, full and familiar.
    public static func reference() -> FuzzTarget {
        FuzzTarget(name: "reference", seeds: referenceSeeds, tokens: referenceTokens) { bytes throws(FuzzViolation) in
            let text = String(decoding: bytes, as: UTF8.self)
            let reparse = { (text: String) throws(ReferenceError) in try ImageReference(parsing: text) }
            let reference = try parsed { () throws(ReferenceError) in try ImageReference(parsing: text) }
            if let reference {
                try expectSame(reference, reparsing: reference.string, reparse)
                if isImageID(reference.familiarString) {
                    // As in distribution/reference: `library/<64 hex>` parses, its familiar form is an image ID.
                    let familiar = Result { () throws(ReferenceError) in try ImageReference(parsing: reference.familiarString) }
                    guard case .failure(.identifierNotAllowed(let text)) = familiar, text == reference.familiarString else {
                        throw FuzzViolation("the familiar form \(reference.familiarString) gives \(familiar)")
                    }
                } else {
                    try expectSame(reference, reparsing: reference.familiarString, reparse)
                }
                try expectSame(reference, reparsing: reference.string) { text throws(ReferenceError) in
                    try ImageReference(parsingStrict: text)
                }
            }
            if let any = try parsed({ () throws(ReferenceError) in try AnyReference(parsing: text) }) {
                try expectSame(any, reparsing: any.string) { text throws(ReferenceError) in try AnyReference(parsing: text) }
            }
            if let name = try parsed({ () throws(ReferenceError) in try RepositoryName(parsing: text) }) {
                try expectSame(name, reparsing: name.name) { text throws(ReferenceError) in try RepositoryName(parsing: text) }
            }
            // DigestError's texts are fixed; what matters is that an accepted digest is exactly the input.
            if let digest = try? Digest(parsing: text), digest.description != text {
                throw FuzzViolation("digest \(text.debugDescription) prints as \(digest)")
            }
            return reference == nil ? .rejected : .accepted
        }
    }

    private static func isImageID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The parsed value, or nil for a refusal with a message.
    private static func parsed<Value>(_ parse: () throws(ReferenceError) -> Value) throws(FuzzViolation) -> Value? {
        do {
            return try parse()
        } catch {
            if error.description.isEmpty { throw FuzzViolation("refused without a message: \(error)") }
            return nil
        }
    }

    private static func expectSame<Value: Equatable>(
        _ value: Value, reparsing text: String, _ parse: (String) throws(ReferenceError) -> Value
    ) throws(FuzzViolation) {
        let again: Value
        do { again = try parse(text) } catch {
            throw FuzzViolation("accepted as \(value), but its form \(text.debugDescription) is refused: \(error)")
        }
        guard again == value else { throw FuzzViolation("\(text.debugDescription) parses to \(again), not \(value)") }
    }

    static let referenceSeeds: [[UInt8]] = [
        "alpine", "alpine:3.20", "library/alpine:latest", "docker.io/library/alpine:3.20",
        "index.docker.io/library/alpine@sha256:" + String(repeating: "a", count: 64),
        "localhost:5000/demo/app:1.0.0", "127.0.0.1:5000/a_b/c-d/e.f:tag_1.2-rc", "[::1]:5000/x/y:z",
        "ghcr.io/org/repo:v1@sha256:" + String(repeating: "0", count: 64), String(repeating: "f", count: 64),
        "sha256:" + String(repeating: "e", count: 64), "sha512:" + String(repeating: "d", count: 128),
        "registry.example.com/a__b/c---d:" + String(repeating: "t", count: 128),
    ].map { Array($0.utf8) }

    static let referenceTokens: [[UInt8]] = [
        "/", ":", "@", ".", "_", "__", "--", "docker.io/", "index.docker.io/", "library/", "localhost", "[", "]", "[::1]",
        ":5000", "A", "sha256:", "sha384:", "sha512:", "md5:", String(repeating: "a", count: 64),
        String(repeating: "0", count: 32), String(repeating: "a/", count: 130),
    ].map { Array($0.utf8) }
}
