import ArgumentParser

extension FerryCommand {
    /// `ferry validate`: load the mirror list, print the plan or every error.
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the mirror list and print the plan (no network).")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            throw CommandFailure("validate: not implemented yet", status: .invalidInput)
        }
    }
}
