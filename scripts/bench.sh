#!/usr/bin/env bash
# make bench: builds the hub and sy-loadgen, then runs a fixed set of
# bounded load scenarios against hubs on 127.0.0.1 and prints the results.
#
#   scripts/bench.sh           the fixed set (< 10 minutes): dev stack (1 gateway), then 3 gateways
#   scripts/bench.sh build     only build the binaries into $BIN
#
# Scenarios (runtime → hub → 10 subscribers per session, 100-byte agent.output):
#   1. dev stack: latency sweep 100…2000 agent.output/s offered (1k…20k/s delivered)
#   2. dev stack: 18,000 idle client sockets (one process holds < 20,000 fds)
#   3. 3 gateways (multi-process): the same latency sweep
#   4. 3 gateways: 51,000 idle client sockets (17,000 per gateway)
# Rate limits: clients only send hello/subscribe (SY_RATE_LIMIT 200/s is far
# away) and each of the 10 runtimes sends rate/10 frames/s (200/s at 2000),
# under SY_RUNTIME_RATE_LIMIT (20,000/s): the hub's defaults are kept.
# Results: $BENCH_OUT (default bin/bench/results) — one JSON per scenario,
# table.md and latency.png. Every load is bounded (sy-loadgen -deadline and
# timeout) and every process started here is stopped on exit.
#
# Settings (environment): BIN, BENCH_OUT, BENCH_QUIET_WAIT (wait at most this
# long for a nearly idle machine before each scenario; default 30s),
# BENCH_RATES (comma list), BENCH_MEASURE (default 8s), BENCH_IDLE_DEV,
# BENCH_IDLE_CLUSTER, BENCH_SRC (source addresses), BENCH_NICE (nice value of
# every hub and load-generator process, e.g. -5 on a machine shared with
# other work; default 0).
set -euo pipefail
cd "$(dirname "$0")/.."

export BIN=${BIN:-bin/bench}
OUT=${BENCH_OUT:-$BIN/results}
QUIET_WAIT=${BENCH_QUIET_WAIT:-30s}
RATES=${BENCH_RATES:-100,250,500,1000,2000}
MEASURE=${BENCH_MEASURE:-8s}
IDLE_DEV=${BENCH_IDLE_DEV:-18000}
IDLE_CLUSTER=${BENCH_IDLE_CLUSTER:-51000}
SRC=${BENCH_SRC:-127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5}
GO=${GO:-go}

build() {
	echo "bench: building into $BIN"
	mkdir -p "$BIN"
	# Own names (sybench-*): see scripts/bench-cluster.sh.
	CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sybench-devstack" ./services/devstack
	CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sybench-gateway" ./services/gateway
	CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sybench-session" ./services/session
	CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sybench-relay" ./services/relay
	CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sy-loadgen" ./services/loadgen
}

if [ "${1:-}" = build ]; then
	build
	exit 0
fi

command -v redis-server >/dev/null 2>&1 || bash scripts/test-deps.sh
build
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/sy-bench.XXXXXX)
started=()
cleanup() {
	local d
	for d in "${started[@]}"; do
		bash scripts/bench-cluster.sh stop "$d" >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $($GO version | cut -d' ' -f3), open files $(ulimit -n)"

# loadgen NAME DIR ARGS...: one bounded scenario against the hub in DIR.
loadgen() {
	local name=$1 dir=$2
	shift 2
	# shellcheck disable=SC1091
	. "$dir/env"
	local args=(-gateways "$GATEWAYS" -watch "$WATCH" -quiet-wait "$QUIET_WAIT" -label "$name" -json "$OUT/$name.json")
	[ -n "${METRICS:-}" ] && args+=(-metrics "$METRICS")
	echo
	echo "bench: ── $name ──"
	timeout --kill-after=10s 300s nice -n "${BENCH_NICE:-0}" "$BIN/sy-loadgen" "${args[@]}" "$@" || echo "bench: $name failed (exit $?)"
}

sweep=(-runtimes 10 -sessions 100 -clients 10 -size 100 -rate "$RATES" -warmup 2s -duration "$MEASURE" -drain 8s -src "$SRC")
idle=(-runtimes 0 -sessions 0 -clients 0 -rate 0 -src "$SRC" -idle-settle 6s -idle-hold 8s)

dev="$WORK/dev"
started+=("$dev")
bash scripts/bench-cluster.sh dev "$dev"
loadgen dev-sweep "$dev" "${sweep[@]}"
loadgen dev-idle "$dev" "${idle[@]}" -idle "$IDLE_DEV"
bash scripts/bench-cluster.sh stop "$dev"

c3="$WORK/c3"
started+=("$c3")
bash scripts/bench-cluster.sh start "$c3" 3
loadgen c3-sweep "$c3" "${sweep[@]}"
loadgen c3-idle "$c3" "${idle[@]}" -idle "$IDLE_CLUSTER"
bash scripts/bench-cluster.sh stop "$c3"

echo
files=()
for f in dev-sweep c3-sweep dev-idle c3-idle; do
	[ -f "$OUT/$f.json" ] && files+=("$OUT/$f.json=$f")
done
if [ ${#files[@]} -gt 0 ]; then
	"$BIN/sy-loadgen" table "${files[@]}" | tee "$OUT/table.md"
	plots=()
	for f in dev-sweep c3-sweep; do
		[ -f "$OUT/$f.json" ] && plots+=("$OUT/$f.json=$f")
	done
	if [ ${#plots[@]} -gt 0 ]; then
		"$BIN/sy-loadgen" plot -out "$OUT/latency.png" "${plots[@]}"
		echo "bench: results in $OUT (JSON per scenario, table.md, latency.png)"
	fi
fi
