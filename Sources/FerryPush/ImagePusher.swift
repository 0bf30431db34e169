import FerryHTTP
import FerryPull
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel
import Synchronization
import OCIRegistry

/// Where a reference is pushed.
public struct PushTarget: Sendable, Hashable, CustomStringConvertible {
    /// The kind of destination.
    public enum Destination: Sendable, Hashable {
        /// A registry, with an optional path prefix.
        case registry(host: String, prefix: String?)
        /// Another OCI image layout directory (removable media, an export area).
        case layout(path: String)
    }

    /// The target's name in the mirror list (or `--to` for an ad-hoc destination).
    public var name: String
    /// The destination.
    public var destination: Destination

    /// Creates a target.
    public init(name: String, destination: Destination) {
        self.name = name
        self.destination = destination
    }

    /// `name (registry host/prefix)` or `name (layout path)`.
    public var description: String {
        switch destination {
        case .registry(let host, let prefix): "\(name) (\(host)\(prefix.map { "/\($0)" } ?? ""))"
        case .layout(let path): "\(name) (layout \(path))"
        }
    }

    /// The destination reference for `source`: prefix plus the full source path, so two sources with the same
    /// last path component never collide — `docker.io/library/alpine:3.20` with host `registry.internal:5000` and
    /// prefix `mirror` becomes `registry.internal:5000/mirror/docker.io/library/alpine:3.20`. A source domain's
    /// `:port` becomes `_port` (a colon is not allowed in a path; an underscore cannot occur in a host name, so the
    /// mapping is unambiguous). For a layout the reference name stays the source's.
    public func destinationReference(for source: ImageReference) throws(PushError) -> ImageReference {
        guard case .registry(let host, let prefix) = destination else { return source }
        let domain = Self.pathComponent(forDomain: source.domain)
        var text = host + "/"
        if let prefix, !prefix.isEmpty { text += prefix + "/" }
        text += domain + "/" + source.path
        if let tag = source.tag { text += ":" + tag }
        if let digest = source.digest { text += "@" + digest.description }
        do {
            return try ImageReference(parsingStrict: text)
        } catch {
            throw .invalidDestination(source: source.string, destination: text, reason: error.description)
        }
    }

    /// `registry.example:5000` → `registry.example_5000`; `[::1]:5000` → `ipv6---1_5000` (colons of the
    /// address become dashes).
    static func pathComponent(forDomain domain: String) -> String {
        var host = domain.lowercased()
        var port: String?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) }
            host = "ipv6-" + host[host.index(after: host.startIndex)..<close].replacingOccurrences(of: ":", with: "-")
        } else if let colon = host.lastIndex(of: ":") {
            port = String(host[host.index(after: colon)...])
            host = String(host[..<colon])
        }
        return port.map { "\(host)_\($0)" } ?? host
    }
}

/// Why a push could not start or finish.
public enum PushError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The destination name is not a valid reference.
    case invalidDestination(source: String, destination: String, reason: String)
    /// Content the push needs is not in the store.
    case missingContent(Digest, reference: String)
    /// The registry refused or failed.
    case registry(RegistryError)
    /// The local store failed.
    case store(ContentStoreError)
    /// An index lists children the store does not have (a platform filter) and the registry wants them all.
    case partialIndex(reference: String, missing: [String], error: RegistryError)

    /// A message naming the reference.
    public var description: String {
        switch self {
        case .invalidDestination(let source, let destination, let reason):
            "cannot push \(source): destination \(destination) is not a valid reference: \(reason)"
        case .missingContent(let digest, let reference):
            "cannot push \(reference): \(digest) is not in the store (run ferry verify --repair)"
        case .registry(let error): error.description
        case .store(let error): error.description
        case .partialIndex(let reference, let missing, let error):
            "cannot push \(reference): the registry refused its index (\(error)); the store holds only some of its platforms (missing \(missing.joined(separator: ", "))): mirror it with platforms: all to push it"
        }
    }
}

/// The outcome of one push, ready to be recorded.
public struct PushResult: Sendable {
    /// The record for the reference store and reports.
    public var record: PushRecord
    /// The destination repository path.
    public var repository: String
    /// Blobs now known to be in that repository (for later mounts).
    public var knownBlobs: [Digest]
    /// For a manifest with `subject` that was written: whether the registry answered with `OCI-Subject` (it
    /// indexed the referrer itself); nil when nothing was written or the target is a layout.
    public var subjectIndexed: Bool? = nil
}

