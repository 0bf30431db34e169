import Foundation
import OCIModel

/// Puts built images into a test registry and reshapes what it serves.
///
/// ``push(_:from:to:tag:)`` uses `skopeo copy --all --preserve-digests` and then checks with
/// `skopeo inspect --raw` that the registry serves the exact bytes that were built. skopeo 1.9's `oci:` transport
/// only picks `index.json` entries with OCI media types, so Docker-typed artifacts are staged as a `dir:` image
/// (which keeps the manifest bytes and lets skopeo read the media type from them) instead of `oci:`.
public struct RegistrySeeder: Sendable {
    /// The registry written to.
    public let endpoint: RegistryServerEndpoint

    /// A seeder for `endpoint`.
    public init(_ endpoint: RegistryServerEndpoint) { self.endpoint = endpoint }

    /// A seeder for a running server.
    public init(_ server: RegistryServer) { self.init(server.endpoint) }

    /// Copies `artifact` (all platforms) to `repository:tag` with skopeo and verifies that the registry serves the
    /// same manifest digest for the tag and for every child. Returns the top-level digest.
    @discardableResult
    public func push(
        _ artifact: some BuiltArtifactConvertible, from layout: OCILayoutBuilder, to repository: String, tag: String
    ) async throws -> Digest {
        let artifact = artifact.artifact
        let scratch = try TemporaryDirectory(prefix: "ferry-seed")
        defer { scratch.remove() }
        let source: String
        switch artifact.format {
        case .oci:
            let staged = scratch.appending("oci")
            try stageOCI(artifact, from: layout, into: staged)
            source = "oci:\(staged):seed"
        case .docker:
            let staged = scratch.appending("dir")
            try stageDir(artifact, from: layout, into: staged)
            source = "dir:\(staged)"
        }
        let destination = "docker://\(endpoint.reference(repository, tag: tag))"
        try await skopeo(
            ["copy", "--all", "--preserve-digests", "--quiet"] + destinationFlags(scratch: scratch) + [
                source, destination,
            ])
        try await verify(artifact, repository: repository, tag: tag)
        return artifact.digest
    }

    /// Pushes `artifact` through the registry API with curl (blob uploads, then children by digest, then the tag),
    /// sending `authorization` as the `Authorization` header (default: the endpoint's Basic credentials). This is
    /// the way into a token-auth registry, for which skopeo would need a token server.
    @discardableResult
    public func pushOverHTTP(
        _ artifact: some BuiltArtifactConvertible, from layout: OCILayoutBuilder, to repository: String, tag: String,
        authorization: String? = nil
    ) async throws -> Digest {
        let artifact = artifact.artifact
        let client = HTTPProbe(for: endpoint)
        let auth = authorizationHeaders(authorization)
        for blob in artifact.blobs {
            try await uploadBlob(blob, path: layout.blobPath(blob.digest), repository: repository, client, auth)
        }
        if case .index(let index) = artifact {
            for child in index.children {
                try await putManifest(
                    child.manifestBytes, mediaType: child.manifest.mediaType, repository: repository,
                    reference: child.manifestDigest.description, client, auth)
            }
        }
        try await putManifest(
            artifact.manifestBytes, mediaType: artifact.descriptor.mediaType, repository: repository, reference: tag,
            client, auth)
        return artifact.digest
    }

    /// The manifest bytes the registry serves for `repository` at `reference` (a tag or a digest), as
    /// `skopeo inspect --raw` prints them.
    public func inspectRaw(_ repository: String, reference: String) async throws -> [UInt8] {
        let scratch = try TemporaryDirectory(prefix: "ferry-seed")
        defer { scratch.remove() }
        let separator = reference.contains(":") ? "@" : ":"
        let result = try await skopeo(
            ["inspect", "--raw"] + sourceFlags(scratch: scratch) + [
                "docker://\(endpoint.host)/\(repository)\(separator)\(reference)"
            ])
        return result.stdout
    }

