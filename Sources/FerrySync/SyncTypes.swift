import FerryHTTP
import FerryPull
import FerrySystem
import Foundation
import Ledger
import OCIModel
import OCIRegistry

/// One reference to synchronise, expanded from an image entry of the mirror list.
public struct SyncItem: Sendable, Hashable {
    /// Creates an item.
    public init(
        reference: ImageReference, source: ImageReference? = nil, platforms: FerryPull.PlatformSelection,
        immutable: Bool = false, verifyUpstream: Bool = false, targets: [String] = [], trust: Trust? = nil,
        referrers: ReferrerSelection = .none
    ) {
        self.trust = trust
        self.reference = reference
        self.source = source ?? reference
        self.platforms = platforms
        self.immutable = immutable
        self.verifyUpstream = verifyUpstream
        self.targets = targets
        self.referrers = referrers
    }

    /// The reference: always with a tag or a digest.
    public var reference: ImageReference
    /// The entry's `source` as written (normalised).
    public var source: ImageReference
    /// Which children of an index to keep.
    public var platforms: FerryPull.PlatformSelection
    /// A move of this tag is drift.
    public var immutable: Bool
    /// When a mirror serves it, HEAD the upstream too.
    public var verifyUpstream: Bool
    /// Target names to push to (after the pull).
    public var targets: [String]
    /// Which referrers to carry with it (the mirror list's `referrers:`, default all; `ferry pull`: none).
    public var referrers: ReferrerSelection
    /// Set when the tag matches the entry's `immutable-tags`: once recorded it is not asked for again, except
    /// every `revalidate`.
    public var trust: Trust?

    /// How a trusted tag is rechecked.
    public struct Trust: Sendable, Hashable {
        /// Ask again (one HEAD) when the last check is older than this; nil: never.
        public var revalidate: Duration?

        /// Creates a trust.
        public init(revalidate: Duration?) { self.revalidate = revalidate }
    }
}

/// What happened to one reference (or one failed tag listing) in a run.
public struct SyncRow: Sendable, Hashable {
    /// The reference (name only for a failed tag listing).
    public var reference: ImageReference
    /// The outcome recorded in the reference store; nil when the run stopped before it finished.
    public var outcome: Outcome?
    /// The digest the tag had before.
    public var previousDigest: Digest?
    /// The digest now.
    public var digest: Digest?
    /// The endpoint that served it.
    public var servedBy: String?
    /// Error text for failures.
    public var error: String?
    /// Drift events raised.
    public var driftEvents: [DriftEventRecord]
    /// Pushes to the item's targets, in target order.
    public var pushes: [PushRecord] = []
    /// The referrers found and stored with it; nil when none were looked for.
    public var referrers: [Referrer]? = nil
    /// Bytes received.
    public var bytes: Int64
    /// Wall time.
    public var duration: Duration
}

/// Progress events of a run, for consoles and logs.
public enum SyncEvent: Sendable {
    /// The plan is expanded: this many references will be processed.
    case planned(Int)
    /// A tag listing failed; the entry produces no references.
    case listingFailed(ImageReference, String)
    /// Work on a reference started.
    case started(ImageReference)
    /// The manifest was found: Docker's `<tag>: Pulling from <repository>`.
    case pulling(ImageReference, String)
    /// A blob download of a reference started.
    case blobStarted(ImageReference, Descriptor, TransferProgress)
    /// A blob was already present.
    case blobPresent(ImageReference, Descriptor)
    /// A blob download finished and was verified.
    case blobFinished(ImageReference, Descriptor, Int64)
    /// An endpoint failed for a reference.
    case endpointFailed(ImageReference, String, String, Bool)
    /// A warning about a reference.
    case warning(ImageReference, String)
    /// A reference finished (recorded), pushes included.
    case finished(SyncRow)
    /// A stop was requested by a signal.
    case stopping(Int32)
}

/// Receives run events; called from many tasks at once.
public protocol SyncObserver: Sendable {
    /// Handles one event.
    func handle(_ event: SyncEvent)
}

/// An observer that ignores everything.
public struct SilentSyncObserver: SyncObserver {
    /// Creates the observer.
    public init() {}
    /// Ignores the event.
    public func handle(_ event: SyncEvent) {}
}

/// The result of a run.
public struct SyncSummary: Sendable {
    /// The run's ID in the reference store.
    public var runID: RunID
    /// How the run ended.
    public var status: RunStatus
    /// The exit status recorded for the run.
    public var exitStatus: Int32
    /// Every reference processed, in the order they were recorded; empty unless the run collected rows
    /// (``SyncEngine/Options/collectRows``): a big run reports through its observer and the reference store.
    public var rows: [SyncRow]
    /// References recorded, by outcome (tag listings included).
    public var outcomes: [Outcome: Int]
    /// Bytes received over the network.
    public var bytes: Int64

    /// References recorded.
    public var references: Int { outcomes.values.reduce(0, +) }
    /// References that failed (tag listings included).
    public var failures: Int
    /// Drift events raised.
    public var driftEvents: Int
    /// References not finished because the run was stopped.
    public var interrupted: Int
    /// The signal that stopped the run.
    public var signal: Int32?
    /// The run's requests per host, and what each host said about its rate limit.
    public var hosts: [HostRequests] = []
    /// What each registry's references came to, for `--dry-run`'s cost estimate.
    public var plan: [String: HostPlan] = [:]

    /// References deferred by a rate limit.
    public var deferred: Int { outcomes[.deferred] ?? 0 }
}

/// What one registry's references came to in a run: the basis of `ferry sync --dry-run`'s cost estimate.
public struct HostPlan: Sendable, Hashable {
    /// References of the registry.
    public var references = 0
    /// Not asked for (`immutable-tags`): a real run costs them nothing.
    public var notAsked = 0
    /// Unchanged: one HEAD each.
    public var unchanged = 0
    /// New or moved: a real run fetches their manifests (and the blobs the store lacks).
    public var toPull = 0
    /// Failed to resolve.
    public var failed = 0
    /// Deferred by the host's rate limit.
    public var deferred = 0

    /// Creates an empty plan.
    public init() {}
}

/// A failure that stops the whole run: the store or the reference store cannot be written.
public struct SyncAbort: Error, Sendable, CustomStringConvertible, DiskFullReporting {
    /// What failed, naming the path or reference.
    public var message: String
    /// The run, when one had begun.
    public var runID: RunID?
    /// The path a full disk kept from being written, when that is what stopped the run.
    public var diskFullPath: String?

    /// Creates an abort; `cause` is the error behind it, kept for its typed cause (a full disk).
    public init(message: String, runID: RunID?, cause: (any Error)? = nil) {
        self.message = message
        self.runID = runID
        diskFullPath = (cause as? any DiskFullReporting)?.diskFullPath
    }

    /// The message.
    public var description: String { message }
}