/// Pushes stored references to registry and layout targets, byte for byte (digests preserved).
///
/// Per blob: a `HEAD` at the destination (skip if present); else a cross-repository mount from a repository of the
/// same registry that ferry pushed the blob to before (remembered in the reference store); else an upload. Then
/// child manifests by digest, the top manifest by digest, then by tag. A tag already at the right digest costs
/// one `HEAD`.
public struct ImagePusher: Sendable {
    /// Shared transport, credentials and caches (the same as for pulling).
    public let session: RegistrySession
    /// The source store.
    public let store: ContentStore
    /// Records pushes and picks mount sources; nil for no record.
    public let ledger: ReferenceStore?
    /// Endpoint rules (mirrors are never used for pushes).
    public let resolver: EndpointResolver
    /// Blobs pushed at once per reference.
    public let parallelBlobs: Int
    /// Blobs larger than this are uploaded in chunks of this size.
    public let chunkSize: Int64
    // One store per layout target path for the pusher's lifetime, so its index.json is read once and written once
    // per batch (``flushLayouts()``) however many references go there.
    private let layouts = LayoutTargets()
    // Blobs this pusher placed in a repository, for mounts later in the same run: the reference store learns
    // of them only when the run's batch of records is committed.
    private let placed = PlacedBlobs()

    /// Creates a pusher.
    public init(
        session: RegistrySession, store: ContentStore, ledger: ReferenceStore?, resolver: EndpointResolver,
        parallelBlobs: Int = 4, chunkSize: Int64 = RegistryClient.chunkSize
    ) {
        self.session = session
        self.store = store
        self.ledger = ledger
        self.resolver = resolver
        self.parallelBlobs = max(parallelBlobs, 1)
        self.chunkSize = chunkSize
    }

    /// Pushes `reference` (stored as `descriptor` in `index.json`) to `target` and records the result in the
    /// reference store.
    public func push(
        _ reference: ImageReference, descriptor: Descriptor, to target: PushTarget, runID: RunID
    ) async -> PushRecord {
        var result = await attempt(reference, descriptor: descriptor, to: target, runID: runID)
        do {
            try flushLayouts()
        } catch {
            result.record.outcome = .failed
            result.record.error = error.description
        }
        await record(result)
        return result.record
    }

    /// Writes the `index.json` of every layout target that received references since the last call.
    public func flushLayouts() throws(ContentStoreError) {
        try layouts.flush()
    }

    /// Records a push result in the reference store; a failure to record is logged, not fatal for the push.
    public func record(_ result: PushResult) async {
        guard let ledger else { return }
        do {
            try await ledger.recordPush(result.record, repository: result.repository, blobs: result.knownBlobs)
        } catch {
            session.logger.warning(
                "Cannot record push", metadata: ["reference": "\(result.record.reference)", "error": "\(error)"])
        }
    }

    /// Pushes without recording: for callers that record from a task that is never cancelled.
    public func attempt(
        _ reference: ImageReference, descriptor: Descriptor, to target: PushTarget, runID: RunID
    ) async -> PushResult {
        let destinationText: String
        let registryName: String
        switch target.destination {
        case .registry(let host, _): registryName = host
        case .layout(let path): registryName = path
        }
        var record = PushRecord(
            runID: runID, reference: reference.string, target: target.name,
            destination: reference.string, registry: registryName, digest: descriptor.digest, outcome: .failed)
        let destination: ImageReference
        do {
            destination = try target.destinationReference(for: reference)
        } catch {
            record.error = error.description
            return PushResult(record: record, repository: "", knownBlobs: [])
        }
        switch target.destination {
        case .registry: destinationText = destination.string
        case .layout(let path): destinationText = "oci:\(path):\(reference.string)"
        }
        record.destination = destinationText
        var counts = Counts()
        do throws(PushError) {
            switch target.destination {
            case .layout(let path):
                counts = try copyToLayout(reference, descriptor: descriptor, path: path)
            case .registry:
                counts = try await pushToRegistry(reference, descriptor: descriptor, destination: destination)
            }
            record.outcome = counts.wroteSomething ? .pushed : .upToDate
        } catch {
            record.error = error.description
        }
        record.bytes = counts.bytes
        record.blobsUploaded = counts.uploaded
        record.blobsMounted = counts.mounted
        record.blobsPresent = counts.present
        var result = PushResult(record: record, repository: destination.path, knownBlobs: counts.knownBlobs)
        result.subjectIndexed = counts.subjectIndexed
        return result
    }

    struct Counts: Sendable {
        var bytes: Int64 = 0
        var uploaded = 0
        var mounted = 0
        var present = 0
        var manifestsWritten = 0
        var knownBlobs: [Digest] = []
        var subjectIndexed: Bool?

        var wroteSomething: Bool { uploaded + mounted + manifestsWritten > 0 }
    }

    /// The manifests of the reference in push order (children before their index) and the blobs they need.
    struct Tree {
        var manifests: [(digest: Digest, bytes: [UInt8], mediaType: MediaType)] = []
        var blobs: [Descriptor] = []
        var missingChildren: [String] = []
    }

