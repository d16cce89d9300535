#!/usr/bin/env bash
# Fleet verify at scale: N (default 50) real OpenSSH servers, each in its own
# network namespace reached from one client namespace over a veth pair
# (192.0.2.0/24 in /31s), with three kinds of configuration in turn: weak
# (passwords and root logins on), Match-leak (passwords off, but on again
# for 203.0.113.0/24 through a Match Address block) and hardened. Measures,
# in the same run:
#   - rampart verify --inventory (every host over SSH, --parallel default 16)
#   - each host verified alone with --host, to prove the fleet run judges
#     every host exactly as a single-host run does (statuses compared)
#   - ssh-audit -T over the same N hosts (the anchor)
#   - what the hosts cost before any check: OpenSSH's own client logging
#     in to run `true` on each host (after each fleet run; with its default
#     key exchange and with rampart's), and rampart with only the sysctl
#     area (connect, one shell, one batch read)
#   - what each program the checks start on a server costs in CPU
# Writes the fleet JSON to $OUT (default bench/out/fleet.json) and the page
# to bench/out/fleet.html. Everything it creates (namespaces, keys, sshd
# processes) is removed at exit; the host's firewall and sshd are untouched.
# Usage: sudo bench/fleet_verify.sh [N]
# (RAMPART_BIN=FILE measures that binary instead of building this tree.)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50}
out=${OUT:-bench/out}
mkdir -p "$out"
tmp=$(mktemp -d)
chmod 755 "$tmp"
cli=rfbc$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in $(seq "$n"); do ip netns del "rfb$$-$i" 2>/dev/null || true; rm -rf "/etc/netns/rfb$$-$i"; done
  ip netns del "$cli" 2>/dev/null || true
  rmdir /etc/netns 2>/dev/null || true # only when empty, i.e. ours
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p /run/sshd
if [ -n "${RAMPART_BIN:-}" ]; then cp "$RAMPART_BIN" "$tmp/rampart"; else CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart; fi
sshd=$(command -v sshd || echo /usr/sbin/sshd)
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
chmod 644 "$tmp/authorized_keys"
ip netns add "$cli"
ip -n "$cli" link set lo up
: > "$tmp/known_hosts"
: > "$tmp/targets"
{
  echo 'user = "root"'
  echo "identity = [\"$tmp/id\"]"
  echo "known_hosts = [\"$tmp/known_hosts\"]"
  echo
  echo '[group.weak]'
  echo 'labels = ["weak"]'
  echo '[group.matchleak]'
  echo 'labels = ["match-leak"]'
  echo '[group.hardened]'
  echo 'labels = ["hardened"]'
} > "$tmp/fleet.toml"
kinds=(weak matchleak hardened)
for i in $(seq "$n"); do
  ns="rfb$$-$i"
  ip netns add "$ns"
  # As the tests do (testenv.NetnsPasswd): root's login shell is /bin/sh
  # inside the namespace, so no dotfile of this machine's root runs per
  # session (ip netns exec bind-mounts /etc/netns/NAME/passwd).
  mkdir -p "/etc/netns/$ns"
  awk -F: -v OFS=: '$1 == "root" { $7 = "/bin/sh" } { print }' /etc/passwd > "/etc/netns/$ns/passwd"
  ip -n "$ns" link set lo up
  ip link add "rfa$i" type veth peer name "rfz$i"
  ip link set "rfa$i" netns "$cli"
  ip link set "rfz$i" netns "$ns"
  c="192.0.2.$((2 * i))"; h="192.0.2.$((2 * i + 1))"
  ip -n "$cli" addr add "$c/31" dev "rfa$i"
  ip -n "$ns" addr add "$h/31" dev "rfz$i"
  ip -n "$cli" link set "rfa$i" up
  ip -n "$ns" link set "rfz$i" up
  kind=${kinds[$(( (i - 1) % 3 ))]}
  d="$tmp/h$i"; mkdir -p "$d"
  ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey"
  echo "$h $(cat "$d/hostkey.pub")" >> "$tmp/known_hosts"
  {
    echo "ListenAddress $h:22"
    echo "HostKey $d/hostkey"
    echo "PidFile none"
    echo "AuthorizedKeysFile $tmp/authorized_keys"
    echo "StrictModes no"
    echo "UsePAM no"
    echo "MaxStartups 100"
    case $kind in
      weak) printf '%s\n' "PasswordAuthentication yes" "KbdInteractiveAuthentication yes" "PermitRootLogin yes" "X11Forwarding yes" ;;
      matchleak) printf '%s\n' "PasswordAuthentication no" "KbdInteractiveAuthentication no" "PermitRootLogin prohibit-password" "Match Address 203.0.113.0/24" "  PasswordAuthentication yes" ;;
      hardened) printf '%s\n' "PasswordAuthentication no" "KbdInteractiveAuthentication no" "PermitRootLogin prohibit-password" "X11Forwarding no" "MaxAuthTries 3" "AllowTcpForwarding no" "AllowAgentForwarding no" ;;
    esac
  } > "$d/sshd_config"
  ip netns exec "$ns" "$sshd" -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
  pids+=($!)
  echo "$h:22" >> "$tmp/targets"
  {
    echo
    echo '[[host]]'
    printf 'name = "host%02d"\n' "$i"
    echo "address = \"$h\""
    echo "group = \"$kind\""
    echo "sshd_config = [\"$d/sshd_config\"]"
  } >> "$tmp/fleet.toml"
