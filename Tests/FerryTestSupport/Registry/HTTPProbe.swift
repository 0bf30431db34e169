import Foundation

/// One HTTP response as curl saw it.
public struct HTTPProbeResponse: Sendable {
    /// The status code of the final response.
    public var status: Int
    /// Header fields of the final response, in order.
    public var headers: [(name: String, value: String)]
    /// The body bytes.
    public var body: [UInt8]

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body decoded as UTF-8.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A minimal HTTP client for test set-up and probes, built on the `curl` command line tool so that it shares no
/// code with ferry's own transport. Credentials go to curl through a header file, never its argument list.
public struct HTTPProbe: Sendable {
    /// A PEM CA file trusted for HTTPS, in addition to nothing else: without it curl uses the system store.
    public var caCertificatePath: String?
    /// Seconds before curl gives up on one exchange.
    public var timeout: Int

    /// A client trusting `caCertificatePath` (or the system store when nil).
    public init(caCertificatePath: String? = nil, timeout: Int = 60) {
        self.caCertificatePath = caCertificatePath
        self.timeout = timeout
    }

    /// A client that trusts what `endpoint` needs trusted.
    public init(for endpoint: RegistryServerEndpoint) {
        self.init(caCertificatePath: endpoint.caCertificatePath)
    }

    /// Sends one request. `body` is sent as is; `bodyFile` streams a file instead (for large blobs; the URL must
    /// not end in `/`, where curl's `--upload-file` would append the file name). Throws
    /// ``TestSupportError/httpFailed(url:curlExitCode:message:)`` when no HTTP response arrived (refused, TLS).
    public func send(
        _ method: String, _ url: String, headers: [String: String] = [:], body: [UInt8]? = nil,
        bodyFile: String? = nil
    ) async throws -> HTTPProbeResponse {
        let scratch = try TemporaryDirectory(prefix: "ferry-curl")
        defer { scratch.remove() }
        let headerFile = scratch.appending("request-headers")
        let responseHeaders = scratch.appending("response-headers")
        let responseBody = scratch.appending("response-body")
        // An empty Expect stops curl from waiting for "100 Continue" on large uploads.
        var requestHeaders = headers
        requestHeaders["Expect"] = requestHeaders["Expect"] ?? ""
        let headerLines = requestHeaders.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        try TestFiles.write(headerLines.joined(separator: "\n") + "\n", to: headerFile)
        var arguments = [
            "--silent", "--show-error", "--globoff", "--noproxy", "*", "--max-time", String(timeout),
            "-D", responseHeaders, "-o", responseBody, "-w", "%{http_code}", "-H", "@" + headerFile,
        ]
        if method == "HEAD" {
            arguments.append("--head")
        } else {
            arguments += ["-X", method]
        }
        if let body {
            let path = scratch.appending("request-body")
            try TestFiles.write(body, to: path)
            arguments += ["--data-binary", "@" + path]
        } else if let bodyFile {
            // --data-binary would read the whole file into memory first; --upload-file streams it.
            arguments += ["--upload-file", bodyFile]
        }
        if let caCertificatePath { arguments += ["--cacert", caCertificatePath] }
        arguments.append(url)
        let result = try await ProcessRunner.run("curl", arguments)
        guard case .exited(let code) = result.status, code == 0 else {
            let code: Int32 = if case .exited(let value) = result.status { value } else { -1 }
            throw TestSupportError.httpFailed(url: url, curlExitCode: code, message: result.stderrText)
        }
        let status = Int(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let headerText = (try? TestFiles.readText(responseHeaders)) ?? ""
        let body = TestFiles.exists(responseBody) ? try TestFiles.read(responseBody) : []
        return HTTPProbeResponse(status: status, headers: Self.finalHeaders(headerText), body: body)
    }

    /// The fields of the last response block (curl writes interim 100 responses too).
    static func finalHeaders(_ text: String) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        // "\r\n" is a single Character in Swift, so split on newline characters rather than on "\n".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if line.hasPrefix("HTTP/") {
                fields.removeAll()
            } else if let colon = line.firstIndex(of: ":") {
                let name = String(line[..<colon])
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                fields.append((name, value))
            }
        }
        return fields
    }
}
