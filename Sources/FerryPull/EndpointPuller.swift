import FerryHTTP
import Foundation
import LayoutStore
import Logging
import OCIModel
import OCIRegistry

/// Pulls one reference from one endpoint into the store (moby's `v2Puller`).
///
/// The manifest cache is the store itself: a manifest already present under its digest is read from disk with
/// no request, so a digest-pinned reference already stored costs nothing and an unchanged tag costs one HEAD.
struct EndpointPuller {
    let client: RegistryClient
    let store: ContentStore
    let blobs: BlobFetcher
    let observer: any PullObserver
    let logger: Logger

    var endpoint: RegistryEndpoint { client.endpoint }

    /// Counters gathered while pulling.
    struct Totals {
        var bytes: Int64 = 0
        var downloaded = 0
        var present = 0
        var manifestsFromCache = true
    }

    func pull(_ request: PullRequest) async throws(EndpointFailure) -> PulledImage {
        let reference = request.reference
        let repository = reference.path
        var totals = Totals()

        // Resolve: a digest reference (with or without tag) is fetched by digest; a tag costs one HEAD.
        var descriptor: Descriptor
        var prefetched: FetchedManifest?
        var resolvedByTag = false
        if let digest = reference.digest {
            descriptor = Descriptor(mediaType: MediaType(rawValue: ""), digest: digest, size: 0)
        } else {
            let tag = reference.tag ?? "latest"
            do {
                let resolution = try await client.resolveTag(repository, tag: tag)
                descriptor = resolution.descriptor
                prefetched = resolution.manifest
                resolvedByTag = resolution.manifest == nil
            } catch {
                if let failure = transportFailure(error) { throw failure }
                if let fallback = allowV1Fallback(error) { throw fallback }
                throw classify(.registry(error))
            }
        }

        var top: FetchedManifest
        var content: FetchedManifest.Content
        do {
            (top, content) = try await manifest(
                descriptor, repository: repository, prefetched: prefetched, sizeIsKnown: false, totals: &totals)
        } catch let error where resolvedByTag && Self.isNotFound(error) {
            // Docker 20.10: a registry that HEADs a tag but refuses its digest gets one GET by tag.
            observer.warning(
                "Failed to pull manifest by the resolved digest. This registry does not appear to conform to the distribution registry specification; falling back to pull by tag."
            )
            do {
                top = try await client.fetchManifest(repository, tag: reference.tag ?? "latest")
                content = try top.decode()
                try store.writeBlob(top.bytes, digest: top.digest)
                totals.manifestsFromCache = false
            } catch let registryError as RegistryError {
                throw classify(.afterTagFallback(registryError))
            } catch let storeError as ContentStoreError {
                throw .stop(.store(storeError))
            } catch {
                throw .stop(.cancelled)
            }
        } catch {
            throw classify(error)
        }

        // As in moby: announced once the manifest proved the endpoint speaks v2, so a failed endpoint prints nothing.
        let tagOrDigest = reference.digest == nil ? (reference.tag ?? "latest") : reference.string
        observer.pulling(reference, message: "\(tagOrDigest): Pulling from \(repository)")
        switch content {
        case .image(let image):
            let imageID = try await pullImage(image, repository: repository, platform: request.platforms, totals: &totals)
            return PulledImage(
                reference: reference, manifestDigest: top.digest, mediaType: top.mediaType, size: Int64(top.bytes.count),
                imageID: imageID, children: [], bytesDownloaded: totals.bytes, blobsDownloaded: totals.downloaded,
                blobsPresent: totals.present, manifestFromCache: totals.manifestsFromCache)
        case .index(let index):
            let selected: [Descriptor]
            do { selected = try Self.select(index.manifests, for: request.platforms) } catch { throw classify(error) }
            var children: [PulledChild] = []
            for entry in selected {
                // ferry pulls one level of index: an index among the children (or the index itself, by digest) is
                // refused before it is fetched, and a child that turns out to be an index after it, so a registry
                // cannot lead the pull down a chain or a cycle of indexes.
                if entry.mediaType.isIndex || entry.digest == top.digest {
                    throw classify(.nestedIndex(index: top.digest, child: entry.digest))
                }
                let child: FetchedManifest
                let childContent: FetchedManifest.Content
                do {
                    (child, childContent) = try await manifest(
                        entry, repository: repository, prefetched: nil, sizeIsKnown: true, totals: &totals)
                } catch {
                    throw classify(error)
                }
                guard case .image(let image) = childContent else {
                    throw classify(.nestedIndex(index: top.digest, child: entry.digest))
                }
                let imageID = try await pullImage(image, repository: repository, platform: nil, totals: &totals)
                children.append(
                    PulledChild(platform: entry.platform, digest: child.digest, mediaType: child.mediaType, imageID: imageID))
            }
            let imageID: Digest? = if case .single = request.platforms { children.first?.imageID } else { nil }
            return PulledImage(
                reference: reference, manifestDigest: top.digest, mediaType: top.mediaType, size: Int64(top.bytes.count),
                imageID: imageID, children: children, bytesDownloaded: totals.bytes,
                blobsDownloaded: totals.downloaded, blobsPresent: totals.present,
                manifestFromCache: totals.manifestsFromCache)
        }
    }

