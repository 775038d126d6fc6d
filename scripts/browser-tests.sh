#!/usr/bin/env bash
# Browser tests: the web client in Debian's Chromium, driven headless by
# playwright-core (no browser download), against the real `kaifang serve`.
#
#   scripts/browser-tests.sh            # all tests in tests/browser
#   scripts/browser-tests.sh chat       # only tests/browser/chat.test.mjs
#
# Installs Chromium with apt if it is missing, runs `npm ci`, builds the
# binaries (`kaifang`, and `kaifang-paysim` for the payments test; honouring
# CARGO_TARGET_DIR), then runs `node --test`. Each test
# file starts its own server on a free loopback port with a temporary data
# folder (so that the reconnect test can stop it and start it again on the
# same port and data) and stops it at the end. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "== installing Chromium (apt)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  timeout 900 $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive timeout 900 $sudo_cmd apt-get install -y -q chromium
fi
"$chromium" --version

echo "== npm ci (tests/browser)"
(cd tests/browser && timeout 600 npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo build -p kaifang -p kaifang-paysim"
cargo build -p kaifang -p kaifang-paysim
target=${CARGO_TARGET_DIR:-$repo/target}
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
export KAIFANG_BIN="$target/debug/kaifang"
# The wallet simulators payments.test.mjs runs (docs/payments.md, "Running a simulator").
export KAIFANG_PAYSIM_BIN="$target/debug/kaifang-paysim"
export CHROMIUM="$chromium"

# Flush what earlier steps wrote first. A release build leaves gigabytes of dirty pages, and an
# fsync in a test's server (most likely SQLite's checkpoint; not verified) can wait behind their writeback for tens of
# seconds, so a test waiting for a live event times out. Seen on a fresh machine, where CI's
# release build came just before these tests; reproduced by writing 6 GB with dd beside them.
echo "== sync (earlier steps' writes reach the disk before the timed tests)"
sync
echo "== node --test (tests/browser)"
cd tests/browser
files=()
for name in "$@"; do files+=("${name%.test.mjs}.test.mjs"); done
if [ ${#files[@]} -eq 0 ]; then files=(*.test.mjs); fi
# One file at a time: the machine is small and each file runs a server and a browser.
# The readable report goes to the terminal; a TAP copy is kept for the
# count of skipped and todo tests, which `node --test` does not fail on.
tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
timeout 1200 node --test --test-concurrency=1 --test-timeout=180000 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  "${files[@]}"
# A test that skips is a test that failed: it did not check what it names.
for kind in skipped todo; do
  if ! grep -qx "# $kind 0" "$tap"; then
    echo "browser tests: $(grep -x "# $kind [0-9]*" "$tap" || echo "no '# $kind' count in the report") (must be 0)" >&2
    grep -E "# (SKIP|TODO)" "$tap" >&2 || true
    exit 1
  fi
done