    func tree(_ reference: ImageReference, descriptor: Descriptor) throws(PushError) -> Tree {
        var tree = Tree()
        let top = try manifest(descriptor.digest, reference: reference)
        if descriptor.mediaType.isIndex {
            let index: ImageIndex
            do { index = try JSONDecoder().decode(ImageIndex.self, from: Data(top)) } catch {
                throw .store(.invalidIndex(path: store.blobPath(descriptor.digest), message: "\(error)"))
            }
            for child in index.manifests {
                guard store.hasBlob(child.digest) else {
                    tree.missingChildren.append(child.platform?.description ?? child.digest.description)
                    continue
                }
                let bytes = try manifest(child.digest, reference: reference)
                try addImage(bytes, digest: child.digest, mediaType: child.mediaType, reference: reference, to: &tree)
            }
            tree.manifests.append((descriptor.digest, top, descriptor.mediaType))
        } else {
            try addImage(top, digest: descriptor.digest, mediaType: descriptor.mediaType, reference: reference, to: &tree)
        }
        return tree
    }

    private func manifest(_ digest: Digest, reference: ImageReference) throws(PushError) -> [UInt8] {
        do {
            return try store.readBlob(digest)
        } catch {
            if case .missingBlob = error { throw .missingContent(digest, reference: reference.string) }
            throw .store(error)
        }
    }

    private func addImage(
        _ bytes: [UInt8], digest: Digest, mediaType: MediaType, reference: ImageReference, to tree: inout Tree
    ) throws(PushError) {
        let image: ImageManifest
        do { image = try JSONDecoder().decode(ImageManifest.self, from: Data(bytes)) } catch {
            throw .store(.invalidIndex(path: store.blobPath(digest), message: "\(error)"))
        }
        for blob in image.blobs where !tree.blobs.contains(where: { $0.digest == blob.digest }) {
            guard store.hasBlob(blob.digest) else { throw .missingContent(blob.digest, reference: reference.string) }
            tree.blobs.append(blob)
        }
        tree.manifests.append((digest, bytes, mediaType))
    }

    // MARK: Registry

    private func pushToRegistry(
        _ reference: ImageReference, descriptor: Descriptor, destination: ImageReference
    ) async throws(PushError) -> Counts {
        let endpoints = resolver.endpoints(for: destination.domain).filter { !$0.isMirror }
        var lastError: RegistryError?
        for endpoint in endpoints {
            let client = session.client(for: endpoint)
            do {
                return try await push(reference, descriptor: descriptor, destination: destination, client: client)
            } catch {
                // Only a transport failure before any HTTP answer lets the next endpoint (plain http) be tried.
                if case .registry(let registryError) = error, case .request(_, _, .transport(let transport)) = registryError,
                    transport.isBeforeHTTP, !session.hasResponded(endpoint)
                {
                    lastError = registryError
                    continue
                }
                throw error
            }
        }
        throw .registry(lastError ?? .invalidResponse(url: destination.domain, message: "no endpoints found"))
    }

    private func push(
        _ reference: ImageReference, descriptor: Descriptor, destination: ImageReference, client: RegistryClient
    ) async throws(PushError) -> Counts {
        let repository = destination.path
        var counts = Counts()
        // A tag already at the digest costs one HEAD; a digest-only reference checks the manifest itself.
        let current: Digest?
        do {
            current = try await client.taggedDigest(repository, tag: destination.tag ?? descriptor.digest.description)
        } catch {
            throw .registry(error)
        }
        if current == descriptor.digest { return counts }
        let tree = try tree(reference, descriptor: descriptor)
        let registryHost = client.endpoint.host
        let ledger = self.ledger
        let placed = self.placed
        let store = self.store
        let chunkSize = self.chunkSize
        // Blobs in parallel, bounded; the first failure wins.
        let parallelBlobs = self.parallelBlobs
        let results = await withTaskGroup(of: BlobPush.self) { group in
            var next = 0
            var collected: [BlobPush] = []
            for _ in 0..<parallelBlobs where next < tree.blobs.count {
                let blob = tree.blobs[next]
                next += 1
                group.addTask {
                    await Self.pushBlob(blob, repository: repository, client: client, store: store, ledger: ledger,
                                        placed: placed, registry: registryHost, chunkSize: chunkSize)
                }
            }
            for await result in group {
                collected.append(result)
                if case .failure = result.result {
                    group.cancelAll()
                } else if next < tree.blobs.count {
                    let blob = tree.blobs[next]
                    next += 1
                    group.addTask {
                        await Self.pushBlob(blob, repository: repository, client: client, store: store, ledger: ledger,
                                            placed: placed, registry: registryHost, chunkSize: chunkSize)
                    }
                }
            }
            return collected.map(\.result)
        }
        for result in results {
            switch result {
            case .success(let (blob, outcome)):
                counts.knownBlobs.append(blob.digest)
                switch outcome {
                case .present: counts.present += 1
                case .mounted: counts.mounted += 1
                case .uploaded:
                    counts.uploaded += 1
                    counts.bytes += blob.size
                }
            case .failure(let error):
                throw error
            }
        }
        placed.add(counts.knownBlobs, registry: registryHost, repository: repository)
        do {
            for manifest in tree.manifests {
                let answer = try await client.putManifestAnswer(
                    repository, reference: manifest.digest.description, bytes: manifest.bytes, mediaType: manifest.mediaType)
                counts.subjectIndexed = answer.subject != nil
                counts.manifestsWritten += 1
            }
            if let tag = destination.tag, let top = tree.manifests.last {
                _ = try await client.putManifest(repository, reference: tag, bytes: top.bytes, mediaType: top.mediaType)
            }
        } catch {
            if !tree.missingChildren.isEmpty {
                throw .partialIndex(reference: reference.string, missing: tree.missingChildren, error: error)
            }
            throw .registry(error)
        }
        return counts
    }

