internal import CCurl
import FerryHTTP
import FerrySystem
import Foundation

/// Options every transfer of one ``CurlTransport`` shares.
struct TransferSettings: Sendable {
    var userAgent: String
    var connectTimeoutMilliseconds: Int
    var lowSpeedLimit: Int
    var lowSpeedTimeSeconds: Int
    var receiveBufferSize: Int
}

/// One request in flight: its easy handle, request body, response head and sink.
///
/// Lives in the loop's table from `curl_multi_add_handle` until it is finished, which is what keeps the
/// `passUnretained` userdata pointers the callbacks receive valid. Used only on the loop thread.
final class CurlTransfer {
    let id: UInt64
    let handle: CurlEasyHandle
    let method: HTTPMethod
    let target: RequestTarget
    let startedAt = ContinuousClock.now
    private let sink: any ResponseSink
    private let body: RequestBodySource?
    private var head = ResponseHead()
    private var headComplete = false
    private var headerFailure: TransportError?
    /// Body bytes received, for the log line.
    private(set) var bytesReceived: Int64 = 0

    /// Request bodies up to this size suppress `Expect: 100-continue`: waiting a round trip (or curl's 1 s
    /// timeout, with servers that ignore it) costs more than resending a small body. Larger uploads keep it, so
    /// a 401 arrives before hundreds of MB are sent. Same threshold curl uses for POST.
    static let expectContinueThreshold: Int64 = 1024 * 1024

    init(
        id: UInt64, request: HTTPRequest, sink: any ResponseSink, settings: TransferSettings, counter: HandleCounter
    ) throws(TransportError) {
        self.id = id
        self.method = request.method
        self.target = RequestTarget(request.url)
        self.sink = sink
        do {
            handle = try CurlEasyHandle(counter: counter)
        } catch {
            throw .other(code: error.code, message: error.message)
        }
        if request.method == .head, request.body != .empty {
            throw .other(code: Int(CURLE_BAD_FUNCTION_ARGUMENT.rawValue), message: "HEAD request with a body")
        }
        let sendsBody = request.body != .empty || [.post, .put, .patch].contains(request.method)
        body = sendsBody ? try RequestBodySource(request.body) : nil
        do {
            try configure(request, settings: settings)
        } catch {
            throw .other(code: error.code, message: target.scrub(error.message))
        }
    }

