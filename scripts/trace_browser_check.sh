#!/usr/bin/env bash
# The execution trace's files, checked where people open them.
#
# Builds the demo's traces (`demo --quick --trace DIR`: concurrency,
# parallelism, stealing, event_loop; each as .html and .json), then for each:
#   - the JSON passes a checker of the trace-event rules weft promises
#     (DESIGN.md 3b: named tracks, polls as X events that never overlap on a
#     lane nor for one task, flow arrows paired and pointing forward, steals
#     with victim/thief/count);
#   - the HTML loads in headless Chromium (--dump-dom) with no console
#     message, and its inline script reports what it drew
#     (<p id="rendered" data-lanes data-polls>): the lanes and every poll
#     of the JSON; and, opened as `#pan`, that its lane labels stay in view
#     when the timeline is zoomed in and panned to the end;
# and takes screenshots into docs/img/ (trace-demo.png is part 3; the
# concurrency and parallelism ones are docs/trace.md's pair).
#
# Chromium: Debian's `chromium` package, installed with apt-get if missing
# and possible. Without it the script prints "SKIPPED: chromium
# unavailable" and exits 0. No network access is needed otherwise (the
# page fetches nothing; the flags below turn off Chromium's own traffic).
#
# Usage: scripts/trace_browser_check.sh   (from anywhere; about 30 s)
set -euo pipefail
cd "$(dirname "$0")/.."

find_chromium() {
    command -v chromium || command -v chromium-browser || true
}

CHROMIUM=$(find_chromium)
if [ -z "$CHROMIUM" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "trace_browser_check: installing chromium (apt-get)..."
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
        >/tmp/trace_browser_check.apt.log 2>&1; then
        echo "trace_browser_check: apt-get failed (see /tmp/trace_browser_check.apt.log)"
    fi
    CHROMIUM=$(find_chromium)
fi
if [ -z "$CHROMIUM" ]; then
    echo "SKIPPED: chromium unavailable"
    exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TRACE="$WORK/trace"

echo "trace_browser_check: building the demo's traces..."
cargo run --quiet --release --example demo -- --quick --workers 2 --trace "$TRACE" >"$WORK/demo.txt"

chromium_run() {
    # A fresh profile each time; every flag that would reach the network is off.
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d -p "$WORK")" "$@"
}

