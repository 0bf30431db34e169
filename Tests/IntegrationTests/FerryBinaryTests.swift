import FerryTestSupport
import Testing

@testable import FerryCommands

/// The subprocess tests run the `ferry` binary built next to the test bundle.
@Suite struct FerryBinaryTests {
    @Test func theBuiltBinaryIsFoundNextToTheTests() async throws {
        let path = try PackageProduct.path(of: "ferry")
        let result = try await ProcessRunner.runChecked(path, ["--version"])
        #expect(result.stdoutText == FerryCommand.version + "\n")
    }

    @Test func aMissingProductFailsNamingWhereItLooked() {
        #expect {
            _ = try PackageProduct.path(of: "no-such-product")
        } throws: { error in
            guard case TestSupportError.productNotBuilt(let name, let searched) = error else { return false }
            return name == "no-such-product" && !searched.isEmpty
                && searched.allSatisfy { $0.hasPrefix("/") && $0.hasSuffix("/no-such-product") }
                && "\(error)".hasPrefix("no-such-product binary not found next to the test bundle (looked at /")
        }
    }
}
