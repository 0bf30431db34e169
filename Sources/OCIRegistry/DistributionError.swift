import FerryHTTP
import Foundation

/// A registry error code. Open vocabulary: codes ferry does not know are kept verbatim.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes
public struct RegistryErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as sent, e.g. `MANIFEST_UNKNOWN`.
    public var rawValue: String

    /// Wraps a code string.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `UNAUTHORIZED` (401).
    public static let unauthorized = Self(rawValue: "UNAUTHORIZED")
    /// `DENIED` (403).
    public static let denied = Self(rawValue: "DENIED")
    /// `TOOMANYREQUESTS` (429).
    public static let tooManyRequests = Self(rawValue: "TOOMANYREQUESTS")
    /// `UNSUPPORTED` (405).
    public static let unsupported = Self(rawValue: "UNSUPPORTED")
    /// `UNKNOWN`.
    public static let unknown = Self(rawValue: "UNKNOWN")
    /// `UNAVAILABLE` (503).
    public static let unavailable = Self(rawValue: "UNAVAILABLE")
    /// `NAME_UNKNOWN` (404).
    public static let nameUnknown = Self(rawValue: "NAME_UNKNOWN")
    /// `MANIFEST_UNKNOWN` (404).
    public static let manifestUnknown = Self(rawValue: "MANIFEST_UNKNOWN")
    /// `BLOB_UNKNOWN` (404).
    public static let blobUnknown = Self(rawValue: "BLOB_UNKNOWN")
    /// `NAME_INVALID`.
    public static let nameInvalid = Self(rawValue: "NAME_INVALID")
    /// `TAG_INVALID` (legacy).
    public static let tagInvalid = Self(rawValue: "TAG_INVALID")
    /// `MANIFEST_INVALID`.
    public static let manifestInvalid = Self(rawValue: "MANIFEST_INVALID")
    /// `MANIFEST_UNVERIFIED` (legacy).
    public static let manifestUnverified = Self(rawValue: "MANIFEST_UNVERIFIED")
    /// `MANIFEST_BLOB_UNKNOWN`.
    public static let manifestBlobUnknown = Self(rawValue: "MANIFEST_BLOB_UNKNOWN")
    /// `DIGEST_INVALID`.
    public static let digestInvalid = Self(rawValue: "DIGEST_INVALID")
    /// `SIZE_INVALID`.
    public static let sizeInvalid = Self(rawValue: "SIZE_INVALID")
    /// `BLOB_UPLOAD_UNKNOWN`.
    public static let blobUploadUnknown = Self(rawValue: "BLOB_UPLOAD_UNKNOWN")
    /// `BLOB_UPLOAD_INVALID`.
    public static let blobUploadInvalid = Self(rawValue: "BLOB_UPLOAD_INVALID")

    /// The default message distribution registers for this code.
    public var defaultMessage: String {
        switch self {
        case .unauthorized: "authentication required"
        case .denied: "requested access to the resource is denied"
        case .tooManyRequests: "too many requests"
        case .unsupported: "The operation is unsupported."
        case .unavailable: "service unavailable"
        case .nameUnknown: "repository name not known to registry"
        case .manifestUnknown: "manifest unknown"
        case .blobUnknown: "blob unknown to registry"
        case .nameInvalid: "invalid repository name"
        case .tagInvalid: "manifest tag did not match URI"
        case .manifestInvalid: "manifest invalid"
        case .manifestUnverified: "manifest failed signature verification"
        case .manifestBlobUnknown: "blob unknown to registry"
        case .digestInvalid: "provided digest did not match uploaded content"
        case .sizeInvalid: "provided length did not match content length"
        case .blobUploadUnknown: "blob upload unknown to registry"
        case .blobUploadInvalid: "blob upload invalid"
        default: "unknown error"
        }
    }

    /// Go's `ErrorCode.Error()`: lowercase, underscores as spaces (`manifest unknown`).
    public var text: String { rawValue.lowercased().replacingOccurrences(of: "_", with: " ") }

    /// The raw code.
    public var description: String { rawValue }
}

/// One entry of a registry's `{"errors":[…]}` body (distribution's `errcode.Error`).
public struct DistributionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The code.
    public var code: RegistryErrorCode
    /// The message; the code's default when the body had none.
    public var message: String
    /// The `detail` value as compact JSON text, when present.
    public var detail: String?
    /// True when the body entry carried no detail and no message of its own. Go turns such entries into a bare
    /// `ErrorCode` whose text is only the code (`manifest unknown`); ferry classifies both forms alike but keeps
    /// the text (PULL-SEMANTICS §1.4, "Go quirk").
    public var isBareCode: Bool

    /// Creates an error entry.
    public init(code: RegistryErrorCode, message: String? = nil, detail: String? = nil) {
        self.code = code
        let message = message ?? ""
        self.isBareCode = detail == nil && (message.isEmpty || message == code.defaultMessage)
        self.message = message.isEmpty ? code.defaultMessage : message
        self.detail = detail
    }

    /// `manifest unknown: manifest unknown`, or just `manifest unknown` for a bare code.
    public var description: String { isBareCode ? code.text : "\(code.text): \(message)" }
}

