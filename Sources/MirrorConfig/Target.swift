/// A named destination from `targets:`: a registry (with an optional path prefix) or an OCI layout directory.
public struct Target: Hashable, Sendable {
    /// Where a target puts images.
    public enum Destination: Hashable, Sendable, CustomStringConvertible {
        /// Push to `host[:port]`, below `prefix` when given (no leading or trailing `/`).
        case registry(host: String, prefix: String?)
        /// Write into this OCI image layout directory (path as written).
        case layout(path: String)

        /// `registry=HOST[ prefix=P]` or `layout=PATH`, as the plan prints it.
        public var description: String {
            switch self {
            case .registry(let host, let prefix): "registry=\(host)" + (prefix.map { "  prefix=\($0)" } ?? "")
            case .layout(let path): "layout=\(planValue(path))"
            }
        }
    }

    /// The name images refer to in their `targets:`.
    public let name: String
    /// Registry or layout.
    public let destination: Destination
    /// For a registry target: the target's own `tls`, else the `registries:` entry of its host, else `verify`.
    public let tls: TLSMode?
    /// For a registry target: the target's own `ca-file`, else the `registries:` entry's.
    public let caFile: String?
    /// Where the target was defined.
    public let location: SourceLocation

    /// Creates a target.
    public init(name: String, destination: Destination, tls: TLSMode?, caFile: String?, location: SourceLocation) {
        self.name = name
        self.destination = destination
        self.tls = tls
        self.caFile = caFile
        self.location = location
    }

    /// True for names of `[A-Za-z0-9._-]` starting with a letter or digit, so they work unquoted on a command line.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isAlnum(first) else { return false }
        return name.utf8.allSatisfy { isAlnum($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
}
