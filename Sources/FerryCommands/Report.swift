import ArgumentParser
import FerryReports
import FerrySystem
import Foundation
import Ledger

extension FerryCommand {
    /// `ferry report`: re-render a past run's report, or the store's inventory, to stdout.
    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a run's report, the whole store's inventory, or what changed since a run.",
            discussion: """
                Renders from the reference store (DIR/ferry.db), so any past run can be re-rendered: by default \
                the latest run, as Markdown. --inventory lists every repository, tag and digest with its image \
                ID, first and last seen, where it came from, its tag history and the drift history, for \
                auditors. --since RUN lists what changed after that run: tags added, tags moved (every digest in \
                between, the run that saw it and where it came from), drift events, and the runs since. \
                --schema prints the JSON Schema of the chosen report instead. Exit status 65 when --run or \
                --since names no run or the store has no run yet; 74 when DIR holds no ferry store or it cannot \
                be read.
                """)

        /// A report format as the command line spells it.
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case json, md, html

            var reportFormat: ReportFormat {
                switch self {
                case .json: .json
                case .md: .markdown
                case .html: .html
                }
            }
        }

        @OptionGroup var global: GlobalOptions

        @Option(
            name: .customLong("run"), help: ArgumentHelp("The run to report (default: the latest).", valueName: "id"))
        var runID: String?

        @Flag(help: "Report the whole store's inventory instead of one run.")
        var inventory = false

        @Option(help: ArgumentHelp("Report what changed after this run instead of one run.", valueName: "id"))
        var since: String?

        @Option(help: ArgumentHelp("Output format: json, md or html.", valueName: "format"))
        var format: Format = .md

        @Flag(help: "Print the JSON Schema of the chosen report (run, --inventory or --since).")
        var schema = false

        func validate() throws {
            let chosen = [runID.map { _ in "--run" }, inventory ? "--inventory" : nil, since.map { _ in "--since" }]
                .compactMap { $0 }
            if chosen.count > 1 {
                let list = chosen.dropLast().joined(separator: ", ") + " and " + chosen[chosen.count - 1]
                throw ValidationError("\(list) cannot be used together")
            }
        }

        func run() async throws {
            let status = await run(output: .console)
            if status != .ok { throw status.exitCode }
        }

        /// Renders the requested report to `output`'s stdout (errors to its stderr) and returns the exit status.
        func run(output: CommandOutput, now: Date = Date()) async -> ExitStatus {
            if schema {
                output.standardOutput.writeLine(
                    inventory
                        ? ReportSchema.inventoryReportV1
                        : since != nil ? ReportSchema.changesReportV1 : ReportSchema.runReportV2)
                return .ok
            }
            do {
                let store = try StoreAccess.openExisting(global.store)
                defer { try? store.close() }
                if !inventory, since == nil {
                    // A run report streams: a run of 20,000 references never sits in memory as one text.
                    let id = try await runToReport(in: store)
                    let sink = TextReportOutput(output.standardOutput)
                    guard
                        try await RunReport.render(
                            run: id, from: store, format: format.reportFormat, to: sink,
                            scratchDirectory: FileSystem.temporaryBase)
                    else {
                        throw try await unknownRun(runID ?? id.rawValue, in: store, why: "is not in \(store.path)")
                    }
                    sink.finish()
                    return .ok
                }
                if inventory {
                    let sink = TextReportOutput(output.standardOutput)
                    try await InventoryReport.render(
                        from: store, format: format.reportFormat, to: sink, now: now,
                        scratchDirectory: FileSystem.temporaryBase)
                    sink.finish()
                    return .ok
                }
                let bytes = try await render(from: store, now: now)
                // The renderers end with a line feed; writeLine adds it back.
                var text = String(decoding: bytes, as: UTF8.self)
                if text.hasSuffix("\n") { text.removeLast() }
                output.standardOutput.writeLine(text)
                return .ok
            } catch let failure as CommandFailure {
                output.standardError.writeLine("Error: \(failure.message)")
                return failure.status
            } catch {
                output.standardError.writeLine("Error: \(error)")
                return .ioError
            }
        }

        private func render(from store: ReferenceStore, now: Date) async throws -> [UInt8] {
            if let since {
                guard let id = RunID(rawValue: since) else {
                    throw try await unknownRun(since, in: store, why: "is not a run ID (yyyyMMddTHHmmssZ-xxxx)")
                }
                guard let report = try await ChangesReport.load(since: id, from: store, now: now) else {
                    throw try await unknownRun(since, in: store, why: "is not in \(store.path)")
                }
                return try format.reportFormat.render(report)
            }
            let id = try await runToReport(in: store)
            guard let report = try await RunReport.load(run: id, from: store) else {
                throw try await unknownRun(runID ?? id.rawValue, in: store, why: "is not in \(store.path)")
            }
            return try format.reportFormat.render(report)
        }

        /// The run `--run` names, or the latest.
        private func runToReport(in store: ReferenceStore) async throws -> RunID {
            let id: RunID
            if let runID {
                guard let parsed = RunID(rawValue: runID) else {
                    throw try await unknownRun(runID, in: store, why: "is not a run ID (yyyyMMddTHHmmssZ-xxxx)")
                }
                id = parsed
            } else {
                guard let latest = try await store.latestRun() else {
                    throw CommandFailure(
                        "no runs recorded in \(store.path) yet: run ferry sync or ferry pull first",
                        status: .invalidInput)
                }
                id = latest.id
            }
            return id
        }

        private func unknownRun(_ text: String, in store: ReferenceStore, why: String) async throws -> CommandFailure {
            let recent = try await store.runs(limit: 5).map(\.id.rawValue)
            let hint =
                recent.isEmpty ? "the store has no runs yet" : "the most recent: " + recent.joined(separator: ", ")
            return CommandFailure("run \"\(text)\" \(why); \(hint)", status: .invalidInput)
        }
    }
}

/// A report written straight to a command's output: as is to a text stream, line by line to a line sink.
final class TextReportOutput: ReportOutput {
    private let sink: any LineSink
    private var partial = ""

    init(_ sink: any LineSink) { self.sink = sink }

    func write(_ text: String) {
        if let stream = sink as? any TextOutput {
            stream.write(text)
            return
        }
        partial += text
        guard let last = partial.lastIndex(of: "\n") else { return }
        for line in partial[..<last].split(separator: "\n", omittingEmptySubsequences: false) {
            sink.writeLine(String(line))
        }
        partial = String(partial[partial.index(after: last)...])
    }

    func write(bytes: [UInt8]) { write(String(decoding: bytes, as: UTF8.self)) }

    /// Writes what is left; renderers end with a line feed, which writeLine adds back.
    func finish() {
        if partial.hasSuffix("\n") { partial.removeLast() }
        if !partial.isEmpty { sink.writeLine(partial) }
        partial = ""
    }
}