    /// The manifest `descriptor` through the cache, decoded: from the store when present (verified on read), else
    /// from the prefetched GET, else with a GET by digest; what is fetched is stored under its digest once it decoded,
    /// so a manifest naming an invalid digest never reaches the store. `sizeIsKnown` says the descriptor's size
    /// comes from a verified document (an index entry, not a HEAD): the body is then not read past it.
    private func manifest(
        _ descriptor: Descriptor, repository: String, prefetched: FetchedManifest?, sizeIsKnown: Bool,
        totals: inout Totals
    ) async throws(PullError) -> (FetchedManifest, FetchedManifest.Content) {
        let digest = descriptor.digest
        if store.hasBlob(digest) {
            var bytes: [UInt8]?
            do {
                bytes = try store.readBlob(digest)
            } catch {
                guard case .corruptBlob = error else { throw .store(error) }
                // A damaged cached manifest is dropped and fetched again rather than trusted.
                logger.warning("Cached manifest is corrupt; fetching it again", metadata: ["digest": "\(digest)"])
                do { try store.removeBlob(digest) } catch { throw .store(error) }
            }
            if let bytes {
                let mediaType =
                    descriptor.mediaType.isManifest ? descriptor.mediaType : (FetchedManifest.sniff(bytes) ?? descriptor.mediaType)
                let cached = FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
                do { return (cached, try cached.decode()) } catch { throw .registry(error) }
            }
        }
        totals.manifestsFromCache = false
        let fetched: FetchedManifest
        if let prefetched, prefetched.digest == digest {
            fetched = prefetched
        } else {
            do {
                fetched = try await client.fetchManifest(
                    repository, digest: digest, size: sizeIsKnown ? descriptor.size : nil)
            } catch {
                throw .registry(error)
            }
        }
        let content: FetchedManifest.Content
        do { content = try fetched.decode() } catch { throw .registry(error) }
        do { try store.writeBlob(fetched.bytes, digest: fetched.digest) } catch { throw .store(error) }
        return (fetched, content)
    }

    /// Config media types moby accepts for an image manifest.
    static let allowedConfigTypes: Set<MediaType> = [
        .dockerConfig, .ociConfig, .octetStream, .json, MediaType(rawValue: "text/html"), MediaType(rawValue: ""),
    ]

    /// Fetches the config and layers of `image` (in parallel, bounded by the fetcher) and checks the config.
    /// - Returns: the image ID, i.e. the config digest.
    private func pullImage(
        _ image: ImageManifest, repository: String, platform: PlatformSelection?, totals: inout Totals
    ) async throws(EndpointFailure) -> Digest {
        guard Self.allowedConfigTypes.contains(image.config.mediaType) else {
            let kind = image.config.mediaType.rawValue.hasPrefix("application/vnd.docker.plugin") ? "plugin" : "unknown"
            throw classify(.invalidManifestClass(image.config.mediaType, kind))
        }
        let blobs = self.blobs
        let client = self.client
        // moby pulls nothing for an image whose config it already has, so Docker prints no layer lines for it:
        // "Already exists" is only for the known layers of an image that is new.
        let imageKnown = store.hasBlob(image.config.digest)
        let observer: any PullObserver = imageKnown ? KnownImageObserver(wrapped: self.observer) : self.observer
        let results = await withTaskGroup(of: BlobResult.self) { group in
            for (position, blob) in image.blobs.enumerated() {
                group.addTask {
                    await Self.ensure(blob, position: position, repository: repository, blobs: blobs, client: client,
                                      observer: observer)
                }
            }
            var collected: [BlobResult] = []
            for await result in group { collected.append(result) }
            return collected.sorted { $0.position < $1.position }.map { ($0.position, $0.result) }
        }
        for (position, result) in results {
            switch result {
            case .success(let outcome):
                totals.bytes += outcome.bytes
                if outcome.wasPresent { totals.present += 1 } else { totals.downloaded += 1 }
            case .failure(let error):
                if position == 0, case .registry(let registryError) = error {
                    throw classify(.configPull(registryError))
                }
                throw classify(error)
            }
        }
        // As moby: an image whose config was already stored was checked when it was stored; a no-op re-sync then
        // reads neither its config nor its layers.
        if !imageKnown { try checkConfig(image, platform: platform) }
        return image.config.digest
    }

    struct BlobResult: Sendable {
        var position: Int
        var result: Result<BlobFetcher.Outcome, PullError>
    }

