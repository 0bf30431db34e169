import Foundation
import LayoutStore
import OCIModel
import OCIRegistry

/// Why one endpoint could not serve a reference (moby's per-endpoint errors).
public enum PullError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A registry or transport failure.
    case registry(RegistryError)
    /// The image configuration could not be fetched (moby's `ImageConfigPullError`): stops on a non-mirror.
    case configPull(RegistryError)
    /// No index entry matches the requested platform(s).
    case noMatchingManifest(String)
    /// The config media type is not an image config (`invalidManifestClassError`).
    case invalidManifestClass(MediaType, String)
    /// Config `rootfs.diff_ids` and manifest layers differ in count.
    case layersMismatch
    /// Config `rootfs.type` is not `layers`.
    case invalidRootFS
    /// The image's OS differs from the one requested with `--platform`.
    case operatingSystemMismatch(have: String, want: String)
    /// A nested index or other content ferry does not pull.
    case unsupportedManifestFormat
    /// An index lists an index (or itself): ferry pulls one level of index, whose children are image manifests.
    case nestedIndex(index: Digest, child: Digest)
    /// The v20.10 by-tag fallback failed as well.
    case afterTagFallback(RegistryError)
    /// The endpoint does not support the operation (moby's `ErrNoSupport`): never preferred as the final error.
    case noSupport(String)
    /// Local store failure: never a reason to try another endpoint.
    case store(ContentStoreError)
    /// Cancelled.
    case cancelled

    /// moby's texts.
    public var description: String {
        switch self {
        case .registry(let error): error.description
        case .configPull(let error): "error pulling image configuration: \(error)"
        case .noMatchingManifest(let platform): "no matching manifest for \(platform) in the manifest list entries"
        case .invalidManifestClass(let mediaType, let kind): "Encountered remote \"\(mediaType)\"(\(kind)) when fetching"
        case .layersMismatch: "layers from manifest don't match image configuration"
        case .invalidRootFS: "invalid rootfs in image configuration"
        case .operatingSystemMismatch(let have, let want):
            "cannot download image with operating system \"\(have)\" when requesting \"\(want)\""
        case .unsupportedManifestFormat: "unsupported manifest format"
        case .nestedIndex(let index, let child):
            "index \(index) lists \(child) as an index; "
                + "ferry pulls one level of index, with image manifests as its children"
        case .afterTagFallback(let error): "error after falling back to get manifest by tag: \(error)"
        case .noSupport(let message): message
        case .store(let error): error.description
        case .cancelled: "context canceled"
        }
    }

    /// The rate limit that stopped the pull, when one did.
    var rateLimit: (host: String, until: Date?)? {
        switch self {
        case .registry(let error), .configPull(let error), .afterTagFallback(let error): error.rateLimit
        default: nil
        }
    }

    var isCancellation: Bool {
        switch self {
        case .cancelled: true
        case .registry(let error), .configPull(let error), .afterTagFallback(let error): error.isCancellation
        default: false
        }
    }
}

/// moby's `fallbackError`: the endpoint failed in a way that allows the next one, plus what was learned.
struct FallbackError: Error {
    var error: PullError
    var confirmedV2: Bool
    /// False when no HTTP exchange happened (DNS, connect, TLS): plain HTTP to the same host may still be tried.
    var transportOK: Bool
}

/// The result of one endpoint attempt that did not succeed.
enum EndpointFailure: Error {
    /// Try the next endpoint (moby's `fallbackError`, or an error `continueOnError` accepts).
    case fallback(FallbackError)
    /// Stop here with this error.
    case stop(PullError)
}

