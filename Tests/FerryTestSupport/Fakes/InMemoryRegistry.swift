import FerryHTTP
import Foundation
import OCIModel
import Synchronization

/// A small in-memory registry that speaks enough of the distribution API for unit tests: manifests by tag and
/// digest (HEAD and GET), blobs with `Range`, tag lists, errors in the distribution JSON format, and optionally
/// Bearer token auth with its own token realm on another host.
public final class InMemoryRegistry: Sendable {
    /// How requests must authenticate.
    public enum AuthMode: Sendable {
        /// Anonymous access.
        case none
        /// Bearer tokens from `https://<realmHost>/token`; `validTokens` are accepted.
        case bearer(realmHost: String, service: String)
        /// Basic auth with one user.
        case basic(username: String, password: String)
    }

    private struct State {
        var manifests: [String: [String: (bytes: [UInt8], mediaType: MediaType)]] = [:]  // repo -> ref -> manifest
        var blobs: [Digest: [UInt8]] = [:]
        var issued: [String: Set<String>] = [:]  // token -> scopes
        var tokenCounter = 0
        var rangeSupported = true
        var linked: [String: Set<Digest>] = [:]  // repo -> blobs pushed or mounted there
        var uploads: [String: (repository: String, bytes: [UInt8])] = [:]
        var uploadCounter = 0
        var mountsHonoured = true
        var seeded: Set<String> = []  // repositories filled by addManifest: their blobs are served from the pool
        var indexesSubjects = false
    }

    private let state = Mutex(State())
    /// The host this registry answers for, e.g. `registry.test`.
    public let host: String
    /// The auth mode.
    public let auth: AuthMode

    /// Creates an empty registry for `host`.
    public init(host: String, auth: AuthMode = .none) {
        self.host = host
        self.auth = auth
    }

    /// Whether a manifest with `subject` is answered with `OCI-Subject` (a registry with the referrers API indexes
    /// it itself); off by default, as distribution 2.8.
    public func setIndexesSubjects(_ indexes: Bool) { state.withLock { $0.indexesSubjects = indexes } }

    /// Whether blob GETs honour `Range` (false makes them answer 200 with the whole blob).
    public func setRangeSupported(_ supported: Bool) { state.withLock { $0.rangeSupported = supported } }

    /// Stores a blob.
    @discardableResult
    public func addBlob(_ bytes: [UInt8]) -> Digest {
        let digest = Digest.sha256(of: bytes)
        state.withLock { $0.blobs[digest] = bytes }
        return digest
    }

    /// Replaces the bytes served for `digest` (tamper tests).
    public func tamperBlob(_ digest: Digest, with bytes: [UInt8]) { state.withLock { $0.blobs[digest] = bytes } }

    /// Stores a manifest under its digest and, when given, under `tag`.
    @discardableResult
    public func addManifest(_ bytes: [UInt8], mediaType: MediaType, repository: String, tag: String? = nil) -> Digest {
        let digest = Digest.sha256(of: bytes)
        state.withLock {
            $0.seeded.insert(repository)
            $0.manifests[repository, default: [:]][digest.description] = (bytes, mediaType)
            if let tag { $0.manifests[repository, default: [:]][tag] = (bytes, mediaType) }
        }
        return digest
    }

    /// Adds a complete single-platform image and tags it; returns its manifest digest and config digest.
    @discardableResult
    public func addImage(
        repository: String, tag: String?, seed: String, mediaType: MediaType = .ociManifest,
        platform: Platform = Platform(os: "linux", architecture: "amd64"), layerSize: Int = 1024
    ) -> (manifest: Digest, config: Digest, descriptor: Descriptor) {
        let image = TestImage(seed: seed, mediaType: mediaType, platform: platform, layerSize: layerSize)
        for blob in image.blobs { addBlob(blob) }
        let digest = addManifest(image.manifest, mediaType: mediaType, repository: repository, tag: tag)
        return (digest, image.configDigest, Descriptor(mediaType: mediaType, digest: digest, size: Int64(image.manifest.count)))
    }