status=0
for part in concurrency parallelism stealing event_loop; do
    json="$TRACE/$part.json"
    html="$TRACE/$part.html"
    # 1. The JSON's rules; prints "workers polls".
    read -r workers polls < <(python3 - "$json" <<'PY'
import json, sys
from decimal import Decimal
from collections import defaultdict

path = sys.argv[1]
doc = json.load(open(path), parse_float=Decimal)
def fail(msg):
    sys.exit(f"{path}: {msg}")
events = doc.get("traceEvents")
if not isinstance(events, list) or not events:
    fail("no traceEvents list")
names = {}
polls_by_lane = defaultdict(list)
polls_by_task = defaultdict(list)
flows = defaultdict(dict)
for e in events:
    ph = e.get("ph")
    if ph not in ("M", "X", "i", "s", "f"):
        fail(f"unexpected phase {ph!r}: {e}")
    if e.get("pid") != 1:
        fail(f"one process, pid 1: {e}")
    if ph == "M":
        if e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        continue
    if not isinstance(e.get("tid"), int) or "name" not in e:
        fail(f"an event without tid or name: {e}")
    ts = e.get("ts")
    if not isinstance(ts, (int, Decimal)) or ts < 0:
        fail(f"bad ts: {e}")
    if ph == "X":
        if e.get("dur", -1) < 0:
            fail(f"X without a duration: {e}")
        if e.get("cat") == "poll":
            task = e["args"]["task"]
            if not isinstance(task, int):
                fail(f"a poll's args.task is a number: {e}")
            span = (ts, ts + e["dur"], e["tid"], task)
            polls_by_lane[e["tid"]].append(span)
            polls_by_task[task].append(span)
    elif ph == "i":
        if e.get("s") not in ("t", "p", "g"):
            fail(f"instant without a scope: {e}")
        if e.get("cat") == "steal":
            a = e["args"]
            if not all(isinstance(a.get(k), int) for k in ("victim", "thief", "count")):
                fail(f"a steal names victim, thief and count: {e}")
            if a["thief"] != e["tid"] or a["count"] < 1:
                fail(f"a steal is on its thief's track and moves a task: {e}")
    else:
        if "id" not in e:
            fail(f"flow event without an id: {e}")
        if ph == "f" and e.get("bp") != "e":
            fail(f"a flow ends on its enclosing slice (bp e): {e}")
        if ph in flows[e["id"]]:
            fail(f"flow {e['id']} has two {ph} events")
        flows[e["id"]][ph] = e
workers = sorted(t for t, n in names.items() if n.startswith("worker "))
if [names[t] for t in workers] != [f"worker {i}" for i in range(len(workers))] or not workers:
    fail(f"tracks 'worker 0'..'worker N-1': {names}")
for track in ("blocking pool", "driver"):
    if track not in names.values():
        fail(f"no {track!r} track: {names}")
for fid, ends in flows.items():
    if set(ends) != {"s", "f"}:
        fail(f"flow {fid} lacks an end: {ends}")
    if ends["f"]["ts"] < ends["s"]["ts"]:
        fail(f"flow {fid} points backward: {ends}")
    if names.get(ends["f"]["tid"], "").startswith("worker ") is False:
        fail(f"flow {fid} ends off the worker lanes: {ends}")
for what, groups in (("lane", polls_by_lane), ("task", polls_by_task)):
    for key, spans in groups.items():
        spans.sort()
        for a, b in zip(spans, spans[1:]):
            if b[0] < a[1]:
                fail(f"two polls overlap on {what} {key}: {a} and {b}")
npolls = sum(len(s) for s in polls_by_lane.values())
if npolls == 0:
    fail("no polls")
print(len(workers), npolls)
PY
    ) || { echo "FAIL: $part.json breaks the trace-event rules"; status=1; continue; }

    # 2. The HTML in Chromium: drawn, and silent on the console.
    chromium_run --enable-logging=stderr --v=0 --dump-dom "file://$html" \
        >"$WORK/$part.dom" 2>"$WORK/$part.log" || true
    rendered=$(grep -o '<p id="rendered"[^>]*>' "$WORK/$part.dom" || true)
    want="data-lanes=\"$((workers + 3))\" data-polls=\"$polls\""
    if [[ "$rendered" != *"$want"* ]]; then
        echo "FAIL: $part.html: expected $want, the page reported: ${rendered:-nothing}"
        status=1
    fi
    # Panned to the end (#pan: the page zooms in, scrolls, and reports), the
    # lane labels must still be in view.
    chromium_run --dump-dom "file://$html#pan" >"$WORK/$part.pan.dom" 2>/dev/null || true
    if ! grep -q 'data-pan="pinned"' "$WORK/$part.pan.dom"; then
        echo "FAIL: $part.html: lane labels after panning: $(grep -o 'data-pan="[^"]*"' "$WORK/$part.pan.dom" || echo 'no report')"
        status=1
    fi
    if grep -q ':CONSOLE' "$WORK/$part.log"; then
        echo "FAIL: $part.html logged to the console:"
        grep ':CONSOLE' "$WORK/$part.log" | head -5
        status=1
    fi
    [ "$status" = 0 ] && echo "ok: $part ($workers workers, $polls polls; ${rendered#<p id=\"rendered\" })"
done

# 3. Screenshots, fitted to the window (#fit).
mkdir -p docs/img
shot() {
    chromium_run --hide-scrollbars --window-size="$3" --screenshot="$PWD/docs/img/$2" \
        "file://$TRACE/$1.html#fit" >/dev/null 2>&1 || true
    if [ -s "docs/img/$2" ]; then
        echo "screenshot: docs/img/$2"
    else
        echo "FAIL: no screenshot of $1"
        status=1
    fi
}
shot stealing trace-demo.png 1400,400
shot concurrency trace-concurrency.png 1400,340
shot parallelism trace-parallelism.png 1400,400
exit $status
