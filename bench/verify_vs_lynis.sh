#!/usr/bin/env bash
# Times `rampart verify --format json` (median of N runs, default 10)
# against one `lynis audit system --quick --no-colors` in the same session,
# on this machine. Lynis writes its log and report to a temporary directory
# only (--logfile/--report-file); neither tool changes the host.
# Usage: sudo bench/verify_vs_lynis.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
for _ in $(seq "$n"); do ms "$tmp/rampart" verify --format json; done | sort -n > "$tmp/v"
v=$(awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}' "$tmp/v")
"$tmp/rampart" verify --format json > "$tmp/v.json" || true
checks=$(grep -c '"id":' "$tmp/v.json")
l=$(ms lynis audit system --quick --no-colors --logfile "$tmp/lynis.log" --report-file "$tmp/lynis-report.dat")
tests=$(sed -n 's/^lynis_tests_done=//p' "$tmp/lynis-report.dat")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rampart verify --format json: ${v} ms median of $n ($checks checks; all runs: $(tr '\n' ' ' < "$tmp/v"))"
echo "lynis $(lynis --version) audit system --quick: ${l} ms ($tests tests)"
awk -v v="$v" -v l="$l" 'BEGIN { if (v > 0) printf "ratio lynis/rampart: %.0fx\n", l / v }'
