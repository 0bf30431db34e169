import FerrySystem
import Foundation
import LayoutStore
import Ledger
import OCIModel

extension BundleImporter {
    // MARK: Entry rules

    static func checkSafe(_ entry: TarEntryHeader) throws(BundleError) {
        if entry.path.hasPrefix("/") { throw .unsafePath(entry: entry.path, reason: "absolute paths are refused") }
        if entry.path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw .unsafePath(entry: entry.path, reason: "\"..\" components are refused")
        }
        switch entry.type {
        case .regular, .directory: return
        case .symbolicLink, .hardLink, .characterDevice, .blockDevice, .fifo, .other:
            throw .forbiddenEntryType(entry: entry.path, type: entry.type)
        }
    }

    static func isBlobDirectory(_ path: String) -> Bool {
        if path == "blobs/" || path == "blobs" { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.count == 2 && parts[0] == "blobs" && Digest.Algorithm(rawValue: String(parts[1])) != nil
            && (path.hasSuffix("/") || path.count == parts.joined(separator: "/").count)
    }

    /// `blobs/<alg>/<hex>` with a valid digest, or nil.
    static func blobDigest(_ path: String) -> Digest? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "blobs", let algorithm = Digest.Algorithm(rawValue: String(parts[1]))
        else { return nil }
        return try? Digest(algorithm: algorithm, hex: String(parts[2]))
    }

    static func stagingPath(_ digest: Digest, in staging: String) -> String {
        staging + "/" + digest.algorithm.rawValue + "-" + digest.hex
    }

    /// A staged manifest's bytes.
    static func readStaged(_ digest: Digest, in staging: String) throws(BundleError) -> [UInt8] {
        do throws(FileSystemError) {
            return try FileSystem.readFile(stagingPath(digest, in: staging), limit: documentLimit)
        } catch {
            throw .io(error)
        }
    }

    // MARK: Documents

    /// The `ferry-bundle.json` inside the tar must say what the sidecar says: the same bytes without `parts` (as
    /// ferry writes them), or else, decoded, the same content.
    static func checkEmbedded(_ document: SpooledDocument, against bundle: LocatedBundle) throws(BundleError) {
        if let expected = bundle.descriptionDigest, document.sha256 == expected { return }
        let inside = try DescriptionReading.canonicalDigest(try document.source()) {
            .invalidDocument(entry: "ferry-bundle.json", reason: $0)
        }
        let sidecar = try DescriptionReading.canonicalDigest(try FileByteSource(path: bundle.sidecarPath)) {
            .invalidSidecar(path: bundle.sidecarPath, reason: $0)
        }
        guard inside.digest == sidecar.digest else {
            throw .descriptionMismatch(
                reason: inside.id == bundle.description.id
                    ? "ferry-bundle.json inside the bundle differs from the sidecar"
                    : "the sidecar describes bundle \(bundle.description.id), the parts hold bundle \(inside.id)")
        }
    }

    static func checkLayout(_ bytes: [UInt8]) throws(BundleError) {
        struct Layout: Decodable { var imageLayoutVersion: String }
        guard let layout = try? JSONDecoder().decode(Layout.self, from: Data(bytes)) else {
            throw .invalidDocument(entry: "oci-layout", reason: "not an OCI layout marker")
        }
        guard layout.imageLayoutVersion == "1.0.0" else {
            throw .invalidDocument(entry: "oci-layout", reason: "image layout version \(layout.imageLayoutVersion)")
        }
    }

    /// `index.json` must name exactly the description's references, in order.
    static func checkIndex(_ document: SpooledDocument, against description: BundleOutline) throws(BundleError) {
        func invalid(_ reason: String) -> BundleError { .invalidDocument(entry: "index.json", reason: reason) }
        let references = description.references
        var count = 0
        var matches = true
        try walkIndex(try document.source(), invalid: invalid) { position, entry throws(BundleError) in
            if position >= references.count || references[position] != BundleReference(entry) { matches = false }
            count = position + 1
        }
        guard !matches || count != references.count else { return }
        // Every name is gathered only to explain the mismatch.
        var names: [String] = []
        try walkIndex(try document.source(), invalid: invalid) { _, entry throws(BundleError) in
            names.append(BundleReference(entry).name)
        }
        let differing = Set(names).symmetricDifference(references.map(\.name)).sorted()
        throw .descriptionMismatch(
            reason: "index.json and ferry-bundle.json list different references"
                + (differing.isEmpty ? " (digests or order differ)" : ": " + differing.joined(separator: ", ")))
    }

    /// Calls `body` with each entry of an `index.json` (a bundle's or a store's), one at a time; `body`'s errors
    /// pass through.
    static func walkIndex(
        _ source: any ByteSource, invalid: @escaping (String) -> BundleError,
        _ body: (Int, Descriptor) throws(BundleError) -> Void
    ) throws(BundleError) {
        struct Index: Decodable { var manifests: [Descriptor] }
        let decoder = JSONDecoder()
        let reader = JSONReader(source, failure: invalid)
        let walk = try DescriptionReading.bundleErrors(invalid) {
            try reader.walk(streaming: [["manifests"]], keepingShell: true) { _, position, bytes in
                let entry: Descriptor
                do { entry = try decoder.decode(Descriptor.self, from: Data(bytes)) } catch {
                    throw invalid(BundleJSON.reason(error, at: "manifests[\(position)]"))
                }
                try body(position, entry)
            }
        }
        do { _ = try decoder.decode(Index.self, from: Data(walk.shell)) } catch {
            throw invalid(BundleJSON.reason(error))
        }
    }
}

extension BundleReference {
    /// The bundle reference of an `index.json` entry: its name annotation (empty when it has none), digest,
    /// media type and size.
    init(_ entry: Descriptor) {
        self.init(
            name: entry.annotations?[Descriptor.refNameAnnotation] ?? "", digest: entry.digest,
            mediaType: entry.mediaType, size: entry.size)
    }
}
