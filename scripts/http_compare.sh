#!/usr/bin/env bash
# hyper on weft against hyper on tokio, under wrk, in alternating rounds.
#
#   scripts/http_compare.sh                         # 3 s x 7 rounds per shape
#   scripts/http_compare.sh --duration 2 --rounds 3 # a quick look
#   WEFT_WORKER_THREADS=2 scripts/http_compare.sh   # workers of both servers
#
# The two servers are one program, benches/http_server.rs, run with
# --runtime weft and --runtime tokio: the same hyper "Hello" service, the
# same builder and accept loop, only the runtime and its I/O glue differ
# (weft::compat::hyper::WeftIo, hyper-util's TokioIo). With --example, the
# weft side is examples/http.rs instead, the fuller server a user starts
# from (graceful shutdown, signals, a shared request counter), which costs a
# little more per request. Both read WEFT_WORKER_THREADS (default: one
# worker per CPU). Each listens on 127.0.0.1 only.
#
# For every shape (wrk -t1 -c64 and -t2 -c64 by default) it runs ROUNDS
# rounds; in each round both servers get one wrk run of DURATION seconds,
# the order swapping every round so that drift in the machine's load hits
# both alike. Per shape it prints, for each server: the median requests/s,
# the median p99 latency (wrk --latency), the median CPU time per request
# (user + system of the server process, from /proc/PID/stat before and after
# each run), and the median of the per-round ratios weft/tokio. Raw rounds
# go to target/bench-results/http_compare.csv.
#
# wrk runs on the same machine as the servers and competes with them for
# the CPUs: the figures compare the two runtimes under identical conditions,
# they are not either server's capacity. On a machine that is busy with
# other work they are a smoke test only.
#
# Needs: cargo, and wrk (installed from Debian with apt-get if missing,
# which needs root). The servers are killed when the script exits, however
# it exits.

set -euo pipefail

usage() {
    cat <<'EOF'
usage: scripts/http_compare.sh [options]
  --duration SECS     length of one wrk run (default 3)
  --rounds N          rounds per shape (default 7)
  --connections N     wrk connections (default 64)
  --threads LIST      wrk thread counts, one shape each (default "1 2")
  --warmup SECS       wrk warm-up per server before the rounds (default 1; 0 = none)
  --weft-port PORT    (default 18080)
  --tokio-port PORT   (default 18081)
  --example           weft side: examples/http.rs instead of benches/http_server.rs
  --futures-io        weft side: http_server --runtime weft-fio (the generic
                      futures-io path of WeftIo, as smol's glue reads)
  --no-build          use the binaries already built
  -h, --help
Environment: WEFT_WORKER_THREADS (workers of both servers), CARGO_TARGET_DIR.
EOF
}

die() {
    echo "http_compare: $*" >&2
    exit 1
}

DURATION=3
ROUNDS=7
CONNECTIONS=64
THREADS="1 2"
WARMUP=1
WEFT_PORT=18080
TOKIO_PORT=18081
BUILD=1
EXAMPLE=0
WEFT_RUNTIME=weft

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

while [ $# -gt 0 ]; do
    case "$1" in
    --duration) DURATION="${2:?--duration needs a value}"; shift 2 ;;
    --rounds) ROUNDS="${2:?--rounds needs a value}"; shift 2 ;;
    --connections) CONNECTIONS="${2:?--connections needs a value}"; shift 2 ;;
    --threads) THREADS="${2:?--threads needs a value}"; shift 2 ;;
    --warmup) WARMUP="${2:?--warmup needs a value}"; shift 2 ;;
    --weft-port) WEFT_PORT="${2:?--weft-port needs a value}"; shift 2 ;;
    --tokio-port) TOKIO_PORT="${2:?--tokio-port needs a value}"; shift 2 ;;
    --example) EXAMPLE=1; shift ;;
    --futures-io) WEFT_RUNTIME=weft-fio; shift ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
    esac
done

for pair in "duration:$DURATION" "rounds:$ROUNDS" "connections:$CONNECTIONS" \
    "warmup:$WARMUP" "weft-port:$WEFT_PORT" "tokio-port:$TOKIO_PORT"; do
    is_uint "${pair#*:}" || die "--${pair%%:*} must be a whole number, got '${pair#*:}'"
done
[ "$DURATION" -ge 1 ] || die "--duration must be at least 1 second"
[ "$ROUNDS" -ge 1 ] || die "--rounds must be at least 1"
for t in $THREADS; do
    if ! { is_uint "$t" && [ "$t" -ge 1 ]; }; then die "--threads: '$t' is not a thread count"; fi
    [ "$t" -le "$CONNECTIONS" ] || die "--threads: wrk needs at least one connection per thread ($t > $CONNECTIONS)"
