#!/usr/bin/env bash
# make bench-scale (and the second half of make bench): ferry at 500, 2,000 and 20,000 small images, the targets of
# issue 8. Each size: first sync into an empty store, no-op re-sync, report (run and inventory, HTML), ls, export
# and verify of that store, with wall time, CPU seconds, ms per tag, peak RSS and the growth factor between sizes;
# a sample of the same images copied one by one with skopeo, for scale. Misses are marked MISS; the script still
# exits 0. Figures also go to bench-scale-results.txt. See scripts/README-bench.md ("The scale figure").
#
# Needs the release build `make bench` runs first and the tools `make deps` installs. Everything runs on 127.0.0.1
# under one temporary directory, and every process started here is stopped by PID on exit.
#
# Environment: BENCH_SCALE_SIZES (default "500 2000 20000"), BENCH_SCALE_TAGS_PER_REPO (default 100),
# BENCH_SCALE_LAYER_SIZE (default 1KiB), BENCH_SCALE_SKOPEO_SAMPLE (images copied with skopeo, default 200; 0 skips
# it), BENCH_KEEP=1 (keep the work directory), FERRY_BIN (default .build/release).
set -euo pipefail
set -m # background jobs get their own process group, so one kill stops /usr/bin/time and what it runs
export LC_ALL=C

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${FERRY_BIN:-$ROOT/.build/release}
SIZES=${BENCH_SCALE_SIZES:-500 2000 20000}
TAGS_PER_REPO=${BENCH_SCALE_TAGS_PER_REPO:-100}
LAYER_SIZE=${BENCH_SCALE_LAYER_SIZE:-1KiB}
SKOPEO_SAMPLE=${BENCH_SCALE_SKOPEO_SAMPLE:-200}
RESULTS=$ROOT/bench-scale-results.txt

# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
bench_require "$FERRY" "$DEVTOOL" -- docker-registry skopeo curl openssl /usr/bin/time
for size in $SIZES; do [[ $size =~ ^[1-9][0-9]*$ ]] || die "BENCH_SCALE_SIZES: $size is not a positive integer"; done
[[ $SKOPEO_SAMPLE =~ ^[0-9]+$ ]] || die "BENCH_SCALE_SKOPEO_SAMPLE: $SKOPEO_SAMPLE is not a number"
SIZES=$(printf '%s\n' $SIZES | sort -n -u | tr '\n' ' ' | sed 's/ $//')
LARGEST=${SIZES##* }
bench_start ferry-bench-scale

HEADER=$(
    echo "ferry scale benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    machine_header
    echo "sizes: $SIZES images ($TAGS_PER_REPO tags per repository, one $LAYER_SIZE layer each); one round per size"
)
echo "$HEADER"
echo

# ---------------------------------------------------------------------------------------------------------------
# One registry holds the largest set; image i is the same in every set, so the first N references of images.tsv
# are the set of N and each size's mirror list selects them. Seeding writes the storage tree directly (no push).
echo "== seeding $LARGEST images into one registry on 127.0.0.1 (timed for information only)"
REG=$WORK/registry
REGISTRY_DIRS+=("$REG")
# The registry logs warnings only (its access log, which counts requests, stays on): at info level it spends a
# third of its CPU on request logs, on the same 2 cores as ferry (bench.sh's registries do the same).
must "$WORK/seed.log" "$DEVTOOL" scale-registry --dir "$REG" --images "$LARGEST" --tags-per-repo "$TAGS_PER_REPO" \
    --layer-size "$LAYER_SIZE" --quiet-log
SEED_WALL=$T_WALL SEED_CPU=$T_CPU
HOST=$(envval "$REG/registry.env" HOST)
REG_LOG=$(envval "$REG/registry.env" LOG)
REG_PID=$(envval "$REG/registry.env" PID)
[ "$(wc -l <"$REG/images.tsv")" = "$LARGEST" ] || die "ferry-devtool listed $(wc -l <"$REG/images.tsv") references, not $LARGEST"
# The registry must serve what images.tsv promises, byte for byte.
IFS=$'\t' read -r first_ref first_digest _ <"$REG/images.tsv"
served=$(skopeo inspect --raw --tls-verify=false "docker://$first_ref" | sha256sum | cut -d' ' -f1)
[ "sha256:$served" = "$first_digest" ] || die "$first_ref: registry serves sha256:$served, images.tsv says $first_digest"
progress "$LARGEST images in $(((LARGEST + TAGS_PER_REPO - 1) / TAGS_PER_REPO)) repositories at $HOST, seeded in ${SEED_WALL}s (CPU ${SEED_CPU}s); $first_ref serves $first_digest"

# ---------------------------------------------------------------------------------------------------------------
declare -A FIRST_T FIRST_CPU FIRST_RSS NOOP_T NOOP_CPU NOOP_RSS NOOP_REQ NOOP_HEAD NOOP_DETAIL NOOP_REG_CPU
declare -A TRUST_T TRUST_CPU TRUST_RSS TRUST_REQ
declare -A CMD_T CMD_RSS BUNDLE_MB PEAK_RSS PEAK_CMD
COMMANDS="report inventory ls export verify"
# note_rss SIZE NAME: keeps the largest peak RSS of a size and the command it belongs to.
note_rss() {
    if [ -z "${PEAK_RSS[$1]:-}" ] || [ "$T_RSS" -gt "${PEAK_RSS[$1]}" ]; then PEAK_RSS[$1]=$T_RSS; PEAK_CMD[$1]=$2; fi
}
for size in $SIZES; do
    echo "== $size images: ferry sync, no-op re-sync, report, ls, export, verify"
    head -n "$size" "$REG/images.tsv" >"$WORK/refs-$size.tsv"
    cut -f1 "$WORK/refs-$size.tsv" | mirror_list "$HOST" >"$WORK/list-$size.yaml"
    "$FERRY" validate --config "$WORK/list-$size.yaml" >"$WORK/validate-$size.log" 2>&1 ||
        { cat "$WORK/validate-$size.log" >&2; die "generated mirror list of $size images is invalid"; }
    # Stores are kept until the end: deleting hundreds of thousands of files makes ext4 skip the freed inodes for
    # minutes afterwards, which would slow down whatever creates files next (the next size's first sync).
    store=$WORK/store-$size

    must "$WORK/sync-$size.log" "$FERRY" sync --store "$store" --config "$WORK/list-$size.yaml"
    [ "$(ls "$store/blobs/sha256" | wc -l)" -ge "$((3 * size))" ] || die "ferry sync stored too few blobs (see $WORK/sync-$size.log)"
    FIRST_T[$size]=$T_WALL; FIRST_CPU[$size]=$T_CPU; FIRST_RSS[$size]=$T_RSS; note_rss "$size" "first sync"
    progress "first sync ${T_WALL}s (CPU ${T_CPU}s, RSS $(mib "$T_RSS") MiB)"

    settle_log "$REG_LOG"; since=$(log_lines "$REG_LOG"); cpu_before=$(registry_cpu "$REG_PID")
    must "$WORK/resync-$size.log" "$FERRY" sync --store "$store" --config "$WORK/list-$size.yaml"
    NOOP_T[$size]=$T_WALL; NOOP_CPU[$size]=$T_CPU; NOOP_RSS[$size]=$T_RSS; note_rss "$size" "no-op"
    settle_log "$REG_LOG"
    NOOP_REG_CPU[$size]=$(calc "$(registry_cpu "$REG_PID") - $cpu_before" 2)
    requests=$(requests_since "$REG_LOG" "$since")
    NOOP_REQ[$size]=$(printf '%s\n' "$requests" | grep -c . || true)
    NOOP_HEAD[$size]=$(printf '%s\n' "$requests" | grep -c '"HEAD ' || true)
    NOOP_DETAIL[$size]=$(printf '%s\n' "$requests" | grep . | summarize_requests || true)
    progress "no-op ${T_WALL}s (CPU ${T_CPU}s, RSS $(mib "$T_RSS") MiB), ${NOOP_REQ[$size]} requests, registry CPU ${NOOP_REG_CPU[$size]}s"

    # The same list declaring its release tags immutable (issue 10): recorded tags cost no request at all.
    sed '1a defaults:\n  immutable-tags: ['"'"'\\d+\\.\\d+\\.\\d+'"'"']' "$WORK/list-$size.yaml" >"$WORK/list-trusted-$size.yaml"
    settle_log "$REG_LOG"; since=$(log_lines "$REG_LOG")
    must "$WORK/trusted-$size.log" "$FERRY" sync --store "$store" --config "$WORK/list-trusted-$size.yaml"
    TRUST_T[$size]=$T_WALL; TRUST_CPU[$size]=$T_CPU; TRUST_RSS[$size]=$T_RSS; note_rss "$size" "no-op, immutable-tags"
    settle_log "$REG_LOG"
    TRUST_REQ[$size]=$(requests_since "$REG_LOG" "$since" | grep -c . || true)
    progress "no-op with immutable-tags ${T_WALL}s (CPU ${T_CPU}s, RSS $(mib "$T_RSS") MiB), ${TRUST_REQ[$size]} requests"

    must "$WORK/report-$size.html" "$FERRY" report --store "$store" --format html
    CMD_T[report,$size]=$T_WALL; CMD_RSS[report,$size]=$T_RSS; note_rss "$size" "report"
    must "$WORK/inventory-$size.html" "$FERRY" report --store "$store" --inventory --format html
    CMD_T[inventory,$size]=$T_WALL; CMD_RSS[inventory,$size]=$T_RSS; note_rss "$size" "report --inventory"
    must "$WORK/ls-$size.log" "$FERRY" ls --store "$store"
    CMD_T[ls,$size]=$T_WALL; CMD_RSS[ls,$size]=$T_RSS; note_rss "$size" "ls"
    must "$WORK/export-$size.log" "$FERRY" export --store "$store" --to "$WORK/bundle-$size.tar"
    CMD_T[export,$size]=$T_WALL; CMD_RSS[export,$size]=$T_RSS; note_rss "$size" "export"
    BUNDLE_MB[$size]=$(calc "$(cat "$WORK/bundle-$size.tar"* | wc -c) / 1e6" 1)
    rm -f "$WORK/bundle-$size.tar"*
    must "$WORK/verify-$size.log" "$FERRY" verify --store "$store"
    CMD_T[verify,$size]=$T_WALL; CMD_RSS[verify,$size]=$T_RSS; note_rss "$size" "verify"
    progress "report ${CMD_T[report,$size]}s, inventory ${CMD_T[inventory,$size]}s, ls ${CMD_T[ls,$size]}s, export ${CMD_T[export,$size]}s (${BUNDLE_MB[$size]} MB), verify ${CMD_T[verify,$size]}s"
done

# ---------------------------------------------------------------------------------------------------------------
# The reference: what a person without ferry would do, one skopeo process per image. Only a sample: 20,000
# sequential copies would take hours, and each copy is independent of how many others there are.
SKOPEO_FIRST="" SKOPEO_NOOP=""
if [ "$SKOPEO_SAMPLE" -gt 0 ]; then
    [ "$SKOPEO_SAMPLE" -le "$LARGEST" ] || SKOPEO_SAMPLE=$LARGEST
    echo "== skopeo copy of $SKOPEO_SAMPLE of the same images, one process per image, into one OCI layout"
    head -n "$SKOPEO_SAMPLE" "$REG/images.tsv" >"$WORK/sample.tsv"
    layout=$WORK/skopeo-layout
    must "$WORK/skopeo.log" bash -c 'skopeo_copy_all "$1" "$2"' _ "$layout" "$WORK/sample.tsv"
    SKOPEO_FIRST=$T_WALL SKOPEO_FIRST_CPU=$T_CPU SKOPEO_FIRST_RSS=$T_RSS
    settle_log "$REG_LOG"; since=$(log_lines "$REG_LOG")
    must "$WORK/skopeo-noop.log" bash -c 'skopeo_copy_all "$1" "$2"' _ "$layout" "$WORK/sample.tsv"
    SKOPEO_NOOP=$T_WALL SKOPEO_NOOP_CPU=$T_CPU SKOPEO_NOOP_RSS=$T_RSS
    settle_log "$REG_LOG"
    SKOPEO_NOOP_REQ=$(requests_since "$REG_LOG" "$since" | grep -c . || true)
    progress "first copy ${SKOPEO_FIRST}s, re-copy ${SKOPEO_NOOP}s ($SKOPEO_NOOP_REQ requests)"
fi

# ---------------------------------------------------------------------------------------------------------------
ms_per() { calc "1000 * $1 / $2" 2; }
ratio() { calc "$2 / ($1 > 0 ? $1 : 0.001)" 1; } # ratio BEFORE AFTER
row() { printf '%-20s %9s %7s %8s %7s   %9s %7s %8s %7s %9s %7s\n' "$@"; }
TABLE=$(
    echo "sync: wall s, CPU s (user + system), ms per tag (wall), peak RSS MiB"
    row "images" "first s" "CPU s" "ms/tag" "RSS" "no-op s" "CPU s" "ms/tag" "RSS" "requests" "reg CPU"
    for size in $SIZES; do
        row "$size" "${FIRST_T[$size]}" "${FIRST_CPU[$size]}" "$(ms_per "${FIRST_T[$size]}" "$size")" \
            "$(mib "${FIRST_RSS[$size]}")" "${NOOP_T[$size]}" "${NOOP_CPU[$size]}" "$(ms_per "${NOOP_T[$size]}" "$size")" \
            "$(mib "${NOOP_RSS[$size]}")" "${NOOP_REQ[$size]}" "${NOOP_REG_CPU[$size]}"
    done
    if [ -n "$SKOPEO_FIRST" ]; then
        row "skopeo, $SKOPEO_SAMPLE sampled" "$SKOPEO_FIRST" "$SKOPEO_FIRST_CPU" "$(ms_per "$SKOPEO_FIRST" "$SKOPEO_SAMPLE")" \
            "$(mib "$SKOPEO_FIRST_RSS")" "$SKOPEO_NOOP" "$SKOPEO_NOOP_CPU" "$(ms_per "$SKOPEO_NOOP" "$SKOPEO_SAMPLE")" \
            "$(mib "$SKOPEO_NOOP_RSS")" "$SKOPEO_NOOP_REQ" "-"
    fi
    echo
    echo "no-op with immutable-tags (every tag of the list matches '\\d+\\.\\d+\\.\\d+'): wall s, CPU s, peak RSS MiB, requests"
    printf '%-20s %9s %7s %7s %9s\n' "images" "wall s" "CPU s" "RSS" "requests"
    for size in $SIZES; do
        printf '%-20s %9s %7s %7s %9s\n' "$size" "${TRUST_T[$size]}" "${TRUST_CPU[$size]}" "$(mib "${TRUST_RSS[$size]}")" "${TRUST_REQ[$size]}"
    done
    [ -n "$SKOPEO_FIRST" ] && printf '%-20s %9s %7s %7s %9s\n' "skopeo, $SKOPEO_SAMPLE sampled" "$SKOPEO_NOOP" "$SKOPEO_NOOP_CPU" "$(mib "$SKOPEO_NOOP_RSS")" "$SKOPEO_NOOP_REQ"
    echo
    echo "the synced store: wall s / peak RSS MiB"
    printf '%-8s %-16s %-16s %-16s %-24s %-16s\n' "images" "report html" "report inventory" "ls" "export (bundle MB)" "verify"
    for size in $SIZES; do
        printf '%-8s %-16s %-16s %-16s %-24s %-16s\n' "$size" \
            "${CMD_T[report,$size]} / $(mib "${CMD_RSS[report,$size]}")" \
            "${CMD_T[inventory,$size]} / $(mib "${CMD_RSS[inventory,$size]}")" \
            "${CMD_T[ls,$size]} / $(mib "${CMD_RSS[ls,$size]}")" \
            "${CMD_T[export,$size]} / $(mib "${CMD_RSS[export,$size]}") (${BUNDLE_MB[$size]})" \
            "${CMD_T[verify,$size]} / $(mib "${CMD_RSS[verify,$size]}")"
    done
    echo
    echo "growth factor between consecutive sizes (wall time ratio; linear = the size ratio)"
    printf '%-14s %6s %8s %8s %8s %8s %8s %8s %8s\n' "images" "size" "first" "no-op" "report" "invent." "ls" "export" "verify"
    prev=""
    for size in $SIZES; do
        if [ -n "$prev" ]; then
            printf '%-14s %6s %8s %8s %8s %8s %8s %8s %8s\n' "$prev -> $size" "$(calc "$size / $prev" 1)x" \
                "$(ratio "${FIRST_T[$prev]}" "${FIRST_T[$size]}")x" "$(ratio "${NOOP_T[$prev]}" "${NOOP_T[$size]}")x" \
                "$(ratio "${CMD_T[report,$prev]}" "${CMD_T[report,$size]}")x" \
                "$(ratio "${CMD_T[inventory,$prev]}" "${CMD_T[inventory,$size]}")x" \
                "$(ratio "${CMD_T[ls,$prev]}" "${CMD_T[ls,$size]}")x" \
                "$(ratio "${CMD_T[export,$prev]}" "${CMD_T[export,$size]}")x" \
                "$(ratio "${CMD_T[verify,$prev]}" "${CMD_T[verify,$size]}")x"
        fi
        prev=$size
    done
)

# target NAME MEASURED OP LIMIT: one line of the targets table; MEASURED empty = that size was not run.
target() {
    if [ -z "$2" ]; then printf '%-44s %-26s %-10s %s\n' "$1" "(size not run)" "$3 $4" "-"; return; fi
    printf '%-44s %-26s %-10s %s\n' "$1" "$2" "$3 $4" "$(verdict "${2%% *}" "$3" "$4")"
}
have() { case " $SIZES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
TARGETS=$(
    printf '%-44s %-26s %-10s %s\n' "target (issue 8)" "measured" "limit" "result"
    target "no-op of 2,000 tags, wall s" "$(have 2000 && echo "${NOOP_T[2000]}")" "<=" 2
    target "no-op of 2,000 tags, CPU s" "$(have 2000 && echo "${NOOP_CPU[2000]}")" "<=" 2
    target "no-op of 20,000 tags, wall s" "$(have 20000 && echo "${NOOP_T[20000]}")" "<=" 20
    target "no-op growth 2,000 -> 20,000 (size 10x)" \
        "$(have 2000 && have 20000 && calc "${NOOP_T[20000]} / ${NOOP_T[2000]}" 1)" "<=" 11
    target "first sync of 2,000 images, wall s" "$(have 2000 && echo "${FIRST_T[2000]}")" "<=" 15
    for size in $SIZES; do
        target "peak RSS at $size (all commands), MiB" "$(mib "${PEAK_RSS[$size]}") (${PEAK_CMD[$size]})" "<=" 64
    done
)
NOTES=$(
    echo "notes:"
    echo "  one registry ($HOST, distribution 2.8, warnings and access log only) holds all $LARGEST images, seeded in ${SEED_WALL}s by"
    echo "     writing its storage tree (not timed above); each size's mirror list names the first N images, every"
    echo "     repository with its exact tags, so no tag listing is needed; every size syncs into its own empty store"
    echo "  ms/tag = wall ms / images; 'requests' = registry access-log entries during the no-op; 'reg CPU' = the"
    echo "     registry's own CPU s during the no-op, on the same 2 cores, not counted in ferry's CPU s"
    for size in $SIZES; do
        echo "  no-op requests at $size: ${NOOP_DETAIL[$size]:-none} (${NOOP_HEAD[$size]} HEAD)"
    done
    if [ -n "$SKOPEO_FIRST" ]; then
        echo "  skopeo = one 'skopeo copy --all' process per image, sequentially, into one OCI layout, for a sample of"
        echo "     the first $SKOPEO_SAMPLE images only (20,000 sequential copies would take hours); its ms/tag is per"
        echo "     sampled image, its RSS the largest skopeo process; re-copy: $SKOPEO_NOOP_REQ requests"
    fi
    echo "  report = 'ferry report --format html' of the no-op run; inventory = 'ferry report --inventory --format html';"
    echo "     export = 'ferry export --to FILE' (every blob re-verified); verify = 'ferry verify' (every blob re-hashed)"
)

echo
echo "$TABLE"
echo
echo "$TARGETS"
echo
echo "$NOTES"
MISSES=$(printf '%s\n' "$TARGETS" | grep -c 'MISS$' || true)
NOT_RUN=$(printf '%s\n' "$TARGETS" | grep -c '(size not run)' || true)
[ "$MISSES" = 0 ] && echo "all targets met that were measured ($NOT_RUN not run)" || echo "$MISSES target(s) MISSED ($NOT_RUN not run)"
{ echo "$HEADER"; echo; echo "$TABLE"; echo; echo "$TARGETS"; echo; echo "$NOTES"; } >"$RESULTS"
echo "(written to $RESULTS)"
exit 0