/// moby's `continueOnError(err, mirror)`: whether an endpoint error lets the next endpoint be tried.
///
/// Mirrors fall back on everything but ESRCH text. A non-mirror stops on registry codes other than UNAUTHORIZED,
/// MANIFEST_UNKNOWN and NAME_UNKNOWN, on a config-pull failure and on ESRCH text, and falls back on the rest
/// (transport errors, unexpected bodies, no matching platform, verification failures, layer download failures).
// https://github.com/moby/moby/blob/master/distribution/errors.go
func continueOnError(_ error: PullError, mirror: Bool) -> Bool {
    switch error {
    case .registry(.registry(let errors, _)):
        // errcode.Errors: judged by the first element; bare codes and full errors alike.
        guard let first = errors.first else { return true }
        return mirror || [.unauthorized, .manifestUnknown, .nameUnknown].contains(first.code)
    case .registry(.unexpectedResponse):
        return true
    case .configPull:
        return mirror
    case .store, .cancelled:
        // Not moby: a local disk failure or a cancellation is not an endpoint problem.
        return false
    default:
        return !error.description.lowercased().contains("no such process")
    }
}

/// moby's `allowV1Fallback` around tag resolution and tag listing: the three "not here" codes and a missing
/// Basic credential become fallback errors directly.
func allowV1Fallback(_ error: RegistryError) -> EndpointFailure? {
    switch error {
    case .registry(let errors, _):
        if let first = errors.first, [.unauthorized, .manifestUnknown, .nameUnknown].contains(first.code) {
            return .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: true))
        }
        return nil
    case .request(_, _, .noBasicAuthCredentials):
        return .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: false))
    default:
        return nil
    }
}

/// The final error of a pull, after moby's `TranslatePullError`.
public struct PullFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// Docker's error classes that matter to ferry.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Repository, manifest or access not found (`notFoundError`).
        case notFound
        /// A reserved name or invalid input.
        case invalidParameter
        /// Anything else the endpoints reported (`errdefs.Unknown`).
        case unknown
        /// The local store failed: the whole run must stop.
        case localStore
        /// Cancelled.
        case cancelled
        /// A registry's rate limit stopped it before anything was fetched: the reference waits for a later run.
        case deferred
    }

    /// The class.
    public var kind: Kind
    /// The message users see.
    public var message: String
    /// Endpoints tried and why they did not serve.
    public var provenance: Provenance
    /// The store's own error, for a local store failure (its typed cause: a full disk is reported as such).
    public var storeError: ContentStoreError? = nil
    /// For a deferred pull: when the host that stopped it may be asked again (nil: not in this run).
    public var retryAt: Date? = nil

    /// The message.
    public var description: String { message }

    /// Applies moby's translation to the final error: DENIED, MANIFEST_UNKNOWN and NAME_UNKNOWN become
    /// not-found messages naming the reference; everything else keeps its text.
    static func translate(_ error: PullError, reference: ImageReference, provenance: Provenance) -> PullFailure {
        if let limit = error.rateLimit {
            return PullFailure(
                kind: .deferred, message: error.description, provenance: provenance, retryAt: limit.until)
        }
        switch error {
        case .registry(.registry(let errors, _)), .afterTagFallback(.registry(let errors, _)):
            if case .afterTagFallback = error { break }
            guard let first = errors.first else { break }
            let cause = first.description
            switch first.code {
            case .denied:
                return PullFailure(
                    kind: .notFound,
                    message: "pull access denied for \(reference.familiarName), repository does not exist or may require 'docker login': \(cause)",
                    provenance: provenance)
            case .manifestUnknown:
                return PullFailure(
                    kind: .notFound, message: "manifest for \(reference.familiarString) not found: \(cause)",
                    provenance: provenance)
            case .nameUnknown:
                return PullFailure(
                    kind: .notFound, message: "repository \(reference.familiarName) not found: \(cause)",
                    provenance: provenance)
            default:
                return PullFailure(kind: .unknown, message: cause, provenance: provenance)
            }
        case .store(let storeError):
            return PullFailure(
                kind: .localStore, message: error.description, provenance: provenance, storeError: storeError)
        default:
            break
        }
        if error.isCancellation { return PullFailure(kind: .cancelled, message: "context canceled", provenance: provenance) }
        return PullFailure(kind: .unknown, message: error.description, provenance: provenance)
    }
}
