/// A platform (`os/architecture[/variant]`) as the OCI image index and containerd's `platforms` package define it.
///
/// Parsing normalises like containerd: `x86_64` → `amd64`, `aarch64` → `arm64`, `armhf` → `arm/v7`,
/// `armel` → `arm/v6`, `i386` → `386`, `macos` → `darwin`, case-insensitively. Unlike containerd's `Format`,
/// the default variants stay visible: `arm64` is always `arm64/v8` and `arm` is `arm/v7`, so a requested platform
/// prints the same whether or not the user typed the variant, and matching compares normalised variants.
/// containerd's `os(version+features)` syntax is not accepted: Windows version selection is out of scope.
// https://github.com/containerd/platforms/blob/main/database.go
// https://github.com/containerd/platforms/blob/main/platforms.go
public struct Platform: Hashable, Sendable, CustomStringConvertible {
    /// Operating system, e.g. `linux`.
    public var os: String
    /// CPU architecture, e.g. `amd64`.
    public var architecture: String
    /// CPU variant, e.g. `v8`; nil when none.
    public var variant: String?
    /// Operating system version (Windows images).
    public var osVersion: String?
    /// Operating system features (Windows images).
    public var osFeatures: [String]?

    /// Creates a platform from parts, as given (not normalised).
    public init(
        os: String, architecture: String, variant: String? = nil, osVersion: String? = nil,
        osFeatures: [String]? = nil
    ) {
        self.os = os
        self.architecture = architecture
        self.variant = variant?.isEmpty == true ? nil : variant
        self.osVersion = osVersion
        self.osFeatures = osFeatures
    }

    /// Parses `os`, `arch`, `os/arch` or `os/arch/variant` and normalises it, with containerd's error texts.
    ///
    /// A single component is an OS when it is a known OS (the architecture is then the host's, as in
    /// containerd), else an architecture on `linux`: ferry mirrors Linux images whatever the host runs, so the
    /// host OS (containerd's choice) would be wrong on a macOS workstation.
    public init(parsing text: String) throws(PlatformError) {
        if text.contains("*") { throw .wildcardsNotSupported(text) }
        // At most four parts, so a long input is not split without bound before being refused.
        let parts = text.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard Self.isOSComponent(parts[0]) else { throw .invalidOSComponent(parts[0], of: text) }
        for part in parts.dropFirst() where !Self.isSpecifierComponent(part) {
            throw .invalidComponent(part, of: text)
        }
        switch parts.count {
        case 1:
            let os = Self.normalizeOS(parts[0])
            if Self.knownOperatingSystems.contains(os) {
                self.init(os: os, architecture: Self.host.architecture, variant: Self.host.variant)
                return
            }
            let (architecture, variant) = Self.normalizeArch(parts[0], nil)
            guard Self.knownArchitectures.contains(architecture) else {
                throw .unknownOperatingSystemOrArchitecture(text)
            }
            self.init(os: "linux", architecture: architecture, variant: variant)
        case 2:
            self.init(os: parts[0], architecture: parts[1])
            self = normalized()
        case 3:
            self.init(os: parts[0], architecture: parts[1], variant: parts[2])
            self = normalized()
        default:
            throw .cannotParse(text)
        }
    }

    /// The platform ferry itself runs on, normalised.
    public static let host: Platform = {
        #if os(Linux)
            let os = "linux"
        #elseif os(macOS)
            let os = "darwin"
        #elseif os(Windows)
            let os = "windows"
        #else
            let os = "unknown"
        #endif
        #if arch(x86_64)
            let architecture = "amd64"
        #elseif arch(arm64)
            let architecture = "arm64"
        #elseif arch(arm)
            let architecture = "arm"
        #elseif arch(i386)
            let architecture = "386"
        #elseif arch(s390x)
            let architecture = "s390x"
        #elseif arch(powerpc64le)
            let architecture = "ppc64le"
        #elseif arch(riscv64)
            let architecture = "riscv64"
        #else
            let architecture = "unknown"
        #endif
        return Platform(os: os, architecture: architecture).normalized()
    }()

    /// The same platform with containerd's OS and architecture normalisation applied.
    public func normalized() -> Platform {
        var copy = self
        copy.os = Self.normalizeOS(os)
        let (arch, variant) = Self.normalizeArch(architecture, variant)
        copy.architecture = arch
        copy.variant = variant
        return copy
    }

