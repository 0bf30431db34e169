import Foundation

/// Base64 helpers; the URL-safe unpadded form is what JWS segments use (RFC 7515 §2).
enum Base64 {
    /// Standard Base64 with `=` padding.
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Base64url without padding.
    static func urlEncode(_ bytes: [UInt8]) -> String {
        var text = encode(bytes)
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Decodes standard or URL-safe Base64, padded or not, ignoring line breaks; nil when malformed.
    static func decode(_ text: String) -> [UInt8]? {
        var normalized = text.filter { !$0.isWhitespace }
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while normalized.count % 4 != 0 { normalized += "=" }
        return Data(base64Encoded: normalized).map { Array($0) }
    }
}