    /// The tags of `repository`, from `skopeo list-tags`.
    public func tags(_ repository: String) async throws -> [String] {
        struct TagList: Decodable { var Tags: [String] }
        let scratch = try TemporaryDirectory(prefix: "ferry-seed")
        defer { scratch.remove() }
        let result = try await skopeo(
            ["list-tags"] + sourceFlags(scratch: scratch) + ["docker://\(endpoint.host)/\(repository)"])
        do {
            return try JSONDecoder().decode(TagList.self, from: Data(result.stdout)).Tags
        } catch {
            throw TestSupportError.invalidArgument("skopeo list-tags \(repository): unreadable output: \(error)")
        }
    }

    /// Moves `tag` to the manifest `digest`, which must already be stored in `repository`: the registry API way
    /// an upstream tag moves (GET the manifest by digest, PUT it under the tag).
    public func moveTag(_ repository: String, tag: String, to digest: Digest, authorization: String? = nil)
        async throws
    {
        let client = HTTPProbe(for: endpoint)
        var headers = authorizationHeaders(authorization)
        headers["Accept"] = MediaType.acceptedManifestTypes.map(\.rawValue).joined(separator: ", ")
        let url = "\(endpoint.baseURL)/v2/\(repository)/manifests/\(digest)"
        let response = try await client.send("GET", url, headers: headers)
        guard response.status == 200, let contentType = response.header("Content-Type") else {
            throw TestSupportError.unexpectedHTTPStatus(
                method: "GET", url: url, status: response.status, body: response.bodyText)
        }
        try await putManifest(
            response.body, mediaType: MediaType(rawValue: contentType), repository: repository, reference: tag, client,
            authorizationHeaders(authorization))
    }

    /// Deletes the manifest `digest` from `repository` through the API (every tag pointing to it goes too).
    public func deleteManifest(_ repository: String, digest: Digest, authorization: String? = nil) async throws {
        let url = "\(endpoint.baseURL)/v2/\(repository)/manifests/\(digest)"
        let response = try await HTTPProbe(for: endpoint).send(
            "DELETE", url, headers: authorizationHeaders(authorization))
        guard response.status == 202 else {
            throw TestSupportError.unexpectedHTTPStatus(
                method: "DELETE", url: url, status: response.status, body: response.bodyText)
        }
    }

    // MARK: Staging

    /// A one-entry OCI layout (ref `seed`) whose blobs are hard links into `layout`.
    private func stageOCI(_ artifact: BuiltArtifact, from layout: OCILayoutBuilder, into directory: String) throws {
        let staged = try OCILayoutBuilder(path: directory)
        for digest in Self.allDigests(artifact) {
            try TestFiles.linkOrCopy(layout.blobPath(digest), to: staged.blobPath(digest))
        }
        try staged.tag(artifact, as: "seed")
    }

    /// A `dir:` image (transport version 1.1): `manifest.json`, `<hex>.manifest.json` per list instance, blobs
    /// named by hex.
    private func stageDir(_ artifact: BuiltArtifact, from layout: OCILayoutBuilder, into directory: String) throws {
        try TestFiles.makeDirectory(directory)
        try TestFiles.write("Directory Transport Version: 1.1\n", to: directory + "/version")
        try TestFiles.write(artifact.manifestBytes, to: directory + "/manifest.json")
        if case .index(let index) = artifact {
            for child in index.children {
                try TestFiles.write(child.manifestBytes, to: "\(directory)/\(child.manifestDigest.hex).manifest.json")
            }
        }
        for blob in artifact.blobs {
            try TestFiles.linkOrCopy(layout.blobPath(blob.digest), to: "\(directory)/\(blob.digest.hex)")
        }
    }

    private static func allDigests(_ artifact: BuiltArtifact) -> [Digest] {
        var digests = [artifact.digest]
        if case .index(let index) = artifact { digests += index.children.map(\.manifestDigest) }
        return digests + artifact.blobs.map(\.digest)
    }

    // MARK: Verification

    private func verify(_ artifact: BuiltArtifact, repository: String, tag: String) async throws {
        try await expectServed(artifact.digest, repository: repository, reference: tag)
        if case .index(let index) = artifact {
            for child in index.children {
                try await expectServed(
                    child.manifestDigest, repository: repository, reference: child.manifestDigest.description)
            }
        }
    }

