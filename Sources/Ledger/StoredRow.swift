import Foundation
internal import GRDB
import OCIModel

/// A stored value that does not parse; mapped to ``LedgerError/corruptRow(path:table:reason:)``.
struct StoredValueError: Error {
    let table: String
    let reason: String
}

/// Typed, throwing access to a fetched row: GRDB's subscripts trap on NULL or a wrong type, and a hand-edited
/// or damaged file must produce an error, not a crash.
struct StoredRow {
    let row: Row
    let table: String

    func string(_ column: String) throws -> String {
        guard let value = try optionalString(column) else { throw missing(column) }
        return value
    }

    func optionalString(_ column: String) throws -> String? {
        try decoding(column) { try row.decode(String?.self, forColumn: column) }
    }

    func int64(_ column: String) throws -> Int64 {
        guard let value = try optionalInt64(column) else { throw missing(column) }
        return value
    }

    func optionalInt64(_ column: String) throws -> Int64? {
        try decoding(column) { try row.decode(Int64?.self, forColumn: column) }
    }

    func int(_ column: String) throws -> Int { Int(try int64(column)) }

    func bool(_ column: String) throws -> Bool { try int64(column) != 0 }

    func date(_ column: String) throws -> Date {
        guard let value = try optionalDate(column) else { throw missing(column) }
        return value
    }

    func optionalDate(_ column: String) throws -> Date? {
        try decoding(column) { try row.decode(Date?.self, forColumn: column) }
    }

    func digest(_ column: String) throws -> Digest {
        guard let value = try optionalDigest(column) else { throw missing(column) }
        return value
    }

    func optionalDigest(_ column: String) throws -> Digest? {
        guard let text = try optionalString(column) else { return nil }
        do {
            return try Digest(parsing: text)
        } catch {
            throw StoredValueError(table: table, reason: "\(column) \"\(text)\": \(error)")
        }
    }

    func mediaType(_ column: String) throws -> MediaType { MediaType(rawValue: try string(column)) }

    func optionalMediaType(_ column: String) throws -> MediaType? {
        try optionalString(column).map(MediaType.init(rawValue:))
    }

    func runID(_ column: String) throws -> RunID {
        let text = try string(column)
        guard let id = RunID(rawValue: text) else {
            throw StoredValueError(table: table, reason: "\(column) \"\(text)\" is not a run ID")
        }
        return id
    }

    /// NULL and `''` both mean "no platform".
    func platform(_ column: String) throws -> Platform? {
        guard let text = try optionalString(column), !text.isEmpty else { return nil }
        guard let platform = PlatformKey.decode(text) else {
            throw StoredValueError(table: table, reason: "\(column) \"\(text)\" is not a platform")
        }
        return platform
    }

    func value<E: RawRepresentable<String>>(_ type: E.Type, _ column: String) throws -> E {
        let text = try string(column)
        guard let value = E(rawValue: text) else {
            throw StoredValueError(table: table, reason: "\(column) \"\(text)\" is not a known value")
        }
        return value
    }

    private func missing(_ column: String) -> StoredValueError {
        StoredValueError(table: table, reason: "\(column) is NULL")
    }

    private func decoding<T>(_ column: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw StoredValueError(table: table, reason: "\(column): \(error)")
        }
    }
}

extension Array where Element == Row {
    func stored(_ table: String) -> [StoredRow] { map { StoredRow(row: $0, table: table) } }
}

/// The text form of a platform in key columns: `os/arch[/variant][:os.version]`.
///
/// `os.version` is part of the key because Windows indexes list one child per OS build under the same
/// `windows/amd64`; containerd's format drops it. `os.features` is not kept.
enum PlatformKey {
    static func encode(_ platform: Platform) -> String {
        let normalized = platform.normalized()
        guard let version = normalized.osVersion, !version.isEmpty else { return normalized.description }
        return normalized.description + ":" + version
    }

    static func decode(_ text: String) -> Platform? {
        let colon = text.firstIndex(of: ":")
        let specifier = colon.map { text[..<$0] } ?? text[...]
        let version = colon.map { String(text[text.index(after: $0)...]) }
        let parts = specifier.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        return Platform(
            os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil,
            osVersion: version?.isEmpty == false ? version : nil)
    }
}
