#!/usr/bin/env bash
# Optional: a local image registry for the kind cluster from k8s/kind.yaml, so
# Tilt pushes to localhost:5001 instead of `kind load`-ing every build.
# Run after `kind create cluster --config k8s/kind.yaml`. Idempotent.
set -euo pipefail

CLUSTER=${CLUSTER:-switchyard}
REG_NAME=${REG_NAME:-kind-registry}
REG_PORT=${REG_PORT:-5001}

# 1. registry container on the host, 127.0.0.1:5001 -> :5000
if [ "$(docker inspect -f '{{.State.Running}}' "$REG_NAME" 2>/dev/null || true)" != 'true' ]; then
  docker run -d --restart=always -p "127.0.0.1:${REG_PORT}:5000" --network bridge --name "$REG_NAME" registry:2
fi

# 2. containerd on every node: localhost:5001 is served by the registry container
#    (k8s/kind.yaml sets config_path = /etc/containerd/certs.d).
REGISTRY_DIR="/etc/containerd/certs.d/localhost:${REG_PORT}"
for node in $(kind get nodes --name "$CLUSTER"); do
  docker exec "$node" mkdir -p "$REGISTRY_DIR"
  printf '[host."http://%s:5000"]\n' "$REG_NAME" | docker exec -i "$node" cp /dev/stdin "$REGISTRY_DIR/hosts.toml"
done

# 3. the registry joins the kind network so nodes can resolve it by name
if [ "$(docker inspect -f '{{json .NetworkSettings.Networks.kind}}' "$REG_NAME")" = 'null' ]; then
  docker network connect kind "$REG_NAME"
fi

# 4. advertise it (KEP-1755); Tilt reads this and pushes to localhost:5001
kubectl --context "kind-${CLUSTER}" apply -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${REG_PORT}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
YAML
echo "registry localhost:${REG_PORT} ready for kind-${CLUSTER}"
