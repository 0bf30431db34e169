import Foundation

/// A JSON document as a tree; decoding keeps booleans and numbers apart, which JSONSerialization does not.
public enum JSONValue: Decodable, Equatable, Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number without fraction or exponent that fits 64 bits.
    case integer(Int64)
    /// Any other number.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses a UTF-8 JSON document.
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }
    /// Parses a JSON document.
    public static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    /// The member `key` of an object; nil for a missing member or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// The text of a string; nil for any other value.
    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The elements of an array; nil for any other value.
    public var elements: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The JSON Schema type name of the value (`integer` for whole numbers).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer: "integer"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// Validates JSON against the subset of JSON Schema 2020-12 that ferry's report schemas use: `type`, `enum`,
/// `const`, `required`, `properties`, `additionalProperties`, `items`, `$ref` to `#/$defs/…`, `pattern` and
/// `minimum`. Any other assertion keyword makes it fail loudly, so a schema never silently relies on a keyword
/// this validator ignores.
public struct SchemaValidator: Sendable {
    /// The schema document.
    public let root: JSONValue

    /// A validator for the schema `root`.
    public init(root: JSONValue) { self.root = root }

    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "format", "$defs"]
    static let assertions: Set<String> = [
        "type", "enum", "const", "required", "properties", "additionalProperties", "items", "$ref", "pattern",
        "minimum",
    ]

    /// The schema uses a keyword this validator does not implement.
    public struct UnsupportedKeyword: Error, CustomStringConvertible {
        /// The keyword.
        public var keyword: String
        /// Where in the schema.
        public var path: String
        /// `schema uses unsupported keyword K at PATH`.
        public var description: String { "schema uses unsupported keyword \(keyword) at \(path)" }
    }

    /// Every violation, as `path: problem`; empty when the instance is valid.
    public func validate(_ instance: JSONValue) throws -> [String] {
        var problems: [String] = []
        try check(instance, against: root, path: "$", into: &problems)
        return problems
    }

    private func check(_ instance: JSONValue, against schema: JSONValue, path: String, into problems: inout [String])
        throws
    {
        guard case .object(let keywords) = schema else {
            problems.append("\(path): schema is not an object")
            return
        }
        for key in keywords.keys where !Self.annotations.contains(key) && !Self.assertions.contains(key) {
            throw UnsupportedKeyword(keyword: key, path: path)
        }
        if case .string(let reference)? = keywords["$ref"] {
            let prefix = "#/$defs/"
            guard reference.hasPrefix(prefix), let target = root["$defs"]?[String(reference.dropFirst(prefix.count))]
            else {
                problems.append("\(path): unresolvable $ref \(reference)")
                return
            }
            try check(instance, against: target, path: path, into: &problems)
        }
        if let type = keywords["type"] {
            let allowed: [String]
            switch type {
            case .string(let name): allowed = [name]
            case .array(let names): allowed = names.compactMap { if case .string(let n) = $0 { n } else { nil } }
            default: allowed = []
            }
            let actual = instance.typeName
            let matches = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !matches {
                problems.append("\(path): expected \(allowed.joined(separator: " or ")), found \(actual)")
                return
            }
        }
        if case .array(let values)? = keywords["enum"], !values.contains(instance) {
            problems.append("\(path): \(describe(instance)) is not one of the allowed values")
        }
        if let constant = keywords["const"], constant != instance {
            problems.append("\(path): \(describe(instance)) is not \(describe(constant))")
        }
        if case .string(let pattern)? = keywords["pattern"], case .string(let text) = instance {
            let regex = try Regex(pattern)
            if (try regex.firstMatch(in: text)) == nil {
                problems.append("\(path): \"\(text)\" does not match \(pattern)")
            }
        }
        if let minimum = keywords["minimum"] {
            let limit: Double? =
                switch minimum {
                case .integer(let value): Double(value)
                case .number(let value): value
                default: nil
                }
            let value: Double? =
                switch instance {
                case .integer(let value): Double(value)
                case .number(let value): value
                default: nil
                }
            if let limit, let value, value < limit { problems.append("\(path): \(value) is below \(limit)") }
        }
        if case .object(let members) = instance {
            if case .array(let required)? = keywords["required"] {
                for case .string(let name) in required where members[name] == nil {
                    problems.append("\(path): missing required \(name)")
                }
            }
            var properties: [String: JSONValue] = [:]
            if case .object(let declared)? = keywords["properties"] { properties = declared }
            for (name, value) in members.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    try check(value, against: property, path: "\(path).\(name)", into: &problems)
                } else if let additional = keywords["additionalProperties"] {
                    switch additional {
                    case .bool(false): problems.append("\(path): undocumented property \(name)")
                    case .bool(true): break
                    default: try check(value, against: additional, path: "\(path).\(name)", into: &problems)
                    }
                }
            }
        }
        if case .array(let elements) = instance, let items = keywords["items"] {
            for (index, element) in elements.enumerated() {
                try check(element, against: items, path: "\(path)[\(index)]", into: &problems)
            }
        }
    }

    private func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): "\"\(text)\""
        case .integer(let number): String(number)
        case .number(let number): String(number)
        case .bool(let flag): String(flag)
        case .null: "null"
        case .array, .object: value.typeName
        }
    }
}
