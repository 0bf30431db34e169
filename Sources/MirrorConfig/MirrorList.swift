import OCIModel

/// A validated, merged mirror list (format version 1): what to mirror, from where, to where.
///
/// ## Files
/// `--config` names a folder or one file. In a folder, only the top-level `*.yaml` / `*.yml` files are read (no
/// subfolders, no dot-files), sorted by name, one file at a time; a folder without any is an error. Files over 8 MiB
/// are refused unread. Every file must start with `version: 1`: a missing version is an error (the rest of the file
/// is still checked); any other version is `unsupported version N; this ferry reads version 1` and the rest of that
/// file is skipped, since another version may give the same keys another meaning.
///
/// Files merge: `registries` and `targets` are maps, and the same key in two places is an error naming both; `images`
/// concatenate in file order; `defaults` may appear in one file only. The same image source (normalized, tag and digest
/// included) listed twice anywhere is an error naming both places.
///
/// ## Values
/// * `${NAME}` and `${NAME:-default}` are replaced from the environment in every scalar value and in the keys of
///   `registries` and `targets` (fixed keys such as `source` are never expanded). `:-` also applies to an empty
///   variable. An unset variable without a default is an error at that value. `$${` is a literal `${`; a lone `$`
///   (as in a regex) needs no escaping. The fingerprint covers the files' bytes, not the expanded values.
/// * Scalars are read as written: `tags: [3.20]` is the tag `3.20`, not the number 3.2. Booleans and numbers must be
///   YAML booleans and numbers (`immutable: "true"` is a string and an error). YAML anchors, aliases and merge keys
///   (`<<: *common`) work.
/// * Paths (`ca-file`, `client-cert`, `client-key`, `*-file`, `layout`) are kept as written; relative paths are
///   resolved by the code that opens them, against the working directory.
///
/// ## Registries
/// Keys are registry hosts, normalized like reference domains (`index.docker.io` → `docker.io`) and validated as
/// `host[:port]` that an image reference would recognise as a domain. `mirrors` are validated with moby's
/// `ValidateMirror` rules and texts (a mirror without scheme gets `https://`), stored ending with `/`, deduplicated in
/// order; any host may have mirrors, not only Docker Hub. `tls`: `verify` (default), `insecure-skip-verify`,
/// `plain-http`. `client-cert` and `client-key` come together. `credentials`: `docker-config` (default) or a mapping
/// with at most one of `username` / `username-env` / `username-file` and exactly one of `password-env`,
/// `password-file`, `token-env`, `token-file` (a password needs a user name). `password`, `token`, `auth`,
/// `identitytoken` written inline are refused; no credential value is stored, printed or echoed in an error.
///
/// ## Targets
/// `registry: host[:port]` with optional `prefix`, `tls` and `ca-file` (the latter two default to the host's
/// `registries:` entry), or `layout: PATH` (an OCI image layout directory); both or neither is an error.
///
/// ## Images
/// See ``ImageEntry``. `source` is parsed like `docker pull` does (`ImageReference(parsing:)`). A source with a tag or
/// digest is pinned and takes no selectors. A repository source with no selector means `latest` only. `include` and
/// `exclude` are regexes compiled at load time: an `include` must match the whole tag (`^(?:…)$`), an `exclude` drops a tag it matches anywhere in. `semver` is an npm-style range (see
/// ``SemverRange``). `latest: N` keeps the newest N after filtering, by version; tags that are not versions are dropped
/// when `latest` is used. An entry may also be a bare reference string, short for `- source: …`.
/// `platforms`, `targets`, `immutable`, `verify-upstream` default to `defaults:`, else all platforms, no targets,
/// false.
public struct MirrorList: Sendable, Equatable {
    /// Configured registries by normalized host.
    public let registries: [String: RegistrySettings]
    /// Targets by name, with TLS settings inherited from their host's registry entry.
    public let targets: [String: Target]
    /// Image entries in file order, then entry order.
    public let images: [ImageEntry]
    /// The files read, in order, as ferry names them (`--config` joined with the file name).
    public let files: [String]
    /// SHA-256 over each file's name (relative to `--config`), length and bytes, in order; a run records it.
    public let fingerprint: Digest

    /// Creates a mirror list from parts; ``load(from:environment:)`` is the usual way to get one.
    public init(
        registries: [String: RegistrySettings], targets: [String: Target], images: [ImageEntry], files: [String],
        fingerprint: Digest
    ) {
        self.registries = registries
        self.targets = targets
        self.images = images
        self.files = files
        self.fingerprint = fingerprint
    }

    /// Loads, validates and merges the mirror list at `path` (a folder of `*.yaml`/`*.yml` or one file), expanding
    /// `${NAME}` from `environment`.
    /// - Throws: ``ConfigErrors`` with every problem in every file, never just the first.
    public static func load(from path: String, environment: [String: String]) throws(ConfigErrors) -> MirrorList {
        var loader = MirrorListLoader(environment: environment)
        return try loader.load(path: path)
    }

    /// The settings for `host` (`index.docker.io` folds to `docker.io`): its `registries:` entry, or the defaults
    /// (no mirrors, TLS verified, docker-config credentials) for a host the list does not mention.
    public func settings(for host: String) -> RegistrySettings {
        let normalized = RegistrySettings.normalizedHost(host)
        return registries[normalized] ?? RegistrySettings(host: normalized)
    }

    /// The same list with only the images whose source matches `onlyGlob` (`ferry sync --only GLOB`).
    ///
    /// The glob (see ``Glob``) is tried against the normalized name and full reference (`docker.io/library/alpine`,
    /// `docker.io/library/alpine:3.20`) and their familiar forms (`alpine`, `alpine:3.20`).
    public func filtered(onlyGlob: String) -> MirrorList {
        let glob = Glob(onlyGlob)
        return MirrorList(
            registries: registries, targets: targets, images: images.filter { $0.matches(glob) }, files: files,
            fingerprint: fingerprint)
    }
}
