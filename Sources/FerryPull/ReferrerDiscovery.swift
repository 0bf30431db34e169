import FerryHTTP
import Foundation
import LayoutStore
import Logging
import OCIModel
import OCIRegistry

/// Why the referrers of a mirrored manifest could not be carried; names the referrer or subject concerned.
public enum ReferrerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Listing the referrers of `subject` failed (the API, the fallback tag or a cosign tag).
    case listing(subject: Digest, RegistryError)
    /// Fetching or verifying the referrer failed (a wrong digest is a verification failure).
    case fetch(referrer: Digest, subject: Digest, PullError)
    /// The referrer's `subject` field names another manifest than the one it was listed for.
    case subjectMismatch(referrer: Digest, listedFor: Digest, names: Digest?)
    /// The local store failed.
    case store(ContentStoreError)
    /// Cancelled.
    case cancelled

    /// A message naming the referrer.
    public var description: String {
        switch self {
        case .listing(let subject, let error): "listing the referrers of \(subject): \(error)"
        case .fetch(let referrer, let subject, let error): "referrer \(referrer) of \(subject) refused: \(error)"
        case .subjectMismatch(let referrer, let listedFor, let names):
            "referrer \(referrer) of \(listedFor) refused: its subject is \(names.map(\.description) ?? "missing")"
        case .store(let error): error.description
        case .cancelled: "context canceled"
        }
    }
}

/// Remembers, per registry endpoint, whether it has the referrers API: one probe per run.
public actor ReferrersSupport {
    private enum Probe {
        /// One caller is probing; these wait for its answer (nil: it failed, and they probe themselves).
        case running([CheckedContinuation<Bool?, Never>])
        case answered(Bool)
    }

    private var probes: [String: Probe] = [:]

    /// Creates an empty memory.
    public init() {}

    /// Whether `endpoint` has the API: true or false once known; nil tells the caller to probe (and then to call
    /// ``record(_:hasAPI:)`` or ``abandon(_:)``). While a probe runs, other callers wait for its answer, so pulls
    /// running in parallel cost one probe, not one each.
    public func hasAPI(_ endpoint: String) async -> Bool? {
        switch probes[endpoint] {
        case .answered(let answer)?:
            return answer
        case .running?:
            return await withCheckedContinuation { continuation in
                if case .running(var waiting)? = probes[endpoint] {
                    waiting.append(continuation)
                    probes[endpoint] = .running(waiting)
                } else if case .answered(let answer)? = probes[endpoint] {
                    continuation.resume(returning: answer)
                } else {
                    continuation.resume(returning: nil)
                }
            }
        case nil:
            probes[endpoint] = .running([])
            return nil
        }
    }

    /// Records the probe's answer and hands it to those waiting.
    public func record(_ endpoint: String, hasAPI: Bool) {
        if case .running(let waiting)? = probes[endpoint] { waiting.forEach { $0.resume(returning: hasAPI) } }
        probes[endpoint] = .answered(hasAPI)
    }

    /// The probe failed: those waiting probe themselves.
    public func abandon(_ endpoint: String) {
        guard case .running(let waiting)? = probes[endpoint] else { return }
        probes[endpoint] = nil
        waiting.forEach { $0.resume(returning: nil) }
    }

    private var tagLists: [String: Task<Result<Set<String>?, RegistryError>, Never>] = [:]

    /// Takes a tag listing the run already made (a tag selector's) as the one to look referrer tags up in.
    public func seedTags(_ tags: [String], repository: String, endpoint: String) {
        let key = "\(endpoint) \(repository)"
        guard tagLists[key] == nil else { return }
        let listed: Set<String>? = Set(tags)
        tagLists[key] = Task { .success(listed) }
    }

    /// The tags of `repository` at the client's endpoint, listed once per run (the first caller lists, the others
    /// wait for it): the fallback tag and cosign's tags are looked up in it instead of one GET per subject and tag,
    /// so an image without referrers costs one listing per repository, not four requests per manifest.
    /// Nil when the registry refuses to list tags (401, 403, 405: a pull-only credential, a registry without the
    /// endpoint): the tags are then asked for one by one.
    func tags(_ repository: String, client: RegistryClient) async throws(RegistryError) -> Set<String>? {
        let key = "\(client.endpoint.description) \(repository)"
        let task: Task<Result<Set<String>?, RegistryError>, Never>
        if let running = tagLists[key] {
            task = running
        } else {
            task = Task {
                do throws(RegistryError) {
                    return .success(Set(try await client.listTags(repository)))
                } catch {
                    if ReferrerDiscovery.isAbsent(error) { return .success([]) }
                    if ReferrerDiscovery.isRefused(error) { return .success(nil) }
                    return .failure(error)
                }
            }
            tagLists[key] = task
        }
        return try await task.value.get()
    }
}

