import Crypto

/// A validated content digest such as `sha256:<64 hex>`.
///
/// Follows `github.com/opencontainers/go-digest` v1.0.0, the version distribution/reference pins: the algorithm
/// must be one go-digest registers (sha256, sha384, sha512) and the encoded part must be lowercase hex of that
/// algorithm's length. (Later go-digest folds the length error into the format error; v1.0.0 keeps them apart.)
// https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A hash algorithm go-digest registers.
    public enum Algorithm: String, Sendable, CaseIterable, Codable {
        case sha256, sha384, sha512

        /// Length of the hex encoding of one digest of this algorithm.
        public var hexLength: Int {
            switch self {
            case .sha256: 64
            case .sha384: 96
            case .sha512: 128
            }
        }
    }

    /// The algorithm part, before the colon.
    public let algorithm: Algorithm
    /// The lowercase hex part, after the colon.
    public let hex: String

    /// Parses `algorithm:hex`, with go-digest's validation and its exact error texts.
    public init(parsing text: some StringProtocol) throws(DigestError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex,
            text.index(after: colon) != text.endIndex
        else { throw .invalidFormat }
        let algorithmText = text[..<colon]
        let encoded = text[text.index(after: colon)...]
        // Same order as go-digest's Validate: an unknown algorithm is "unsupported" only when the whole
        // string matches the anchored grammar; a known one checks length before the hex alphabet.
        guard let algorithm = Algorithm(rawValue: String(algorithmText)) else {
            guard Self.isAlgorithmComponent(algorithmText), encoded.utf8.allSatisfy(Self.isEncodedByte) else {
                throw .invalidFormat
            }
            throw .unsupportedAlgorithm
        }
        guard encoded.utf8.count == algorithm.hexLength else { throw .invalidLength }
        guard encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .invalidFormat
        }
        self.algorithm = algorithm
        self.hex = String(encoded)
    }

    /// Builds a digest from an algorithm and a hex string that is already known to be valid.
    public init(algorithm: Algorithm, hex: String) throws(DigestError) {
        try self.init(parsing: "\(algorithm.rawValue):\(hex)")
    }

    /// The SHA-256 digest of `bytes`.
    public static func sha256(of bytes: some Sequence<UInt8>) -> Digest {
        var hasher = DigestHasher(.sha256)
        hasher.update(Array(bytes))
        return hasher.finalize()
    }

    /// Computes the digest of `bytes` with the given algorithm.
    public static func compute(_ algorithm: Algorithm, of bytes: [UInt8]) -> Digest {
        var hasher = DigestHasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// `algorithm:hex`.
    public var description: String { "\(algorithm.rawValue):\(hex)" }

    /// The first 12 hex characters, as Docker shows layer IDs.
    public var shortHex: String { String(hex.prefix(12)) }

    /// Orders by the string form, as registries and Go's sort do.
    ///
    /// Compared part by part rather than through `description`, which builds two strings per comparison (sorting a
    /// bundle's 60,000 blobs made a million of them): the algorithm names are of equal length and none is a
    /// prefix of another, so the order is the same.
    public static func < (lhs: Digest, rhs: Digest) -> Bool {
        lhs.algorithm == rhs.algorithm ? lhs.hex < rhs.hex : lhs.algorithm.rawValue < rhs.algorithm.rawValue
    }

    static func isAlgorithmComponent(_ text: some StringProtocol) -> Bool {
        var previousWasSeparator = true
        for byte in text.utf8 {
            let isAlnum = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            let isSeparator = byte == 0x2B || byte == 0x2E || byte == 0x5F || byte == 0x2D  // + . _ -
            if isAlnum {
                previousWasSeparator = false
            } else if isSeparator, !previousWasSeparator {
                previousWasSeparator = true
            } else {
                return false
            }
        }
        return !previousWasSeparator
    }

    static func isEncodedByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == 0x3D || byte == 0x5F || byte == 0x2D
    }
}

extension Digest: Codable {
    /// Decodes from the `algorithm:hex` string form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid digest \"\(text)\": \(error)")
        }
    }

    /// Encodes as the `algorithm:hex` string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a digest string was rejected; texts are go-digest's.
public enum DigestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `ErrDigestInvalidFormat`: no `algorithm:encoded` shape, or a registered algorithm with non-hex text.
    case invalidFormat
    /// `ErrDigestInvalidLength`: a registered algorithm with the wrong number of hex digits.
    case invalidLength
    /// `ErrDigestUnsupported`: a well-formed digest whose algorithm is not registered.
    case unsupportedAlgorithm

    /// go-digest's error text.
    public var description: String {
        switch self {
        case .invalidFormat: "invalid checksum digest format"
        case .invalidLength: "invalid checksum digest length"
        case .unsupportedAlgorithm: "unsupported digest algorithm"
        }
    }
}

/// An incremental hash whose state is a value: copying it snapshots the state, so a resumed
/// download can continue hashing from the bytes already received.
public struct DigestHasher: Sendable {
    // One optional per algorithm rather than an enum with payloads: mutating a payload means copying it out and
    // back, which makes swift-crypto copy its context on every update. Exactly one of these is set.
    private var sha256: SHA256?
    private var sha384: SHA384?
    private var sha512: SHA512?
    /// The algorithm this hasher computes.
    public let algorithm: Digest.Algorithm
    /// Number of bytes hashed so far.
    public private(set) var count: Int64 = 0

    /// A fresh hasher for `algorithm`.
    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256: sha256 = SHA256()
        case .sha384: sha384 = SHA384()
        case .sha512: sha512 = SHA512()
        }
    }

    /// Feeds `buffer` into the hash.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        count += Int64(buffer.count)
        switch algorithm {
        case .sha256: sha256!.update(bufferPointer: buffer)
        case .sha384: sha384!.update(bufferPointer: buffer)
        case .sha512: sha512!.update(bufferPointer: buffer)
        }
    }

    /// Feeds `bytes` into the hash.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything fed so far; the hasher itself is unchanged.
    public func finalize() -> Digest {
        let hex: String
        switch algorithm {
        case .sha256: hex = Self.hex(sha256!.finalize())
        case .sha384: hex = Self.hex(sha384!.finalize())
        case .sha512: hex = Self.hex(sha512!.finalize())
        }
        // The hex is produced here with the algorithm's exact length, so validation cannot fail.
        return try! Digest(algorithm: algorithm, hex: hex)
    }

    private static func hex(_ digest: some Sequence<UInt8>) -> String {
        let table: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(128)
        for byte in digest {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
