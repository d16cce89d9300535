#!/usr/bin/env bash
# Times `rampart audit report --key K` against `ausearch -k K` (audit 3.x)
# on the same log: the real enriched excerpt in internal/audit/testdata
# repeated N times (default 600, about 91,000 lines / 24 MB).
# Usage: bench/audit_report.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-600}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/rampart" ./cmd/rampart
for _ in $(seq "$n"); do cat internal/audit/testdata/enriched.log; done > "$tmp/audit.log"
echo "log: $(wc -l < "$tmp/audit.log") lines, $(du -h "$tmp/audit.log" | cut -f1)"
best() { # best wall time of 5 runs, in ms
	local b=999999
	for _ in 1 2 3 4 5; do
		local s e
		s=$(date +%s%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s%N)
		(( (e - s) / 1000000 < b )) && b=$(( (e - s) / 1000000 ))
	done
	echo "$b"
}
r=$(best "$tmp/rampart" audit report --log "$tmp/audit.log" --key identity)
a=$(best ausearch -if "$tmp/audit.log" -k identity)
echo "rampart audit report --key identity: ${r} ms"
echo "ausearch -k identity:                ${a} ms"
awk -v r="$r" -v a="$a" 'BEGIN { printf "ratio rampart/ausearch: %.2f\n", r / a }'
