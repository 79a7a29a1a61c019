#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time (FUZZTIME, default 5s).
# Targets are discovered from the source, so a new Fuzz function is smoked
# without editing this script. The seed corpora in testdata/fuzz are kept.
set -euo pipefail
fuzztime=${FUZZTIME:-5s}
cd "$(dirname "$0")/.."
status=0
while IFS=: read -r file _ line; do
  pkg=$(dirname "$file")
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
  echo "fuzz: $pkg $name ($fuzztime)"
  if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" >/tmp/xagw-fuzz.log 2>&1; then
    cat /tmp/xagw-fuzz.log; status=1
  fi
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
exit $status
