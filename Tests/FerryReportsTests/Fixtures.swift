import Foundation
import FerryReports
@testable import Ledger
import OCIModel
import Testing

/// A stable digest named after `label`, so tests read as "manifest A", "config A2".
func digest(_ label: String) -> Digest { Digest.sha256(of: Array(label.utf8)) }

/// 2026-11-29T10:30:00Z plus `seconds`.
func at(_ seconds: TimeInterval) -> Date { Date(timeIntervalSince1970: 1_795_948_200 + seconds) }

let mirror = "https://mirror.example.internal"
let hub = "https://registry-1.docker.io"

/// Error text that tries to break out of HTML and Markdown tables.
let hostileError = #"manifest unknown <script>alert("x")</script> | </td></tr><img src=x onerror=alert(1)> `tick`"#

/// A ledger with two runs: the first stores five references, the second raises every drift kind and produces
/// every outcome, with fallbacks, an index, a failure with hostile error text, credentials in an endpoint, and
/// pushes of every outcome (one of a reference the run did not resolve).
struct LedgerFixture {
    let store: ReferenceStore
    let firstRun: RunID
    let secondRun: RunID

    static func make() async throws -> LedgerFixture {
        let store = try ReferenceStore.inMemory()
        let first = try await store.beginRun(
            RunStart(startedAt: at(0), command: "sync", configFingerprint: "sha256:feed", toolVersion: "0.1.0"))
        func record(
            _ run: RunID, _ reference: String, _ manifest: ResolvedManifest, at time: Date, immutable: Bool = false,
            attempts: [EndpointAttempt] = [], bytes: Int64 = 0
        ) async throws {
            _ = try await store.record(
                Observation(
                    runID: run, reference: try ImageReference(parsing: reference), immutable: immutable,
                    attempts: attempts, bytesTransferred: bytes, duration: .milliseconds(1500), observedAt: time,
                    result: .resolved(manifest)))
        }
        try await record(first, "alpine:3.20", image("A", id: "config A"), at: at(1), bytes: 3_500_000)
        try await record(first, "busybox:1.36", image("C", id: "config C", servedBy: hub), at: at(2), bytes: 900_000)
        try await record(
            first, "example.org/app:1.0", image("D", id: "config D", servedBy: "https://example.org"),
            at: at(3), immutable: true)
        try await record(first, "redis:7", image("E", id: "config E"), at: at(4))
        try await record(first, "nginx:1.27", index("N1", children: ["amd64", "arm64"]), at: at(5))
        _ = try await store.finishRun(first, RunFinish(finishedAt: at(60), status: .completed, exitStatus: 0))

        let second = try await store.beginRun(
            RunStart(startedAt: at(3600), command: "sync", configFingerprint: "sha256:feed", toolVersion: "0.1.0"))
        // up-to-date
        try await record(second, "busybox:1.36", image("C", id: "config C", servedBy: hub), at: at(3601))
        // image-id-drift: same manifest digest, new config
        try await record(second, "alpine:3.20", image("A", id: "config X"), at: at(3602), bytes: 1200)
        // tag-moved on an immutable tag
        try await record(
            second, "example.org/app:1.0", image("D2", id: "config D2", servedBy: "https://example.org"),
            at: at(3603), immutable: true, bytes: 2_000_000)
        // mirror-divergence
        try await record(
            second, "redis:7",
            image("E", id: "config E", upstreamSaid: UpstreamCheck(digest: digest("F"), endpoint: hub)), at: at(3604))
        // updated, after a fallback from a mirror whose URL carries credentials
        try await record(
            second, "nginx:1.27", index("N2", children: ["amd64", "arm64"], servedBy: hub), at: at(3605),
            attempts: [
                EndpointAttempt(
                    endpoint: "https://bob:hunter2@mirror.example.internal", error: "503 Service Unavailable",
                    fellBack: true)
            ], bytes: 7_000_000)
        // pulled
        try await record(
            second, "quay.io/new/thing:2", image("Q", id: "config Q", servedBy: "https://quay.io"),
            at: at(3606), bytes: 4096)
        // failed, with hostile text
        _ = try await store.record(
            Observation(
                runID: second, reference: try ImageReference(parsing: "ghcr.io/org/tool:1.0"),
                attempts: [
                    EndpointAttempt(
                        endpoint: "https://ghcr-mirror.internal", error: "connection refused", fellBack: true),
                    EndpointAttempt(endpoint: "https://ghcr.io", error: hostileError, fellBack: false),
                ],
                duration: .milliseconds(250), observedAt: at(3607), result: .failed(error: hostileError)))
        func push(
            _ reference: String, _ outcome: PushOutcome, digest manifest: String, bytes: Int64 = 0,
            error: String? = nil
        ) async throws {
            let destination = "registry.internal:5000/mirror/" + reference
            try await store.recordPush(
                PushRecord(
                    runID: second, reference: reference, target: "internal", destination: destination,
                    registry: "registry.internal:5000", digest: digest(manifest), outcome: outcome, error: error,
                    bytes: bytes, pushedAt: at(3650)),
                repository: String(destination.prefix { $0 != ":" }), blobs: [])
        }
        try await push("docker.io/library/busybox:1.36", .upToDate, digest: "C")
        try await push("quay.io/new/thing:2", .pushed, digest: "Q", bytes: 4096)
        try await push(
            "docker.io/library/nginx:1.27", .failed, digest: "N2",
            error: "denied: requested access to the resource is denied")
        try await push("docker.io/library/old:1", .pushed, digest: "O", bytes: 100)
        _ = try await store.finishRun(second, RunFinish(finishedAt: at(3662.5), status: .completed, exitStatus: 3))
        return LedgerFixture(store: store, firstRun: first, secondRun: second)
    }