    struct BlobPush: Sendable {
        var result: Result<(Descriptor, BlobPushOutcome), PushError>
    }

    // A plain function builds each child's result (see EndpointPuller.ensure for why).
    private static func pushBlob(
        _ blob: Descriptor, repository: String, client: RegistryClient, store: ContentStore, ledger: ReferenceStore?,
        placed: PlacedBlobs, registry: String, chunkSize: Int64
    ) async -> BlobPush {
        let recorded = (try? await ledger?.mountSources(registry: registry, digest: blob.digest)) ?? []
        let sources = recorded + placed.repositories(registry: registry, digest: blob.digest).filter {
            !recorded.contains($0)
        }
        do {
            let outcome = try await client.pushBlob(
                repository, descriptor: blob, file: store.blobPath(blob.digest), mountFrom: sources, chunkSize: chunkSize)
            return BlobPush(result: .success((blob, outcome)))
        } catch {
            return BlobPush(result: .failure(.registry(error)))
        }
    }

    // MARK: Layout

    private func copyToLayout(
        _ reference: ImageReference, descriptor: Descriptor, path: String
    ) throws(PushError) -> Counts {
        var counts = Counts()
        let destination: ContentStore
        do {
            destination = try layouts.store(at: path)
            if try destination.reference(named: reference.string)?.digest == descriptor.digest,
                destination.hasBlob(descriptor.digest)
            {
                return counts
            }
        } catch {
            throw .store(error)
        }
        let tree = try tree(reference, descriptor: descriptor)
        do {
            for blob in tree.blobs {
                let copied = try destination.copyBlob(blob.digest, from: store)
                if copied > 0 {
                    counts.uploaded += 1
                    counts.bytes += copied
                } else {
                    counts.present += 1
                }
            }
            for manifest in tree.manifests where !destination.hasBlob(manifest.digest) {
                try destination.writeBlob(manifest.bytes, digest: manifest.digest)
                counts.manifestsWritten += 1
            }
            try destination.setReference(reference.string, to: descriptor)
            counts.manifestsWritten += 1
        } catch {
            throw .store(error)
        }
        return counts
    }
}

/// The layout targets a pusher writes to, each opened (prepared) once and written in batches.
final class LayoutTargets: Sendable {
    private let stores = Mutex<[String: ContentStore]>([:])

    func store(at path: String) throws(ContentStoreError) -> ContentStore {
        try stores.withLock { stores throws(ContentStoreError) in
            if let store = stores[path] { return store }
            let store = ContentStore(root: path, writes: .batched)
            try store.prepare()
            stores[path] = store
            return store
        }
    }

    func flush() throws(ContentStoreError) {
        let all = stores.withLock { Array($0.values) }
        for store in all {
            try store.syncDirectories()
            try store.flushIndex()
        }
    }
}

/// Repositories per registry and blob that a pusher placed blobs in during its lifetime, oldest first.
final class PlacedBlobs: Sendable {
    private struct Key: Hashable {
        var registry: String
        var digest: Digest
    }

    private let repositories = Mutex<[Key: [String]]>([:])

    func add(_ digests: [Digest], registry: String, repository: String) {
        repositories.withLock { table in
            for digest in digests {
                let key = Key(registry: registry, digest: digest)
                if table[key]?.contains(repository) != true { table[key, default: []].append(repository) }
            }
        }
    }

    func repositories(registry: String, digest: Digest) -> [String] {
        repositories.withLock { $0[Key(registry: registry, digest: digest)] ?? [] }
    }
}