done
for i in $(seq "$n"); do
  h="192.0.2.$((2 * i + 1))"
  for _ in $(seq 100); do ip netns exec "$cli" bash -c "exec 3<>/dev/tcp/$h/22" 2>/dev/null && break; sleep 0.05; done
done
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
# --host-timeout is generous so that a loaded machine shows up as time, not
# as unknown checks.
# Three runs, each shown; the median is the figure (the machine is shared
# by the client and all N servers, and a run right after the set-up above
# is the slowest). Each run is followed by the anchor that needs no check
# at all: OpenSSH's own client logging in to run `true` on every host, 16
# at a time. This machine's speed drifts by a third within minutes, so the
# two alternate and the ratio compares runs made seconds apart.
cut -d: -f1 "$tmp/targets" > "$tmp/hosts"
# OpenSSH's client runs twice: with its default key exchange
# (sntrup761x25519-sha512 on OpenSSH 9.2, whose key generation costs the
# client some 60 ms of CPU here) and with curve25519-sha256, the one
# rampart's Go client and OpenSSH 9.2's sshd settle on, so that the
# second is the same login rampart makes.
runs=() ossh=() ocurve=()
for r in 1 2 3; do
  runs+=("$(ms ip netns exec "$cli" "$tmp/rampart" verify --inventory "$tmp/fleet.toml" --host-timeout 600s --format json -o "$out/fleet.json")")
  ossh+=("$(ms ip netns exec "$cli" sh -c 'xargs -P 16 -I{} ssh -n -q -i "$1/id" -o UserKnownHostsFile="$1/known_hosts" -o BatchMode=yes root@{} true < "$1/hosts"' _ "$tmp")")
  ocurve+=("$(ms ip netns exec "$cli" sh -c 'xargs -P 16 -I{} ssh -n -q -i "$1/id" -o UserKnownHostsFile="$1/known_hosts" -o BatchMode=yes -o KexAlgorithms=curve25519-sha256 root@{} true < "$1/hosts"' _ "$tmp")")
