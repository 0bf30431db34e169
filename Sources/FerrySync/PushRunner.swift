import FerryPush
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel

/// Pushes what the store holds to one target, as a recorded run (`ferry push`): every reference named in
/// `index.json` (optionally filtered), a few at a time, each push a recorded outcome.
public struct PushRunner: Sendable {
    /// The pusher (session, store, ledger, endpoint rules).
    public let pusher: ImagePusher
    /// The reference store the run is recorded in.
    public let ledger: ReferenceStore
    /// The destination.
    public let target: PushTarget
    /// References pushed at once.
    public let jobs: Int
    /// Fires on SIGINT/SIGTERM: no new pushes start.
    public let stop: StopSignal
    /// ferry's version, recorded for the run.
    public let toolVersion: String
    /// When finished pushes are committed to the reference store.
    public let recording: RecordingPolicy

    /// Creates a runner.
    public init(
        pusher: ImagePusher, ledger: ReferenceStore, target: PushTarget, jobs: Int, stop: StopSignal,
        toolVersion: String, recording: RecordingPolicy = RecordingPolicy()
    ) {
        self.pusher = pusher
        self.ledger = ledger
        self.target = target
        self.jobs = max(jobs, 1)
        self.stop = stop
        self.toolVersion = toolVersion
        self.recording = recording
    }

    /// The result of a push run.
    public struct Summary: Sendable {
        /// The run recorded.
        public var runID: RunID
        /// One record per reference, in store order.
        public var pushes: [PushRecord]
        /// The exit status recorded: 0, 1 when a push failed, 128+signal when stopped.
        public var exitStatus: Int32
        /// The signal that stopped the run.
        public var signal: Int32?
    }

    struct NumberedPush: Sendable {
        var position: Int
        var result: PushResult
    }

    enum GroupResult: Sendable {
        case push(NumberedPush)
        case tick
    }