    /// True when `candidate` (an index entry) satisfies this requested platform: equal OS, architecture and
    /// variant after normalising both (containerd's matcher).
    public func matches(_ candidate: Platform) -> Bool {
        let want = normalized()
        let have = candidate.normalized()
        return want.os == have.os && want.architecture == have.architecture && want.variant == have.variant
    }

    /// `os/arch[/variant]`, as containerd's `platforms.Format` (which would omit the default variants).
    public var description: String {
        if let variant { return "\(os)/\(architecture)/\(variant)" }
        return "\(os)/\(architecture)"
    }

    // The lists of containerd's database.go (Go's syslist as containerd copied it).
    static let knownOperatingSystems: Set<String> = [
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
        "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
    ]
    static let knownArchitectures: Set<String> = [
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips",
        "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x",
        "sparc", "sparc64", "wasm",
    ]

    /// containerd's `specifierRe`: `^[A-Za-z0-9_.-]+$`.
    static func isSpecifierComponent(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ReferenceGrammar.isWord($0) || $0 == .dot || $0 == .dash }
    }

    /// containerd's `osRe` without the `(version+features)` suffix: `^[A-Za-z0-9_-]+$`.
    static func isOSComponent(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ReferenceGrammar.isWord($0) || $0 == .dash }
    }

    static func normalizeOS(_ os: String) -> String {
        let os = os.lowercased()
        return os == "macos" ? "darwin" : os
    }

    /// containerd's `normalizeArch`, except that the default variants `arm64/v8` and `arm/v7` are kept
    /// rather than blanked.
    static func normalizeArch(_ arch: String, _ variant: String?) -> (String, String?) {
        let arch = arch.lowercased()
        let variant = variant?.lowercased() ?? ""
        switch arch {
        case "i386":
            return ("386", nil)
        case "x86_64", "x86-64", "amd64":
            return ("amd64", (variant == "v1" || variant.isEmpty) ? nil : variant)
        case "aarch64", "arm64":
            return ("arm64", (variant.isEmpty || variant == "8" || variant == "v8") ? "v8" : variant)
        case "armhf":
            return ("arm", "v7")
        case "armel":
            return ("arm", "v6")
        case "arm":
            switch variant {
            case "", "7": return ("arm", "v7")
            case "5", "6", "8": return ("arm", "v" + variant)
            default: return ("arm", variant)
            }
        default:
            return (arch, variant.isEmpty ? nil : variant)
        }
    }
}

extension Platform: Codable {
    private enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }
}

/// Why a platform string was rejected; texts are containerd's `platforms.Parse` errors.
public enum PlatformError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The specifier contains `*`.
    case wildcardsNotSupported(String)
    /// The first component (given first) of the specifier (given second) is not an OS name.
    case invalidOSComponent(String, of: String)
    /// A later component (given first) of the specifier (given second) has characters outside `[A-Za-z0-9_.-]`.
    case invalidComponent(String, of: String)
    /// A single component that is neither a known OS nor a known architecture.
    case unknownOperatingSystemOrArchitecture(String)
    /// More than three components.
    case cannotParse(String)

    /// containerd's error text (the OS pattern named is ours, without containerd's options suffix).
    public var description: String {
        switch self {
        case .wildcardsNotSupported(let text):
            "\(goQuoted(text)): wildcards not yet supported: invalid argument"
        case .invalidOSComponent(let part, let text):
            "\(goQuoted(part)) is an invalid OS component of \(goQuoted(text)): OSAndVersion specifier component "
                + "must match \"^[A-Za-z0-9_-]+$\": invalid argument"
        case .invalidComponent(let part, let text):
            "\(goQuoted(part)) is an invalid component of \(goQuoted(text)): platform specifier component must "
                + "match \"^[A-Za-z0-9_.-]+$\": invalid argument"
        case .unknownOperatingSystemOrArchitecture(let text):
            "\(goQuoted(text)): unknown operating system or architecture: invalid argument"
        case .cannotParse(let text):
            "\(goQuoted(text)): cannot parse platform specifier: invalid argument"
        }
    }
}

