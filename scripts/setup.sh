#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine to build rampart and run all its tests:
# the system packages the tests use for real (OpenSSH, nftables, auditd,
# chrony, journal files, nix-instantiate, the peers fail2ban and sshguard),
# a Go toolchain new enough for go.mod (fetched through the Go module
# proxy when the machine's Go is too old) and the tailnet test tools
# (tailscale and headscale, built from the module proxy). Must run as
# root. Idempotent. --no-tailnet-tools skips that build (enough to build
# and run rampart; the real-tailnet E2E test then fails under RAMPART_E2E=1).
set -euo pipefail
cd "$(dirname "$0")/.."
tailnet_tools=1
for a in "$@"; do
  case $a in
    --no-tailnet-tools) tailnet_tools=0 ;;
    *) echo "scripts/setup.sh: unknown argument $a (expected --no-tailnet-tools)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/setup.sh: run as root (sudo bash scripts/setup.sh)" >&2
  exit 2
fi

# Never let package installation start services on this machine: the tests
# start their own daemons in namespaces and temporary paths.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi

# No service is started, so there is no /run/sshd (sshd's privilege-separation
# directory, made by ssh.service; /run is a tmpfs, so it would not survive a
# reboot anyway): nothing here provides it and no test may rely on it. Every
# test that starts sshd gets it from testenv.SSHD, which creates it.
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  ca-certificates git iproute2 procps util-linux psmisc python3 \
  nftables iptables openssh-server openssh-client sshpass \
  auditd chrony systemd systemd-journal-remote nix-bin \
  fail2ban sshguard lynis ssh-audit sudo lintian chromium >/dev/null

# Go: use /usr/local/go or PATH's go when it satisfies go.mod; otherwise
# bootstrap Debian's golang-go and fetch the exact toolchain from the module
# proxy (golang.org/toolchain), then link it as /usr/local/go.
want=$(awk '/^go /{print $2}' go.mod)
have_ok() {
  local g=$1
  [ -x "$g" ] || return 1
  local v; v=$("$g" env GOVERSION 2>/dev/null | sed 's/^go//') || return 1
  [ "$(printf '%s\n%s\n' "$want" "$v" | sort -V | head -1)" = "$want" ]
}
if have_ok /usr/local/go/bin/go || have_ok "$(command -v go || true)"; then
  :
else
  apt-get install -y -q golang-go >/dev/null
  tmp=$(mktemp -d)
  (cd "$tmp" && GOFLAGS=-modcacherw GOPATH="$tmp/gopath" /usr/bin/go mod download -json \
     "golang.org/toolchain@v0.0.1-go${want}.linux-$(dpkg --print-architecture)" > dl.json)
  dir=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Dir"])' "$tmp/dl.json")
  rm -rf /usr/local/go && cp -a "$dir" /usr/local/go
  chmod -R u+w /usr/local/go && chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
  rm -rf "$tmp"
fi
if ! command -v go >/dev/null; then
  ln -sf /usr/local/go/bin/go /usr/local/bin/go
  ln -sf /usr/local/go/bin/gofmt /usr/local/bin/gofmt
fi
go version
go mod download

# The real-tailnet lockdown E2E needs tailscale, tailscaled and headscale,
# which Debian 12 does not package: build the pinned versions from the Go
# module proxy (about 9 minutes cold on 2 cores), once per script version.
tn=/usr/local/lib/rampart/tailnet
stamp=$(sha256sum internal/lockdown/testdata/build-tailnet-tools.sh | cut -d' ' -f1)
if [ "$tailnet_tools" = 1 ] && { [ "$(cat "$tn/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -x "$tn/headscale" ]; }; then
  echo "building tailscale, tailscaled and headscale into $tn"
  bash internal/lockdown/testdata/build-tailnet-tools.sh "$tn" > /tmp/rampart-tailnet-build.log 2>&1 || {
    tail -30 /tmp/rampart-tailnet-build.log >&2; exit 1; }
  echo "$stamp" > "$tn/.stamp"
fi
echo "setup complete"
