import Foundation
import OCIModel
import Synchronization

/// An artifact pushed to a registry under `repository:tag`.
public struct SeededReference: Sendable, Hashable {
    /// The repository path on the registry.
    public var repository: String
    /// The tag.
    public var tag: String
    /// What the tag points to.
    public var artifact: BuiltArtifact

    /// Creates a record.
    public init(repository: String, tag: String, artifact: BuiltArtifact) {
        self.repository = repository
        self.tag = tag
        self.artifact = artifact
    }

    /// `host/repository:tag` on `endpoint`.
    public func reference(on endpoint: RegistryServerEndpoint) -> String { endpoint.reference(repository, tag: tag) }
}

/// Ready-made image sets for demos, benchmarks and end-to-end tests; all deterministic.
public enum SampleImages {
    /// Tags of the demo repositories, semver-like on purpose (selectors in mirror lists need them).
    public static let demoAppTags = ["1.0.0", "1.1.0", "1.2.0", "2.0.0-rc1"]

    /// Pushes the demo set: `demo/app` (OCI; tags ``demoAppTags`` plus `latest` = 1.2.0), `demo/tool` (Docker
    /// schema 2; 1.0.0, 1.1.0, `latest` = 1.1.0), `demo/multi` (OCI index over linux/amd64, linux/arm64/v8,
    /// linux/arm/v7; 1.0.0, `latest`) and `demo/multi-docker` (the same as a Docker manifest list).
    public static func seedDemo(into endpoint: RegistryServerEndpoint, layout: OCILayoutBuilder) async throws
        -> [SeededReference]
    {
        var plan: [SeededReference] = []
        func add(_ repository: String, _ tags: [String], _ artifact: some BuiltArtifactConvertible) throws {
            for tag in tags {
                try layout.tag(artifact, as: "\(repository):\(tag)")
                plan.append(SeededReference(repository: repository, tag: tag, artifact: artifact.artifact))
            }
        }
        for (offset, tag) in demoAppTags.enumerated() {
            let image = try layout.image(.small(seed: 1000 + UInt64(offset)))
            try add("demo/app", tag == "1.2.0" ? [tag, "latest"] : [tag], image)
        }
        for (offset, tag) in ["1.0.0", "1.1.0"].enumerated() {
            let image = try layout.image(.small(seed: 2000 + UInt64(offset), format: .docker))
            try add("demo/tool", tag == "1.1.0" ? [tag, "latest"] : [tag], image)
        }
        try add("demo/multi", ["1.0.0", "latest"], try layout.index(.multiArch(seed: 3000)))
        try add("demo/multi-docker", ["1.0.0", "latest"], try layout.index(.multiArch(seed: 4000, format: .docker)))
        try await push(plan, layout: layout, endpoint: endpoint)
        return plan
    }

    /// Pushes `repositories` × `tags` images of `layers` layers of `layerSize` pseudo-random bytes each, as
    /// `bench/repo-NN:1.0.0`, `1.1.0`, …; no two layers are equal, so every byte is transferred once.
    public static func seedBenchmark(
        into endpoint: RegistryServerEndpoint, layout: OCILayoutBuilder, repositories: Int, tags: Int, layers: Int,
        layerSize: Int64, format: ManifestFormat = .oci, compression: LayerCompression = .none
    ) async throws -> [SeededReference] {
        guard repositories > 0, tags > 0, layers > 0, layerSize >= 0 else {
            throw TestSupportError.invalidArgument("benchmark set needs positive repos, tags and layers")
        }
        var plan: [SeededReference] = []
        for repositoryIndex in 0..<repositories {
            let repository = "bench/repo-" + String(zeroPadded: repositoryIndex, width: 2)
            for tagIndex in 0..<tags {
                let seed = UInt64(repositoryIndex) << 32 | UInt64(tagIndex) << 16
                let spec = ImageSpec(
                    format: format,
                    layers: (0..<layers).map {
                        .random(seed: seed | UInt64($0), size: layerSize, compression: compression)
                    },
                    labels: ["org.ferry.fixture.seed": String(seed)])
                let tag = "1.\(tagIndex).0"
                let image = try layout.addImage(spec, refName: "\(repository):\(tag)")
                plan.append(SeededReference(repository: repository, tag: tag, artifact: .image(image)))
            }
        }
        try await push(plan, layout: layout, endpoint: endpoint)
        return plan
    }

