/// Something that takes whole lines of output.
public protocol LineSink: Sendable {
    /// Writes `text` followed by a newline.
    func writeLine(_ text: String)
}

extension Console: LineSink {}

/// Where a command writes: the process's stdout and stderr when run for real, memory in tests.
public struct CommandOutput: Sendable {
    /// Results (the plan, reports).
    public let standardOutput: any LineSink
    /// Errors and summaries of failures.
    public let standardError: any LineSink

    /// Creates an output from two sinks.
    public init(standardOutput: any LineSink, standardError: any LineSink) {
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// The process's stdout and stderr.
    public static let console = CommandOutput(
        standardOutput: Console.standardOutput, standardError: Console.standardError)
}
