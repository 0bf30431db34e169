// https://www.rfc-editor.org/rfc/rfc1952#section-8
/// CRC-32 as gzip uses it (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320).
struct CRC32: Sendable {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1 }
        return value
    }

    private var state: UInt32 = 0xFFFF_FFFF

    /// A CRC over no bytes.
    init() {}

    /// Feeds `bytes`.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        Self.table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        state = crc
    }

    /// Feeds `bytes`.
    mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The CRC of everything fed so far.
    var value: UInt32 { state ^ 0xFFFF_FFFF }
}

// https://www.rfc-editor.org/rfc/rfc1952 (member format), https://www.rfc-editor.org/rfc/rfc1951#section-3.2.4
/// Gzip framing around deflate *stored* blocks: no compression at all, so the output depends only on the input
/// and needs no zlib. The header has no name, mtime 0 and OS 255 (unknown), which keeps it reproducible.
public enum StoredGzip {
    /// ID1 ID2 CM=8 FLG=0 MTIME=0 XFL=0 OS=255.
    public static let header: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF]
    /// The largest stored block: LEN is 16 bits.
    public static let maximumBlockLength = 65535

    /// Compresses `bytes` in one go.
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var out = header
        var crc = CRC32()
        crc.update(bytes)
        var offset = 0
        repeat {
            let length = min(maximumBlockLength, bytes.count - offset)
            let isFinal = offset + length == bytes.count
            out += blockHeader(length: length, isFinal: isFinal)
            out += bytes[offset..<(offset + length)]
            offset += length
        } while offset < bytes.count
        return out + trailer(crc: crc.value, size: UInt64(bytes.count))
    }

    /// The five bytes before a stored block's data: BFINAL/BTYPE=00 padded to a byte, LEN, NLEN (little-endian).
    public static func blockHeader(length: Int, isFinal: Bool) -> [UInt8] {
        let len = UInt16(length)
        let nlen = ~len
        return [isFinal ? 0x01 : 0x00, UInt8(len & 0xFF), UInt8(len >> 8), UInt8(nlen & 0xFF), UInt8(nlen >> 8)]
    }

    /// CRC32 and ISIZE (input size modulo 2^32), both little-endian.
    public static func trailer(crc: UInt32, size: UInt64) -> [UInt8] {
        let isize = UInt32(truncatingIfNeeded: size)
        return (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) }
            + (0..<4).map { UInt8(truncatingIfNeeded: isize >> (8 * $0)) }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny PRNG whose stream depends only on its seed, for fixture content.
public struct DeterministicRandom: Sendable {
    private var state: UInt64

    /// A generator whose output is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Fills `buffer` with the next bytes of the stream (little-endian words).
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset + 8 <= buffer.count {
            buffer.storeBytes(of: next().littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        if offset < buffer.count {
            var word = next()
            while offset < buffer.count {
                buffer[offset] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                offset += 1
            }
        }
    }

    /// The next `count` bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}