done
fleet_ms=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
ossh_ms=$(printf '%s\n' "${ossh[@]}" | sort -n | sed -n 2p)
ocurve_ms=$(printf '%s\n' "${ocurve[@]}" | sort -n | sed -n 2p)
echo "rampart verify --inventory ($n hosts over SSH): ${fleet_ms} ms wall (median of ${runs[*]})"
echo "OpenSSH's client: ssh HOST true over the same $n hosts (16 at a time), after each: ${ossh_ms} ms (median of ${ossh[*]})"
echo "  the same with -o KexAlgorithms=curve25519-sha256 (rampart's key exchange): ${ocurve_ms} ms (median of ${ocurve[*]})"
awk -v a="$ossh_ms" -v r="$fleet_ms" 'BEGIN { if (a > 0) printf "full rampart verify / OpenSSH logins alone: %.2f\n", r / a }'
awk -v a="$ocurve_ms" -v r="$fleet_ms" 'BEGIN { if (a > 0) printf "full rampart verify / OpenSSH logins alone, same key exchange: %.2f\n", r / a }'
html_ms=$(ms "$tmp/rampart" verify --from "$out/fleet.json" --format html -o "$out/fleet.html")
echo "render $n hosts to HTML: ${html_ms} ms, $(stat -c %s "$out/fleet.html") bytes"
"$tmp/rampart" verify --from "$out/fleet.json" > "$out/fleet.txt" 2>&1 || true
# Every host alone with --host, 4 at a time (the reference verdicts).
single_s=$(date +%s%N)
seq "$n" | xargs -P 4 -I{} sh -c 'h="192.0.2.$((2 * {} + 1))"; ip netns exec "$1" "$2/rampart" verify --host "root@$h" -i "$2/id" \
  --known-hosts "$2/known_hosts" --sshd-config "$2/h{}/sshd_config" --timeout 600s --format json > "$2/single{}.json" 2>/dev/null; true' _ "$cli" "$tmp"
single_e=$(date +%s%N)
echo "the same $n hosts alone with --host (4 at a time): $(( (single_e - single_s) / 1000000 )) ms"
python3 - "$out/fleet.json" "$tmp" "$n" <<'PY'
import json, sys
fleet, tmp, n = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
bad = 0
for i, h in enumerate(fleet["hosts"], 1):
    single = json.load(open(f"{tmp}/single{i}.json"))
    a = {c["id"]: c["status"] for c in h["report"]["checks"]}
    b = {c["id"]: c["status"] for c in single["checks"]}
    # The time checks read chronyd, whose state can move between runs.
    diff = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k) and not k.startswith("time.")}
    if diff or h["error"]:
        bad += 1
        print(f"  {h['name']}: differs from its single-host run: {diff} {h['error']}")
s = fleet["summary"]
print(f"fleet summary: {s['hosts']} hosts, {s['hosts_failing']} failing, {s['hosts_unverified']} not verified; "
      f"checks {s['checks']}")
print(f"hosts judged as a single-host run judges them: {n - bad}/{n}")
pw = {}
for h in fleet["hosts"]:
    for c in h["report"]["checks"]:
        if c["id"] == "ssh.password-authentication":
            pw[c["status"]] = pw.get(c["status"], 0) + 1
