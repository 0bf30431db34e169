/// A position in a mirror list file: 1-based line and column (columns count Unicode scalars, as libyaml does).
///
/// Line 0 means the file (or folder) as a whole, for problems that have no better position.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The path as ferry names it: the `--config` path, joined with the file name for a folder.
    public let file: String
    /// 1-based line; 0 for the whole file.
    public let line: Int
    /// 1-based column; 0 for the whole file.
    public let column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `path:line:column`, or `path` for the whole file.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }

    /// Orders by file name, then line, then column.
    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem in a mirror list, at a file, line and column.
///
/// `problem` says what is wrong and what is allowed. It never contains a credential value: the mirror list cannot
/// hold one (inline secrets are refused by key, without echoing the value).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (see ``SourceLocation/file``).
    public let file: String
    /// 1-based line; 0 when the problem concerns the whole file or folder.
    public let line: Int
    /// 1-based column; 0 when the problem concerns the whole file or folder.
    public let column: Int
    /// What is wrong and what is allowed.
    public let problem: String

    /// Creates an error.
    public init(file: String, line: Int, column: Int, problem: String) {
        self.file = file
        self.line = line
        self.column = column
        self.problem = problem
    }

    /// Creates an error at `location`.
    public init(_ problem: String, at location: SourceLocation) {
        self.init(file: location.file, line: location.line, column: location.column, problem: problem)
    }

    /// Where the problem is.
    public var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    /// `path:line:column: problem` (`path: problem` for line 0).
    public var description: String { "\(location): \(problem)" }
}

/// Every problem found in a mirror list, in file order, then line and column.
public struct ConfigErrors: Error, Sendable, Equatable, CustomStringConvertible {
    /// The problems; never empty when thrown.
    public let errors: [ConfigError]

    /// Creates the aggregate.
    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// How many distinct files (or folders) have problems.
    public var fileCount: Int { Set(errors.map(\.file)).count }

    /// `N errors in M files`, with singular forms for 1.
    public var summary: String {
        "\(counted(errors.count, "error")) in \(counted(fileCount, "file"))"
    }

    /// One error per line, then the summary.
    public var description: String {
        (errors.map(\.description) + [summary]).joined(separator: "\n")
    }
}

/// `1 file`, `2 files`.
func counted(_ n: Int, _ noun: String) -> String {
    n == 1 ? "1 \(noun)" : "\(n) \(noun)s"
}
