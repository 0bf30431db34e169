#!/usr/bin/env bash
# The long crash-consistency run (issue 11): what the test suite does with 50 kill points, many times over.
#
#   scripts/crash-test.sh [POINTS] [TIMED_ROUNDS]
#
# 1. RandomKillTests (ferry sync, import and export) with POINTS kill points per command (default 200) and a fresh
#    random seed, printed first so a failure can be replayed:
#    FERRY_CRASH_SEED=<seed> FERRY_CRASH_POINTS=<n> swift test --filter RandomKillTests.
# 2. TIMED_ROUNDS (default 100) kills at random times instead of at durable steps: `ferry sync` of the demo images
#    (every tag of demo/app, an index, a Docker image) killed with SIGKILL after 0-400 ms, then the same checks:
#    the rerun exits 0, `ferry verify` is healthy (it runs PRAGMA integrity_check), no lagging or inconsistent name.
#
# Needs a debug build with tests (`swift build --build-tests`) and docker-registry/skopeo (`make deps`). Everything
# runs on 127.0.0.1 in one temporary directory; the registry started here is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

POINTS=${1:-200}
TIMED=${2:-100}
SEED=${FERRY_CRASH_SEED:-$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')}
BIN="$(swift build --show-bin-path)"
FERRY=$BIN/ferry
for tool in "$FERRY" "$BIN/ferry-devtool"; do
    [ -x "$tool" ] || { echo "crash-test: $tool missing: run swift build --build-tests" >&2; exit 1; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferry-crash.XXXXXX")
cleanup() { "$BIN/ferry-devtool" stop --dir "$WORK/registry" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "seed $SEED, $POINTS kill points per command, $TIMED timed kills"
echo "== 1. kills at seeded durable steps (RandomKillTests)"
FERRY_CRASH_SEED=$SEED FERRY_CRASH_POINTS=$POINTS swift test --skip-build --filter RandomKillTests 2>&1 |
    grep -E '✘|✔ Test|Test run with' || { echo "crash-test: swift test failed (seed $SEED)" >&2; exit 1; }

echo "== 2. kills at random times (ferry sync)"
"$BIN/ferry-devtool" demo-registry --dir "$WORK/registry" >/dev/null
# shellcheck disable=SC1091
source "$WORK/registry/registry.env"
cat >"$WORK/list.yaml" <<EOF
version: 1
registries:
  "$HOST":
    tls: plain-http
images:
  - source: $HOST/demo/app
    include: ['.*']
  - source: $HOST/demo/tool:1.0.0
  - source: $HOST/demo/multi:1.0.0
EOF
RANDOM=$((SEED % 32768))
failures=0
for round in $(seq "$TIMED"); do
    store=$WORK/store-$round
    delay=$((RANDOM % 400))
    "$FERRY" sync --quiet --store "$store" --config "$WORK/list.yaml" >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v ms="$delay" 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if ! "$FERRY" sync --quiet --store "$store" --config "$WORK/list.yaml" >"$WORK/rerun.log" 2>&1; then
        echo "round $round (kill after ${delay} ms): rerun failed"; cat "$WORK/rerun.log"; failures=$((failures + 1))
    elif ! "$FERRY" verify --store "$store" >"$WORK/verify.log" 2>&1 || grep -qE '^(lagging|inconsistent)' "$WORK/verify.log"; then
        echo "round $round (kill after ${delay} ms): store not healthy"; cat "$WORK/verify.log"; failures=$((failures + 1))
    fi
    rm -rf "$store"
done
echo "timed kills: $TIMED rounds, $failures failed (seed $SEED)"
[ "$failures" = 0 ]
