import Foundation

/// How much a fuzz run does, from the environment: `FERRY_FUZZ_ITERATIONS` mutants per target (default
/// ``defaultIterations``), drawn from `FERRY_FUZZ_SEED` (decimal or `0x` hex; default ``defaultSeed``), and with
/// `FERRY_FUZZ_LAST_INPUT_DIR` set, each input is written to `<dir>/<target>.input` before it is tried, so the input
/// of a crash (which kills the process before any test can report) is on disk afterwards.
public struct FuzzSettings: Sendable, Hashable {
    /// Iterations per target in the ordinary suite: all targets together stay well under 20 s on 2 cores.
    public static let defaultIterations = 1000
    /// The suite's fixed seed, so an ordinary run is repeatable.
    public static let defaultSeed: UInt64 = 0x0F_E44A_2025

    /// Mutants tried per target.
    public var iterations: Int
    /// The base seed; each target derives its own from it and its name.
    public var seed: UInt64
    /// Where the input in progress is written, when set.
    public var lastInputDirectory: String?
    /// Print each target's summary line and rate to stderr (`FERRY_FUZZ_REPORT=1`, as `scripts/fuzz.sh` sets).
    public var printsReport: Bool

    /// Explicit settings.
    public init(iterations: Int, seed: UInt64, lastInputDirectory: String? = nil, printsReport: Bool = false) {
        self.iterations = iterations
        self.seed = seed
        self.lastInputDirectory = lastInputDirectory
        self.printsReport = printsReport
    }

    /// The settings the environment asks for; unparsable values fall back to the defaults.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Self {
        let iterations = environment["FERRY_FUZZ_ITERATIONS"].flatMap { Int($0) }.map { max(0, $0) }
        let seedText = environment["FERRY_FUZZ_SEED"] ?? ""
        let seed = seedText.hasPrefix("0x") ? UInt64(seedText.dropFirst(2), radix: 16) : UInt64(seedText)
        let directory = environment["FERRY_FUZZ_LAST_INPUT_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        return Self(
            iterations: iterations ?? defaultIterations, seed: seed ?? defaultSeed, lastInputDirectory: directory,
            printsReport: environment["FERRY_FUZZ_REPORT"] == "1")
    }

    /// The seed of `target`'s mutation stream: the base seed mixed with the target's name (FNV-1a).
    public func seed(for target: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in target.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return seed ^ hash
    }
}

/// A broken property: what went wrong with one input.
public struct FuzzViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the input made the parser do wrong.
    public var message: String

    /// Creates a violation.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// One parser under fuzz: seed inputs, extra tokens for the mutator, and the property every input must satisfy.
public struct FuzzTarget: Sendable {
    /// What the parser made of an input that broke no property.
    public enum Verdict: Sendable, Hashable {
        /// Parsed (and, where the target checks it, round-tripped).
        case accepted
        /// Refused with a well-formed typed error.
        case rejected
    }

    /// The target's name, used for seeds and file names.
    public let name: String
    /// Valid inputs to start from.
    public let seeds: [[UInt8]]
    /// Tokens of the format, spliced in besides ``Mutator/commonTokens``.
    public let tokens: [[UInt8]]
    /// Applied to every mutant before the check: repairs what would make nearly every mutant fail the same
    /// early test (a tar header checksum), so mutations reach the code behind it.
    public let repair: @Sendable ([UInt8]) -> [UInt8]
    /// Runs the parser on one input; throws when a property is broken. A trap is a crash of the test process.
    public let check: @Sendable ([UInt8]) throws(FuzzViolation) -> Verdict

    /// Creates a target.
    public init(
        name: String, seeds: [[UInt8]], tokens: [[UInt8]] = [], repair: @escaping @Sendable ([UInt8]) -> [UInt8] = { $0 },
        check: @escaping @Sendable ([UInt8]) throws(FuzzViolation) -> Verdict
    ) {
        self.name = name
        self.seeds = seeds
        self.tokens = tokens
        self.repair = repair
        self.check = check
    }
}