    /// The second run's report.
    func secondReport() async throws -> RunReport {
        try #require(try await RunReport.load(run: secondRun, from: store))
    }

    /// The first run's report.
    func firstReport() async throws -> RunReport {
        try #require(try await RunReport.load(run: firstRun, from: store))
    }

    /// The inventory, read at a fixed time.
    func inventory() async throws -> InventoryReport {
        try await InventoryReport.load(from: store, now: at(7200))
    }
}

/// An image manifest.
func image(_ manifest: String, id: String, servedBy: String = mirror, upstreamSaid: UpstreamCheck? = nil)
    -> ResolvedManifest
{
    ResolvedManifest(
        digest: digest(manifest), mediaType: .ociManifest, imageID: digest(id), servedBy: servedBy,
        upstream: upstreamSaid)
}

/// An index whose children are linux images of the given architectures.
func index(_ manifest: String, children: [String], servedBy: String = mirror) -> ResolvedManifest {
    ResolvedManifest(
        digest: digest(manifest), mediaType: .ociIndex, imageID: nil,
        platforms: children.map { arch in
            PlatformManifest(
                platform: Platform(os: "linux", architecture: arch, variant: arch == "arm64" ? "v8" : nil),
                digest: digest(manifest + arch), mediaType: .ociManifest, imageID: digest("config " + manifest + arch))
        },
        servedBy: servedBy)
}

/// A hand-made observation record, for text the reference grammar would never let into the ledger.
func observationRecord(
    id: Int64, run: RunID, reference: String, outcome: Outcome, error: String? = nil, servedBy: String? = nil,
    attempts: [EndpointAttempt] = []
) -> ObservationRecord {
    ObservationRecord(
        id: id, runID: run, reference: reference, repository: String(reference.prefix { $0 != ":" }), tag: "1",
        requestedDigest: nil, manifestDigest: outcome == .failed ? nil : digest(reference),
        mediaType: outcome == .failed ? nil : .ociManifest, imageID: outcome == .failed ? nil : digest("c" + reference),
        platforms: [], servedBy: servedBy, attempts: attempts, upstream: nil, outcome: outcome, previousDigest: nil,
        error: error, immutable: false, dryRun: false, bytesTransferred: 10, durationMilliseconds: 20,
        observedAt: at(10))
}

/// A run record with the given counts.
func runRecord(
    _ id: RunID, status: RunStatus = .completed, exit: Int32? = 0, started: Date = at(0), finished: Date? = at(30),
    counts: RunCounts = RunCounts(), dryRun: Bool = false
) -> RunRecord {
    RunRecord(
        id: id, command: "sync", startedAt: started, finishedAt: finished, status: status, exitStatus: exit,
        configFingerprint: nil, toolVersion: "0.1.0", dryRun: dryRun, counts: counts)
}

/// A run ID for a fixed text.
func runID(_ text: String) throws -> RunID { try #require(RunID(rawValue: text)) }

/// UTF-8 text of rendered bytes.
func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
