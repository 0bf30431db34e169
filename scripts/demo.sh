#!/usr/bin/env bash
# The main job, end to end, offline: a local docker-registry on 127.0.0.1 seeded with sample images stands in
# for the internet. Run through `make demo` (which installs packages and builds first).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="$(swift build --show-bin-path)"
DEMO="${FERRY_DEMO_DIR:-.ferry-demo}"
rm -rf "$DEMO"
mkdir -p "$DEMO"

cleanup() { "$BIN/ferry-devtool" stop --dir "$DEMO" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== starting a seeded registry on 127.0.0.1"
"$BIN/ferry-devtool" demo-registry --dir "$DEMO" >/dev/null
# shellcheck disable=SC1091
source "$DEMO/registry.env"
export FERRY_DEMO_REGISTRY="$HOST"
export FERRY_DEMO_EXPORT="$DEMO/export"
echo "   registry $HOST (pid $PID)"

STORE="$DEMO/store"
step() { echo; echo "== $*"; }

step "ferry validate --config manifests/demo.yaml"
"$BIN/ferry" validate --config manifests/demo.yaml

step "ferry sync (first run: everything is pulled)"
"$BIN/ferry" sync --config manifests/demo.yaml --store "$STORE" | tee "$DEMO/first-sync.log"
FIRST_RUN=$(sed -n 's/^run \([^ ]*\) completed.*/\1/p' "$DEMO/first-sync.log" | tail -n1)

step "ferry sync (second run: one HEAD per tag, nothing downloaded)"
"$BIN/ferry" sync --config manifests/demo.yaml --store "$STORE"

step "ferry pull $HOST/demo/app:1.0.0"
"$BIN/ferry" pull --config manifests/demo.yaml --store "$STORE" "$HOST/demo/app:1.0.0"

step "ferry ls"
"$BIN/ferry" ls --store "$STORE" || true

step "the store is a plain OCI image layout: skopeo reads it"
skopeo inspect --format '{{.Digest}} {{.Architecture}}' "oci:$STORE:$HOST/demo/app:1.2.0"

step "ferry verify (re-hash every blob, check every reference is complete)"
"$BIN/ferry" verify --store "$STORE"

step "ferry report (the last run, Markdown; JSON and a self-contained HTML page are in $STORE/reports/)"
"$BIN/ferry" report --store "$STORE" --format md | head -20

step "ferry report --since $FIRST_RUN (what changed after the first sync)"
"$BIN/ferry" report --store "$STORE" --since "$FIRST_RUN" | head -12

step "air gap: ferry export, ferry import --check on the media, ferry import into another store"
mkdir -p "$DEMO/usb"
"$BIN/ferry" export --store "$STORE" --to "$DEMO/usb/bundle.tar"
"$BIN/ferry" import --check "$DEMO/usb/bundle.tar"
"$BIN/ferry" import "$DEMO/usb/bundle.tar" --store "$DEMO/airgap-store"
ls "$STORE/reports"
echo "metrics for node_exporter's textfile collector: $STORE/metrics.prom"
grep -E '^ferry_(images|drift_events|last_success)' "$STORE/metrics.prom" | head -8
echo
echo "demo done: store in $STORE"