/// Finds the referrers of manifests in one repository of one endpoint and stores them (manifests verified by
/// digest, blobs through the run's fetcher), following referrers of referrers to ``maxDepth``.
///
/// A registry with the referrers API is asked there; one without (404, distribution 2.8) is asked for the
/// fallback tag `sha256-<hex>`. cosign's legacy tags `sha256-<hex>.sig`, `.att` and `.sbom` are looked for on
/// every registry: they predate the API and are not listed by it.
struct ReferrerDiscovery {
    let client: RegistryClient
    let repository: String
    let store: ContentStore
    let blobs: BlobFetcher
    let support: ReferrersSupport
    let selection: ReferrerSelection
    let observer: any PullObserver
    let logger: Logger

    /// Referrers of referrers are followed this deep (1: only the mirrored manifests' own referrers).
    static let maxDepth = 3

    /// A referrer listed for a subject, before it is fetched.
    struct Candidate {
        var descriptor: Descriptor
        var artifactType: String
        var source: ReferrerSource
        var tag: String?
        /// The manifest itself, when the listing fetched it (a cosign tag is read with one GET).
        var manifest: FetchedManifest?
    }

    /// The referrers of `subjects` (and theirs), stored; each referrer once, in discovery order.
    func discover(_ subjects: [Digest]) async throws(ReferrerError) -> (referrers: [Referrer], bytes: Int64) {
        var queue = subjects.map { ($0, 1) }
        var seen = Set(subjects)
        var found: [Referrer] = []
        var bytes: Int64 = 0
        while !queue.isEmpty {
            let (subject, depth) = queue.removeFirst()
            for candidate in try await candidates(of: subject)
            where selection.keeps(candidate.artifactType) && !seen.contains(candidate.descriptor.digest) {
                seen.insert(candidate.descriptor.digest)
                let (referrer, received) = try await fetch(candidate, subject: subject)
                found.append(referrer)
                bytes += received
                if depth < Self.maxDepth { queue.append((referrer.digest, depth + 1)) }
            }
        }
        return (found, bytes)
    }

    // MARK: Listing

    private func candidates(of subject: Digest) async throws(ReferrerError) -> [Candidate] {
        do throws(RegistryError) {
            var listed = try await listed(subject)
            let tags = try await support.tags(repository, client: client)
            for (suffix, artifactType) in ReferrerTags.cosignSuffixes {
                let tag = ReferrerTags.cosignTag(for: subject, suffix: suffix)
                guard tags?.contains(tag) ?? true, let manifest = try await tagged(tag) else { continue }
                listed.append(Candidate(
                    descriptor: manifest.descriptor, artifactType: artifactType, source: .cosignTag, tag: tag,
                    manifest: manifest))
            }
            return listed
        } catch {
            if error.isCancellation { throw .cancelled }
            throw .listing(subject: subject, error)
        }
    }

