import Foundation
import Logging

/// Builds ferry's loggers without touching swift-log's global bootstrap, so commands can run many times in one
/// test process.
enum Logs {
    /// A logger writing to `output` (stderr unless a test captures it) in `format` at `level`.
    static func make(
        label: String = "ferry", format: LogFormat, level: Logger.Level,
        output: any TextOutput = Console.standardError
    ) -> Logger {
        var logger = Logger(label: label) { label in
            switch format {
            case .text: TextLogHandler(label: label, console: output)
            case .json: JSONLogHandler(label: label, console: output)
            }
        }
        logger.logLevel = level
        return logger
    }

    /// A logger that drops everything.
    static let silent = Logger(label: "ferry.silent") { _ in SwiftLogNoOpLogHandler() }
}

/// `LEVEL message key=value …` lines.
struct TextLogHandler: LogHandler {
    let label: String
    let console: any TextOutput
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let level = event.level.rawValue.uppercased()
        console.writeLine(fields.isEmpty ? "\(level) \(event.message)" : "\(level) \(event.message) \(fields)")
    }
}

/// One JSON object per event: `{"time":…,"level":…,"message":…, metadata…}` for log shippers.
struct JSONLogHandler: LogHandler {
    let label: String
    let console: any TextOutput
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue,
            "message": "\(event.message)", "logger": label,
        ]
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for (key, value) in merged { object[key] = Self.plain(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        console.writeLine(String(decoding: data, as: UTF8.self))
    }

    static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(plain)
        case .dictionary(let values): values.mapValues(plain)
        }
    }
}
