import OCIModel

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
            let repository = "bench/repo-" + String(format2: repositoryIndex)
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
    /// Two-digit zero-padded decimal, without Foundation's `String(format:)`.
    fileprivate init(format2 value: Int) {
        self = value < 10 ? "0\(value)" : "\(value)"
    }
}
