#!/usr/bin/env bash
# 1,000 hosts' reports merged and rendered to one HTML page: N (default
# 1000) rampart.verify/v1 files made from captured reports (bench/out/fleet.json
# from bench/fleet_verify.sh when present, else the fleet captured by
# internal/fleetverify's E2E test), each host renamed, with its process IDs
# and paths varied so the page cannot fold hosts together. Times
#   rampart verify --from f1.json … --from fN.json --format html   (median of 5)
# and reports the page size; then runs the Chromium test that opens a
# 1,000-host page and measures, in the browser, how long the filters take.
# Usage: bench/fleet_report.sh [N]    (the browser part needs root and chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart
src=bench/out/fleet.json
[ -s "$src" ] || src=internal/fleetverify/testdata/fleet-e2e.json
python3 - "$src" "$tmp" "$n" <<'PY'
import json, re, sys
src, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
hosts = [h for h in json.load(open(src))["hosts"] if not h["error"]] or json.load(open(src))["hosts"]
pid = re.compile(r"pid [0-9]+")
for i in range(n):
    h = hosts[i % len(hosts)]
    rep = json.loads(json.dumps(h["report"]))
    rep["host"] = f"{h['name']}-{i:04d}"
    for c in rep["checks"]:
        c["message"] = pid.sub(f"pid {1000 + 7 * i}", c["message"])
        for e in c["evidence"]:
            e["text"] = pid.sub(f"pid {1000 + 7 * i}", e["text"])
    json.dump(rep, open(f"{tmp}/r{i:04d}.json", "w"))
PY
args=()
for f in "$tmp"/r*.json; do args+=(--from "$f"); done
for _ in 1 2 3 4 5; do
  s=$(date +%s%N); "$tmp/rampart" verify "${args[@]}" --format html -o "$tmp/page.html" || true; e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
done | sort -n > "$tmp/t"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; reports from $src"
echo "merge $n reports and render HTML: $(sed -n 3p "$tmp/t") ms median of 5 (all: $(tr '\n' ' ' < "$tmp/t")); page $(stat -c %s "$tmp/page.html") bytes"
s=$(date +%s%N); "$tmp/rampart" verify "${args[@]}" --format json -o "$tmp/fleet.json" || true; e=$(date +%s%N)
echo "merge $n reports to fleet JSON: $(( (e - s) / 1000000 )) ms, $(stat -c %s "$tmp/fleet.json") bytes"
if [ "$(id -u)" = 0 ] && command -v chromium >/dev/null; then
  go test -count=1 -v -run 'TestBrowserThousandHosts' ./internal/report/htmlreport 2>&1 | grep -E 'filter times|^(ok|FAIL|---)' || true
fi
