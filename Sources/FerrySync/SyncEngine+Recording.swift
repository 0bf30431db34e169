import FerryPull
import FerryPush
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import MirrorConfig
import OCIModel
import OCIRegistry

/// When a run's finished references reach the reference store and `index.json`.
///
/// Records are committed in batches: a batch is committed when it holds ``maxItems`` references or its oldest one
/// has waited ``maxDelay``, and at the end of the run (also after a stop). `index.json` is rewritten after a commit
/// at most every ``indexInterval`` and at the end. The reference store is committed first: it is the record of what
/// was pulled, and `index.json` is derived from it, so a crash between the two leaves `index.json` behind (never
/// ahead of) the reference store, naming content that is complete on disk. A SIGKILL loses at most the batch not
/// yet committed; the next run resolves those references again without downloading their blobs.
public struct RecordingPolicy: Sendable, Hashable {
    /// References per transaction.
    public var maxItems: Int
    /// How long a finished reference may wait for its commit (and its console line).
    public var maxDelay: Duration
    /// Least time between two rewrites of `index.json` during a run.
    public var indexInterval: Duration

    /// Creates a policy.
    public init(maxItems: Int = 256, maxDelay: Duration = .seconds(1), indexInterval: Duration = .seconds(5)) {
        self.maxItems = max(maxItems, 1)
        self.maxDelay = maxDelay
        self.indexInterval = indexInterval
    }

    /// Every reference committed at once, `index.json` after every commit (tests that count commits).
    public static let unbatched = RecordingPolicy(maxItems: 1, maxDelay: .zero, indexInterval: .zero)
}

/// A finished reference waiting for its batch.
struct PendingRecord: Sendable {
    var reference: ImageReference
    var observation: Observation
    var pushes: [PushResult]
    var bytes: Int64
    var duration: Duration
    var servedBy: String?
    /// The `index.json` entry to point the reference at once recorded: a pull that stored content.
    var stored: Descriptor?
    /// Referrers found with it, and their names to add to `index.json` once recorded.
    var referrers: FoundReferrers? = nil
}

/// The records of a run not committed yet, and when the last commits happened.
struct RecordingState {
    var pending: [PendingRecord] = []
    var oldest: ContinuousClock.Instant?
    var lastIndexWrite = ContinuousClock.now

    mutating func append(_ record: PendingRecord) {
        if pending.isEmpty { oldest = .now }
        pending.append(record)
    }

    func isDue(_ policy: RecordingPolicy) -> Bool {
        guard let oldest else { return false }
        return pending.count >= policy.maxItems || ContinuousClock.now - oldest >= policy.maxDelay
    }
}

extension SyncEngine {
    /// What `servedBy` says when no endpoint was contacted.
    public static let storeEndpoint = "store"

    /// A failed tag listing: recorded like a failed reference, under the repository's name.
    func listingFailure(_ entry: ImageEntry, _ failure: PullFailure, runID: RunID) -> PendingRecord {
        let observation = Observation(
            runID: runID, reference: entry.source, immutable: entry.immutable, dryRun: options.dryRun,
            attempts: Self.attempts(failure.provenance), result: .failed(error: "listing tags: \(failure.message)"))
        return PendingRecord(
            reference: entry.source, observation: observation, pushes: [], bytes: 0, duration: .zero, servedBy: nil)
    }

