#!/usr/bin/env bash
# Upload latency and throughput of attachments: one client, sequential
# uploads over loopback to a fresh `kaifang serve` (SQLite, blobs in a
# temporary data folder, so every write is a new file fsynced and renamed),
# in two kinds: FILES uploads of 1 MiB of random bytes (sniffed, hashed,
# stored as they are) and IMAGES uploads of a 1024×768 RGB PNG of a smooth
# gradient, each different (decoded, re-encoded without metadata and
# thumbnailed). Every upload is distinct, so nothing is deduplicated; the
# blob folder starts empty. Prints the load average before and after, and
# for each kind the p50, p95 and max latency and the MiB/s uploaded.
#
#   cargo build -p kaifang                         # or --release
#   scripts/bench-attachments.sh                   # FILES=30 IMAGES=30
#
# KAIFANG_BIN picks the binary (default target/debug/kaifang).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KAIFANG_BIN:-${CARGO_TARGET_DIR:-target}/debug/kaifang}
files=${FILES:-30}
images=${IMAGES:-30}
port=${PORT:-18201}
data=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
KAIFANG_DATA_DIR="$data" KAIFANG_LISTEN="127.0.0.1:$port" KAIFANG_LOG=warn \
  KAIFANG_AUTH__ARGON2_MEMORY_KIB=1024 KAIFANG_AUTH__ARGON2_ITERATIONS=1 \
  "$bin" serve >/dev/null &
pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

FILES=$files IMAGES=$images URL="http://127.0.0.1:$port" timeout 900 python3 - <<'PY'
import json, os, struct, time, urllib.request, zlib

url = os.environ["URL"]

def call(method, path, body=None, token=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url + "/api/v1" + path, data=data, method=method)
    req.add_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null")

for who in ("alice", "bob"):
    call("POST", "/accounts", {"handle": who, "password": "correct horse battery"})
token = call("POST", "/sessions", {"handle": "alice", "password": "correct horse battery"})["token"]
conv = call("POST", "/conversations", {"kind": "direct", "with": "bob"}, token)["id"]

def png(seed, w=1024, h=768):
    rows = b"".join(b"\0" + bytes(v for x in range(w) for v in ((x + seed) % 256, (y + 2 * seed) % 256, (x + y) % 256)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")

def run(kind, payloads):
    times, total = [], 0
    for i, p in enumerate(payloads):
        start = time.perf_counter()
        call("POST", f"/conversations/{conv}/attachments?name={kind}{i}", token=token, raw=p)
        times.append(time.perf_counter() - start)
        total += len(p)
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(f * len(times)))] * 1000
    print(json.dumps({"kind": kind, "uploads": len(times), "bytes_each": len(payloads[0]),
                      "p50_ms": round(q(0.5), 1), "p95_ms": round(q(0.95), 1), "max_ms": round(times[-1] * 1000, 1),
                      "mib_per_s": round(total / sum(times) / 2**20, 2)}))

run("file", [os.urandom(1 << 20) for _ in range(int(os.environ["FILES"]))])
run("png", [png(i) for i in range(int(os.environ["IMAGES"]))])
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
