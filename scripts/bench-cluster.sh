#!/usr/bin/env bash
# Brings a Switchyard hub up or down on 127.0.0.1 for load tests.
#
#   scripts/bench-cluster.sh start DIR [GATEWAYS]   multi-process: NATS JetStream (sy-devstack -nats-only),
#                                                   redis-server, sy-session, sy-relay, GATEWAYS× sy-gateway (default 3)
#   scripts/bench-cluster.sh dev DIR                the single-process dev stack (sy-devstack)
#   scripts/bench-cluster.sh stop DIR               stops what start/dev started (PIDs in DIR/*.pid)
#
# Every process listens on a free 127.0.0.1 port and logs to DIR/NAME.log.
# DIR/env then holds, for sy-loadgen:
#   GATEWAYS  comma list of gateway base URLs
#   WATCH     comma list of name:pid of every hub process (CPU and RSS are read from /proc)
#   METRICS   comma list of name=URL of the session and relay /metrics
# Binaries come from $BIN (default bin/bench): sybench-devstack,
# sybench-gateway, sybench-session, sybench-relay — sy-devstack etc. built
# under names of their own, so that nobody's `pkill sy-devstack` on a shared
# machine ends a benchmark half way (scripts/bench.sh builds them).
# Tokens: runtime bench-rt (any runtime id), client bench-client (user bench).
# BENCH_NICE=-5 starts every process with that nice value (a machine shared
# with other work).
set -euo pipefail

BIN=${BIN:-bin/bench}
# BENCH_NICE: start every process with this nice value (e.g. -5 on a machine
# shared with other work; 0: as is).
BENCH_NICE=${BENCH_NICE:-0}
RUNTIME_TOKENS=${RUNTIME_TOKENS:-bench-rt=*}
CLIENT_TOKENS=${CLIENT_TOKENS:-bench-client=bench}

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
DIR=$2
GWS=${3:-3}
if [ "$cmd" = stop ] && [ -f "$DIR/bin" ]; then
	BIN=$(cat "$DIR/bin")
fi

# port_open PORT: something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port: a port nobody listens on and this cluster has not handed out.
# Below the ephemeral range (32768-60999) so outgoing sockets never take it.
free_port() {
	local p i
	for i in $(seq 1 500); do
		p=$((20000 + RANDOM % 12000))
		if ! port_open "$p" && ! grep -qx "$p" "$DIR/ports" 2>/dev/null; then
			echo "$p" >>"$DIR/ports"
			echo "$p"
			return 0
		fi
	done
	echo "bench-cluster: no free port" >&2
	return 1
}

# wait_http URL SECONDS: until URL answers 200.
wait_http() {
	local url=$1 secs=$2 i
	for i in $(seq 1 $((secs * 10))); do
		if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "bench-cluster: $url did not become ready in ${secs}s" >&2
	return 1
}

wait_port() {
	local port=$1 secs=$2 i
	for i in $(seq 1 $((secs * 10))); do
		port_open "$port" && return 0
		sleep 0.1
	done
	echo "bench-cluster: nothing listens on 127.0.0.1:$port after ${secs}s" >&2
	return 1
}

# launch NAME CMD...: start CMD in the caller's session, log to DIR/NAME.log.
# Not setsid: with the kernel's autogroup scheduling (sched_autogroup_enabled)
# every session is one group that gets an equal share of a busy machine, so
# a hub process in a session of its own was held to 1 of the 2 cores against
# the load generator, whatever the threads asked for. In one session, CPU is
# shared by thread, as between the processes of a pod's node.
launch() {
	local name=$1
	shift
	nice -n "$BENCH_NICE" "$@" >"$DIR/$name.log" 2>&1 </dev/null &
	echo $! >"$DIR/$name.pid"
	echo "$name" >>"$DIR/order"
}

pid_of() { cat "$DIR/$1.pid"; }

check_bins() {
	local b
	for b in "$@"; do
		[ -x "$BIN/$b" ] || {
			echo "bench-cluster: $BIN/$b missing (scripts/bench.sh build)" >&2
			exit 1
		}
	done
	BIN=$(cd "$BIN" && pwd)
	mkdir -p "$DIR"
	echo "$BIN" >"$DIR/bin"
}

# The load generator holds tens of thousands of sockets of one client user
# from four source addresses: the per-address and per-principal socket caps
# (SY_MAX_SOCKETS_PER_IP 512, SY_MAX_SOCKETS_PER_PRINCIPAL 256 per gateway)
# are off for benchmarks; every other limit keeps its default.
export SY_MAX_SOCKETS_PER_IP=${SY_MAX_SOCKETS_PER_IP:-0} SY_MAX_SOCKETS_PER_PRINCIPAL=${SY_MAX_SOCKETS_PER_PRINCIPAL:-0}

