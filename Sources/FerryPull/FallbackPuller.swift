import FerryHTTP
import Foundation
import LayoutStore
import Logging
import OCIModel
import OCIRegistry

/// Pulls a reference through its endpoint list with Docker's exact fallback rules (PULL-SEMANTICS §1.3) and
/// records provenance: which endpoint served it, and why each endpoint before it did not.
public struct FallbackPuller: Sendable {
    /// Shared transport, credentials, caches.
    public let session: RegistrySession
    /// The store manifests and blobs land in.
    public let store: ContentStore
    /// Single-flight, bounded blob downloads shared by all pulls of a run.
    public let blobs: BlobFetcher
    /// Endpoint lists per registry.
    public let resolver: EndpointResolver

    /// Creates a puller.
    public init(session: RegistrySession, store: ContentStore, blobs: BlobFetcher, resolver: EndpointResolver) {
        self.session = session
        self.store = store
        self.blobs = blobs
        self.resolver = resolver
    }

    /// A successful pull and where it came from.
    public struct Success: Sendable {
        /// What was stored.
        public var image: PulledImage
        /// Which endpoint served it, and what was tried before.
        public var provenance: Provenance
        /// The digest the reference's store entry had before this pull, if any.
        public var previousDigest: Digest?
    }

    /// Pulls `request` into the store and points its reference name in `index.json` at the result.
    ///
    /// Errors before the loop (the reserved name `scratch`) are returned as is; endpoint errors go through the
    /// fallback rules and the final one through moby's translation. Cancellation never falls back.
    public func pull(_ request: PullRequest, observer: any PullObserver = SilentPullObserver()) async throws(PullFailure)
        -> Success
    {
        let reference = request.reference
        if reference.familiarName == "scratch" {
            throw PullFailure(
                kind: .invalidParameter, message: "'scratch' is a reserved name",
                provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: []))
        }
        let previous = try? store.reference(named: reference.string)?.digest
        var state = LoopState()
        var attempts: [EndpointAttempt] = []
        for endpoint in resolver.endpoints(for: reference.domain) {
            if endpoint.scheme != "https", state.confirmedTLS.contains(endpoint.host) {
                session.logger.debug(
                    "Skipping non-TLS endpoint \(endpoint) for host/port that appears to use TLS")
                attempts.append(EndpointAttempt(
                    endpoint: endpoint.description, isMirror: endpoint.isMirror,
                    error: "skipped: host/port appears to use TLS", fellBack: true, skipped: true))
                continue
            }
            let puller = EndpointPuller(
                client: session.client(for: endpoint), store: store, blobs: blobs, observer: observer,
                logger: session.logger)
            do {
                let image = try await puller.pull(request)
                let provenance = Provenance(
                    servedBy: endpoint.description, servedByMirror: endpoint.isMirror, attempts: attempts)
                do {
                    try store.setReference(reference.string, to: Descriptor(
                        mediaType: image.mediaType, digest: image.manifestDigest, size: image.size))
                } catch {
                    throw PullFailure(kind: .localStore, message: error.description, provenance: provenance)
                }
                return Success(image: image, provenance: provenance, previousDigest: previous)
            } catch let failure as PullFailure {
                throw failure
            } catch let failure as EndpointFailure {
                switch state.handle(failure, endpoint: endpoint) {
                case .next(let error):
                    session.logger.info("Attempting next endpoint for pull after error: \(error)")
                    observer.endpointFailed(endpoint, error: error.description, fellBack: true)
                    attempts.append(EndpointAttempt(
                        endpoint: endpoint.description, isMirror: endpoint.isMirror, error: error.description,
                        fellBack: true, skipped: false))
                case .stop(let error):
                    session.logger.info("Not continuing with pull after error: \(error)")
                    observer.endpointFailed(endpoint, error: error.description, fellBack: false)
                    attempts.append(EndpointAttempt(
                        endpoint: endpoint.description, isMirror: endpoint.isMirror, error: error.description,
                        fellBack: false, skipped: false))
                    throw PullFailure.translate(
                        error, reference: reference,
                        provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: attempts))
                }
            } catch {
                throw PullFailure(
                    kind: .cancelled, message: "context canceled",
                    provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: attempts))
            }
        }
        let provenance = Provenance(servedBy: nil, servedByMirror: false, attempts: attempts)
        guard let last = state.lastError else {
            throw PullFailure(
                kind: .unknown, message: "no endpoints found for \(reference.familiarString)", provenance: provenance)
        }
        throw PullFailure.translate(last, reference: reference, provenance: provenance)
    }

    /// Resolves `reference` to its digest without storing anything (dry runs): a digest reference resolves to
    /// itself with no request, a tag costs one HEAD on the first endpoint that answers.
    public func resolve(_ reference: ImageReference) async throws(PullFailure) -> (Digest, Provenance) {
        let reference = reference.taggedLatestIfNameOnly()
        if let digest = reference.digest {
            return (digest, Provenance(servedBy: nil, servedByMirror: false, attempts: []))
        }
        var state = LoopState()
        var attempts: [EndpointAttempt] = []
        for endpoint in resolver.endpoints(for: reference.domain) {
            if endpoint.scheme != "https", state.confirmedTLS.contains(endpoint.host) { continue }
            let client = session.client(for: endpoint)
            do throws(RegistryError) {
                let resolution = try await client.resolveTag(reference.path, tag: reference.tag ?? "latest")
                return (resolution.descriptor.digest,
                        Provenance(servedBy: endpoint.description, servedByMirror: endpoint.isMirror, attempts: attempts))
            } catch {
                let failure: EndpointFailure
                if error.isCancellation {
                    failure = .stop(.cancelled)
                } else if case .request(_, _, .transport(let transport)) = error, transport.isBeforeHTTP,
                    !session.hasResponded(endpoint)
                {
                    failure = .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: false))
                } else if let fallback = allowV1Fallback(error) {
                    failure = fallback
                } else if continueOnError(.registry(error), mirror: endpoint.isMirror) {
                    failure = .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: true))
                } else {
                    failure = .stop(.registry(error))
                }
                switch state.handle(failure, endpoint: endpoint) {
                case .next(let error):
                    attempts.append(EndpointAttempt(
                        endpoint: endpoint.description, isMirror: endpoint.isMirror, error: error.description,
                        fellBack: true, skipped: false))
                case .stop(let error):
                    attempts.append(EndpointAttempt(
                        endpoint: endpoint.description, isMirror: endpoint.isMirror, error: error.description,
                        fellBack: false, skipped: false))
                    throw PullFailure.translate(
                        error, reference: reference,
                        provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: attempts))
                }
            }
        }
        let provenance = Provenance(servedBy: nil, servedByMirror: false, attempts: attempts)
        guard let last = state.lastError else {
            throw PullFailure(
                kind: .unknown, message: "no endpoints found for \(reference.familiarString)", provenance: provenance)
        }
        throw PullFailure.translate(last, reference: reference, provenance: provenance)
    }
}

/// The loop state of moby's `Pull`: the last error, the ErrNoSupport rule and hosts confirmed to speak TLS.
struct LoopState {
    var lastError: PullError?
    var discardNoSupportErrors = false
    var confirmedV2 = false
    var confirmedTLS: Set<String> = []

    enum Decision {
        case next(PullError)
        case stop(PullError)
    }

    /// Applies one endpoint failure to the state: a fallback error updates what was learned and becomes the
    /// last error (an `ErrNoSupport` only while no other error was seen); a stop error ends the loop.
    mutating func handle(_ failure: EndpointFailure, endpoint: RegistryEndpoint) -> Decision {
        switch failure {
        case .stop(let error):
            return .stop(error)
        case .fallback(let fallback):
            confirmedV2 = confirmedV2 || fallback.confirmedV2
            if fallback.transportOK, endpoint.scheme == "https" { confirmedTLS.insert(endpoint.host) }
            if case .noSupport = fallback.error {
                if !discardNoSupportErrors { lastError = fallback.error }
            } else {
                discardNoSupportErrors = true
                lastError = fallback.error
            }
            return .next(fallback.error)
        }
    }
}
