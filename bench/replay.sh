#!/usr/bin/env bash
# Replay benchmark for `rampart guard test` (issue 4): throughput against
# sshguard's sshg-parser and fail2ban-regex, peak RSS, and ban correctness,
# every tool measured in the same run on the same corpus.
#
#   bench/replay.sh            # 1M-line corpus (fail2ban-regex on 100k)
#   LINES=200000 bench/replay.sh
#
# Corpora come from bench/gen-authlog.py into bench/out/ (git-ignored).
# Prints a markdown table; copy it into bench/RESULTS.md with the date.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
F2B_LINES=${F2B_LINES:-100000}
RUNS=${RUNS:-3}
OUT=bench/out
mkdir -p "$OUT"
big=$OUT/auth-$LINES.log
small=$OUT/auth-$F2B_LINES.log
flood=$OUT/flood-distinct-1m.log
[ -s "$big" ] || python3 bench/gen-authlog.py --lines "$LINES" --out "$big" >/dev/null
[ -s "$small" ] || python3 bench/gen-authlog.py --lines "$F2B_LINES" --out "$small" >/dev/null
if [ ! -s "$flood" ]; then
	# One failure from each of 1,000,000 distinct addresses.
	awk 'BEGIN { for (i = 0; i < 1000000; i++) {
		a = 11 + int(i / 65536); b = int(i / 256) % 256; c = i % 256
		printf "Jun  1 00:%02d:%02d web1 sshd[%d]: Invalid user u%d from %d.%d.%d.1 port 2222\n", int(i/60000)%60, int(i/1000)%60, 1000+i, i, a, b, c } }' >"$flood"
fi
CGO_ENABLED=0 go build -o "$OUT/rampart" ./cmd/rampart
RAMPART=$OUT/rampart
SSHG=${SSHG:-/usr/libexec/sshguard/sshg-parser}
f2bdir=$(mktemp -d)
trap 'rm -rf "$f2bdir"' EXIT
cp -r /etc/fail2ban/filter.d "$f2bdir/"

# measure LABEL CMD...: prints "wall user sys maxrss_kb" (median wall of RUNS).
measure() {
	local runs=$1; shift
	local best=""
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %U %S %M' -o "$OUT/time.txt" "$@" >/dev/null 2>"$OUT/stderr.txt" </dev/null || {
			echo "failed: $*" >&2; cat "$OUT/stderr.txt" >&2; exit 1; }
		best+="$(cat "$OUT/time.txt")"$'\n'
	done
	printf '%s' "$best" | sort -n | awk -v n="$runs" 'NR == int((n+1)/2)'
}
rate() { awk -v l="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? l / t : 0) }'; }

r_big=$(measure "$RUNS" "$RAMPART" guard test "$big" --jail sshd --year 2025 --summary)
s_big=$(measure "$RUNS" sh -c "$SSHG < '$big'")
r_small=$(measure "$RUNS" "$RAMPART" guard test "$small" --jail sshd --year 2025 --summary)
s_small=$(measure "$RUNS" sh -c "$SSHG < '$small'")
f_small=$(measure 1 fail2ban-regex --print-no-missed --print-no-ignored "$small" "$f2bdir/filter.d/sshd.conf")
r_flood=$(measure 1 "$RAMPART" guard test "$flood" --jail sshd --year 2025 --summary)

set -- $r_big; rb_wall=$1 rb_rss=$4
set -- $s_big; sb_wall=$1 sb_rss=$4
set -- $r_small; rs_wall=$1 rs_rss=$4
set -- $s_small; ss_wall=$1 ss_rss=$4
set -- $f_small; fs_wall=$1 fs_rss=$4
set -- $r_flood; rf_wall=$1 rf_rss=$4
rb=$(rate "$LINES" "$rb_wall"); sb=$(rate "$LINES" "$sb_wall")
rs=$(rate "$F2B_LINES" "$rs_wall"); ss=$(rate "$F2B_LINES" "$ss_wall"); fs=$(rate "$F2B_LINES" "$fs_wall")

# Correctness: failures per address and bans against the generator's truth.
"$RAMPART" guard test "$small" --jail sshd --year 2025 --format json >"$OUT/rampart.json"
python3 - "$OUT/rampart.json" "$small.truth.tsv" <<'PY' >"$OUT/correct.txt"
import json, sys
rep = json.load(open(sys.argv[1]))
truth = {}
for l in open(sys.argv[2]).read().splitlines()[1:]:
    f = l.split("\t"); truth[f[0]] = int(f[1])
got = {x["ip"]: x["failures"] for x in rep["ips"]}
same = sum(1 for ip in truth if got.get(ip) == truth[ip])
tp = len(set(got) & set(truth))
prec = tp / len(got) if got else 1.0
rec = tp / len(truth) if truth else 1.0
# Bans: an address with >= maxretry failures whose first and last failure
# lie within findtime must be banned; one with fewer must not be (others
# depend on the spacing of their failures, which the truth does not give).
from datetime import datetime
must, never, other = set(), set(), set()
for l in open(sys.argv[2]).read().splitlines()[1:]:
    f = l.split("\t")
    span = (datetime.fromisoformat(f[3]) - datetime.fromisoformat(f[2])).total_seconds()
    n = int(f[1])
    (must if n >= 3 and span <= 600 else never if n < 3 else other).add(f[0])
bans = {b["ip"] for b in rep["bans"]}
bans = {b.split("/")[0] for b in bans}
ok_must = len(must & bans); bad = len(bans & never); stray = len(bans - must - never - other)
print(f"addresses with failures: precision {prec:.4f}, recall {rec:.4f}; {same}/{len(truth)} with the truth's failure count, "
      f"{len(set(got) - set(truth))} extra; bans: {ok_must}/{len(must)} required, {bad} of {len(never)} below maxretry, "
      f"{stray} not in the truth, {len(bans & other)}/{len(other)} spread wider than findtime")
PY

cat <<EOF2
| measurement | rampart guard test | sshg-parser | fail2ban-regex | ratio |
|---|---|---|---|---|
| throughput, $LINES lines | $rb lines/s (${rb_wall} s) | $sb lines/s (${sb_wall} s) | — | $(awk -v a="$rb" -v b="$sb" 'BEGIN{printf "%.1f× sshg-parser", a/b}') |
| throughput, $F2B_LINES lines | $rs lines/s (${rs_wall} s) | $ss lines/s (${ss_wall} s) | $fs lines/s (${fs_wall} s) | $(awk -v a="$rs" -v b="$fs" 'BEGIN{printf "%.0f× fail2ban-regex", a/b}'), $(awk -v a="$rs" -v b="$ss" 'BEGIN{printf "%.1f× sshg-parser", a/b}') |
| peak RSS, $F2B_LINES lines | $((rs_rss / 1024)) MB | $((ss_rss / 1024)) MB | $((fs_rss / 1024)) MB | goal ≤ 30 MB |
| peak RSS, $LINES lines | $((rb_rss / 1024)) MB | $((sb_rss / 1024)) MB | — | |
| peak RSS, 1M distinct attackers | $((rf_rss / 1024)) MB (${rf_wall} s) | — | — | goal ≤ 200 MB |
| failures per address vs truth ($F2B_LINES) | $(cat "$OUT/correct.txt") | | | |

machine: $(nproc) CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ); runs: median of $RUNS (fail2ban-regex and the flood: 1)
EOF2
