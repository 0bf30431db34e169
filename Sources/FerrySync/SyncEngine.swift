import FerryHTTP
import FerryPull
import FerryPush
import Foundation
import Ledger
import Logging
import MirrorConfig
import OCIModel
import OCIRegistry

/// Runs a mirror list: expands every image entry into references, pulls each through the fallback orchestrator,
/// and records every observation in the reference store, where drift is decided.
///
/// References run in parallel (bounded by `jobs`); blobs are shared and single-flight through the puller's blob
/// fetcher. A failed reference is an outcome, not an abort; only a store or reference-store failure aborts. A stop
/// signal stops starting work and cancels transfers in flight; the run is then recorded as interrupted.
public struct SyncEngine: Sendable {
    /// Run options.
    public struct Options: Sendable {
        /// Resolve and record what would change, fetching no blobs and changing no tag or digest.
        public var dryRun: Bool
        /// References processed at once.
        public var jobs: Int
        /// The command name recorded for the run.
        public var command: String
        /// ferry's version, recorded for the run.
        public var toolVersion: String
        /// When finished references are committed to the reference store and `index.json`.
        public var recording: RecordingPolicy
        /// Keep every row in the summary (tests, `ferry pull`); a big sync leaves it off and keeps counts only.
        public var collectRows: Bool

        /// Creates options.
        public init(
            dryRun: Bool = false, jobs: Int = 4, command: String = "sync", toolVersion: String,
            recording: RecordingPolicy = RecordingPolicy(), collectRows: Bool = true
        ) {
            self.dryRun = dryRun
            self.jobs = max(jobs, 1)
            self.command = command
            self.toolVersion = toolVersion
            self.recording = recording
            self.collectRows = collectRows
        }
    }

    /// The validated mirror list (already filtered by `--only`).
    public let list: MirrorList
    /// The fallback puller over the run's session and store.
    public let puller: FallbackPuller
    /// The reference store.
    public let ledger: ReferenceStore
    /// Options.
    public let options: Options
    /// Fires on SIGINT/SIGTERM.
    public let stop: StopSignal
    /// Diagnostics.
    public let logger: Logger
    /// Pushes to the mirror list's targets; nil when the run pushes nothing.
    public let pusher: ImagePusher?
    /// Push targets by name.
    public let targets: [String: PushTarget]

    /// Creates an engine.
    public init(
        list: MirrorList, puller: FallbackPuller, ledger: ReferenceStore, options: Options, stop: StopSignal,
        logger: Logger, pusher: ImagePusher? = nil, targets: [String: PushTarget] = [:]
    ) {
        self.list = list
        self.puller = puller
        self.ledger = ledger
        self.options = options
        self.stop = stop
        self.logger = logger
        self.pusher = pusher
        self.targets = targets
    }

    /// Runs the whole list once.
    public func run(observer: any SyncObserver = SilentSyncObserver()) async throws(SyncAbort) -> SyncSummary {
        try await execute(observer: observer) { (runID, tally) throws(SyncAbort) in
            try await expand(runID: runID, observer: observer, tally: &tally)
        }
    }

    /// Runs exactly `items` (no mirror-list expansion): `ferry pull` is a run of one reference.
    public func run(items: [SyncItem], observer: any SyncObserver = SilentSyncObserver()) async throws(SyncAbort)
        -> SyncSummary
    {
        try await execute(observer: observer) { (_, _) throws(SyncAbort) in SyncPlan(items: items) }
    }

