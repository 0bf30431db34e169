import FerryFuzz
import FerryTestSupport
import Testing

/// Seeded mutation fuzzing of the parsers that read what registries and mirror lists send: a bounded number of
/// iterations here (`FERRY_FUZZ_ITERATIONS`, `FERRY_FUZZ_SEED`), many more from `scripts/fuzz.sh`. A crash fails the
/// whole run; a broken property is reported with the input in base64, to become a regression case.
@Suite struct ParserFuzzTests {
    @Test func manifestAndIndexDecoder() {
        expectClean(FuzzCampaign.run(FuzzTargets.manifest()))
    }

    @Test func wwwAuthenticateParser() {
        expectClean(FuzzCampaign.run(FuzzTargets.challenge()))
    }

    @Test func linkHeaderParser() {
        expectClean(FuzzCampaign.run(FuzzTargets.link()))
    }

    @Test func registryErrorBodies() {
        expectClean(FuzzCampaign.run(FuzzTargets.errorBody()))
    }

    @Test func referenceGrammar() {
        expectClean(FuzzCampaign.run(FuzzTargets.reference()))
    }

    @Test func mirrorListLoader() throws {
        expectClean(FuzzCampaign.run(try FuzzTargets.mirrorList()))
    }
}

/// No property broken, and the mutants reached acceptance at least once (a target that refuses everything tests
/// only its first check).
func expectClean(_ report: FuzzReport, sourceLocation: SourceLocation = #_sourceLocation) {
    for finding in report.findings.prefix(3) { Issue.record("\(finding)", sourceLocation: sourceLocation) }
    #expect(report.findings.count == 0, "\(report)", sourceLocation: sourceLocation)
    #expect(report.accepted > 0, "\(report)", sourceLocation: sourceLocation)
}
