#!/usr/bin/env bash
# Installs what the test suite runs against: a redis-server binary (tests
# start their own on a free port), Debian's python3-websockets (the
# documents' Python samples) and nodejs (their JavaScript samples; they need
# WebSocket, node 20 or later: Debian 13 has it, Debian 12 ships 18, where
# tests/samples skips the Node samples with that reason). Uses apt-get when
# run as root, sudo otherwise.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
# tests/redisha: redis-cli creates the Cluster (Sentinel is redis-server --sentinel)
command -v redis-cli >/dev/null 2>&1 || [ -x /usr/bin/redis-cli ] || need+=(redis-tools)
/usr/bin/python3 -c 'import websockets' >/dev/null 2>&1 || need+=(python3-websockets)
command -v node >/dev/null 2>&1 || need+=(nodejs)
# tests/browser drives the web console in Debian's chromium (headless).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

echo "test-deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
