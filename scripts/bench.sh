#!/usr/bin/env bash
# make bench: every benchmark of ferry, each figure next to a reference tool measured in the same run.
#
# The machine is shared and noisy, so every figure is a median over several rounds in which ferry and its
# reference run alternately, and what counts is the ratio. Misses are marked MISS; the script
# still exits 0 (a human reads the table). Figures also go to bench-results.txt. See scripts/README-bench.md.
#
# Needs a release build (`swift build -c release --static-swift-stdlib`, which `make bench` runs first) and the
# tools `make deps` installs: docker-registry, skopeo, curl, openssl, GNU time. Everything runs on 127.0.0.1 under one temporary
# directory, and every process started here is stopped by PID on exit.
#
# Environment: BENCH_REPEAT (rounds of figures 1-3, default 5), BENCH_SYNC_REPEAT (rounds of figures 4-11,
# default 3), BENCH_KEEP=1 (keep the work directory), FERRY_BIN
# (default .build/release), BENCH_BLOB_SIZE (default 256MiB), BENCH_REPOS / BENCH_TAGS / BENCH_LAYERS /
# BENCH_LAYER_SIZE (default 20 / 3 / 4 / 2MiB), BENCH_HASH_SECONDS (default 2).
set -euo pipefail
set -m # background jobs get their own process group, so one kill stops /usr/bin/time and what it runs
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${FERRY_BIN:-$ROOT/.build/release}
FBENCH=$BIN/ferry-bench
REPEAT=${BENCH_REPEAT:-5}
SYNC_REPEAT=${BENCH_SYNC_REPEAT:-3}
BLOB_SIZE=${BENCH_BLOB_SIZE:-256MiB}
REPOS=${BENCH_REPOS:-20}
TAGS=${BENCH_TAGS:-3}
LAYERS=${BENCH_LAYERS:-4}
LAYER_SIZE=${BENCH_LAYER_SIZE:-2MiB}
HASH_SECONDS=${BENCH_HASH_SECONDS:-2}
RESULTS=$ROOT/bench-results.txt

# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
bench_require "$FERRY" "$DEVTOOL" "$FBENCH" -- docker-registry skopeo curl openssl /usr/bin/time
bench_start ferry-bench

# ---------------------------------------------------------------------------------------------------------------
HEADER=$(
    echo "ferry benchmarks — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    machine_header
    echo "rounds: $REPEAT (figures 1-3), $SYNC_REPEAT (4-11); medians, ferry and reference alternate"
)
echo "$HEADER"
echo

# ---------------------------------------------------------------------------------------------------------------
echo "== setting up: seeded registries on 127.0.0.1 (not timed)"
BIG=$WORK/big
SET=$WORK/set
REGISTRY_DIRS+=("$BIG")
must "$WORK/seed-big.log" "$DEVTOOL" big-blob --dir "$BIG" --size "$BLOB_SIZE"
progress "big-blob registry: $(envval "$BIG/registry.env" URL) (seeded in ${T_WALL}s)"
REGISTRY_DIRS+=("$SET")
must "$WORK/seed-set.log" "$DEVTOOL" bench-registry --dir "$SET" --repos "$REPOS" --tags "$TAGS" --layers "$LAYERS" \
    --layer-size "$LAYER_SIZE"
progress "bench-registry: $(envval "$SET/registry.env" URL), $(wc -l <"$SET/images.tsv") references (seeded in ${T_WALL}s)"
rm -rf "$BIG/layout" "$SET/layout" # the registries keep their own copies; only page cache and disk are saved here

BIG_HOST=$(envval "$BIG/registry.env" HOST)
BIG_URL=$(envval "$BIG/registry.env" URL)
SET_HOST=$(envval "$SET/registry.env" HOST)
SET_LOG=$(envval "$SET/registry.env" LOG)

