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
    /// Which endpoints have the referrers API, probed once per endpoint for the puller's lifetime (a run).
    public let referrersSupport = ReferrersSupport()

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
    }

    /// Pulls `request` into the store and points its reference name in `index.json` at the result.
    ///
    /// Errors before the loop (the reserved name `scratch`) are returned as is; endpoint errors go through the
    /// fallback rules and the final one through moby's translation. Cancellation never falls back.
    /// With `updateIndex: false` the content is stored but `index.json` is left alone (repairs re-fetch by digest
    /// without renaming anything).
    public func pull(
        _ request: PullRequest, observer: any PullObserver = SilentPullObserver(), updateIndex: Bool = true
    ) async throws(PullFailure) -> Success {
        let reference = request.reference
        if reference.familiarName == "scratch" {
            throw PullFailure(
                kind: .invalidParameter, message: "'scratch' is a reserved name",
                provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: []))
        }
        let store = self.store
        let blobs = self.blobs
        let logger = session.logger
        let (image, provenance) = try await withEndpoints(for: reference, observer: observer) {
            client throws(EndpointFailure) in
            try await EndpointPuller(client: client, store: store, blobs: blobs, observer: observer, logger: logger)
                .pull(request)
        }
        do {
            if updateIndex {
                try store.setReference(reference.string, to: Descriptor(
                    mediaType: image.mediaType, digest: image.manifestDigest, size: image.size))
            }
        } catch {
            throw PullFailure(
                kind: .localStore, message: error.description, provenance: provenance, storeError: error)
        }
        return Success(image: image, provenance: provenance)
    }

    /// Resolves `reference` to a descriptor without storing anything (dry runs, upstream checks): a digest
    /// reference resolves to itself with no request, a tag costs one HEAD on the first endpoint that answers.
    /// With `mirrors: false` only the registry's own endpoints are asked.
    public func resolve(_ reference: ImageReference, mirrors: Bool = true) async throws(PullFailure)
        -> (Descriptor, Provenance)
    {
        let reference = reference.taggedLatestIfNameOnly()
        if let digest = reference.digest {
            return (Descriptor(mediaType: MediaType(rawValue: ""), digest: digest, size: 0),
                    Provenance(servedBy: nil, servedByMirror: false, attempts: []))
        }
        let tag = reference.tag ?? "latest"
        return try await withEndpoints(for: reference, mirrors: mirrors) { client throws(EndpointFailure) in
            do throws(RegistryError) {
                return try await client.resolveTag(reference.path, tag: tag).descriptor
            } catch {
                throw Self.classifyLookup(error, client: client)
            }
        }
    }

    /// Set when every endpoint of `reference` is blocked by a 429 for now: the reference is deferred without a
    /// request. The failure names the last endpoint's host and when it may be asked again.
    public func deferral(for reference: ImageReference) -> PullFailure? {
        // The common case, every reference of a run that met no 429: no endpoint list to build.
        guard session.governor.hasBlockedHost else { return nil }
        let endpoints = resolver.endpoints(for: reference.domain)
        var last: (String, Date?)?
        for endpoint in endpoints {
            let host = RateGovernor.hostKey(endpoint.baseURL)
            guard let until = session.governor.refusal(for: host) else { return nil }
            last = (host, until)
        }
        guard let (host, until) = last else { return nil }
        let cause = RequestFailure.rateLimited(host: host, until: until)
        return PullFailure(
            kind: .deferred, message: cause.description,
            provenance: Provenance(servedBy: nil, servedByMirror: false, attempts: []), retryAt: until)
    }

    /// Lists the tags of `repository` through the endpoint list (moby's all-tags mode: `tags/list` errors go
    /// through `allowV1Fallback`).
    public func listTags(_ repository: ImageReference) async throws(PullFailure) -> ([String], Provenance) {
        let path = repository.path
        return try await withEndpoints(for: repository.nameOnly) { client throws(EndpointFailure) in
            do throws(RegistryError) {
                return try await client.listTags(path)
            } catch {
                throw Self.classifyLookup(error, client: client)
            }
        }
    }

    /// Errors of a resolve or tag listing, classified like the pull path.
    static func classifyLookup(_ error: RegistryError, client: RegistryClient) -> EndpointFailure {
        if error.isCancellation { return .stop(.cancelled) }
        if case .request(_, _, .transport(let transport)) = error, transport.isBeforeHTTP,
            !client.session.hasResponded(client.endpoint)
        {
            return .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: false))
        }
        if let fallback = allowV1Fallback(error) { return fallback }
        if continueOnError(.registry(error), mirror: client.endpoint.isMirror) {
            return .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: true))
        }
        return .stop(.registry(error))
    }

    /// moby's endpoint loop: tries `attempt` on each endpoint in order, skipping plain HTTP for hosts that
    /// proved to speak TLS; the first success wins, a stop error ends the loop, and after the last endpoint the
    /// last fallback error (never an `ErrNoSupport` when another error exists) is translated.
    func withEndpoints<T: Sendable>(
        for reference: ImageReference, mirrors: Bool = true, observer: any PullObserver = SilentPullObserver(),
        attempt: (RegistryClient) async throws(EndpointFailure) -> T
    ) async throws(PullFailure) -> (T, Provenance) {
        var state = LoopState()
        var attempts: [EndpointAttempt] = []
        let endpoints = resolver.endpoints(for: reference.domain).filter { mirrors || !$0.isMirror }
        for endpoint in endpoints {
            if endpoint.scheme != "https", state.confirmedTLS.contains(endpoint.host) {
                session.logger.debug("Skipping non-TLS endpoint \(endpoint) for host/port that appears to use TLS")
                attempts.append(EndpointAttempt(
                    endpoint: endpoint.description, isMirror: endpoint.isMirror,
                    error: "skipped: host/port appears to use TLS", fellBack: true, skipped: true))
                continue
            }
            do {
                let value = try await attempt(session.client(for: endpoint))
                return (value, Provenance(servedBy: endpoint.description, servedByMirror: endpoint.isMirror,
                                          attempts: attempts))
            } catch {
                let decision = state.handle(error, endpoint: endpoint)
                let (failure, fellBack): (PullError, Bool) =
                    switch decision {
                    case .next(let failure): (failure, true)
                    case .stop(let failure): (failure, false)
                    }
                if fellBack {
                    session.logger.info("Attempting next endpoint for pull after error: \(failure)")
                } else {
                    session.logger.info("Not continuing with pull after error: \(failure)")
                }
                observer.endpointFailed(endpoint, error: failure.description, fellBack: fellBack)
                attempts.append(EndpointAttempt(
                    endpoint: endpoint.description, isMirror: endpoint.isMirror, error: failure.description,
                    fellBack: fellBack, skipped: false))
                if !fellBack {
                    throw PullFailure.translate(
                        failure, reference: reference,
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
