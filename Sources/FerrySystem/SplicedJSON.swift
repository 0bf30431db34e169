// Big JSON documents written without holding them: the document is encoded once with its big arrays empty (the
// shell), and each element is encoded on its own and spliced in where its array is, so the bytes are exactly those
// of encoding the whole value at once. Here rather than in a document's own module because reports, bundles and
// the ID of a bundle all write documents this way, and FerrySystem is the one module those share that is about
// writing bytes out (OCIModel is the OCI vocabulary every module sees, the reference store included).

/// A JSON document encoded with some of its arrays empty, cut open at those arrays (the slots).
///
/// Keys must need no escaping, and the document must come from Foundation's `JSONEncoder`: pretty printing indents
/// by 2 spaces and writes an empty array as `[`, a blank line and `]`; compact output has no whitespace at all.
public struct JSONShell: Sendable, Hashable {
    /// How the document was encoded.
    public enum Layout: Sendable, Hashable {
        /// `.prettyPrinted`.
        case pretty
        /// No whitespace.
        case compact
    }

    /// An array the elements of which are written one by one: its key and the nesting depth of the object that
    /// holds it (1 for a key of the top-level object).
    public struct Slot: Sendable, Hashable {
        /// The array's key.
        public var key: String
        /// Depth of the object holding the key; only pretty printing needs it.
        public var depth: Int

        /// Creates a slot.
        public init(_ key: String, depth: Int = 1) {
            self.key = key
            self.depth = depth
        }
    }

    /// How the document was encoded.
    public let layout: Layout
    /// The arrays, in document order.
    public let slots: [Slot]
    /// The text before the first slot's elements, between consecutive slots, and after the last one.
    let segments: [[UInt8]]

    /// Cuts `document` open at `slots`, which must be empty arrays in `document` and appear in this order.
    public init(_ document: [UInt8], slots: [Slot], layout: Layout) throws(JSONShellError) {
        self.layout = layout
        self.slots = slots
        var segments: [[UInt8]] = []
        var cursor = 0
        for slot in slots {
            let (opening, closing) = Self.marker(slot, layout)
            guard let start = Self.find(opening + closing, in: document, from: cursor) else {
                throw JSONShellError(key: slot.key)
            }
            segments.append(Array(document[cursor..<(start + opening.count)]))
            cursor = start + opening.count + closing.count - Self.closingKept(slot, layout).count
        }
        segments.append(Array(document[cursor...]))
        self.segments = segments
    }

    /// Writes the document with each slot's elements written by `content`, given the slot's position: the way to
    /// give another shell with the same slots the elements a ``JSONSpliceWriter`` wrote (its `slotRanges`).
    public func write<Failure: Error>(
        content: (Int) throws(Failure) -> Void, to write: ([UInt8]) throws(Failure) -> Void
    ) throws(Failure) {
        for (position, segment) in segments.enumerated() {
            try write(segment)
            if position < slots.count { try content(position) }
        }
    }

    /// The empty array as the encoder writes it: the text up to and including `[`, then the rest.
    private static func marker(_ slot: Slot, _ layout: Layout) -> (opening: [UInt8], closing: [UInt8]) {
        switch layout {
        case .compact:
            return (Array("\"\(slot.key)\":[".utf8), Array("]".utf8))
        case .pretty:
            let indent = String(repeating: " ", count: 2 * slot.depth)
            return (Array("\n\(indent)\"\(slot.key)\" : [".utf8), Array("\n\n\(indent)]".utf8))
        }
    }

    /// The part of the marker's closing text that follows the elements of a non-empty array.
    static func closingKept(_ slot: Slot, _ layout: Layout) -> [UInt8] {
        switch layout {
        case .compact: Array("]".utf8)
        case .pretty: Array("\n\(String(repeating: " ", count: 2 * slot.depth))]".utf8)
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) {
                return index
            }
            index += 1
        }
        return nil
    }
}

/// A shell that lacks one of its slots: the document was not encoded with that array empty.
public struct JSONShellError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The key of the missing array.
    public var key: String

    /// An error for the array at `key`.
    public init(key: String) { self.key = key }

    /// `no empty "<key>" array in the encoded document`.
    public var description: String { "no empty \"\(key)\" array in the encoded document" }
}

/// Writes a ``JSONShell`` with its slots filled one element at a time, in slot order, through `write`.
public final class JSONSpliceWriter<Failure: Error> {
    private let shell: JSONShell
    private let sink: ([UInt8]) throws(Failure) -> Void
    /// The slot being filled; `shell.slots.count` once everything is written.
    private var slot = -1
    private var count = 0
    private var contentStart: Int64 = 0
    /// Bytes written so far.
    public private(set) var offset: Int64 = 0
    /// Where each closed slot's elements are in the output (the text between the shell's segments).
    public private(set) var slotRanges: [Range<Int64>] = []

    /// A writer of `shell` into `write`; nothing is written before the first call.
    public init(shell: JSONShell, write: @escaping ([UInt8]) throws(Failure) -> Void) {
        self.shell = shell
        sink = write
    }

    /// Writes the document up to the first slot's elements (once; later calls do nothing).
    public func start() throws(Failure) {
        guard slot < 0 else { return }
        try emit(shell.segments[0])
        slot = 0
        contentStart = offset
    }

    /// Appends `fragment`, one element encoded on its own with the document's encoder, to the current slot.
    public func add(_ fragment: [UInt8]) throws(Failure) {
        try start()
        precondition(slot < shell.slots.count, "every slot of the JSON shell is closed")
        switch shell.layout {
        case .compact:
            if count > 0 { try emit(Array(",".utf8)) }
            try emit(fragment)
        case .pretty:
            try emit(Self.indented(fragment, first: count == 0, depth: shell.slots[slot].depth + 1))
        }
        count += 1
    }

    /// Ends the current slot and moves to the next one.
    public func closeSlot() throws(Failure) {
        try start()
        precondition(slot < shell.slots.count, "every slot of the JSON shell is closed")
        if count == 0, shell.layout == .pretty { try emit(Array("\n".utf8)) }
        slotRanges.append(contentStart..<offset)
        slot += 1
        count = 0
        try emit(shell.segments[slot])
        contentStart = offset
    }

    /// Closes every slot left and writes the rest of the document.
    public func finish() throws(Failure) {
        try start()
        while slot < shell.slots.count { try closeSlot() }
    }

    private func emit(_ bytes: [UInt8]) throws(Failure) {
        try sink(bytes)
        offset += Int64(bytes.count)
    }

    /// `fragment` as an array element at `depth`: after a newline (and a comma unless first), every line
    /// indented by two spaces per level; blank lines (inside an empty array) stay blank, as the encoder writes them.
    static func indented(_ fragment: [UInt8], first: Bool, depth: Int) -> [UInt8] {
        let newline = UInt8(ascii: "\n")
        let indent = [UInt8](repeating: UInt8(ascii: " "), count: 2 * depth)
        var out: [UInt8] = first ? [newline] : [UInt8(ascii: ","), newline]
        out.reserveCapacity(fragment.count + fragment.count / 8 + 4)
        var lineStart = true
        for byte in fragment {
            if lineStart, byte != newline { out.append(contentsOf: indent) }
            out.append(byte)
            lineStart = byte == newline
        }
        return out
    }
}
