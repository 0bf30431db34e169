import Foundation

/// JSON encoding and decoding of reports: pretty-printed, sorted keys, unescaped slashes, ISO-8601 UTC dates with
/// milliseconds (the ledger's precision), digests as `algorithm:hex` strings.
public enum ReportJSON {
    /// Encodes a run report.
    public static func encode(_ report: RunReport) throws(ReportError) -> [UInt8] {
        try encode(report, what: "run report \(report.run.id)")
    }

    /// Encodes an inventory report.
    public static func encode(_ report: InventoryReport) throws(ReportError) -> [UInt8] {
        try encode(report, what: "inventory report")
    }

    /// Encodes a changes report.
    public static func encode(_ report: ChangesReport) throws(ReportError) -> [UInt8] {
        try encode(report, what: "changes report since run \(report.since.id)")
    }

    /// Decodes a changes report, refusing other schema versions.
    public static func decodeChangesReport(_ bytes: [UInt8]) throws(ReportError) -> ChangesReport {
        let report = try decode(ChangesReport.self, bytes, what: "changes report")
        guard report.schemaVersion == ChangesReport.currentSchemaVersion else {
            throw .json(
                what: "changes report",
                reason: "schema version \(report.schemaVersion) is not \(ChangesReport.currentSchemaVersion)")
        }
        return report
    }

    /// Decodes a run report, refusing other schema versions.
    public static func decodeRunReport(_ bytes: [UInt8]) throws(ReportError) -> RunReport {
        let report = try decode(RunReport.self, bytes, what: "run report")
        guard report.schemaVersion == RunReport.currentSchemaVersion else {
            throw .json(
                what: "run report",
                reason: "schema version \(report.schemaVersion) is not \(RunReport.currentSchemaVersion)")
        }
        return report
    }

    /// Decodes an inventory report, refusing other schema versions.
    public static func decodeInventoryReport(_ bytes: [UInt8]) throws(ReportError) -> InventoryReport {
        let report = try decode(InventoryReport.self, bytes, what: "inventory report")
        guard report.schemaVersion == InventoryReport.currentSchemaVersion else {
            throw .json(
                what: "inventory report",
                reason: "schema version \(report.schemaVersion) is not \(InventoryReport.currentSchemaVersion)")
        }
        return report
    }

    /// Encodes one value of a report on its own, as it appears (un-indented) inside the whole document.
    static func encodeFragment(_ value: some Encodable, with encoder: JSONEncoder = encoder()) throws(ReportError)
        -> [UInt8]
    {
        do { return Array(try encoder.encode(value)) } catch {
            throw .json(what: "report row", reason: "cannot encode: \(error)")
        }
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ReportTime.iso8601(date))
        }
        return encoder
    }

    private static func encode(_ value: some Encodable, what: String) throws(ReportError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(ReportTime.iso8601(date))
        }
        do {
            return Array(try encoder.encode(value)) + [0x0A]
        } catch {
            throw .json(what: what, reason: "cannot encode: \(error)")
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ReportError) -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = ReportTime.parseISO8601(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "not an ISO-8601 UTC time: \"\(text)\"")
            }
            return date
        }
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw .json(what: what, reason: "cannot decode: \(error)")
        }
    }
}

/// Time and size formatting shared by the renderers.
public enum ReportTime {
    /// `2026-11-29T10:30:00.250Z`: UTC, millisecond precision.
    public static func iso8601(_ date: Date) -> String {
        let (parts, milliseconds) = split(date)
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T\(pad(parts.hour, 2)):"
            + "\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(milliseconds, 3))Z"
    }

    /// `2026-11-29 10:30:00 UTC`, for people.
    public static func display(_ date: Date) -> String {
        let (parts, _) = split(date)
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2)) \(pad(parts.hour, 2)):"
            + "\(pad(parts.minute, 2)):\(pad(parts.second, 2)) UTC"
    }

    /// Parses `yyyy-MM-ddTHH:mm:ss[.fff]Z`; nil for anything else.
    public static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20 || bytes.count == 24, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard bytes[range].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return bytes[range].reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        let separators: [(Int, Character)] = [(4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":")]
        guard separators.allSatisfy({ bytes[$0.0] == $0.1.asciiValue }),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var milliseconds = 0
        if bytes.count == 24 {
            guard bytes[19] == UInt8(ascii: "."), let fraction = number(20..<23) else { return nil }
            milliseconds = fraction
        }
        let components = DateComponents(
            calendar: utcCalendar, timeZone: .gmt, year: year, month: month, day: day, hour: hour, minute: minute,
            second: second)
        guard components.isValidDate, let date = utcCalendar.date(from: components) else { return nil }
        return date.addingTimeInterval(Double(milliseconds) / 1000)
    }

    /// `950 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
    public static func duration(milliseconds: Int64) -> String {
        if milliseconds < 1000 { return "\(max(0, milliseconds)) ms" }
        if milliseconds < 60_000 {
            let tenths = (milliseconds + 50) / 100
            return "\(tenths / 10).\(tenths % 10) s"
        }
        let seconds = (milliseconds + 500) / 1000
        if seconds < 3600 { return "\(seconds / 60) min \(pad(Int(seconds % 60), 2)) s" }
        return "\(seconds / 3600) h \(pad(Int(seconds % 3600 / 60), 2)) min"
    }

    /// `0 B`, `812 B`, `1.50 KiB`, `12.3 MiB`, `400 GiB`: binary units, three significant digits.
    public static func bytes(_ count: Int64) -> String {
        if count < 1024 { return "\(count) B" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(count)
        var unit = -1
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let decimals = value < 10 ? 2 : (value < 100 ? 1 : 0)
        return String(format: "%.\(decimals)f", value) + " " + units[unit]
    }

    private static var utcCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }

    private static func split(_ date: Date) -> (DateComponents, Int) {
        // Whole milliseconds first, so 10:29:59.9996 becomes 10:30:00.000 rather than 10:29:59.1000.
        let total = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (total / 1000).rounded(.down)
        let milliseconds = Int(total - seconds * 1000)
        let parts = utcCalendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: seconds))
        return (parts, milliseconds)
    }

    private static func pad(_ value: Int?, _ width: Int) -> String {
        let text = String(value ?? 0)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
