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

    /// Creates a runner.
    public init(
        pusher: ImagePusher, ledger: ReferenceStore, target: PushTarget, jobs: Int, stop: StopSignal,
        toolVersion: String
    ) {
        self.pusher = pusher
        self.ledger = ledger
        self.target = target
        self.jobs = max(jobs, 1)
        self.stop = stop
        self.toolVersion = toolVersion
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

    /// Pushes every stored reference accepted by `filter` and records the run.
    public func run(
        filter: @Sendable (ImageReference) -> Bool = { _ in true }, onPush: @Sendable (PushRecord) -> Void = { _ in }
    ) async throws(SyncAbort) -> Summary {
        let entries: [(ImageReference, Descriptor)]
        do {
            entries = try pusher.store.references().compactMap { descriptor in
                guard let name = descriptor.annotations?[Descriptor.refNameAnnotation],
                    let reference = try? ImageReference(parsing: name), filter(reference)
                else { return nil }
                var plain = descriptor
                plain.annotations = nil
                return (reference, plain)
            }
        } catch {
            throw SyncAbort(message: error.description, runID: nil)
        }
        let runID: RunID
        do {
            runID = try await ledger.beginRun(RunStart(startedAt: Date(), command: "push", toolVersion: toolVersion))
        } catch {
            throw SyncAbort(message: "cannot record the run: \(error)", runID: nil)
        }
        let pusher = self.pusher
        let target = self.target
        let stop = self.stop
        var records: [Int: PushRecord] = [:]
        await withTaskGroup(of: NumberedPush.self) { group in
            var next = 0
            func start() {
                guard stop.firedSignal == nil, next < entries.count else { return }
                let position = next
                let (reference, descriptor) = entries[position]
                next += 1
                group.addTask {
                    NumberedPush(
                        position: position,
                        result: await pusher.attempt(reference, descriptor: descriptor, to: target, runID: runID))
                }
            }
            for _ in 0..<jobs { start() }
            for await numbered in group {
                await pusher.record(numbered.result)
                records[numbered.position] = numbered.result.record
                onPush(numbered.result.record)
                start()
            }
        }
        let pushes = records.keys.sorted().compactMap { records[$0] }
        let signal = stop.firedSignal
        let exitStatus: Int32 = signal.map { 128 + $0 } ?? (pushes.contains { $0.outcome == .failed } ? 1 : 0)
        do {
            _ = try await ledger.finishRun(runID, RunFinish(
                finishedAt: Date(), status: signal == nil ? .completed : .interrupted, exitStatus: exitStatus))
        } catch {
            throw SyncAbort(message: "cannot record the end of run \(runID): \(error)", runID: runID)
        }
        return Summary(runID: runID, pushes: pushes, exitStatus: exitStatus, signal: signal)
    }
}
