#!/usr/bin/env bash
# Runs every fuzz target of the module for DURATION each.
#
#   scripts/fuzz.sh 60s        (make fuzz FUZZTIME=60s)
#   FUZZMINIMIZETIME=30s scripts/fuzz.sh 10m
#
# Targets are found by grepping *_test.go files for `func FuzzXxx(`; each
# runs alone in its package directory (go test accepts -fuzz for a single
# package and a single target only). A crasher makes the run fail; Go saves
# its input under <package>/testdata/fuzz/<Target>/, where it becomes a
# regression test of the normal `go test` run once committed.
set -uo pipefail

duration="${1:-60s}"
# Minimization of each new input is capped (Go's default is 60s): the
# engine can otherwise sit in minimization for the rest of the run with
# both workers idle, reporting "execs: N (0/sec)" (golang/go#48820).
minimize="${FUZZMINIMIZETIME:-10s}"
cd "$(dirname "$0")/.."
root="$PWD"
GO="${GO:-go}"

# Directories of nested modules (tools/go.mod, ...) are not this module.
nested=()
while IFS= read -r mod; do
	d="$(dirname "$mod")"
	[ "$d" = "." ] || nested+=("${d#./}/")
done < <(find . -name go.mod -not -path './.git/*' | sort)

in_nested() {
	local f="$1" n
	for n in "${nested[@]+"${nested[@]}"}"; do
		case "$f" in "$n"*) return 0 ;; esac
	done
	return 1
}

targets=()
while IFS= read -r hit; do
	file="${hit%%:*}"
	file="${file#./}"
	in_nested "$file" && continue
	name="$(sed -E 's/^[^:]*:func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$hit")"
	targets+=("./$(dirname "$file") $name")
done < <(grep -rHE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . --exclude-dir=.git --exclude-dir=node_modules | sort)

if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found"
	exit 1
fi

echo "fuzz: ${#targets[@]} target(s), ${duration} each"
summary=()
failed=0
for t in "${targets[@]}"; do
	pkg="${t% *}"
	name="${t#* }"
	log="$(mktemp)"
	echo
	echo "==> (cd $root && $GO test -run '^\$' -fuzz '^${name}\$' -fuzztime ${duration} -fuzzminimizetime ${minimize} ${pkg})"
	"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -fuzzminimizetime "$minimize" "$pkg" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# The last progress line holds the totals:
	#   fuzz: elapsed: 60s, execs: 123456 (2057/sec), new interesting: 3 (total: 61)
	# (elapsed is a Go duration: 59s, 1m0s, 1h2m3s).
	last="$(grep -E '^fuzz: elapsed: [0-9hms]+, execs: [0-9]+' "$log" | tail -1 || true)"
	execs="$(grep -oE 'execs: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)"
	elapsed="$(grep -oE 'elapsed: [0-9hms]+' <<<"$last" | cut -d' ' -f2 || true)"
	secs=0
	while [[ "$elapsed" =~ ^([0-9]+)([hms])(.*)$ ]]; do
		case "${BASH_REMATCH[2]}" in
		h) secs=$((secs + BASH_REMATCH[1] * 3600)) ;;
		m) secs=$((secs + BASH_REMATCH[1] * 60)) ;;
		s) secs=$((secs + BASH_REMATCH[1])) ;;
		esac
		elapsed="${BASH_REMATCH[3]}"
	done
	execs="${execs:-0}"
	rate=$(( secs > 0 ? execs / secs : execs ))
	status="ok"
	if [ "$rc" -ne 0 ]; then
		status="FAIL"
		failed=1
		crasher="$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | tail -1 || true)"
		[ -n "$crasher" ] && status="FAIL (input saved: ${pkg#./}/${crasher})"
	fi
	summary+=("$(printf '%-22s %-24s %12s execs %8s/s  %s' "$name" "$pkg" "$execs" "$rate" "$status")")
	rm -f "$log"
done

echo
echo "fuzz summary (${duration} per target):"
for s in "${summary[@]}"; do
	echo "  $s"
done
if [ "$failed" -ne 0 ]; then
	echo "fuzz: FAILED"
	exit 1
fi
echo "fuzz: all targets passed"
