#!/usr/bin/env bash
# A/B of two trees on this machine, interleaved, one fresh hub per series:
#
#   scripts/bench-ab.sh OUT dev|3gw|dev-idle|3gw-idle ROUNDS LABEL=TREE [LABEL=TREE ...]
#
# Each TREE is a checkout with its binaries built (scripts/bench.sh build).
# Per round, for every LABEL in turn: start a fresh hub from that tree
# (scripts/bench-cluster.sh dev, or start with 3 gateways), run sy-loadgen
# (AB_RUNTIMES runtimes, 100 sessions x AB_CLIENTS subscribers, 100-byte agent.output) at
# AB_RATES, stop the hub. Results: OUT/LABEL-rN.json (sy-loadgen -json).
# Settings: AB_RATES (default 2000,3000,4000,6000 for dev, 1000,2000,3000
# for 3gw), AB_MEASURE (8s), AB_SRC (source addresses), AB_RUNTIMES (10),
# AB_CLIENTS (subscribers per session, 10; 1 measures persisted ingest).
# dev-idle / 3gw-idle hold AB_IDLE idle authenticated client sockets instead
# (18,000 on the dev stack, 51,000 = 17,000 per gateway on 3 gateways), as
# make bench's idle scenarios with -idle-settle 8s -idle-hold 10s.
# Run it on an otherwise idle machine: sy-loadgen waits for one first.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,15p "$0"; exit 2; }
out=$1 mode=$2 rounds=$3
shift 3
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $mode in
dev) rates=${AB_RATES:-2000,3000,4000,6000} ;;
3gw) rates=${AB_RATES:-1000,2000,3000} ;;
dev-idle) idle=${AB_IDLE:-18000} ;;
3gw-idle) idle=${AB_IDLE:-51000} ;;
*) echo "mode: dev, 3gw, dev-idle or 3gw-idle" >&2; exit 2 ;;
esac
rates=${rates:-} idle=${idle:-}
measure=${AB_MEASURE:-8s}
src=${AB_SRC:-127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5}
runtimes=${AB_RUNTIMES:-10}
clients=${AB_CLIENTS:-10}

for r in $(seq 1 "$rounds"); do
	for pair in "$@"; do
		label=${pair%%=*} tree=${pair#*=}
		dir=$(mktemp -d)
		(
			cd "$tree"
			if [ "${mode%-idle}" = dev ]; then
				bash scripts/bench-cluster.sh dev "$dir/hub" >/dev/null
			else
				bash scripts/bench-cluster.sh start "$dir/hub" 3 >/dev/null
			fi
			trap 'bash scripts/bench-cluster.sh stop "$dir/hub" >/dev/null 2>&1 || true' EXIT
			# shellcheck disable=SC1091
			. "$dir/hub/env"
			metrics=()
			[ -n "${METRICS:-}" ] && metrics=(-metrics "$METRICS")
			load=(-runtimes "$runtimes" -sessions 100 -clients "$clients" -size 100 -rate "$rates" -warmup 2s -duration "$measure" -drain 8s)
			if [ -n "${idle:-}" ]; then
				load=(-runtimes 0 -sessions 0 -clients 0 -rate 0 -idle "$idle" -idle-settle 8s -idle-hold 10s)
			fi
			bin/bench/sy-loadgen -gateways "$GATEWAYS" -watch "$WATCH" "${metrics[@]}" -quiet-wait 30s \
				"${load[@]}" -src "$src" -label "$label-r$r" -json "$out/$label-r$r.json" | tail -n +1
		)
		rm -rf "$dir"
	done
done
