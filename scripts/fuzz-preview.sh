#!/usr/bin/env bash
# Fuzz the preview extractor (crates/preview/fuzz, cargo-fuzz, nightly).
# Seeds the fuzz corpus with the link-preview corpus pages under 120 KB.
# Usage: scripts/fuzz-preview.sh [seconds]   (default 60; KAIFANG_CORPORA as
# for the tests, default ../shared/corpora beside the repository)
# Exits non-zero when libFuzzer finds a crash, a timeout or a leak of memory
# past 2 GB; the input that did it is kept in crates/preview/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
corpora="${KAIFANG_CORPORA:-$(cd .. && pwd)/shared/corpora}"
seeds=crates/preview/fuzz/corpus/extract
mkdir -p "$seeds"
if [ -d "$corpora/link-preview" ]; then
  find "$corpora/link-preview" -name input.html -size -120k | while read -r page; do
    cp "$page" "$seeds/$(basename "$(dirname "$page")").html"
  done
fi
cd crates/preview/fuzz
exec cargo +nightly fuzz run extract -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
