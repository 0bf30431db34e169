import FerryHTTP
import FerryTestSupport
import Foundation
import OCIRegistry

extension FuzzTargets {
    /// `AuthChallenge.parse(header:)` on one `WWW-Authenticate` value (it refuses nothing, it skips).
    ///
    /// Property: schemes are non-empty lowercase tokens, and the challenges printed back as a header parse to the same
    /// challenges.
    public static func challenge() -> FuzzTarget {
        FuzzTarget(name: "challenge", seeds: challengeSeeds, tokens: challengeTokens) { bytes throws(FuzzViolation) in
            let challenges = AuthChallenge.parse(header: String(decoding: bytes, as: UTF8.self))
            for challenge in challenges where challenge.scheme.isEmpty || challenge.scheme != challenge.scheme.lowercased() {
                throw FuzzViolation("scheme \(challenge.scheme.debugDescription) is empty or not lowercase")
            }
            let printed = challenges.map { challenge in
                let parameters = challenge.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\(quoted($0.value))" }
                return challenge.scheme + (parameters.isEmpty ? "" : " " + parameters.joined(separator: ","))
            }.joined(separator: ", ")
            let again = AuthChallenge.parse(header: printed)
            guard again == challenges else {
                throw FuzzViolation("printed as \(printed.debugDescription) it parses to \(again), not \(challenges)")
            }
            return challenges.isEmpty ? .rejected : .accepted
        }
    }

    /// `LinkHeader` on one `Link` value, resolved against a tag-list URL.
    ///
    /// Property: the links printed back as a header parse to the same links, and the next URL, when there is one,
    /// is absolute.
    public static func link() -> FuzzTarget {
        let base = URL(string: "https://registry.test/v2/library/alpine/tags/list")!
        return FuzzTarget(name: "link", seeds: linkSeeds, tokens: linkTokens) { bytes throws(FuzzViolation) in
            let value = String(decoding: bytes, as: UTF8.self)
            let links = LinkHeader.links(in: value)
            let printed = links.map { link in
                "<\(link.target)>" + (link.relations.isEmpty ? "" : "; rel=\(quoted(link.relations.joined(separator: " ")))")
            }.joined(separator: ", ")
            let again = LinkHeader.links(in: printed)
            guard again == links else {
                throw FuzzViolation("printed as \(printed.debugDescription) it parses to \(again), not \(links)")
            }
            let next = LinkHeader.next(in: ["Link": value], relativeTo: base)
            if let next, next.scheme == nil {
                throw FuzzViolation("next link \(next) is not absolute")
            }
            return next == nil ? .rejected : .accepted
        }
    }

    /// `"text"` with `"` and `\` escaped, scalar by scalar: `replacingOccurrences` compares grapheme clusters and
    /// missed a `\` or `"` joined with a combining mark after it (libFuzzer, seed 293399903).
    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            if scalar == "\\" || scalar == "\"" { result.unicodeScalars.append("\\") }
            result.unicodeScalars.append(scalar)
        }
        result.unicodeScalars.append("\"")
        return result
    }

    static let challengeSeeds: [[UInt8]] = [
        #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        #"Basic realm="Registry Realm""#,
        #"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull", Basic realm="x""#,
        #"Bearer realm=https://quay.io/v2/auth,service=quay.io,error="insufficient_scope""#,
        #"Negotiate, Bearer realm="h\"t\\tp",scope="a b""#,
    ].map { Array($0.utf8) }

    static let challengeTokens: [[UInt8]] = [
        "Bearer ", "Basic ", "realm=", "service=", "scope=", "error=", "\"\"", "\\\"", ", ", "==", "token68==",
    ].map { Array($0.utf8) }

    static let linkSeeds: [[UInt8]] = [
        #"</v2/library/alpine/tags/list?last=3.20&n=100>; rel="next""#,
        #"<https://registry.test/v2/a/tags/list?n=2&last=b>; rel=next"#,
        #"<https://x/p;v=1?a,b>; title="a, b; c"; rel="prev next", <https://y/>; rel="last""#,
        #"<//other.test/v2/x/tags/list>;rel="next";type="application/json""#,
    ].map { Array($0.utf8) }

    static let linkTokens: [[UInt8]] = [
        "<", ">", "; rel=\"next\"", "rel=next", "; rel=", "title*=UTF-8''a", "file:///etc/passwd", "//", "?last=",
        "https://registry.test/", "javascript:x", "%zz",
    ].map { Array($0.utf8) }
}