print(f"ssh.password-authentication over the fleet: {pw}")
PY
# The floor: what the same hosts cost with (next to) nothing to check.
floor_ms=$(ms ip netns exec "$cli" "$tmp/rampart" verify --inventory "$tmp/fleet.toml" --host-timeout 600s --only sysctl --format json -o "$tmp/floor.json")
echo "rampart verify --inventory --only sysctl (connect, one shell, one batch read per host): ${floor_ms} ms"
# Where the rest goes: the programs a host's checks run on the server
# (one sed for the batch of files, auditctl -s and -l, chronyc, nft, sshd
# -T once, or once per client address a Match Address block tells apart),
# each started 20 times by one sh in the first host's namespace, as the
# remote shell starts them; the machine's CPU time per start, from
# /proc/stat (the fleet is idle meanwhile).
busy() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
cost() {
  local b0 b1
  b0=$(busy)
  ip netns exec "rfb$$-1" sh -c 'i=0; while [ $i -lt 20 ]; do "$@" >/dev/null 2>&1; i=$((i + 1)); done' _ "$@"
  b1=$(busy)
  echo $(( (b1 - b0) * 1000 / $(getconf CLK_TCK) / 20 ))
}
printf 'CPU per start of the programs the checks run on a host: /bin/true %d ms;' "$(cost /bin/true)"
for c in sed auditctl-s auditctl-l chronyc nft sshd-T; do
  case $c in
    sed) t=$(cost sed -s -n -e 1F -e 'l 0' -- /proc/1/cmdline) ;;
    auditctl-s) t=$(cost auditctl -s) ;;
    auditctl-l) t=$(cost auditctl -l) ;;
    chronyc) t=$(cost chronyc -n -c tracking) ;;
    nft) t=$(cost nft -j list ruleset) ;;
    sshd-T) t=$(cost "$sshd" -T -f "$tmp/h1/sshd_config") ;;
  esac
  printf ' %s %d ms;' "$c" "$t"
done
echo
if command -v ssh-audit >/dev/null; then
  sa_ms=$(ms ip netns exec "$cli" ssh-audit -T "$tmp/targets" --threads 16)
  echo "ssh-audit $(ssh-audit --help 2>&1 | sed -n 's/.*ssh-audit v\([0-9.]*\).*/\1/p' | head -1) -T over the same $n hosts (--threads 16): ${sa_ms} ms"
  awk -v a="$sa_ms" -v r="$fleet_ms" 'BEGIN { if (r > 0) printf "ratio ssh-audit/rampart: %.2f\n", a / r }'
fi
# Through one bastion: an sshd with OpenSSH's default MaxStartups
# (10:30:100) on the client namespace's loopback is every host's
# ProxyJump. rampart shares one connection to it among the hosts; the
# bastion's log counts the logins it accepted.
ssh-keygen -q -t ed25519 -N '' -f "$tmp/bastion_key"
echo "[127.0.0.1]:2222 $(cat "$tmp/bastion_key.pub")" >> "$tmp/known_hosts"
printf '%s\n' "ListenAddress 127.0.0.1:2222" "HostKey $tmp/bastion_key" "PidFile none" "AuthorizedKeysFile $tmp/authorized_keys" \
  "StrictModes no" "UsePAM no" "LogLevel VERBOSE" > "$tmp/bastion_config"
ip netns exec "$cli" "$sshd" -D -e -f "$tmp/bastion_config" 2>"$tmp/bastion.log" &
pids+=($!)
for _ in $(seq 100); do ip netns exec "$cli" bash -c "exec 3<>/dev/tcp/127.0.0.1/2222" 2>/dev/null && break; sleep 0.05; done
awk 'NR == 1 { print; print "proxy_jump = \"root@127.0.0.1:2222\""; next } { print }' "$tmp/fleet.toml" > "$tmp/fleet-bastion.toml"
: > "$tmp/bastion.log"
bastion_ms=$(ms ip netns exec "$cli" "$tmp/rampart" verify --inventory "$tmp/fleet-bastion.toml" --host-timeout 600s --format json -o "$tmp/bastion.json")
python3 - "$tmp/bastion.json" "$out/fleet.json" "$n" "$bastion_ms" "$(grep -c 'Accepted publickey' "$tmp/bastion.log")" <<'PY'
import json, sys
b, direct = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n, ms, logins = int(sys.argv[3]), sys.argv[4], sys.argv[5]
st = lambda f: {(h["name"], c["id"]): c["status"] for h in f["hosts"] for c in h["report"]["checks"] if not c["id"].startswith("time.")}
same = st(b) == st(direct)
print(f"through one bastion (every host's ProxyJump): {ms} ms, {b['summary']['hosts_unverified']} of {n} hosts not verified, "
      f"{logins} login(s) on the bastion, verdicts {'the same as' if same else 'DIFFERENT from'} the direct run")
