import Foundation

/// The one JSON encoding used for every hashed document: sorted keys, no escaped slashes, no whitespace.
public enum DeterministicJSON {
    /// Encodes `value` deterministically.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw TestSupportError.invalidArgument("cannot encode \(type(of: value)) as JSON: \(error)")
        }
    }
}
