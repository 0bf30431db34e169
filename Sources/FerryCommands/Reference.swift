import ArgumentParser

extension FerryCommand {
    /// `ferry reference`: parse and normalise image references.
    struct Reference: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse and normalise image references.")

        @Argument(help: "References to parse.") var references: [String] = []
        @Flag(help: "Print one JSON object per reference.") var json = false

        func run() async throws {
            throw CommandFailure("reference: not implemented yet", status: .invalidInput)
        }
    }
}
