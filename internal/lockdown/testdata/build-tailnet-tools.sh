#!/bin/bash
# Builds the programs TestE2ERealTailnet needs (tailscale, tailscaled and
# headscale, pinned) from the Go module proxy into DIR, default
# /usr/local/lib/rampart/tailnet (where the test looks; scripts/setup.sh
# runs this). They are test tools: not in go.mod, not in the repository.
# Another DIR: RAMPART_TAILNET_BIN=DIR go test ./internal/lockdown -run RealTailnet
set -euo pipefail
dir=${1:-/usr/local/lib/rampart/tailnet}
TAILSCALE=v1.102.5 # needs go >= 1.26.6
HEADSCALE=v0.28.0  # needs go >= 1.25.5
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
GOBIN="$dir" go install "tailscale.com/cmd/tailscale@$TAILSCALE" "tailscale.com/cmd/tailscaled@$TAILSCALE"
# headscale: `go install pkg@version` fails (the proxy refuses headscale's
# version list, which go install reads for deprecation notices), so build it
# from a scratch module. One of its dependencies (tailsql) is missing from
# the checksum database: fetch that one without it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init rampart-tailnet-tools >/dev/null 2>&1
export GONOSUMDB=github.com/tailscale/tailsql
go get "github.com/juanfont/headscale/cmd/headscale@$HEADSCALE"
go build -o "$dir/headscale" github.com/juanfont/headscale/cmd/headscale
echo "RAMPART_TAILNET_BIN=$dir"
