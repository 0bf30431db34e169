import OCIModel
import Yams

extension FileParser {
    /// `referrers: all | none | [artifactType, …]`; each artifact type is a media type (`type/subtype`).
    mutating func parseReferrers(_ node: Node) -> ReferrerSelection? {
        let expected = "all, none, or a list of artifact types such as [application/spdx+json]"
        if case .scalar = node {
            guard let text = walker.string(node, field: "referrers", expected: expected) else { return nil }
            if text == "all" { return .all }
            if text == "none" { return ReferrerSelection.none }
            walker.wrongType("referrers", node, expected: expected)
            return nil
        }
        guard
            let items = walker.stringList(
                node, field: "referrers", expected: expected,
                itemExpected: "an artifact type such as application/spdx+json")
        else { return nil }
        guard !items.isEmpty else {
            walker.wrongType("referrers", node, expected: expected)
            return nil
        }
        var types: [String] = []
        var ok = true
        for (text, item) in items {
            if text == "all" || text == "none" {
                walker.fail(item, "\"\(text)\" cannot be listed with artifact types; write referrers: \(text)")
                ok = false
            } else if !Self.isMediaType(text) {
                walker.fail(
                    item,
                    "bad artifact type \(goQuoted(text)): an artifact type is a media type such as "
                        + "application/vnd.dev.cosign.artifact.sig.v1+json")
                ok = false
            } else if !types.contains(text) {
                types.append(text)
            }
        }
        return ok ? .only(types) : nil
    }

    /// RFC 6838 `type/subtype`: each part starts with a letter or digit and holds `!#$&-^_.+` otherwise.
    static func isMediaType(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.first, first.isASCII, first.isLetter || first.isNumber, part.count <= 127 else {
                return false
            }
            return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "!#$&-^_.+".contains($0)) }
        }
    }
}
