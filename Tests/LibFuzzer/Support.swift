import FerryFuzz
import FerryTestSupport
import Foundation

/// The selected target; a global because libFuzzer's callback is a C function that captures nothing.
let selectedTarget: FuzzTarget? = {
    let name = ProcessInfo.processInfo.environment["FERRY_FUZZ_TARGET"] ?? ""
    return (try? FuzzTargets.all())?.first { $0.name == name }
}()

/// libFuzzer's driver, run with `argc`/`argv` and the function it calls with each input.
@_silgen_name("LLVMFuzzerRunDriver")
func runLibFuzzer(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Writes `target`'s seeds to `directory/corpus` and its tokens to `directory/tokens.dict`; the exit status.
func prepare(_ target: FuzzTarget, in directory: String) -> CInt {
    do {
        try TestFiles.makeDirectory(directory + "/corpus")
        for (index, seed) in target.seeds.enumerated() {
            try TestFiles.write(seed, to: "\(directory)/corpus/seed-\(index)")
        }
        let tokens = (Mutator.commonTokens + target.tokens).filter { !$0.isEmpty && $0.count <= 64 }
        let dictionary = tokens.map { token in
            "\"" + token.map { byte in
                (0x20...0x7E).contains(byte) && byte != 0x22 && byte != 0x5C
                    ? String(UnicodeScalar(byte)) : String(format: "\\x%02X", byte)
            }.joined() + "\""
        }
        try TestFiles.write(dictionary.joined(separator: "\n") + "\n", to: directory + "/tokens.dict")
        return 0
    } catch {
        FileHandle.standardError.write(Data("\(error)\n".utf8))
        return 1
    }
}
