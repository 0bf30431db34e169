import FerrySystem
import LayoutStore
import OCIModel

/// Why an export or import failed; every case names the file, part, entry or blob at fault.
///
/// ``isBadBundle`` separates a bundle that must not be trusted (exit 65) from local trouble (exit 74).
public enum BundleError: Error, Sendable, Hashable, CustomStringConvertible {
    // MARK: Locating and checking the files

    /// A file given to `ferry import` does not exist.
    case fileNotFound(path: String)
    /// The files given belong to different bundles.
    case mixedBundles(first: String, second: String)
    /// The sidecar `FILE.ferry-bundle.json` is not next to the bundle and was not given.
    case sidecarMissing(path: String)
    /// The sidecar does not parse or says something impossible.
    case invalidSidecar(path: String, reason: String)
    /// The bundle was written in a format version this ferry does not read.
    case unsupportedFormat(path: String, version: Int)
    /// A part the sidecar lists was found nowhere.
    case partMissing(name: String, number: Int, count: Int, searched: [String])
    /// A part is shorter than the sidecar says.
    case partTruncated(path: String, size: Int64, expected: Int64)
    /// A part is longer than the sidecar says.
    case partTooLong(path: String, size: Int64, expected: Int64)
    /// A part's SHA-256 differs from the sidecar's.
    case partCorrupt(path: String, actual: Digest, expected: Digest)

    // MARK: The tar stream

    /// A header block is not a valid ustar header.
    case invalidTarHeader(offset: Int64, reason: String)
    /// The stream ended inside an entry or before the end-of-archive marker.
    case truncatedArchive(entry: String?)
    /// Non-zero bytes after the end-of-archive marker.
    case trailingData(offset: Int64)
    /// An absolute path or a `..` component.
    case unsafePath(entry: String, reason: String)
    /// A link, device, FIFO or other non-file entry.
    case forbiddenEntryType(entry: String, type: TarEntryType)
    /// A path that is not `oci-layout`, `index.json`, `ferry-bundle.json`, `blobs/`, `blobs/<alg>/` or
    /// `blobs/<alg>/<hex>`.
    case unexpectedEntry(entry: String)
    /// The same path twice.
    case duplicateEntry(entry: String)
    /// A small document (`index.json`, `ferry-bundle.json`, `oci-layout`) over its size limit.
    case entryTooLarge(entry: String, limit: Int)

    // MARK: The content

    /// A blob's bytes do not hash to its name.
    case blobDigestMismatch(entry: String, actual: Digest)
    /// A blob is not listed in the bundle description.
    case blobNotListed(entry: String)
    /// A blob's size differs from the bundle description's.
    case blobSizeMismatch(entry: String, size: Int64, expected: Int64)
    /// A blob the description lists is not in the tar.
    case blobMissingFromBundle(digest: Digest)
    /// A required file is not in the tar.
    case missingEntry(entry: String)
    /// The embedded `ferry-bundle.json` or `index.json` disagrees with the sidecar.
    case descriptionMismatch(reason: String)
    /// A reference needs a blob that is neither in the bundle nor in the store.
    case missingReferencedBlob(reference: String, digest: Digest)
    /// `oci-layout`, `index.json` or a manifest does not parse.
    case invalidDocument(entry: String, reason: String)

    // MARK: Export

    /// `--to` would overwrite an existing file.
    case outputExists(path: String)
    /// `--split-size` does not parse or is out of range.
    case invalidSplitSize(text: String, reason: String)
    /// `--since` names no bundle or run of this store.
    case unknownSince(text: String)
    /// `--since` is a prefix of several bundle IDs.
    case ambiguousSince(text: String, matches: [Digest])
    /// A blob in the store does not hash to its name.
    case storeBlobCorrupt(digest: Digest, actual: Digest, path: String)
    /// A reference in the store misses a blob.
    case storeIncomplete(reference: String, digest: Digest)
    /// The store has no named references.
    case nothingToExport(store: String)

    // MARK: Local failures

    /// A file-system operation failed.
    case io(FileSystemError)
    /// The content store failed.
    case store(ContentStoreError)
    /// The reference store failed; the text is its error.
    case ledger(String)

    /// True when the bundle itself is at fault (exit 65); false for local trouble (exit 74).
    public var isBadBundle: Bool {
        switch self {
        case .fileNotFound, .mixedBundles, .sidecarMissing, .invalidSidecar, .unsupportedFormat, .partMissing,
            .partTruncated, .partTooLong, .partCorrupt, .invalidTarHeader, .truncatedArchive, .trailingData,
            .unsafePath, .forbiddenEntryType, .unexpectedEntry, .duplicateEntry, .entryTooLarge, .blobDigestMismatch,
            .blobNotListed, .blobSizeMismatch, .blobMissingFromBundle, .missingEntry, .descriptionMismatch,
            .missingReferencedBlob, .invalidDocument:
            true
        case .invalidSplitSize, .unknownSince, .ambiguousSince, .outputExists, .storeBlobCorrupt, .storeIncomplete,
            .nothingToExport, .io, .store, .ledger:
            false
        }
    }