done
[ "$WEFT_PORT" != "$TOKIO_PORT" ] || die "the two servers need different ports"
if [ -n "${WEFT_WORKER_THREADS:-}" ]; then
    if ! { is_uint "$WEFT_WORKER_THREADS" && [ "$WEFT_WORKER_THREADS" -ge 1 ]; }; then
        die "WEFT_WORKER_THREADS must be a positive number, got '$WEFT_WORKER_THREADS'"
    fi
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
SERVER_BIN="$TARGET/release/http_server"
if [ "$EXAMPLE" -eq 1 ]; then WEFT_BIN="$TARGET/release/examples/http"; else WEFT_BIN="$SERVER_BIN"; fi
OUT_DIR="${WEFT_BENCH_OUT:-$TARGET/bench-results}"
TICKS="$(getconf CLK_TCK)"

# --- wrk ---------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "wrk is missing; install it (apt-get install wrk) or run as root"
    echo "installing wrk from Debian..."
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
    fi
    command -v wrk >/dev/null 2>&1 || die "apt-get did not install wrk"
fi

# --- build -------------------------------------------------------------------
if [ "$BUILD" -eq 1 ]; then
    if [ "$EXAMPLE" -eq 1 ]; then
        echo "building the weft example server (cargo build --release --example http)..."
        (cd "$ROOT" && cargo build --release --example http)
    fi
    echo "building the servers (cd benches && cargo build --release --locked --bin http_server)..."
    (cd "$ROOT/benches" && cargo build --release --locked --bin http_server)
fi
[ -x "$WEFT_BIN" ] || die "no weft server at $WEFT_BIN (build it, or drop --no-build)"
[ -x "$SERVER_BIN" ] || die "no server at $SERVER_BIN (build it, or drop --no-build)"

# --- servers -----------------------------------------------------------------
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME BIN PORT [ARGS...]: starts a server as a child of this shell (so that the
# exit trap can kill and reap it), sets STARTED_PID, and waits (at most 10 s)
# until it accepts connections.
start() {
    local name="$1" bin="$2" port="$3" pid _
    shift 3
    if port_in_use "$port"; then
        die "127.0.0.1:$port is already taken (pick another with --$name-port)"
    fi
    "$bin" --addr "127.0.0.1:$port" "$@" >"$WORK/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || die "the $name server exited at start: $(cat "$WORK/$name.log")"
        if port_in_use "$port"; then
            STARTED_PID="$pid"
            return
        fi
        sleep 0.1
    done
    die "the $name server did not accept on 127.0.0.1:$port within 10 s"
}

# cpu_ticks PID: user + system time of the process (all its threads), in ticks.
cpu_ticks() {
    local stat rest
    stat="$(cat "/proc/$1/stat")" || die "server $1 is gone"
    rest="${stat##*) }" # the command name may hold spaces: fields after ')'
    # After ')': state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    awk '{ print $12 + $13 }' <<<"$rest"
}

# to_ms VALUE: wrk latency ("812.00us", "1.25ms", "2.01s") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
        else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
        else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
        else { print "nan" }
    }'
}

# host_ticks: "steal total" of the whole machine from /proc/stat, in ticks.
# Steal is time the hypervisor gave this VM's CPUs to other guests; on a
# shared host it moves throughput by tens of percent from one run to the
# next (seen here: 2 % to 22 % over four 3 s runs), so every run reports it.
host_ticks() {
    awk '/^cpu / { print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}

# measure NAME PID PORT WRK_THREADS: one wrk run; prints
# "req_per_s p99_ms cpu_us_per_req requests steal_pct".
measure() {
    local name="$1" pid="$2" port="$3" t="$4" before after out rps p99 reqs errors host0 host1
    host0="$(host_ticks)"
    before="$(cpu_ticks "$pid")"
    out="$(wrk -t"$t" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" 2>&1)" ||
        die "wrk failed against the $name server: $out"
    after="$(cpu_ticks "$pid")"
    host1="$(host_ticks)"
    kill -0 "$pid" 2>/dev/null || die "the $name server died during a run: $(tail -5 "$WORK/$name.log")"
    rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
    reqs="$(awk '/requests in/ { print $1 }' <<<"$out")"
    p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
    errors="$(awk '/Non-2xx or 3xx responses:|Socket errors:/' <<<"$out")"
    if [ -z "$rps" ] || [ -z "$reqs" ] || [ -z "$p99" ]; then die "could not read wrk's output: $out"; fi
    [ "$reqs" -gt 0 ] || die "wrk completed no request against the $name server"
    [ -z "$errors" ] || echo "  warning ($name): $errors" >&2
    awk -v rps="$rps" -v p99="$(to_ms "$p99")" -v d="$((after - before))" -v hz="$TICKS" -v n="$reqs" \
        -v h0="$host0" -v h1="$host1" \
        'BEGIN {
            split(h0, a, " "); split(h1, b, " ")
            steal = (b[2] > a[2]) ? (b[1] - a[1]) / (b[2] - a[2]) * 100 : 0
            printf "%s %s %.3f %d %.1f\n", rps, p99, d / hz / n * 1e6, n, steal
        }'
}

