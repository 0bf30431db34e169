import FerryHTTP
import FerrySync
import Foundation
import Ledger
import OCIModel
import Synchronization

/// Shows a run as it happens: one plain line per reference (cron, pipes), one JSON object per event
/// (`--log-format json`), or a live progress area on a terminal (per reference: bytes, rate, ETA; overall N/M).
final class SyncConsole: SyncObserver {
    enum Mode: Sendable {
        case plain
        case json
        case live
    }

    private struct Active {
        var reference: ImageReference
        var started: ContinuousClock.Instant
        var blobs: [(Descriptor, TransferProgress)] = []
        var doneBytes: Int64 = 0
    }

    private struct State {
        var total = 0
        var finished = 0
        var active: [String: Active] = [:]
        var order: [String] = []
        var drawnLines = 0
        var stopping = false
    }

    private let mode: Mode
    private let quiet: Bool
    private let output: any TextOutput
    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let renderer = Mutex<Task<Void, Never>?>(nil)

    init(mode: Mode, quiet: Bool, output: any TextOutput) {
        self.mode = mode
        self.quiet = quiet
        self.output = output
    }

    /// The mode for this process: JSON when asked, live on a terminal, plain otherwise.
    static func mode(for options: GlobalOptions, output: any TextOutput) -> Mode {
        if options.logFormat == .json { return .json }
        return output.isTerminal && !options.quiet ? .live : .plain
    }

    /// Starts the periodic redraw of the live area.
    func start() {
        guard mode == .live else { return }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                self?.redraw()
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        renderer.withLock { $0 = task }
    }

    /// Stops the redraw and clears the live area.
    func finish() {
        renderer.withLock { $0?.cancel() }
        guard mode == .live else { return }
        let text = state.withLock { state -> String in
            defer { state.drawnLines = 0 }
            return Self.erase(state.drawnLines)
        }
        output.write(text)
    }

    func handle(_ event: SyncEvent) {
        switch mode {
        case .json: emitJSON(event)
        case .plain, .live: emitText(event)
        }
    }

    // MARK: Text

    private func emitText(_ event: SyncEvent) {
        switch event {
        case .planned(let total):
            state.withLock { $0.total = total }
        case .pulling:
            break
        // What is in flight matters only to the live area.
        case .started(let reference):
            guard mode == .live else { return }
            state.withLock { state in
                state.active[reference.string] = Active(reference: reference, started: clock.now)
                state.order.append(reference.string)
            }
        case .blobStarted(let reference, let descriptor, let progress):
            guard mode == .live else { return }
            state.withLock { $0.active[reference.string]?.blobs.append((descriptor, progress)) }
        case .blobFinished(let reference, let descriptor, let bytes):
            guard mode == .live else { return }
            state.withLock { state in
                state.active[reference.string]?.blobs.removeAll { $0.0.digest == descriptor.digest }
                state.active[reference.string]?.doneBytes += bytes
            }
        case .listingFailed:
            // The failed entry is recorded and arrives as a finished row: one line per reference, not two.
            break
        case .endpointFailed(let reference, let endpoint, let error, let fellBack):
            if fellBack { printLine("            \(reference): \(endpoint) skipped: \(error)", important: false) }
        case .warning(let reference, let message):
            printLine("warning     \(reference): \(message)")
        case .stopping(let signal):
            state.withLock { $0.stopping = true }
            printLine("stopping (signal \(signal)): no new work; transfers in flight are cancelled and resume next run")
        case .finished(let row):
            if mode == .live {
                state.withLock { state in
                    state.finished += 1
                    state.active[row.reference.string] = nil
                    state.order.removeAll { $0 == row.reference.string }
                }
            }
            let isProblem = row.outcome == .failed || row.outcome == .drift
            printLine(Self.line(for: row), important: isProblem)
            for push in row.pushes {
                printLine(Self.line(for: push), important: push.outcome == .failed)
            }
        case .blobPresent:
            break
        }
    }

    /// `pulled      host/repo:tag  sha256:abcdef012345  1.2 MB  0.4s  via http://host`.
    static func line(for row: SyncRow) -> String {
        let outcome = row.outcome?.rawValue ?? "interrupted"
        var parts = [outcome.padding(toLength: 11, withPad: " ", startingAt: 0), row.reference.string]
        switch row.outcome {
        case .updated?:
            parts.append("\(short(row.previousDigest)) -> \(short(row.digest))")
        case .failed?:
            parts.append(row.error ?? "")
            return parts.joined(separator: "  ")
        case .drift?:
            for event in row.driftEvents {
                parts.append("\(event.kind.rawValue) \(short(event.oldValue)) -> \(short(event.newValue))")
            }
        default:
            parts.append(short(row.digest))
        }
        if row.bytes > 0 { parts.append(formatBytes(row.bytes)) }
        parts.append(String(format: "%.1fs", seconds(row.duration)))
        if let servedBy = row.servedBy { parts.append("via \(servedBy)") }
        return parts.joined(separator: "  ")
    }

