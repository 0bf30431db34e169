import FerryHTTP
import FerryTestSupport
import Foundation
import OCIModel
import Testing

@testable import OCIRegistry

/// A registry that answers on purpose in ways meant to make a client loop, read without end, leak credentials or
/// touch files (issue 11, "hostile input").
@Suite struct HostileTagListTests {
    /// A tag list page whose `Link` header is `link` (nil: none).
    static func page(_ tags: [String], link: String?) -> ScriptedTransport.Reply {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let link { headers.add("Link", link) }
        let list = tags.map { "\"\($0)\"" }.joined(separator: ",")
        return .response(HTTPResponse(status: 200, reason: "OK", headers: headers, body: Array(#"{"tags":[\#(list)]}"#.utf8)))
    }

    @Test func aPageLinkingToItselfFailsAfterOneRequest() async {
        let transport = ScriptedTransport { _ in Self.page(["a"], link: #"</v2/app/tags/list>; rel="next""#) }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.invalidResponse(
            url: "https://registry.test/v2/app/tags/list", message: "tag list pagination loops: page 1 links back to page 1")
        ) {
            try await client.listTags("app")
        }
        #expect(transport.requests.count == 1)
    }

    @Test func twoPagesLinkingToEachOtherFailAfterTwoRequests() async {
        let transport = ScriptedTransport { request in
            request.url.query == nil
                ? Self.page(["a"], link: #"</v2/app/tags/list?last=a>; rel="next""#)
                : Self.page(["b"], link: #"<https://registry.test/v2/app/tags/list>; rel="next""#)
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.invalidResponse(
            url: "https://registry.test/v2/app/tags/list", message: "tag list pagination loops: page 2 links back to page 1")
        ) {
            try await client.listTags("app")
        }
        #expect(transport.requests.count == 2)
    }

    @Test func pagesWithoutEndStopAtTheBound() async {
        let transport = ScriptedTransport { request in
            let page = Int(request.url.query?.dropFirst("page=".count) ?? "") ?? 1
            return Self.page(["t\(page)"], link: "</v2/app/tags/list?page=\(page + 1)>; rel=\"next\"")
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.invalidResponse(
            url: "https://registry.test/v2/app/tags/list", message: "tag list has more than 10000 pages")
        ) {
            try await client.listTags("app")
        }
        #expect(transport.requests.count == RegistryClient.maxTagListPages)
    }

    @Test(arguments: ["file:///etc/passwd", "ftp://registry.test/v2/app/tags/list", "gopher://registry.test/"])
    func aNextLinkThatIsNotHTTPIsRefusedUnfollowed(target: String) async {
        let transport = ScriptedTransport { _ in Self.page(["a"], link: "<\(target)>; rel=\"next\"") }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        await #expect(throws: RegistryError.invalidResponse(
            url: "https://registry.test/v2/app/tags/list",
            message: "tag list page 1 links to \(goQuoted(target)), not an http(s) URL")
        ) {
            try await client.listTags("app")
        }
        #expect(transport.requests.count == 1)
    }

    /// Found while writing the Link fuzz target: the old parser split the header at every `;`, so a next-page URL
    /// with a `;` in it was dropped and the listing ended after page 1 as if complete.
    @Test func aSemicolonInsideTheNextURLIsKept() async throws {
        let transport = ScriptedTransport { request in
            request.url.query == nil
                ? Self.page(["a"], link: #"</v2/app/tags/list;jsessionid=1?last=a,b>; title="x; y, z"; rel="next""#)
                : Self.page(["c"], link: nil)
        }
        let client = makeSession(transport).client(for: endpoint("https://registry.test"))
        #expect(try await client.listTags("app") == ["a", "c"])
        #expect(transport.requests.last?.url.absoluteString == "https://registry.test/v2/app/tags/list;jsessionid=1?last=a,b")
    }

    /// Found with the self-link case: a next page on another origin was asked with the registry's credentials.
    @Test func aNextPageOnAnotherOriginGetsNoCredentials() async throws {
        let registry = InMemoryRegistry(host: "registry.test", auth: .basic(username: "u", password: "p"))
        let transport = ScriptedTransport { request in
            if request.url.host == "elsewhere.test" { return Self.page(["b"], link: nil) }
            guard case .response(let response) = registry.handle(request), response.status == 401 else {
                return Self.page(["a"], link: #"<https://elsewhere.test/v2/app/tags/list?last=a>; rel="next""#)
            }
            return .response(response)
        }
        let credentials = StaticCredentials(["registry.test": .basic(username: "u", password: "p")])
        let client = makeSession(transport, credentials: credentials).client(for: endpoint("https://registry.test"))
        #expect(try await client.listTags("app") == ["a", "b"])
        #expect(transport.requests(to: "registry.test").last?.headers["Authorization"] == "Basic dTpw")
        #expect(transport.requests(to: "elsewhere.test").map { $0.headers["Authorization"] } == [nil])
    }
}

@Suite struct LinkHeaderTests {
    @Test(arguments: [
        (#"</a?b=1>; rel="next""#, "https://r.test/a?b=1"),
        (#"</a>; rel=next"#, "https://r.test/a"),
        (#"</prev>; rel="prev", </next>; rel="prev next""#, "https://r.test/next"),
        (#"</a>; REL = "NEXT""#, "https://r.test/a"),
        (#"<https://other.test/x>; type="a, b"; rel="next""#, "https://other.test/x"),
        (#"garbage, </b>; rel="next""#, "https://r.test/b"),
    ])
    func nextTargets(value: String, expected: String) {
        #expect(LinkHeader.next(in: ["Link": value], relativeTo: URL(string: "https://r.test/v2/x/tags/list")!)?.absoluteString
            == expected)
    }

    /// Found by libFuzzer: relations were split on Characters, and a tab followed by a combining mark is one
    /// Character, so `next` hid inside `"prev\t\u{301}next"` as far as the splitter saw, yet not after printing.
    @Test func relationsSplitOnBytesNotCharacters() {
        let links = LinkHeader.links(in: "</a>; rel=\"next\t\u{301}x prev\"")
        #expect(links == [LinkHeader.Link(target: "/a", relations: ["next", "\u{301}x", "prev"])])
        #expect(LinkHeader.next(in: ["Link": "</a>; rel=\"next\t\u{301}x\""], relativeTo: URL(string: "https://r.test/")!)?
            .absoluteString == "https://r.test/a")
    }

    @Test(arguments: [#"</a>; rel="prev""#, #"</a; rel="next""#, "", #"<>; rel="last""#, #"</a>; rel="nextpage""#])
    func noNextTarget(value: String) {
        #expect(LinkHeader.next(in: ["Link": value], relativeTo: URL(string: "https://r.test/v2/x/tags/list")!) == nil)
    }
}