    /// The record of one finished item; nil for work the stop interrupted. A local store failure aborts the run.
    func pendingRecord(_ result: ItemResult, runID: RunID) throws(SyncAbort) -> PendingRecord? {
        let item = result.item
        switch result.outcome {
        case .cancelled:
            return nil
        case .notAsked:
            let observation = Observation(
                runID: runID, reference: item.reference, immutable: item.immutable, dryRun: options.dryRun,
                result: .notAsked)
            return PendingRecord(
                reference: item.reference, observation: observation, pushes: [], bytes: 0, duration: result.duration,
                servedBy: Self.storeEndpoint)
        case .deferred(let failure):
            let observation = Observation(
                runID: runID, reference: item.reference, immutable: item.immutable, dryRun: options.dryRun,
                attempts: Self.attempts(failure.provenance), duration: result.duration,
                result: .deferred(reason: failure.message, retryAt: failure.retryAt))
            return PendingRecord(
                reference: item.reference, observation: observation, pushes: [], bytes: 0, duration: result.duration,
                servedBy: nil)
        case .failed(let failure):
            if failure.kind == .localStore {
                throw SyncAbort(message: "\(item.reference): \(failure.message)", runID: runID, cause: failure.storeError)
            }
            let observation = Observation(
                runID: runID, reference: item.reference, immutable: item.immutable, dryRun: options.dryRun,
                attempts: Self.attempts(failure.provenance), duration: result.duration,
                result: .failed(error: failure.message))
            return PendingRecord(
                reference: item.reference, observation: observation, pushes: [], bytes: 0, duration: result.duration,
                servedBy: nil)
        case .resolved(let descriptor, let provenance):
            let observation = Observation(
                runID: runID, reference: item.reference, immutable: item.immutable, dryRun: true,
                attempts: Self.attempts(provenance), duration: result.duration,
                result: .resolved(ResolvedManifest(
                    digest: descriptor.digest, mediaType: descriptor.mediaType, imageID: nil,
                    servedBy: provenance.servedBy ?? Self.storeEndpoint)))
            return PendingRecord(
                reference: item.reference, observation: observation, pushes: [], bytes: 0, duration: result.duration,
                servedBy: provenance.servedBy)
        case .pulled(let success, let upstream, let pushResults, let referrers):
            let image = success.image
            // A digest already stored was served by the store itself: no endpoint saw a request.
            let fromStore = item.reference.digest != nil && image.manifestFromCache && image.blobsDownloaded == 0
            let servedBy = fromStore ? Self.storeEndpoint : success.provenance.servedBy
            let bytes = image.bytesDownloaded + (referrers?.bytes ?? 0)
            var resolved = ResolvedManifest(
                    digest: image.manifestDigest, mediaType: image.mediaType,
                    imageID: image.children.isEmpty ? image.imageID : nil,
                    platforms: image.children.map {
                        PlatformManifest(
                            platform: $0.platform ?? Platform(os: "unknown", architecture: "unknown"),
                            digest: $0.digest, mediaType: $0.mediaType, imageID: $0.imageID)
                    },
                    servedBy: servedBy ?? Self.storeEndpoint, upstream: upstream)
            resolved.referrers = referrers?.all
            resolved.referrerTypes = referrers?.types
            let observation = Observation(
                runID: runID, reference: item.reference, immutable: item.immutable, dryRun: false,
                attempts: Self.attempts(success.provenance), bytesTransferred: bytes,
                duration: result.duration, result: .resolved(resolved))
            return PendingRecord(
                reference: item.reference, observation: observation, pushes: pushResults, bytes: bytes,
                duration: result.duration, servedBy: servedBy,
                stored: Descriptor(mediaType: image.mediaType, digest: image.manifestDigest, size: image.size),
                referrers: referrers)
        }
    }

    /// Commits the pending records in one transaction, then points their names in `index.json` at what was stored
    /// (written now when `finalFlush` or the index interval passed), then reports each row.
    func commit(
        _ tally: inout Tally, observer: any SyncObserver, runID: RunID, finalFlush: Bool
    ) async throws(SyncAbort) {
        if !tally.recording.pending.isEmpty {
            let batch = tally.recording.pending
            tally.recording.pending.removeAll(keepingCapacity: true)
            tally.recording.oldest = nil
            // The batch's blobs are durable under blobs/ before anything records them.
            do { try puller.store.syncDirectories() } catch {
                throw SyncAbort(message: "cannot flush the store: \(error)", runID: runID, cause: error)
            }
            let results: [RecordResult]
            do {
                results = try await ledger.record(
                    batch.map(\.observation), pushes: batch.flatMap { $0.pushes.map(\.recording) })
            } catch {
                let what = batch.count == 1 ? "\(batch[0].reference)" : "\(batch.count) references"
                throw SyncAbort(message: "cannot record \(what): \(error)", runID: runID, cause: error)
            }
            FailPoint.hit(FailPoint.afterRecordCommit)
            do {
                // index.json was in line with the reference store when the run began (reconciled otherwise), so a
                // tag found up to date is already named there: a no-op run never even loads index.json.
                let changed = zip(batch, results).filter { record, recorded in
                    recorded.outcome != .upToDate || record.reference.digest != nil
                }
                try puller.store.setReferences(
                    changed.compactMap { record, _ in record.stored.map { (record.reference.string, $0) } }
                        + batch.flatMap { record in
                            (record.referrers?.newNames ?? []).map { ($0.name, $0.descriptor) }
                        })
                try Self.unnameRemovedReferrers(results.flatMap(\.driftEvents), store: puller.store)
            } catch {
                throw SyncAbort(message: "cannot update the store's index: \(error)", runID: runID, cause: error)
            }
            for (record, recorded) in zip(batch, results) {
                let row = Self.row(record, recorded)
                if row.outcome == .failed { tally.failures += 1 }
                tally.failures += row.pushes.filter { $0.outcome == .failed }.count
                tally.drifts += row.driftEvents.count
                if let outcome = row.outcome { tally.outcomes[outcome, default: 0] += 1 }
                Self.plan(&tally.plan[record.reference.domain, default: HostPlan()], record, outcome: row.outcome)
                tally.bytes += row.bytes
                if options.collectRows { tally.rows.append(row) }
                observer.handle(.finished(row))
            }
        }
        if finalFlush || ContinuousClock.now - tally.recording.lastIndexWrite >= options.recording.indexInterval {
            do {
                if try puller.store.flushIndex() { tally.recording.lastIndexWrite = .now }
                try pusher?.flushLayouts()
            } catch {
                throw SyncAbort(message: "cannot write the store's index: \(error)", runID: runID, cause: error)
            }
        }
    }