# ---------------------------------------------------------------------------------------------------------------
echo "== 1. SHA-256 while streaming: ferry's hasher fed 1 MiB buffers (as downloads feed it) vs openssl speed -evp sha256 (16 KiB blocks), per CPU second"
# openssl speed divides by CPU time (no -elapsed), so ferry's figures are per CPU second as well (user + system,
# so the read(2) copies count): on a shared machine wall-clock throughput mostly measures the other tenants.
HASH_FILE=$WORK/hash-input
head -c 268435456 /dev/urandom >"$HASH_FILE"
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
ossl=() ; ferry_hash=() ; ferry_hash_wall=() ; ferry_mem=() ; ossl_file=()
hash_ferry() {
    out=$("$FBENCH" hash-file "$HASH_FILE" --seconds "$HASH_SECONDS")
    f=$(printf ' %s' "$out" | field cpuMBps); w=$(printf ' %s' "$out" | field MBps)
    m=$("$FBENCH" hash-memory --chunk 1048576 --seconds "$HASH_SECONDS" | sed 's/^/ /' | field cpuMBps)
}
hash_openssl() {
    o=$(openssl speed -mr -seconds "$HASH_SECONDS" -evp sha256 -bytes 16384 2>/dev/null | awk -F: '/^\+F:/ { printf "%.1f", $4 / 1e6 }')
    /usr/bin/time -f '%U %S' -o "$WORK/dgst.time" openssl dgst -sha256 "$HASH_FILE" >/dev/null
    d=$(awk '{ printf "%.1f", 268.435456 / ($1 + $2) }' "$WORK/dgst.time")
}
for round in $(seq "$REPEAT"); do
    # ferry and the reference alternate which goes first, as in every other figure.
    if [ $((round % 2)) = 1 ]; then hash_openssl; hash_ferry; else hash_ferry; hash_openssl; fi
    ossl+=("$o"); ferry_hash+=("$f"); ferry_hash_wall+=("$w"); ferry_mem+=("$m"); ossl_file+=("$d")
    progress "round $round: openssl speed $o, ferry digest(ofFile:) $f ($w per wall s), DigestHasher from memory $m, openssl dgst FILE $d MB/s"
done
rm -f "$HASH_FILE"
HASH_OSSL=$(calc "$(printf '%s\n' "${ossl[@]}" | median)" 0)
HASH_FERRY=$(calc "$(printf '%s\n' "${ferry_hash[@]}" | median)" 0)
HASH_FERRY_WALL=$(calc "$(printf '%s\n' "${ferry_hash_wall[@]}" | median)" 0)
HASH_MEM=$(calc "$(printf '%s\n' "${ferry_mem[@]}" | median)" 0)
HASH_OSSL_FILE=$(calc "$(printf '%s\n' "${ossl_file[@]}" | median)" 0)

