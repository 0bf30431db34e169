import FerryTestSupport
import Testing

/// The bundle tar reader under seeded mutation, like the parsers in `Tests/FuzzTests`.
@Suite struct TarFuzzTests {
    @Test func tarReader() throws {
        let directory = try TemporaryDirectory(prefix: "ferry-fuzz-tar")
        let path = directory.appending("stream.tar")
        let report = FuzzCampaign.run(try TarFuzzTarget.make { bytes in try readEntries(bytes, at: path) })
        for finding in report.findings.prefix(3) { Issue.record("\(finding)") }
        #expect(report.findings.count == 0, "\(report)")
        #expect(report.accepted > 0, "\(report)")
    }
}
