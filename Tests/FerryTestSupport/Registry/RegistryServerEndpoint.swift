/// A user name and password for HTTP Basic authentication.
public struct RegistryUser: Sendable, Hashable {
    /// The user name.
    public var username: String
    /// The password.
    public var password: String

    /// Creates credentials.
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `user:password`, the form skopeo's `--creds` takes.
    public var colonSeparated: String { "\(username):\(password)" }

    /// The `Authorization` header value.
    public var authorizationHeader: String {
        "Basic " + Base64.encode(Array(colonSeparated.utf8))
    }
}

/// Where a test registry listens and how to reach it; a plain value so that it can be written to a file and
/// rebuilt by another process (see `ferry-devtool`).
public struct RegistryServerEndpoint: Sendable, Hashable {
    /// The TCP port on 127.0.0.1.
    public var port: Int
    /// True when the registry speaks HTTPS.
    public var usesTLS: Bool
    /// The PEM certificate that signs the registry's TLS certificate (it is self-signed, so it is that certificate).
    public var caCertificatePath: String?
    /// A directory holding `ca.crt`, the layout `skopeo --cert-dir` expects.
    public var certDirectory: String?
    /// The Basic credentials the registry accepts, when it uses htpasswd.
    public var credentials: RegistryUser?
    /// The registry's filesystem storage root (`storage.filesystem.rootdirectory`).
    public var storageRoot: String

    /// Creates an endpoint description.
    public init(
        port: Int, usesTLS: Bool = false, caCertificatePath: String? = nil, certDirectory: String? = nil,
        credentials: RegistryUser? = nil, storageRoot: String
    ) {
        self.port = port
        self.usesTLS = usesTLS
        self.caCertificatePath = caCertificatePath
        self.certDirectory = certDirectory
        self.credentials = credentials
        self.storageRoot = storageRoot
    }

    /// `127.0.0.1:PORT`, the host part of image references.
    public var host: String { "127.0.0.1:\(port)" }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    public var baseURL: String { (usesTLS ? "https://" : "http://") + host }

    /// `host/repository:tag`, an image reference on this registry.
    public func reference(_ repository: String, tag: String) -> String { "\(host)/\(repository):\(tag)" }

    /// The registry's storage layout, for tampering with it directly.
    public var storage: RegistryStorage { RegistryStorage(root: storageRoot) }
}
