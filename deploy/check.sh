#!/usr/bin/env bash
# deploy/check.sh: the deployment checks CI can run without a Docker engine.
# Called by .ci/run from the repository root (or any directory).
#
#   1. promtool check config deploy/prometheus.yml (Debian's prometheus
#      package is installed if promtool is missing).
#   2. docker compose config -q, if a docker compose plugin is installed
#      (it only parses and interpolates; no engine is needed).
#
# The Go tests in this folder (go test ./deploy/) cover the rest: mounted
# paths exist, image pins, build contexts, scrape targets, dashboard metrics.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null 2>&1; then
  echo "deploy/check.sh: promtool missing; installing Debian's prometheus package" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends: promtool only; the daemon is not started.
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
echo "== promtool check config deploy/prometheus.yml"
promtool check config deploy/prometheus.yml

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  echo "== docker compose config -q"
  docker compose -f docker-compose.yml config -q
  echo "docker-compose.yml: OK"
else
  echo "== docker compose plugin not installed; skipping 'docker compose config' (go test ./deploy/ parses the file)"
fi
