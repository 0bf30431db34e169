import ArgumentParser
import Foundation
import MirrorConfig

extension FerryCommand {
    /// `ferry validate`: load the mirror list, print the plan or every error.
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the mirror list and print the plan (no network).",
            discussion: """
                Prints a summary line, the fingerprint, then one line per registry, target and image, and exits 0. \
                With --quiet, only the summary line. On problems, prints each as path:line:column: problem on stderr, \
                then "N errors in M files", and exits 65.
                """)

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            // The composition root: only here is the process environment read.
            let status = run(output: .console, environment: ProcessInfo.processInfo.environment)
            if status != .ok { throw status.exitCode }
        }

        /// Loads `--config`, writes the plan or the errors to `output`, and returns the exit status.
        func run(output: CommandOutput, environment: [String: String]) -> ExitStatus {
            do {
                let list = try MirrorList.load(from: global.configPath, environment: environment)
                let lines = list.planLines
                for line in global.quiet ? Array(lines.prefix(1)) : lines {
                    output.standardOutput.writeLine(line)
                }
                return .ok
            } catch {
                for problem in error.errors {
                    output.standardError.writeLine(problem.description)
                }
                output.standardError.writeLine(error.summary)
                return .invalidInput
            }
        }
    }
}
