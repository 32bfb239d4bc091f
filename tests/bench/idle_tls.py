#!/usr/bin/env python3
"""Opens DNS-over-TLS connections and keeps them idle, for dot.sh's memory figure.

    idle_tls.py ADDR PORT FIRST MORE HOLD_SECS LIMIT_SECS

Opens FIRST connections one after another (TLS handshake, then one query answered, so each is
an established, idle DoT connection), prints "phase1 opened=N failed=F", sleeps HOLD_SECS while
the caller measures, then opens MORE further connections and prints "phase2 opened=N failed=F
open=K" (K: how many of all of them the server has not closed), sleeps HOLD_SECS again and
exits, closing everything. Bounded: never more than FIRST + MORE connections, and no new
connection after LIMIT_SECS. Certificates are not checked (the server's is made for the run).
"""
import select
import socket
import ssl
import struct
import sys
import time

addr, port = sys.argv[1], int(sys.argv[2])
first, more = int(sys.argv[3]), int(sys.argv[4])
hold, limit = float(sys.argv[5]), float(sys.argv[6])
deadline = time.monotonic() + limit

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["dot"])

# ". NS IN", RD=1: any answer will do; the cache has it after the first.
QUERY = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x00" + struct.pack("!HH", 2, 1)
FRAME = struct.pack("!H", len(QUERY)) + QUERY


def read_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def open_one():
    raw = socket.create_connection((addr, port), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname="tern.test")
        s.sendall(FRAME)
        (length,) = struct.unpack("!H", read_exact(s, 2))
        read_exact(s, length)
        s.setblocking(False)
        return s
    except Exception:
        raw.close()
        raise


def still_open(s):
    """False once the server has closed it (close_notify or FIN readable)."""
    # poll, not select: select() takes no descriptor past 1023.
    poller = select.poll()
    poller.register(s, select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        return s.recv(1) != b""
    except ssl.SSLWantReadError:
        return True
    except (ssl.SSLError, OSError):
        return False


conns = []


def open_many(n):
    opened = failed = 0
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        try:
            conns.append(open_one())
            opened += 1
        except (OSError, ssl.SSLError, ConnectionError):
            failed += 1
    return opened, failed


o, f = open_many(first)
print(f"phase1 opened={o} failed={f}", flush=True)
time.sleep(hold)
o, f = open_many(more)
alive = sum(1 for s in conns if still_open(s))
print(f"phase2 opened={o} failed={f} open={alive}", flush=True)
time.sleep(hold)
for s in conns:
    s.close()
