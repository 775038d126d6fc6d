#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png: the main screens of the web client in
# headless Chromium against a fresh `kaifang serve` (see docs/web.md).
# Needs what scripts/browser-tests.sh needs; installs a CJK font with apt
# if none is present, so that Chinese text is not drawn as boxes.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

need=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  timeout 900 $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive timeout 900 $sudo_cmd apt-get install -y -q "${need[@]}"
fi

(cd tests/browser && timeout 600 npm ci --no-audit --no-fund --loglevel=error)
cargo build -p kaifang
target=${CARGO_TARGET_DIR:-$repo/target}
case "$target" in /*) ;; *) target="$repo/$target" ;; esac
export KAIFANG_BIN="$target/debug/kaifang"
cd tests/browser
timeout 300 node screenshots.mjs