    /// True when a command-line value was wrong (`--split-size`, `--since`): exit 64.
    public var isUsageError: Bool {
        switch self {
        case .invalidSplitSize, .unknownSince, .ambiguousSince: true
        default: false
        }
    }

    /// One line naming the object at fault.
    public var description: String {
        switch self {
        case .fileNotFound(let path): "\(path): no such file"
        case .mixedBundles(let first, let second):
            "\(first) and \(second) belong to different bundles; import one bundle at a time"
        case .sidecarMissing(let path):
            "\(path): bundle description not found; it holds the part checksums, so copy it along with the bundle"
        case .invalidSidecar(let path, let reason): "\(path): invalid bundle description: \(reason)"
        case .unsupportedFormat(let path, let version):
            "\(path): bundle format version \(version) is not supported (this ferry reads version "
                + "\(BundleDescription.formatVersion))"
        case .partMissing(let name, let number, let count, let searched):
            "bundle part \(number) of \(count) is missing: \(name) (looked in \(searched.joined(separator: ", ")))"
        case .partTruncated(let path, let size, let expected):
            "\(path): bundle part is truncated: \(size) of \(expected) bytes"
        case .partTooLong(let path, let size, let expected):
            "\(path): bundle part has \(size) bytes, expected \(expected)"
        case .partCorrupt(let path, let actual, let expected):
            "\(path): bundle part is corrupt: SHA-256 \(actual.hex), expected \(expected.hex)"
        case .invalidTarHeader(let offset, let reason): "invalid tar header at byte \(offset): \(reason)"
        case .truncatedArchive(let entry?): "the bundle ends inside entry \"\(entry)\""
        case .truncatedArchive(nil): "the bundle ends before its end-of-archive marker"
        case .trailingData(let offset): "unexpected data after the end of the archive at byte \(offset)"
        case .unsafePath(let entry, let reason): "entry \"\(entry)\": \(reason)"
        case .forbiddenEntryType(let entry, let type): "entry \"\(entry)\": \(type) entries are refused"
        case .unexpectedEntry(let entry):
            "entry \"\(entry)\": not part of a ferry bundle "
                + "(only oci-layout, index.json, ferry-bundle.json and blobs/<algorithm>/<hex>)"
        case .duplicateEntry(let entry): "entry \"\(entry)\" appears twice"
        case .entryTooLarge(let entry, let limit): "entry \"\(entry)\" is larger than \(limit) bytes"
        case .blobDigestMismatch(let entry, let actual):
            "entry \"\(entry)\": content does not match its name (it hashes to \(actual))"
        case .blobNotListed(let entry): "entry \"\(entry)\": blob is not listed in ferry-bundle.json"
        case .blobSizeMismatch(let entry, let size, let expected):
            "entry \"\(entry)\": \(size) bytes, ferry-bundle.json says \(expected)"
        case .blobMissingFromBundle(let digest):
            "blob \(digest) is listed in ferry-bundle.json but not in the bundle"
        case .missingEntry(let entry): "the bundle has no \(entry)"
        case .descriptionMismatch(let reason): "the bundle contradicts its description: \(reason)"
        case .missingReferencedBlob(let reference, let digest):
            "\(reference) needs blob \(digest), which is neither in the bundle nor in the store"
        case .invalidDocument(let entry, let reason): "\(entry): \(reason)"
        case .outputExists(let path): "\(path) already exists; remove it or choose another --to"
        case .invalidSplitSize(let text, let reason): "invalid --split-size \"\(text)\": \(reason)"
        case .unknownSince(let text): "--since \(text): no bundle exported from this store and no run has this ID"
        case .ambiguousSince(let text, let matches):
            "--since \(text) matches \(matches.count) bundles: "
                + matches.map { String($0.hex.prefix(16)) }.joined(separator: ", ")
        case .storeBlobCorrupt(let digest, let actual, let path):
            "\(path): blob \(digest) is corrupt (content hashes to \(actual)); run ferry verify --repair"
        case .storeIncomplete(let reference, let digest):
            "\(reference): blob \(digest) is missing from the store; run ferry sync or ferry verify"
        case .nothingToExport(let store): "\(store): the store holds no named references; nothing to export"
        case .io(let error): "\(error)"
        case .store(let error): "\(error)"
        case .ledger(let text): text
        }
    }
}

extension BundleError: DiskFullReporting {
    /// The file a full disk kept from being written.
    public var diskFullPath: String? {
        switch self {
        case .io(let error): error.diskFullPath
        case .store(let error): error.diskFullPath
        default: nil
        }
    }
}
