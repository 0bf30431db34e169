import FerryPull
import FerrySystem
import Foundation
import LayoutStore
import Ledger
import Logging
import OCIModel

/// What `ferry verify` found.
public struct VerifyReport: Sendable {
    /// A blob whose bytes do not hash to its name.
    public struct Corrupt: Sendable, Hashable {
        /// The blob's name.
        public var digest: Digest
        /// What its bytes hash to.
        public var actual: Digest
    }

    /// Content a stored reference needs that is not in the store.
    public struct Missing: Sendable, Hashable {
        /// The reference (its `index.json` name).
        public var reference: String
        /// The missing digest.
        public var digest: Digest
        /// What it is: manifest, config, layer.
        public var kind: String
    }

    /// A referrer (signature, SBOM, attestation) the reference store recorded for an image, not in the store.
    public struct MissingReferrer: Sendable, Hashable {
        /// The image: a name `index.json` gives its manifest, else `repository@digest`.
        public var image: String
        /// The referrer's digest.
        public var digest: Digest
        /// Signature, SBOM, attestation or other.
        public var kind: ReferrerKind
        /// Its artifact type.
        public var artifactType: String
    }

    /// Blobs re-hashed.
    public var blobsChecked = 0
    /// Bytes re-hashed.
    public var bytesChecked: Int64 = 0
    /// References checked.
    public var referencesChecked = 0
    /// Corrupt blobs.
    public var corrupt: [Corrupt] = []
    /// Missing content.
    public var missing: [Missing] = []
    /// Recorded referrers whose manifest or blobs are not in the store.
    public var missingReferrers: [MissingReferrer] = []
    /// Disagreements between the reference store and `index.json`.
    public var inconsistent: [String] = []
    /// Names `index.json` has not caught up with yet (a run stopped between its reference-store commit and its
    /// `index.json` write): healthy, brought in line by the next run or `--repair`.
    public var lagging: [IndexReconciler.Lagging] = []
    /// Files under `blobs/` that are not named like a digest, and not a killed write's leftover.
    public var strayFiles: [String] = []
    /// Temporary files killed writes left (see ``ContentStore/leftovers(inBlobs:)``): harmless, removed by the next
    /// run or `--repair`.
    public var leftovers: [String] = []
    /// Partial downloads waiting in `tmp/` (resumed by the next run; not a problem).
    public var partialDownloads = 0
    /// References whose content is missing or corrupt: what `--repair` re-fetches.
    public var affectedReferences: [String] = []

    /// True when nothing is missing, corrupt or inconsistent, and `blobs/` holds nothing but blobs (a foreign file
    /// there breaks the OCI layout for other readers, and ferry cannot tell what put it there).
    public var isHealthy: Bool {
        corrupt.isEmpty && missing.isEmpty && missingReferrers.isEmpty && inconsistent.isEmpty && strayFiles.isEmpty
    }
}

/// Checks a store: re-hashes every blob (in parallel), checks every reference's manifest, config and layers are
/// present, and that the reference store agrees with `index.json`.
public struct StoreVerifier: Sendable {
    /// The store.
    public let store: ContentStore
    /// The reference store; nil skips the consistency check.
    public let ledger: ReferenceStore?
    /// Blobs hashed at once.
    public let parallelism: Int

    /// Creates a verifier.
    public init(store: ContentStore, ledger: ReferenceStore?, parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.store = store
        self.ledger = ledger
        self.parallelism = max(parallelism, 1)
    }

    /// Verifies the whole store.
    public func verify() async throws -> VerifyReport {
        var report = VerifyReport()
        let digests = try store.allBlobs()
        let tally = await hashAll(digests)
        report.blobsChecked = tally.checked
        report.bytesChecked = tally.bytes
        report.corrupt = tally.corrupt.sorted { $0.digest < $1.digest }
        report.inconsistent += tally.unreadable
        let corrupt = Set(tally.corrupt.map(\.digest))
        report.leftovers = store.leftovers(inBlobs: true)
        report.strayFiles = strayFiles()
        report.partialDownloads = ((try? FileSystem.list(store.path("tmp"))) ?? []).count { $0.hasSuffix(".partial") }

        let requiredChildren = try await ledger?.recordedChildren() ?? []
        var affected: Set<String> = []
        let roots = try StoreWalk.roots(store)
        for (name, top) in roots {
            report.referencesChecked += 1
            let tree = StoreWalk.tree(name: name, top: top, store: store, requiredChildren: requiredChildren)
            for (digest, kind) in tree.needed {
                if corrupt.contains(digest) {
                    affected.insert(name)
                } else if !store.hasBlob(digest) {
                    report.missing.append(.init(reference: name, digest: digest, kind: kind))
                    affected.insert(name)
                }
            }
            for digest in tree.unreadable {
                report.inconsistent.append("\(name): manifest \(digest) is not a readable manifest")
            }
        }
        if let ledger {
            report.missingReferrers = try await missingReferrers(ledger: ledger, roots: roots, corrupt: corrupt)
            report.inconsistent += try await ledger.integrityProblems().map { "\(ledger.path): \($0)" }
            let findings = try await IndexReconciler(store: store, ledger: ledger).check()
            report.lagging = findings.lagging
            report.inconsistent += findings.conflicts.map(\.description)
        }
        report.affectedReferences = affected.sorted()
        return report
    }

