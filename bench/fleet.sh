#!/usr/bin/env bash
# Fleet benchmarks (issue 11), with CrowdSec measured in the same run.
#
#   sudo bench/fleet.sh [CROWDSEC_SAMPLES]      (default 10)
#
# rampart: internal/fleet's TestBenchFleet (-tags fleetbench) builds the E2E
# topology (three clustered JetStream servers and three `rampart guard run`
# in their own network namespaces) and prints BENCH lines:
#   propagation: a ban made on a through its control socket until the
#     element appears in b's kernel set, 1,000 bans one after another:
#     p50, p99, max;
#   burst: 10,000 bans decided on a from its sshd log until present on all
#     three nodes;
#   catch-up: node c stopped, 100,000 bans stored in the stream (and
#     applied by b), c started until all 100,000 are in its set; then the
#     guards' RSS.
# Each node's sets are watched with a netlink monitor (64 MB buffer, no
# lost events), not listed: a listing of 100,000 elements costs the kernel
# seconds. Run as root with go on PATH (sudo resets PATH: sudo env
# PATH="$PATH" bash bench/fleet.sh).
#
# CrowdSec anchor: Debian's crowdsec 1.4.6 + crowdsec-firewall-bouncer
# (installed with apt-get when missing; CAPI registration is disabled, as
# there is no internet here), both run inside a network namespace with the
# packaged configuration (bouncer in nftables mode, its default
# update_frequency 10s): `cscli decisions add --ip` until the element is in
# the bouncer's nft set (polled every 20 ms), and both daemons' RSS.
#
# Nothing touches the host's ruleset: every nft change happens inside the
# namespaces this script (and the test) create and delete.
set -euo pipefail
SAMPLES=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d /tmp/fleet-bench.XXXXXX)
NS=flb$$cs
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	sleep 0.3
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, nftables)" >&2; exit 2; }

echo "== rampart fleet (3 JetStream servers, 3 guards, namespaces)"
cd "$ROOT"
RAMPART_E2E=1 go test -tags fleetbench -count=1 -timeout 20m -run '^TestBenchFleet$' -v ./internal/fleet >"$W/rampart.txt" 2>&1 || {
	grep -v '"level":"INFO"' "$W/rampart.txt" | tail -40 >&2
	exit 1
}
grep '^BENCH' "$W/rampart.txt"

echo "== CrowdSec $(dpkg-query -W -f '${Version}' crowdsec 2>/dev/null || echo '(installing)') + crowdsec-firewall-bouncer"
if ! command -v crowdsec >/dev/null || ! command -v crowdsec-firewall-bouncer >/dev/null; then
	mkdir -p /etc/crowdsec
	# The package registers to the Central API at install; a non-empty
	# credentials file disables that (README.Debian).
	[ -s /etc/crowdsec/online_api_credentials.yaml ] || echo "# CAPI disabled (no internet)" >/etc/crowdsec/online_api_credentials.yaml
	DEBIAN_FRONTEND=noninteractive apt-get install -y crowdsec crowdsec-firewall-bouncer >"$W/apt.txt" 2>&1 || { tail -20 "$W/apt.txt" >&2; exit 1; }
fi
CS=$W/cs
mkdir -p "$CS"
# No journal here: crowdsec reads an empty file instead of journalctl.
: >"$CS/empty.log"
printf 'filenames:\n  - %s/empty.log\nlabels:\n  type: syslog\n' "$CS" >"$CS/acquis.yaml"
sed -e '/online_client:/d' -e '/online_api_credentials.yaml/d' -e "s|log_dir: /var/log/|log_dir: $CS/|" \
	-e "s|acquisition_path: .*|acquisition_path: $CS/acquis.yaml|" -e '/acquisition_dir:/d' /etc/crowdsec/config.yaml >"$CS/config.yaml"
sed -e 's|^mode: .*|mode: nftables|' -e 's|^daemonize: .*|daemonize: false|' -e "s|^log_dir: .*|log_dir: $CS/|" -e "s|^pid_dir: .*|pid_dir: $CS/|" \
	/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml >"$CS/bouncer.yaml"
ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" crowdsec -c "$CS/config.yaml" >"$CS/crowdsec.out" 2>&1 &
CSPID=$!
PIDS+=("$CSPID")
for _ in $(seq 100); do
	ip netns exec "$NS" cscli -c "$CS/config.yaml" decisions list >/dev/null 2>&1 && break
	sleep 0.2
done
BOUNCER=rampart-bench-$$
KEY=$(ip netns exec "$NS" cscli -c "$CS/config.yaml" bouncers add "$BOUNCER" -o raw)
sed -i "s|^api_key: .*|api_key: $KEY|" "$CS/bouncer.yaml"
ip netns exec "$NS" crowdsec-firewall-bouncer -c "$CS/bouncer.yaml" >"$CS/bouncer.out" 2>&1 &
BPID=$!
PIDS+=("$BPID")
for _ in $(seq 100); do
	ip netns exec "$NS" nft list set ip crowdsec crowdsec-blacklists >/dev/null 2>&1 && break
	sleep 0.2
done
ip netns exec "$NS" nft list set ip crowdsec crowdsec-blacklists >/dev/null || { for f in "$CS"/*.out; do tail -n 20 "$f" >&2; done; exit 1; }
LAT=()
for i in $(seq "$SAMPLES"); do
	ip=192.0.2.$((100 + i))
	t0=$(date +%s%N)
	ip netns exec "$NS" cscli -c "$CS/config.yaml" decisions add --ip "$ip" --duration 1h --reason fleet-bench >/dev/null 2>&1
	until ip netns exec "$NS" nft list set ip crowdsec crowdsec-blacklists 2>/dev/null | grep -q "$ip"; do
		sleep 0.02
		if (( ($(date +%s%N) - t0) > 60000000000 )); then echo "decision for $ip not in the set after 60s" >&2; exit 1; fi
	done
	t1=$(date +%s%N)
	LAT+=($(( (t1 - t0) / 1000000 )))
done
SORTED=($(printf '%s\n' "${LAT[@]}" | sort -n))
n=${#SORTED[@]}
echo "CROWDSEC decision_to_nft_p50_ms ${SORTED[$((n / 2))]}"
echo "CROWDSEC decision_to_nft_max_ms ${SORTED[$((n - 1))]}"
echo "CROWDSEC samples_ms ${LAT[*]}"
echo "CROWDSEC crowdsec_rss $(awk '/VmRSS/ {print $2, $3}' /proc/"$CSPID"/status 2>/dev/null || echo '?')"
echo "CROWDSEC bouncer_rss $(awk '/VmRSS/ {print $2, $3}' /proc/"$BPID"/status 2>/dev/null || echo '?')"
ip netns exec "$NS" cscli -c "$CS/config.yaml" decisions delete --all >/dev/null 2>&1 || true
ip netns exec "$NS" cscli -c "$CS/config.yaml" bouncers delete "$BOUNCER" >/dev/null 2>&1 || true
