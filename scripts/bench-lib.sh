# Helpers shared by scripts/bench.sh and scripts/bench-scale.sh; sourced, never run. See scripts/README-bench.md.
#
# The sourcing script sets ROOT (the checkout) and BIN (where the release binaries are) first. bench_start creates
# WORK and installs the cleanup traps; every registry started later is added to REGISTRY_DIRS so that cleanup can
# stop it by PID, and the measured command's process group is in CHILD while it runs.

FERRY=$BIN/ferry
DEVTOOL=$BIN/ferry-devtool
WORK=""
CHILD=""
REGISTRY_DIRS=()

die() { echo "bench: $*" >&2; exit 1; }

# bench_require BINARY... -- TOOL...: the release binaries must be built and the tools installed.
bench_require() {
    local tool
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        [ -x "$1" ] || die "$1 missing: run \`swift build -c release\` (or \`make bench\`)"
        shift
    done
    [ "${1:-}" = -- ] && shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found: run \`make deps\`"
    done
    [ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or later is needed (EPOCHREALTIME)"
}

# bench_start NAME: the temporary work directory ($TMPDIR/NAME.XXXXXX) and the traps that clean it up.
bench_start() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Stops what the script started, by PID: the measured command's process group, then each registry (the PID in
# its registry.env, or, when ferry-devtool was interrupted before writing it, the docker-registry whose command
# line names that directory's config).
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$CHILD" ]; then kill -TERM -- "-$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
    local dir pid
    for dir in "${REGISTRY_DIRS[@]}"; do
        pid=""
        [ -f "$dir/registry.env" ] && pid=$(envval "$dir/registry.env" PID)
        if [ -z "$pid" ]; then
            for proc in /proc/[0-9]*; do
                if tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | grep -qF "docker-registry serve $dir/"; then
                    pid=${proc#/proc/}
                fi
            done
        fi
        [ -n "$pid" ] && stop_pid "$pid"
    done
    if [ -n "$WORK" ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
    fi
    exit "$status"
}

# Sends SIGTERM to a docker-registry PID and waits up to 10 s for it to go (then SIGKILL).
stop_pid() {
    local pid=$1 i
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q docker-registry || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        [ -e "/proc/$pid" ] && [ -n "$(tr -d '\0' 2>/dev/null <"/proc/$pid/cmdline")" ] || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

envval() { sed -n "s/^$2=//p" "$1" | head -n1; }

# run_timed LOG CMD...: runs CMD with stdout and stderr to LOG; sets T_WALL (seconds, from EPOCHREALTIME),
# T_RSS (peak resident set in KiB: of CMD, or of the largest process it waited for) and T_CPU (user + system
# seconds of CMD and everything it waited for), both from GNU time. Returns CMD's exit status.
# Dirty pages left by the previous command are flushed first (not timed), so no run pays for another's writeback.
run_timed() {
    local log=$1 timefile=$WORK/time.out rc=0 t0 t1
    shift
    sync
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%e %M %U %S' -o "$timefile" "$@" >"$log" 2>&1 &
    CHILD=$!
    wait "$CHILD" || rc=$?
    CHILD=""
    t1=$EPOCHREALTIME
    T_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    T_RSS=$(tail -n1 "$timefile" | awk '{ print $2 }')
    T_CPU=$(tail -n1 "$timefile" | awk '{ printf "%.2f", $3 + $4 }')
    return "$rc"
}

# must LOG CMD...: run_timed, and stop the benchmark with the log when CMD fails.
must() {
    local log=$1
    if ! run_timed "$@"; then
        echo "bench: command failed: ${*:2}" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan" } else if (NR % 2) { print v[(NR + 1) / 2] } else { printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 } }'; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
progress() { printf '  %s\n' "$*" >&2; }
# verdict VALUE OP LIMIT -> PASS or MISS
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? v >= l : (op == "<=") ? v <= l : (op == "<") ? v < l : v == l; print ok ? "PASS" : "MISS" }'; }
mib() { calc "$1 / 1024" 1; }

# Registry access-log lines of requests; `since` = line count before the window.
log_lines() { wc -l <"$1" | tr -d ' '; }
requests_since() { tail -n "+$(($2 + 1))" "$1" | grep -E '"(GET|HEAD|PUT|POST|PATCH|DELETE) /' || true; }

# Waits until the registry log stops growing (it writes an access-log entry after the response went out).
settle_log() {
    local before after
    after=$(log_lines "$1")
    while :; do
        before=$after
        sleep 0.2
        after=$(log_lines "$1")
        [ "$before" = "$after" ] && return 0
    done
}

# Access-log request lines on stdin, counted by method and kind of path (manifests, blobs, /v2/ ping, tags list).
summarize_requests() {
    awk '{ match($0, /"[A-Z]+ [^ "]+/); r = substr($0, RSTART + 1, RLENGTH - 1); split(r, p, " ")
        kind = (p[2] ~ /\/manifests\//) ? "manifest" : (p[2] ~ /\/blobs\//) ? "blob" : (p[2] ~ /\/tags\/list/) ? "tags" : (p[2] ~ /^\/v2\/?$/) ? "ping" : "other"
        c[p[1] " " kind]++ } END { for (k in c) printf "%d %s, ", c[k], k }' | sed 's/, $//'
}

# CPU seconds a registry process has used so far (utime + stime from /proc).
registry_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

# The lines that name the machine, the commit and the tools, for the top of a results file.
machine_header() {
    local cpu_model sha_ni
    cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    sha_ni=$(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)
    echo "machine: nproc=$(nproc), CPU: ${cpu_model:-unknown} (sha_ni: $sha_ni), $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
    echo "tools: $(openssl version | cut -d' ' -f1-2), $(curl --version | head -n1 | cut -d' ' -f1-2), $(skopeo --version), $(docker-registry --version 2>/dev/null | awk '{ print $1, $3 }')"
}

# mirror_list HOST < references: a mirror list with one entry per repository and its exact tags (so no tag
# listing is needed), plain HTTP to HOST; the references (host/repository:tag) come one a line on stdin.
mirror_list() {
    printf 'version: 1\nregistries:\n  %s:\n    tls: plain-http\nimages:\n' "$1"
    awk '{ i = match($0, /:[^:\/]*$/); repo = substr($0, 1, i - 1); tag = substr($0, i + 1)
        if (!(repo in tags)) order[++n] = repo; tags[repo] = tags[repo] (tags[repo] == "" ? "" : ", ") "\"" tag "\"" }
        END { for (k = 1; k <= n; k++) printf "  - source: %s\n    tags: [%s]\n    platforms: all\n", order[k], tags[order[k]] }'
}

# skopeo_copy_all LAYOUT TSV: one `skopeo copy --all` process per reference in the first column of TSV,
# sequentially, into one OCI layout, as a person without ferry would mirror them.
skopeo_copy_all() {
    local layout=$1 ref
    while IFS=$'\t' read -r ref _; do
        skopeo copy --all --src-tls-verify=false "docker://$ref" "oci:$layout:${ref#*/}" || return 1
    done <"$2"
}
export -f skopeo_copy_all
