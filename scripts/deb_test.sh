#!/usr/bin/env bash
# Installs the .deb that scripts/package.sh built and checks it, then purges
# it and checks that nothing is left. Run as root on a machine without
# rampart installed (CI: .ci/run). Two rounds:
#   1. the shipped policy (no admin key yet, so invalid): installed, unit not
#      enabled, firewall untouched, `rampart --version`, a static binary,
#      systemd-analyze verify on the installed unit; purge leaves nothing.
#   2. a valid policy already in /etc/rampart: unit enabled, not started,
#      firewall untouched; purge leaves nothing.
# Then lintian, when installed. Prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
deb=$(ls dist/rampart_*.deb | head -1)
[ -f "$deb" ] || { echo "no dist/rampart_*.deb: run scripts/package.sh" >&2; exit 2; }
passed=0 failed=0
check() { # NAME COMMAND...
  local name=$1; shift
  if "$@" >/tmp/deb_test.out 2>&1; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' /tmp/deb_test.out; fi
}
no_table() { ! nft list table inet rampart >/dev/null 2>&1; }
wants=/etc/systemd/system/multi-user.target.wants/rampart-guard.service
left_behind() {
  local left=""
  for p in /usr/bin/rampart /lib/systemd/system/rampart-guard.service /etc/rampart /var/lib/rampart \
           /usr/share/doc/rampart /usr/share/lintian/overrides/rampart "$wants" /var/lib/systemd/deb-systemd-helper-enabled/rampart-guard.service.dsh-also; do
    if [ -e "$p" ] || [ -L "$p" ]; then left="$left $p"; fi
  done
  getent passwd rampart >/dev/null && left="$left user:rampart"
  getent group rampart >/dev/null && left="$left group:rampart"
  dpkg -s rampart >/dev/null 2>&1 && left="$left dpkg:rampart"
  [ -z "$left" ] || { echo "left behind:$left"; return 1; }
}

if dpkg -s rampart >/dev/null 2>&1; then echo "rampart is already installed; refusing to test over it" >&2; exit 2; fi
had_table=0; nft list table inet rampart >/dev/null 2>&1 && had_table=1

# Round 1: the shipped (invalid) policy.
check "dpkg -i" dpkg -i "$deb"
check "rampart --version" sh -c 'rampart --version | grep -F "$(dpkg-query -W -f="\${Version}" rampart)"'
# One static binary, no cgo: no program interpreter (ld.so) to load.
check "static binary" sh -c 'LC_ALL=C ldd /usr/bin/rampart 2>&1 | grep -Fx "	not a dynamic executable"'
check "systemd-analyze verify on the installed unit" sh -c 'out=$(systemd-analyze verify /lib/systemd/system/rampart-guard.service 2>&1); echo "$out"; [ -z "$out" ]'
check "policy.toml is a conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" rampart | grep -q "/etc/rampart/policy.toml"'
check "invalid policy: unit not enabled" test ! -e "$wants"
check "user and group created" sh -c 'getent passwd rampart && getent group rampart'
[ "$had_table" = 1 ] || check "install left the firewall alone" no_table
check "dpkg --purge" dpkg --purge rampart
check "purge left nothing" left_behind

# Round 2: a valid policy is already there.
mkdir -p /etc/rampart
cat > /etc/rampart/policy.toml <<'TOML'
[[admin.users]]
name = "alice"
authorized_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINTHgWLSnHH0esUyX49C/6aDot69QW/Of8bllP6gQLks alice@laptop"]
TOML
check "dpkg -i over a valid policy" dpkg -i --force-confold "$deb"
check "valid policy kept" grep -q alice /etc/rampart/policy.toml
check "valid policy: unit enabled" test -L "$wants"
[ "$had_table" = 1 ] || check "install left the firewall alone (valid policy)" no_table
check "dpkg --purge (valid policy)" dpkg --purge rampart
check "purge left nothing (valid policy)" left_behind

if command -v lintian >/dev/null; then
  check "lintian" sh -c "lintian --fail-on error,warning --suppress-tags-from-file /dev/null '$deb'"
else
  echo "skip lintian: not installed"
fi
echo "deb: ${passed} passed, ${failed} failed"
[ "$failed" = 0 ]
