#!/usr/bin/env bash
# End-to-end delivery benchmark (issue 5's throughput targets) in one command:
#
#   scripts/bench-e2e.sh            # 300 messages per store, 400 accepts
#   N=600 ACCEPTS=800 scripts/bench-e2e.sh
#
# Delivers already-accepted ~20 KB applications through the real OSCI client
# into the ABH's mailbox at the in-process test intermediary over loopback
# (RSA-2048 keys), once on SQLite and once on PostgreSQL (a throwaway server
# started here with scripts/pg.sh, fsync switched on so commits are as
# durable as in production), and measures the API's accept latency on both.
# Prints one table. Columns:
#
#   msgs/s          delivered messages per second (wall clock)
#   RSA ops/msg     RSA private-key operations per message: gateway + intermediary
#   µs/RSA op       CPU time of one such operation, measured around every
#                   operation of the same run on its own thread
#   RSA bound       msgs/s the machine's cores would allow doing nothing but
#                   those operations: cores / (ops per message × µs per op)
#   share           msgs/s as a share of the bound (the issue's target: ≥ 70 %)
#   CPU ms/msg      CPU time of the whole process (gateway, intermediary, HTTP on
#                   both sides) per message: the figure least affected by
#                   other load on the machine
#   RSA share CPU   share of that CPU time spent in the RSA operations: the
#                   share of the bound the process would reach if it kept
#                   both cores busy all the time (share = RSA share of CPU ×
#                   how busy the process keeps the cores; on this VM, even
#                   idle otherwise, about 97 % with SQLite: the rest is
#                   I/O wait, softirq and kernel threads; with PostgreSQL
#                   about 89 %: its server's CPU runs on the same cores)
#   CPU bound       cores / CPU per message: msgs/s if the process kept both
#                   cores busy
#
# Other processes on the machine lower msgs/s and share; CPU ms/msg and the
# RSA share of CPU hardly move. GOGC is left to the benchmark (it applies the
# daemon's default) unless set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300}
ACCEPTS=${ACCEPTS:-400}

scripts/deps.sh test >&2

work=$(mktemp -d /tmp/xagw-bench.XXXXXX)
pgdir=$(mktemp -d /tmp/xagw-bench-pg.XXXXXX) # its own folder: the server may run as another user
cleanup() { scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

pgenv=$(scripts/pg.sh start "$pgdir")
eval "$pgenv"
# scripts/pg.sh runs PostgreSQL with fsync=off (fast tests). A throughput
# figure must include durable commits, and a command-line setting cannot be
# changed by ALTER SYSTEM, so the server is restarted with the same options
# but fsync=on.
fsync=off
opts="$pgdir/data/postmaster.opts"
if [ -f "$opts" ] && grep -q '"fsync=off"' "$opts"; then
  bin=$(cut -d' ' -f1 "$opts"); args=$(cut -d' ' -f2- "$opts" | sed 's/"fsync=off"/"fsync=on"/')
  as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if as_pg "$(dirname "$bin")/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 -o "$(eval "printf '%s ' $args")" restart >/dev/null; then
    fsync=$(psql -qtA "$XAGW_TEST_POSTGRES_DSN" -c "SHOW fsync" 2>/dev/null || echo "unknown")
  fi
fi
export XAGW_REQUIRE_POSTGRES=1

echo "building benchmark binaries…" >&2
go test -c -o "$work/e2e.test" ./gateway/oscitransport/
go test -c -o "$work/api.test" ./gateway/api/

echo "delivering $N messages per store…" >&2
(cd gateway/oscitransport && "$work/e2e.test" -test.run='^$' -test.bench='^BenchmarkEndToEnd$' \
  -test.benchtime="${N}x" -test.timeout=30m) >"$work/e2e.txt" 2>&1 || { cat "$work/e2e.txt" >&2; exit 1; }
echo "accepting $ACCEPTS messages per store…" >&2
(cd gateway/api && "$work/api.test" -test.run='^$' -test.bench='^BenchmarkAcceptLatency$/^(sqlite-full|postgres)$' \
  -test.benchtime="${ACCEPTS}x" -test.timeout=30m) >"$work/api.txt" 2>&1 || { cat "$work/api.txt" >&2; exit 1; }

# metric LINE UNIT: the value go test printed before UNIT on a result line.
metric() { awk -v u="$2" '{for (i = 2; i <= NF; i++) if ($i == u) {print $(i-1); exit}}' <<<"$1"; }
row() { grep -E "^BenchmarkEndToEnd/$1(-[0-9]+)?[[:space:]]" "$work/e2e.txt" | tail -n1; }
acc() { grep -E "^BenchmarkAcceptLatency/$1(-[0-9]+)?[[:space:]]" "$work/api.txt" | tail -n1; }

echo
echo "xagw end-to-end delivery: $N messages per store, ~20 KB application, RSA-2048, $(nproc) cores"
echo "$(go version | cut -d' ' -f3), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "SQLite synchronous=FULL (WAL); PostgreSQL fsync=$fsync, synchronous_commit=on"
echo
printf '%-10s %7s %15s %9s %9s %6s %9s %9s %9s\n' store msgs/s "RSA ops/msg" "µs/RSA op" "RSA bound" share "CPU ms/msg" "RSA share" "CPU bound"
printf '%-10s %7s %15s %9s %9s %6s %9s %9s %9s\n' "" "" "(gw + im)" "" "msgs/s" "" "" "of CPU" "msgs/s"
for s in sqlite postgres; do
  l=$(row $s)
  [ -n "$l" ] || { echo "no result for $s" >&2; cat "$work/e2e.txt" >&2; exit 1; }
  printf '%-10s %7.1f %6.1f (%.0f + %.0f) %9.0f %9.1f %5.1f%% %9.2f %8.1f%% %9.1f\n' "$s" \
    "$(metric "$l" msgs/s)" "$(metric "$l" rsa-ops/msg)" "$(metric "$l" gw-rsa-ops/msg)" "$(metric "$l" im-rsa-ops/msg)" \
    "$(metric "$l" µs/rsa-op)" "$(metric "$l" rsa-bound-msgs/s)" "$(metric "$l" %-of-bound)" \
    "$(metric "$l" cpu-ms/msg)" "$(metric "$l" %-cpu-in-rsa)" "$(metric "$l" cpu-bound-msgs/s)"
done
l=$(row sqlite)
printf '(bare RSA op on an idle goroutine before the run: %.0f µs; GC percent %.0f)\n' "$(metric "$l" µs/rsa-op-bare)" "$(metric "$l" gc-percent)"
echo
echo "API accept latency ($ACCEPTS sequential posts of the sample application: validation, sealing, durable insert)"
printf '%-10s %8s %8s\n' store p50-ms p99-ms
for s in sqlite-full postgres; do
  l=$(acc $s)
  [ -n "$l" ] || { echo "no accept result for $s" >&2; cat "$work/api.txt" >&2; exit 1; }
  printf '%-10s %8s %8s\n' "${s%-full}" "$(metric "$l" p50-ms)" "$(metric "$l" p99-ms)"
done
