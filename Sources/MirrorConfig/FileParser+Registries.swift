import Foundation
import OCIModel
import Yams

// The `registries:` section of a mirror list file: per-host mirrors, TLS, credentials and request limits.
extension FileParser {
    // MARK: registries

    mutating func parseRegistries(_ node: Node) {
        if walker.isNull(node) { return }
        guard
            let fields = walker.mapping(
                node, field: "registries",
                expected: "a mapping from registry host (docker.io, registry.internal:5000) to settings")
        else { return }
        for field in fields {
            guard let key = walker.string(field.keyNode, field: "registries", expected: "a registry host") else {
                continue
            }
            guard let host = validHost(key, node: field.keyNode, what: "registry host") else { continue }
            if let settings = parseRegistry(host: host, key: key, field: field) {
                contribution.registries.append((key, host, settings))
            }
        }
    }

    mutating func parseRegistry(host: String, key: String, field: Field) -> RegistrySettings? {
        let location = walker.location(field.keyNode)
        if walker.isNull(field.value) { return RegistrySettings(host: host, location: location) }
        let context = "in registry \(goQuoted(key))"
        guard
            let fields = walker.mapping(
                field.value, field: key, expected: "a mapping with \(Self.registryKeys.joined(separator: ", "))")
        else { return nil }
        var mirrors: [URL] = []
        var tls: TLSMode?
        var caFile: String?
        var clientCertificate: (String, Node)?
        var clientKey: (String, Node)?
        var credentials = CredentialSource.dockerConfig
        var requestsPerSecond: Double?
        var maxConcurrent: Int?
        for item in walker.known(fields, allowed: Self.registryKeys, in: context) {
            switch item.key {
            case "mirrors": mirrors = parseMirrors(item.value)
            case "tls": tls = parseTLS(item.value) ?? tls
            case "ca-file": caFile = walker.nonEmptyString(item.value, field: item.key, expected: "a file path")
            case "client-cert":
                clientCertificate = walker.nonEmptyString(item.value, field: item.key, expected: "a file path")
                    .map { ($0, item.keyNode) }
            case "client-key":
                clientKey = walker.nonEmptyString(item.value, field: item.key, expected: "a file path")
                    .map { ($0, item.keyNode) }
            case "credentials": credentials = parseCredentials(item.value) ?? credentials
            case "requests-per-second": requestsPerSecond = parseRequestsPerSecond(item.value)
            case "max-concurrent": maxConcurrent = parseMaxConcurrent(item.value)
            default: break
            }
        }
        switch (clientCertificate, clientKey) {
        case (let certificate?, nil):
            walker.fail(certificate.1, "client-cert needs client-key as well; give both or neither")
        case (nil, let key?):
            walker.fail(key.1, "client-key needs client-cert as well; give both or neither")
        default: break
        }
        return RegistrySettings(
            host: host, mirrors: mirrors, tls: tls, caFile: caFile, clientCertificate: clientCertificate?.0,
            clientKey: clientKey?.0, credentials: credentials, requestsPerSecond: requestsPerSecond,
            maxConcurrent: maxConcurrent, location: location)
    }

    mutating func parseMirrors(_ node: Node) -> [URL] {
        guard
            let items = walker.stringList(
                node, field: "mirrors", expected: "a list of mirror URLs such as https://mirror.example.com",
                itemExpected: "a mirror URL such as https://mirror.example.com")
        else { return [] }
        var mirrors: [URL] = []
        for (text, item) in items {
            do {
                let url = try MirrorURL.validate(text)
                if !mirrors.contains(url) { mirrors.append(url) }
            } catch {
                walker.fail(item, error.description)
            }
        }
        return mirrors
    }

    mutating func parseTLS(_ node: Node) -> TLSMode? {
        let expected = "one of " + TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
        guard let text = walker.string(node, field: "tls", expected: expected) else { return nil }
        guard let mode = TLSMode(rawValue: text) else {
            walker.wrongType("tls", node, expected: expected)
            return nil
        }
        return mode
    }

    /// Only names of variables and paths of files are kept; values under `credentials` are never echoed in errors.
    mutating func parseCredentials(_ node: Node) -> CredentialSource? {
        let expected =
            "docker-config, or a mapping with username, username-env or username-file "
            + "and one of password-env, password-file, token-env, token-file"
        if case .scalar = node {
            guard let text = walker.string(node, field: "credentials", expected: expected, reveal: false) else {
                return nil
            }
            if text == "docker-config" { return .dockerConfig }
            walker.wrongType("credentials", node, expected: expected, reveal: false)
            return nil
        }
        guard let fields = walker.mapping(node, field: "credentials", expected: expected) else { return nil }
        var usernames: [(UsernameSource, Node)] = []
        var secrets: [(CredentialSecret, Field)] = []
        var ok = true
        for field in fields {
            if Self.inlineSecretKeys.contains(field.key.lowercased()) {
                walker.fail(
                    field.keyNode,
                    "inline credentials are not allowed; use password-env, password-file or docker-config")
                ok = false
                continue
            }
            guard Self.credentialKeys.contains(field.key) else {
                _ = walker.known([field], allowed: Self.credentialKeys, in: "in credentials")
                ok = false
                continue
            }
            let isEnv = field.key.hasSuffix("-env")
            let expectedValue =
                isEnv ? "the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*)" : "a file path"
            guard
                let text = walker.nonEmptyString(
                    field.value, field: field.key, expected: field.key == "username" ? "a user name" : expectedValue,
                    reveal: false)
            else {
                ok = false
                continue
            }
            if isEnv, !EnvironmentSubstitution.isName(text[...]) {
                walker.fail(field.value, "\"\(field.key)\" must be \(expectedValue), not a value")
                ok = false
                continue
            }
            let reference: CredentialReference = isEnv ? .environment(text) : .file(text)
            switch field.key {
            case "username": usernames.append((.literal(text), field.keyNode))
            case "username-env", "username-file": usernames.append((.reference(reference), field.keyNode))
            case "password-env", "password-file": secrets.append((.password(reference), field))
            default: secrets.append((.token(reference), field))
            }
        }
        for extra in usernames.dropFirst() {
            walker.fail(extra.1, "give only one of username, username-env, username-file")
            ok = false
        }
        for extra in secrets.dropFirst() {
            walker.fail(extra.1.keyNode, "give only one of password-env, password-file, token-env, token-file")
            ok = false
        }
        guard let first = secrets.first else {
            if ok {
                walker.fail(node, "credentials need one of password-env, password-file, token-env, token-file")
            }
            return nil
        }
        let (secret, secretField) = first
        if case .password = secret, usernames.isEmpty {
            walker.fail(
                secretField.keyNode, "\(secretField.key) needs a user name: add username, username-env or username-file"
            )
            ok = false
        }
        return ok ? .explicit(username: usernames.first?.0, secret: secret) : nil
    }
}
