import Foundation
import OCIModel

// A bundle's history one record at a time: at 20,000 references it is tens of megabytes of records, so export
// writes each one as it is read from the reference store and import reads them back in passes over the bundle's
// description instead of holding them.

/// One record of a bundle's history.
public enum LedgerHistoryRecord: Sendable, Hashable {
    /// A drift event.
    case driftEvent(DriftEventRecord)
    /// An observation: the latest of a reference, or one a drift event points to.
    case observation(ObservationRecord)
    /// A repository with the exported tags, their history and the digest mappings.
    case repository(InventoryEntry)
    /// A run the other records name.
    case run(RunRecord)

    /// The record's kind.
    public var kind: LedgerHistoryKinds {
        switch self {
        case .driftEvent: .driftEvents
        case .observation: .observations
        case .repository: .repositories
        case .run: .runs
        }
    }
}

/// Kinds of history records, as a pass over a history asks for them.
public struct LedgerHistoryKinds: OptionSet, Sendable, Hashable {
    /// The option bits.
    public let rawValue: Int

    /// Creates a set from its bits.
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Drift events.
    public static let driftEvents = LedgerHistoryKinds(rawValue: 1)
    /// Observations.
    public static let observations = LedgerHistoryKinds(rawValue: 2)
    /// Repositories.
    public static let repositories = LedgerHistoryKinds(rawValue: 4)
    /// Runs.
    public static let runs = LedgerHistoryKinds(rawValue: 8)
    /// Every kind.
    public static let all: LedgerHistoryKinds = [.driftEvents, .observations, .repositories, .runs]
}

/// A bundle's history as ``ReferenceStore/recordImport(_:)`` reads it: in a few passes, each a new walk over the
/// records, so that the records need not be in memory together.
public protocol LedgerHistorySource: Sendable {
    /// Calls `body` with every record of `kinds`, each kind in the exporting store's order; `body`'s errors pass
    /// through. Every call walks the records again.
    func forEachRecord(_ kinds: LedgerHistoryKinds, _ body: (LedgerHistoryRecord) throws -> Void) throws
}

extension LedgerHistory: LedgerHistorySource {
    /// Calls `body` with the records of `kinds`, in the order of the keys of the encoded history (drift events,
    /// observations, repositories, runs).
    public func forEachRecord(_ kinds: LedgerHistoryKinds, _ body: (LedgerHistoryRecord) throws -> Void) throws {
        if kinds.contains(.driftEvents) { try driftEvents.forEach { try body(.driftEvent($0)) } }
        if kinds.contains(.observations) { try observations.forEach { try body(.observation($0)) } }
        if kinds.contains(.repositories) { try repositories.forEach { try body(.repository($0)) } }
        if kinds.contains(.runs) { try runs.forEach { try body(.run($0)) } }
    }

    /// Adds `record` to its array.
    public mutating func append(_ record: LedgerHistoryRecord) {
        switch record {
        case .driftEvent(let event): driftEvents.append(event)
        case .observation(let observation): observations.append(observation)
        case .repository(let entry): repositories.append(entry)
        case .run(let run): runs.append(run)
        }
    }
}
