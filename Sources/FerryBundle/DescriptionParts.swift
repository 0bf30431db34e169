import FerrySystem
import Foundation
import Ledger
import OCIModel

// A bundle description of 20,000 references is some 60 MB of JSON, nearly all of it in seven arrays. Export writes
// it one element of those at a time and import reads it back the same way: the rest of the document (the shell)
// is small enough to encode and decode whole.

/// The big arrays of a bundle description, in the order of their keys in the document.
enum DescriptionSlot: Int, CaseIterable {
    case blobs, excludedBlobs, driftEvents, observations, repositories, runs, references

    /// The keys from the top-level object to the array.
    var path: [String] {
        switch self {
        case .blobs: ["blobs"]
        case .excludedBlobs: ["excludedBlobs"]
        case .driftEvents: ["history", "driftEvents"]
        case .observations: ["history", "observations"]
        case .repositories: ["history", "repositories"]
        case .runs: ["history", "runs"]
        case .references: ["references"]
        }
    }

    /// The kind of history record the array holds; nil outside `history`.
    var historyKind: LedgerHistoryKinds? {
        switch self {
        case .driftEvents: .driftEvents
        case .observations: .observations
        case .repositories: .repositories
        case .runs: .runs
        case .blobs, .excludedBlobs, .references: nil
        }
    }

    /// Every array's path, in slot order.
    static let paths = allCases.map(\.path)

    /// The arrays as slots of an encoded description.
    static let shellSlots = allCases.map { JSONShell.Slot($0.path[$0.path.count - 1], depth: $0.path.count) }

    /// `value` (a description or sidecar with the big arrays empty) encoded and cut open at the arrays.
    static func shell(_ value: some Encodable) throws(BundleError) -> JSONShell {
        do {
            return try JSONShell(Array(try BundleJSON.encoder().encode(value)), slots: shellSlots, layout: .pretty)
        } catch {
            throw .invalidDocument(entry: "ferry-bundle.json", reason: "cannot encode: \(error)")
        }
    }
}

/// One element of a description's big arrays.
enum DescriptionElement {
    case blob(BundleBlob)
    case excludedBlob(BundleDescription.ExcludedBlob)
    case history(LedgerHistoryRecord)
    case reference(BundleReference)

    /// The array it belongs in.
    var slot: DescriptionSlot {
        switch self {
        case .blob: .blobs
        case .excludedBlob: .excludedBlobs
        case .history(.driftEvent): .driftEvents
        case .history(.observation): .observations
        case .history(.repository): .repositories
        case .history(.run): .runs
        case .reference: .references
        }
    }

    /// Why an element did not decode: the decoder's reason, from the element's path in the document on
    /// (`history.observations[3].runID: …`).
    struct Failure: Error {
        var reason: String
    }

    /// Decodes element `index` of `slot` from its bytes.
    static func decode(
        _ bytes: [UInt8], slot: DescriptionSlot, index: Int, decoder: JSONDecoder
    ) throws(Failure) -> DescriptionElement {
        do { return try decode(bytes, slot: slot, decoder: decoder) } catch {
            throw Failure(reason: BundleJSON.reason(error, at: slot.path.joined(separator: ".") + "[\(index)]"))
        }
    }

    private static func decode(
        _ bytes: [UInt8], slot: DescriptionSlot, decoder: JSONDecoder
    ) throws -> DescriptionElement {
        let data = Data(bytes)
        return switch slot {
        case .blobs: .blob(try decoder.decode(BundleBlob.self, from: data))
        case .excludedBlobs: .excludedBlob(try decoder.decode(BundleDescription.ExcludedBlob.self, from: data))
        case .driftEvents: .history(.driftEvent(try decoder.decode(DriftEventRecord.self, from: data)))
        case .observations: .history(.observation(try decoder.decode(ObservationRecord.self, from: data)))
        case .repositories: .history(.repository(try decoder.decode(InventoryEntry.self, from: data)))
        case .runs: .history(.run(try decoder.decode(RunRecord.self, from: data)))
        case .references: .reference(try decoder.decode(BundleReference.self, from: data))
        }
    }

    /// The element encoded on its own, as it appears (unindented) in the whole document.
    func encoded(_ encoder: JSONEncoder) throws -> [UInt8] {
        let data: Data =
            switch self {
            case .blob(let blob): try encoder.encode(blob)
            case .excludedBlob(let blob): try encoder.encode(blob)
            case .history(.driftEvent(let event)): try encoder.encode(event)
            case .history(.observation(let observation)): try encoder.encode(observation)
            case .history(.repository(let entry)): try encoder.encode(entry)
            case .history(.run(let run)): try encoder.encode(run)
            case .reference(let reference): try encoder.encode(reference)
            }
        return Array(data)
    }
}

/// Writes a bundle description one element at a time, in slot order: the bytes of ``BundleDescription/encoded()``
/// for the same content.
final class DescriptionWriter {
    private let writer: JSONSpliceWriter<BundleError>
    private let encoder = BundleJSON.encoder()
    private var slot = 0

    /// A writer of the description of `outline` (its arrays are not written: add them) into `write`.
    init(outline: BundleOutline, write: @escaping ([UInt8]) throws(BundleError) -> Void) throws(BundleError) {
        writer = JSONSpliceWriter(shell: try DescriptionSlot.shell(Self.empty(outline)), write: write)
    }

    /// Appends `element` to its array; elements come in slot order.
    func add(_ element: DescriptionElement) throws(BundleError) {
        let target = element.slot.rawValue
        precondition(target >= slot, "bundle description elements out of order")
        while slot < target {
            try writer.closeSlot()
            slot += 1
        }
        let bytes: [UInt8]
        do { bytes = try element.encoded(encoder) } catch {
            throw .invalidDocument(entry: "ferry-bundle.json", reason: "cannot encode: \(error)")
        }
        try writer.add(bytes)
    }

    /// Writes the rest of the document.
    func finish() throws(BundleError) { try writer.finish() }

    /// Where each array's elements are in what was written, in slot order.
    var slotRanges: [Range<Int64>] { writer.slotRanges }

    /// The description of `outline` with every big array empty: what the shell is encoded from.
    static func empty(_ outline: BundleOutline) -> BundleDescription {
        var empty = outline
        empty.references = []
        empty.blobs = []
        empty.excludedBlobs = []
        return BundleDescription(outline: empty, history: LedgerHistory())
    }
}

/// One copy of each media type: decoded one by one, 20,000 references would carry 20,000 copies of the same few
/// strings.
struct MediaTypeInterner {
    private var known: [MediaType: MediaType] = [:]

    /// `type`, as first seen.
    mutating func intern(_ type: MediaType) -> MediaType {
        if let first = known[type] { return first }
        known[type] = type
        return type
    }
}

/// The repository and tag of a tag reference, as the exporting store's history keys them.
struct BundleTagKey: Sendable, Hashable {
    /// The repository's full name.
    var repository: String
    /// The tag.
    var tag: String
}
