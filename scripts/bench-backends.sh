#!/usr/bin/env bash
# Scenarios A–D of `kaifang bench` on the embedded SQLite database and on
# PostgreSQL (one node), side by side: RUNS rounds, each round one run per
# backend, each run on a fresh server with a fresh database; then E once,
# with as many idle WebSockets as the open-file limit allows.
# Prints one JSON line per run, prefixed with its backend and round.
#
#   cargo build --release -p kaifang
#   scripts/bench-backends.sh                 # RUNS=3 E_CONNECTIONS=19500
#
# PostgreSQL: KAIFANG_BENCH_POSTGRES (default
# postgres://postgres@127.0.0.1:5432/postgres) names a database whose user
# may create databases; each run creates and drops its own. PG_QUERY is
# appended to the server's database URL (e.g.
# 'options=-c%20synchronous_commit%3Doff'); BACKENDS (default
# "sqlite postgres") and E_CONNECTIONS=0 (no E) narrow the run.
# KAIFANG_CLIENT_BIN (default: the server's binary) runs `kaifang bench`, so
# that two servers can be compared with one client.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KAIFANG_BIN:-${CARGO_TARGET_DIR:-target}/release/kaifang}
client=${KAIFANG_CLIENT_BIN:-$bin}
admin=${KAIFANG_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
runs=${RUNS:-3}
e_connections=${E_CONNECTIONS:-19500}
port=${PORT:-18097}
server="http://127.0.0.1:$port"
# Set only when E runs, so that a server from before the setting still starts.
max_connections=""
[ "$e_connections" -gt 0 ] && max_connections=$((e_connections + 1000))

pid=""
db=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$db" ]; then psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; fi
  pid=""; db=""
}
trap cleanup EXIT

# start BACKEND: a fresh server on $port, waiting (bounded) until it listens.
start() {
  local data url=""
  data=$(mktemp -d)
  if [ "$1" = postgres ]; then
    db="kaifang_bench_$(date +%s)_$$"
    psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
    url="${admin%/*}/$db${PG_QUERY:+?$PG_QUERY}"
  fi
  # The script's own KAIFANG_* variables are not the server's settings (an
  # older server refuses unknown ones).
  env -u KAIFANG_BIN -u KAIFANG_CLIENT_BIN -u KAIFANG_BENCH_POSTGRES \
    KAIFANG_LISTEN=127.0.0.1:$port KAIFANG_DATA_DIR=$data KAIFANG_LOG=warn \
    ${url:+KAIFANG_DATABASE__URL=$url} \
    KAIFANG_AUTH__ARGON2_MEMORY_KIB=1024 KAIFANG_AUTH__ARGON2_ITERATIONS=1 \
    KAIFANG_AUTH__SIGNUPS_PER_ADDRESS_PER_HOUR=100000 KAIFANG_PREVIEW__SYSTEM_DNS=false \
    ${max_connections:+KAIFANG_STREAM__MAX_CONNECTIONS=$max_connections} \
    "$bin" serve > "$data/stdout" 2> "$data/stderr" &
  pid=$!
  for _ in $(seq 1 300); do
    grep -q "listening on" "$data/stdout" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start: $(cat "$data/stderr")" >&2
  exit 1
}

for round in $(seq 1 "$runs"); do
  for backend in ${BACKENDS:-sqlite postgres}; do
    start "$backend"
    echo "$backend round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg): $("$client" --server "$server" bench --scenarios abcd)"
    cleanup
  done
done
[ "$e_connections" -gt 0 ] || exit 0
start sqlite
echo "server $(grep 'Max open files' "/proc/$pid/limits")"
echo "sqlite E $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg): $("$client" --server "$server" bench --scenarios e --e-connections "$e_connections")"
cleanup
