import FerryTestSupport
import Foundation
@testable import Ledger
import OCIModel
import Testing

@testable import FerryReports

@Suite struct JSONReportTests {
    private func runSchema() throws -> SchemaValidator {
        SchemaValidator(root: try JSONValue.parse(ReportSchema.runReportV2))
    }
    private func inventorySchema() throws -> SchemaValidator {
        SchemaValidator(root: try JSONValue.parse(ReportSchema.inventoryReportV1))
    }

    @Test func runReportsValidateAgainstTheSchema() async throws {
        let fixture = try await LedgerFixture.make()
        let schema = try runSchema()
        for report in [try await fixture.firstReport(), try await fixture.secondReport()] {
            let problems = try schema.validate(try JSONValue.parse(try ReportJSON.encode(report)))
            #expect(problems == [], "run \(report.run.id)")
        }
        // A running run has no end, exit status or duration; a report with targets has target rows.
        let id = try runID("20261129T103000Z-00aa")
        let running = RunReport(
            run: runRecord(id, status: .running, exit: nil, finished: nil),
            observations: [observationRecord(id: 1, run: id, reference: "a.io/x:1", outcome: .pulled)],
            driftEvents: [],
            targets: [
                TargetResult(
                    reference: "a.io/x:1", target: "t", destination: "r.io/a.io/x:1", outcome: .failed,
                    error: "denied"),
                TargetResult(
                    reference: "b.io/y:2", target: "t", destination: "r.io/b.io/y:2", outcome: .pushed,
                    digest: digest("y"), bytesUploaded: 12),
            ])
        #expect(running.pushes.count == 1)
        #expect(try schema.validate(try JSONValue.parse(try ReportJSON.encode(running))) == [])
    }

    @Test func inventoryReportsValidateAgainstTheSchema() async throws {
        let inventory = try await LedgerFixture.make().inventory()
        let problems = try inventorySchema().validate(try JSONValue.parse(try ReportJSON.encode(inventory)))
        #expect(problems == [])
        let empty = InventoryReport(Inventory(schemaVersion: 1, repositories: [], driftHistory: []), generatedAt: at(0))
        #expect(try inventorySchema().validate(try JSONValue.parse(try ReportJSON.encode(empty))) == [])
    }

    @Test func theValidatorRejectsWhatTheSchemaForbids() async throws {
        let schema = try runSchema()
        let report = try await LedgerFixture.make().secondReport()
        guard case .object(var document) = try JSONValue.parse(try ReportJSON.encode(report)),
            case .array(var images)? = document["images"], case .object(var row) = images[0]
        else {
            Issue.record("report is not an object with images")
            return
        }
        row["outcome"] = .string("exploded")
        row["surprise"] = .bool(true)
        row["digest"] = .string("not a digest")
        row["bytesTransferred"] = .integer(-1)
        row.removeValue(forKey: "observedAt")
        images[0] = .object(row)
        document["images"] = .array(images)
        document["schemaVersion"] = .integer(3)
        let problems = try schema.validate(.object(document))
        #expect(problems.contains { $0.hasPrefix("$.images[0].outcome:") })
        #expect(problems.contains("$.images[0]: undocumented property surprise"))
        #expect(problems.contains { $0.hasPrefix("$.images[0].digest: \"not a digest\" does not match") })
        #expect(problems.contains("$.images[0].bytesTransferred: -1.0 is below 0.0"))
        #expect(problems.contains("$.images[0]: missing required observedAt"))
        #expect(problems.contains("$.schemaVersion: 3 is not 2"))
        #expect(problems.count == 6)
    }

    @Test func everySchemaPropertyIsDocumented() throws {
        // A property is documented by its own description or by the definition its $ref names.
        for (name, text) in [
            ("run", ReportSchema.runReportV2), ("inventory", ReportSchema.inventoryReportV1),
            ("changes", ReportSchema.changesReportV1),
        ] {
            var undocumented: [String] = []
            func walk(_ value: JSONValue, path: String) {
                guard case .object(let members) = value else { return }
                if case .object(let properties)? = members["properties"] {
                    for (key, property) in properties {
                        let described = property["description"] != nil
                        let isShared = property["$ref"] != nil
                        if !described && !isShared {
                            undocumented.append("\(path).\(key)")
                        }
                        walk(property, path: "\(path).\(key)")
                    }
                }
                if let items = members["items"] { walk(items, path: path + "[]") }
                if case .object(let definitions)? = members["$defs"] {
                    for (key, definition) in definitions {
                        if definition["description"] == nil { undocumented.append("$defs.\(key)") }
                        walk(definition, path: "$defs.\(key)")
                    }
                }
            }
            walk(try JSONValue.parse(text), path: name)
            #expect(undocumented.sorted() == [], "\(name) schema")
        }
    }

    @Test func roundTripsThroughJSON() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await fixture.secondReport()
        let bytes = try ReportJSON.encode(report)
        let decoded = try ReportJSON.decodeRunReport(bytes)
        #expect(decoded == report)
        #expect(try ReportJSON.encode(decoded) == bytes)
        let inventory = try await fixture.inventory()
        #expect(try ReportJSON.decodeInventoryReport(try ReportJSON.encode(inventory)) == inventory)
    }

    @Test func writesSortedKeysISODatesAndDigestStrings() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let json = text(try ReportJSON.encode(report))
        #expect(json.hasPrefix("{\n  \"$schema\" : \"https://ferry.dev/schemas/run-report/v2.json\",\n"))
        #expect(json.contains("\"startedAt\" : \"2026-11-29T11:30:00.000Z\""))
        #expect(json.contains("\"finishedAt\" : \"2026-11-29T11:31:02.500Z\""))
        #expect(json.contains("\"imageID\" : \"\(digest("config X"))\""))
        #expect(json.contains("\"outcome\" : \"up-to-date\""))
        #expect(json.hasSuffix("}\n"))
        // Absent optionals are omitted, never null.
        #expect(!json.contains("null"))
        let keys = json.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map {
            String($0.dropFirst(3).prefix { $0 != "\"" })
        }
        #expect(keys == ["$schema", "counts", "driftEvents", "images", "pushes", "run", "schemaVersion"])
    }

    @Test func refusesAnotherSchemaVersion() async throws {
        let report = try await LedgerFixture.make().secondReport()
        let bumped = text(try ReportJSON.encode(report)).replacing(
            "\"schemaVersion\" : 2", with: "\"schemaVersion\" : 3")
        #expect(throws: ReportError.json(what: "run report", reason: "schema version 3 is not 2")) {
            try ReportJSON.decodeRunReport(Array(bumped.utf8))
        }
    }

    @Test func neverContainsCredentials() async throws {
        let fixture = try await LedgerFixture.make()
        let report = try await fixture.secondReport()
        let inventory = try await fixture.inventory()
        for format in ReportFormat.allCases {
            #expect(!text(try format.render(report)).contains("hunter2"), "\(format)")
            #expect(!text(try format.render(inventory)).contains("hunter2"), "\(format)")
        }
        #expect(!PrometheusMetrics.render(report, history: MetricsHistory()).contains("hunter2"))
    }
}
