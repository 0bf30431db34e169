import FerrySystem
import Foundation
import OCIModel

#if canImport(Glibc)
    import Glibc
#endif

/// `ferry-bench`: in-process measurements for `scripts/bench.sh` (never shipped).
///
///     ferry-bench hash-file PATH [--seconds 3]
///         FileSystem.digest(ofFile:) over PATH (1 MiB reads into DigestHasher), repeated for about SECONDS after
///         one warm-up pass; prints `bytes=<n> seconds=<wall> cpu=<user+sys> MBps=<per wall s> cpuMBps=<per CPU s>`
///         (MB = 10^6 bytes, as openssl speed counts).
///     ferry-bench hash-memory [--chunk 1048576] [--region 67108864] [--seconds 3]
///         DigestHasher.update with CHUNK-byte buffers taken in turn from REGION bytes of memory: the hash alone.
@main
enum FerryBench {
    static let usage = """
        usage: ferry-bench hash-file PATH [--seconds S]
               ferry-bench hash-memory [--chunk BYTES] [--region BYTES] [--seconds S]
        """

    static func main() {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first else { fail(usage) }
        arguments.removeFirst()
        var positional: [String] = []
        var options: [String: String] = [:]
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument.hasPrefix("--") {
                guard let value = iterator.next() else { fail("\(argument) needs a value\n\(usage)") }
                options[String(argument.dropFirst(2))] = value
            } else {
                positional.append(argument)
            }
        }
        let seconds = Double(options["seconds"] ?? "3") ?? 3
        switch command {
        case "hash-file":
            guard positional.count == 1 else { fail(usage) }
            hashFile(positional[0], seconds: seconds)
        case "hash-memory":
            let chunk = Int(options["chunk"] ?? "\(1 << 20)") ?? (1 << 20)
            let region = Int(options["region"] ?? "\(64 << 20)") ?? (64 << 20)
            hashMemory(chunk: chunk, region: region, seconds: seconds)
        default:
            fail(usage)
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("ferry-bench: \(message)\n".utf8))
        exit(64)
    }

    /// The product's file-hashing path, timed over whole passes until `seconds` have passed.
    static func hashFile(_ path: String, seconds: Double) {
        do {
            _ = try FileSystem.digest(ofFile: path)  // warm-up: page cache, code, allocator
            let clock = ContinuousClock()
            let cpuStart = cpuSeconds()
            let start = clock.now
            var bytes: Int64 = 0
            var last: Digest?
            repeat {
                let (digest, size) = try FileSystem.digest(ofFile: path)
                bytes += size
                last = digest
            } while (clock.now - start) < .seconds(seconds)
            report(
                bytes: bytes, elapsed: clock.now - start, cpu: cpuSeconds() - cpuStart,
                extra: "digest=\(last.map(\.description) ?? "")")
        } catch {
            fail("\(error)")
        }
    }

    /// DigestHasher alone, fed `chunk`-sized buffers in turn from a `region` of memory (64 MiB: from RAM, like a
    /// download; `--region` equal to `--chunk`: one cache-resident buffer, like openssl speed).
    static func hashMemory(chunk: Int, region: Int, seconds: Double) {
        let region = max(region, chunk)
        let chunk = max(1, min(chunk, region))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: region, alignment: 64)
        defer { buffer.deallocate() }
        for index in 0..<region { buffer[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 13) }
        let clock = ContinuousClock()
        var hasher = DigestHasher(.sha256)
        var offset = 0
        func step() {
            if offset + chunk > region { offset = 0 }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + chunk]))
            offset += chunk
        }
        for _ in 0..<(region / chunk) { step() }  // warm-up
        hasher = DigestHasher(.sha256)
        let cpuStart = cpuSeconds()
        let start = clock.now
        let batch = max(1, (16 << 20) / chunk)
        repeat {
            for _ in 0..<batch { step() }
        } while (clock.now - start) < .seconds(seconds)
        report(
            bytes: hasher.count, elapsed: clock.now - start, cpu: cpuSeconds() - cpuStart,
            extra: "digest=\(hasher.finalize())")
    }

    /// User plus system CPU time of this process so far. openssl speed divides by CPU time too (unless
    /// `-elapsed`), which keeps both figures comparable on a machine shared with other work.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// One line: bytes, wall seconds, CPU seconds, MB per wall second and MB per CPU second (MB = 10^6 bytes).
    static func report(bytes: Int64, elapsed: Duration, cpu: Double, extra: String) {
        let (whole, fraction) = elapsed.components
        let seconds = Double(whole) + Double(fraction) / 1e18
        let mbps = Double(bytes) / seconds / 1e6
        let cpuMBps = Double(bytes) / max(cpu, 1e-6) / 1e6
        print(
            "bytes=\(bytes) seconds=\(String(format: "%.3f", seconds)) cpu=\(String(format: "%.3f", cpu)) "
                + "MBps=\(String(format: "%.1f", mbps)) cpuMBps=\(String(format: "%.1f", cpuMBps)) \(extra)")
    }
}
