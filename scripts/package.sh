#!/usr/bin/env bash
# Builds the Debian package dist/rampart_VERSION_ARCH.deb with nfpm (run
# from the Go module proxy, version pinned): the static binary (version
# stamped), rampart-guard.service, /etc/rampart/policy.toml as a conffile
# (the commented default of 'rampart policy init') and the maintainer
# scripts in packaging/debian.
#   VERSION=1.2.3 bash scripts/package.sh     # default: 0.1.0+gitDATE.REV
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0

if [ -z "${VERSION:-}" ]; then
  rev=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d)
  VERSION="0.1.0+git${date}.${rev}"
fi
ARCH=$(go env GOARCH)
DIST=$(pwd)/dist
mkdir -p "$DIST"
rm -f "$DIST"/rampart_*.deb

BIN="$DIST/rampart"
CGO_ENABLED=0 go build -trimpath -buildvcs=false \
  -ldflags "-s -w -X github.com/rampart-sec/rampart/internal/version.Version=${VERSION}" \
  -o "$BIN" ./cmd/rampart
POLICY="$DIST/policy.toml"
"$BIN" policy init > "$POLICY"
gzip -9n < README.md > "$DIST/README.md.gz"
printf 'rampart (%s) unstable; urgency=medium\n\n  * Package built by scripts/package.sh.\n\n -- rampart developers <dev@rampart.invalid>  %s\n' \
  "$VERSION" "$(date -u -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")" | gzip -9n > "$DIST/changelog.gz"

export VERSION ARCH
(cd packaging && go run "$NFPM" package --config nfpm.yaml --packager deb --target "$DIST/")
ls "$DIST"/rampart_*.deb