# median of the numbers on stdin.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

WORKERS="${WEFT_WORKER_THREADS:-$(nproc)}"
export WEFT_WORKER_THREADS="$WORKERS"
if [ "$EXAMPLE" -eq 1 ]; then
    start weft "$WEFT_BIN" "$WEFT_PORT"
else
    start weft "$WEFT_BIN" "$WEFT_PORT" --runtime "$WEFT_RUNTIME"
fi
WEFT_PID="$STARTED_PID"
start tokio "$SERVER_BIN" "$TOKIO_PORT" --runtime tokio
TOKIO_PID="$STARTED_PID"
echo "weft server pid $WEFT_PID on 127.0.0.1:$WEFT_PORT, tokio server pid $TOKIO_PID on 127.0.0.1:$TOKIO_PORT"
echo "$WORKERS workers each, $(nproc) CPUs shared with wrk; $ROUNDS rounds of ${DURATION}s per server and shape"

if [ "$WARMUP" -gt 0 ]; then
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$WEFT_PORT/" >/dev/null 2>&1 || true
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$TOKIO_PORT/" >/dev/null 2>&1 || true
fi

mkdir -p "$OUT_DIR"
CSV="$OUT_DIR/http_compare.csv"
echo "shape,round,server,req_per_s,p99_ms,cpu_us_per_req,requests,steal_pct" >"$CSV"

SUMMARY=""
for t in $THREADS; do
    shape="-t$t -c$CONNECTIONS"
    echo
    echo "shape wrk $shape"
    : >"$WORK/rounds"
    for r in $(seq "$ROUNDS"); do
        # Odd rounds weft first, even rounds tokio first.
        if [ $((r % 2)) -eq 1 ]; then order="weft tokio"; else order="tokio weft"; fi
        for s in $order; do
            if [ "$s" = weft ]; then
                line="$(measure weft "$WEFT_PID" "$WEFT_PORT" "$t")"
            else
                line="$(measure tokio "$TOKIO_PID" "$TOKIO_PORT" "$t")"
            fi
            echo "$r $s $line" >>"$WORK/rounds"
            echo "$shape,$r,$s,${line// /,}" >>"$CSV"
        done
        awk -v r="$r" '$1 == r { rps[$2] = $3; p99[$2] = $4; cpu[$2] = $5; st[$2] = $7 } END {
            printf "  round %d: weft %.0f req/s (p99 %.2f ms, %.2f us CPU/req, steal %.1f%%), tokio %.0f req/s (p99 %.2f ms, %.2f us CPU/req, steal %.1f%%), ratio %.3f\n",
                r, rps["weft"], p99["weft"], cpu["weft"], st["weft"], rps["tokio"], p99["tokio"], cpu["tokio"], st["tokio"], rps["weft"] / rps["tokio"]
        }' "$WORK/rounds"
    done
    col() { awk -v s="$1" -v c="$2" '$2 == s { print $c }' "$WORK/rounds" | median; }
    ratio="$(awk '{ rps[$1, $2] = $3; n = ($1 > n ? $1 : n) } END {
        for (r = 1; r <= n; r++) print rps[r, "weft"] / rps[r, "tokio"]
    }' "$WORK/rounds" | median)"
    SUMMARY+="$(printf '| %s | %.0f | %.0f | %.3f | %.2f | %.2f | %.2f | %.2f | %.1f / %.1f |' "$shape" \
        "$(col weft 3)" "$(col tokio 3)" "$ratio" "$(col weft 4)" "$(col tokio 4)" "$(col weft 5)" "$(col tokio 5)" \
        "$(awk '{ print $7 }' "$WORK/rounds" | median)" "$(awk '{ print $7 }' "$WORK/rounds" | sort -g | tail -1)")"$'\n'
done

echo
echo "medians over $ROUNDS rounds of ${DURATION}s, $WORKERS workers per server, $(nproc) CPUs shared with wrk:"
echo
echo "| wrk shape | weft req/s | tokio req/s | weft/tokio (median of per-round ratios) | weft p99 ms | tokio p99 ms | weft CPU us/req | tokio CPU us/req | host steal % (median / max) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$SUMMARY"
echo
echo "CPU per request: user + system time of the server process over the run, divided by the requests wrk completed."
echo "Host steal: CPU time the hypervisor gave to other guests during the runs; above a few percent, absolute figures move and only the per-round ratios compare."
echo "raw rounds: $CSV"
