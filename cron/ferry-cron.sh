#!/usr/bin/env bash
# ferry-cron.sh — run `ferry sync` from cron or systemd with a fixed environment and a log file.
#
# Settings come from the environment and from FERRY_DEFAULTS (default /etc/default/ferry, read first when present;
# every assignment in it is exported, as systemd's EnvironmentFile does, so credential and proxy variables set there
# reach ferry):
#   FERRY_BIN        ferry binary                      (default: ferry on PATH)
#   FERRY_CONFIG     mirror list folder or file        (default: /etc/ferry/manifests)
#   FERRY_STORE      store directory                   (default: /var/lib/ferry/store)
#   FERRY_REPORTS    extra report directory, e.g. one a web server publishes (optional)
#   FERRY_LOG        log file, appended to             (default: /var/log/ferry/sync.log)
#   FERRY_ON_DRIFT   command run when drift was flagged (exit 2 or 3), with the run's JSON report as $1 (optional)
#   FERRY_ARGS       extra arguments for ferry sync    (optional, e.g. "--jobs 8")
#
# Exit status is ferry's: 0 ok, 1 failures, 2 drift, 3 both, 65 bad mirror list, 74 I/O, 75 another run holds the
# store (a long run overlapping the next cron slot — harmless), 130/143 interrupted.
set -uo pipefail

FERRY_DEFAULTS="${FERRY_DEFAULTS:-/etc/default/ferry}"
if [ -r "$FERRY_DEFAULTS" ]; then
    set -a
    # shellcheck disable=SC1090
    . "$FERRY_DEFAULTS"
    set +a
fi

FERRY_BIN="${FERRY_BIN:-ferry}"
FERRY_CONFIG="${FERRY_CONFIG:-/etc/ferry/manifests}"
FERRY_STORE="${FERRY_STORE:-/var/lib/ferry/store}"
FERRY_LOG="${FERRY_LOG:-/var/log/ferry/sync.log}"

# cron starts with a minimal environment: make the lookup of ferry and credential helpers predictable.
export PATH="/usr/local/bin:/usr/bin:/bin:${PATH:-}"
export LC_ALL=C.UTF-8

mkdir -p "$(dirname "$FERRY_LOG")" "$FERRY_STORE"

args=(sync --config "$FERRY_CONFIG" --store "$FERRY_STORE" --log-format text)
[ -n "${FERRY_REPORTS:-}" ] && args+=(--report-dir "$FERRY_REPORTS")
# shellcheck disable=SC2206
[ -n "${FERRY_ARGS:-}" ] && args+=($FERRY_ARGS)

{
    echo "---- $(date -u +%Y-%m-%dT%H:%M:%SZ) ferry ${args[*]}"
    "$FERRY_BIN" "${args[@]}"
} >>"$FERRY_LOG" 2>&1
status=$?
echo "---- exit $status" >>"$FERRY_LOG"

if { [ "$status" -eq 2 ] || [ "$status" -eq 3 ]; } && [ -n "${FERRY_ON_DRIFT:-}" ]; then
    "$FERRY_ON_DRIFT" "$FERRY_STORE/reports/latest.json" >>"$FERRY_LOG" 2>&1 || true
fi
# Another run still holding the store is not a failure of this slot.
[ "$status" -eq 75 ] && exit 0
exit "$status"
