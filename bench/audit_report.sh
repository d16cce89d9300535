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
CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart
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
rss=$( { /usr/bin/time -f %M "$tmp/rampart" audit report --log "$tmp/audit.log" --key identity >/dev/null; } 2>&1 )
a=$(best ausearch -if "$tmp/audit.log" -k identity)
ai=$(best ausearch -i -if "$tmp/audit.log" -k identity)
ar=$(best aureport -if "$tmp/audit.log" -k --summary)
echo "rampart audit report --key identity: ${r} ms (peak RSS $((rss / 1024)) MB; events grouped, names resolved, summary per key)"
echo "ausearch -i -k identity:             ${ai} ms (records printed with names resolved)"
echo "ausearch -k identity:                ${a} ms (raw records printed)"
echo "aureport -k --summary:               ${ar} ms (event count per key)"
awk -v r="$r" -v a="$a" -v ai="$ai" 'BEGIN { printf "ratio rampart/ausearch -i: %.2f; rampart/ausearch raw: %.2f\n", r / ai, r / a }'
