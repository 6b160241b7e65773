#!/usr/bin/env bash
# Runs the unit tests over weft's unsafe code under Miri, once with Stacked
# Borrows (Miri's default) and once with Tree Borrows.
#
# What runs, and why these:
#   weft-executor  task::   the task cell, harness, wakers, join/abort
#                           handles, the owned-task list, JoinSet: every way a
#                           cell is freed (executor/src/task/tests.rs)
#   weft-timer     wheel:: entry:: and the futures/interval/timeout tests:
#                           the slot lists (Arc::into_raw / from_raw), the near
#                           queue, the entry's waker cell
#   weft-reactor   slab::   the source table
# Left out: tests that need epoll, real threads sleeping on real time, or
# long loops. Under Miri the clock is virtual and slow, so the timer tests
# that check wall-clock bounds (first_tick_of_interval_is_immediate,
# shutdown_wakes_every_waiter_then_polls_panic) and the driver-thread tests
# are skipped by name below; none of them reaches code the others do not.
# Loop counts shrink under `cfg(miri)` in the tests themselves.
#
# Usage: scripts/miri.sh            (from anywhere in the repository)
# Time: about 155 s of CPU for both models once built; measured 320 s of
# wall time on the 2-core machine with other builds running (load 8 to 13),
# so expect well under that on an idle one, plus the first build of
# target/miri and the Miri sysroot (about a minute). Extra Miri flags can be
# passed in MIRIFLAGS.
set -euo pipefail

cd "$(dirname "$0")/.."

TOOLCHAIN=nightly
export CARGO_TARGET_DIR=target/miri

start=$(date +%s)

installed=$(rustup component list --toolchain "$TOOLCHAIN" --installed 2>/dev/null || true)
if ! grep -q '^miri' <<<"$installed" || ! grep -q '^rust-src' <<<"$installed"; then
    echo "miri.sh: installing miri and rust-src for $TOOLCHAIN"
    # Quiet when it works; on failure run it again so its error is shown.
    rustup component add miri rust-src --toolchain "$TOOLCHAIN" >/dev/null 2>&1 ||
        rustup component add miri rust-src --toolchain "$TOOLCHAIN" || {
        echo "miri.sh: cannot install miri for $TOOLCHAIN (see above)" >&2
        exit 1
    }
fi
cargo +"$TOOLCHAIN" miri setup >/dev/null 2>&1 || cargo +"$TOOLCHAIN" miri setup

# Prints a phase's wall time after it, so a slow phase is easy to spot.
timed() {
    local what=$1
    shift
    local t0
    t0=$(date +%s)
    echo "== miri: $what"
    "$@"
    echo "== miri: $what: $(($(date +%s) - t0)) s"
}

run_suite() {
    local label=$1
    timed "$label, weft-executor task::" \
        cargo +"$TOOLCHAIN" miri test -p weft-executor --lib -- task::
    timed "$label, weft-timer wheel/entry/futures" \
        cargo +"$TOOLCHAIN" miri test -p weft-timer --lib -- \
        wheel:: entry:: wake_list:: timeout:: interval:: \
        tests::futures:: tests::interval:: tests::shutdown::message_names_the_runtime \
        --skip first_tick_of_interval_is_immediate
    timed "$label, weft-reactor slab::" \
        cargo +"$TOOLCHAIN" miri test -p weft-reactor --lib -- slab::
}

base_flags=${MIRIFLAGS:-}
export MIRIFLAGS="$base_flags"
run_suite "Stacked Borrows"
export MIRIFLAGS="$base_flags -Zmiri-tree-borrows"
run_suite "Tree Borrows"

echo "miri.sh: both models clean in $(($(date +%s) - start)) s"