    // https://curl.se/libcurl/c/curl_easy_setopt.html
    private func configure(_ request: HTTPRequest, settings: TransferSettings) throws(CurlError) {
        let userdata = Unmanaged.passUnretained(self).toOpaque()
        try handle.setString(CURLOPT_URL, request.url.absoluteString)
        try handle.setString(CURLOPT_PROTOCOLS_STR, "http,https")
        try handle.setString(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        // The registry client follows redirects itself, deciding which headers may travel.
        try handle.setLong(CURLOPT_FOLLOWLOCATION, 0)
        // Signals are process-wide; curl's alarm()-based DNS timeout would race other threads.
        try handle.setLong(CURLOPT_NOSIGNAL, 1)
        try handle.setString(CURLOPT_USERAGENT, settings.userAgent)
        try handle.setLong(CURLOPT_CONNECTTIMEOUT_MS, settings.connectTimeoutMilliseconds)
        try handle.setLong(CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedLimit)
        try handle.setLong(CURLOPT_LOW_SPEED_TIME, settings.lowSpeedTimeSeconds)
        if let timeout = request.timeout {
            try handle.setLong(CURLOPT_TIMEOUT_MS, max(1, timeout.wholeMilliseconds))
        }
        try handle.setLong(CURLOPT_BUFFERSIZE, settings.receiveBufferSize)
        try handle.setLong(CURLOPT_TCP_KEEPALIVE, 1)
        // A proxy's `200 Connection established` block would otherwise look like the response.
        try handle.setLong(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)

        try configureTLS(request.tls)
        try configureMethod(request, userdata: userdata, settings: settings)
        try handle.setHeaders(try headerLines(request))

        try handle.setPointer(CURLOPT_HEADERDATA, userdata)
        try handle.setWriteFunction(CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
        }
        try handle.setPointer(CURLOPT_WRITEDATA, userdata)
        try handle.setWriteFunction(CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
        }
    }

    private func configureTLS(_ tls: TLSOptions) throws(CurlError) {
        try handle.setLong(CURLOPT_SSL_VERIFYPEER, tls.verifyPeer ? 1 : 0)
        try handle.setLong(CURLOPT_SSL_VERIFYHOST, tls.verifyPeer ? 2 : 0)
        if let caFile = tls.caFile {
            try handle.setString(CURLOPT_CAINFO, caFile)
            // `caFile` replaces the system store (TLSOptions' contract); Debian's curl also has a CA path.
            try handle.setString(CURLOPT_CAPATH, nil)
        }
        if let certificate = tls.clientCertificate {
            try handle.setString(CURLOPT_SSLCERT, certificate)
            try handle.setString(CURLOPT_SSLCERTTYPE, "PEM")
        }
        if let key = tls.clientKey {
            try handle.setString(CURLOPT_SSLKEY, key)
            try handle.setString(CURLOPT_SSLKEYTYPE, "PEM")
        }
    }

    private func configureMethod(
        _ request: HTTPRequest, userdata: UnsafeMutableRawPointer, settings: TransferSettings
    ) throws(CurlError) {
        if request.method == .head {
            try handle.setLong(CURLOPT_NOBODY, 1)
            return
        }
        guard let body else {
            if request.method != .get { try handle.setString(CURLOPT_CUSTOMREQUEST, request.method.rawValue) }
            return
        }
        // Upload mode streams every body through the read callback with a known Content-Length; the custom
        // request line turns curl's PUT into POST or PATCH where needed.
        try handle.setLong(CURLOPT_UPLOAD, 1)
        try handle.setOffset(CURLOPT_INFILESIZE_LARGE, body.length)
        if request.method != .put { try handle.setString(CURLOPT_CUSTOMREQUEST, request.method.rawValue) }
        if case .file = request.body {
            try handle.setLong(CURLOPT_UPLOAD_BUFFERSIZE, min(settings.receiveBufferSize, 2 * 1024 * 1024))
        }
        try handle.setPointer(CURLOPT_READDATA, userdata)
        try handle.setReadFunction { buffer, size, count, userdata in
            guard let userdata else { return ccurl_readfunc_abort }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.sendBody(UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
        }
        try handle.setPointer(CURLOPT_SEEKDATA, userdata)
        try handle.setSeekFunction { userdata, offset, origin in
            guard let userdata, origin == SEEK_SET else { return ccurl_seekfunc_cantseek }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
            return transfer.body?.seek(to: Int64(offset)) == true ? ccurl_seekfunc_ok : ccurl_seekfunc_cantseek
        }
    }

    private func headerLines(_ request: HTTPRequest) throws(CurlError) -> [String] {
        var lines: [String] = []
        var hasExpect = false
        for field in request.headers {
            // Bytes, not Characters: "\r\n" is one Character and would slip past a Character comparison.
            let forbidden: (UInt8) -> Bool = { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
            guard !field.name.isEmpty, !field.name.utf8.contains(UInt8(ascii: ":")),
                !field.name.utf8.contains(where: forbidden), !field.value.utf8.contains(where: forbidden)
            else {
                // Never echo the value: it may be a credential.
                throw CurlError(CURLE_BAD_FUNCTION_ARGUMENT, message: "invalid request header field \(field.name)")
            }
            let name = field.name.lowercased()
            // The body decides the framing; a second Content-Length would make the request ambiguous.
            if name == "content-length" || name == "transfer-encoding" { continue }
            if name == "expect" { hasExpect = true }
            // `Name:` with nothing after it tells curl to drop its own header; `Name;` sends an empty one.
            lines.append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        if let body, body.length < Self.expectContinueThreshold, !hasExpect {
            lines.append("Expect:")
        }
        return lines
    }

    // MARK: Callbacks (loop thread, inside curl_multi_perform)

    private func receiveHeader(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard !headComplete else { return bytes.count }  // trailers of a chunked body
        var line = Substring(decoding: bytes, as: UTF8.self)
        while let last = line.last, last == "\r\n" || last == "\n" || last == "\r" { line = line.dropLast() }
        if line.hasPrefix("HTTP/") {
            // A new status line starts a new block: headers of a 1xx response must not leak into the final one.
            head = ResponseHead()
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            head.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            head.reason = parts.count > 2 ? String(parts[2]).trimmingCharacters(in: .whitespaces) : ""
            if head.reason.isEmpty { head.reason = ReasonPhrase.standard(for: head.status) }
        } else if line.isEmpty {
            guard head.status >= 200 else { return bytes.count }  // end of a 1xx block
            headComplete = true
            if let error = sink.begin(head) {
                headerFailure = error
                return 0
            }
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            head.headers.add(name, value)
        }
        return bytes.count
    }

    private func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        bytesReceived += Int64(bytes.count)
        return sink.consume(bytes) ? bytes.count : 0
    }

    private func sendBody(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        body?.read(into: buffer) ?? ccurl_readfunc_abort
    }

    // MARK: Completion

    /// Resumes the caller with the outcome of `code` (`CURLMSG_DONE`). Call exactly once, after the handle
    /// left the multi handle.
    func complete(_ code: CURLcode) {
        let finalHead = headComplete ? head : nil
        if let finalHead, code == CURLE_OK || (code == CURLE_WRITE_ERROR && sink.isSatisfied) {
            return finish(.success(finalHead))
        }
        let error: TransportError
        if let local = headerFailure ?? sink.failure ?? body?.failure {
            error = local
        } else if code == CURLE_OK {
            error = .other(code: -1, message: "transfer ended without a response")
        } else {
            var message = target.scrub(handle.errorText ?? String(cString: curl_easy_strerror(code)))
            let osError = handle.osErrno
            if code == CURLE_COULDNT_CONNECT, osError != 0 {
                // Go's `connect: connection refused` rather than curl's text, which carries the elapsed time and
                // so made the same failure read differently in every report.
                message = "connect: " + goErrnoText(osError)
            }
            error = transportError(
                for: code, message: message, target: target, cause: osError != 0 ? SystemErrno(osError) : nil)
        }
        finish(.failure(error))
    }

    /// Resumes the caller with `error` without a `CURLMSG_DONE` (cancellation, shutdown). Call exactly once,
    /// after the handle left the multi handle.
    func abandon(_ error: TransportError) {
        finish(.failure(error))
    }

    private func finish(_ outcome: Result<ResponseHead, TransportError>) {
        // Free curl's handle before the caller runs, so a caller that checks for leaks sees none.
        handle.close()
        if case .failure(let error) = outcome { self.error = error }
        sink.finish(outcome, head: headComplete ? head : nil)
    }

    /// The error the transfer ended with, for the log line.
    private(set) var error: TransportError?

    /// The final status for the log line, 0 when none arrived.
    var status: Int { headComplete ? head.status : 0 }
}

@available(*, unavailable)
extension CurlTransfer: Sendable {}
