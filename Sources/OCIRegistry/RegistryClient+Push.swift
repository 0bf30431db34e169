import FerryHTTP
import FerrySystem
import Foundation
import OCIModel

/// How a blob reached the destination.
public enum BlobPushOutcome: String, Sendable, Hashable, Codable {
    /// The destination already had it (one HEAD).
    case present
    /// Mounted from another repository of the same registry (no bytes sent).
    case mounted
    /// Uploaded.
    case uploaded
}

extension RegistryClient {
    /// Blobs larger than this are uploaded in `PATCH` chunks of this size, so a failure costs a chunk, not the blob.
    public static let chunkSize: Int64 = 64 << 20

    /// `HEAD /v2/<repository>/blobs/<digest>`: true when the destination has the blob.
    public func blobExists(_ repository: String, digest: Digest) async throws(RegistryError) -> Bool {
        let response = try await perform(
            Call(method: .head, url: endpoint.url("/v2/\(repository)/blobs/\(digest)"),
                 scopes: [Self.pushScope(repository)]))
        if response.isSuccess { return true }
        if response.status == 404 { return false }
        throw RegistryError.fromResponse(response)
    }

    /// The digest `tag` points to at the destination, or nil when the tag (or repository) does not exist.
    public func taggedDigest(_ repository: String, tag: String) async throws(RegistryError) -> Digest? {
        var headers = HTTPHeaders()
        headers.set("Accept", Self.manifestAccept)
        let response = try await perform(
            Call(method: .head, url: endpoint.url("/v2/\(repository)/manifests/\(tag)"), headers: headers,
                 scopes: [Self.pushScope(repository)]))
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw RegistryError.fromResponse(response) }
        guard let text = response.headers["Docker-Content-Digest"], let digest = try? Digest(parsing: text) else {
            return nil
        }
        return digest
    }

    /// Puts `descriptor` into `repository`: nothing when present, a cross-repository mount when `mountFrom` names a
    /// repository of this registry that has it (the registry may ignore it and open an upload instead), else an
    /// upload of `file` — one `PUT` for small blobs, `PATCH` chunks of `chunkSize` above it.
    // https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
    public func pushBlob(
        _ repository: String, descriptor: Descriptor, file: String, mountFrom: [String] = [],
        chunkSize: Int64 = RegistryClient.chunkSize, progress: TransferProgress? = nil
    ) async throws(RegistryError) -> BlobPushOutcome {
        if try await blobExists(repository, digest: descriptor.digest) { return .present }
        var session: URL?
        for source in mountFrom where source != repository {
            switch try await mount(repository, digest: descriptor.digest, from: source) {
            case .mounted: return .mounted
            case .uploadSession(let location): session = location
            }
            if session != nil { break }
        }
        var retry = 0
        while true {
            do {
                try await upload(
                    repository, descriptor: descriptor, file: file, session: session, chunkSize: max(chunkSize, 1),
                    progress: progress)
                return .uploaded
            } catch {
                // An upload is not idempotent request by request, but restarting the whole sequence is safe.
                guard isRetryable(error) || Self.isRetryableStatusError(error), retry < self.session.retry.retries
                else { throw error }
                retry += 1
                session = nil
                try await pause(self.session.retry.delay(beforeRetry: retry),
                                call: Call(method: .post, url: uploadsURL(repository), scopes: []),
                                reason: "\(error)", retry: retry)
            }
        }
    }

    enum MountResult {
        case mounted
        case uploadSession(URL)
    }

    /// `POST …/uploads/?mount=<digest>&from=<repository>`: 201 mounted; 202 means the registry opened an upload
    /// session instead. The token needs pull on the source repository too.
    func mount(_ repository: String, digest: Digest, from source: String) async throws(RegistryError) -> MountResult {
        let url = endpoint.url("/v2/\(repository)/blobs/uploads/", query: [("mount", digest.description), ("from", source)])
        let response = try await perform(
            Call(method: .post, url: url,
                 scopes: [Self.pushScope(repository), Self.pullScope(source)], followRedirects: false))
        if response.status == 201 { return .mounted }
        if response.status == 202, let location = response.headers["Location"],
            let session = URL(string: location, relativeTo: url)?.absoluteURL
        {
            return .uploadSession(session)
        }
        throw RegistryError.fromResponse(response)
    }

    private func uploadsURL(_ repository: String) -> URL { endpoint.url("/v2/\(repository)/blobs/uploads/") }

    /// Starts an upload session: `POST …/uploads/` → 202 with an opaque `Location` (kept with its query).
    private func startUpload(_ repository: String) async throws(RegistryError) -> URL {
        let url = uploadsURL(repository)
        let response = try await perform(
            Call(method: .post, url: url, scopes: [Self.pushScope(repository)],
                 followRedirects: false))
        guard response.status == 202, let location = response.headers["Location"],
            let session = URL(string: location, relativeTo: url)?.absoluteURL
        else { throw RegistryError.fromResponse(response) }
        return session
    }

    private func upload(
        _ repository: String, descriptor: Descriptor, file: String, session existing: URL?, chunkSize: Int64,
        progress: TransferProgress?
    ) async throws(RegistryError) {
        var location: URL
        if let existing { location = existing } else { location = try await startUpload(repository) }
        let scopes = [Self.pushScope(repository)]
        var offset: Int64 = 0
        if descriptor.size > chunkSize {
            // Full chunks go with PATCH; the rest (at most one chunk) travels with the closing PUT.
            while descriptor.size - offset > chunkSize {
                let length = chunkSize
                let response = try await perform(
                    Call(method: .patch, url: location,
                         headers: ["Content-Type": "application/octet-stream",
                                   "Content-Range": "\(offset)-\(offset + length - 1)"],
                         body: .file(path: file, offset: offset, length: length), scopes: scopes,
                         followRedirects: false))
                guard response.status == 202, let next = response.headers["Location"],
                    let nextURL = URL(string: next, relativeTo: location)?.absoluteURL
                else { throw RegistryError.fromResponse(response) }
                location = nextURL
                offset += length
                progress?.add(length)
            }
        }
        let remaining = descriptor.size - offset
        let body: RequestBody = remaining > 0 ? .file(path: file, offset: offset, length: remaining) : .empty
        let response = try await perform(
            Call(method: .put, url: Self.appendingDigest(descriptor.digest, to: location),
                 headers: ["Content-Type": "application/octet-stream"], body: body, scopes: scopes,
                 followRedirects: false))
        guard response.status == 201 || response.status == 204 else { throw RegistryError.fromResponse(response) }
        progress?.add(remaining)
        if let text = response.headers["Docker-Content-Digest"], let echoed = try? Digest(parsing: text),
            echoed != descriptor.digest
        {
            throw .invalidResponse(url: redacted(location), message: "registry stored blob \(echoed), expected \(descriptor.digest)")
        }
    }

    /// The upload location with `digest=` added, keeping the registry's own query (upload state).
    static func appendingDigest(_ digest: Digest, to location: URL) -> URL {
        appending([URLQueryItem(name: "digest", value: digest.description)], to: location)
    }

    /// `PUT /v2/<repository>/manifests/<reference>` with the exact bytes; the registry must echo the digest.
    public func putManifest(
        _ repository: String, reference: String, bytes: [UInt8], mediaType: MediaType
    ) async throws(RegistryError) -> Digest {
        try await putManifestAnswer(repository, reference: reference, bytes: bytes, mediaType: mediaType).digest
    }

    static func isRetryableStatusError(_ error: RegistryError) -> Bool {
        switch error {
        case .unexpectedStatus(let line):
            return RetryPolicy.isRetryableStatus(Int(line.prefix(3)) ?? 0)
        case .registry(_, let status):
            return RetryPolicy.isRetryableStatus(status)
        default:
            return false
        }
    }
}