    /// A referrer found gone upstream (a revoked signature) loses its `index.json` name, so it is neither pushed
    /// on nor kept by prune; the reference store keeps its record.
    static func unnameRemovedReferrers(_ events: [DriftEventRecord], store: ContentStore) throws(ContentStoreError) {
        for event in events where event.kind == .referrerRemoved && !event.dryRun {
            let names =
                ["\(event.repository)@\(event.oldValue)"]
                + ReferrerTags.cosignSuffixes.map {
                    "\(event.repository):\(ReferrerTags.cosignTag(for: event.digest, suffix: $0.suffix))"
                }
            for name in names where try store.digest(named: name) == event.oldValue {
                try store.removeReference(name)
            }
        }
    }

    static func row(_ record: PendingRecord, _ recorded: RecordResult) -> SyncRow {
        var digest: Digest?
        var failure: String?
        switch record.observation.result {
        case .resolved(let manifest): digest = manifest.digest
        case .failed(let error): failure = error
        case .deferred(let reason, _): failure = reason
        case .notAsked: digest = recorded.previousDigest
        }
        var row = SyncRow(
            reference: record.reference, outcome: recorded.outcome, previousDigest: recorded.previousDigest,
            digest: digest, servedBy: record.servedBy, error: failure, driftEvents: recorded.driftEvents,
            bytes: record.bytes, duration: record.duration)
        row.pushes = record.pushes.map(\.record)
        row.referrers = record.referrers?.all
        return row
    }

    /// Counts one recorded reference into its registry's plan.
    static func plan(_ plan: inout HostPlan, _ record: PendingRecord, outcome: Outcome?) {
        plan.references += 1
        switch outcome {
        case .upToDate?:
            if case .notAsked = record.observation.result { plan.notAsked += 1 } else { plan.unchanged += 1 }
        case .pulled?, .updated?, .drift?: plan.toPull += 1
        case .failed?: plan.failed += 1
        case .deferred?: plan.deferred += 1
        case nil: break
        }
    }

    /// The run's requests per host and what the hosts said about their quotas (kept for the next run), as the
    /// reference store records them.
    func requestRecords(_ hosts: [HostRequests]) -> ([RunHostRecord], [RateLimitRecord]) {
        let records = hosts.filter { $0.total > 0 || $0.rateLimit != nil }.map { host in
            RunHostRecord(
                host: host.host, requests: Dictionary(uniqueKeysWithValues: host.counts.map { ($0.key.rawValue, $0.value) }),
                throttled: host.throttled, limit: host.rateLimit?.limit, remaining: host.rateLimit?.remaining,
                resetAt: host.rateLimit?.resetAt, blocked: host.blocked, blockedUntil: host.blockedUntil)
        }
        let limits = hosts.compactMap(\.rateLimit).map(Self.record)
        return (records, limits)
    }

    /// The reference store's form of a host's quota.
    public static func record(_ state: RateLimitState) -> RateLimitRecord {
        RateLimitRecord(
            host: state.host, limit: state.limit, remaining: state.remaining,
            windowSeconds: state.window.map { $0.components.seconds }, resetAt: state.resetAt,
            observedAt: state.observedAt)
    }

    /// A host's quota as the reference store kept it.
    public static func state(_ record: RateLimitRecord) -> RateLimitState {
        RateLimitState(
            host: record.host, limit: record.limit, remaining: record.remaining,
            window: record.windowSeconds.map { .seconds($0) }, resetAt: record.resetAt, observedAt: record.observedAt)
    }

    static func attempts(_ provenance: Provenance) -> [Ledger.EndpointAttempt] {
        provenance.attempts.map { Ledger.EndpointAttempt(endpoint: $0.endpoint, error: $0.error, fellBack: $0.fellBack) }
    }
}

extension PushResult {
    /// What the reference store keeps of this push.
    var recording: PushRecording { PushRecording(record: record, repository: repository, blobs: knownBlobs) }
}
