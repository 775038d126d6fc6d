#!/usr/bin/env bash
# Checks what Prometheus will read, with Prometheus' own tool:
# - `promtool check rules` on dist/prometheus/alerts.yml;
# - `promtool check metrics` on the /metrics of a live `kaifang serve`
#   with `metrics.listen` set, after some traffic (sign-up, sign-in, a
#   conversation, a send, a 404), so every family has samples;
# - `promtool check config` on the scrape configuration docs/operating.md
#   shows (extracted from it, so the document cannot drift).
#
#   scripts/prometheus-check.sh       (KAIFANG_BIN=… to use a built binary)
#
# promtool comes with Debian's `prometheus` package, installed with apt if
# missing; if that fails, the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
  echo "installing prometheus (for promtool) with apt"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends prometheus
fi
promtool --version 2>&1 | head -n1

bin=${KAIFANG_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet -p kaifang
  bin=${CARGO_TARGET_DIR:-target}/debug/kaifang
fi

work=$(mktemp -d)
pid=
cleanup() {
  local status=$?
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
  [ $status -eq 0 ] || { echo "--- server log"; tail -n 30 "$work/err" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

echo "== promtool check rules dist/prometheus/alerts.yml"
promtool check rules dist/prometheus/alerts.yml

echo "== promtool check config (the scrape configuration in docs/operating.md)"
# The first ```yaml block after the "prometheus.yml" marker comment.
awk '/^```yaml/ {inside=1; next} /^```/ {if (inside && found) exit; inside=0} inside && /# prometheus.yml/ {found=1} inside && found {print}' \
  docs/operating.md >"$work/prometheus.yml"
grep -q scrape_configs "$work/prometheus.yml" || { echo "no scrape configuration found in docs/operating.md"; exit 1; }
cp dist/prometheus/alerts.yml "$work/kaifang-alerts.yml"
sed -i "s|/etc/prometheus/kaifang-alerts.yml|$work/kaifang-alerts.yml|" "$work/prometheus.yml"
promtool check config "$work/prometheus.yml"

echo "== promtool check metrics (a live server's /metrics)"
: >"$work/out"
KAIFANG_LISTEN=127.0.0.1:0 \
KAIFANG_METRICS__LISTEN=127.0.0.1:0 \
KAIFANG_DATA_DIR="$work/data" \
KAIFANG_LOG=warn \
KAIFANG_PREVIEW__ENABLED=false \
KAIFANG_PREVIEW__SYSTEM_DNS=false \
KAIFANG_AUTH__ARGON2_MEMORY_KIB=1024 \
KAIFANG_AUTH__ARGON2_ITERATIONS=1 \
  "$bin" serve >"$work/out" 2>"$work/err" &
pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's/^listening on //p' "$work/out")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "kaifang exited"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "kaifang did not start"; exit 1; }
metrics=$(sed -n 's/^metrics on //p' "$work/out")
[ -n "$metrics" ] || { echo "no 'metrics on' line: metrics.listen ignored?"; exit 1; }

post() { curl -sf -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2" "$url$1"; }
pw='prometheus check 1234'
post /api/v1/accounts "{\"handle\":\"alice\",\"password\":\"$pw\"}" >/dev/null
post /api/v1/accounts "{\"handle\":\"bob\",\"password\":\"$pw\"}" >/dev/null
token=$(post /api/v1/sessions "{\"handle\":\"alice\",\"password\":\"$pw\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
conv=$(post /api/v1/conversations '{"kind":"direct","with":"bob"}' "$token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
post "/api/v1/conversations/$conv/messages" '{"body":"hello"}' "$token" >/dev/null
curl -s -o /dev/null "$url/no-such-page"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/metrics")
[ "$code" = 404 ] || { echo "/metrics on the public listener: $code, expected 404"; exit 1; }

curl -sf "$metrics/metrics" >"$work/metrics.txt"
for family in kaifang_http_requests_total kaifang_http_request_duration_seconds_bucket \
  kaifang_connected_clients kaifang_messages_sent_total kaifang_database_errors_total \
  process_open_fds process_max_fds process_resident_memory_bytes; do
  grep -q "^$family" "$work/metrics.txt" || { echo "no $family in /metrics"; exit 1; }
done
promtool check metrics <"$work/metrics.txt"
echo "ok: /metrics ($(grep -vc '^#' "$work/metrics.txt") samples) passes promtool check metrics"
