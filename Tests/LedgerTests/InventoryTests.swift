import Foundation
import OCIModel
import Testing

@testable import Ledger

@Suite struct InventoryTests {
    @Test func inventoryListsRepositoriesTagsDigestsAndDrift() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), at: at(1))
        try await harness.record("alpine:3.20", image("B", id: "config B", servedBy: upstream), at: at(2))
        try await harness.record("alpine:3.21", image("A", id: "config X"), at: at(3))
        let amd64 = try Platform(parsing: "linux/amd64")
        try await harness.record(
            "quay.io/prometheus/node-exporter:v1.8.2",
            ResolvedManifest(
                digest: digest("index"), mediaType: .ociIndex, imageID: nil,
                platforms: [
                    PlatformManifest(
                        platform: amd64, digest: digest("child"), mediaType: .ociManifest, imageID: digest("config c"))
                ],
                servedBy: "https://quay.io"),
            at: at(4))
        try await harness.fail("ghcr.io/example/missing:v1", error: "manifest unknown")

        let inventory = try await harness.store.inventory()
        #expect(inventory.schemaVersion == ReferenceStore.schemaVersion)
        #expect(
            inventory.repositories.map(\.repository) == [
                "docker.io/library/alpine", "quay.io/prometheus/node-exporter",
            ])

        let alpine = inventory.repositories[0]
        #expect(alpine.firstSeen == at(1))
        #expect(alpine.tags.map(\.tag) == ["3.20", "3.21"])
        #expect(alpine.tags[0].manifestDigest == digest("B"))
        #expect(alpine.tags[0].servedBy == upstream)
        #expect(alpine.tags[0].firstSeen == at(1))
        #expect(alpine.tags[0].lastSeen == at(2))
        #expect(alpine.tags[0].lastRunID == harness.run)
        #expect(alpine.tagHistory.map(\.tag) == ["3.20", "3.20", "3.21"])
        #expect(alpine.tagHistory.map(\.manifestDigest) == [digest("A"), digest("B"), digest("A")])
        #expect(Set(alpine.digests.map(\.digest)) == [digest("A"), digest("B")])
        #expect(alpine.digests.first { $0.digest == digest("A") }?.imageID == digest("config A"))
        #expect(alpine.digests.allSatisfy { $0.firstRunID == harness.run })

        let exporter = inventory.repositories[1]
        #expect(exporter.tags.map(\.tag) == ["v1.8.2"])
        #expect(exporter.digests.count == 2)
        #expect(exporter.digests.first { $0.digest == digest("index") }?.platform == amd64)
        #expect(exporter.digests.first { $0.digest == digest("child") }?.platform == nil)

        #expect(inventory.driftHistory.map(\.kind) == [.imageIDDrift])
        #expect(inventory.driftHistory.first?.reference == "docker.io/library/alpine:3.21")
    }

    @Test func recordsEncodeWithStableNames() async throws {
        let harness = try await Harness()
        try await harness.record("alpine:3.20", image("A", id: "config A"), immutable: true)
        try await harness.record("alpine:3.20", image("B", id: "config B"), immutable: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let events = String(
            decoding: try encoder.encode(try await harness.store.driftEvents(run: harness.run)), as: UTF8.self)
        #expect(events.contains(#""kind":"tag-moved""#))
        #expect(events.contains(#""oldValue":"\#(digest("A"))""#))
        #expect(events.contains(#""occurredAt":"2026-11-29T10:30:01Z""#))
        let observations = String(
            decoding: try encoder.encode(try await harness.store.observations(run: harness.run)), as: UTF8.self)
        #expect(observations.contains(#""outcome":"drift""#))
        #expect(observations.contains(#""runID":"\#(harness.run)""#))
        let inventory = try await harness.store.inventory()
        #expect(try JSONDecoder().decode(Inventory.self, from: try JSONEncoder().encode(inventory)) == inventory)
    }
}
