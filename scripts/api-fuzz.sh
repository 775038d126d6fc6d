#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis:
# a real `kaifang serve` on loopback with a temporary data folder, signed in
# as its first account (an administrator), for a bounded time. Fails on any
# 5xx and on any answer the document does not describe (status, content
# type, headers, body schema).
#
#   scripts/api-fuzz.sh [SECONDS]     (default 240; CI keeps it under 5 min)
#
# Hashing is cheap and sign-ups unlimited so that random data gets past
# them (the e2e tests cover both). Nothing leaves the machine: previews are
# off (the server fetches nothing), system DNS is off, and schemathesis
# follows no redirect (`/go` answers redirects to the fuzzed URLs).
set -euo pipefail
cd "$(dirname "$0")/.."

budget=${1:-240}
version=4.32.5
venv=${KAIFANG_FUZZ_VENV:-target/api-fuzz-venv}

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi
cargo build --quiet -p kaifang
bin=${CARGO_TARGET_DIR:-target}/debug/kaifang

work=$(mktemp -d)
pid=
cleanup() {
  # The server's own exit status (it is being stopped) is not the run's.
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Created first: the loop below may read them before the server opens them.
: >"$work/out"
: >"$work/err"
KAIFANG_LISTEN=127.0.0.1:0 \
KAIFANG_DATA_DIR="$work/data" \
KAIFANG_LOG=warn \
KAIFANG_PREVIEW__ENABLED=false \
KAIFANG_PREVIEW__SYSTEM_DNS=false \
KAIFANG_AUTH__ARGON2_MEMORY_KIB=1024 \
KAIFANG_AUTH__ARGON2_ITERATIONS=1 \
KAIFANG_AUTH__SIGNUPS_PER_ADDRESS_PER_HOUR=1000000 \
KAIFANG_AUTH__FIRST_SIGNUP_BECOMES_ADMIN=true \
  "$bin" serve >"$work/out" 2>"$work/err" &
pid=$!
url=
for _ in $(seq 300); do
  url=$(sed -n 's/^listening on //p' "$work/out")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start"; exit 1; }

password='fuzzing is fun 12345'
curl -sf -H 'content-type: application/json' \
  -d "{\"handle\":\"fuzzer\",\"password\":\"$password\"}" "$url/api/v1/accounts" >/dev/null
token=$(curl -sf -H 'content-type: application/json' \
  -d "{\"handle\":\"fuzzer\",\"password\":\"$password\"}" "$url/api/v1/sessions" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# Signing out would end the token every other case uses: it is left out
# (the e2e tests cover it).
start=$(date +%s)
status=0
# Run from the temporary folder: schemathesis keeps a cache in the current one.
venv=$(cd "$venv" && pwd)
cd "$work"
"$venv/bin/schemathesis" run "$url/api/v1/openapi.json" \
  --url "$url" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --exclude-path /api/v1/sessions/current \
  --max-time "$budget" \
  --max-redirects 0 \
  --request-timeout 30 \
  --workers 2 \
  --seed "${KAIFANG_FUZZ_SEED:-1}" \
  --no-color \
  --report junit --report-dir "$work/report" || status=$?
echo "api-fuzz: schemathesis $version, ${budget}s budget, $(($(date +%s) - start))s spent, exit $status"
if [ "$status" -ne 0 ]; then
  echo "the server's log, last 40 lines:"; tail -n 40 "$work/err"
  kill -0 "$pid" 2>/dev/null || echo "the server process is gone"
fi
if grep -q 'panicked' "$work/err"; then
  echo "the server panicked:"; grep -A3 panicked "$work/err"; status=1
fi
exit "$status"
