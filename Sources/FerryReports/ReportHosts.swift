import Foundation

/// The per-host request table of the Markdown and HTML run reports (issue 10): what a run cost each registry,
/// what the registry said about its rate limit and, when references were deferred, when they can be taken.
enum ReportHosts {
    /// The table's columns after the host: kinds of request, then totals and the rate limit.
    static let columns = [
        "HEAD manifest", "GET manifest", "Blobs", "Tags", "Tokens", "Other", "Total", "429s", "Quota left", "Resets",
    ]

    /// One row of cells (without the host).
    static func cells(_ host: HostEntry) -> [String] {
        let other = host.total - ["manifest-head", "manifest-get", "blob", "tags", "token"].reduce(0) {
            $0 + host.count($1)
        }
        var resets = host.resetAt.map(ReportTime.display) ?? ""
        if host.blocked {
            resets = host.blockedUntil.map { "blocked until " + ReportTime.display($0) } ?? "blocked for this run"
        }
        let quota =
            switch (host.remaining, host.limit) {
            case (let remaining?, let limit?): "\(remaining) of \(limit)"
            case (let remaining?, nil): String(remaining)
            case (nil, let limit?): "? of \(limit)"
            case (nil, nil): ""
            }
        return [
            String(host.count("manifest-head")), String(host.count("manifest-get")), String(host.count("blob")),
            String(host.count("tags")), String(host.count("token")), String(other), String(host.total),
            String(host.throttled), quota, resets,
        ]
    }

    /// What the deferred references wait for, in one sentence.
    static func deferredNote(_ counts: RunReport.Counts, hosts: [HostEntry]) -> String? {
        guard counts.deferred > 0 else { return nil }
        let waits = hosts.compactMap { host -> String? in
            if host.blocked {
                return host.blockedUntil.map { "\(host.host) blocked until \(ReportTime.display($0))" }
                    ?? "\(host.host) blocked for the rest of the run (429)"
            }
            guard host.remaining == 0 else { return nil }
            return host.resetAt.map { "\(host.host) quota resets \(ReportTime.display($0))" }
                ?? "\(host.host) quota spent"
        }
        let reason = waits.isEmpty ? "" : ": " + waits.joined(separator: "; ")
        return "\(counts.deferred) reference\(counts.deferred == 1 ? " was" : "s were") deferred by rate limits "
            + "(not failures; a later run takes them)\(reason)."
    }

    static func markdown(_ header: RunReportHeader, into out: inout MarkdownText) {
        if let note = deferredNote(header.counts, hosts: header.hosts) {
            out.blank()
            out.line("## Deferred (\(header.counts.deferred))")
            out.blank()
            out.line(note)
        }
        guard !header.hosts.isEmpty else { return }
        out.blank()
        out.line("## Requests (\(header.hosts.reduce(0) { $0 + $1.total }))")
        out.blank()
        out.table(
            header: ["Host"] + columns, alignments: [.left] + Array(repeating: .right, count: columns.count - 1) + [.left],
            rows: header.hosts.map { [MarkdownReport.code($0.host)] + cells($0) })
    }

    static func html(_ header: RunReportHeader) -> String {
        var out = ""
        if let note = deferredNote(header.counts, hosts: header.hosts) {
            out += "<section id=\"deferred\">\n<h2>Deferred (\(header.counts.deferred))</h2>\n"
            out += "<p>\(HTMLReport.escape(note))</p>\n</section>\n"
        }
        guard !header.hosts.isEmpty else { return out }
        out += "<section id=\"requests\">\n<h2>Requests (\(header.hosts.reduce(0) { $0 + $1.total }))</h2>\n"
        out += "<div class=\"scroll\"><table class=\"events\">\n<thead><tr><th>Host</th>"
        out += columns.map { "<th>\(HTMLReport.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for host in header.hosts {
            let values = cells(host)
            out += "<tr><td><code>\(HTMLReport.escape(host.host))</code></td>"
            out += values.dropLast().map { "<td class=\"num\">\(HTMLReport.escape($0))</td>" }.joined()
            out += "<td>\(HTMLReport.escape(values.last ?? ""))</td></tr>\n"
        }
        return out + "</tbody></table></div>\n</section>\n"
    }
}
