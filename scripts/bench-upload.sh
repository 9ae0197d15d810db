#!/usr/bin/env bash
# make bench-upload: device uploads through the dev stack (gateway, upload
# service and embedded NATS in one process): one upload of BENCH_UPLOAD_SIZE
# (default 1 GiB) in BENCH_UPLOAD_CHUNK (1 MiB) chunks, then 8 parallel
# uploads of BENCH_UPLOAD_SIZE/8 each; MiB/s end to end and the dev stack's
# peak RSS (sy-loadgen upload). Each upload is cancelled afterwards, so the
# JetStream store holds at most BENCH_UPLOAD_SIZE. Bounded by
# BENCH_UPLOAD_DEADLINE (10m) per scenario; every process started here is
# stopped on exit. Results: $BENCH_OUT/upload-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/bench}
OUT=${BENCH_OUT:-$BIN/results}
SIZE=${BENCH_UPLOAD_SIZE:-1GiB}
CHUNK=${BENCH_UPLOAD_CHUNK:-1MiB}
DEADLINE=${BENCH_UPLOAD_DEADLINE:-10m}
PORT=${BENCH_UPLOAD_PORT:-18480}
GO=${GO:-go}
mkdir -p "$BIN" "$OUT"
CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sybench-devstack" ./services/devstack
CGO_ENABLED=0 $GO build -trimpath -o "$BIN/sy-loadgen" ./services/loadgen
WORK=$(mktemp -d /tmp/sy-bench-upload.XXXXXX)
"$BIN/sybench-devstack" -data "$WORK/data" -listen "127.0.0.1:$PORT" -device-compat "" -log-level warn >"$WORK/devstack.log" 2>&1 &
STACK=$!
cleanup() { kill "$STACK" 2>/dev/null || true; wait "$STACK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
	curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
run() {
	local label=$1 parallel=$2
	timeout "$DEADLINE" "$BIN/sy-loadgen" upload -gateway "http://127.0.0.1:$PORT" -size "$SIZE" -chunk "$CHUNK" \
		-parallel "$parallel" -watch "devstack:$STACK" -deadline "$DEADLINE" -label "$label" -json "$OUT/upload-$label.json"
}
run single 1
run parallel8 8