start_cluster() {
	check_bins sybench-devstack sybench-gateway sybench-session sybench-relay
	command -v redis-server >/dev/null || {
		echo "bench-cluster: redis-server missing (make test-deps)" >&2
		exit 1
	}
	mkdir -p "$DIR"
	: >"$DIR/ports"
	: >"$DIR/order"
	local np rp sp lp i gp
	np=$(free_port)
	launch nats "$BIN/sybench-devstack" -nats-only -nats-listen "127.0.0.1:$np" -data "$DIR/nats"
	wait_port "$np" 20
	rp=$(free_port)
	launch redis redis-server --port "$rp" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --maxclients 10000
	wait_port "$rp" 20
	export SY_NATS_URL="nats://127.0.0.1:$np" SY_REDIS_URL="redis://127.0.0.1:$rp/0" SY_LOG_LEVEL=${SY_LOG_LEVEL:-warn}
	sp=$(free_port)
	SY_POD=bench-session SY_HTTP_LISTEN="127.0.0.1:$sp" launch session "$BIN/sybench-session"
	lp=$(free_port)
	SY_POD=bench-relay SY_HTTP_LISTEN="127.0.0.1:$lp" SY_RUNTIME_TOKENS="$RUNTIME_TOKENS" launch relay "$BIN/sybench-relay"
	wait_http "http://127.0.0.1:$sp/readyz" 30
	wait_http "http://127.0.0.1:$lp/readyz" 30
	local gateways="" watch=""
	for i in $(seq 0 $((GWS - 1))); do
		gp=$(free_port)
		SY_POD="bench-gw$i" SY_LISTEN="127.0.0.1:$gp" SY_CLIENT_TOKENS="$CLIENT_TOKENS" \
			SY_DRAIN_TIMEOUT=3s SY_DRAIN_JITTER=1s launch "gateway$i" "$BIN/sybench-gateway"
		gateways+="${gateways:+,}http://127.0.0.1:$gp"
	done
	for i in $(seq 0 $((GWS - 1))); do
		wait_http "$(echo "$gateways" | cut -d, -f$((i + 1)))/readyz" 30
		watch+="${watch:+,}gateway$i:$(pid_of "gateway$i")"
	done
	watch+=",session:$(pid_of session),relay:$(pid_of relay),nats:$(pid_of nats),redis:$(pid_of redis)"
	cat >"$DIR/env" <<EOF
GATEWAYS=$gateways
WATCH=$watch
METRICS=session=http://127.0.0.1:$sp/metrics,relay=http://127.0.0.1:$lp/metrics
EOF
	echo "bench-cluster: up in $DIR: $GWS gateway(s) $gateways, NATS :$np, Redis :$rp"
}

start_dev() {
	check_bins sybench-devstack
	mkdir -p "$DIR"
	: >"$DIR/ports"
	: >"$DIR/order"
	local gp
	gp=$(free_port)
	SY_DRAIN_TIMEOUT=3s SY_DRAIN_JITTER=1s launch devstack "$BIN/sybench-devstack" -listen "127.0.0.1:$gp" -data "$DIR/nats" \
		-runtime-tokens "$RUNTIME_TOKENS" -client-tokens "$CLIENT_TOKENS" -log-level "${SY_LOG_LEVEL:-warn}"
	wait_http "http://127.0.0.1:$gp/readyz" 60
	cat >"$DIR/env" <<EOF
GATEWAYS=http://127.0.0.1:$gp
WATCH=gateway0:$(pid_of devstack)
METRICS=
EOF
	echo "bench-cluster: dev stack up in $DIR: http://127.0.0.1:$gp (one process: gateway, session, relay, NATS, Redis)"
}

# stop_all: SIGTERM in reverse start order (gateways drain first), then
# SIGKILL whatever is left after 15 s. Only PIDs this script recorded, and
# only while they still run a command started from here.
stop_all() {
	[ -f "$DIR/order" ] || {
		echo "bench-cluster: nothing started in $DIR" >&2
		return 0
	}
	local name pid names
	names=$(tac "$DIR/order")
	for name in $names; do
		pid=$(cat "$DIR/$name.pid" 2>/dev/null) || continue
		ours "$pid" && kill -TERM "$pid" 2>/dev/null || true
	done
	for name in $names; do
		pid=$(cat "$DIR/$name.pid" 2>/dev/null) || continue
		for _ in $(seq 1 150); do
			ours "$pid" || break
			sleep 0.1
		done
		if ours "$pid"; then
			echo "bench-cluster: $name ($pid) still running; SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$DIR/$name.pid"
	done
	rm -f "$DIR/order"
	echo "bench-cluster: stopped ($DIR)"
}

# ours PID: the process exists and runs a binary of this cluster.
ours() {
	local cmdline
	cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
	case "$cmdline" in
	*"$BIN/sybench-"* | *redis-server*) return 0 ;;
	esac
	return 1
}

case "$cmd" in
start) start_cluster ;;
dev) start_dev ;;
stop) stop_all ;;
*) usage ;;
esac
