import FerryTestSupport
import Testing

@testable import FerryBundle

/// Inputs that crashed the tar reader, each with the exact error it must give now.
@Suite struct TarRegressionTests {
    /// A pax record length near Int.max after a first record: `index + length` trapped with an arithmetic
    /// overflow (found reading the parser for its fuzz target; the mutation fuzzer then reached it too).
    @Test(arguments: [
        "6 a=b\n9223372036854775807 x=y\n", "6 a=b\n9223372036854775800 x=y\n", "9223372036854775807 x=y\n",
        "6 a=b\n18446744073709551616 x=y\n",
    ])
    func paxRecordLengthsNearIntMaxAreRefused(records: String) {
        #expect(throws: BundleError.invalidTarHeader(offset: 512, reason: "malformed pax extended header")) {
            try Tar.parsePax(Array(records.utf8), offset: 512)
        }
    }

    @Test func theReaderRefusesSuchAPaxHeaderAtItsOffset() throws {
        let directory = try TemporaryDirectory()
        let records = Array("6 a=b\n9223372036854775807 x=y\n".utf8)
        var stream = Tar.ustarHeader(
            name: Array("PaxHeaders/f".utf8), flag: 0x78, size: Int64(records.count), mode: 0o644, modificationTime: 0,
            link: [])
        stream += records + [UInt8](repeating: 0, count: Tar.padding(after: Int64(records.count)))
        stream += Tar.headerBytes(for: TarEntryHeader(path: "f", type: .regular, size: 0, mode: 0o644, modificationTime: 0))
        stream += TarFormat.endOfArchive
        #expect(throws: BundleError.invalidTarHeader(offset: 0, reason: "malformed pax extended header")) {
            try readEntries(stream, in: directory)
        }
    }
}
