import FerryHTTP
import FerryTestSupport
import OCIRegistry

extension FuzzTargets {
    /// `RegistryError.fromResponse` on a 4xx error body (distribution's `errcode.Errors`, legacy `details`, or
    /// anything else), with the first line of the input as a `WWW-Authenticate` header.
    ///
    /// Property: the result is a non-empty ``RegistryError/registry(_:status:)`` or an
    /// ``RegistryError/unexpectedResponse(status:parseError:body:)``, and it describes itself.
    public static func errorBody() -> FuzzTarget {
        FuzzTarget(name: "error-body", seeds: errorBodySeeds, tokens: errorBodyTokens) { bytes throws(FuzzViolation) in
            let newline = bytes.firstIndex(of: 0x0A) ?? bytes.startIndex
            let challenge = String(decoding: bytes[..<newline], as: UTF8.self)
            let body = Array(bytes[newline...].dropFirst())
            let status = [400, 401, 403, 404, 429][bytes.count % 5]
            let response = HTTPResponse(status: status, headers: ["WWW-Authenticate": challenge], body: body)
            let error = RegistryError.fromResponse(response)
            guard !error.description.isEmpty else { throw FuzzViolation("\(error) has no description") }
            switch error {
            case .registry(let errors, status) where !errors.isEmpty: return .accepted
            case .unexpectedResponse(status, _, _): return .rejected
            default: throw FuzzViolation("a \(status) response became \(error)")
            }
        }
    }

    static let errorBodySeeds: [[UInt8]] = [
        "\n" + #"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"9.9"}}]}"#,
        #"Bearer realm="https://auth.test/token",error="insufficient_scope",error_description="no""# + "\n"
            + #"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied","detail":null}]}"#,
        "\n" + #"{"details":"incorrect username or password"}"#,
        "\n<html><body>502 Bad Gateway</body></html>",
        "\n" + #"{"errors":[{"code":"TOOMANYREQUESTS","detail":[1,2.5,"x",{"a":true}]},{"CODE":"x"}]}"#,
    ].map { Array($0.utf8) }

    static let errorBodyTokens: [[UInt8]] = [
        #"{"errors":["#, #"{"code":"#, #""message":"#, #""detail":"#, #""details":"#, "error=invalid_token",
        "error=insufficient_scope", "error_description=", "1e400", "-1e400",
    ].map { Array($0.utf8) }
}
