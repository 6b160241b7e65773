#!/usr/bin/env bash
# Runs `cargo test --workspace` N times (default 3) while busy loops keep
# every core busy, each run under a `timeout`, and reports every test that
# failed or hung. Timing-dependent tests and lost-wakeup bugs show up here
# that an idle machine hides (rt_shutdown's drop-inside-spawn_blocking hang
# hung 2 runs in 3 like this, never on an idle machine).
#
# Usage: scripts/contention.sh [N]
# Environment:
#   WEFT_CONTENTION_TIMEOUT  seconds per `cargo test` run (default 1800)
#   WEFT_CONTENTION_BUSY     busy loops to start (default: one per core)
#   WEFT_CONTENTION_ARGS     extra arguments for `cargo test` (e.g. "-p weft")
#
# Exit status: 0 if every run passed, 1 otherwise. Logs stay in the
# directory printed at the end.

set -u

runs=${1:-3}
per_run=${WEFT_CONTENTION_TIMEOUT:-1800}
busy_n=${WEFT_CONTENTION_BUSY:-$(nproc)}
# shellcheck disable=SC2206 # word splitting intended
extra=(${WEFT_CONTENTION_ARGS:-})

cd "$(dirname "$0")/.." || exit 1
logs=$(mktemp -d "${TMPDIR:-/tmp}/weft-contention.XXXXXX")

busy_pids=()
# shellcheck disable=SC2317 # called by the traps
stop_busy() {
    for pid in "${busy_pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${busy_pids[@]}"; do
        wait "$pid" 2>/dev/null
    done
    busy_pids=()
}
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT TERM

# Build first, without the busy loops, so the timeout measures the tests.
echo "building the tests (no contention yet)..."
if ! cargo test --workspace "${extra[@]}" --no-run -q >"$logs/build.log" 2>&1; then
    echo "build failed; see $logs/build.log"
    exit 1
fi

for _ in $(seq "$busy_n"); do
    (while :; do :; done) &
    busy_pids+=($!)
done
echo "started $busy_n busy loops (pids ${busy_pids[*]})"

status=0
for run in $(seq "$runs"); do
    log="$logs/run$run.log"
    start=$(date +%s)
    timeout --kill-after=10 "$per_run" \
        cargo test --workspace "${extra[@]}" --no-fail-fast >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    failed=$(grep -E '^test .* \.\.\. FAILED$' "$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/')
    slow=$(grep -E 'has been running for over 60 seconds' "$log" |
        sed -E 's/^test (.*) has been running.*/\1/')
    if [ "$rc" -eq 0 ]; then
        echo "run $run: ok (${took}s)"
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        status=1
        binary=$(grep -E '^ +Running ' "$log" | tail -1 | sed -E 's/^ +Running //')
        echo "run $run: HUNG after ${took}s, in $binary"
    else
        status=1
        echo "run $run: FAILED (exit $rc, ${took}s)"
    fi
    if [ -n "$failed" ]; then
        echo "  failed:"
        echo "$failed" | sed 's/^/    /'
    fi
    if [ -n "$slow" ]; then
        echo "  ran over 60 s (hung?):"
        echo "$slow" | sort -u | sed 's/^/    /'
    fi
done

echo "logs: $logs"
exit "$status"
