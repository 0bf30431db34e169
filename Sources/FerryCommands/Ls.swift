import ArgumentParser
import FerryReports
import Foundation
import Ledger

extension FerryCommand {
    /// `ferry ls`: what the store holds.
    struct Ls: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List what the store holds.",
            discussion: """
                One line per stored reference: every tag, and every digest no tag points to any more, with its \
                digest and image ID (12 hex digits), when it was last seen and the endpoint it came from; then a \
                summary with the size of blobs/. --json prints the same as one JSON document. Exit status 74 \
                when DIR holds no ferry store or it cannot be read.
                """)

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print one JSON document instead of text.")
        var json = false

        func run() async throws {
            let status = await run(output: .console)
            if status != .ok { throw status.exitCode }
        }

        /// Lists the store to `output`'s stdout (errors to its stderr) and returns the exit status.
        func run(output: CommandOutput) async -> ExitStatus {
            do {
                let store = try StoreAccess.openExisting(global.store)
                defer { try? store.close() }
                // Read one repository at a time, twice (widths, then lines): a big store is never one listing.
                let sink = TextReportOutput(output.standardOutput)
                try StoreListing.write(
                    from: store, blobs: try BlobUsage.measure(global.store + "/blobs"), json: json,
                    footer: !global.quiet, to: sink)
                sink.finish()
                return .ok
            } catch let failure as CommandFailure {
                output.standardError.writeLine("Error: \(failure.message)")
                return failure.status
            } catch {
                output.standardError.writeLine("Error: \(error)")
                return .ioError
            }
        }
    }
}
