#!/usr/bin/env python3
"""Drives Kaifang through a TLS reverse proxy (scripts/proxy-tests.sh starts
both): sign-up and sign-in, a send, the WebSocket stream receiving it, and
per-client sign-up limits, which show that Kaifang reads the client's
address from the proxy's header.

usage: proxy-check.py HOST PORT CA_FILE

Expects the server to trust the proxy (127.0.0.1/32) and to allow 3
sign-ups per address per hour. Standard library only. Prints one line per
check; exits non-zero at the first failure.
"""
import base64
import http.client
import json
import os
import socket
import ssl
import sys
import time

HOST, PORT, CA = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TIMEOUT = 20  # seconds, per network operation
PASSWORD = "correct horse battery"
CTX = ssl.create_default_context(cafile=CA)


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def request(method, path, body=None, token=None, source=None, headers=None):
    conn = http.client.HTTPSConnection(
        HOST, PORT, context=CTX, timeout=TIMEOUT,
        source_address=(source, 0) if source else None)
    h = dict(headers or {})
    if body is not None:
        h["content-type"] = "application/json"
    if token:
        h["authorization"] = f"Bearer {token}"
    conn.request(method, path, json.dumps(body) if body is not None else None, h)
    answer = conn.getresponse()
    text = answer.read().decode()
    conn.close()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = text
    return answer.status, data


def sign_up(handle, source=None, forwarded=None):
    headers = {"x-forwarded-for": forwarded} if forwarded else None
    status, _ = request("POST", "/api/v1/accounts",
                        {"handle": handle, "password": PASSWORD},
                        source=source, headers=headers)
    return status


def sign_in(handle):
    status, data = request("POST", "/api/v1/sessions",
                           {"handle": handle, "password": PASSWORD})
    if status not in (200, 201) or not isinstance(data, dict) or "token" not in data:
        fail(f"sign-in of {handle}: {status} {data}")
    return data["token"]


class WebSocket:
    """The least of RFC 6455 a test needs: a TLS handshake through the
    proxy, then text frames read until one contains what is expected."""

    def __init__(self, path):
        raw = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        self.sock = CTX.wrap_socket(raw, server_hostname=HOST)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
             ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                fail(f"WebSocket handshake: connection closed after {head!r}")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            fail(f"WebSocket handshake answered {status!r}")

    def _exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                fail("WebSocket closed by the other side")
            data += chunk
        return data

    def frame(self):
        b0, b1 = self._exact(2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(self._exact(2), "big")
        elif length == 127:
            length = int.from_bytes(self._exact(8), "big")
        payload = self._exact(length)  # servers do not mask
        return b0 & 0x0F, payload

    def wait_for(self, needle, within):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            opcode, payload = self.frame()
            if opcode == 0x8:
                fail(f"WebSocket closed: {payload!r}")
            if opcode == 0x1 and needle in payload.decode():
                return payload.decode()
        fail(f"no WebSocket event containing {needle!r} within {within} s")


def main():
    status, body = request("GET", "/healthz")
    if status != 200:
        fail(f"/healthz through the proxy: {status} {body}")
    print("ok: /healthz over HTTPS")

    for handle in ("alice", "bob"):
        status = sign_up(handle)
        if status != 201:
            fail(f"sign-up of {handle}: {status}")
    alice, bob = sign_in("alice"), sign_in("bob")
    print("ok: sign-up and sign-in")

    status, conv = request("POST", "/api/v1/conversations",
                           {"kind": "direct", "with": "bob"}, token=alice)
    if status not in (200, 201):
        fail(f"conversation: {status} {conv}")
    ws = WebSocket(f"/api/v1/stream?access_token={bob}")
    # The stream counts as connected once subscribed; a send before that
    # would still reach it through catch-up, so no wait is needed.
    text = f"through the proxy {os.getpid()}"
    status, sent = request("POST", f"/api/v1/conversations/{conv['id']}/messages",
                           {"body": text}, token=alice)
    if status not in (200, 201):
        fail(f"send: {status} {sent}")
    print("ok: send")
    ws.wait_for(text, TIMEOUT)
    print("ok: the WebSocket stream received the message")

    # Sign-ups allowed per address: 3. alice and bob came from 127.0.0.1;
    # if Kaifang saw only the proxy's address, the limit would be shared.
    results = [sign_up(f"two_{n}", source="127.0.0.2") for n in range(4)]
    if results != [201, 201, 201, 429]:
        fail(f"sign-ups from 127.0.0.2: {results}, expected 3 × 201 then 429")
    # A forged chain of 100 hops in front of what the proxy appends.
    chain = ", ".join(f"198.51.100.{n}" for n in range(99)) + ", 203.0.113.7"
    forged = sign_up("two_forged", source="127.0.0.2", forwarded=chain)
    if forged != 429:
        fail(f"a forged 100-hop X-Forwarded-For escaped the limit: {forged}")
    other = sign_up("three_0", source="127.0.0.3")
    if other != 201:
        fail(f"sign-up from 127.0.0.3 after 127.0.0.2 used its limit: {other}")
    print("ok: each client address behind the proxy has its own limit "
          "(a forged 100-hop header does not escape it)")


if __name__ == "__main__":
    main()
