import ArgumentParser
import Foundation
import Logging

/// How log events are written to stderr.
public enum LogFormat: String, ExpressibleByArgument, Sendable, CaseIterable {
    /// Human-readable lines.
    case text
    /// One JSON object per event, for log shippers.
    case json
}

/// Options every subcommand accepts; parsed here and nowhere else.
public struct GlobalOptions: ParsableArguments, Sendable {
    /// The store directory.
    @Option(name: .long, help: ArgumentHelp("The store directory.", valueName: "dir"))
    public var store: String = "ferry-store"

    /// The mirror list: a folder of *.yaml/*.yml files or one file.
    @Option(name: .long, help: ArgumentHelp("Mirror list: a folder of *.yaml files, or one file.", valueName: "path"))
    public var config: String = "manifests"

    /// Print only errors and the final summary.
    @Flag(name: .long, help: "Print only errors and the summary.")
    public var quiet = false

    /// Log more detail (debug level).
    @Flag(name: .long, help: "Log debug detail to stderr.")
    public var verbose = false

    /// Log format on stderr.
    @Option(name: .long, help: ArgumentHelp("Log format on stderr: text or json.", valueName: "format"))
    public var logFormat: LogFormat = .text

    /// Creates default options.
    public init() {}

    /// The log level these options ask for.
    public var logLevel: Logger.Level { verbose ? .debug : (quiet ? .error : .notice) }
}