# ---------------------------------------------------------------------------------------------------------------
echo "== 2./3. pull of a $BLOB_SIZE blob: ferry pull into a fresh store vs curl -o of the blob URL"
# The seeded image has one layer: a tar of BLOB_SIZE pseudo-random bytes (plus tar headers). Keys are sorted.
manifest=$(curl -sSf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$BIG_URL/v2/big/blob/manifests/latest")
layer=$(printf '%s' "$manifest" | grep -o '"layers":\[{"digest":"sha256:[0-9a-f]\{64\}","mediaType":"[^"]*","size":[0-9]*' || true)
LAYER=$(printf '%s' "$layer" | sed -n 's/.*"digest":"\([^"]*\)".*/\1/p')
blob_bytes=$(printf '%s' "$layer" | sed -n 's/.*"size":\([0-9]*\)$/\1/p')
[ -n "$LAYER" ] && [ -n "$blob_bytes" ] || die "no layer found in big/blob:latest: $manifest"
BLOB_URL=$BIG_URL/v2/big/blob/blobs/$LAYER
cat >"$WORK/big.yaml" <<EOF
version: 1
registries:
  $BIG_HOST:
    tls: plain-http
images:
  - source: $BIG_HOST/big/blob:latest
EOF
curl -sSf -o "$WORK/warm.blob" "$BLOB_URL" && rm -f "$WORK/warm.blob" # warm the registry's page cache
curl_t=() ; curl_sync_t=() ; curl_rss=() ; curl_cpu=() ; pull_t=() ; pull_rss=() ; pull_cpu=() ; pull_xfer=()
pull_once() {
    local store=$WORK/pull-store-$1
    rm -rf "$store"
    must "$WORK/pull-$1.log" "$FERRY" pull --verbose --store "$store" --config "$WORK/big.yaml" "$BIG_HOST/big/blob:latest"
    [ "$(stat -c %s "$store/blobs/sha256/${LAYER#sha256:}")" = "$blob_bytes" ] || die "ferry pull stored no $blob_bytes-byte layer"
    pull_t+=("$T_WALL"); pull_rss+=("$T_RSS"); pull_cpu+=("$T_CPU")
    # The layer's GET as ferry's transport logged it (--verbose): the streaming part of the command.
    pull_xfer+=("$(sed -n "s/.*http\.bytes=$blob_bytes http\.duration_ms=\([0-9]*\).*/\1/p" "$WORK/pull-$1.log" |
        awk '{ printf "%.3f", $1 / 1000 }' | tail -n1)")
    rm -rf "$store"
}
curl_once() {
    rm -f "$WORK/curl.blob"
    must "$WORK/curl-$1.log" curl -sSf -o "$WORK/curl.blob" "$BLOB_URL"
    [ "$(stat -c %s "$WORK/curl.blob")" = "$blob_bytes" ] || die "curl fetched the wrong size"
    curl_t+=("$T_WALL"); curl_rss+=("$T_RSS"); curl_cpu+=("$T_CPU")
    rm -f "$WORK/curl.blob"
    # ferry flushes a blob to disk before it becomes visible (power-loss safety); curl -o does not. For scale only:
    # curl followed by sync of just that file.
    must "$WORK/curl-sync-$1.log" bash -c 'curl -sSf -o "$1" "$2" && sync "$1"' _ "$WORK/curl.blob" "$BLOB_URL"
    curl_sync_t+=("$T_WALL")
    rm -f "$WORK/curl.blob"
}
for round in $(seq "$REPEAT"); do
    if [ $((round % 2)) = 1 ]; then curl_once "$round"; pull_once "$round"; else pull_once "$round"; curl_once "$round"; fi
    progress "round $round: curl ${curl_t[-1]}s (CPU ${curl_cpu[-1]}s, RSS $((curl_rss[-1] / 1024)) MiB), ferry pull ${pull_t[-1]}s (layer GET ${pull_xfer[-1]:-?}s, CPU ${pull_cpu[-1]}s, RSS $((pull_rss[-1] / 1024)) MiB)"
done
PULL_CURL=$(printf '%s\n' "${curl_t[@]}" | median)
PULL_FERRY=$(printf '%s\n' "${pull_t[@]}" | median)
PULL_CURL_RSS=$(printf '%s\n' "${curl_rss[@]}" | sort -n | tail -n1)
PULL_RSS=$(printf '%s\n' "${pull_rss[@]}" | sort -n | tail -n1)
PULL_CPU=$(printf '%s\n' "${pull_cpu[@]}" | median)
PULL_XFER=$(printf '%s\n' "${pull_xfer[@]}" | grep . | median)
PULL_CURL_CPU=$(printf '%s\n' "${curl_cpu[@]}" | median)
PULL_CURL_SYNC=$(printf '%s\n' "${curl_sync_t[@]}" | median)
stop_pid "$(envval "$BIG/registry.env" PID)"

# ---------------------------------------------------------------------------------------------------------------
NREFS=$(wc -l <"$SET/images.tsv" | tr -d ' ')
echo "== 4.-7. sync of $NREFS references ($REPOS repositories x $TAGS tags x $LAYERS layers of $LAYER_SIZE): ferry sync vs sequential skopeo copy"
# The mirror list: one entry per repository with its exact tags (no tag listing needed), plain HTTP.
cut -f1 "$SET/images.tsv" | mirror_list "$SET_HOST" >"$WORK/set.yaml"
"$FERRY" validate --config "$WORK/set.yaml" >"$WORK/validate.log" 2>&1 || { cat "$WORK/validate.log" >&2; die "generated mirror list is invalid"; }

# skopeo_all LAYOUT: one skopeo process per reference, sequentially, into one OCI layout.
skopeo_all() { skopeo_copy_all "$1" "$SET/images.tsv"; }
export -f skopeo_all
export SET

sync_first=() ; sync_rss=() ; sync_noop=() ; skopeo_first=() ; skopeo_rss=() ; skopeo_noop=()
sync_cpu=() ; noop_cpu=() ; skopeo_cpu=() ; skopeo_noop_cpu=()
noop_requests="" ; skopeo_noop_requests=""
ferry_round() {
    local store=$WORK/sync-store-$1 since
    rm -rf "$store"
    must "$WORK/sync-$1.log" "$FERRY" sync --store "$store" --config "$WORK/set.yaml"
    [ "$(ls "$store/blobs/sha256" | wc -l)" -ge "$((NREFS * (LAYERS + 2)))" ] || die "ferry sync stored too few blobs (see $WORK/sync-$1.log)"
    sync_first+=("$T_WALL"); sync_rss+=("$T_RSS"); sync_cpu+=("$T_CPU")
    settle_log "$SET_LOG"; since=$(log_lines "$SET_LOG")
    must "$WORK/resync-$1.log" "$FERRY" sync --store "$store" --config "$WORK/set.yaml"
    sync_noop+=("$T_WALL"); noop_cpu+=("$T_CPU")
    settle_log "$SET_LOG"; noop_requests=$(requests_since "$SET_LOG" "$since")
    rm -rf "$store"
}
skopeo_round() {
    local layout=$WORK/skopeo-layout-$1 since
    rm -rf "$layout"
    must "$WORK/skopeo-$1.log" bash -c 'skopeo_all "$1"' _ "$layout"
    skopeo_first+=("$T_WALL"); skopeo_rss+=("$T_RSS"); skopeo_cpu+=("$T_CPU")
    settle_log "$SET_LOG"; since=$(log_lines "$SET_LOG")
    must "$WORK/skopeo-noop-$1.log" bash -c 'skopeo_all "$1"' _ "$layout"
    skopeo_noop+=("$T_WALL"); skopeo_noop_cpu+=("$T_CPU")
    settle_log "$SET_LOG"; skopeo_noop_requests=$(requests_since "$SET_LOG" "$since")
    rm -rf "$layout"
}
for round in $(seq "$SYNC_REPEAT"); do
    if [ $((round % 2)) = 1 ]; then skopeo_round "$round"; ferry_round "$round"; else ferry_round "$round"; skopeo_round "$round"; fi
    progress "round $round: first sync: skopeo ${skopeo_first[-1]}s, ferry ${sync_first[-1]}s (RSS $((sync_rss[-1] / 1024)) MiB); no-op: skopeo ${skopeo_noop[-1]}s, ferry ${sync_noop[-1]}s"
done
SYNC_SKOPEO=$(printf '%s\n' "${skopeo_first[@]}" | median)
SYNC_FERRY=$(printf '%s\n' "${sync_first[@]}" | median)
NOOP_SKOPEO=$(printf '%s\n' "${skopeo_noop[@]}" | median)
NOOP_FERRY=$(printf '%s\n' "${sync_noop[@]}" | median)
SYNC_RSS=$(printf '%s\n' "${sync_rss[@]}" | sort -n | tail -n1)
SKOPEO_RSS=$(printf '%s\n' "${skopeo_rss[@]}" | sort -n | tail -n1)
SYNC_CPU=$(printf '%s\n' "${sync_cpu[@]}" | median)
NOOP_CPU=$(printf '%s\n' "${noop_cpu[@]}" | median)
SKOPEO_CPU=$(printf '%s\n' "${skopeo_cpu[@]}" | median)
SKOPEO_NOOP_CPU=$(printf '%s\n' "${skopeo_noop_cpu[@]}" | median)

# Requests of the last no-op re-sync, by method and kind of path.
NOOP_REQ=$(printf '%s\n' "$noop_requests" | grep -c . || true)
NOOP_HEAD=$(printf '%s\n' "$noop_requests" | grep -c '"HEAD ' || true)
NOOP_DETAIL=$(printf '%s\n' "$noop_requests" | grep . | summarize_requests || true)
SKOPEO_NOOP_REQ=$(printf '%s\n' "$skopeo_noop_requests" | grep -c . || true)
SKOPEO_NOOP_DETAIL=$(printf '%s\n' "$skopeo_noop_requests" | grep . | summarize_requests || true)

# ---------------------------------------------------------------------------------------------------------------
echo "== 8. registry -> store -> registry: ferry sync with a registry target vs skopeo sync --all registry to registry"
# An empty docker-registry on a free 127.0.0.1 port, with a config written here; registry.env like the devtool's.
# It logs warnings only: at info level the registry spends much of its CPU on request logs, and on this 2-core
# machine a push is bound by the receiving registry's CPU (the same for ferry and skopeo).
start_empty_registry() {
    local dir=$1 port i
    mkdir -p "$dir/data"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$dir/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: "127.0.0.1:$port", secret: bench}
EOF
    env -u REGISTRY_HTTP_ADDR docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    printf 'PID=%s\nHOST=127.0.0.1:%s\nLOG=%s\n' "$!" "$port" "$dir/registry.log" >"$dir/registry.env"
    REGISTRY_DIRS+=("$dir")
    # At warning level the registry does not log "listening on": ask it instead.
    for i in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && return 0; sleep 0.1; done
    die "registry in $dir did not start"
}
# skopeo's source list: every repository with its tags, plain HTTP.
{
    printf '%s:\n  tls-verify: false\n  images:\n' "$SET_HOST"
    cut -f1 "$SET/images.tsv" | awk '{ i = match($0, /:[^:\/]*$/); repo = substr($0, 1, i - 1); tag = substr($0, i + 1)
        sub(/^[^\/]*\//, "", repo); if (!(repo in tags)) order[++n] = repo; tags[repo] = tags[repo] (tags[repo] == "" ? "" : ", ") "\"" tag "\"" }
        END { for (k = 1; k <= n; k++) printf "    %s: [%s]\n", order[k], tags[order[k]] }'
} >"$WORK/skopeo-sync.yaml"
relay_ferry=() ; relay_skopeo=() ; relay_ferry_cpu=() ; relay_skopeo_cpu=() ; relay_target_cpu=()
relay_ferry_round() {
    local target=$WORK/target-ferry-$1 store=$WORK/relay-store-$1 host
    start_empty_registry "$target"; host=$(envval "$target/registry.env" HOST)
    {
        printf 'version: 1\nregistries:\n  %s:\n    tls: plain-http\n  %s:\n    tls: plain-http\n' "$SET_HOST" "$host"
        printf 'targets:\n  internal:\n    registry: "%s"\n    prefix: mirror\n' "$host"
        sed -n '/^images:/,$p' "$WORK/set.yaml" | sed 's/^    platforms: all$/    platforms: all\n    targets: [internal]/'
    } >"$WORK/relay-$1.yaml"
    rm -rf "$store"
    local pid before
    pid=$(envval "$target/registry.env" PID); before=$(registry_cpu "$pid")
    must "$WORK/relay-ferry-$1.log" "$FERRY" sync --store "$store" --config "$WORK/relay-$1.yaml"
    [ "$(grep -c '^  pushed ' "$WORK/relay-ferry-$1.log")" = "$NREFS" ] || die "ferry pushed fewer than $NREFS references (see $WORK/relay-ferry-$1.log)"
    relay_ferry+=("$T_WALL"); relay_ferry_cpu+=("$T_CPU"); relay_target_cpu+=("$(calc "$(registry_cpu "$pid") - $before" 2)")
    stop_pid "$(envval "$target/registry.env" PID)"; rm -rf "$store" "$target"
}
relay_skopeo_round() {
    local target=$WORK/target-skopeo-$1 host
    start_empty_registry "$target"; host=$(envval "$target/registry.env" HOST)
    must "$WORK/relay-skopeo-$1.log" skopeo sync --all --src yaml --dest docker --dest-tls-verify=false \
        "$WORK/skopeo-sync.yaml" "$host/mirror"
    relay_skopeo+=("$T_WALL"); relay_skopeo_cpu+=("$T_CPU")
    stop_pid "$(envval "$target/registry.env" PID)"; rm -rf "$target"
}
for round in $(seq "$SYNC_REPEAT"); do
    if [ $((round % 2)) = 1 ]; then relay_skopeo_round "$round"; relay_ferry_round "$round"; else relay_ferry_round "$round"; relay_skopeo_round "$round"; fi
    progress "round $round: skopeo sync ${relay_skopeo[-1]}s, ferry sync + push ${relay_ferry[-1]}s"
done
RELAY_FERRY=$(printf '%s\n' "${relay_ferry[@]}" | median)
RELAY_SKOPEO=$(printf '%s\n' "${relay_skopeo[@]}" | median)
RELAY_FERRY_CPU=$(printf '%s\n' "${relay_ferry_cpu[@]}" | median)
RELAY_SKOPEO_CPU=$(printf '%s\n' "${relay_skopeo_cpu[@]}" | median)
RELAY_TARGET_CPU=$(printf '%s\n' "${relay_target_cpu[@]}" | median)

# ---------------------------------------------------------------------------------------------------------------
echo "== 9.-11. export and import of the synced store: ferry export/import vs tar + openssl sha256 of the same files"
BUNDLE_STORE=$WORK/bundle-store
must "$WORK/bundle-sync.log" "$FERRY" sync --store "$BUNDLE_STORE" --config "$WORK/set.yaml"
bundle_bytes=$(du -sb "$BUNDLE_STORE/blobs" | cut -f1)
export_t=() ; export_rss=() ; import_t=() ; import_rss=() ; tar_t=() ; untar_t=()
# The reference: what a careful person would do by hand — write the tar, then hash it (and the reverse).
tar_reference() { tar -cf "$2" -C "$1" oci-layout index.json blobs && openssl dgst -sha256 "$2" >/dev/null; }
untar_reference() { openssl dgst -sha256 "$1" >/dev/null && mkdir -p "$2" && tar -xf "$1" -C "$2"; }
export -f tar_reference untar_reference
bundle_round() {
    local bundle=$WORK/bundle-$1.tar reference=$WORK/reference-$1.tar imported=$WORK/imported-$1 untarred=$WORK/untarred-$1
    rm -rf "$bundle" "$bundle".* "$reference" "$imported" "$untarred"
    ferry_export() {
        must "$WORK/export-$1.log" "$FERRY" export --store "$BUNDLE_STORE" --to "$bundle"
        export_t+=("$T_WALL"); export_rss+=("$T_RSS")
    }
    tar_export() {
        must "$WORK/tar-$1.log" bash -c 'tar_reference "$1" "$2"' _ "$BUNDLE_STORE" "$reference"
        tar_t+=("$T_WALL")
    }
    ferry_import() {
        must "$WORK/import-$1.log" "$FERRY" import --store "$imported" "$bundle"
        [ "$(ls "$imported/blobs/sha256" | wc -l)" = "$(ls "$BUNDLE_STORE/blobs/sha256" | wc -l)" ] || die "import stored a different number of blobs"
        import_t+=("$T_WALL"); import_rss+=("$T_RSS")
    }
    tar_import() {
        must "$WORK/untar-$1.log" bash -c 'untar_reference "$1" "$2"' _ "$reference" "$untarred"
        untar_t+=("$T_WALL")
    }
    # ferry and the reference alternate which goes first, as in every other figure.
    if [ $(($1 % 2)) = 1 ]; then
        tar_export "$1"; ferry_export "$1"; tar_import "$1"; ferry_import "$1"
    else
        ferry_export "$1"; tar_export "$1"; ferry_import "$1"; tar_import "$1"
    fi
    rm -rf "$bundle" "$bundle".* "$reference" "$imported" "$untarred"
}
for round in $(seq "$SYNC_REPEAT"); do
    bundle_round "$round"
    progress "round $round: export ${export_t[-1]}s vs tar + sha256 ${tar_t[-1]}s; import ${import_t[-1]}s vs sha256 + untar ${untar_t[-1]}s"
done
# Memory independent of bundle size: the same figures for a bundle of one repository.
SMALL_STORE=$WORK/small-store
must "$WORK/small-sync.log" "$FERRY" sync --store "$SMALL_STORE" --config "$WORK/set.yaml" --only "*/repo-00"
must "$WORK/small-export.log" "$FERRY" export --store "$SMALL_STORE" --to "$WORK/small.tar"
SMALL_EXPORT_RSS=$T_RSS
must "$WORK/small-import.log" "$FERRY" import --store "$WORK/small-imported" "$WORK/small.tar"
SMALL_IMPORT_RSS=$T_RSS
small_bytes_mb=$(calc "$(du -sb "$SMALL_STORE/blobs" | cut -f1) / 1e6" 1)
rm -rf "$SMALL_STORE" "$WORK/small.tar"* "$WORK/small-imported" "$BUNDLE_STORE"
EXPORT_FERRY=$(printf '%s\n' "${export_t[@]}" | median)
IMPORT_FERRY=$(printf '%s\n' "${import_t[@]}" | median)
TAR_REF=$(printf '%s\n' "${tar_t[@]}" | median)
UNTAR_REF=$(printf '%s\n' "${untar_t[@]}" | median)
EXPORT_RSS=$(printf '%s\n' "${export_rss[@]}" | sort -n | tail -n1)
IMPORT_RSS=$(printf '%s\n' "${import_rss[@]}" | sort -n | tail -n1)

# ---------------------------------------------------------------------------------------------------------------
HASH_RATIO=$(calc "100 * $HASH_FERRY / $HASH_OSSL")
HASH_MEM_RATIO=$(calc "100 * $HASH_MEM / $HASH_OSSL")
PULL_RATIO=$(calc "100 * $PULL_CURL / $PULL_FERRY")
PULL_RSS_RATIO=$(calc "$PULL_RSS / $PULL_CURL_RSS" 1)
SYNC_RATIO=$(calc "100 * $SYNC_FERRY / $SYNC_SKOPEO")
NOOP_RATIO=$(calc "100 * $NOOP_FERRY / $NOOP_SKOPEO")
RELAY_RATIO=$(calc "100 * $RELAY_FERRY / $RELAY_SKOPEO")
EXPORT_RATIO=$(calc "100 * $TAR_REF / $EXPORT_FERRY")
IMPORT_RATIO=$(calc "100 * $UNTAR_REF / $IMPORT_FERRY")
BUNDLE_RSS=$(( EXPORT_RSS > IMPORT_RSS ? EXPORT_RSS : IMPORT_RSS ))
SYNC_RSS_RATIO=$(calc "$SYNC_RSS / $SKOPEO_RSS" 1)
blob_mb=$(calc "$blob_bytes / 1e6" 1)

row() { printf '%-44s %-22s %-26s %-9s %-11s %s\n' "$@"; }
TABLE=$(
    row "figure" "ferry" "reference" "ratio" "target" "result"
    row "1 SHA-256 while streaming, MB/s" "$HASH_MEM" "$HASH_OSSL openssl" "$HASH_MEM_RATIO%" ">= 90%" \
        "$(verdict "$HASH_MEM_RATIO" ">=" 90)"
    row "1b re-hash a stored file (verify), MB/s" "$HASH_FERRY" "$HASH_OSSL_FILE openssl dgst" \
        "$(calc "100 * $HASH_FERRY / $HASH_OSSL_FILE")%" "(info)" "info"
    row "2 pull $BLOB_SIZE blob, s (MB/s)" "$PULL_FERRY ($(calc "$blob_mb / $PULL_FERRY" 0))" \
        "$PULL_CURL ($(calc "$blob_mb / $PULL_CURL" 0)) curl" "$PULL_RATIO%" ">= 80%" "$(verdict "$PULL_RATIO" ">=" 80)"
    row "3 peak RSS of that pull, MiB" "$(mib "$PULL_RSS")" "$(mib "$PULL_CURL_RSS") curl" "${PULL_RSS_RATIO}x" "< 64 MiB" \
        "$(verdict "$(mib "$PULL_RSS")" "<" 64)"
    row "4 first sync, $NREFS refs, s" "$SYNC_FERRY" "$SYNC_SKOPEO skopeo" "$SYNC_RATIO%" "<= 50%" \
        "$(verdict "$SYNC_RATIO" "<=" 50)"
    row "5 no-op re-sync, s" "$NOOP_FERRY" "$NOOP_SKOPEO skopeo" "$NOOP_RATIO%" "<= 20%" \
        "$(verdict "$NOOP_RATIO" "<=" 20)"
    row "6 peak RSS of the first sync, MiB" "$(mib "$SYNC_RSS")" "$(mib "$SKOPEO_RSS") skopeo" "${SYNC_RSS_RATIO}x" \
        "<= 64 MiB" "$(verdict "$(mib "$SYNC_RSS")" "<=" 64)"
    row "7 requests of the no-op re-sync" "$NOOP_REQ ($NOOP_HEAD HEAD)" "$SKOPEO_NOOP_REQ skopeo" \
        "$(calc "100 * $NOOP_REQ / ($SKOPEO_NOOP_REQ > 0 ? $SKOPEO_NOOP_REQ : 1)" 0)%" "$NREFS HEAD" \
        "$( [ "$NOOP_REQ" = "$NREFS" ] && [ "$NOOP_HEAD" = "$NREFS" ] && echo PASS || echo MISS)"
    row "8 registry->store->registry, s" "$RELAY_FERRY" "$RELAY_SKOPEO skopeo sync" "$RELAY_RATIO%" "<= 50%" \
        "$(verdict "$RELAY_RATIO" "<=" 50)"
    row "9 export $(calc "$bundle_bytes / 1e6" 0) MB, s" "$EXPORT_FERRY" "$TAR_REF tar+sha256" "$EXPORT_RATIO%" ">= 80%" \
        "$(verdict "$EXPORT_RATIO" ">=" 80)"
    row "10 import $(calc "$bundle_bytes / 1e6" 0) MB, s" "$IMPORT_FERRY" "$UNTAR_REF sha256+untar" "$IMPORT_RATIO%" ">= 80%" \
        "$(verdict "$IMPORT_RATIO" ">=" 80)"
    row "11 peak RSS export/import, MiB" "$(mib "$EXPORT_RSS") / $(mib "$IMPORT_RSS")" \
        "$(mib "$SMALL_EXPORT_RSS") / $(mib "$SMALL_IMPORT_RSS") small" "-" "< 64 MiB" "$(verdict "$(mib "$BUNDLE_RSS")" "<" 64)"
)
NOTES=$(
    echo "notes:"
    echo "  1: MB (10^6 bytes) per CPU second, as openssl speed counts; ferry = DigestHasher.update with 1 MiB buffers in"
    echo "     memory, which is how a download hashes what curl hands it (the bytes are in memory; the write to disk runs"
    echo "     beside it on another thread). 1b = FileSystem.digest(ofFile:) re-hashing a 256 MiB file in page cache"
    echo "     (ferry verify), against openssl dgst -sha256 of the same file; the kernel's copy counts in both;"
    echo "     against openssl speed it is $HASH_RATIO% (per wall second: $HASH_FERRY_WALL MB/s)"
    echo "  2: ratio = curl time / ferry time (throughput); ferry's time is the whole ferry pull command. The layer's GET"
    echo "     inside it took $PULL_XFER s (curl / that = $(calc "100 * $PULL_CURL / $PULL_XFER")%); the rest is start-up, store and"
    echo "     reference-store setup, manifest and config, fsync of the blob, index.json and the ledger record"
    echo "     ferry fsyncs the blob before renaming it into blobs/, curl -o does not: 'curl -o FILE && sync FILE' took"
    echo "     $PULL_CURL_SYNC s (ratio against it: $(calc "100 * $PULL_CURL_SYNC / $PULL_FERRY")%)"
    echo "  3, 6: largest peak RSS (VmHWM, GNU time %M) over the rounds; the reference column is informative"
    echo "  4, 5: skopeo = one 'skopeo copy --all' process per reference, sequentially, into one OCI layout"
    echo "  8: ferry = one 'ferry sync' pulling the $NREFS references into an empty store and pushing each to an empty"
    echo "     registry right after; skopeo = one 'skopeo sync --all' of the same references registry to registry;"
    echo "     each round gets fresh, empty target registries (logging warnings only, for both tools). CPU s: ferry"
    echo "     $RELAY_FERRY_CPU, skopeo $RELAY_SKOPEO_CPU; the receiving registry alone used $RELAY_TARGET_CPU CPU s during ferry's run:"
    echo "     with both registries on these 2 cores, the receiving registry bounds how fast any client can push"
    echo "  9, 10: reference = tar -cf then openssl dgst -sha256 of the tar (export), and the reverse (import); ferry"
    echo "     checksums every part and verifies every blob's digest on both sides"
    echo "  11: peak RSS of export / import of the full bundle; 'small' = a bundle of one repository ($(calc "$small_bytes_mb" 1) MB)"
    echo "  7: ferry: ${NOOP_DETAIL:-none}; skopeo: ${SKOPEO_NOOP_DETAIL:-none}"
    echo "  CPU s (user + system, medians): pull ferry $PULL_CPU, curl $PULL_CURL_CPU; first sync ferry $SYNC_CPU, skopeo $SKOPEO_CPU ($(calc "100 * $SYNC_CPU / $SKOPEO_CPU" 0)%);"
    echo "     no-op ferry $NOOP_CPU, skopeo $SKOPEO_NOOP_CPU ($(calc "100 * $NOOP_CPU / $SKOPEO_NOOP_CPU" 0)%); the registry's own CPU is not counted"
    echo "  wall s per round: pull ferry ${pull_t[*]} | curl ${curl_t[*]} | curl + sync ${curl_sync_t[*]}"
    echo "     first sync ferry ${sync_first[*]} | skopeo ${skopeo_first[*]}; no-op ferry ${sync_noop[*]} | skopeo ${skopeo_noop[*]}"
)

echo
echo "$TABLE"
echo
echo "$NOTES"
MISSES=$(printf '%s\n' "$TABLE" | grep -c 'MISS$' || true)
[ "$MISSES" = 0 ] && echo "all targets met" || echo "$MISSES target(s) MISSED"
{ echo "$HEADER"; echo; echo "$TABLE"; echo; echo "$NOTES"; } >"$RESULTS"
echo "(written to $RESULTS)"
exit 0
