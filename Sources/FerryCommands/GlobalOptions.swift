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

    /// The mirror list as given on the command line; nil means the default `manifests`.
    @Option(name: .long, help: ArgumentHelp("Mirror list: a folder of *.yaml files, or one file (default: manifests).", valueName: "path"))
    public var config: String?

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

    /// The mirror list path: `--config`, or `manifests`.
    public var configPath: String { config ?? "manifests" }

    /// Retries of idempotent requests before an endpoint counts as failed.
    @Option(name: .long, help: ArgumentHelp("Retries per request before an endpoint counts as failed.", valueName: "n"))
    public var retries: Int = 5

    /// First retry delay in seconds; doubles per retry, with jitter.
    @Option(name: .long, help: ArgumentHelp("First retry delay in seconds (doubles each retry).", valueName: "seconds"))
    public var retryDelay: Double = 0.5

    /// Validates option ranges.
    public func validate() throws {
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
        guard retryDelay >= 0 else { throw ValidationError("--retry-delay must be 0 or more") }
    }

    /// The log level these options ask for.
    public var logLevel: Logger.Level { verbose ? .debug : (quiet ? .error : .notice) }
}
