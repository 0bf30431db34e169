import Foundation
import OCIModel

/// A signature-like artifact made by a test: an OCI manifest with `artifactType`, an empty (or given) config,
/// one payload layer and, for OCI 1.1 referrers, a `subject`. Its blobs are files in `directory`.
public struct TestArtifact: Sendable {
    /// The manifest bytes, exactly as pushed.
    public var manifestBytes: [UInt8]
    /// The manifest's descriptor (with its artifact type).
    public var descriptor: Descriptor
    /// The config and layer, with the files holding them.
    public var blobs: [(descriptor: Descriptor, path: String)]

    /// The manifest's digest.
    public var digest: Digest { descriptor.digest }

    /// cosign's signature artifact type.
    public static let signatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"
    /// An SPDX SBOM's artifact type.
    public static let sbomType = "application/spdx+json"

    /// Builds an artifact of `artifactType` whose payload is `payload`, referring to `subject` when given. A legacy
    /// cosign manifest (no subject, no artifactType, an image config) is `legacyCosign: true`.
    public static func make(
        artifactType: String, payload: String, subject: Descriptor?, in directory: String, legacyCosign: Bool = false
    ) throws -> TestArtifact {
        func blob(_ bytes: [UInt8], _ mediaType: String) throws -> (Descriptor, String) {
            let digest = Digest.sha256(of: bytes)
            let path = directory + "/" + digest.hex
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (Descriptor(mediaType: MediaType(rawValue: mediaType), digest: digest, size: Int64(bytes.count)), path)
        }
        let config =
            legacyCosign
            ? try blob(Array(#"{"architecture":"","config":{},"created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8), "application/vnd.oci.image.config.v1+json")
            : try blob(Array("{}".utf8), "application/vnd.oci.empty.v1+json")
        let layerType = legacyCosign ? "application/vnd.dev.cosign.simplesigning.v1+json" : artifactType
        let layer = try blob(Array(payload.utf8), layerType)
        func json(_ descriptor: Descriptor) -> String {
            "{\"mediaType\":\"\(descriptor.mediaType)\",\"digest\":\"\(descriptor.digest)\",\"size\":\(descriptor.size)}"
        }
        var text = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        if !legacyCosign { text += "\"artifactType\":\"\(artifactType)\"," }
        text += "\"config\":\(json(config.0)),\"layers\":[\(json(layer.0))]"
        if let subject { text += ",\"subject\":\(json(subject))" }
        text += ",\"annotations\":{\"org.opencontainers.image.created\":\"2026-12-01T00:00:00Z\"}}"
        let bytes = Array(text.utf8)
        let descriptor = Descriptor(
            mediaType: .ociManifest, digest: Digest.sha256(of: bytes), size: Int64(bytes.count),
            artifactType: legacyCosign ? nil : artifactType)
        return TestArtifact(manifestBytes: bytes, descriptor: descriptor, blobs: [config, layer])
    }

    /// The referrers fallback index listing `referrers` (what an OCI 1.1 client writes to `sha256-<hex>` on a
    /// registry without the referrers API).
    public static func fallbackIndex(_ referrers: [TestArtifact]) -> [UInt8] {
        let entries = referrers.map { artifact in
            "{\"mediaType\":\"\(artifact.descriptor.mediaType)\",\"digest\":\"\(artifact.digest)\",\"size\":\(artifact.descriptor.size),\"artifactType\":\"\(artifact.descriptor.artifactType ?? "")\"}"
        }
        return Array(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[\(entries.joined(separator: ","))]}".utf8)
    }
}

extension RegistrySeeder {
    /// Pushes a test artifact's blobs and manifest to `repository` under `reference` (a tag or its digest).
    public func push(_ artifact: TestArtifact, to repository: String, reference: String? = nil) async throws {
        let client = HTTPProbe(for: endpoint)
        let auth: [String: String] = endpoint.credentials.map { ["Authorization": $0.authorizationHeader] } ?? [:]
        for (descriptor, path) in artifact.blobs {
            try await uploadBlob(descriptor, path: path, repository: repository, client, auth)
        }
        try await putManifest(
            artifact.manifestBytes, mediaType: .ociManifest, repository: repository,
            reference: reference ?? artifact.digest.description, client, auth)
    }

    /// Writes the referrers fallback tag of `subject` listing `referrers` (all already pushed).
    public func pushFallbackTag(for subject: Digest, listing referrers: [TestArtifact], repository: String) async throws {
        let client = HTTPProbe(for: endpoint)
        let auth: [String: String] = endpoint.credentials.map { ["Authorization": $0.authorizationHeader] } ?? [:]
        try await putManifest(
            TestArtifact.fallbackIndex(referrers), mediaType: .ociIndex, repository: repository,
            reference: ReferrerTags.fallbackTag(for: subject), client, auth)
    }
}
