import FerryFuzz
import Foundation

// A libFuzzer driver over one of FerryFuzz's targets, chosen with FERRY_FUZZ_TARGET; built only by
// scripts/fuzz.sh (see Package.swift). `FERRY_FUZZ_PREPARE=DIR` writes the target's seeds to DIR/corpus and its
// tokens to DIR/tokens.dict (libFuzzer's dictionary format) and exits, so the script can start libFuzzer on them.
//
// SwiftPM links an executable with `main` aliased to this file's entry point, so libFuzzer's own `main` never runs:
// its driver is started from here instead, through LLVMFuzzerRunDriver.

guard let target = selectedTarget else {
    let names = ((try? FuzzTargets.all()) ?? []).map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("set FERRY_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
}
if let directory = ProcessInfo.processInfo.environment["FERRY_FUZZ_PREPARE"] {
    exit(prepare(target, in: directory))
}
var count = CommandLine.argc
var vector: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runLibFuzzer(&count, &vector) { data, size in
    guard let target = selectedTarget else { return 0 }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        _ = try target.check(target.repair(bytes))
    } catch {
        // A broken property is a finding like a crash: libFuzzer saves the input when the process aborts.
        FileHandle.standardError.write(Data("\(target.name): \(error)\n".utf8))
        abort()
    }
    return 0
})
