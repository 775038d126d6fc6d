#!/usr/bin/env bash
# Scenarios A–D of `kaifang bench` on PostgreSQL with one node and with two
# nodes, side by side: RUNS rounds, each round one run of each (the order
# alternates between rounds, so that neither always runs first on a busy
# machine), every run on fresh servers with a freshly created database
# (dropped after the run). Two nodes are two `kaifang serve` on loopback
# ports PORT and PORT+1, one database, and a nats-server this script starts
# on a free loopback port; the bench spreads its clients over both nodes,
# and C and D send through the first and receive on the second, so they
# time delivery between nodes. Prints one JSON line per run, prefixed with
# its setup, round and load average, then the median of each figure.
#
#   cargo build --release -p kaifang
#   scripts/bench-nodes.sh                    # RUNS=3
#
# KAIFANG_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/postgres)
# names a database whose user may create databases. PG_QUERY is appended to
# the servers' database URL (e.g. 'options=-c%20synchronous_commit%3Doff');
# NATS_SERVER (default /usr/sbin/nats-server); BENCH_ARGS are passed to
# `kaifang bench` (e.g. '--c-rate 50 --c-messages 500', the defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KAIFANG_BIN:-${CARGO_TARGET_DIR:-target}/release/kaifang}
admin=${KAIFANG_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
nats_server=${NATS_SERVER:-/usr/sbin/nats-server}
runs=${RUNS:-3}
port=${PORT:-18101}
out=$(mktemp)

pids=()
nats_pid=""
db=""
cleanup() {
  local p
  for p in "${pids[@]}" $nats_pid; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}" $nats_pid; do wait "$p" 2>/dev/null || true; done
  if [ -n "$db" ]; then psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; fi
  pids=(); nats_pid=""; db=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# listens PORT: whether something accepts on 127.0.0.1:PORT.
listens() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start_nats: a nats-server on a loopback port that was free a moment ago
# (taken meanwhile: another), waiting (bounded) until it accepts; sets $nats.
start_nats() {
  local p
  for _ in 1 2 3 4 5; do
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$nats_server" -a 127.0.0.1 -p "$p" >/dev/null 2>&1 &
    nats_pid=$!
    for _ in $(seq 1 100); do
      if listens "$p"; then nats="nats://127.0.0.1:$p"; return 0; fi
      kill -0 "$nats_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; nats_pid=""
  done
  echo "nats-server did not start" >&2
  exit 1
}

# start_node PORT [BUS]: a server on the run's database, waiting (bounded)
# until /healthz says ok (with a bus: until it is connected to it).
start_node() {
  local data
  data=$(mktemp -d)
  KAIFANG_LISTEN=127.0.0.1:$1 KAIFANG_DATA_DIR=$data KAIFANG_LOG=warn \
    KAIFANG_DATABASE__URL="${admin%/*}/$db${PG_QUERY:+?$PG_QUERY}" KAIFANG_BUS__URL=${2:-} \
    KAIFANG_AUTH__ARGON2_MEMORY_KIB=1024 KAIFANG_AUTH__ARGON2_ITERATIONS=1 \
    KAIFANG_AUTH__SIGNUPS_PER_ADDRESS_PER_HOUR=100000 KAIFANG_PREVIEW__SYSTEM_DNS=false \
    "$bin" serve > "$data/stdout" 2> "$data/stderr" &
  pids+=($!)
  for _ in $(seq 1 300); do
    [ "$(curl -s --max-time 2 "http://127.0.0.1:$1/healthz" || true)" = ok ] && return 0
    sleep 0.1
  done
  echo "server on port $1 did not become healthy: $(cat "$data/stderr")" >&2
  exit 1
}

# run NODES ROUND: one bench run on NODES (1 or 2) fresh nodes.
run() {
  local urls
  db="kaifang_bench_nodes_$(date +%s)_$$"
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  if [ "$1" = 1 ]; then
    start_node "$port"
    urls="http://127.0.0.1:$port"
  else
    start_nats
    start_node "$port" "$nats"
    start_node "$((port + 1))" "$nats"
    urls="http://127.0.0.1:$port,http://127.0.0.1:$((port + 1))"
  fi
  local load report
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  # shellcheck disable=SC2086 # BENCH_ARGS is a list of words
  report=$("$bin" bench --url "$urls" --scenarios abcd ${BENCH_ARGS:-})
  echo "postgres-$1node round $2 $(date -u +%H:%M:%S) load $load: $report" | tee -a "$out"
  cleanup
}

for round in $(seq 1 "$runs"); do
  if [ $((round % 2)) = 1 ]; then run 1 "$round"; run 2 "$round"; else run 2 "$round"; run 1 "$round"; fi
done

echo "medians of $runs rounds (A, B: msg/s; C, D: ms):"
for setup in postgres-1node postgres-2node; do
  grep "^$setup " "$out" | sed 's/^[^{]*//' | jq -rs --arg setup "$setup" '
    def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                       else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    def m(f): map(f) | median * 10 | round / 10;
    "\($setup): A \(m(.a_sequential.per_second)) B \(m(.b_concurrent.per_second))"
    + " C p50 \(m(.c_latency.p50_ms)) p99 \(m(.c_latency.p99_ms))"
    + " D p50 \(m(.d_fanout.all_members.p50_ms)) p99 \(m(.d_fanout.all_members.p99_ms))"'
done
rm -f "$out"
