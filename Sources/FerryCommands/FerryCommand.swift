import ArgumentParser
import Foundation

/// The `ferry` root command: parses argv once and dispatches to a subcommand.
public struct FerryCommand: AsyncParsableCommand {
    /// ferry's version, also sent as `User-Agent: ferry/<version>`.
    public static let version = "0.1.0"

    /// Subcommands and help text.
    public static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Mirror container images into a verified local store, flag drift, push and bundle them.",
        discussion: """
            Exit status: 0 ok · 1 some references failed · 2 drift flagged · 3 failures and drift · \
            64 usage · 65 invalid mirror list or reference · 74 store or I/O error · 75 store locked · \
            130/143 interrupted.
            """,
        version: version,
        subcommands: [
            Validate.self,
            Reference.self,
            Pull.self,
            Sync.self,
            Plan.self,
            Merge.self,
            Push.self,
            Verify.self,
            Prune.self,
            Ls.self,
            Report.self,
            Export.self,
            Import.self,
        ]
    )

    /// Creates the root command (ArgumentParser requirement).
    public init() {}

    /// Runs `ferry` with `arguments` (argv without the program name), mapping errors to exit statuses:
    /// a ``CommandFailure`` prints its message and exits with its status; usage errors exit 64.
    public static func main(arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            Console.standardError.writeLine("Error: \(failure.message)")
            Foundation.exit(failure.status.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}