    private func execute(
        observer: any SyncObserver,
        plan: (RunID, inout Tally) async throws(SyncAbort) -> SyncPlan
    ) async throws(SyncAbort) -> SyncSummary {
        let runID: RunID
        do {
            runID = try await ledger.beginRun(RunStart(
                startedAt: Date(), command: options.command, configFingerprint: list.fingerprint.description,
                toolVersion: options.toolVersion, dryRun: options.dryRun))
        } catch {
            throw SyncAbort(message: "cannot record the run: \(error)", runID: nil, cause: error)
        }
        var tally = Tally()
        do throws(SyncAbort) {
            // From the first commit until the last index.json write, index.json may lag behind the reference store.
            if !options.dryRun { try await markIndex(inLine: false, runID: runID) }
            let items = try await plan(runID, &tally)
            if stop.firedSignal == nil {
                observer.handle(.planned(items.count))
                try await process(items, runID: runID, observer: observer, tally: &tally)
            }
            try await commit(&tally, observer: observer, runID: runID, finalFlush: true)
            if !options.dryRun { try await markIndex(inLine: true, runID: runID) }
        } catch {
            // What finished before the failure is still recorded; the failure itself aborts the run.
            try? await commit(&tally, observer: observer, runID: runID, finalFlush: true)
            try? await finish(runID, status: .failed, exitStatus: 74)
            var abort = error
            abort.runID = runID
            throw abort
        }
        let signal = stop.firedSignal
        let status: RunStatus = signal != nil ? .interrupted : (options.dryRun ? .dryRun : .completed)
        let exitStatus: Int32 = signal.map { 128 + $0 } ?? Self.batchStatus(failures: tally.failures, drifts: tally.drifts)
        do {
            try await finish(runID, status: status, exitStatus: exitStatus)
        } catch {
            throw SyncAbort(message: "cannot record the end of run \(runID): \(error)", runID: runID, cause: error)
        }
        return SyncSummary(
            runID: runID, status: status, exitStatus: exitStatus, rows: tally.rows, outcomes: tally.outcomes,
            bytes: tally.bytes, failures: tally.failures,
            driftEvents: tally.drifts, interrupted: tally.interrupted, signal: signal)
    }

    private func markIndex(inLine: Bool, runID: RunID) async throws(SyncAbort) {
        do {
            try await ledger.setIndexStamp(inLine ? puller.store.indexStamp : nil)
        } catch {
            throw SyncAbort(message: "cannot record the state of index.json: \(error)", runID: runID, cause: error)
        }
    }

    /// 0 ok, 1 failures, 2 drift, 3 both (PRODUCT.md exit status).
    public static func batchStatus(failures: Int, drifts: Int) -> Int32 {
        (failures > 0 ? 1 : 0) + (drifts > 0 ? 2 : 0)
    }

    private func finish(_ runID: RunID, status: RunStatus, exitStatus: Int32) async throws {
        _ = try await ledger.finishRun(runID, RunFinish(finishedAt: Date(), status: status, exitStatus: exitStatus))
    }

    struct Tally {
        var rows: [SyncRow] = []
        var outcomes: [Outcome: Int] = [:]
        var bytes: Int64 = 0
        var failures = 0
        var drifts = 0
        var interrupted = 0
        var recording = RecordingState()
    }

    // MARK: Plan

    /// Expands every entry into references: pinned sources as they are, exact tags as listed, and tag
    /// selectors against the registry's tag list (one `tags/list` per entry that needs it, through the endpoints).
    /// A failed listing is recorded as a failure of the entry; duplicates merge their targets and flags. The plan
    /// yields the references as the run takes them.
    func expand(runID: RunID, observer: any SyncObserver, tally: inout Tally) async throws(SyncAbort) -> SyncPlan {
        let listings = await listTags(
            list.images.enumerated().filter { $0.element.needsTagList }.map { ($0.offset, $0.element.source) })
        var entries: [ImageEntry] = []
        var tags: [[String]] = []
        for (index, entry) in list.images.enumerated() {
            if entry.isPinned {
                entries.append(entry)
                tags.append([])
            } else if entry.needsTagList {
                switch listings[index] {
                case .success(let listed)?:
                    entries.append(entry)
                    tags.append(entry.selectTags(from: listed))
                case .failure(let failure)?:
                    observer.handle(.listingFailed(entry.source, failure.message))
                    tally.recording.append(listingFailure(entry, failure, runID: runID))
                case nil:
                    continue
                }
            } else {
                entries.append(entry)
                tags.append(entry.selectTags(from: []))
            }
        }
        return SyncPlan(entries: entries, tags: tags)
    }

    /// Lists the tags of each repository, at most `jobs` at once; a cancelled listing has no entry.
    private func listTags(_ sources: [(Int, ImageReference)]) async -> [Int: Result<[String], PullFailure>] {
        let puller = self.puller
        let stop = self.stop
        var results: [Int: Result<[String], PullFailure>] = [:]
        await withTaskGroup(of: ListingResult.self) { group in
            var next = 0
            for _ in 0..<options.jobs where next < sources.count {
                let (position, source) = sources[next]
                next += 1
                group.addTask { await Self.listing(puller, source, position: position) }
            }
            for await listing in group {
                if let result = listing.result { results[listing.position] = result }
                if next < sources.count, stop.firedSignal == nil {
                    let (position, source) = sources[next]
                    next += 1
                    group.addTask { await Self.listing(puller, source, position: position) }
                }
            }
        }
        return results
    }

