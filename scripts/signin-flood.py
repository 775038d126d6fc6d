#!/usr/bin/env python3
"""Fires N simultaneous wrong sign-ins at a fresh `kaifang serve` on loopback
and prints the answers by status and the server's peak memory (VmHWM).

    python3 scripts/signin-flood.py target/release/kaifang 1000 [KEY=VALUE ...]
    FLOOD_HANDLE=alice python3 scripts/signin-flood.py ... 60   # one account

With FLOOD_HANDLE, that account is created first and every attempt guesses
its password: the answers show how many guesses were checked (401).

Each attempt uses its own unknown handle (the decoy hash is checked), so the
per-handle limit does not hide the hashing; raise the per-address limit with
a KEY=VALUE setting (passed to the server's environment) for the same reason:
KAIFANG_AUTH__LOGIN_FREE_FAILURES_PER_ADDRESS=1000000 (before #13:
KAIFANG_AUTH__LOGIN_FAILURES_PER_ADDRESS). Only 127.0.0.1 is contacted.
"""
import asyncio, collections, json, os, re, subprocess, sys, tempfile, threading, time

def hwm_kib(pid, field="VmHWM"):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1))

async def post(port, path, payload):
    body = json.dumps(payload).encode()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await w.drain()
    line = await asyncio.wait_for(r.readline(), 300)
    w.close()
    return line.split()[1].decode() if line else "closed"

async def sign_in(port, i, statuses):
    handle = os.environ.get("FLOOD_HANDLE") or f"nobody{i}"
    body = json.dumps({"handle": handle, "password": "wrong password"}).encode()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 300)
        statuses[line.split()[1].decode() if line else "closed"] += 1
        w.close()
    except Exception as e:  # counted, not hidden
        statuses[type(e).__name__] += 1

async def main():
    binary, n = sys.argv[1], int(sys.argv[2])
    env = dict(os.environ, KAIFANG_LISTEN="127.0.0.1:0", KAIFANG_LOG="error",
               KAIFANG_PREVIEW__SYSTEM_DNS="false")
    for kv in sys.argv[3:]:
        k, v = kv.split("=", 1)
        env[k] = v
    with tempfile.TemporaryDirectory() as data:
        env["KAIFANG_DATA_DIR"] = data
        server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            threading.Thread(target=lambda: server.stdout.read(), daemon=True).start()
            port = int(line.rsplit(":", 1)[1])
            if os.environ.get("FLOOD_HANDLE"):
                await post(port, "/api/v1/accounts",
                           {"handle": os.environ["FLOOD_HANDLE"], "password": "correct horse battery"})
            before = hwm_kib(server.pid, "VmRSS")
            statuses = collections.Counter()
            t = time.monotonic()
            await asyncio.gather(*(sign_in(port, i, statuses) for i in range(n)))
            took = time.monotonic() - t
            print(f"{n} sign-ins in {took:.1f} s: {dict(statuses)}; "
                  f"RSS before {before / 1024:.0f} MiB, peak {hwm_kib(server.pid) / 1024:.0f} MiB, "
                  f"after {hwm_kib(server.pid, 'VmRSS') / 1024:.0f} MiB")
        finally:
            server.kill()
            server.wait()

asyncio.run(main())
