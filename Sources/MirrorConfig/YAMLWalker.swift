import OCIModel
import Yams

/// A key/value pair of a YAML mapping, with the key already read as text.
struct Field {
    let key: String
    let keyNode: Node
    let value: Node
}

/// Reads typed values out of one file's composed YAML tree, recording every problem at its node's mark instead of
/// stopping at the first. Each accessor returns nil when the value was unusable (and says why in ``errors``).
struct YAMLWalker {
    let file: String
    let environment: [String: String]
    var errors: [ConfigError] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    // MARK: Positions and errors

    func location(_ node: Node) -> SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0)
    }

    mutating func fail(_ node: Node, _ problem: String) {
        errors.append(ConfigError(problem, at: location(node)))
    }

    mutating func fail(at location: SourceLocation, _ problem: String) {
        errors.append(ConfigError(problem, at: location))
    }

    /// How a value looks, for "got …" in type errors. `reveal: false` hides scalar text (credentials).
    func describe(_ node: Node, reveal: Bool = true) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence(let sequence): return sequence.isEmpty ? "an empty list" : "a list"
        case .scalar(let scalar):
            if kind(of: scalar, text: scalar.string) == .null { return "nothing" }
            guard reveal else { return "a single value" }
            func shown(_ text: String) -> String { goQuoted(text.count > 60 ? text.prefix(60) + "…" : text) }
            if let value = try? EnvironmentSubstitution.expand(scalar.string, environment: environment),
                value != scalar.string
            {
                return "\(shown(value)) (expanded from \(shown(scalar.string)))"
            }
            return shown(scalar.string)
        case .alias: return "an alias"
        }
    }

    /// Records `<subject> must be <expected>; got <what it is>`; `subject` is `"field"` or `each entry of "field"`.
    mutating func wrongType(_ field: String, _ node: Node, expected: String, item: Bool = false, reveal: Bool = true) {
        let subject = item ? "each entry of \(goQuoted(field))" : goQuoted(field)
        fail(node, "\(subject) must be \(expected); got \(describe(node, reveal: reveal))")
    }

    // MARK: Mappings

    /// The pairs of a mapping, with YAML merge keys (`<<: *anchor`) applied; nil (after an error) for other nodes.
    mutating func mapping(_ node: Node, field: String, expected: String) -> [Field]? {
        guard case .mapping(let mapping) = node else {
            wrongType(field, node, expected: expected)
            return nil
        }
        var fields: [Field] = []
        var merged: [Field] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                fail(
                    keyNode,
                    "a key must be a single value, not \(describe(keyNode)); keys are names such as source or tags")
                continue
            }
            if keyScalar.string == "<<", keyScalar.style == .plain {
                merged += mergeSources(value)
                continue
            }
            fields.append(Field(key: keyScalar.string, keyNode: keyNode, value: value))
        }
        // Keys written in this mapping win over merged ones, as YAML's merge key specifies.
        let own = Set(fields.map(\.key))
        var seen = Set<String>()
        for field in merged where !own.contains(field.key) && seen.insert(field.key).inserted {
            fields.append(field)
        }
        return fields
    }

    private mutating func mergeSources(_ value: Node) -> [Field] {
        let sources: [Node]
        switch value {
        case .mapping: sources = [value]
        case .sequence(let sequence): sources = Array(sequence)
        default:
            fail(value, "\"<<\" must be an alias of a mapping (<<: *name) or a list of them; got \(describe(value))")
            return []
        }
        var fields: [Field] = []
        for source in sources {
            if let more = mapping(source, field: "<<", expected: "an alias of a mapping") { fields += more }
        }
        return fields
    }

    /// Reports keys not in `allowed` and returns the known ones.
    mutating func known(_ fields: [Field], allowed: [String], in context: String) -> [Field] {
        fields.filter { field in
            if allowed.contains(field.key) { return true }
            fail(
                field.keyNode,
                "unknown key \(goQuoted(field.key)) \(context); allowed: \(allowed.joined(separator: ", "))")
            return false
        }
    }

    // MARK: Scalars

    enum Kind: Equatable {
        case null, bool, int, float, string
    }

    /// The YAML core-schema type of a scalar, judged on `text` (the value after `${…}` expansion) when it was written
    /// plain, so `latest: ${KEEP:-3}` is a number.
    func kind(of scalar: Node.Scalar, text: String) -> Kind {
        let raw = scalar.tag.rawValue
        let name = raw.isEmpty ? Resolver.default.resolveTag(of: Node(text)) : Tag.Name(rawValue: raw)
        switch name {
        case .null: return .null
        case .bool: return .bool
        case .int: return .int
        case .float: return .float
        default: return .string
        }
    }

    /// The text of a scalar with `${NAME}` / `${NAME:-default}` expanded; nil (after an error) when expansion fails.
    mutating func expanded(_ scalar: Node.Scalar, node: Node) -> String? {
        do {
            return try EnvironmentSubstitution.expand(scalar.string, environment: environment)
        } catch {
            switch error {
            case .unset(let name):
                fail(
                    node,
                    "environment variable \(name) is not set and has no default; set it, or write ${\(name):-default}")
            case .malformed:
                fail(
                    node,
                    "malformed variable reference; write ${NAME} or ${NAME:-default} (NAME: letters, digits, \"_\"), "
                        + "or \"$${\" for a literal \"${\"")
            }
        }
        return nil
    }

    /// A scalar's text, written as it is in the file (`3.20` stays `3.20`); any non-null scalar is accepted.
    mutating func string(
        _ node: Node, field: String, expected: String, item: Bool = false, reveal: Bool = true
    ) -> String? {
        guard case .scalar(let scalar) = node, kind(of: scalar, text: scalar.string) != .null else {
            wrongType(field, node, expected: expected, item: item, reveal: reveal)
            return nil
        }
        return expanded(scalar, node: node)
    }

    /// A non-empty string.
    mutating func nonEmptyString(_ node: Node, field: String, expected: String, reveal: Bool = true) -> String? {
        guard let text = string(node, field: field, expected: expected, reveal: reveal) else { return nil }
        guard !text.isEmpty else {
            wrongType(field, node, expected: expected, reveal: reveal)
            return nil
        }
        return text
    }

    /// `true` / `false` (YAML 1.1 spellings such as `yes` and `on` included).
    mutating func bool(_ node: Node, field: String) -> Bool? {
        guard case .scalar(let scalar) = node else {
            wrongType(field, node, expected: "true or false")
            return nil
        }
        guard let text = expanded(scalar, node: node) else { return nil }
        guard kind(of: scalar, text: text) == .bool else {
            wrongType(field, node, expected: "true or false")
            return nil
        }
        return ["true", "yes", "on"].contains(text.lowercased())
    }

    /// A whole number written in decimal.
    mutating func int(_ node: Node, field: String, expected: String) -> Int? {
        guard case .scalar(let scalar) = node else {
            wrongType(field, node, expected: expected)
            return nil
        }
        guard let text = expanded(scalar, node: node) else { return nil }
        guard kind(of: scalar, text: text) == .int, let value = Int(text, radix: 10) else {
            wrongType(field, node, expected: expected)
            return nil
        }
        return value
    }

    /// A list of scalar strings with their nodes; nil (after an error) when not a list.
    mutating func stringList(
        _ node: Node, field: String, expected: String, itemExpected: String
    ) -> [(String, Node)]? {
        guard case .sequence(let sequence) = node else {
            wrongType(field, node, expected: expected)
            return nil
        }
        var items: [(String, Node)] = []
        for entry in sequence {
            if let text = string(entry, field: field, expected: itemExpected, item: true) {
                items.append((text, entry))
            }
        }
        return items
    }

    /// True for a null scalar (an empty value such as `images:` with every entry commented out).
    func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node else { return false }
        return kind(of: scalar, text: scalar.string) == .null
    }
}