    struct ListingResult: Sendable {
        var position: Int
        var result: Result<[String], PullFailure>?
    }

    // A plain function rather than a typed-throws `do`/`catch` inside the child closure: the release build of that
    // closure returned garbage positions (a Swift 6.3 optimizer fault, reproduced with `swift build -c release`).
    private static func listing(_ puller: FallbackPuller, _ source: ImageReference, position: Int) async -> ListingResult {
        do {
            let (tags, provenance) = try await puller.listTags(source)
            // Referrer discovery looks for fallback and cosign tags in this same listing instead of a second one.
            if let endpoint = provenance.servedBy {
                await puller.referrersSupport.seedTags(tags, repository: source.path, endpoint: endpoint)
            }
            return ListingResult(position: position, result: .success(tags))
        } catch {
            return ListingResult(position: position, result: error.kind == .cancelled ? nil : .failure(error))
        }
    }

    static func selection(_ platforms: MirrorConfig.PlatformSelection) -> FerryPull.PlatformSelection {
        switch platforms {
        case .all: .all
        case .only(let list): .list(list)
        }
    }

    // MARK: Work

    enum ItemOutcome: Sendable {
        case pulled(FallbackPuller.Success, UpstreamCheck?, [PushResult], FoundReferrers?)
        case resolved(Descriptor, Provenance)
        case failed(PullFailure)
        case cancelled
    }

    struct ItemResult: Sendable {
        var item: SyncItem
        var outcome: ItemOutcome
        var duration: Duration
    }

    enum GroupResult: Sendable {
        case item(ItemResult)
        case stopRequested(Int32)
        case watcherEnded
        /// Time to look at the pending batch.
        case tick
    }

    /// Runs the items with at most `jobs` at once; results are recorded here, in the parent task, which is never
    /// cancelled, so completed work is always written even while a stop cancels the rest.
    private func process(_ items: SyncPlan, runID: RunID, observer: any SyncObserver, tally: inout Tally)
        async throws(SyncAbort)
    {
        let engine = self
        let stop = self.stop
        let policy = options.recording
        let outcome: Result<Void, SyncAbort> = await withTaskGroup(of: GroupResult.self) { group in
            var pending = items.makeIterator()
            var running = 0
            var stopped = stop.firedSignal != nil
            var ticking = false
            func startNext() {
                guard !stopped, let item = pending.next() else { return }
                running += 1
                group.addTask { .item(await engine.work(item, runID: runID, observer: observer)) }
            }
            // Wakes the loop when a batch waited long enough while no item finishes (a large blob downloading);
            // never while stopping or finishing, when the group is cancelled and the sleep would end at once.
            func startTicker() {
                guard !ticking, !stopped, running > 0, policy.maxDelay > .zero, !tally.recording.pending.isEmpty
                else { return }
                ticking = true
                group.addTask {
                    try? await Task.sleep(for: policy.maxDelay)
                    return .tick
                }
            }
            group.addTask {
                guard let signal = await stop.wait() else { return .watcherEnded }
                return .stopRequested(signal)
            }
            for _ in 0..<options.jobs { startNext() }
            if running == 0 { group.cancelAll() }
            while let next = await group.next() {
                switch next {
                case .stopRequested(let signal):
                    stopped = true
                    observer.handle(.stopping(signal))
                    group.cancelAll()
                case .watcherEnded:
                    break
                case .tick:
                    ticking = false
                    if tally.recording.isDue(policy) {
                        do throws(SyncAbort) {
                            try await engine.commit(&tally, observer: observer, runID: runID, finalFlush: false)
                        } catch {
                            group.cancelAll()
                            return .failure(error)
                        }
                    }
                    startTicker()
                case .item(let result):
                    running -= 1
                    do throws(SyncAbort) {
                        if let record = try engine.pendingRecord(result, runID: runID) {
                            tally.recording.append(record)
                        } else {
                            tally.interrupted += 1
                        }
                        if tally.recording.isDue(policy) {
                            try await engine.commit(&tally, observer: observer, runID: runID, finalFlush: false)
                        }
                    } catch {
                        group.cancelAll()
                        return .failure(error)
                    }
                    startNext()
                    // Nothing left to start or wait for: release the signal watcher so the group can end.
                    if running == 0 { group.cancelAll() } else { startTicker() }
                }
            }
            return .success(())
        }
        try outcome.get()
    }

