#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time (FUZZTIME, default 5s).
# Targets are discovered from the source, so a new Fuzz function is smoked
# without editing this script. The seed corpora in testdata/fuzz are kept.
#
# Go 1.26's fuzz coordinator can end a run that found nothing with a bare
# "context deadline exceeded" when -fuzztime expires while a worker is busy
# (golang/go#75804, fixed in Go 1.27); on a loaded 2-core machine this
# happens. Such a run wrote no failing input and printed no test failure; it
# is run once more, and only a second such result fails. Anything else that
# exits non-zero fails at once.
set -euo pipefail
fuzztime=${FUZZTIME:-5s}
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_flake says whether the log in $1 is the coordinator race and
# nothing else: the deadline message, and no failing input, panic or
# test failure output.
deadline_flake() {
  grep -q 'context deadline exceeded' "$1" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:|fuzz: minimizing' "$1"
}

status=0
while IFS=: read -r file _ line; do
  pkg=$(dirname "$file")
  name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
  for try in 1 2; do
    echo "fuzz: $pkg $name ($fuzztime)"
    if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" >"$log" 2>&1; then
      break
    fi
    if [ "$try" = 1 ] && deadline_flake "$log"; then
      echo "fuzz: $name ended with the fuzz coordinator's deadline race (golang/go#75804), nothing found; running it once more"
      continue
    fi
    cat "$log"; status=1
    break
  done
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | sort)
exit $status
