import FerryHTTP
import OCIModel
import Testing

@testable import OCIRegistry

@Suite struct ErrorParsingTests {
    static func response(_ status: Int, _ body: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        HTTPResponse(status: status, reason: HTTPResponse.standardReasonForTests(status), headers: headers, body: Array(body.utf8))
    }

    @Test(arguments: [
        (404, #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
         "manifest unknown: manifest unknown"),
        (404, #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#, "manifest unknown"),
        (404, #"{"errors":[{"code":"NAME_UNKNOWN"}]}"#, "name unknown"),
        (403, #"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied","detail":null}]}"#, "denied"),
        (429, #"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit."}]}"#,
         "toomanyrequests: You have reached your pull rate limit."),
        (404, #"{"errors":[{"code":"VENDOR_SPECIAL","message":"odd"}]}"#, "vendor special: odd"),
        // Found by fuzzing: an empty code is Go's UNKNOWN, and a message that is not a string is no message.
        (429, #"{"errors":[{"code":"","message":{"Tag":"9.9"}}]}"#, "unknown"),
        (404, #"{"errors":[{"message":"gone"}]}"#, "unknown: gone"),
        (400, #"{"errors":[{"code":"NAME_INVALID","message":"bad"},{"code":"TAG_INVALID","message":"worse"}]}"#,
         "errors:\nname invalid: bad\ntag invalid: worse\n"),
        (401, #"{"details":"incorrect username or password"}"#, "unauthorized: incorrect username or password"),
        (429, #"{"details":"slow down"}"#, "toomanyrequests: slow down"),
        (400, #"{"details":"weird"}"#, "unknown: weird"),
        (404, "<html>not here</html>",
         #"error parsing HTTP 404 response body: invalid character '<' looking for beginning of value: "<html>not here</html>""#),
        (404, #"{"errors":[]}"#, #"error parsing HTTP 404 response body: no error details found in HTTP response body: "{\"errors\":[]}""#),
        (401, "nope", #"unauthorized: authentication required"#),
        (500, "boom", "received unexpected HTTP status: 500 Internal Server Error"),
        (502, "", "received unexpected HTTP status: 502 Bad Gateway"),
    ] as [(Int, String, String)])
    func handleErrorResponse(status: Int, body: String, expected: String) {
        #expect(RegistryError.fromResponse(Self.response(status, body)).description == expected)
    }

    @Test func unparsable401KeepsTheBodyAsDetail() {
        let error = RegistryError.fromResponse(Self.response(401, "nope"))
        guard case .registry(let errors, 401) = error else {
            Issue.record("expected a registry error, got \(error)")
            return
        }
        #expect(errors.map(\.code) == [.unauthorized])
        #expect(errors.first?.detail == "nope")
    }

    @Test(arguments: [
        (#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",error="insufficient_scope""#,
         "denied: requested access to the resource is denied", [RegistryErrorCode.denied, .unauthorized]),
        (#"Bearer realm="r",error="invalid_token",error_description="token expired""#,
         "unauthorized: token expired", [.unauthorized, .unauthorized]),
    ])
    func bearerErrorInHeaderComesFirst(header: String, first: String, codes: [RegistryErrorCode]) {
        let response = Self.response(
            401, #"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            headers: ["WWW-Authenticate": header])
        let error = RegistryError.fromResponse(response)
        #expect(error.codes == codes)
        guard case .registry(let errors, _) = error else { return }
        #expect(errors.first?.description == first)
    }

    @Test func requestFailuresPrintLikeGoURLErrors() {
        let error = RegistryError.request(
            method: .head, url: "https://registry.test/v2/library/x/manifests/latest",
            cause: .transport(.connect(host: "registry.test:443", message: "connection refused")))
        #expect(error.description
            == #"Head "https://registry.test/v2/library/x/manifests/latest": dial tcp registry.test:443: connection refused"#)
        #expect(RegistryError.request(method: .get, url: "u", cause: .noBasicAuthCredentials).description
            == #"Get "u": no basic auth credentials"#)
        #expect(RegistryError.request(method: .get, url: "u", cause: .tooManyRedirects).description
            == #"Get "u": stopped after 10 redirects"#)
    }

    @Test func verificationTextsAreDockers() throws {
        let digest = try Digest(parsing: "sha256:" + String(repeating: "a", count: 64))
        #expect(RegistryError.verificationFailed(.manifest, digest).description
            == "manifest verification failed for digest \(digest)")
        #expect(RegistryError.verificationFailed(.config, digest).description
            == "image config verification failed for digest \(digest)")
        #expect(RegistryError.verificationFailed(.layer, digest).description
            == "filesystem layer verification failed for digest \(digest)")
    }
}

@Suite struct AuthChallengeTests {
    @Test func parsesBearerWithQuotedCommas() {
        let challenges = AuthChallenge.parse(
            header: #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push""#)
        #expect(challenges == [AuthChallenge(scheme: "bearer", parameters: [
            "realm": "https://auth.docker.io/token", "service": "registry.docker.io",
            "scope": "repository:samalba/my-app:pull,push",
        ])])
    }

    @Test func parsesSeveralChallengesInOneField() {
        let challenges = AuthChallenge.parse(header: #"Basic realm="basic", Bearer realm="https://t/token",service=svc"#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges.last?.parameters["service"] == "svc")
    }

    @Test func unparsableHeaderYieldsNothingUseful() {
        #expect(AuthChallenge.parse(header: "").isEmpty)
        #expect(AuthChallenge.parse(header: "   ,  ").isEmpty)
    }
}

@Suite struct RetryPolicyTests {
    @Test func retryAfterSecondsAndDates() throws {
        #expect(RetryPolicy.retryAfter(["Retry-After": "7"]) == .seconds(7))
        let now = try #require(ISO8601DateFormatterForTests.date("2026-11-29T10:00:00Z"))
        #expect(RetryPolicy.retryAfter(["Retry-After": "Sun, 29 Nov 2026 10:00:30 GMT"], now: now) == .seconds(30))
        #expect(RetryPolicy.retryAfter(["Retry-After": "soon"]) == nil)
        #expect(RetryPolicy.retryAfter([:]) == nil)
    }

    @Test func backoffDoublesUpToTheCap() {
        let policy = RetryPolicy(retries: 5, baseDelay: .seconds(1), maxDelay: .seconds(5), jitter: false)
        #expect((1...5).map { policy.delay(beforeRetry: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
    }

    @Test func onlyTransientStatusesRetry() {
        #expect([408, 429, 500, 502, 503, 504].allSatisfy(RetryPolicy.isRetryableStatus))
        #expect(![400, 401, 403, 404, 405, 416, 501].contains(where: RetryPolicy.isRetryableStatus))
    }
}