    /// Pushes every stored reference accepted by `filter` and records the run.
    public func run(
        filter: @Sendable (ImageReference) -> Bool = { _ in true }, onPush: @Sendable (PushRecord) -> Void = { _ in }
    ) async throws(SyncAbort) -> Summary {
        var entries: [(ImageReference, Descriptor)]
        do {
            entries = try pusher.store.namedReferences().compactMap { name, descriptor in
                guard let reference = try? ImageReference(parsing: name), filter(reference) else { return nil }
                var plain = descriptor
                plain.annotations = nil
                return (reference, plain)
            }
        } catch {
            throw SyncAbort(message: error.description, runID: nil, cause: error)
        }
        // Referrers go after every subject, in a second phase that also keeps the fallback tags.
        let referrers: [(repository: String, referrers: [Referrer])]
        do {
            referrers = try await Self.referrerPhase(ledger: ledger, entries: &entries)
        } catch {
            throw SyncAbort(message: "cannot read the recorded referrers: \(error)", runID: nil, cause: error)
        }
        let runID: RunID
        do {
            runID = try await ledger.beginRun(RunStart(startedAt: Date(), command: "push", toolVersion: toolVersion))
        } catch {
            throw SyncAbort(message: "cannot record the run: \(error)", runID: nil, cause: error)
        }
        let pusher = self.pusher
        let target = self.target
        let stop = self.stop
        let policy = recording
        var records: [Int: PushRecord] = [:]
        var failure: SyncAbort?
        await withTaskGroup(of: GroupResult.self) { group in
            var next = 0
            var running = 0
            var ticking = false
            var pending: [PushRecording] = []
            var oldest: ContinuousClock.Instant?
            func start() {
                guard stop.firedSignal == nil, failure == nil, next < entries.count else { return }
                let position = next
                let (reference, descriptor) = entries[position]
                next += 1
                running += 1
                group.addTask {
                    .push(NumberedPush(
                        position: position,
                        result: await pusher.attempt(reference, descriptor: descriptor, to: target, runID: runID)))
                }
            }
            func commit() async {
                guard !pending.isEmpty, failure == nil else { return }
                let batch = pending
                pending.removeAll(keepingCapacity: true)
                oldest = nil
                do {
                    _ = try await ledger.record([], pushes: batch)
                    try pusher.flushLayouts()
                } catch {
                    failure = SyncAbort(message: "cannot record pushes of run \(runID): \(error)", runID: runID, cause: error)
                }
            }
            for _ in 0..<jobs { start() }
            while let result = await group.next() {
                switch result {
                case .tick:
                    ticking = false
                    if let oldest, ContinuousClock.now - oldest >= policy.maxDelay { await commit() }
                case .push(let numbered):
                    running -= 1
                    if pending.isEmpty { oldest = .now }
                    pending.append(PushRecording(
                        record: numbered.result.record, repository: numbered.result.repository,
                        blobs: numbered.result.knownBlobs))
                    records[numbered.position] = numbered.result.record
                    onPush(numbered.result.record)
                    if let first = oldest, pending.count >= policy.maxItems || ContinuousClock.now - first >= policy.maxDelay {
                        await commit()
                    }
                    start()
                }
                if !ticking, running > 0, !pending.isEmpty, policy.maxDelay > .zero {
                    ticking = true
                    group.addTask {
                        try? await Task.sleep(for: policy.maxDelay)
                        return .tick
                    }
                }
            }
            await commit()
        }
        if failure == nil, stop.firedSignal == nil {
            var position = entries.count
            for (repository, list) in referrers {
                let results = await pusher.pushReferrers(list, repository: repository, to: target, runID: runID)
                for result in results {
                    records[position] = result.record
                    position += 1
                    onPush(result.record)
                }
                do {
                    _ = try await ledger.record([], pushes: results.map {
                        PushRecording(record: $0.record, repository: $0.repository, blobs: $0.knownBlobs)
                    })
                    try pusher.flushLayouts()
                } catch {
                    failure = SyncAbort(message: "cannot record pushes of run \(runID): \(error)", runID: runID, cause: error)
                    break
                }
            }
        }
        if let failure {
            _ = try? await ledger.finishRun(runID, RunFinish(finishedAt: Date(), status: .failed, exitStatus: 74))
            throw failure
        }
        let pushes = records.keys.sorted().compactMap { records[$0] }
        let signal = stop.firedSignal
        let exitStatus: Int32 = signal.map { 128 + $0 } ?? (pushes.contains { $0.outcome == .failed } ? 1 : 0)
        do {
            _ = try await ledger.finishRun(runID, RunFinish(
                finishedAt: Date(), status: signal == nil ? .completed : .interrupted, exitStatus: exitStatus))
        } catch {
            throw SyncAbort(message: "cannot record the end of run \(runID): \(error)", runID: runID, cause: error)
        }
        return Summary(runID: runID, pushes: pushes, exitStatus: exitStatus, signal: signal)
    }

    /// Takes the referrers' names out of `entries` and returns the referrers to push after them, by repository in
    /// discovery order (only those whose name was selected).
    static func referrerPhase(ledger: ReferenceStore, entries: inout [(ImageReference, Descriptor)]) async throws
        -> [(repository: String, referrers: [Referrer])]
    {
        let recorded = try await ledger.recordedReferrers().filter { $0.removedRunID == nil }
        guard !recorded.isEmpty else { return [] }
        let selected = Set(entries.map { $0.0.string })
        let names = Set(recorded.map(\.name))
        entries.removeAll { names.contains($0.0.string) }
        var result: [(repository: String, referrers: [Referrer])] = []
        var seen = Set<String>()
        for item in recorded where selected.contains(item.name) && seen.insert("\(item.repository) \(item.referrer.digest)").inserted {
            if result.last?.repository == item.repository {
                result[result.count - 1].referrers.append(item.referrer)
            } else {
                result.append((item.repository, [item.referrer]))
            }
        }
        return result
    }
}