PY
# Far away: the first 8 hosts behind a relay on the client namespace's
# loopback that holds every chunk of data 50 ms in each direction (a
# 100 ms round trip, as for a host on another continent). Wall time here
# is mostly round trips, so it is also given in round trips.
far=$(( n < 8 ? n : 8 )) delay_ms=50
cat > "$tmp/relay.py" <<'PY'
import asyncio, sys, time
delay, pairs = float(sys.argv[1]) / 1000, sys.argv[2:]
async def pipe(r, w):
    q = asyncio.Queue()
    async def send():
        while True:
            at, data = await q.get()
            await asyncio.sleep(max(0, at - time.monotonic()))
            if not data:
                w.close()
                return
            w.write(data)
            await w.drain()
    task = asyncio.create_task(send())
    while True:
        data = await r.read(65536)
        await q.put((time.monotonic() + delay, data))
        if not data:
            break
    await task
def relay(dst):
    async def handle(cr, cw):
        sr, sw = await asyncio.open_connection(dst, 22)
        await asyncio.gather(pipe(cr, sw), pipe(sr, cw), return_exceptions=True)
    return handle
async def main():
    servers = [await asyncio.start_server(relay(dst), "127.0.0.1", int(port)) for port, dst in (p.split("=") for p in pairs)]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))
asyncio.run(main())
PY
relays=() 
head -n 3 "$tmp/fleet.toml" > "$tmp/fleet-far.toml"
for i in $(seq "$far"); do
  h="192.0.2.$((2 * i + 1))"
  relays+=("$((30000 + i))=$h")
  echo "[127.0.0.1]:$((30000 + i)) $(cat "$tmp/h$i/hostkey.pub")" >> "$tmp/known_hosts"
  printf '\n[[host]]\nname = "far%02d"\naddress = "127.0.0.1"\nport = %d\nsshd_config = ["%s"]\n' "$i" $((30000 + i)) "$tmp/h$i/sshd_config" >> "$tmp/fleet-far.toml"
done
ip netns exec "$cli" python3 "$tmp/relay.py" "$delay_ms" "${relays[@]}" > "$tmp/relay.out" &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$tmp/relay.out" 2>/dev/null && break; sleep 0.05; done
rtt=$(( 2 * delay_ms ))
far_ms=$(ms ip netns exec "$cli" "$tmp/rampart" verify --inventory "$tmp/fleet-far.toml" --host-timeout 600s --format json -o "$tmp/far.json")
one_ms=$(ms ip netns exec "$cli" "$tmp/rampart" verify --host root@127.0.0.1:30001 -i "$tmp/id" --known-hosts "$tmp/known_hosts" \
  --sshd-config "$tmp/h1/sshd_config" --format json -o "$tmp/far-one.json")
ossh_far_ms=$(ms ip netns exec "$cli" ssh -n -q -p 30001 -i "$tmp/id" -o UserKnownHostsFile="$tmp/known_hosts" -o BatchMode=yes root@127.0.0.1 true)
echo "${rtt} ms round trip: rampart verify --inventory ($far hosts): ${far_ms} ms ($(( far_ms / rtt )) round trips); one host with --host: ${one_ms} ms ($(( one_ms / rtt )) round trips); OpenSSH's ssh HOST true: ${ossh_far_ms} ms ($(( ossh_far_ms / rtt )) round trips)"
python3 - "$tmp/far.json" "$out/fleet.json" <<'PY'
import json, sys
far, direct = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
st = lambda hs: [{c["id"]: c["status"] for c in h["report"]["checks"] if not c["id"].startswith("time.")} for h in hs]
n = len(far["hosts"])
print(f"  far hosts not verified: {far['summary']['hosts_unverified']}; verdicts {'the same as' if st(far['hosts']) == st(direct['hosts'][:n]) else 'DIFFERENT from'} the direct run")
PY
