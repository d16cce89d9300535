#!/usr/bin/env bash
# Prints the package totals of a `go test ./...` log:
#   packages: N passed, M failed
# counting packages, not lines: a package is counted once, from its own
# result line ("ok  <TAB>PKG ..." or "FAIL<TAB>PKG ..."), and only when PKG is
# one of the packages listed in PKGS (one import path a line, as printed by
# `go list ./...`). The bare "FAIL" after a package's test output, "--- FAIL"
# lines and anything a test prints that looks like a result line for another
# name are not counted. Used by scripts/test.sh; tested by internal/hygiene.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: scripts/test-summary.sh GO-TEST-LOG PKGS" >&2
  exit 2
fi
awk '
  NR == FNR { if ($1 != "") known[$1] = 1; next }
  ($1 == "ok" || $1 == "FAIL") && ($2 in known) {
    if ($1 == "FAIL") failed[$2] = 1; else passed[$2] = 1
  }
  END {
    p = 0; f = 0
    for (k in failed) f++
    for (k in passed) if (!(k in failed)) p++
    printf "packages: %d passed, %d failed\n", p, f
  }
' "$2" "$1"
