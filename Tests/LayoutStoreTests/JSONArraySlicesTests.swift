import Foundation
import Testing

@testable import LayoutStore

/// The structural scan that lets `index.json` be decoded entry by entry: exactly the elements, nothing for what
/// the whole-document decoder should judge.
@Suite struct JSONArraySlicesTests {
    static func elements(_ text: String) -> [String]? {
        let bytes = Array(text.utf8)
        guard let (_, ranges) = JSONArraySlices.split(bytes, key: "manifests") else { return nil }
        return ranges.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    static func shell(_ text: String) -> String? {
        JSONArraySlices.split(Array(text.utf8), key: "manifests").map { String(decoding: $0.shell, as: UTF8.self) }
    }

    @Test(arguments: [
        (#"{"manifests":[{"a":1},{"b":[2,3]}],"schemaVersion":2}"#, [#"{"a":1}"#, #"{"b":[2,3]}"#]),
        (#"{"manifests":[]}"#, []),
        (" {\n  \"schemaVersion\" : 2,\n  \"manifests\" : [\n    { \"x\" : \"]}\\\"[{\" } ,\n    {}\n  ]\n}\n",
         [#"{ "x" : "]}\"[{" }"#, "{}"]),
        (#"{"annotations":{"manifests":[9]},"manifests":[{"n":null,"t":true,"f":-1.5e3}]}"#,
         [#"{"n":null,"t":true,"f":-1.5e3}"#]),
    ] as [(String, [String])])
    func findsTheElements(text: String, expected: [String]) {
        #expect(Self.elements(text) == expected)
    }

    @Test func theShellHasTheArrayEmptied() {
        #expect(Self.shell(#"{"manifests":[{"a":1},{"b":2}],"schemaVersion":2}"#) == #"{"manifests":[],"schemaVersion":2}"#)
        #expect(Self.shell(" { \"manifests\" : [ 1 , 2 ] } ") == " { \"manifests\" : [] } ")
    }

    @Test(arguments: [
        #"{"schemaVersion":2}"#,  // no such key
        #"{"manifests":[1],"manifests":[2]}"#,  // twice
        #"{"manifest\u0073":[1]}"#,  // escaped key: left to the full decoder
        #"{"manifests":[{"a":1}"#,  // cut off
        #"{"manifests":[1,]}"#,  // trailing comma
        #"{"manifests":[1]} x"#,  // trailing text
        #"["manifests"]"#,  // not an object
        "",
    ])
    func leavesAnythingUnusualToTheWholeDocumentDecoder(text: String) {
        #expect(Self.elements(text) == nil)
    }
}