extension RegistryError {
    /// Interprets an unsuccessful response like distribution's `HandleErrorResponse`.
    ///
    /// 4xx: a Bearer `error=` in `WWW-Authenticate` comes first (`invalid_token` → UNAUTHORIZED,
    /// `insufficient_scope` → DENIED), then the body's `errors`, or a legacy `{"details":…}` body; a body that
    /// does not parse is an unexpected-response error, except on 401 where it becomes UNAUTHORIZED with the body as
    /// detail. Any other status is `received unexpected HTTP status: <status line>`.
    // https://github.com/distribution/distribution/blob/main/registry/client/errors.go
    public static func fromResponse(_ response: HTTPResponse) -> RegistryError {
        guard (400..<500).contains(response.status) else {
            return .unexpectedStatus(statusLine: response.statusLine)
        }
        for challenge in AuthChallenge.parse(headers: response.headers) where challenge.scheme == "bearer" {
            let code: RegistryErrorCode
            switch challenge.parameters["error"] {
            case "invalid_token": code = .unauthorized
            case "insufficient_scope": code = .denied
            default: continue
            }
            let description = challenge.parameters["error_description"] ?? ""
            // An error built from the header always has a message, so it is never a bare code.
            var headerError = DistributionError(code: code, message: description.isEmpty ? code.defaultMessage : description)
            headerError.isBareCode = false
            switch parseBody(status: response.status, body: response.body) {
            case .registry(let errors, _): return .registry([headerError] + errors, status: response.status)
            default: return .registry([headerError], status: response.status)
            }
        }
        let parsed = parseBody(status: response.status, body: response.body)
        if case .unexpectedResponse = parsed, response.status == 401 {
            let detail = String(decoding: response.body, as: UTF8.self)
            return .registry([DistributionError(code: .unauthorized, detail: detail)], status: 401)
        }
        return parsed
    }

    private static func parseBody(status: Int, body: [UInt8]) -> RegistryError {
        let bodyText = String(decoding: body.prefix(4096), as: UTF8.self)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            return .unexpectedResponse(status: status, parseError: jsonErrorText(body), body: bodyText)
        }
        if let object = json as? [String: Any] {
            if let details = object.first(where: { $0.key.lowercased() == "details" })?.value as? String,
                !details.isEmpty
            {
                let code: RegistryErrorCode =
                    status == 401 ? .unauthorized : (status == 429 ? .tooManyRequests : .unknown)
                return .registry([DistributionError(code: code, message: details)], status: status)
            }
            if let entries = object.first(where: { $0.key.lowercased() == "errors" })?.value as? [Any] {
                var errors: [DistributionError] = []
                for case let entry as [String: Any] in entries {
                    // An empty or missing code is Go's ErrorCodeUnknown, as ParseErrorCode("") gives.
                    let written = entry.first { $0.key.lowercased() == "code" }?.value as? String
                    let code = written.flatMap { $0.isEmpty ? nil : $0 } ?? "UNKNOWN"
                    let message = entry.first { $0.key.lowercased() == "message" }?.value as? String
                    var detail: String?
                    if let value = entry.first(where: { $0.key.lowercased() == "detail" })?.value, !(value is NSNull) {
                        detail = compactJSON(value)
                    }
                    errors.append(DistributionError(code: RegistryErrorCode(rawValue: code), message: message, detail: detail))
                }
                if !errors.isEmpty { return .registry(errors, status: status) }
            }
            return .unexpectedResponse(
                status: status, parseError: "no error details found in HTTP response body", body: bodyText)
        }
        return .unexpectedResponse(
            status: status, parseError: "json: cannot unmarshal into Go value of type errcode.Errors", body: bodyText)
    }

    private static func jsonErrorText(_ body: [UInt8]) -> String {
        guard let first = body.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            return "unexpected end of JSON input"
        }
        let character = String(decoding: [first], as: UTF8.self)
        return "invalid character '\(character)' looking for beginning of value"
    }

    private static func compactJSON(_ value: Any) -> String {
        if let text = value as? String { return "\"\(text)\"" }
        if JSONSerialization.isValidJSONObject(value),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }
}