    /// Current referrers whose manifest, config or layers are missing or corrupt, named by their image.
    private func missingReferrers(ledger: ReferenceStore, roots: [(String, Descriptor)], corrupt: Set<Digest>)
        async throws -> [VerifyReport.MissingReferrer]
    {
        var result: [VerifyReport.MissingReferrer] = []
        for recorded in try await ledger.recordedReferrers() where recorded.removedRunID == nil {
            let referrer = recorded.referrer
            let tree = StoreWalk.tree(name: recorded.name, top: referrer.descriptor, store: store)
            guard tree.needed.contains(where: { !store.hasBlob($0.digest) || corrupt.contains($0.digest) }) else {
                continue
            }
            let image =
                roots.first { name, top in
                    top.digest == recorded.imageDigest && name.hasPrefix(recorded.repository + ":")
                }?.0 ?? "\(recorded.repository)@\(recorded.imageDigest)"
            result.append(.init(image: image, digest: referrer.digest, kind: referrer.kind, artifactType: referrer.artifactType))
        }
        return result
    }

    struct Hashed: Sendable {
        var digest: Digest
        var result: Result<(Digest, Int64), FileSystemError>
    }

    /// What re-hashing found: totals, and only the blobs that need attention (a big store is tens of thousands of
    /// blobs; keeping every result would hold them all).
    struct HashTally {
        var checked = 0
        var bytes: Int64 = 0
        var corrupt: [VerifyReport.Corrupt] = []
        var unreadable: [String] = []

        mutating func add(_ hashed: Hashed) {
            switch hashed.result {
            case .success(let (actual, size)):
                checked += 1
                bytes += size
                if actual != hashed.digest { corrupt.append(.init(digest: hashed.digest, actual: actual)) }
            case .failure(let error):
                unreadable.append("blob \(hashed.digest): \(error)")
            }
        }
    }

    private func hashAll(_ digests: [Digest]) async -> HashTally {
        let store = self.store
        return await withTaskGroup(of: Hashed.self) { group in
            var next = 0
            var tally = HashTally()
            for _ in 0..<parallelism where next < digests.count {
                let digest = digests[next]
                next += 1
                group.addTask { Self.hash(digest, store: store) }
            }
            for await hashed in group {
                tally.add(hashed)
                if next < digests.count {
                    let digest = digests[next]
                    next += 1
                    group.addTask { Self.hash(digest, store: store) }
                }
            }
            return tally
        }
    }

    // A plain function builds each child's result (see EndpointPuller.ensure for why).
    private static func hash(_ digest: Digest, store: ContentStore) -> Hashed {
        do {
            return Hashed(digest: digest, result: .success(try FileSystem.digest(ofFile: store.blobPath(digest), algorithm: digest.algorithm)))
        } catch {
            return Hashed(digest: digest, result: .failure(error))
        }
    }

    private func strayFiles() -> [String] {
        var stray: [String] = []
        for algorithm in Digest.Algorithm.allCases {
            let directory = store.path("blobs/\(algorithm.rawValue)")
            for name in (try? FileSystem.list(directory)) ?? []
            where (try? Digest(algorithm: algorithm, hex: name)) == nil && !FileSystem.isTemporaryLeftover(name) {
                stray.append("blobs/\(algorithm.rawValue)/\(name)")
            }
        }
        return stray.sorted()
    }

    /// Deletes corrupt blobs and re-fetches the affected references by digest through `puller` (mirrors, then the
    /// registry), keeping the platforms the store held. Returns what could not be repaired.
    public func repair(_ report: VerifyReport, puller: FallbackPuller) async -> [String] {
        for entry in report.corrupt { try? store.removeBlob(entry.digest) }
        var failures: [String] = []
        let roots = Dictionary(((try? StoreWalk.roots(store)) ?? []).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        // A referrer is not an image the puller can fetch by digest (its config is an artifact's); discovery in the
        // next sync finds it again and fetches what is missing.
        let referrerNames = Set(((try? await ledger?.recordedReferrers()) ?? []).map(\.name))
        for name in report.affectedReferences {
            if referrerNames.contains(name) {
                failures.append("\(name): a referrer; the next ferry sync fetches it again")
                continue
            }
            guard let top = roots[name], let reference = try? ImageReference(parsing: name) else {
                failures.append("\(name): not a reference ferry can fetch")
                continue
            }
            let pinned = reference.nameOnly.withDigest(top.digest)
            let platforms = selection(for: top)
            do throws(PullFailure) {
                _ = try await puller.pull(PullRequest(reference: pinned, platforms: platforms), updateIndex: false)
            } catch {
                failures.append("\(name): \(error.message)")
            }
        }
        return failures
    }

    /// For an index: the platforms of the children the store has (or had), so a repair keeps the same set.
    private func selection(for top: Descriptor) -> PlatformSelection {
        guard top.mediaType.isIndex, let bytes = try? store.readBlob(top.digest),
            let index = try? JSONDecoder().decode(ImageIndex.self, from: Data(bytes))
        else { return .all }
        let kept = index.manifests.filter { store.hasBlob($0.digest) }.compactMap(\.platform)
        return kept.isEmpty || kept.count == index.manifests.count ? .all : .list(kept)
    }
}
