#!/usr/bin/env bash
# Side by side on the same corpus, in one run: kaifang-preview (one thread,
# median of whole-corpus passes; criterion bench too) and metascraper (node;
# METASCRAPER_RUNS runs, default 1: one pass takes minutes and gigabytes),
# speed and per-field agreement with the corpus's expected values.
# Usage: scripts/bench-previews.sh   (KAIFANG_CORPORA=<dir holding link-preview/>,
# default ../shared/corpora beside the repository; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
export KAIFANG_CORPORA="${KAIFANG_CORPORA:-$(cd .. && pwd)/shared/corpora}"
corpus="$KAIFANG_CORPORA/link-preview"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== kaifang-preview: speed and agreement (one thread)"
cargo run -q --release -p kaifang-preview --example corpus -- --json
echo "== kaifang-preview: criterion median, whole corpus per iteration"
cargo bench -q -p kaifang-preview --bench extract -- --warm-up-time 2 --measurement-time 10 2>&1 \
  | grep -E 'time:|thrpt:' || true

echo "== metascraper: speed and agreement (npm install into $work; builds re2, minutes)"
cp scripts/metascraper/package.json scripts/metascraper/run.mjs "$work/"
(cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
for _ in $(seq "${METASCRAPER_RUNS:-1}"); do node "$work/run.mjs" "$corpus"; done