    private func expectServed(_ expected: Digest, repository: String, reference: String) async throws {
        let served = Digest.sha256(of: try await inspectRaw(repository, reference: reference))
        guard served == expected else {
            throw TestSupportError.digestNotPreserved(
                reference: "\(endpoint.host)/\(repository):\(reference)", expected: expected, actual: served)
        }
    }

    // MARK: skopeo

    @discardableResult
    private func skopeo(_ arguments: [String]) async throws -> ProcessResult {
        _ = try ProcessRunner.requireTool("skopeo")
        // --insecure-policy: the host's /etc/containers/policy.json is not ours to depend on.
        return try await ProcessRunner.runChecked("skopeo", ["--insecure-policy"] + arguments, timeout: 600)
    }

    /// TLS, credential and auth-file flags for writing. An empty auth file keeps the user's
    /// `~/.docker/config.json` out of the picture.
    private func destinationFlags(scratch: TemporaryDirectory) throws -> [String] {
        try flags(prefix: "--dest-", scratch: scratch)
    }

    private func sourceFlags(scratch: TemporaryDirectory) throws -> [String] {
        try flags(prefix: "--", scratch: scratch)
    }

    private func flags(prefix: String, scratch: TemporaryDirectory) throws -> [String] {
        let authFile = scratch.appending("auth.json")
        if !TestFiles.exists(authFile) { try TestFiles.write("{}", to: authFile) }
        var flags = ["\(prefix)authfile", authFile]
        if endpoint.usesTLS, let certDirectory = endpoint.certDirectory {
            flags += ["\(prefix)cert-dir", certDirectory]
        } else {
            flags.append("\(prefix)tls-verify=false")
        }
        if let credentials = endpoint.credentials {
            flags += ["\(prefix)creds", credentials.colonSeparated]
        }
        return flags
    }

    // MARK: HTTP

    private func authorizationHeaders(_ authorization: String?) -> [String: String] {
        if let authorization { return ["Authorization": authorization] }
        if let credentials = endpoint.credentials { return ["Authorization": credentials.authorizationHeader] }
        return [:]
    }

    func uploadBlob(
        _ blob: Descriptor, path: String, repository: String, _ client: HTTPProbe, _ auth: [String: String]
    ) async throws {
        let blobURL = "\(endpoint.baseURL)/v2/\(repository)/blobs/\(blob.digest)"
        if try await client.send("HEAD", blobURL, headers: auth).status == 200 { return }
        let startURL = "\(endpoint.baseURL)/v2/\(repository)/blobs/uploads/"
        let started = try await client.send("POST", startURL, headers: auth)
        guard started.status == 202, let location = started.header("Location") else {
            throw TestSupportError.unexpectedHTTPStatus(
                method: "POST", url: startURL, status: started.status, body: started.bodyText)
        }
        let absolute = location.hasPrefix("/") ? endpoint.baseURL + location : location
        let putURL = absolute + (absolute.contains("?") ? "&" : "?") + "digest=\(blob.digest)"
        var headers = auth
        headers["Content-Type"] = "application/octet-stream"
        let finished = try await client.send("PUT", putURL, headers: headers, bodyFile: path)
        guard finished.status == 201 else {
            throw TestSupportError.unexpectedHTTPStatus(
                method: "PUT", url: absolute, status: finished.status, body: finished.bodyText)
        }
    }

    func putManifest(
        _ bytes: [UInt8], mediaType: MediaType, repository: String, reference: String, _ client: HTTPProbe,
        _ auth: [String: String]
    ) async throws {
        let url = "\(endpoint.baseURL)/v2/\(repository)/manifests/\(reference)"
        var headers = auth
        headers["Content-Type"] = mediaType.rawValue
        let response = try await client.send("PUT", url, headers: headers, body: bytes)
        guard response.status == 201 else {
            throw TestSupportError.unexpectedHTTPStatus(
                method: "PUT", url: url, status: response.status, body: response.bodyText)
        }
    }
}
