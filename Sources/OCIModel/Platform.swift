/// A platform (`os/architecture[/variant]`) as the OCI image index and containerd's `platforms` package define it.
///
/// Parsing normalises like containerd: `x86_64` → `amd64`, `aarch64` → `arm64`, `arm64` → `arm64/v8`,
/// `arm` → `arm/v7`, `armhf` → `arm/v7`, `armel` → `arm/v6`, `i386` → `386`.
// https://github.com/containerd/platforms/blob/main/database.go
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

    /// Parses `os`, `arch`, `os/arch` or `os/arch/variant` and normalises it.
    ///
    /// A single component is an OS when it is a known OS (the architecture then defaults to `amd64`),
    /// else an architecture on `linux`, as containerd's `platforms.Parse` does.
    public init(parsing text: String) throws(PlatformError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { String($0) }
        guard !text.isEmpty, parts.count <= 3, parts.allSatisfy({ Self.isSpecifierComponent($0) }) else {
            throw .invalid(text)
        }
        switch parts.count {
        case 1:
            let single = parts[0].lowercased()
            if Self.knownOperatingSystems.contains(Self.normalizeOS(single)) {
                self.init(os: Self.normalizeOS(single), architecture: "amd64")
            } else if Self.knownArchitectures.contains(Self.normalizeArch(single, nil).0) {
                self.init(os: "linux", architecture: single)
            } else {
                throw .unknownOperatingSystemOrArchitecture(text)
            }
        case 2:
            self.init(os: parts[0].lowercased(), architecture: parts[1].lowercased())
        default:
            self.init(os: parts[0].lowercased(), architecture: parts[1].lowercased(), variant: parts[2].lowercased())
        }
        self = normalized()
    }

    /// The same platform with containerd's OS and architecture normalisation applied.
    public func normalized() -> Platform {
        var copy = self
        copy.os = Self.normalizeOS(os.lowercased())
        let (arch, variant) = Self.normalizeArch(architecture.lowercased(), variant?.lowercased())
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

    /// `os/arch[/variant]`, as containerd's `platforms.Format`.
    public var description: String {
        if let variant { return "\(os)/\(architecture)/\(variant)" }
        return "\(os)/\(architecture)"
    }

    static let knownOperatingSystems: Set<String> = [
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
        "netbsd", "openbsd", "plan9", "solaris", "windows", "zos", "wasip1",
    ]
    static let knownArchitectures: Set<String> = [
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le", "loong64", "mips",
        "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc", "riscv", "riscv64", "s390", "s390x",
        "sparc", "sparc64", "wasm",
    ]

    static func isSpecifierComponent(_ text: String) -> Bool {
        // containerd: ^[A-Za-z0-9_.-]+$
        !text.isEmpty
            && text.utf8.allSatisfy {
                ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39)
                    || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D
            }
    }

    static func normalizeOS(_ os: String) -> String {
        os == "macos" ? "darwin" : os
    }

    static func normalizeArch(_ arch: String, _ variant: String?) -> (String, String?) {
        let variant = variant ?? ""
        switch arch {
        case "i386":
            return ("386", nil)
        case "x86_64", "x86-64", "amd64":
            return ("amd64", (variant == "v1" || variant.isEmpty) ? nil : variant)
        case "aarch64", "arm64":
            switch variant {
            case "", "8", "v8", "v8.0": return ("arm64", "v8")
            case "9", "9.0", "v9.0": return ("arm64", "v9")
            default: return ("arm64", variant)
            }
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

/// Why a platform string was rejected.
public enum PlatformError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String)
    case unknownOperatingSystemOrArchitecture(String)

    /// containerd's error text.
    public var description: String {
        switch self {
        case .invalid(let text):
            "\"\(text)\": invalid platform specifier, expected os[/arch[/variant]]"
        case .unknownOperatingSystemOrArchitecture(let text):
            "\"\(text)\": unknown operating system or architecture: invalid argument"
        }
    }
}
