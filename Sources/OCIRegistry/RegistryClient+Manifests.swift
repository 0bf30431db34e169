import FerryHTTP
import Foundation
import OCIModel

/// A manifest or index exactly as the registry sent it, digest-verified.
public struct FetchedManifest: Sendable, Hashable {
    /// The exact bytes (digests are computed over these; ferry never re-serialises a manifest).
    public var bytes: [UInt8]
    /// The media type from `Content-Type` (authoritative), or sniffed from the body when the header is generic.
    public var mediaType: MediaType
    /// The digest of `bytes`.
    public var digest: Digest

    /// Creates a fetched manifest.
    public init(bytes: [UInt8], mediaType: MediaType, digest: Digest) {
        self.bytes = bytes
        self.mediaType = mediaType
        self.digest = digest
    }

    /// A descriptor of this manifest.
    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// The decoded content.
    public enum Content: Sendable, Hashable {
        /// An image manifest.
        case image(ImageManifest)
        /// An index or manifest list.
        case index(ImageIndex)
    }

    /// Decodes the bytes according to ``mediaType``.
    public func decode() throws(RegistryError) -> Content {
        do {
            if mediaType.isIndex {
                return .index(try JSONDecoder().decode(ImageIndex.self, from: Data(bytes)))
            }
            if mediaType.isImageManifest {
                return .image(try JSONDecoder().decode(ImageManifest.self, from: Data(bytes)))
            }
        } catch {
            throw .invalidResponse(
                url: "manifest \(digest)", message: "invalid \(mediaType) document: \(Self.describe(error))")
        }
        throw .unsupportedManifestFormat(mediaType)
    }

    /// A decoding error as one line naming the field, e.g. `layers[0].digest: invalid digest "sha256:../../x": …`,
    /// instead of the nested dump `DecodingError` prints.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): context = c
        case .keyNotFound(let key, let c):
            context = DecodingError.Context(
                codingPath: c.codingPath + [key], debugDescription: "required field is missing")
        @unknown default: return "\(error)"
        }
        var path = ""
        for key in context.codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += (path.isEmpty ? "" : ".") + key.stringValue
            }
        }
        let underlying = context.underlyingError.map { ": \($0)" } ?? ""
        return (path.isEmpty ? "" : "\(path): ") + context.debugDescription + underlying
    }

    /// The media type of a manifest whose `Content-Type` was missing or generic, from its body, as containerd's
    /// and moby's manifest cache sniff it: the `mediaType` field, else `fsLayers` → schema 1, else `config` →
    /// OCI manifest, else `manifests` → OCI index.
    public static func sniff(_ bytes: [UInt8]) -> MediaType? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return nil }
        if let mediaType = object["mediaType"] as? String, !mediaType.isEmpty { return MediaType(rawValue: mediaType) }
        if object["fsLayers"] != nil || (object["schemaVersion"] as? Int) == 1 { return .dockerSchema1 }
        if object["config"] != nil { return .ociManifest }
        if object["manifests"] != nil { return .ociIndex }
        return nil
    }
}

/// What a tag resolved to.
public struct TagResolution: Sendable, Hashable {
    /// The descriptor the registry gave for the tag.
    public var descriptor: Descriptor
    /// The manifest itself when the registry had to be asked with GET (no usable HEAD); saves a second request.
    public var manifest: FetchedManifest?
}

extension RegistryClient {
    /// The `Accept` header listing every manifest type ferry handles.
    static var manifestAccept: String { MediaType.acceptedManifestTypes.map(\.rawValue).joined(separator: ", ") }

    /// Resolves `tag` to a descriptor with one `HEAD`; when the HEAD fails or carries no digest, a `GET` follows,
    /// as distribution's `tags.Get` does, to get the digest or the registry's error details.
    public func resolveTag(_ repository: String, tag: String) async throws(RegistryError) -> TagResolution {
        let url = endpoint.url("/v2/\(repository)/manifests/\(tag)")
        var headers = HTTPHeaders()
        headers.set("Accept", Self.manifestAccept)
        let head = try await perform(
            Call(method: .head, url: url, headers: headers, scopes: [Self.pullScope(repository)]))
        if (200..<400).contains(head.status), let digestText = head.headers["Docker-Content-Digest"], !digestText.isEmpty {
            guard let contentType = head.headers["Content-Type"], !contentType.isEmpty else {
                throw .missingHeader("Content-Type")
            }
            guard let lengthText = head.headers["Content-Length"], let length = Int64(lengthText) else {
                throw .missingHeader("Content-Length")
            }
            let digest: Digest
            do { digest = try Digest(parsing: digestText) } catch {
                throw .invalidResponse(url: redacted(url), message: "invalid Docker-Content-Digest \"\(digestText)\": \(error)")
            }
            var mediaType = MediaType(rawValue: contentType)
            if mediaType.isSchema1 { throw .schema1("\(endpoint.host)/\(repository):\(tag)") }
            if !mediaType.isManifest, mediaType == .json || mediaType == .octetStream { mediaType = MediaType(rawValue: "") }
            return TagResolution(descriptor: Descriptor(mediaType: mediaType, digest: digest, size: length))
        }
        let fetched = try await getManifest(repository, reference: tag, expected: nil)
        return TagResolution(descriptor: fetched.descriptor, manifest: fetched)
    }

