import FerryHTTP
import LayoutStore
import OCIModel
import OCIRegistry

/// Bounds concurrent async work without blocking a thread (Swift's pool has two threads here).
actor AsyncLimiter {
    private let limit: Int
    private var active = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = max(limit, 1) }

    func acquire() async {
        if active < limit {
            active += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            active -= 1
        } else {
            // The slot passes straight to the oldest waiter.
            waiters.removeFirst().resume()
        }
    }
}

/// Puts blobs into the store: each digest is downloaded at most once at a time across all pulls of a run
/// (single-flight), and at most `maxConcurrentDownloads` downloads run at once.
public final class BlobFetcher: Sendable {
    /// The store blobs land in.
    public let store: ContentStore
    private let limiter: AsyncLimiter
    private let flights = FlightTable()

    /// What happened to one blob.
    public struct Outcome: Sendable {
        /// Bytes received over the network (0 when present or fetched by another pull).
        public var bytes: Int64
        /// True when the blob was already in the store.
        public var wasPresent: Bool
    }

    /// Creates a fetcher.
    public init(store: ContentStore, maxConcurrentDownloads: Int = 6) {
        self.store = store
        self.limiter = AsyncLimiter(limit: maxConcurrentDownloads)
    }

    /// Ensures `descriptor` is in the store, downloading it from `client` when missing.
    public func ensure(
        _ descriptor: Descriptor, kind: ContentKind, repository: String, client: RegistryClient,
        observer: any PullObserver
    ) async throws(PullError) -> Outcome {
        if store.hasBlob(descriptor.digest) {
            observer.blobPresent(descriptor)
            return Outcome(bytes: 0, wasPresent: true)
        }
        let (task, owner) = await flights.join(descriptor.digest) {
            Task {
                try await self.download(descriptor, kind: kind, repository: repository, client: client, observer: observer)
            }
        }
        do {
            let bytes = try await withTaskCancellationHandler {
                try await task.value
            } onCancel: {
                task.cancel()
            }
            if owner { await flights.finish(descriptor.digest) }
            return Outcome(bytes: owner ? bytes : 0, wasPresent: !owner)
        } catch {
            if owner { await flights.finish(descriptor.digest) }
            let failure = error as? PullError ?? .cancelled
            if owner || failure.isCancellation { throw failure }
            // The other pull may have used a failing endpoint; this pull's endpoint deserves its own try.
            if store.hasBlob(descriptor.digest) { return Outcome(bytes: 0, wasPresent: true) }
            let bytes = try await download(descriptor, kind: kind, repository: repository, client: client, observer: observer)
            return Outcome(bytes: bytes, wasPresent: false)
        }
    }

    private func download(
        _ descriptor: Descriptor, kind: ContentKind, repository: String, client: RegistryClient,
        observer: any PullObserver
    ) async throws(PullError) -> Int64 {
        await limiter.acquire()
        let result: Result<Int64, PullError>
        do throws(PullError) {
            result = .success(
                try await downloadHoldingSlot(
                    descriptor, kind: kind, repository: repository, client: client, observer: observer))
        } catch {
            result = .failure(error)
        }
        await limiter.release()
        return try result.get()
    }

    private func downloadHoldingSlot(
        _ descriptor: Descriptor, kind: ContentKind, repository: String, client: RegistryClient,
        observer: any PullObserver
    ) async throws(PullError) -> Int64 {
        if store.hasBlob(descriptor.digest) { return 0 }
        let staging = store.stagingPath(descriptor.digest)
        let progress = TransferProgress()
        observer.blobStarted(descriptor, progress: progress)
        let bytes: Int64
        do {
            bytes = try await client.downloadBlob(
                repository, descriptor: descriptor, kind: kind, to: staging, progress: progress)
        } catch {
            if case .localIO(let path, let message, let cause) = error {
                throw .store(.io(.init(path: path, operation: "write", code: cause?.code ?? 0, message: message)))
            }
            throw .registry(error)
        }
        do {
            try store.commitStaged(staging, as: descriptor.digest)
        } catch {
            throw .store(error)
        }
        observer.blobFinished(descriptor, bytes: bytes)
        return bytes
    }
}

/// In-flight downloads by digest.
actor FlightTable {
    private var flights: [Digest: Task<Int64, any Error>] = [:]

    /// The running task for `digest`, or a new one from `make`; `owner` is true for the caller that started it.
    func join(
        _ digest: Digest, make: @Sendable () -> Task<Int64, any Error>
    ) -> (Task<Int64, any Error>, owner: Bool) {
        if let running = flights[digest] { return (running, false) }
        let task = make()
        flights[digest] = task
        return (task, true)
    }

    func finish(_ digest: Digest) { flights[digest] = nil }
}
