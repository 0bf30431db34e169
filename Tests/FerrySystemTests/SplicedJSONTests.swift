import FerrySystem
import Foundation
import Testing

/// A document with big arrays at two depths, as reports and bundle descriptions have them.
struct SpliceFixture: Codable, Equatable {
    struct Inner: Codable, Equatable {
        var first: [Item]
        var label: String
        var second: [Item]
    }

    struct Item: Codable, Equatable {
        var name: String
        var tags: [String]
        var nested: [String: Int]
    }

    var alpha: [Item]
    var inner: Inner
    var title: String
    var zeta: [Item]
}

@Suite struct SplicedJSONTests {
    static let slots = [
        JSONShell.Slot("alpha"), JSONShell.Slot("first", depth: 2), JSONShell.Slot("second", depth: 2),
        JSONShell.Slot("zeta"),
    ]

    static func item(_ name: String, tags: [String] = []) -> SpliceFixture.Item {
        SpliceFixture.Item(name: name, tags: tags, nested: tags.isEmpty ? [:] : ["count": tags.count])
    }

    /// Some arrays empty, some not, elements with empty arrays and objects inside, text that is not ASCII.
    static let documents = [
        SpliceFixture(
            alpha: [item("ä/ö", tags: ["ß", "日本"]), item("plain")],
            inner: SpliceFixture.Inner(first: [], label: "Grüße \"quoted\"\n", second: [item("x", tags: ["y"])]),
            title: "naïve", zeta: []),
        SpliceFixture(alpha: [], inner: SpliceFixture.Inner(first: [], label: "", second: []), title: "", zeta: []),
        SpliceFixture(
            alpha: [item("a")], inner: SpliceFixture.Inner(first: [item("b")], label: "l", second: [item("c")]),
            title: "t", zeta: [item("z", tags: ["1", "2", "3"])]),
    ]

    /// The encoder of each layout, with the settings ferry's documents use.
    static func encoder(_ layout: JSONShell.Layout) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if layout == .pretty { encoder.outputFormatting.insert(.prettyPrinted) }
        return encoder
    }

    /// Writes `document` through a splice writer: the shell, then every element on its own.
    static func spliced(
        _ document: SpliceFixture, layout: JSONShell.Layout
    ) throws -> (bytes: [UInt8], ranges: [Range<Int64>]) {
        let encoder = encoder(layout)
        var empty = document
        empty.alpha = []
        empty.inner.first = []
        empty.inner.second = []
        empty.zeta = []
        let shell = try JSONShell(Array(try encoder.encode(empty)), slots: slots, layout: layout)
        var out: [UInt8] = []
        let writer = JSONSpliceWriter<Never>(shell: shell) { out += $0 }
        for array in [document.alpha, document.inner.first, document.inner.second, document.zeta] {
            for element in array { writer.add(Array(try encoder.encode(element))) }
            writer.closeSlot()
        }
        writer.finish()
        return (out, writer.slotRanges)
    }

    @Test(arguments: [JSONShell.Layout.pretty, .compact])
    func splicedBytesAreTheWholeEncoding(layout: JSONShell.Layout) throws {
        for document in Self.documents {
            let whole = Array(try Self.encoder(layout).encode(document))
            let spliced = try Self.spliced(document, layout: layout)
            #expect(spliced.bytes == whole, "\(String(decoding: spliced.bytes, as: UTF8.self))")
            #expect(try JSONDecoder().decode(SpliceFixture.self, from: Data(spliced.bytes)) == document)
        }
    }

    @Test func anotherShellTakesTheSameSlotsFromTheRangesWritten() throws {
        // The sidecar case: the same arrays, spliced into a shell that differs elsewhere (here: the title).
        let document = Self.documents[0]
        let spliced = try Self.spliced(document, layout: .pretty)
        var other = document
        other.title = "another title, longer than the first"
        var empty = other
        empty.alpha = []
        empty.inner.first = []
        empty.inner.second = []
        empty.zeta = []
        let encoder = Self.encoder(.pretty)
        let shell = try JSONShell(Array(try encoder.encode(empty)), slots: Self.slots, layout: .pretty)
        var out: [UInt8] = []
        shell.write(
            content: { slot in
                let range = spliced.ranges[slot]
                out += spliced.bytes[Int(range.lowerBound)..<Int(range.upperBound)]
            }, to: { out += $0 })
        #expect(out == Array(try encoder.encode(other)))
    }

    @Test func aShellWithoutTheArrayIsRefused() throws {
        let encoder = Self.encoder(.pretty)
        // `alpha` is not empty in the shell, so there is no empty array to cut open.
        let document = Array(try encoder.encode(Self.documents[0]))
        #expect(throws: JSONShellError(key: "alpha")) {
            try JSONShell(document, slots: Self.slots, layout: .pretty)
        }
        #expect(JSONShellError(key: "alpha").description == "no empty \"alpha\" array in the encoded document")
    }
}
