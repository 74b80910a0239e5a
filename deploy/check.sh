#!/usr/bin/env bash
# deploy/check.sh: the deployment checks CI can run without a Docker engine.
# Called by .ci/run from the repository root (or any directory).
#
#   1. promtool check config deploy/prometheus.yml (Debian's prometheus
#      package is installed if promtool is missing).
#   2. docker compose config -q, if a docker compose plugin is installed
#      (it only parses and interpolates; no engine is needed).
#   3. The example CI workflow deploy/ci/compare.yml: every action pinned by
#      a full commit SHA with its tag as a comment, and actionlint (built
#      from the Go module proxy at a pinned version) on its syntax,
#      expressions and, through shellcheck (Debian's package, installed if
#      missing), its scripts.
#
# The Go tests in this folder (go test ./deploy/) cover the rest: mounted
# paths exist, image pins, build contexts, scrape targets, dashboard metrics,
# the compose scale profile, and every Kubernetes manifest under deploy/k8s
# decoded strictly into its k8s.io/api type (unknown fields fail).
set -euo pipefail
cd "$(dirname "$0")/.."

# apt_install PACKAGE: install a Debian package (once apt's lists are fresh).
apt_updated=""
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$apt_updated" ]; then $sudo apt-get update -qq; apt_updated=1; fi
  # --no-install-recommends: the tool only; no daemon is started.
  $sudo apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

if ! command -v promtool >/dev/null 2>&1; then
  echo "deploy/check.sh: promtool missing; installing Debian's prometheus package" >&2
  apt_install prometheus
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

workflow=deploy/ci/compare.yml
echo "== $workflow: third-party actions pinned by commit"
# A tag can be moved to other code; a commit cannot. Each uses: names
# owner/repo@<40 hex digits> with the tag it was taken from as a comment.
unpinned="$(grep -nE '^[[:space:]]*(-[[:space:]]*)?uses:' "$workflow" | grep -vE 'uses:[[:space:]]*[^@[:space:]]+@[0-9a-f]{40}[[:space:]]+#[[:space:]]*v[0-9]' || true)"
if [ -n "$unpinned" ]; then
  echo "$workflow: pin these by full commit SHA, tag as a comment (e.g. uses: actions/checkout@<sha> # v7.0.1):" >&2
  echo "$unpinned" >&2
  exit 1
fi
echo "$workflow: every action pinned"

echo "== actionlint $workflow"
if ! command -v shellcheck >/dev/null 2>&1; then
  echo "deploy/check.sh: shellcheck missing; installing Debian's shellcheck package" >&2
  apt_install shellcheck
fi
go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 "$workflow"
echo "$workflow: OK"
