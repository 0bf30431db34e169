import ArgumentParser
import OCIModel

extension FerryCommand {
    /// `ferry reference`: parse and normalise image references.
    ///
    /// Text mode prints one line per valid reference on stdout, `<full form><TAB><familiar form>`
    /// (`docker.io/library/alpine:3.20<TAB>alpine:3.20`), and one line per invalid one on stderr,
    /// `<input>: <error>`. `--json` prints exactly one JSON object per argument on stdout, in argument order:
    /// `{"input":…,"name":…,"domain":…,"path":…,"tag":…,"digest":…,"familiarName":…,"familiarString":…,`
    /// `"string":…}` with absent parts as `null` (an empty domain is absent), or `{"input":…,"error":…}`.
    /// Exit status 0 when every argument parsed, 65 otherwise.
    struct Reference: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and normalise image references.",
            discussion: """
                Prints the full and the familiar form of each reference (tab-separated), or with --json one \
                JSON object per reference. Errors use distribution/reference's texts. Exit status 65 when any \
                reference is invalid.
                """)

        /// Which distribution/reference entry point parses the arguments.
        enum Grammar: String, EnumerableFlag {
            /// `ParseNormalizedNamed`, what `docker pull` accepts.
            case normalized
            /// `Parse`: exactly as written, no default domain.
            case strict
            /// `ParseAnyReference`: also a bare image ID or a digest.
            case any

            static func help(for value: Grammar) -> ArgumentHelp? {
                switch value {
                case .normalized: "Normalise like docker pull."
                case .strict: "Parse exactly as written: no docker.io, no library/."
                case .any: "Also accept a digest or a 64-hex image ID."
                }
            }
        }

        @Flag(help: "Print one JSON object per reference.") var json = false
        @Flag var grammar: Grammar = .normalized
        // Captures dash-prefixed inputs such as `-foo` too, so that they are reported as invalid references
        // rather than as unknown options.
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp("References to parse.", valueName: "ref"))
        var references: [String] = []

        /// The references in argument order. `.allUnrecognized` also captures the `--` terminator, which is
        /// dropped once; it can never be a reference.
        var inputs: [String] {
            guard let terminator = references.firstIndex(of: "--") else { return references }
            var inputs = references
            inputs.remove(at: terminator)
            return inputs
        }

        func validate() throws {
            if inputs.isEmpty { throw ValidationError("Missing expected argument '<ref> ...'") }
        }

        func run() async throws {
            let status = run(output: Console.standardOutput.writeLine, errors: Console.standardError.writeLine)
            // Errors were already printed line by line; exit with the status only.
            if status != .ok { throw status.exitCode }
        }

        /// Parses every argument, writing results to `output` and text-mode errors to `errors`.
        func run(output: (String) -> Void, errors: (String) -> Void) -> ExitStatus {
            var failed = false
            for input in inputs {
                switch parse(input) {
                case .success(let reference):
                    let line = "\(reference.string)\t\(reference.familiarString)"
                    output(json ? Self.jsonLine(input: input, reference) : line)
                case .failure(let error):
                    failed = true
                    if json {
                        output(JSONLine().string("input", input).string("error", error.description).finish())
                    } else {
                        errors("\(input): \(error)")
                    }
                }
            }
            return failed ? .invalidInput : .ok
        }

        private func parse(_ input: String) -> Result<AnyReference, ReferenceError> {
            Result { () throws(ReferenceError) -> AnyReference in
                switch grammar {
                case .normalized: try .named(ImageReference(parsing: input))
                case .strict: try .named(ImageReference(parsingStrict: input))
                case .any: try AnyReference(parsing: input)
                }
            }
        }

        private static func jsonLine(input: String, _ reference: AnyReference) -> String {
            let named = reference.named
            return JSONLine()
                .string("input", input)
                .string("name", named?.name)
                .string("domain", named.flatMap { $0.domain.isEmpty ? nil : $0.domain })
                .string("path", named?.path)
                .string("tag", named?.tag)
                .string("digest", reference.digest?.description)
                .string("familiarName", named?.familiarName)
                .string("familiarString", reference.familiarString)
                .string("string", reference.string)
                .finish()
        }
    }
}

/// One JSON object on one line, keys in the order they are added; the fixed key order is part of the
/// `ferry reference --json` format, which `JSONEncoder` does not promise.
struct JSONLine {
    private var text = "{"
    private var isEmpty = true

    /// Adds `"key":value`, with `null` for nil.
    func string(_ key: String, _ value: String?) -> JSONLine {
        var copy = self
        if !copy.isEmpty { copy.text += "," }
        copy.isEmpty = false
        copy.text += Self.quoted(key) + ":" + (value.map(Self.quoted) ?? "null")
        return copy
    }

    /// The closed object.
    func finish() -> String { text + "}" }

    /// A JSON string literal; escapes what RFC 8259 requires and nothing else.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
