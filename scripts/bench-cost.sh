#!/usr/bin/env bash
# Cost model (BENCHMARKS.md "Cost model"): one dev stack, 10,000 deliveries/s offered for each
# (sessions, subscribers per session) pair; needs bin/bench from `scripts/bench.sh build`. Bounded: each
# scenario 150 s at most; the dev stack is stopped at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
export BIN=bin/bench
OUT=bin/bench/results
mkdir -p "$OUT"
dir=$(mktemp -d /tmp/sy-cost.XXXXXX)
bash scripts/bench-cluster.sh dev "$dir/dev"
. "$dir/dev/env"
files=()
for combo in 10:1 10:10 10:100 100:1 100:10 100:100 1000:1 1000:10; do
  ses=${combo%:*}; subs=${combo#*:}
  rate=$((10000 / subs))
  rts=10; [ $ses -lt 10 ] && rts=$ses
  timeout 150s $BIN/sy-loadgen -gateways "$GATEWAYS" -watch "$WATCH" -quiet-wait 20s -label cost-$ses-$subs -json $OUT/cost-$ses-$subs.json \
    -runtimes $rts -sessions $ses -clients $subs -size 100 -rate $rate -warmup 2s -duration 6s -drain 6s -src 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 >/dev/null 2>&1 || echo "cost $combo failed"
  files+=("$OUT/cost-$ses-$subs.json=s$ses-c$subs")
done
bash scripts/bench-cluster.sh stop "$dir/dev"
$BIN/sy-loadgen table "${files[@]}"
