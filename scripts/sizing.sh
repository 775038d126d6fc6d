#!/usr/bin/env bash
# Measures what docs/operating.md's sizing table is built from, on this
# machine, with the release binary and its load generator (`kaifang bench`):
#
#   1. RAM at idle: the resident memory of a fresh server (/proc/PID/status).
#   2. Disk per message: N messages sent through the API (bench A: one
#      sender, each message with a shop link, so link-share rows too; and
#      bench B: 8 senders, short texts), then a clean stop (the WAL is
#      folded in) and the growth of kaifang.db, divided by N.
#   3. CPU per message: server CPU time (utime + stime, /proc/PID/stat)
#      over bench C (a steady rate, each message received on a WebSocket),
#      divided by the messages sent.
#   4. RAM per connected client: bench E (idle WebSockets held; the growth
#      of the server's resident memory, divided by the connections).
#
#   scripts/sizing.sh [MESSAGES] [CONNECTIONS]     (default 100000, 5000)
#
# Every load is bounded by its count and by the bench's --time-limit.
# Cheap password hashing (1 MiB argon2): sign-ups are not what is measured.
set -euo pipefail
cd "$(dirname "$0")/.."

messages=${1:-100000}
connections=${2:-5000}
bin=$(realpath "${KAIFANG_BIN:-${CARGO_TARGET_DIR:-target}/release/kaifang}")
[ -x "$bin" ] || { echo "no release binary at $bin: cargo build --release -p kaifang"; exit 1; }
tick=$(getconf CLK_TCK)

work=$(mktemp -d)
pid=
stop_server() {
  if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
  pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

start_server() {
  local data=$1
  : >"$work/out"
  KAIFANG_LISTEN=127.0.0.1:0 KAIFANG_DATA_DIR="$data" KAIFANG_LOG=warn \
  KAIFANG_AUTH__ARGON2_MEMORY_KIB=1024 KAIFANG_AUTH__ARGON2_ITERATIONS=1 \
  KAIFANG_AUTH__SIGNUPS_PER_ADDRESS_PER_HOUR=1000000 \
  KAIFANG_LIMITS__MESSAGES_PER_SECOND=100000 KAIFANG_LIMITS__MESSAGES_BURST=100000 \
  KAIFANG_PREVIEW__SYSTEM_DNS=false \
    env -u KAIFANG_BIN "$bin" serve >"$work/out" 2>>"$work/err" &
  pid=$!
  url=
  for _ in $(seq 300); do
    url=$(sed -n 's/^listening on //p' "$work/out")
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
    sleep 0.1
  done
  echo "the server did not start"; exit 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bench() { "$bin" --server "$url" bench --time-limit 600 "$@"; }
db_bytes() { stat -c %s "$1/kaifang.db"; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

echo "== 1. RAM at idle"
start_server "$work/idle"
sleep 2  # let start-up allocations settle; only read after it
echo "idle RSS: $(rss_kib "$pid") KiB"
stop_server

for scenario in a b; do
  echo "== 2. disk per message, bench ${scenario^^}, $messages messages"
  data="$work/disk-$scenario"
  start_server "$data"
  if [ "$scenario" = a ]; then
    bench --scenarios a --a-messages 10 >/dev/null      # creates the schema's rows for users
  else
    bench --scenarios b --b-senders 8 --b-messages 1 >/dev/null
  fi
  stop_server; before=$(db_bytes "$data"); start_server "$data"
  if [ "$scenario" = a ]; then
    bench --scenarios a --a-messages "$messages"
  else
    bench --scenarios b --b-senders 8 --b-messages $((messages / 8))
  fi
  stop_server
  after=$(db_bytes "$data")
  [ ! -s "$data/kaifang.db-wal" ] || { echo "the WAL was not folded at stop"; exit 1; }
  echo "kaifang.db grew $((after - before)) bytes for $messages messages:" \
       "$(( (after - before) / messages )) bytes a message," \
       "$(( (after - before) * (1000000 / messages) / 1048576 )) MiB per 1,000,000"
done

echo "== 3. CPU per message (bench C: 500 msg/s for 20 s, each received on a WebSocket)"
start_server "$work/cpu"
t0=$(cpu_ticks "$pid"); s0=$(date +%s.%N)
bench --scenarios c --c-rate 500 --c-messages 10000
t1=$(cpu_ticks "$pid"); s1=$(date +%s.%N)
awk -v t="$((t1 - t0))" -v hz="$tick" -v n=10000 -v s0="$s0" -v s1="$s1" 'BEGIN {
  cpu = t / hz; wall = s1 - s0;
  printf "server CPU %.2f s over %.1f s for %d messages: %.0f µs a message, %.2f cores per 1,000 msg/s\n",
    cpu, wall, n, cpu / n * 1e6, cpu / n * 1000 }'
stop_server

echo "== 4. RAM per connected client (bench E: $connections idle WebSockets)"
start_server "$work/conn"
bench --scenarios e --e-connections "$connections"
echo "RSS with them open: $(rss_kib "$pid") KiB"
stop_server
