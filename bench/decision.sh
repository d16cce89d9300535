#!/usr/bin/env bash
# Decision-run and restore benchmarks for `rampart guard run` (issue 4),
# with the fail2ban daemon measured in the same run.
#
#   sudo bench/decision.sh [LINES]      (default 100000)
#
# Decision run: a fresh network namespace, the daemon following an empty
# log file; LINES lines of gen-authlog.py (timestamps ending now, 200 lines
# per second of log time, so every failure is inside findtime) are appended
# at once; the clock stops when the last expected ban is in the nft set
# (polled every ~10 ms with `nft list set`). Policy for both tools:
# maxretry 5, findtime 10m, bantime 1h (ban-anchors.md §6.3). fail2ban:
# polling backend, banaction nftables, temp config, its own namespace.
#
# Restore: 10000 stored bans, daemon start to "bans restored" (one netlink
# transaction); the Go benchmark BenchmarkRestore10k in internal/guard/nft
# measures the transaction alone.
#
# Nothing touches the host's ruleset: every nft change happens inside the
# namespaces this script creates (prefix gdb) and deletes on exit.
set -euo pipefail
LINES=${1:-100000}
RATE=200
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/gd-bench.XXXXXX)
NS=gdb$$r
NS2=gdb$$f
NS3=gdb$$s
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.2
	for n in $NS $NS2 $NS3; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		ip netns del "$n" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, nftables)" >&2; exit 2; }
for n in $NS $NS2 $NS3; do ip netns add "$n"; ip -n "$n" link set lo up; done

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
(cd "$ROOT" && "$GO" build -o "$W/rampart" ./cmd/rampart)
GEN=$ROOT/bench/gen-authlog.py
[ -f "$GEN" ] || GEN=/work/shared/bench/gen-authlog.py

# Timestamps end now (syslog time is local time).
START=$(python3 -c "import datetime,sys; print((datetime.datetime.now()-datetime.timedelta(seconds=$LINES/$RATE)).strftime('%Y-%m-%d %H:%M:%S'))")
python3 "$GEN" --lines "$LINES" --rate "$RATE" --start "$START" --out "$W/corpus.log" >/dev/null

cat >"$W/policy.toml" <<EOF
[ban]
bantime = "1h"
findtime = "10m"
maxretry = 5
ignore = ["127.0.0.1/8", "::1"]

[ban.jails.sshd]
enabled = true
filter = "sshd"
mode = "normal"
source = "file"
paths = ["$W/live.log"]
maxretry = 5

[ban.jails.nginx-noscript]
enabled = false
EOF

WANT=$("$W/rampart" guard test "$W/corpus.log" -p "$W/policy.toml" --jail sshd --format json |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["bans"]))')
echo "corpus: $LINES lines, expected bans (rampart guard test, same policy): $WANT"

count() { # addresses in the named sets of table $2 in namespace $1
	local ns=$1 table=$2
	shift 2
	local s
	for s in "$@"; do
		ip netns exec "$ns" nft list set inet "$table" "$s" 2>/dev/null | sed -n '/elements/,$p'
	done | grep -oE '\b[0-9]{1,3}(\.[0-9]{1,3}){3}\b|\b[0-9a-f]{1,4}:[0-9a-f:]+' | wc -l
}
now() { echo "${EPOCHREALTIME/./}"; } # microseconds
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }
over() { [ $(($(now) - $1)) -gt $(($2 * 1000000)) ]; } # over T0 SECONDS

# --- rampart ---------------------------------------------------------------
: >"$W/live.log"
ip netns exec $NS "$W/rampart" guard run -p "$W/policy.toml" --state-dir "$W/state" --socket "$W/run/g.sock" 2>"$W/daemon.log" &
RP=$!
PIDS+=("$RP")
for _ in $(seq 100); do ip netns exec $NS nft list table inet rampart >/dev/null 2>&1 && break; sleep 0.05; done
sleep 0.3
T0=$(now)
cat "$W/corpus.log" >>"$W/live.log"
while [ "$(count $NS rampart banned4 banned6)" -lt "$WANT" ]; do
	sleep 0.01
	if over "$T0" 60; then echo "rampart: timeout" >&2; break; fi
done
T1=$(now)
GOT=$(count $NS rampart banned4 banned6)
RSS=$(awk '/VmHWM/ {print $2" "$3}' /proc/$RP/status)
CPU=$(awk '{printf "%.2f", ($14+$15)/100}' /proc/$RP/stat)
echo "rampart: last ban in nftables after $(elapsed "$T0" "$T1") s by polling nft ($GOT elements), daemon CPU ${CPU} s, peak RSS $RSS"
LAST=$(grep '"msg":"ban"' "$W/daemon.log" | tail -1 | grep -o '"time":"[^"]*"' | cut -d'"' -f4)
echo "rampart: last ban decided (daemon log) $(awk -v a="$T0" -v b="$(date -d "$LAST" +%s%6N)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }') s after the append"
kill $RP
wait $RP 2>/dev/null || true