    /// Adds an index over images for `platforms`, each child pushed by digest.
    @discardableResult
    public func addIndex(
        repository: String, tag: String, seed: String, platforms: [Platform], mediaType: MediaType = .ociIndex
    ) -> (index: Digest, children: [(Platform, Digest, Digest)]) {
        let childType: MediaType = mediaType == .dockerManifestList ? .dockerManifest : .ociManifest
        var entries: [String] = []
        var children: [(Platform, Digest, Digest)] = []
        for platform in platforms {
            let child = addImage(repository: repository, tag: nil, seed: seed + platform.description, mediaType: childType,
                                 platform: platform)
            var platformJSON = #"{"architecture":"\#(platform.architecture)","os":"\#(platform.os)""#
            if let variant = platform.variant { platformJSON += #","variant":"\#(variant)""# }
            platformJSON += "}"
            entries.append(
                #"{"digest":"\#(child.manifest)","mediaType":"\#(childType)","platform":\#(platformJSON),"size":\#(child.descriptor.size)}"#)
            children.append((platform, child.manifest, child.config))
        }
        let body = #"{"manifests":[\#(entries.joined(separator: ","))],"mediaType":"\#(mediaType)","schemaVersion":2}"#
        let digest = addManifest(Array(body.utf8), mediaType: mediaType, repository: repository, tag: tag)
        return (digest, children)
    }

    /// Whether cross-repository mount requests are honoured (false makes them open an upload session, as a
    /// registry may).
    public func setMountsHonoured(_ honoured: Bool) { state.withLock { $0.mountsHonoured = honoured } }

    /// The manifest bytes stored for `reference` (tag or digest) in `repository`.
    public func storedManifest(_ repository: String, _ reference: String) -> [UInt8]? {
        state.withLock { $0.manifests[repository]?[reference]?.bytes }
    }

    /// True when `digest` was pushed or mounted into `repository`.
    public func isLinked(_ digest: Digest, in repository: String) -> Bool {
        state.withLock { $0.linked[repository]?.contains(digest) == true }
    }

    /// Answers one request addressed to this registry or its token realm.
    public func handle(_ request: HTTPRequest) -> ScriptedTransport.Reply {
        if case .bearer(let realmHost, let service) = auth, request.url.host == realmHost {
            return .response(issueToken(request, service: service))
        }
        if let denied = checkAuth(request) { return .response(denied) }
        let path = request.url.path
        if path == "/v2/" || path == "/v2" {
            return .response(HTTPResponse(status: 200, reason: "OK", headers: ["Docker-Distribution-API-Version": "registry/2.0"]))
        }
        guard path.hasPrefix("/v2/") else { return .response(.registryError(404, code: "NOT_FOUND", message: "not found")) }
        let rest = String(path.dropFirst(4))
        if let range = rest.range(of: "/blobs/uploads") {
            return .response(upload(repository: String(rest[..<range.lowerBound]), request: request))
        }
        if request.method == .put, let range = rest.range(of: "/manifests/") {
            return .response(putManifest(
                repository: String(rest[..<range.lowerBound]), reference: String(rest[range.upperBound...]), request: request))
        }
        if request.method == .head, let range = rest.range(of: "/blobs/"),
            state.withLock({ !$0.seeded.contains(String(rest[..<range.lowerBound])) })
        {
            // A repository that received pushes answers HEAD for its own blobs only, like a real registry.
            let repository = String(rest[..<range.lowerBound])
            guard let digest = try? Digest(parsing: String(rest[range.upperBound...])), isLinked(digest, in: repository) else {
                return .response(HTTPResponse(status: 404, reason: "Not Found"))
            }
            return .response(HTTPResponse(status: 200, reason: "OK", headers: ["Docker-Content-Digest": digest.description]))
        }
        if let range = rest.range(of: "/manifests/") {
            return .response(manifest(repository: String(rest[..<range.lowerBound]), reference: String(rest[range.upperBound...]),
                                      head: request.method == .head))
        }
        if let range = rest.range(of: "/blobs/") {
            return .response(blob(reference: String(rest[range.upperBound...]), request: request))
        }
        if rest.hasSuffix("/tags/list") {
            let repository = String(rest.dropLast("/tags/list".count))
            let tags = state.withLock { state in
                (state.manifests[repository] ?? [:]).keys.filter { !$0.contains(":") }.sorted()
            }
            guard !tags.isEmpty else {
                return .response(.registryError(404, code: "NAME_UNKNOWN", message: "repository name not known to registry"))
            }
            let body = try! JSONSerialization.data(withJSONObject: ["name": repository, "tags": tags])
            return .response(HTTPResponse(status: 200, reason: "OK", headers: ["Content-Type": "application/json"], body: Array(body)))
        }
        return .response(.registryError(404, code: "NOT_FOUND", message: "not found"))
    }

    private func body(of request: HTTPRequest) -> [UInt8] {
        switch request.body {
        case .empty: return []
        case .bytes(let bytes): return bytes
        case .file(let path, let offset, let length):
            guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
            defer { try? handle.close() }
            try? handle.seek(toOffset: UInt64(offset))
            return Array((try? handle.read(upToCount: Int(length))) ?? Data())
        }
    }

    private func upload(repository: String, request: HTTPRequest) -> HTTPResponse {
        let query = URLComponents(url: request.url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        let value = { (name: String) in query.first { $0.name == name }?.value }
        let sessionID = request.url.path.split(separator: "/").last.map(String.init) ?? ""
        switch request.method {
        case .post:
            if let mount = value("mount"), let from = value("from"), let digest = try? Digest(parsing: mount),
                state.withLock({ $0.mountsHonoured && $0.linked[from]?.contains(digest) == true })
            {
                _ = state.withLock { $0.linked[repository, default: []].insert(digest) }
                return HTTPResponse(status: 201, reason: "Created", headers: ["Docker-Content-Digest": digest.description])
            }
            let id = state.withLock { state -> String in
                state.uploadCounter += 1
                let id = "u\(state.uploadCounter)"
                state.uploads[id] = (repository, [])
                return id
            }
            return HTTPResponse(status: 202, reason: "Accepted",
                                headers: ["Location": "/v2/\(repository)/blobs/uploads/\(id)?_state=s\(id)", "Range": "0-0"])
        case .patch:
            let chunk = body(of: request)
            let expectedStart = state.withLock { $0.uploads[sessionID]?.bytes.count }
            guard let expectedStart else { return .registryError(404, code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown to registry") }
            if let range = request.headers["Content-Range"], Int(range.split(separator: "-").first ?? "") != expectedStart {
                return HTTPResponse(status: 416, reason: "Requested Range Not Satisfiable")
            }
            let total = state.withLock { state -> Int in
                state.uploads[sessionID]?.bytes.append(contentsOf: chunk)
                return state.uploads[sessionID]?.bytes.count ?? 0
            }
            return HTTPResponse(status: 202, reason: "Accepted",
                                headers: ["Location": "/v2/\(repository)/blobs/uploads/\(sessionID)?_state=p\(total)",
                                          "Range": "0-\(max(total - 1, 0))"])
        case .put:
            guard value("_state") != nil, let digestText = value("digest"), let digest = try? Digest(parsing: digestText) else {
                return .registryError(400, code: "DIGEST_INVALID", message: "provided digest did not match uploaded content")
            }
            let last = body(of: request)
            let bytes = state.withLock { state -> [UInt8]? in
                guard var upload = state.uploads.removeValue(forKey: sessionID) else { return nil }
                upload.bytes.append(contentsOf: last)
                return upload.bytes
            }
            guard let bytes else { return .registryError(404, code: "BLOB_UPLOAD_UNKNOWN", message: "blob upload unknown to registry") }
            guard Digest.sha256(of: bytes) == digest else {
                return .registryError(400, code: "DIGEST_INVALID", message: "provided digest did not match uploaded content")
            }
            state.withLock {
                $0.blobs[digest] = bytes
                $0.linked[repository, default: []].insert(digest)
            }
            return HTTPResponse(status: 201, reason: "Created", headers: [
                "Docker-Content-Digest": digest.description, "Location": "/v2/\(repository)/blobs/\(digest)",
            ])
        default:
            return HTTPResponse(status: 405, reason: "Method Not Allowed")
        }
    }

    private func putManifest(repository: String, reference: String, request: HTTPRequest) -> HTTPResponse {
        let bytes = body(of: request)
        let mediaType = MediaType(rawValue: request.headers["Content-Type"] ?? "")
        let digest = Digest.sha256(of: bytes)
        if let requested = try? Digest(parsing: reference), requested != digest {
            return .registryError(400, code: "DIGEST_INVALID", message: "provided digest did not match uploaded content")
        }
        // Like distribution: an index needs its children, an image its blobs, in this repository.
        let missing: Bool = state.withLock { state in
            if mediaType.isIndex, let index = try? JSONDecoder().decode(ImageIndex.self, from: Data(bytes)) {
                return index.manifests.contains { state.manifests[repository]?[$0.digest.description] == nil }
            }
            if let image = try? JSONDecoder().decode(ImageManifest.self, from: Data(bytes)) {
                return image.blobs.contains { state.linked[repository]?.contains($0.digest) != true }
            }
            return false
        }
        if missing {
            return .registryError(400, code: "MANIFEST_BLOB_UNKNOWN", message: "blob unknown to registry")
        }
        state.withLock {
            $0.manifests[repository, default: [:]][digest.description] = (bytes, mediaType)
            if (try? Digest(parsing: reference)) == nil { $0.manifests[repository, default: [:]][reference] = (bytes, mediaType) }
        }
        var headers: HTTPHeaders = ["Docker-Content-Digest": digest.description]
        if state.withLock({ $0.indexesSubjects }),
            let subject = (try? JSONDecoder().decode(ImageManifest.self, from: Data(bytes)))?.subject
        {
            headers.set("OCI-Subject", subject.digest.description)
        }
        return HTTPResponse(status: 201, reason: "Created", headers: headers)
    }

    private func manifest(repository: String, reference: String, head: Bool) -> HTTPResponse {
        let found = state.withLock { $0.manifests[repository]?[reference] }
        guard let found else {
            let known = state.withLock { $0.manifests[repository] != nil }
            if !known {
                return .registryError(404, code: "NAME_UNKNOWN", message: "repository name not known to registry",
                                      detail: #"{"name":"\#(repository)"}"#)
            }
            return .registryError(404, code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: #"{"Tag":"\#(reference)"}"#)
        }
        var headers = HTTPHeaders()
        headers.set("Content-Type", found.mediaType.rawValue)
        headers.set("Content-Length", "\(found.bytes.count)")
        headers.set("Docker-Content-Digest", Digest.sha256(of: found.bytes).description)
        return HTTPResponse(status: 200, reason: "OK", headers: headers, body: head ? [] : found.bytes)
    }

    private func blob(reference: String, request: HTTPRequest) -> HTTPResponse {
        guard let digest = try? Digest(parsing: reference), let bytes = state.withLock({ $0.blobs[digest] }) else {
            return .registryError(404, code: "BLOB_UNKNOWN", message: "blob unknown to registry")
        }
        var headers = HTTPHeaders()
        headers.set("Content-Type", "application/octet-stream")
        headers.set("Docker-Content-Digest", reference)
        let rangeSupported = state.withLock { $0.rangeSupported }
        if rangeSupported, let range = request.headers["Range"], range.hasPrefix("bytes="),
            let start = Int(range.dropFirst(6).split(separator: "-").first ?? "")
        {
            guard start < bytes.count else { return HTTPResponse(status: 416, reason: "Requested Range Not Satisfiable") }
            headers.set("Content-Range", "bytes \(start)-\(bytes.count - 1)/\(bytes.count)")
            return HTTPResponse(status: 206, reason: "Partial Content", headers: headers, body: Array(bytes[start...]))
        }
        headers.set("Content-Length", "\(bytes.count)")
        return HTTPResponse(status: 200, reason: "OK", headers: headers, body: request.method == .head ? [] : bytes)
    }

    private func checkAuth(_ request: HTTPRequest) -> HTTPResponse? {
        switch auth {
        case .none:
            return nil
        case .basic(let username, let password):
            let expected = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
            if request.headers["Authorization"] == expected { return nil }
            var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
            response.headers.add("WWW-Authenticate", #"Basic realm="basic-realm""#)
            return response
        case .bearer(let realmHost, let service):
            if let header = request.headers["Authorization"], header.hasPrefix("Bearer ") {
                let token = String(header.dropFirst(7))
                if state.withLock({ $0.issued[token] != nil }) { return nil }
            }
            var response = HTTPResponse.registryError(401, code: "UNAUTHORIZED", message: "authentication required")
            response.headers.add(
                "WWW-Authenticate", #"Bearer realm="https://\#(realmHost)/token",service="\#(service)""#)
            return response
        }
    }

    private func issueToken(_ request: HTTPRequest, service: String) -> HTTPResponse {
        let token = state.withLock { state -> String in
            state.tokenCounter += 1
            let token = "token-\(state.tokenCounter)"
            state.issued[token] = []
            return token
        }
        let body = #"{"token":"\#(token)","expires_in":300}"#
        return HTTPResponse(status: 200, reason: "OK", headers: ["Content-Type": "application/json"], body: Array(body.utf8))
    }

    /// Forgets every issued token, as a token server restart or key rotation would.
    public func revokeTokens() { state.withLock { $0.issued.removeAll() } }
}

/// A deterministic single-platform image held in memory.
public struct TestImage: Sendable {
    /// The config blob.
    public let config: [UInt8]
    /// The layer blobs.
    public let layers: [[UInt8]]
    /// The manifest bytes.
    public let manifest: [UInt8]
    /// The manifest's media type.
    public let mediaType: MediaType

    /// Builds an image whose content derives from `seed`.
    public init(seed: String, mediaType: MediaType = .ociManifest, platform: Platform = Platform(os: "linux", architecture: "amd64"),
                layerSize: Int = 1024, layerCount: Int = 2) {
        var layers: [[UInt8]] = []
        for index in 0..<layerCount {
            var generator = SeededBytes(seed: "\(seed)-layer-\(index)")
            layers.append(generator.next(layerSize))
        }
        self.layers = layers
        let diffIDs = layers.map { "\"\(Digest.sha256(of: $0))\"" }.joined(separator: ",")
        var platformJSON = #""architecture":"\#(platform.architecture)","os":"\#(platform.os)""#
        if let variant = platform.variant { platformJSON += #","variant":"\#(variant)""# }
        self.config = Array(#"{\#(platformJSON),"rootfs":{"diff_ids":[\#(diffIDs)],"type":"layers"},"seed":"\#(seed)"}"#.utf8)
        self.mediaType = mediaType
        let docker = mediaType == .dockerManifest
        let configType = docker ? MediaType.dockerConfig : .ociConfig
        let layerType = docker ? MediaType.dockerLayerGzip : .ociLayer
        let layerJSON = layers.map { #"{"digest":"\#(Digest.sha256(of: $0))","mediaType":"\#(layerType)","size":\#($0.count)}"# }
        let configJSON = #"{"digest":"\#(Digest.sha256(of: config))","mediaType":"\#(configType)","size":\#(config.count)}"#
        self.manifest = Array(
            #"{"config":\#(configJSON),"layers":[\#(layerJSON.joined(separator: ","))],"mediaType":"\#(mediaType)","schemaVersion":2}"#.utf8)
    }

    /// Config then layers.
    public var blobs: [[UInt8]] { [config] + layers }
    /// The image ID.
    public var configDigest: Digest { Digest.sha256(of: config) }
    /// The manifest digest.
    public var manifestDigest: Digest { Digest.sha256(of: manifest) }
}

/// A deterministic byte generator (SplitMix64) for test content.
public struct SeededBytes: Sendable {
    private var state: UInt64

    /// A generator seeded from a string.
    public init(seed: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in seed.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        state = hash
    }

    /// A generator seeded with a number (fuzz seeds are numbers, so a failing run can be repeated exactly).
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 8 pseudo-random bytes as a word.
    public mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next `count` bytes.
    public mutating func next(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            var word = nextWord()
            withUnsafeBytes(of: &word) { out.append(contentsOf: $0) }
        }
        return Array(out.prefix(count))
    }
}
