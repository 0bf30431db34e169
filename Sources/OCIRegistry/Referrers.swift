import FerryHTTP
import Foundation
import OCIModel

/// What a registry answered to a referrers listing.
public enum ReferrersAnswer: Sendable, Hashable {
    /// The registry has the referrers API: the referrers (already filtered by artifact type when asked, whether
    /// or not the registry applied the filter itself) and the filters it says it applied (`OCI-Filters-Applied`).
    case listed([Descriptor], filtersApplied: [String])
    /// 404: the registry has no referrers API (distribution 2.8); use the fallback tag.
    case unsupported
}

/// The answer to a manifest `PUT`, with the headers that matter for referrers.
public struct ManifestPutAnswer: Sendable, Hashable {
    /// The digest stored (checked against `Docker-Content-Digest` when the registry sent one).
    public var digest: Digest
    /// The `OCI-Subject` header: set by a registry that indexed the manifest's `subject` itself.
    public var subject: Digest?
}

extension RegistryClient {
    /// Lists the referrers of `digest` in `repository` with the OCI 1.1 referrers API.
    ///
    /// With `artifactType` the request carries `?artifactType=`; a registry that did not apply the filter (no
    /// `artifactType` in `OCI-Filters-Applied`) is filtered here, so the answer is the same either way. A 404 means
    /// the registry has no API (a registry that has one answers 200 even for an unknown subject).
    // https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
    public func listReferrers(_ repository: String, digest: Digest, artifactType: String? = nil)
        async throws(RegistryError) -> ReferrersAnswer
    {
        let query = artifactType.map { [("artifactType", $0)] } ?? []
        let url = endpoint.url("/v2/\(repository)/referrers/\(digest)", query: query)
        let response = try await perform(
            Call(method: .get, url: url, headers: ["Accept": MediaType.ociIndex.rawValue],
                 scopes: [Self.pullScope(repository)], maxBodyBytes: Self.maxManifestBytes, retryable: true))
        if response.status == 404 { return .unsupported }
        guard response.isSuccess else { throw RegistryError.fromResponse(response) }
        let index: ImageIndex
        do {
            index = try JSONDecoder().decode(ImageIndex.self, from: Data(response.body))
        } catch {
            throw .invalidResponse(
                url: redacted(url), message: "referrers response is not an image index: \(FetchedManifest.describe(error))")
        }
        let applied = (response.headers["OCI-Filters-Applied"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var manifests = index.manifests
        if let artifactType, !applied.contains("artifactType") {
            manifests = manifests.filter { $0.artifactType == artifactType }
        }
        return .listed(manifests, filtersApplied: applied)
    }

    /// Stores a manifest like ``putManifest(_:reference:bytes:mediaType:)`` and returns the `OCI-Subject` header
    /// too: a registry that answers without it did not index the manifest's `subject`, and the pusher then keeps
    /// the referrers fallback tag itself.
    public func putManifestAnswer(
        _ repository: String, reference: String, bytes: [UInt8], mediaType: MediaType
    ) async throws(RegistryError) -> ManifestPutAnswer {
        let digest = Digest.sha256(of: bytes)
        let url = endpoint.url("/v2/\(repository)/manifests/\(reference)")
        let response = try await perform(
            Call(method: .put, url: url, headers: ["Content-Type": mediaType.rawValue], body: .bytes(bytes),
                 scopes: [Self.pushScope(repository)], followRedirects: false, retryable: true))
        guard response.status == 201 || response.isSuccess else { throw RegistryError.fromResponse(response) }
        if let text = response.headers["Docker-Content-Digest"], let echoed = try? Digest(parsing: text),
            echoed != digest
        {
            throw .invalidResponse(url: redacted(url), message: "registry stored manifest \(echoed), expected \(digest)")
        }
        let subject = response.headers["OCI-Subject"].flatMap { try? Digest(parsing: $0) }
        return ManifestPutAnswer(digest: digest, subject: subject)
    }
}