    // Children of the task group return a named struct built here, not a tuple from a typed-throws `do`/`catch` in
    // the closure: the release build mangled such tuples' integers (see SyncEngine.listing).
    private static func ensure(
        _ blob: Descriptor, position: Int, repository: String, blobs: BlobFetcher, client: RegistryClient,
        observer: any PullObserver
    ) async -> BlobResult {
        let kind: ContentKind = position == 0 ? .config : .layer
        do {
            let outcome = try await blobs.ensure(blob, kind: kind, repository: repository, client: client, observer: observer)
            return BlobResult(position: position, result: .success(outcome))
        } catch {
            return BlobResult(position: position, result: .failure(error))
        }
    }

    /// moby's config checks, for real image configs: the layer chain matches the manifest, and with one
    /// requested platform the OS matches.
    private func checkConfig(_ image: ImageManifest, platform: PlatformSelection?) throws(EndpointFailure) {
        guard image.config.mediaType == .dockerConfig || image.config.mediaType == .ociConfig else { return }
        let bytes: [UInt8]
        do { bytes = try store.readBlob(image.config.digest, limit: 64 << 20) } catch { throw .stop(.store(error)) }
        guard let config = try? JSONDecoder().decode(ImageConfiguration.self, from: Data(bytes)) else {
            throw classify(.invalidRootFS)
        }
        if let rootfs = config.rootfs {
            guard rootfs.type == "layers" else { throw classify(.invalidRootFS) }
            guard rootfs.diff_ids.count == image.layers.count else { throw classify(.layersMismatch) }
        }
        if case .single(let wanted)? = platform, let os = config.os, !os.isEmpty,
            os.lowercased() != wanted.os.lowercased()
        {
            throw classify(.operatingSystemMismatch(have: os, want: wanted.os))
        }
    }

    /// The index entries to keep for `selection`.
    ///
    /// One platform: the first entry matching after normalising both, else for `arm` the first entry of the
    /// same OS and architecture whatever its variant (moby's legacy rule). A list: the first match of each
    /// platform, in index order; at least one must match. All: every entry.
    static func select(_ entries: [Descriptor], for selection: PlatformSelection) throws(PullError) -> [Descriptor] {
        switch selection {
        case .all:
            return entries
        case .single(let wanted):
            guard let match = firstMatch(entries, wanted) else { throw .noMatchingManifest(wanted.description) }
            return [match]
        case .list(let platforms):
            var chosen: [Digest] = []
            for wanted in platforms {
                if let match = firstMatch(entries, wanted), !chosen.contains(match.digest) { chosen.append(match.digest) }
            }
            guard !chosen.isEmpty else { throw .noMatchingManifest(selection.description) }
            return entries.filter { chosen.contains($0.digest) }
        }
    }

    private static func firstMatch(_ entries: [Descriptor], _ wanted: Platform) -> Descriptor? {
        if let exact = entries.first(where: { $0.platform.map(wanted.matches) ?? false }) { return exact }
        let normal = wanted.normalized()
        guard normal.architecture == "arm" else { return nil }
        return entries.first {
            guard let platform = $0.platform?.normalized() else { return false }
            return platform.os == normal.os && platform.architecture == "arm"
        }
    }

    static func isNotFound(_ error: PullError) -> Bool {
        guard case .registry(.registry(let errors, _)) = error else { return false }
        return errors.contains { [.denied, .manifestUnknown, .nameUnknown].contains($0.code) }
    }

    /// A transport failure before this endpoint ever answered: moby's failed ping, which keeps `transportOK`
    /// false so plain HTTP to the same host may still be tried.
    private func transportFailure(_ error: RegistryError) -> EndpointFailure? {
        guard case .request(_, _, .transport(let transport)) = error, transport.isBeforeHTTP,
            !client.session.hasResponded(endpoint)
        else { return nil }
        return .fallback(FallbackError(error: .registry(error), confirmedV2: false, transportOK: false))
    }

    /// moby's `v2Puller.Pull` wrapper: cancellation and local failures stop; otherwise `continueOnError` decides.
    private func classify(_ error: PullError) -> EndpointFailure {
        if error.isCancellation { return .stop(.cancelled) }
        if case .registry(let registryError) = error, let failure = transportFailure(registryError) { return failure }
        if continueOnError(error, mirror: endpoint.isMirror) {
            return .fallback(FallbackError(error: error, confirmedV2: true, transportOK: true))
        }
        return .stop(error)
    }
}

/// Forwards a pull's events except "blob already present", for an image whose config was already stored.
struct KnownImageObserver: PullObserver {
    let wrapped: any PullObserver

    func pulling(_ reference: ImageReference, message: String) { wrapped.pulling(reference, message: message) }
    func blobStarted(_ descriptor: Descriptor, progress: TransferProgress) {
        wrapped.blobStarted(descriptor, progress: progress)
    }
    func blobPresent(_ descriptor: Descriptor) {}
    func blobFinished(_ descriptor: Descriptor, bytes: Int64) { wrapped.blobFinished(descriptor, bytes: bytes) }
    func endpointFailed(_ endpoint: RegistryEndpoint, error: String, fellBack: Bool) {
        wrapped.endpointFailed(endpoint, error: error, fellBack: fellBack)
    }
    func warning(_ message: String) { wrapped.warning(message) }
}