    /// Writes `images` small images straight into `storage` (no push, see ``RegistryStorageWriter``): image `i` is
    /// `scale/repo-NNN:1.T.0` with `NNN` = `i / tagsPerRepository` and `T` = `i % tagsPerRepository`, like a few
    /// hundred repositories with their release history. Each image has its own config and one uncompressed layer of
    /// `layerSize` pseudo-random bytes, so no two images share a blob; image `i` is the same in every set, so the
    /// first `n` references of a larger set are the set of `n`.
    public static func seedScale(into storage: RegistryStorage, images: Int, tagsPerRepository: Int, layerSize: Int64)
        throws -> [SeededReference]
    {
        guard images > 0, tagsPerRepository > 0, layerSize >= 0 else {
            throw TestSupportError.invalidArgument("scale set needs positive images and tags per repository")
        }
        let repositories = (images + tagsPerRepository - 1) / tagsPerRepository
        let width = max(3, String(repositories - 1).count)
        // Creating files and directories is nearly all system time, so one writer per core nearly halves it; each
        // takes whole repositories, so that only the shared blobs/sha256/xx directories see two writers.
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, repositories))
        let results = Mutex<[Int: Result<[SeededReference], TestSupportError>]>([:])
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range =
                (repositories * worker / workers * tagsPerRepository)..<min(
                    images, repositories * (worker + 1) / workers * tagsPerRepository)
            let result: Result<[SeededReference], TestSupportError>
            do {
                result = .success(
                    try scaleImages(range, into: storage, tagsPerRepository: tagsPerRepository, width: width,
                                    layerSize: layerSize))
            } catch let error as TestSupportError {
                result = .failure(error)
            } catch {
                result = .failure(.invalidArgument("scale set: \(error)"))
            }
            results.withLock { $0[worker] = result }
        }
        let finished = results.withLock { $0 }
        return try (0..<workers).flatMap { worker in try finished[worker, default: .success([])].get() }
    }

    private static func scaleImages(
        _ range: Range<Int>, into storage: RegistryStorage, tagsPerRepository: Int, width: Int, layerSize: Int64
    ) throws -> [SeededReference] {
        let writer = RegistryStorageWriter(storage: storage)
        var plan: [SeededReference] = []
        plan.reserveCapacity(range.count)
        for index in range {
            let repository = "scale/repo-" + String(zeroPadded: index / tagsPerRepository, width: width)
            let tag = "1.\(index % tagsPerRepository).0"
            let seed = 0x5CA1_E000_0000_0000 | UInt64(index)
            let image = try InMemoryImage(
                ImageSpec(
                    layers: [.random(seed: seed, size: layerSize)], labels: ["org.ferry.fixture.seed": String(seed)]))
            try writer.put(image, repository: repository, tags: [tag])
            plan.append(SeededReference(repository: repository, tag: tag, artifact: .image(image.image)))
        }
        return plan
    }

    /// Pushes `big/blob:latest`, one image whose single uncompressed layer holds `size` pseudo-random bytes.
    public static func seedBigBlob(into endpoint: RegistryServerEndpoint, layout: OCILayoutBuilder, size: Int64)
        async throws
        -> SeededReference
    {
        let spec = ImageSpec(layers: [.random(seed: 0xB16B, size: size)], labels: ["org.ferry.fixture.size": "\(size)"])
        let image = try layout.addImage(spec, refName: "big/blob:latest")
        let seeded = SeededReference(repository: "big/blob", tag: "latest", artifact: .image(image))
        try await push([seeded], layout: layout, endpoint: endpoint)
        return seeded
    }

    /// Pushes each artifact once per repository, two at a time (the registry and skopeo share two cores with
    /// everything else), then adds the remaining tags by re-putting the manifest: two concurrent pushes of the same
    /// blobs into one repository race inside distribution 2.8 ("manifest blob unknown").
    static func push(_ plan: [SeededReference], layout: OCILayoutBuilder, endpoint: RegistryServerEndpoint) async throws
    {
        let seeder = RegistrySeeder(endpoint)
        var firsts: [SeededReference] = []
        var aliases: [SeededReference] = []
        var seen = Set<String>()
        for entry in plan {
            if seen.insert("\(entry.repository)@\(entry.artifact.digest)").inserted {
                firsts.append(entry)
            } else {
                aliases.append(entry)
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = firsts.makeIterator()
            for _ in 0..<2 {
                guard let entry = pending.next() else { break }
                group.addTask {
                    try await seeder.push(entry.artifact, from: layout, to: entry.repository, tag: entry.tag)
                }
            }
            while try await group.next() != nil {
                guard let entry = pending.next() else { continue }
                group.addTask {
                    try await seeder.push(entry.artifact, from: layout, to: entry.repository, tag: entry.tag)
                }
            }
        }
        for alias in aliases {
            try await seeder.moveTag(alias.repository, tag: alias.tag, to: alias.artifact.digest)
        }
    }
}

extension String {
    /// Zero-padded decimal of at least `width` digits, without Foundation's `String(format:)`.
    fileprivate init(zeroPadded value: Int, width: Int) {
        let digits = String(value)
        self = String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
    }
}
