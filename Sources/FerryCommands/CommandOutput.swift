/// Something that takes whole lines of output.
public protocol LineSink: Sendable {
    /// Writes `text` followed by a newline.
    func writeLine(_ text: String)
}

/// A text stream a command writes to: whole lines or raw text (live progress), and whether a person watches it.
/// ``Console`` is the process's stdout or stderr; tests pass a sink that keeps the text in memory.
public protocol TextOutput: LineSink {
    /// Writes `text` as is.
    func write(_ text: String)
    /// True when the stream is a terminal (live progress is drawn only then).
    var isTerminal: Bool { get }
}

extension Console: TextOutput {}

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
