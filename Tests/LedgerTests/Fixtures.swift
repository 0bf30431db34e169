import Foundation
import OCIModel
import Testing

@testable import Ledger

/// A stable digest named after `label`, so tests read as "manifest A", "config A2".
func digest(_ label: String) -> Digest { Digest.sha256(of: Array(label.utf8)) }

/// Parses a reference the way the mirror list does.
func ref(_ text: String) throws -> ImageReference { try ImageReference(parsing: text) }

/// 2026-11-29T10:30:00Z plus `seconds`.
func at(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: 1_795_948_200 + seconds) }

let mirror = "https://mirror.example.internal"
let upstream = "https://registry-1.docker.io"

/// An image manifest served by `servedBy`.
func image(_ manifest: String, id: String, servedBy: String = mirror, upstreamSaid: UpstreamCheck? = nil)
    -> ResolvedManifest
{
    ResolvedManifest(
        digest: digest(manifest), mediaType: .ociManifest, imageID: digest(id), servedBy: servedBy,
        upstream: upstreamSaid)
}

/// An in-memory store with one open run, and shorthands for recording into it.
struct Harness {
    let store: ReferenceStore
    let run: RunID

    init(store: ReferenceStore? = nil, startedAt: Date = at(0), dryRun: Bool = false) async throws {
        self.store = try store ?? ReferenceStore.inMemory()
        self.run = try await self.store.beginRun(RunStart(startedAt: startedAt, command: "sync", dryRun: dryRun))
    }

    @discardableResult
    func record(
        _ reference: String, _ manifest: ResolvedManifest, at time: Date = at(1), immutable: Bool = false,
        dryRun: Bool = false
    ) async throws -> RecordResult {
        try await store.record(
            Observation(
                runID: run, reference: try ref(reference), immutable: immutable, dryRun: dryRun, observedAt: time,
                result: .resolved(manifest)))
    }

    @discardableResult
    func fail(_ reference: String, error: String, at time: Date = at(1)) async throws -> RecordResult {
        try await store.record(
            Observation(
                runID: run, reference: try ref(reference),
                attempts: [EndpointAttempt(endpoint: mirror, error: "503 Service Unavailable", fellBack: true)],
                observedAt: time, result: .failed(error: error)))
    }

    func tag(_ reference: String) async throws -> TagRecord? {
        let parsed = try ref(reference)
        return try await store.tag(repository: parsed.repository, tag: parsed.tag ?? "latest")
    }

    func mapping(_ repository: String, _ manifest: String, platform: String? = nil) async throws -> DigestRecord? {
        try await store.digest(
            repository: try ref(repository).repository, digest: digest(manifest),
            platform: try platform.map { try Platform(parsing: $0) })
    }
}

/// A scratch directory removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var database: String { path + "/ferry.db" }
}
