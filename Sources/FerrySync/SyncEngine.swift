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
        /// Ask for every tag, trusted ones (`immutable-tags`) included, and list every repository afresh.
        public var revalidateAll: Bool
        /// The clock `revalidate` is measured with (the reference store's times are compared to it).
        public var now: @Sendable () -> Date
        /// The part of a split mirror list this run covers (`--shard K/N`; the list is already filtered to it), or
        /// nil for the whole list. Per-registry pacing and quotas are meant per mirror list: a shard spends
        /// `1/shard.count` of each (the session's `RateGovernor` is made with that share), so that N shards together
        /// stay within what one machine would send.
        public var shard: Shard?
        /// The group a shard's run belongs with (`--shard-group`; a Kubernetes Job's name): `ferry merge` makes the
        /// runs of one group one run.
        public var shardGroup: String?

        /// Creates options.
        public init(
            dryRun: Bool = false, jobs: Int = 4, command: String = "sync", toolVersion: String,
            recording: RecordingPolicy = RecordingPolicy(), collectRows: Bool = true, revalidateAll: Bool = false,
            now: @escaping @Sendable () -> Date = { Date() }, shard: Shard? = nil, shardGroup: String? = nil
        ) {
            self.revalidateAll = revalidateAll
            self.now = now
            self.dryRun = dryRun
            self.jobs = max(jobs, 1)
            self.command = command
            self.toolVersion = toolVersion
            self.recording = recording
            self.collectRows = collectRows
            self.shard = shard
            self.shardGroup = shardGroup
        }

        /// The share of a per-mirror-list budget (requests per second, quota) one process may spend: 1 for a whole
        /// list, 1/N for a shard of N.
        public var budgetShare: Double { 1 / Double(shard?.count ?? 1) }
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
        try await execute(observer: observer, trusting: trustedRepositories) { (runID, tally) throws(SyncAbort) in
            try await expand(runID: runID, observer: observer, tally: &tally)
        }
    }

    /// Runs exactly `items` (no mirror-list expansion): `ferry pull` is a run of one reference.
    public func run(items: [SyncItem], observer: any SyncObserver = SilentSyncObserver()) async throws(SyncAbort)
        -> SyncSummary
    {
        try await execute(observer: observer) { (_, _) throws(SyncAbort) in SyncPlan(items: items) }
    }

    /// Repositories of entries with `immutable-tags`: only their tags' records are read before the run.
    var trustedRepositories: Set<String> {
        options.revalidateAll
            ? [] : Set(list.images.filter { $0.trust?.patterns.isEmpty == false }.map { $0.source.repository.name })
    }

    private func execute(
        observer: any SyncObserver, trusting repositories: Set<String> = [],
        plan: (RunID, inout Tally) async throws(SyncAbort) -> SyncPlan
    ) async throws(SyncAbort) -> SyncSummary {
        let runID: RunID
        do {
            runID = try await ledger.beginRun(RunStart(
                startedAt: Date(), command: options.command, configFingerprint: list.fingerprint.description,
                toolVersion: options.toolVersion, dryRun: options.dryRun,
                shard: options.shard.map { RunShard(index: $0.index, count: $0.count, group: options.shardGroup) }))
        } catch {
            throw SyncAbort(message: "cannot record the run: \(error)", runID: nil, cause: error)
        }
        var tally = Tally()
        do throws(SyncAbort) {
            do {
                tally.checks = try await ledger.tagChecks(repositories: repositories)
            } catch {
                throw SyncAbort(message: "cannot read the recorded tags: \(error)", runID: runID, cause: error)
            }
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
        let hosts = puller.session.governor.hosts
        do {
            try await finish(runID, status: status, exitStatus: exitStatus, hosts: hosts)
        } catch {
            throw SyncAbort(message: "cannot record the end of run \(runID): \(error)", runID: runID, cause: error)
        }
        return SyncSummary(
            runID: runID, status: status, exitStatus: exitStatus, rows: tally.rows, outcomes: tally.outcomes,
            bytes: tally.bytes, failures: tally.failures,
            driftEvents: tally.drifts, interrupted: tally.interrupted, signal: signal, hosts: hosts, plan: tally.plan)
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

    private func finish(_ runID: RunID, status: RunStatus, exitStatus: Int32, hosts: [HostRequests] = []) async throws {
        let (records, limits) = requestRecords(hosts)
        _ = try await ledger.finishRun(
            runID,
            RunFinish(
                finishedAt: Date(), status: status, exitStatus: exitStatus, hosts: records, rateLimits: limits))
    }

    struct Tally {
        var rows: [SyncRow] = []
        var outcomes: [Outcome: Int] = [:]
        var bytes: Int64 = 0
        var failures = 0
        var drifts = 0
        var interrupted = 0
        var recording = RecordingState()
        /// Recorded digests and check times of the trusted entries' tags.
        var checks: [String: TagCheck] = [:]
        var plan: [String: HostPlan] = [:]
    }

    // MARK: Plan

    /// Expands every entry into references: pinned sources as they are, exact tags as listed, and tag
    /// selectors against the registry's tag list (one `tags/list` per entry that needs it, through the endpoints).
    /// A failed listing is recorded as a failure of the entry; duplicates merge their targets and flags. The plan
    /// yields the references as the run takes them.
    func expand(runID: RunID, observer: any SyncObserver, tally: inout Tally) async throws(SyncAbort) -> SyncPlan {
        let listings = await listTags(
            list.images.enumerated().filter { $0.element.needsTagList }.map { ($0.offset, $0.element) })
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
    private func listTags(_ sources: [(Int, ImageEntry)]) async -> [Int: Result<[String], PullFailure>] {
        let engine = self
        let stop = self.stop
        var results: [Int: Result<[String], PullFailure>] = [:]
        await withTaskGroup(of: ListingResult.self) { group in
            var next = 0
            for _ in 0..<options.jobs where next < sources.count {
                let (position, entry) = sources[next]
                next += 1
                group.addTask { await engine.listing(entry, position: position) }
            }
            for await listing in group {
                if let result = listing.result { results[listing.position] = result }
                if next < sources.count, stop.firedSignal == nil {
                    let (position, entry) = sources[next]
                    next += 1
                    group.addTask { await engine.listing(entry, position: position) }
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
    // A tag list younger than the entry's `revalidate` is reused from the reference store: no request.
    private func listing(_ entry: ImageEntry, position: Int) async -> ListingResult {
        let repository = entry.source.repository.name
        if !options.revalidateAll, let interval = entry.trust?.revalidate?.duration,
            let cached = try? await ledger.tagListing(repository),
            options.now().timeIntervalSince(cached.fetchedAt) < Double(interval.components.seconds)
        {
            return ListingResult(position: position, result: .success(cached.tags))
        }
        do {
            let (tags, provenance) = try await puller.listTags(entry.source)
            // Referrer discovery looks for fallback and cosign tags in this same listing instead of a second one.
            if let endpoint = provenance.servedBy {
                await puller.referrersSupport.seedTags(tags, repository: entry.source.path, endpoint: endpoint)
            }
            if !options.dryRun, entry.trust?.revalidate != nil {
                // Only a cache: a failed write costs the next run one listing, nothing else.
                try? await ledger.recordTagListing(repository, tags: tags, fetchedAt: options.now())
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
        /// A trusted tag that is recorded and was not asked for.
        case notAsked
        /// A rate limit stopped it; a later run takes it.
        case deferred(PullFailure)
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
                let trusted = item.trust != nil ? tally.checks[item.reference.repository.name + ":" + (item.reference.tag ?? "latest")] : nil
                group.addTask { .item(await engine.work(item, runID: runID, observer: observer, recorded: trusted)) }
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

    /// True when `item` is trusted, recorded at `recorded` with its manifest in the store, and checked within
    /// its `revalidate`: then it costs no request.
    func isTrusted(_ item: SyncItem, recorded: TagCheck?) -> Bool {
        guard let trust = item.trust, let recorded, !options.revalidateAll, puller.store.hasBlob(recorded.digest)
        else { return false }
        guard let interval = trust.revalidate else { return true }
        return options.now().timeIntervalSince(recorded.lastChecked) < Double(interval.components.seconds)
    }

    /// Pulls (or, in a dry run, resolves) one item and checks the upstream when asked.
    func work(_ item: SyncItem, runID: RunID, observer: any SyncObserver, recorded: TagCheck? = nil) async -> ItemResult {
        let clock = ContinuousClock()
        let start = clock.now
        observer.handle(.started(item.reference))
        if Task.isCancelled { return ItemResult(item: item, outcome: .cancelled, duration: .zero) }
        if isTrusted(item, recorded: recorded) { return ItemResult(item: item, outcome: .notAsked, duration: .zero) }
        // A host a 429 stopped is not asked at all: the rest of its references wait for a later run.
        if let deferral = puller.deferral(for: item.reference) {
            return ItemResult(item: item, outcome: .deferred(deferral), duration: .zero)
        }
        let outcome: ItemOutcome
        if options.dryRun {
            do throws(PullFailure) {
                let (descriptor, provenance) = try await puller.resolve(item.reference)
                outcome = .resolved(descriptor, provenance)
            } catch {
                outcome = error.kind == .cancelled ? .cancelled : error.kind == .deferred ? .deferred(error) : .failed(error)
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
                outcome = error.kind == .cancelled ? .cancelled : error.kind == .deferred ? .deferred(error) : .failed(error)
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
