/// Removes URL userinfo before anything reaches the database.
///
/// Callers already strip credentials from endpoints; this is the second line of defence, because a
/// password in `ferry.db` would travel with every exported bundle and audit copy.
enum Redaction {
    /// An endpoint as stored: `https://user:pass@host/x` → `https://host/x`, and `user:pass@host` → `host`.
    static func endpoint(_ text: String) -> String {
        guard !text.contains("://") else { return freeText(text) }
        let authorityEnd = text.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? text.endIndex
        guard let at = text[..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(text[text.index(after: at)...])
    }

    /// Any text (error messages included): strips the userinfo of every `scheme://…@` authority in it.
    static func freeText(_ text: String) -> String {
        guard text.contains("@"), text.contains("://") else { return text }
        var out = ""
        var rest = Substring(text)
        while let marker = rest.firstRange(of: "://") {
            out += rest[..<marker.upperBound]
            rest = rest[marker.upperBound...]
            let authorityEnd = rest.firstIndex(where: isAuthorityTerminator) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                rest = rest[rest.index(after: at)...]
            }
        }
        return out + rest
    }

    private static func isAuthorityTerminator(_ character: Character) -> Bool {
        character == "/" || character == "?" || character == "#" || character.isWhitespace || character == "\""
            || character == "'" || character == "<" || character == ">" || character == "`"
    }
}