# --- restore 10k bans ------------------------------------------------------
mkdir -p "$W/state3"
python3 - "$W/state3/guard-state.json" <<'EOF'
import json, sys, datetime
until = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat()
bans = []
for i in range(10000):
    if i % 4 == 3:
        p = "2001:db8:%x:%x::/64" % (i >> 8, i & 0xff)
    else:
        p = "10.%d.%d.%d/32" % (i >> 16, (i >> 8) & 0xff, i & 0xff)
    bans.append({"prefix": p, "jail": "sshd", "at": until, "until": until})
json.dump({"version": 1, "bans": bans}, open(sys.argv[1], "w"))
EOF
: >"$W/live3.log"
sed "s|$W/live.log|$W/live3.log|" "$W/policy.toml" >"$W/policy3.toml"
for run in 1 2 3; do
	ip netns del $NS3
	ip netns add $NS3
	: >"$W/daemon3.log"
	ip netns exec $NS3 "$W/rampart" guard run -p "$W/policy3.toml" --state-dir "$W/state3" --socket "$W/run3/g.sock" 2>"$W/daemon3.log" &
	SP=$!
	PIDS+=("$SP")
	for _ in $(seq 500); do grep -q '"bans restored"' "$W/daemon3.log" && break; sleep 0.02; done
	N3=$(count $NS3 rampart banned4 banned6)
	TOOK=$(grep -o '"bans restored".*"took":"[^"]*"' "$W/daemon3.log" | grep -o '"took":"[^"]*"' | cut -d'"' -f4)
	echo "restore run $run: $N3 elements in nftables at start; the restore transaction took $TOOK"
	kill $SP
	wait $SP 2>/dev/null || true
done

# --- fail2ban daemon -------------------------------------------------------
if command -v fail2ban-server >/dev/null; then
	F=$W/f2b
	mkdir -p "$F"
	cp -r /etc/fail2ban "$F/etc"
	rm -f "$F"/etc/jail.d/* "$F"/etc/jail.local "$F"/etc/fail2ban.d/*
	cat >"$F/etc/fail2ban.local" <<EOF
[Definition]
logtarget = $F/fail2ban.log
socket = $F/fail2ban.sock
pidfile = $F/fail2ban.pid
dbfile = $F/fail2ban.sqlite3
EOF
	cat >"$F/etc/jail.local" <<EOF
[DEFAULT]
backend = polling
usedns = no
ignoreself = false
ignoreip = 127.0.0.1/8 ::1
banaction = nftables
banaction_allports = nftables[type=allports]

[sshd]
enabled = true
backend = polling
port = 22
logpath = $W/f2b-live.log
maxretry = 5
findtime = 600
bantime = 3600
EOF
	: >"$W/f2b-live.log"
	ip netns exec $NS2 fail2ban-server -c "$F/etc" -f -x >"$F/server.out" 2>&1 &
	FP=$!
	PIDS+=("$FP")
	for _ in $(seq 200); do fail2ban-client -c "$F/etc" status sshd >/dev/null 2>&1 && break; sleep 0.05; done
	sleep 1
	T0=$(now)
	cat "$W/corpus.log" >>"$W/f2b-live.log"
	while [ "$(count $NS2 f2b-table addr-set-sshd addr6-set-sshd)" -lt "$WANT" ]; do
		sleep 0.05
		if over "$T0" 180; then echo "fail2ban: timeout" >&2; break; fi
	done
	T1=$(now)
	GOTF=$(count $NS2 f2b-table addr-set-sshd addr6-set-sshd)
	RSSF=$(awk '/VmHWM/ {print $2" "$3}' /proc/$FP/status)
	CPUF=$(awk '{printf "%.2f", ($14+$15)/100}' /proc/$FP/stat)
	echo "fail2ban $(fail2ban-server -V 2>/dev/null | head -1): last ban in nftables after $(elapsed "$T0" "$T1") s by polling nft ($GOTF elements), server CPU ${CPUF} s (nft children not included), peak RSS $RSSF"
	LASTF=$(grep 'NOTICE.*\] Ban ' "$F/fail2ban.log" | tail -1 | cut -c1-23 | tr , .)
	echo "fail2ban: last Ban notice (its log) $(awk -v a="$T0" -v b="$(date -d "$LASTF" +%s%6N)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }') s after the append"
	fail2ban-client -c "$F/etc" stop >/dev/null 2>&1 || true
fi

