#!/bin/bash
# capture-proc.sh records, for each sshd listening set-up of the ss-*.txt
# captures, what the kernel shows without ss: /proc/net/sockstat{,6},
# /proc/net/tcp{,6} and the listening sshd's /proc/PID/fdinfo/*, as
# hosttest fixtures (proc-NAME.txtar), beside `ss -Htlnp` of the same
# moment. Run as root:  sudo internal/netcheck/testdata/capture-proc.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/rampart-netcap.XXXXXX)
ns=ncap$$
cleanup() {
	[ -f "$tmp/pid" ] && kill "$(cat "$tmp/pid")" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
ip netns add "$ns"
ip -n "$ns" link set lo up
ip link add "ncapa$$" type veth peer name "ncapb$$"
ip link set "ncapa$$" netns "$ns"
ip -n "$ns" link set "ncapa$$" name tailscale0
ip link add "ncapc$$" type veth peer name "ncapd$$"
ip link set "ncapc$$" netns "$ns"
ip -n "$ns" link set "ncapc$$" name eth0
ip -n "$ns" addr add 100.64.0.1/32 dev tailscale0
ip -n "$ns" addr add 203.0.113.1/24 dev eth0
ip -n "$ns" link set tailscale0 up
ip -n "$ns" link set eth0 up
capture() { # name comment listen...
	local name=$1 comment=$2
	shift 2
	local args=()
	for l in "$@"; do args+=(-o "ListenAddress=$l"); done
	ip netns exec "$ns" /usr/sbin/sshd -D -f /dev/null -o "HostKey=$tmp/hostkey" -o PidFile=none "${args[@]}" &
	echo $! > "$tmp/pid"
	local pid
	pid=$(cat "$tmp/pid")
	for _ in $(seq 100); do
		[ -n "$(ip netns exec "$ns" ss -Htln)" ] && break
		sleep 0.05
	done
	sleep 0.2
	{
		echo "$comment"
		echo "Captured by capture-proc.sh: sshd -D -f /dev/null ${args[*]} in a scratch namespace (pid $pid)."
		echo "ss -Htlnp at the same moment:"
		ip netns exec "$ns" ss -Htlnp
		for f in /proc/net/sockstat /proc/net/sockstat6 /proc/net/tcp /proc/net/tcp6; do
			echo "-- file $f --"
			ip netns exec "$ns" cat "$f"
		done
		for f in /proc/"$pid"/fdinfo/*; do
			echo "-- file $f --"
			cat "$f"
		done
	} > "$here/proc-$name.txtar"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -f "$tmp/pid"
}
capture wildcard "sshd on every address (IPv4 and IPv6 wildcards)." 0.0.0.0:22 "[::]:22"
capture tailnet "sshd on the tailnet address and loopback only." 100.64.0.1:22 127.0.0.1:22
capture public "sshd on the public address only." 203.0.113.1:22
capture port2222 "sshd on port 2222, every IPv4 address." 0.0.0.0:2222
