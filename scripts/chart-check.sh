#!/usr/bin/env bash
# Offline checks for the Helm chart, the kind config and the Tiltfile
# (no cluster, no Docker). Usage: bash scripts/chart-check.sh
#
#  1. ensures helm $HELM_VERSION: reuses $CACHE_BIN/helm or a helm on PATH of that
#     exact version, otherwise builds it once with `go install` into $CACHE_BIN;
#  2. helm lint --strict with the default values, each examples/*.yaml and ci/*.yaml;
#  3. helm template for the same value sets into a temp dir (this also executes
#     templates/NOTES.txt and fails on its errors);
#  4. go test in tests/chart (own Go module) with the rendered dir in
#     SY_CHART_RENDERED and the helm binary in SY_HELM (the tests also run helm
#     with bad values and expect values.schema.json to reject them).
# Fails loudly if helm is missing and cannot be built.
set -euo pipefail

HELM_VERSION=v3.22.0
# Kubernetes version the chart is rendered and linted against: the chart's floor
# (Chart.yaml kubeVersion >=1.30, needed for the preStop sleep action).
KUBE_VERSION=${KUBE_VERSION:-1.30.0}
RELEASE=switchyard
NAMESPACE=switchyard

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHART="$ROOT/charts/switchyard"
CACHE_BIN=${SWITCHYARD_CACHE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/switchyard/bin}
START=$(date +%s)

log() { printf '==> %s\n' "$*"; }
die() { printf 'chart-check: FAIL: %s\n' "$*" >&2; exit 1; }

helm_is_pinned() {
  [ -n "$1" ] && [ -x "$1" ] && [ "$("$1" version --template '{{.Version}}' 2>/dev/null || true)" = "$HELM_VERSION" ]
}

HELM=""
for candidate in "$CACHE_BIN/helm" "$(command -v helm 2>/dev/null || true)"; do
  if helm_is_pinned "$candidate"; then HELM=$candidate; break; fi
done
if [ -z "$HELM" ]; then
  command -v go >/dev/null 2>&1 || die "helm $HELM_VERSION not found and no Go toolchain to build it"
  log "building helm $HELM_VERSION into $CACHE_BIN (one-off, a few minutes)"
  mkdir -p "$CACHE_BIN"
  # Same ldflags as helm's release Makefile: version string, and default
  # Kubernetes capabilities of its client-go (k8s.io/* v0.37 -> 1.37).
  hv=helm.sh/helm/v3
  ldflags="-s -w -X $hv/internal/version.version=$HELM_VERSION -X $hv/internal/version.gitTreeState=clean"
  ldflags+=" -X $hv/pkg/chartutil.k8sVersionMajor=1 -X $hv/pkg/chartutil.k8sVersionMinor=37"
  ldflags+=" -X $hv/pkg/lint/rules.k8sVersionMajor=1 -X $hv/pkg/lint/rules.k8sVersionMinor=37"
  (cd "$CACHE_BIN" && GOBIN="$CACHE_BIN" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "$hv/cmd/helm@$HELM_VERSION") \
    || die "go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION failed"
  helm_is_pinned "$CACHE_BIN/helm" || die "built helm does not report $HELM_VERSION"
  HELM="$CACHE_BIN/helm"
fi
log "helm: $HELM ($("$HELM" version --template '{{.Version}} {{.GoVersion}}'))"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-chart.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

# Value sets: defaults, the documented examples, and the ci/ feature matrix.
cases=("default:")
for f in "$CHART"/examples/*.yaml "$CHART"/ci/*.yaml; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .yaml)
  case " ${cases[*]} " in *" $name:"*) die "duplicate values-file name $name";; esac
  cases+=("$name:$f")
done

for c in "${cases[@]}"; do
  name=${c%%:*}; file=${c#*:}
  args=(); [ -n "$file" ] && args=(-f "$file")
  log "lint     $name"
  "$HELM" lint --strict --kube-version "$KUBE_VERSION" "$CHART" "${args[@]}" >"$OUT/lint.log" 2>&1 \
    || { cat "$OUT/lint.log" >&2; die "helm lint ($name)"; }
  log "template $name"
  "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$KUBE_VERSION" \
    "${args[@]}" >"$OUT/$name.yaml" || die "helm template ($name)"
done

log "go test ./... in tests/chart"
cd "$ROOT/tests/chart"
export SY_CHART_RENDERED="$OUT" SY_HELM="$HELM" SY_KUBE_VERSION="$KUBE_VERSION" \
  SY_RELEASE="$RELEASE" SY_NAMESPACE="$NAMESPACE"
go vet ./...
go test -count=1 ./...

log "chart-check passed in $(( $(date +%s) - START ))s"
