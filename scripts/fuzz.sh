#!/usr/bin/env bash
# Long fuzzing of the parsers ferry runs on hostile input (issue 11): the manifest/index decoder, the
# WWW-Authenticate and Link header parsers, the reference grammar, the mirror list loader and the bundle tar reader.
#
#   1. The seeded mutation tests of the suite (Tests/FuzzTests, Tests/FerryBundleTests/TarFuzzTests.swift), with
#      FERRY_FUZZ_ITERATIONS mutants per target instead of the suite's 1000.
#   2. libFuzzer (coverage-guided, with AddressSanitizer) over the same targets and properties, FUZZ_SECONDS each;
#      the tar reader is internal to FerryBundle and runs in step 1 only.
#
# Environment: FERRY_FUZZ_ITERATIONS (default 100000), FERRY_FUZZ_SEED (default random; printed, so a failing run
# can be repeated exactly), FUZZ_SECONDS (default 60; 0 skips libFuzzer), FUZZ_TARGETS (default: all libFuzzer
# targets), FUZZ_DIR (default .build-libfuzzer/runs: corpora, logs and crash inputs).
#
# Needs the Swift toolchain only: libFuzzer's runtime ships with it. See Tests/TESTING.md ("Fuzzing").
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ITERATIONS=${FERRY_FUZZ_ITERATIONS:-100000}
SEED=${FERRY_FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-manifest challenge link error-body reference mirror-list}
RUNS=${FUZZ_DIR:-$ROOT/.build-libfuzzer/runs}
status=0

echo "fuzz seed $SEED (repeat with FERRY_FUZZ_SEED=$SEED), $ITERATIONS mutants per target"

# 1. Seeded mutation. A crash kills the test process before any test reports: each target's input in progress is
# kept in $LAST/<target>.input, and the target without a summary line is the one that crashed.
swift build --build-tests
LAST="$RUNS/mutation-$SEED"
mkdir -p "$LAST"
code=0
FERRY_FUZZ_SEED="$SEED" FERRY_FUZZ_ITERATIONS="$ITERATIONS" FERRY_FUZZ_REPORT=1 FERRY_FUZZ_LAST_INPUT_DIR="$LAST" \
    swift test --skip-build --filter 'ParserFuzzTests|TarFuzzTests' >"$LAST/log" 2>&1 || code=$?
grep -E '^fuzz |✘|Fatal error|Crash' "$LAST/log" | cut -c1-2000 || true
if [ "$code" -ne 0 ]; then
    echo "mutation fuzzing failed (seed $SEED); log $LAST/log; the input each target was on is in $LAST/"
    status=1
fi

# 2. libFuzzer. The driver target exists only with FERRY_LIBFUZZER=1 and links only with -sanitize=fuzzer (see
# Package.swift); lld, because gold cannot link the sanitizer runtime with SwiftPM's entry-point alias.
[ "$SECONDS_EACH" -gt 0 ] || exit "$status"
FLAGS=(-c release --scratch-path "$ROOT/.build-libfuzzer" --product ferry-libfuzzer
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)
FERRY_LIBFUZZER=1 swift build "${FLAGS[@]}"
BIN="$(FERRY_LIBFUZZER=1 swift build "${FLAGS[@]}" --show-bin-path)/ferry-libfuzzer"
for target in $TARGETS; do
    dir="$RUNS/$target"
    mkdir -p "$dir"
    # LeakSanitizer's exit-time check reports the Swift runtime's copy of the environment (80 bytes, held until exit)
    # as a leak and fails the prepare step; the fuzzing run itself is unaffected.
    ASAN_OPTIONS=detect_leaks=0 FERRY_FUZZ_TARGET="$target" FERRY_FUZZ_PREPARE="$dir" "$BIN"
    # The swift-backtrace helper would hold the output open after a crash; libFuzzer reports crashes itself.
    if (cd "$dir" && TMPDIR="$dir" SWIFT_BACKTRACE=enable=no FERRY_FUZZ_TARGET="$target" "$BIN" corpus \
        -dict=tokens.dict -max_total_time="$SECONDS_EACH" -seed="$SEED" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$dir/" -print_final_stats=1 >"$dir/log" 2>&1); then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
        coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -1)
        echo "libfuzzer $target: $runs inputs in ${SECONDS_EACH} s ($rate/s), ${coverage:-no coverage line}," \
            "corpus $(ls "$dir/corpus" | wc -l) inputs"
    else
        echo "libfuzzer $target: FAILED (seed $SEED); log $dir/log, input:"
        ls "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null || true
        grep -m1 -E "^$target: |ERROR: " "$dir/log" || true
        status=1
    fi
done
exit "$status"