    /// Pulls (or, in a dry run, resolves) one item and checks the upstream when asked.
    func work(_ item: SyncItem, runID: RunID, observer: any SyncObserver) async -> ItemResult {
        let clock = ContinuousClock()
        let start = clock.now
        observer.handle(.started(item.reference))
        if Task.isCancelled { return ItemResult(item: item, outcome: .cancelled, duration: .zero) }
        let outcome: ItemOutcome
        if options.dryRun {
            do throws(PullFailure) {
                let (descriptor, provenance) = try await puller.resolve(item.reference)
                outcome = .resolved(descriptor, provenance)
            } catch {
                outcome = error.kind == .cancelled ? .cancelled : .failed(error)
            }
        } else {
            do throws(PullFailure) {
                // The reference is named in index.json only once its record is committed (see RecordingPolicy).
                let success = try await puller.pull(
                    PullRequest(reference: item.reference, platforms: item.platforms),
                    observer: ItemPullObserver(reference: item.reference, sink: observer), updateIndex: false)
                let found = try await referrers(item, success: success, observer: observer)
                let upstream = await upstreamCheck(item, success: success, observer: observer)
                outcome = .pulled(
                    success, upstream, await pushes(item, success: success, referrers: found, runID: runID), found)
            } catch {
                outcome = error.kind == .cancelled ? .cancelled : .failed(error)
            }
        }
        return ItemResult(item: item, outcome: outcome, duration: clock.now - start)
    }

    /// Pushes a pulled item to each of its targets (recorded later by the parent task).
    /// Referrers go to each target after their subject, and only when the subject's push succeeded.
    private func pushes(
        _ item: SyncItem, success: FallbackPuller.Success, referrers: FoundReferrers?, runID: RunID
    ) async -> [PushResult] {
        guard let pusher, !item.targets.isEmpty else { return [] }
        let image = success.image
        let descriptor = Descriptor(mediaType: image.mediaType, digest: image.manifestDigest, size: image.size)
        var results: [PushResult] = []
        for name in item.targets {
            guard let target = targets[name] else { continue }
            if Task.isCancelled { break }
            let subject = await pusher.attempt(item.reference, descriptor: descriptor, to: target, runID: runID)
            results.append(subject)
            if let referrers, !referrers.all.isEmpty, subject.record.outcome != .failed {
                results += await pusher.pushReferrers(
                    referrers.all, repository: item.reference.repository.name, to: target, runID: runID)
            }
        }
        return results
    }

    /// With `verify-upstream`, a tag a mirror served is also resolved at the registry itself (one HEAD).
    private func upstreamCheck(_ item: SyncItem, success: FallbackPuller.Success, observer: any SyncObserver) async
        -> UpstreamCheck?
    {
        guard item.verifyUpstream, item.reference.digest == nil, success.provenance.servedByMirror else { return nil }
        do throws(PullFailure) {
            let (descriptor, provenance) = try await puller.resolve(item.reference, mirrors: false)
            return UpstreamCheck(digest: descriptor.digest, endpoint: provenance.servedBy ?? "upstream")
        } catch {
            observer.handle(.warning(item.reference, "upstream check failed: \(error.message)"))
            return nil
        }
    }

}

/// Forwards one reference's pull events to the run's observer.
struct ItemPullObserver: PullObserver {
    let reference: ImageReference
    let sink: any SyncObserver

    func pulling(_ reference: ImageReference, message: String) { sink.handle(.pulling(reference, message)) }

    func blobStarted(_ descriptor: Descriptor, progress: TransferProgress) {
        sink.handle(.blobStarted(reference, descriptor, progress))
    }

    func blobPresent(_ descriptor: Descriptor) { sink.handle(.blobPresent(reference, descriptor)) }

    func blobFinished(_ descriptor: Descriptor, bytes: Int64) {
        sink.handle(.blobFinished(reference, descriptor, bytes))
    }

    func endpointFailed(_ endpoint: RegistryEndpoint, error: String, fellBack: Bool) {
        sink.handle(.endpointFailed(reference, endpoint.description, error, fellBack))
    }

    func warning(_ message: String) { sink.handle(.warning(reference, message)) }
}