    /// `  pushed    -> registry.internal:5000/mirror/…  2 uploaded, 1 mounted, 3 present, 4.2 MB`.
    static func line(for push: PushRecord, showingSource: Bool = false) -> String {
        let lead = push.outcome.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
        var text = showingSource ? "\(lead)  \(push.reference) -> \(push.destination)" : "  \(lead)-> \(push.destination)"
        if push.outcome == .failed {
            text += "  " + (push.error ?? "")
        } else if push.outcome == .pushed {
            text += "  \(push.blobsUploaded) uploaded, \(push.blobsMounted) mounted, \(push.blobsPresent) present"
            if push.bytes > 0 { text += ", " + formatBytes(push.bytes) }
        }
        return text
    }

    /// The last line of a run.
    func summary(_ summary: SyncSummary, elapsed: Duration) {
        let counts = summary.outcomes
        let bytes = summary.bytes
        if mode == .json {
            var object: [String: Any] = [
                "event": "summary", "run": summary.runID.rawValue, "status": summary.status.rawValue,
                "exitStatus": summary.exitStatus, "references": summary.references, "bytes": bytes,
                "driftEvents": summary.driftEvents, "interrupted": summary.interrupted,
                "seconds": Self.seconds(elapsed),
            ]
            for outcome in Outcome.allCases { object[outcome.rawValue] = counts[outcome, default: 0] }
            object["requests"] = Dictionary(
                summary.hosts.filter { $0.total > 0 }.map { host in
                    (host.host, Dictionary(uniqueKeysWithValues: host.counts.map { ($0.key.rawValue, $0.value) }))
                }, uniquingKeysWith: { a, _ in a })
            writeJSON(object)
            return
        }
        // `deferred` shows only when it happened: most runs never meet a rate limit.
        let tally = Outcome.allCases.filter { $0 != .deferred || counts[$0, default: 0] > 0 }
            .map { "\(counts[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", ")
        var text = "run \(summary.runID) \(summary.status.rawValue): \(Self.count(summary.references, "reference")) (\(tally))"
        if summary.interrupted > 0 { text += ", \(summary.interrupted) interrupted" }
        text += "; \(Self.count(summary.driftEvents, "drift event")); \(Self.formatBytes(bytes)) in "
        text += String(format: "%.1fs", Self.seconds(elapsed)) + "; exit \(summary.exitStatus)"
        printLine(text)
        for line in Self.rateLines(summary) { printLine(line) }
        if summary.status == .dryRun { for line in Self.costLines(summary) { printLine(line) } }
    }

    /// What stopped work on a host and when it can go on, one line per host that deferred or throttled.
    static func rateLines(_ summary: SyncSummary) -> [String] {
        summary.hosts.compactMap { host -> String? in
            let spent = host.rateLimit?.remaining == 0
            guard host.blocked || host.throttled > 0 || (spent && summary.deferred > 0) else { return nil }
            var line = "rate limit: \(host.host)"
            if let limit = host.rateLimit {
                line += " quota \(limit.remaining.map(String.init) ?? "?") of \(limit.limit.map(String.init) ?? "?") left"
                if let reset = limit.resetAt { line += ", resets \(reset.formatted(.iso8601))" }
            }
            if host.throttled > 0 { line += "; \(count(host.throttled, "429 response"))" }
            if host.blocked {
                line += host.blockedUntil.map { "; no new work before \($0.formatted(.iso8601))" } ?? "; no new work in this run"
            }
            if summary.deferred > 0 { line += "; \(count(summary.deferred, "reference")) deferred to a later run" }
            return line
        }
    }

    /// `--dry-run`: what a real run would cost now, per registry, so a cron slot can be sized.
    static func costLines(_ summary: SyncSummary) -> [String] {
        let made = summary.hosts.reduce(0) { $0 + $1.total }
        var lines = ["cost of a real run now (this dry run made \(count(made, "request"))):"]
        for host in summary.plan.keys.sorted() {
            guard let plan = summary.plan[host] else { continue }
            let heads = plan.unchanged + plan.toPull
            var line = "  \(host): \(count(plan.references, "reference")): \(plan.notAsked) not asked (no request), "
            line += "\(plan.unchanged) unchanged, \(plan.toPull) to pull; about \(count(heads, "manifest HEAD")) "
            line += "and at least \(count(plan.toPull, "manifest GET")) (plus one per platform of an index and the "
            line += "blobs the store lacks)"
            if plan.failed > 0 { line += "; \(plan.failed) failed to resolve" }
            if plan.deferred > 0 { line += "; \(plan.deferred) deferred" }
            lines.append(line)
        }
        return lines
    }

    /// Prints a line; with `--quiet` only lines marked `important` (failures, drift, warnings, the summary).
    private func printLine(_ text: @autoclosure () -> String, important: Bool = true) {
        if quiet && !important { return }
        let text = text()
        guard mode == .live else {
            output.writeLine(text)
            return
        }
        // Lines scroll above the live area: erase it, print, and let the next redraw put it back.
        let erase = state.withLock { state -> String in
            defer { state.drawnLines = 0 }
            return Self.erase(state.drawnLines)
        }
        output.write(erase + text + "\n")
    }

    private func redraw() {
        let now = clock.now
        let text = state.withLock { state -> String in
            var lines: [String] = []
            for key in state.order.prefix(8) {
                guard let active = state.active[key] else { continue }
                let received = active.doneBytes + active.blobs.reduce(Int64(0)) { $0 + $1.1.bytes }
                let expected = active.doneBytes + active.blobs.reduce(Int64(0)) { $0 + ($1.1.total ?? 0) }
                let elapsed = max(Self.seconds(now - active.started), 0.001)
                let rate = Double(received) / elapsed
                var line = "  \(active.reference.string)  \(Self.formatBytes(received))"
                if expected > received, rate > 0 {
                    let eta = Double(expected - received) / rate
                    line += "/\(Self.formatBytes(expected))  \(Self.formatBytes(Int64(rate)))/s  eta \(Int(eta.rounded()))s"
                } else if rate > 0, received > 0 {
                    line += "  \(Self.formatBytes(Int64(rate)))/s"
                }
                lines.append(line)
            }
            if state.order.count > 8 { lines.append("  … and \(state.order.count - 8) more") }
            let header = state.stopping ? "stopping…" : "syncing"
            lines.insert("\(header) \(state.finished)/\(state.total)", at: 0)
            let erase = Self.erase(state.drawnLines)
            state.drawnLines = lines.count
            return erase + lines.map { String($0.prefix(160)) }.joined(separator: "\n") + "\n"
        }
        output.write(text)
    }

    /// ANSI: move up `lines` lines, clearing each, leaving the cursor at the start of the first.
    static func erase(_ lines: Int) -> String {
        guard lines > 0 else { return "" }
        return String(repeating: "\u{1B}[1A\u{1B}[2K", count: lines) + "\r"
    }

    // MARK: JSON

    private func emitJSON(_ event: SyncEvent) {
        var object: [String: Any] = [:]
        switch event {
        case .planned(let total):
            object = ["event": "planned", "references": total]
        case .listingFailed(let reference, let error):
            object = ["event": "listing-failed", "reference": reference.string, "error": error]
        case .started(let reference):
            object = ["event": "started", "reference": reference.string]
        case .pulling:
            return
        case .blobStarted(let reference, let descriptor, _):
            object = ["event": "blob-started", "reference": reference.string, "digest": descriptor.digest.description,
                      "size": descriptor.size]
        case .blobPresent:
            return
        case .blobFinished(let reference, let descriptor, let bytes):
            object = ["event": "blob-finished", "reference": reference.string,
                      "digest": descriptor.digest.description, "bytes": bytes]
        case .endpointFailed(let reference, let endpoint, let error, let fellBack):
            object = ["event": "endpoint-failed", "reference": reference.string, "endpoint": endpoint,
                      "error": error, "fellBack": fellBack]
        case .warning(let reference, let message):
            object = ["event": "warning", "reference": reference.string, "message": message]
        case .stopping(let signal):
            object = ["event": "stopping", "signal": signal]
        case .finished(let row):
            object = [
                "event": "finished", "reference": row.reference.string, "outcome": row.outcome?.rawValue ?? "interrupted",
                "bytes": row.bytes, "seconds": Self.seconds(row.duration),
            ]
            if let digest = row.digest { object["digest"] = digest.description }
            if let previous = row.previousDigest { object["previousDigest"] = previous.description }
            if let servedBy = row.servedBy { object["servedBy"] = servedBy }
            if let error = row.error { object["error"] = error }
            if !row.pushes.isEmpty {
                object["pushes"] = row.pushes.map { push -> [String: Any] in
                    var entry: [String: Any] = [
                        "target": push.target, "destination": push.destination, "outcome": push.outcome.rawValue,
                        "uploaded": push.blobsUploaded, "mounted": push.blobsMounted, "present": push.blobsPresent,
                        "bytes": push.bytes,
                    ]
                    if let error = push.error { entry["error"] = error }
                    return entry
                }
            }
            if !row.driftEvents.isEmpty {
                object["drift"] = row.driftEvents.map {
                    ["kind": $0.kind.rawValue, "old": $0.oldValue.description, "new": $0.newValue.description,
                     "endpoint": $0.endpoint]
                }
            }
        }
        writeJSON(object)
    }

    private func writeJSON(_ object: [String: Any]) {
        var object = object
        object["time"] = ISO8601DateFormatter().string(from: Date())
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        output.writeLine(String(decoding: data, as: UTF8.self))
    }

    // MARK: Formatting

    static func short(_ digest: Digest?) -> String {
        guard let digest else { return "-" }
        return "\(digest.algorithm.rawValue):\(digest.shortHex)"
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `1 reference`, `2 references`: a count with its noun.
    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    static func formatBytes(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
