#!/bin/bash
# capture.sh regenerates the captured-output fixtures in this directory from
# the real programs (OpenSSH sshd -T, chronyd/chronyc, fail2ban, /proc/sys
# of a scratch network namespace). Run as root on a Debian machine with
# scripts/setup.sh applied:  sudo internal/verify/testdata/capture.sh
#
# Every "exec" section holds the real output of the real program; only the
# config path inside command lines is relabelled to what the fixture's
# process table says (/etc/ssh/sshd_config), since the evaluator runs
# `sshd -T -f <the -f of the running process>`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/rampart-capture.XXXXXX)
ns=vfcap$$
cleanup() {
	for p in "$tmp"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
	fail2ban-client -s "$tmp/f2b.sock" stop >/dev/null 2>&1 || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"

# ---- ssh ----------------------------------------------------------------
hardened="Port 22
HostKey $tmp/hostkey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxAuthTries 3
ClientAliveInterval 300
ClientAliveCountMax 2
AllowTcpForwarding no
X11Forwarding no
UsePAM yes"
printf '%s\n' "$hardened" >"$tmp/hardened.conf"
printf '%s\nMatch Address 100.64.0.0/10\n    PasswordAuthentication yes\n' "$hardened" >"$tmp/match.conf"
cat >"$tmp/weak.conf" <<EOC
Port 22
HostKey $tmp/hostkey
PasswordAuthentication yes
PermitRootLogin yes
X11Forwarding yes
UsePAM yes
EOC

sshfix() { # name config comment
	local name=$1 cfg=$2 comment=$3 f="$here/ssh_$1.txtar"
	{
		echo "$comment"
		echo "Captured by capture.sh from /usr/sbin/sshd -T ($(/usr/sbin/sshd -V 2>&1 | head -1))."
		echo "-- file /proc/812/cmdline --"
		echo "sshd: /usr/sbin/sshd -D -f /etc/ssh/sshd_config [listener] 0 of 10-100 startups"
		echo "-- file /proc/1/cmdline --"
		echo "/sbin/init"
		echo "-- exec /usr/sbin/sshd -T -f /etc/ssh/sshd_config --"
		/usr/sbin/sshd -T -f "$cfg"
		# Each spec with the listen port, and without it: the form run
		# when no Match line names the local address or port.
		for l in ,lport=22 ''; do
			for u in root nobody; do
				for a in 100.101.102.103 203.0.113.7; do
					spec="user=$u,host=$a,addr=$a$l"
					echo "-- exec /usr/sbin/sshd -T -f /etc/ssh/sshd_config -C $spec --"
					/usr/sbin/sshd -T -f "$cfg" -C "$spec"
				done
			done
		done
	} >"$f"
}
sshfix hardened "$tmp/hardened.conf" "A hardened sshd: every policy key holds for every connection spec."
sshfix match "$tmp/match.conf" "Hardened, plus Match Address 100.64.0.0/10 re-enabling passwords: only the tailnet specs fail."
sshfix weak "$tmp/weak.conf" "Debian-like defaults with password and root login on."
{
	echo "sshd -T run by an unprivileged user cannot load the host key."
	echo "-- user nobody --"
	echo "-- file /proc/812/cmdline --"
	echo "sshd: /usr/sbin/sshd -D -f /etc/ssh/sshd_config [listener] 0 of 10-100 startups"
	echo "-- exec.stderr /usr/sbin/sshd -T -f /etc/ssh/sshd_config --"
	chmod 600 "$tmp/hostkey"
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/sshd -T -f "$tmp/hardened.conf" 2>&1 >/dev/null | sed "s#$tmp/hostkey#/etc/ssh/ssh_host_ed25519_key#" || true
	echo "-- exec.exit /usr/sbin/sshd -T -f /etc/ssh/sshd_config --"
	setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/sshd -T -f "$tmp/hardened.conf" >/dev/null 2>&1 && echo 0 || echo $?
} >"$here/ssh_notroot.txtar"

# ---- time ---------------------------------------------------------------
mkdir -m 700 "$tmp/run"
cat >"$tmp/srv.conf" <<EOC
local stratum 8
allow 127.0.0.0/8
port 11123
bindcmdaddress $tmp/run/srv.sock
pidfile $tmp/srv.pid
EOC
cat >"$tmp/cli.conf" <<EOC
server 127.0.0.1 port 11123 iburst minpoll -6 maxpoll -6
port 0
bindcmdaddress $tmp/run/cli.sock
pidfile $tmp/cli.pid
EOC
sed "s/11123/11999/; s/cli\./uns./g" "$tmp/cli.conf" >"$tmp/uns.conf"
for c in srv cli uns; do ip netns exec "$ns" chronyd -u root -x -f "$tmp/$c.conf"; done
for i in $(seq 50); do
	chronyc -h "$tmp/run/cli.sock" -n -c tracking 2>/dev/null | grep -q '^7F000001' && break
	sleep 0.2
done
timefix() { # name socket comment
	{
		echo "$3"
		echo "Captured by capture.sh from chronyd/chronyc ($(chronyc --version | head -1))."
		echo "-- exec chronyc -n -c tracking --"
		chronyc -h "$2" -n -c tracking || true
	} >"$here/time_$1.txtar"
}
timefix synced "$tmp/run/cli.sock" "A chronyd client synchronised to a chronyd server on loopback."
timefix local "$tmp/run/srv.sock" "A chronyd whose only source is its own clock (local stratum 8): refid 7F7F0101, leap Normal, not synchronised."
timefix unsynced "$tmp/run/uns.sock" "A chronyd whose server never answers."
{
	echo "No chronyd runs: chronyc cannot reach it."
	echo "-- exec chronyc -n -c tracking --"
	chronyc -h "$tmp/run/none.sock" -n -c tracking 2>/dev/null || true
	echo "-- exec.stderr chronyc -n -c tracking --"
	chronyc -h "$tmp/run/none.sock" -n -c tracking 2>&1 >/dev/null || true
	echo "-- exec.exit chronyc -n -c tracking --"
	chronyc -h "$tmp/run/none.sock" -n -c tracking >/dev/null 2>&1 && echo 0 || echo $?
} >"$here/time_nodaemon.txtar"

# ---- sysctl -------------------------------------------------------------
ip -n "$ns" link add eth0 type veth peer name eth1
sysfix() { # name comment
	{
		echo "$2"
		echo "Captured by capture.sh from /proc/sys in a scratch network namespace (kernel $(uname -r))."
		ip netns exec "$ns" sh -c '
			for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/tcp_syncookies /proc/sys/net/ipv4/tcp_max_syn_backlog /proc/sys/net/ipv4/tcp_synack_retries /proc/sys/net/ipv4/conf/*/accept_redirects /proc/sys/net/ipv4/conf/*/send_redirects /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/forwarding; do
				echo "-- file $f --"; cat "$f"
			done'
	} >"$here/sysctl_$1.txtar"
}
sysfix fresh "A fresh network namespace with a veth pair eth0/eth1: kernel defaults."
for k in net.ipv4.ip_forward=0 net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.all.rp_filter=1 net.ipv4.tcp_syncookies=1 net.ipv4.tcp_max_syn_backlog=2048 net.ipv4.tcp_synack_retries=2; do
	ip netns exec "$ns" sysctl -qw "$k"
done
sysfix allonly "The seed's keys written to conf.all only, after eth0 existed: eth0, eth1, lo and default keep accept_redirects=1, send_redirects=1."
for k in net.ipv4.conf.default.accept_redirects=0 net.ipv4.conf.default.send_redirects=0 net.ipv4.conf.default.rp_filter=1 net.ipv4.conf.eth0.accept_redirects=0 net.ipv4.conf.eth1.accept_redirects=0 net.ipv4.conf.lo.accept_redirects=0 net.ipv4.conf.eth0.send_redirects=0 net.ipv4.conf.eth1.send_redirects=0 net.ipv4.conf.lo.send_redirects=0; do
	ip netns exec "$ns" sysctl -qw "$k"
done
sysfix hardened "The seed's keys on all, default and every interface."

# ---- ban ----------------------------------------------------------------
mkdir "$tmp/f2b"
cp -r /etc/fail2ban/filter.d /etc/fail2ban/action.d /etc/fail2ban/paths-*.conf "$tmp/f2b/"
touch "$tmp/auth.log"
cat >"$tmp/f2b/fail2ban.conf" <<EOC
[Definition]
logtarget = $tmp/f2b.log
socket = $tmp/f2b.sock
pidfile = $tmp/f2b.pid
dbfile = :memory:
EOC
f2bstart() { # banaction
	cat >"$tmp/f2b/jail.conf" <<EOC
[INCLUDES]
before = paths-debian.conf
[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 3
ignoreip = 127.0.0.1/8 ::1 $2
banaction = $1
backend = polling
action = %(banaction)s[port="0:65535", protocol="tcp", chain="input"]
[sshd]
enabled = true
filter = sshd
logpath = $tmp/auth.log
EOC
	ip netns exec "$ns" fail2ban-client -c "$tmp/f2b" start >/dev/null 2>&1
}
banfix() { # name comment
	local S="-s $tmp/f2b.sock"
	{
		echo "$2"
		echo "Captured by capture.sh from a real fail2ban-server ($(fail2ban-client --version)) in a scratch namespace."
		echo "-- file /var/run/fail2ban/fail2ban.sock --"
		echo "-- file /etc/fail2ban/jail.conf --"
		for c in status "get sshd bantime" "get sshd findtime" "get sshd maxretry" "get sshd ignoreip" "get sshd actions"; do
			echo "-- exec fail2ban-client $c --"
			fail2ban-client $S $c 2>&1 | sed '/WARNING/d' || true
		done
		# What verify sends: every value of the active policy jail, in one client.
		echo "-- exec fail2ban-client -i --"
		printf 'get sshd bantime\nget sshd findtime\nget sshd maxretry\nget sshd ignoreip\nget sshd actions\n' |
			fail2ban-client $S -i 2>/dev/null || true
	} >"$here/ban_$1.txtar"
}
f2bstart nftables-multiport ""
banfix running "fail2ban running with the seed's values, an nftables ban action and only the sshd jail."
fail2ban-client -s "$tmp/f2b.sock" stop >/dev/null 2>&1
sleep 0.5
f2bstart dummy "0.0.0.0/0"
banfix dummy "fail2ban running, but banning through the dummy action and ignoring every IPv4 address."
fail2ban-client -s "$tmp/f2b.sock" stop >/dev/null 2>&1
sleep 0.5
{
	echo "fail2ban installed and enabled, but the server is stopped (Lynis calls this enabled)."
	echo "The socket is left in place (as after a crash), so the client is asked."
	echo "-- file /var/run/fail2ban/fail2ban.sock --"
	echo "-- file /etc/fail2ban/jail.conf --"
	echo "-- exec fail2ban-client status --"
	echo "-- exec.stderr fail2ban-client status --"
	fail2ban-client -s "$tmp/f2b.sock" status 2>&1 | sed "s#$tmp/f2b.sock#/var/run/fail2ban/fail2ban.sock#" || true
	echo "-- exec.exit fail2ban-client status --"
	fail2ban-client -s "$tmp/f2b.sock" status >/dev/null 2>&1 && echo 0 || echo $?
	echo "-- exec systemctl is-enabled fail2ban --"
	systemctl is-enabled fail2ban || true
} >"$here/ban_stopped.txtar"

# ---- rampart guard (needs a built rampart: RAMPART=/path/to/rampart) -----
if [ -n "${RAMPART:-}" ]; then
	mkdir "$tmp/guard"
	"$RAMPART" guard run --dry-run --state-dir "$tmp/guard" --socket "$tmp/guard/guard.sock" --jail sshd >/dev/null 2>&1 &
	gpid=$!
	for i in $(seq 50); do [ -S "$tmp/guard/guard.sock" ] && break; sleep 0.1; done
	{
		echo "rampart guard running (captured from 'rampart guard run --dry-run --jail sshd' then"
		echo "'rampart guard status --json'; socket path relabelled to the policy default)."
		echo "-- file /proc/4242/cmdline --"
		cat "/proc/$gpid/cmdline"
		echo
		echo "-- file /run/rampart/guard.sock --"
		echo "-- exec rampart guard status --json --socket /run/rampart/guard.sock --"
		"$RAMPART" guard status --json --socket "$tmp/guard/guard.sock"
	} >"$here/ban_guard.txtar"
	kill "$gpid"
fi
echo "fixtures written to $here"
