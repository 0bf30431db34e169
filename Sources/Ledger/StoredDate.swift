import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Times as the database stores them, `yyyy-MM-dd HH:mm:ss.SSS` UTC, rounded to the nearest millisecond.
///
/// GRDB's own conversion truncates, which is right for `Date()` but moves a time that went through text and back
/// (from a bundle's JSON) by a millisecond. Imported history is written with this so that it keeps its exact value.
enum StoredDate {
    static func text(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var whole = milliseconds / 1000
        var fraction = milliseconds % 1000
        if fraction < 0 {
            whole -= 1
            fraction += 1000
        }
        var seconds = time_t(whole)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2)) "
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
            + pad(Int(fraction), 3)
    }
}