    /// Fetches the manifest `digest` and verifies the body hashes to it (the requested digest wins over any
    /// `Docker-Content-Digest` header).
    ///
    /// With `size` (from a verified document, such as an index entry) the body is not read past it: a longer one
    /// fails with ``RegistryError/manifestTooLarge(url:limit:)`` naming that size.
    public func fetchManifest(_ repository: String, digest: Digest, size: Int64? = nil) async throws(RegistryError)
        -> FetchedManifest
    {
        let limit = size.map { Int(clamping: max(0, min($0, Int64(Self.maxManifestBytes)))) } ?? Self.maxManifestBytes
        return try await getManifest(repository, reference: digest.description, expected: digest, limit: limit)
    }

    /// Fetches the manifest a tag points to with GET (no HEAD).
    public func fetchManifest(_ repository: String, tag: String) async throws(RegistryError) -> FetchedManifest {
        try await getManifest(repository, reference: tag, expected: nil)
    }

    func getManifest(
        _ repository: String, reference: String, expected: Digest?, limit: Int = maxManifestBytes
    ) async throws(RegistryError) -> FetchedManifest {
        let url = endpoint.url("/v2/\(repository)/manifests/\(reference)")
        var headers = HTTPHeaders()
        headers.set("Accept", Self.manifestAccept)
        let response: HTTPResponse
        do {
            response = try await perform(
                Call(method: .get, url: url, headers: headers, scopes: [Self.pullScope(repository)],
                     maxBodyBytes: limit))
        } catch {
            if case .request(_, _, .transport(.bodyTooLarge)) = error {
                throw .manifestTooLarge(url: redacted(url), limit: limit)
            }
            throw error
        }
        guard response.isSuccess else { throw RegistryError.fromResponse(response) }
        let bytes = response.body
        let algorithm = expected?.algorithm ?? .sha256
        let actual = Digest.compute(algorithm, of: bytes)
        if let expected {
            guard actual == expected else { throw .verificationFailed(.manifest, expected) }
        } else if let header = response.headers["Docker-Content-Digest"], let claimed = try? Digest(parsing: header) {
            // By tag the header is all we can check against; a registry lying about it is not trusted.
            guard Digest.compute(claimed.algorithm, of: bytes) == claimed else {
                throw .verificationFailed(.manifest, claimed)
            }
        }
        var mediaType = MediaType(rawValue: response.headers["Content-Type"] ?? "")
        if !mediaType.isManifest && !mediaType.isSchema1 {
            mediaType = FetchedManifest.sniff(bytes) ?? mediaType
        }
        if mediaType.isSchema1 || FetchedManifest.sniff(bytes) == .dockerSchema1 {
            let separator = expected == nil ? ":" : "@"
            throw .schema1("\(endpoint.host)/\(repository)\(separator)\(reference)")
        }
        guard mediaType.isManifest else { throw .unsupportedManifestFormat(mediaType) }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: actual)
    }

    /// Largest manifest accepted: the distribution spec's SHOULD-support size.
    public static let maxManifestBytes = 4 << 20

    /// Every tag of `repository`, following `Link: <…>; rel="next"` pagination.
    ///
    /// A next link that is not http(s), that leads back to a page already read, or a listing longer than
    /// ``maxTagListPages`` pages fails the listing: a registry that paginates in a loop would otherwise keep a sync
    /// busy forever, and stopping quietly would pass a partial list off as the whole one.
    public func listTags(_ repository: String) async throws(RegistryError) -> [String] {
        var url = endpoint.url("/v2/\(repository)/tags/list")
        var tags: [String] = []
        var pages = [url.absoluteString: 1]
        while true {
            let response = try await perform(
                Call(method: .get, url: url, headers: ["Accept": "application/json"],
                     scopes: [Self.pullScope(repository)], maxBodyBytes: 16 << 20))
            guard response.isSuccess else { throw RegistryError.fromResponse(response) }
            struct Page: Decodable { var tags: [String]? }
            guard let page = try? JSONDecoder().decode(Page.self, from: Data(response.body)) else {
                throw .invalidResponse(url: redacted(url), message: "tag list is not valid JSON")
            }
            tags.append(contentsOf: page.tags ?? [])
            guard let next = LinkHeader.next(in: response.headers, relativeTo: url) else { break }
            let current = pages.count
            guard let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https", next.host != nil else {
                let target = goQuoted(redacted(next))
                throw .invalidResponse(
                    url: redacted(url), message: "tag list page \(current) links to \(target), not an http(s) URL")
            }
            if let earlier = pages[next.absoluteString] {
                throw .invalidResponse(
                    url: redacted(url),
                    message: "tag list pagination loops: page \(current) links back to page \(earlier)")
            }
            guard current < Self.maxTagListPages else {
                throw .invalidResponse(
                    url: redacted(url), message: "tag list has more than \(Self.maxTagListPages) pages")
            }
            pages[next.absoluteString] = current + 1
            url = next
        }
        return tags
    }

    /// Most pages a tag listing may take (a million tags at Docker Hub's 100 per page).
    public static let maxTagListPages = 10_000
}
