#!/usr/bin/env bash
# Runs weft's runtime, timer and network integration tests under valgrind's
# memcheck: every invalid read or write, and every definitely-lost byte, is
# an error (the exit status is 1 if any binary has one).
#
#   bash scripts/valgrind.sh            # the default set: rt_* time_* net_*
#   bash scripts/valgrind.sh rt_spawn   # only the binaries named (globs work)
#
# A name matches the test target's name in any workspace package (the
# reactor has its own net_* tests); the report labels each binary
# `package/name`.
#
# Environment:
#   VALGRIND_TIMEOUT   seconds allowed per test binary (default 600)
#   VALGRIND_LOGS      where the per-binary logs go (default target/valgrind)
#   VALGRIND_SKIP      test names to skip (space-separated, passed as --skip)
#
# Tests run one at a time (`--test-threads=1`): memcheck serialises threads
# anyway, and one test at a time keeps a failure's log readable. Valgrind
# runs code ~20-50x slower; a test that fails only here is waiting on a
# short sleep instead of an event, which is a bug in the test.
#
# Only "definitely lost" blocks count as leaks: the runtime's process-wide
# statics (thread-locals of threads still exiting, the signal handler's
# pipe) are "still reachable" or "possibly lost" by design.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
command -v jq >/dev/null || { echo "jq is missing (apt-get install jq)"; exit 1; }

timeout_s=${VALGRIND_TIMEOUT:-600}
logs=${VALGRIND_LOGS:-target/valgrind}
mkdir -p "$logs"
patterns=("$@")
skips=()
for t in ${VALGRIND_SKIP:-}; do skips+=(--skip "$t"); done
[ ${#patterns[@]} -eq 0 ] && patterns=('rt_*' 'time_*' 'net_*')

echo "=== building the integration tests (debug) ==="
# The test executables, as cargo reports them: "package name path" per line.
if ! cargo test --workspace --no-run --message-format=json >"$logs/build.json" 2>"$logs/build.err"; then
    cat "$logs/build.err"
    exit 1
fi
mapfile -t binaries < <(jq -r 'select(.reason == "compiler-artifact" and .executable != null
        and .target.kind == ["test"])
        | "\(.package_id | sub(".*[#/]"; "") | sub("@.*"; "")) \(.target.name) \(.executable)"' \
        "$logs/build.json" | sort -u)

failed=0
total_start=$(date +%s)
printf '%-36s %6s %8s %9s %7s  %s\n' binary tests invalid def-lost time status
for entry in "${binaries[@]}"; do
    read -r pkg name exe <<<"$entry"
    selected=0
    for p in "${patterns[@]}"; do
        # shellcheck disable=SC2053 # a glob match is the point
        [[ $name == $p ]] && selected=1
    done
    [ $selected -eq 1 ] || continue
    log="$logs/$pkg-$name.log"
    out="$logs/$pkg-$name.out"
    start=$(date +%s)
    timeout --kill-after=10 "$timeout_s" valgrind --tool=memcheck --error-exitcode=1 \
        --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        --log-file="$log" "$exe" --test-threads=1 "${skips[@]}" >"$out" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # "Invalid read of size 8", "Invalid write of size 4", "Invalid free()".
    invalid=$(grep -c 'Invalid \(read\|write\|free\)' "$log" 2>/dev/null)
    # The summary line: "definitely lost: 48 bytes in 1 blocks".
    lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1 | tr -d ,)
    tests=$(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed.*/\1/p' "$out" | tail -1)
    status=ok
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        status="TIMEOUT (${timeout_s}s)"
    elif [ $rc -ne 0 ]; then
        status="FAILED (exit $rc; see $out, $log)"
    fi
    if [ "${invalid:-0}" -ne 0 ] || [ "${lost:-0}" -ne 0 ]; then
        status="$status; memcheck errors in $log"
    fi
    [ "$status" = ok ] || failed=1
    printf '%-36s %6s %8s %9s %6ss  %s\n' "$pkg/$name" "${tests:-?}" "${invalid:-0}" \
        "${lost:-0}" "$secs" "$status"
done
echo "total: $(($(date +%s) - total_start)) s"
exit $failed
