import FerryTestSupport

/// The parsers ferry runs on hostile input, as fuzz targets: the suite runs each a bounded number of iterations
/// (`Tests/FuzzTests`), `scripts/fuzz.sh` many more, and the libFuzzer driver (`Tests/LibFuzzer`) feeds them
/// coverage-guided inputs. Each target's property is documented on its factory. The bundle tar reader is internal
/// to FerryBundle, so its target lives with that module's tests (`Tests/FerryBundleTests/TarFuzzTarget.swift`).
public enum FuzzTargets {
    /// Every target here.
    public static func all() throws -> [FuzzTarget] {
        [manifest(), challenge(), link(), errorBody(), reference(), try mirrorList()]
    }
}