/// An input that broke a property, with what is needed to reproduce it.
public struct FuzzFinding: Sendable, Hashable, CustomStringConvertible {
    /// The target's name.
    public var target: String
    /// The run's base seed (`FERRY_FUZZ_SEED`), which with the iteration reproduces the input.
    public var seed: UInt64
    /// The iteration (0-based) that produced the input; -1 for a seed input.
    public var iteration: Int
    /// The input.
    public var input: [UInt8]
    /// The broken property.
    public var violation: FuzzViolation
    /// Where the input was saved, when it could be.
    public var savedInput: String?

    /// Target, property, seed, iteration, where the input is and, when short, the input in base64 (to paste into
    /// a regression case).
    public var description: String {
        let shown = input.count <= 2048 ? "; input (base64): \(Data(input).base64EncodedString())" : ""
        return "\(target): \(violation.message.prefix(2000)) (FERRY_FUZZ_SEED=\(seed), iteration \(iteration); "
            + "\(input.count) bytes saved at \(savedInput ?? "nowhere"))\(shown)"
    }
}

/// What one target's run did.
public struct FuzzReport: Sendable, Hashable, CustomStringConvertible {
    /// The target's name.
    public var target: String
    /// Inputs tried (the seeds included).
    public var inputs = 0
    /// Inputs the parser accepted.
    public var accepted = 0
    /// Inputs it refused with a typed error.
    public var rejected = 0
    /// Inputs that broke a property.
    public var findings: [FuzzFinding] = []

    /// One summary line.
    public var description: String {
        "fuzz \(target): \(inputs) inputs, \(accepted) accepted, \(rejected) rejected, \(findings.count) findings"
    }
}

/// Runs fuzz targets: every seed as it is, then ``FuzzSettings/iterations`` mutants, each derived from a seed or an
/// accepted mutant (so the corpus drifts towards inputs that get past the first checks).
public enum FuzzCampaign {
    /// Accepted mutants kept as further starting points, at most.
    static let corpusLimit = 256

    /// Fuzzes `target` with `settings`.
    public static func run(_ target: FuzzTarget, settings: FuzzSettings = .fromEnvironment()) -> FuzzReport {
        let seed = settings.seed(for: target.name)
        var mutator = Mutator(seed: seed, tokens: target.tokens)
        var report = FuzzReport(target: target.name)
        var corpus = target.seeds
        func attempt(_ input: [UInt8], iteration: Int) -> Bool {
            if let directory = settings.lastInputDirectory {
                try? Data(input).write(to: URL(fileURLWithPath: "\(directory)/\(target.name).input"))
            }
            report.inputs += 1
            do {
                switch try target.check(input) {
                case .accepted:
                    report.accepted += 1
                    return true
                case .rejected:
                    report.rejected += 1
                }
            } catch {
                let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
                let path = "\(base)/ferry-fuzz-\(target.name)-\(seed)-\(iteration).input"
                let saved = (try? Data(input).write(to: URL(fileURLWithPath: path))) != nil
                report.findings.append(
                    FuzzFinding(
                        target: target.name, seed: settings.seed, iteration: iteration, input: input, violation: error,
                        savedInput: saved ? path : nil))
            }
            return false
        }
        let started = ContinuousClock.now
        defer {
            if settings.printsReport {
                let elapsed = (ContinuousClock.now - started).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                let rate = seconds > 0 ? Int(Double(report.inputs) / seconds) : 0
                FileHandle.standardError.write(
                    Data("\(report) in \(String(format: "%.1f", seconds)) s (\(rate)/s), seed \(settings.seed)\n".utf8))
            }
        }
        for input in target.seeds { _ = attempt(input, iteration: -1) }
        guard !corpus.isEmpty else { return report }
        for iteration in 0..<settings.iterations {
            let parent = corpus[mutator.below(corpus.count)]
            let mutant = target.repair(mutator.mutate(parent, others: target.seeds))
            if attempt(mutant, iteration: iteration) {
                if corpus.count < corpusLimit {
                    corpus.append(mutant)
                } else if target.seeds.count < corpusLimit {
                    corpus[target.seeds.count + mutator.below(corpusLimit - target.seeds.count)] = mutant
                }
            }
        }
        return report
    }
}
