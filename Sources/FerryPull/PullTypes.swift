import FerryHTTP
import OCIModel
import OCIRegistry

/// Which children of an index a pull keeps.
public enum PlatformSelection: Sendable, Hashable, CustomStringConvertible {
    /// One platform, chosen like `docker pull --platform`: the first matching entry in list order.
    case single(Platform)
    /// Several platforms (the mirror list's `platforms:`): the index is kept byte for byte plus, for each
    /// platform, its first matching child.
    case list([Platform])
    /// The index and every child.
    case all

    /// `linux/amd64`, `linux/amd64,linux/arm64/v8` or `all`.
    public var description: String {
        switch self {
        case .single(let platform): platform.description
        case .list(let platforms): platforms.map(\.description).joined(separator: ",")
        case .all: "all"
        }
    }

    /// The platform of the machine ferry runs on, normalised (Docker's default for `pull`).
    public static var host: Platform {
        #if arch(arm64)
            Platform(os: "linux", architecture: "arm64", variant: "v8")
        #elseif arch(arm)
            Platform(os: "linux", architecture: "arm", variant: "v7")
        #else
            Platform(os: "linux", architecture: "amd64")
        #endif
    }
}

/// What to pull.
public struct PullRequest: Sendable, Hashable {
    /// The normalised reference; a name-only reference means `:latest`.
    public var reference: ImageReference
    /// Which platforms to keep when the reference is an index.
    public var platforms: PlatformSelection

    /// Creates a request.
    public init(reference: ImageReference, platforms: PlatformSelection = .single(PlatformSelection.host)) {
        self.reference = reference.taggedLatestIfNameOnly()
        self.platforms = platforms
    }
}

/// One image of an index that was kept.
public struct PulledChild: Sendable, Hashable, Codable {
    /// The platform from the index entry.
    public var platform: Platform?
    /// The child manifest's digest.
    public var digest: Digest
    /// The child manifest's media type.
    public var mediaType: MediaType
    /// The image ID (config digest) of the child.
    public var imageID: Digest
}

/// What a successful pull put in the store.
public struct PulledImage: Sendable, Hashable {
    /// The reference as requested.
    public var reference: ImageReference
    /// The digest the reference resolved to (the index digest for an index: that is what gets recorded).
    public var manifestDigest: Digest
    /// The media type of that manifest or index.
    public var mediaType: MediaType
    /// The size of that manifest or index.
    public var size: Int64
    /// The image ID: the config digest of the image, or of the chosen child when one platform was selected.
    public var imageID: Digest?
    /// For an index: the children kept.
    public var children: [PulledChild]
    /// Bytes received over the network for blobs.
    public var bytesDownloaded: Int64
    /// Blobs fetched over the network.
    public var blobsDownloaded: Int
    /// Blobs that were already in the store.
    public var blobsPresent: Int
    /// True when the manifest (and children) came from the store without a GET.
    public var manifestFromCache: Bool
}

/// One endpoint tried before the one that served (or before giving up).
public struct EndpointAttempt: Sendable, Hashable, Codable {
    /// The endpoint's base URL (no credentials).
    public var endpoint: String
    /// True when the endpoint is a configured mirror.
    public var isMirror: Bool
    /// Why it did not serve: the error text, or why it was skipped.
    public var error: String
    /// True when the orchestrator went on to the next endpoint.
    public var fellBack: Bool
    /// True when the endpoint was skipped without a request.
    public var skipped: Bool
}

/// Where a reference came from: fallback provenance.
public struct Provenance: Sendable, Hashable, Codable {
    /// The endpoint that served the reference; nil when everything came from the store or the pull failed.
    public var servedBy: String?
    /// True when `servedBy` is a configured mirror.
    public var servedByMirror: Bool
    /// The endpoints tried before, in order.
    public var attempts: [EndpointAttempt]
}

/// Progress callbacks for displays; all optional, called from any task.
public protocol PullObserver: Sendable {
    /// `<tag>: Pulling from <repository path>`.
    func pulling(_ reference: ImageReference, message: String)
    /// A blob download started.
    func blobStarted(_ descriptor: Descriptor, progress: TransferProgress)
    /// A blob was already in the store.
    func blobPresent(_ descriptor: Descriptor)
    /// A blob finished downloading and was verified.
    func blobFinished(_ descriptor: Descriptor, bytes: Int64)
    /// An endpoint failed; `fellBack` says whether the next one is tried.
    func endpointFailed(_ endpoint: RegistryEndpoint, error: String, fellBack: Bool)
    /// A warning for the user.
    func warning(_ message: String)
}

extension PullObserver {
    /// Default: ignore.
    public func pulling(_ reference: ImageReference, message: String) {}
    /// Default: ignore.
    public func blobStarted(_ descriptor: Descriptor, progress: TransferProgress) {}
    /// Default: ignore.
    public func blobPresent(_ descriptor: Descriptor) {}
    /// Default: ignore.
    public func blobFinished(_ descriptor: Descriptor, bytes: Int64) {}
    /// Default: ignore.
    public func endpointFailed(_ endpoint: RegistryEndpoint, error: String, fellBack: Bool) {}
    /// Default: ignore.
    public func warning(_ message: String) {}
}

/// An observer that ignores everything.
public struct SilentPullObserver: PullObserver {
    /// Creates the observer.
    public init() {}
}
