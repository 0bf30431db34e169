import OCIModel

extension MirrorList {
    /// The plan as `ferry validate` prints it: stable, one record per line, greppable by its first word.
    ///
    /// ```
    /// 2 files, 3 images, 2 registries, 1 target
    /// fingerprint sha256:…
    /// registry docker.io  mirrors=https://mirror.example.internal/  tls=verify  credentials=docker-config
    /// target internal  registry=registry.internal:5000  prefix=mirror  tls=plain-http
    /// image docker.io/library/alpine  tags=3.19,3.20 semver=">=3.18.0 <4" latest=3  platforms=linux/amd64  targets=…
    /// image quay.io/prometheus/node-exporter:v1.8.2  pinned  platforms=all  targets=(none)
    /// image docker.io/library/nginx  tags=latest(implied)  platforms=all  targets=(none)
    /// ```
    /// An image line ends with `immutable` and/or `verify-upstream` when set; a pinned source shows `pinned`, a
    /// repository without selectors `tags=latest(implied)`, no targets `targets=(none)`.
    /// Groups are separated by two spaces, items within a group by one; registries are sorted by host, targets by
    /// name, images keep file order. A value with a space, comma or quote is printed Go-quoted. Credentials show only
    /// where they come from (`username:env:USER,password:file:/run/secrets/x`), never a value.
    public var planLines: [String] {
        var lines = [
            [
                counted(files.count, "file"), counted(images.count, "image"),
                registries.count == 1 ? "1 registry" : "\(registries.count) registries",
                counted(targets.count, "target"),
            ].joined(separator: ", "),
            "fingerprint \(fingerprint)",
        ]
        for host in registries.keys.sorted() {
            guard let settings = registries[host] else { continue }
            var groups = ["registry \(host)"]
            if !settings.mirrors.isEmpty {
                groups.append("mirrors=" + settings.mirrors.map { planValue($0.absoluteString) }.joined(separator: ","))
            }
            groups.append("tls=\(settings.tls?.rawValue ?? "default")")
            if let caFile = settings.caFile { groups.append("ca-file=\(planValue(caFile))") }
            if let certificate = settings.clientCertificate { groups.append("client-cert=\(planValue(certificate))") }
            if let key = settings.clientKey { groups.append("client-key=\(planValue(key))") }
            // Commas separate the parts of the credentials description itself, so they need no quoting there.
            groups.append("credentials=\(planValue(settings.credentials.description, commasAllowed: true))")
            if let rate = settings.requestsPerSecond { groups.append("requests-per-second=\(rate == rate.rounded() ? String(Int(rate)) : String(rate))") }
            if let limit = settings.maxConcurrent { groups.append("max-concurrent=\(limit)") }
            lines.append(groups.joined(separator: "  "))
        }
        for name in targets.keys.sorted() {
            guard let target = targets[name] else { continue }
            var groups = ["target \(name)", target.destination.description]
            if case .registry = target.destination {
                groups.append("tls=\(target.tls?.rawValue ?? "default")")
                if let caFile = target.caFile { groups.append("ca-file=\(planValue(caFile))") }
            }
            lines.append(groups.joined(separator: "  "))
        }
        for entry in images {
            lines.append(entry.planLine)
        }
        return lines
    }
}

extension ImageEntry {
    /// `image SOURCE  SELECTORS  platforms=…  targets=…[  immutable verify-upstream]` (``MirrorList/planLines``).
    public var planLine: String {
        var groups = ["image \(source.string)"]
        var selectors: [String] = []
        if isPinned {
            selectors.append("pinned")
        } else if tagsAreImplied {
            // Parentheses cannot occur in a tag, so this reads as a note, never as a tag name.
            selectors.append("tags=latest(implied)")
        } else {
            if !tags.isEmpty { selectors.append("tags=" + tags.map { planValue($0) }.joined(separator: ",")) }
            if !include.isEmpty {
                selectors.append("include=" + include.map { planValue($0.pattern) }.joined(separator: ","))
            }
            if !exclude.isEmpty {
                selectors.append("exclude=" + exclude.map { planValue($0.pattern) }.joined(separator: ","))
            }
            if let semver { selectors.append("semver=" + planValue(semver.text)) }
            if let latest { selectors.append("latest=\(latest)") }
        }
        groups.append(selectors.joined(separator: " "))
        groups.append("platforms=\(platforms)")
        // Parentheses cannot occur in a target name either.
        groups.append("targets=" + (targets.isEmpty ? "(none)" : targets.joined(separator: ",")))
        var flags: [String] = []
        if immutable { flags.append("immutable") }
        if verifyUpstream { flags.append("verify-upstream") }
        if let trust {
            if !trust.patterns.isEmpty {
                flags.append("immutable-tags=" + trust.patterns.map { planValue($0.pattern) }.joined(separator: ","))
            }
            if let revalidate = trust.revalidate { flags.append("revalidate=\(revalidate)") }
        }
        if referrers != .all { flags.append("referrers=\(planValue(referrers.description, commasAllowed: true))") }
        if !flags.isEmpty { groups.append(flags.joined(separator: " ")) }
        return groups.joined(separator: "  ")
    }
}

/// A plan value as is, or Go-quoted when it is empty or holds a space, comma (unless allowed), quote or control
/// character.
func planValue(_ text: String, commasAllowed: Bool = false) -> String {
    let needsQuotes =
        text.isEmpty
        || text.unicodeScalars.contains {
            $0 == " " || ($0 == "," && !commasAllowed) || $0 == "\"" || $0.value < 0x20 || $0.value == 0x7F
        }
    return needsQuotes ? goQuoted(text) : text
}
