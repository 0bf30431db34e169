import Foundation
import OCIModel

#if canImport(Glibc)
    import Glibc
#endif

/// Large pseudo-random files written in 1 MiB chunks, so that a 256 MiB blob costs 1 MiB of memory.
public enum DeterministicBlob {
    /// Writes `size` bytes of the SplitMix64 stream for `seed` to `path` and returns their digest.
    @discardableResult
    public static func write(size: Int64, seed: UInt64, to path: String) throws -> Digest {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestSupportError.fileIO(path: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var random = DeterministicRandom(seed: seed)
        var hasher = DigestHasher(.sha256)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var remaining = size
        while remaining > 0 {
            let count = Int(min(Int64(chunk.count), remaining))
            try chunk.withUnsafeMutableBytes { buffer in
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                random.fill(slice)
                hasher.update(UnsafeRawBufferPointer(slice))
                try FileDescriptorIO.writeAll(fd, UnsafeRawBufferPointer(slice), path: path)
            }
            remaining -= Int64(count)
        }
        return hasher.finalize()
    }

    /// Parses sizes such as `256MiB`, `2M`, `512KiB`, `1GiB` or `1048576` (binary units; `B` suffix optional).
    public static func parseSize(_ text: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isNumber }
        var unit = trimmed.dropFirst(digits.count).lowercased()
        if unit.hasSuffix("ib") { unit.removeLast(2) } else if unit.hasSuffix("b") { unit.removeLast() }
        let multipliers: [String: Int64] = ["": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        guard let value = Int64(digits), let multiplier = multipliers[unit] else {
            throw TestSupportError.invalidArgument("invalid size \"\(text)\": expected e.g. 256MiB, 2M, 4096")
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw TestSupportError.invalidArgument("size \"\(text)\" is too large") }
        return product
    }
}
