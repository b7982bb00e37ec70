#!/usr/bin/env bash
# Long fuzzing of every fuzz target in the module, one after another.
#
# Usage: bash scripts/fuzz.sh [DURATION]    (default 2m per target; any
#        go test -fuzztime value, e.g. 30s, 10m, 100000x)
# Crashers are written by go test under <package>/testdata/fuzz/<Target>/;
# commit them: they then run as regression seeds in every go test.
# Exits non-zero if any target fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION=${1:-2m}

status=0
n=0
for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do
	for name in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		n=$((n + 1))
		printf '== %s %s for %s\n' "$pkg" "$name" "$DURATION" >&2
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$DURATION" "$pkg" || status=1
	done
done
printf '== %d fuzz targets, status %d\n' "$n" "$status" >&2
exit $status
