#!/usr/bin/env bash
# The whole test run: what `make test` and CI execute.
# 1. system packages (installed when root), 2. a throwaway PostgreSQL server,
# 3. go vet, 4. all tests with -race, 5. a short smoke of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test

pgdir=$(mktemp -d /tmp/xagw-pg.XXXXXX)
trap 'scripts/pg.sh stop "$pgdir"' EXIT
eval "$(scripts/pg.sh start "$pgdir")"
export XAGW_REQUIRE_POSTGRES=1   # tests that need PostgreSQL fail instead of skipping

echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 30m ./...
echo "== fuzz smoke"
scripts/fuzz-smoke.sh
