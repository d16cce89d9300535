#!/usr/bin/env bash
# Runs every check and test: gofmt (fails on any diff), go vet, staticcheck
# (pinned as a Go tool in go.mod) and go test -race over all packages.
# Tests that need root, namespaces or system programs skip without them,
# unless RAMPART_E2E=1, under which a missing capability is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2; echo "$unformatted" >&2; exit 1
fi
echo "== go mod tidy -diff"
go mod tidy -diff
echo "== go vet"
go vet ./...
# The fleet benchmark (bench/fleet.sh) is a test built only with its tag.
go vet -tags fleetbench ./internal/fleet
echo "== staticcheck"
go tool staticcheck ./...
go tool staticcheck -tags fleetbench ./internal/fleet
# The Debian package: build it, install it on this machine, check it,
# purge it (root only; mandatory under RAMPART_E2E=1).
if [ "$(id -u)" = 0 ]; then
  echo "== Debian package"
  bash scripts/package.sh
  bash scripts/deb_test.sh
elif [ "${RAMPART_E2E:-0}" = 1 ]; then
  echo "RAMPART_E2E=1 but not root: the Debian package test needs root" >&2; exit 1
else
  echo "== Debian package: skipped (needs root)"
fi
echo "== go test -race (RAMPART_E2E=${RAMPART_E2E:-0})"
set +e
go test -race -count=1 -timeout 40m ./... 2>&1 | tee /tmp/rampart-test.log
status=${PIPESTATUS[0]}
set -e
go list -e ./... > /tmp/rampart-packages.txt || true
bash scripts/test-summary.sh /tmp/rampart-test.log /tmp/rampart-packages.txt
exit "$status"