    /// The API's listing, or the fallback tag's on a registry without the API.
    private func listed(_ subject: Digest) async throws(RegistryError) -> [Candidate] {
        let key = client.endpoint.description
        let known = await support.hasAPI(key)
        if known != false {
            var filter: String?
            if case .only(let types) = selection, types.count == 1 { filter = types[0] }
            let answer: ReferrersAnswer
            do throws(RegistryError) {
                answer = try await client.listReferrers(repository, digest: subject, artifactType: filter)
            } catch {
                if known == nil { await support.abandon(key) }
                throw error
            }
            switch answer {
            case .listed(let descriptors, _):
                if known == nil { await support.record(key, hasAPI: true) }
                return descriptors.map { Candidate(descriptor: $0, artifactType: $0.artifactType ?? "", source: .api) }
            case .unsupported:
                if known == nil { await support.record(key, hasAPI: false) }
                logger.debug("No referrers API; using the fallback tag", metadata: ["endpoint": "\(key)"])
            }
        }
        let tag = ReferrerTags.fallbackTag(for: subject)
        guard try await support.tags(repository, client: client)?.contains(tag) ?? true else { return [] }
        let fetched: FetchedManifest
        do throws(RegistryError) {
            fetched = try await client.fetchManifest(repository, tag: tag)
        } catch {
            if Self.isAbsent(error) { return [] }
            throw error
        }
        guard case .index(let index) = try fetched.decode() else {
            throw .invalidResponse(url: "\(repository):\(tag)", message: "the referrers fallback tag is not an index")
        }
        return index.manifests.map { Candidate(descriptor: $0, artifactType: $0.artifactType ?? "", source: .fallbackTag) }
    }

    /// The manifest `tag` points to (one GET: most subjects have no such tag), or nil when there is none.
    private func tagged(_ tag: String) async throws(RegistryError) -> FetchedManifest? {
        do throws(RegistryError) {
            return try await client.fetchManifest(repository, tag: tag)
        } catch {
            if Self.isAbsent(error) { return nil }
            throw error
        }
    }

    /// 401, 403 or 405: the registry will not list (or has no such endpoint).
    static func isRefused(_ error: RegistryError) -> Bool {
        switch error {
        case .registry(_, let status), .unexpectedResponse(let status, _, _): [401, 403, 405].contains(status)
        default: false
        }
    }

    /// A 404 (manifest or repository unknown): nothing there.
    static func isAbsent(_ error: RegistryError) -> Bool {
        switch error {
        case .registry(_, let status): status == 404
        case .unexpectedResponse(let status, _, _): status == 404
        default: false
        }
    }

    // MARK: Fetching

    /// Fetches the referrer manifest by digest (verified), checks its subject, stores its blobs, then the manifest.
    private func fetch(_ candidate: Candidate, subject: Digest) async throws(ReferrerError) -> (Referrer, Int64) {
        let digest = candidate.descriptor.digest
        func refused(_ error: PullError) -> ReferrerError {
            if error.isCancellation { return .cancelled }
            return .fetch(referrer: digest, subject: subject, error)
        }
        let fetched: FetchedManifest
        let content: FetchedManifest.Content
        do throws(RegistryError) {
            if let manifest = candidate.manifest {
                fetched = manifest
            } else if store.hasBlob(digest), let bytes = try? store.readBlob(digest) {
                let mediaType = candidate.descriptor.mediaType.isManifest
                    ? candidate.descriptor.mediaType : (FetchedManifest.sniff(bytes) ?? .ociManifest)
                fetched = FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
            } else {
                fetched = try await client.fetchManifest(repository, digest: digest, size: candidate.descriptor.size)
            }
            content = try fetched.decode()
        } catch {
            throw refused(.registry(error))
        }
        var bytes: Int64 = 0
        var artifactType = candidate.artifactType
        let named: Descriptor?
        let needed: [Descriptor]
        switch content {
        case .image(let image):
            named = image.subject
            needed = image.blobs
            if let own = image.artifactType { artifactType = own }
            if artifactType.isEmpty { artifactType = image.effectiveArtifactType }
        case .index(let index):
            named = index.subject
            needed = []
            if let own = index.artifactType { artifactType = own }
            for child in index.manifests where !child.mediaType.isIndex {
                bytes += try await storeChild(child, referrer: digest, subject: subject)
            }
        }
        if candidate.source != .cosignTag, named?.digest != subject {
            throw .subjectMismatch(referrer: digest, listedFor: subject, names: named?.digest)
        }
        for blob in needed {
            do throws(PullError) {
                bytes += try await blobs.ensure(
                    blob, kind: .layer, repository: repository, client: client, observer: observer
                ).bytes
            } catch {
                throw refused(error)
            }
        }
        do { try store.writeBlob(fetched.bytes, digest: digest) } catch { throw .store(error) }
        let referrer = Referrer(
            subject: subject, digest: digest, mediaType: fetched.mediaType, size: Int64(fetched.bytes.count),
            artifactType: artifactType, source: candidate.source, tag: candidate.tag)
        return (referrer, bytes)
    }

    /// A child image manifest of a referrer that is an index (an attestation bundle), with its blobs.
    private func storeChild(_ child: Descriptor, referrer: Digest, subject: Digest) async throws(ReferrerError) -> Int64 {
        let fetched: FetchedManifest
        let content: FetchedManifest.Content
        do throws(RegistryError) {
            fetched = try await client.fetchManifest(repository, digest: child.digest, size: child.size)
            content = try fetched.decode()
        } catch {
            if error.isCancellation { throw .cancelled }
            throw .fetch(referrer: referrer, subject: subject, .registry(error))
        }
        var bytes: Int64 = 0
        if case .image(let image) = content {
            for blob in image.blobs {
                do throws(PullError) {
                    bytes += try await blobs.ensure(
                        blob, kind: .layer, repository: repository, client: client, observer: observer
                    ).bytes
                } catch {
                    if error.isCancellation { throw .cancelled }
                    throw .fetch(referrer: referrer, subject: subject, error)
                }
            }
        }
        do { try store.writeBlob(fetched.bytes, digest: child.digest) } catch { throw .store(error) }
        return bytes
    }
}

extension FallbackPuller {
    /// The referrers found for one pulled reference.
    public struct ReferrerResult: Sendable {
        /// Every referrer stored, each once.
        public var referrers: [Referrer]
        /// Bytes received for them.
        public var bytes: Int64
    }

    /// Finds and stores the referrers of what `success` stored: the manifest (image or index), each selected
    /// child, and their referrers to a bounded depth. Asked of the endpoint that served the pull (a digest
    /// served by the store: the registry's own first endpoint). A ``ReferrerError`` becomes the failure of the
    /// reference (a local store failure stops the run as for any pull).
    public func referrers(
        of success: Success, selection: ReferrerSelection, observer: any PullObserver = SilentPullObserver()
    ) async throws(PullFailure) -> ReferrerResult {
        do throws(ReferrerError) {
            return try await discoverReferrers(of: success, selection: selection, observer: observer)
        } catch {
            switch error {
            case .cancelled:
                throw PullFailure(kind: .cancelled, message: "context canceled", provenance: success.provenance)
            case .store(let storeError):
                throw PullFailure(
                    kind: .localStore, message: error.description, provenance: success.provenance,
                    storeError: storeError)
            default:
                throw PullFailure(kind: .unknown, message: error.description, provenance: success.provenance)
            }
        }
    }

    /// ``referrers(of:selection:observer:)`` with the discovery's own error.
    public func discoverReferrers(
        of success: Success, selection: ReferrerSelection, observer: any PullObserver = SilentPullObserver()
    ) async throws(ReferrerError) -> ReferrerResult {
        guard selection != .none else { return ReferrerResult(referrers: [], bytes: 0) }
        let reference = success.image.reference
        let endpoints = resolver.endpoints(for: reference.domain)
        guard
            let endpoint = endpoints.first(where: { $0.description == success.provenance.servedBy })
                ?? endpoints.first(where: { !$0.isMirror }) ?? endpoints.first
        else { return ReferrerResult(referrers: [], bytes: 0) }
        let discovery = ReferrerDiscovery(
            client: session.client(for: endpoint), repository: reference.path, store: store, blobs: blobs,
            support: referrersSupport, selection: selection, observer: observer, logger: session.logger)
        let subjects = [success.image.manifestDigest] + success.image.children.map(\.digest)
        let (found, bytes) = try await discovery.discover(subjects)
        return ReferrerResult(referrers: found, bytes: bytes)
    }
}
