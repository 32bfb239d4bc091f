#!/usr/bin/env python3
"""Malformed DNS traffic for tests/bench/garbage.sh: a UDP mix, TCP streams, slow-loris.

    garbage.py udp   ADDR PORT COUNT RATE SEED     COUNT datagrams at RATE/s from 64 sources
    garbage.py tcp   ADDR PORT COUNT CONC SEED     COUNT connections, CONC open at once
    garbage.py loris ADDR PORT COUNT MAX_SECS      COUNT connections, one byte each, then idle

KINDS=kind,kind (environment) keeps only those kinds of datagram or stream (the names printed in
`mix=`), to tell which costs what.

Each prints one line of `key=value` fields on stdout (read by garbage.sh). Everything is
bounded: a count, a rate, a deadline per connection. Nothing here is valid DNS on purpose, except
the question inside the EDNS cases (a fixed name, so garbage never fills a cache).
"""

import asyncio
import os
import random
import selectors
import socket
import struct
import sys
import time

# --------------------------------------------------------------------------------------------
# UDP datagrams


def header(rng, qd=1, an=0, ns=0, ar=0, flags=None):
    if flags is None:
        # QR=0, opcode QUERY, RD set or not; the rest random but not QR (a response is
        # ignored silently and tests less).
        flags = rng.getrandbits(16) & 0x07FF
    return struct.pack(">HHHHHH", rng.getrandbits(16), flags, qd, an, ns, ar)


QNAME = b"\x03www\x05alpha\x04test\x00"


def loop_name(rng):
    """A name that never ends: pointers to themselves or to each other (offset 12 is the
    question's start)."""
    kind = rng.randrange(4)
    if kind == 0:
        return b"\xc0\x0c"  # points at itself
    if kind == 1:
        return b"\x01a\xc0\x0c"  # a label, then back to it: a.a.a...
    if kind == 2:
        return b"\xc0\x0e\xc0\x0c"  # two pointers pointing at each other
    return b"\x01a" * rng.randrange(1, 40) + b"\xc0\x0c"  # a long way round, then back


KINDS = set(filter(None, os.environ.get("KINDS", "").split(",")))


def pick(rng, make):
    """One of `make`'s outcomes whose kind KINDS keeps (every kind without KINDS)."""
    for _ in range(10000):
        made = make(rng)
        if not KINDS or made[0] in KINDS:
            return made
    sys.exit(f"garbage.py: no kind in KINDS={','.join(sorted(KINDS))}")


def udp_datagram(rng):
    """One malformed datagram and its kind."""
    kind = rng.randrange(6)
    if kind == 0:  # random bytes of random length, 0 included
        return "random", rng.randbytes(rng.randrange(0, 1501))
    if kind == 1:  # shorter than a header
        return "runt", rng.randbytes(rng.randrange(0, 12))
    if kind == 2:  # a plausible header, then garbage sections with random counts
        h = header(rng, rng.randrange(0, 4), rng.randrange(0, 8), rng.randrange(0, 8), rng.randrange(0, 8))
        return "header+garbage", h + rng.randbytes(rng.randrange(0, 1200))
    if kind == 3:  # compression loops in the question
        return "loop", header(rng) + loop_name(rng) + b"\x00\x01\x00\x01"
    if kind == 4:  # a good question, then an OPT record whose options lie about their lengths
        opts = struct.pack(">HH", rng.getrandbits(16), rng.randrange(100, 65536)) + rng.randbytes(rng.randrange(0, 300))
        opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, len(opts)) + opts
        return "bad-edns", header(rng, ar=1, flags=0x0100) + QNAME + b"\x00\x01\x00\x01" + opt
    # a good question, then an answer record whose owner is a compression loop or whose rdlength
    # runs past the end
    rr = loop_name(rng) if rng.random() < 0.5 else QNAME
    rr += struct.pack(">HHIH", 1, 1, 300, rng.randrange(5, 65536)) + rng.randbytes(rng.randrange(0, 64))
    return "bad-record", header(rng, an=1, flags=0x0100) + QNAME + b"\x00\x01\x00\x01" + rr


def udp(addr, port, count, rate, seed):
    rng = random.Random(seed)
    sel = selectors.DefaultSelector()
    socks = []
    # 64 source addresses: anything kept per client shows up as growth.
    for i in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((f"127.{100 + i // 16}.{rng.randrange(256)}.{1 + rng.randrange(254)}", 0))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
    kinds = {}
    replies = sent = errors = 0
    buf = bytearray(65536)

    def drain():
        nonlocal replies
        for key, _ in sel.select(0):
            while True:
                try:
                    key.fileobj.recv_into(buf)
                except BlockingIOError:
                    break
                replies += 1

    # Paced in 2 ms ticks: bursts small enough that the server's socket buffer never fills.
    tick = 0.002
    per_tick = max(1, round(rate * tick))
    start = time.monotonic()
    while sent < count:
        for _ in range(min(per_tick, count - sent)):
            kind, data = pick(rng, udp_datagram)
            kinds[kind] = kinds.get(kind, 0) + 1
            try:
                socks[sent % len(socks)].sendto(data, (addr, port))
            except OSError:
                errors += 1
            sent += 1
        drain()
        ahead = start + (sent / rate) - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.monotonic() - start
    # Late replies.
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        drain()
        time.sleep(0.05)
    mix = ",".join(f"{k}:{v}" for k, v in sorted(kinds.items()))
    print(f"sent={sent} errors={errors} replies={replies} secs={elapsed:.1f} rate={sent / elapsed:.0f} mix={mix}")


# --------------------------------------------------------------------------------------------
# TCP streams


def tcp_stream(rng):
    """What one connection sends, its kind, and whether it ends with a reset instead of a FIN."""
    kind = rng.randrange(6)
    if kind == 0:  # a length prefix too short for a header, and that many bytes
        n = rng.randrange(0, 12)
        return "short-prefix", struct.pack(">H", n) + rng.randbytes(n), False
    if kind == 1:  # the largest prefixes, then part of the message, then gone
        n = rng.randrange(4096, 65536)
        return "huge-prefix-close", struct.pack(">H", n) + rng.randbytes(rng.randrange(0, 1000)), rng.random() < 0.5
    if kind == 2:  # plain garbage
        return "garbage", rng.randbytes(rng.randrange(1, 4097)), False
    if kind == 3:  # complete frames of malformed messages, several
        out = b""
        for _ in range(rng.randrange(1, 5)):
            _, d = udp_datagram(rng)
            out += struct.pack(">H", len(d)) + d
        return "bad-messages", out, False
    if kind == 4:  # one whole message as large as a prefix can say, all garbage
        n = rng.randrange(32768, 65536)
        return "huge-message", struct.pack(">H", n) + header(rng) + rng.randbytes(n - 12), False
    # half a prefix, then gone
    return "half-prefix", rng.randbytes(1), rng.random() < 0.5


async def tcp_one(addr, port, data, reset, results, kind):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), 10)
    except (OSError, asyncio.TimeoutError):
        results["connect-failed"] = results.get("connect-failed", 0) + 1
        return
    outcome = "server-closed"
    try:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), 10)
        sock = writer.get_extra_info("socket")
        if reset:
            # SO_LINGER 0: close sends a RST.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            outcome = "reset-by-us"
        else:
            writer.write_eof()
            # Read whatever the server answers, until it closes (bounded).
            while await asyncio.wait_for(reader.read(65536), 5):
                pass
    except asyncio.TimeoutError:
        outcome = "still-open-after-5s"
    except OSError:
        outcome = "server-reset"
    writer.close()
    key = f"{kind}/{outcome}"
    results[key] = results.get(key, 0) + 1


async def tcp_main(addr, port, count, conc, seed):
    rng = random.Random(seed)
    results = {}
    gate = asyncio.Semaphore(conc)

    async def one():
        kind, data, reset = pick(rng, tcp_stream)
        async with gate:
            await tcp_one(addr, port, data, reset, results, kind)

    start = time.monotonic()
    await asyncio.gather(*(one() for _ in range(count)))
    elapsed = time.monotonic() - start
    closed = sum(v for k, v in results.items() if k.endswith("server-closed") or k.endswith("server-reset"))
    open_ = sum(v for k, v in results.items() if k.endswith("still-open-after-5s"))
    failed = results.get("connect-failed", 0)
    mix = ",".join(f"{k}:{v}" for k, v in sorted(results.items()))
    print(f"connections={count} server_closed={closed} still_open={open_} connect_failed={failed} "
          f"secs={elapsed:.1f} mix={mix}")


# --------------------------------------------------------------------------------------------
# slow-loris


async def loris_one(addr, port, max_secs, times):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), 10)
    except (OSError, asyncio.TimeoutError):
        times.append(None)
        return
    start = time.monotonic()
    try:
        writer.write(b"\x00")  # the first byte of a length prefix, and nothing more
        await writer.drain()
        while await asyncio.wait_for(reader.read(4096), max_secs - (time.monotonic() - start)):
            pass
        times.append(time.monotonic() - start)
    except OSError:
        times.append(time.monotonic() - start)
    except (asyncio.TimeoutError, ValueError):
        times.append(float("inf"))
    writer.close()


async def loris_main(addr, port, count, max_secs):
    times = []
    await asyncio.gather(*(loris_one(addr, port, max_secs, times) for _ in range(count)))
    closed = sorted(t for t in times if t is not None and t != float("inf"))
    failed = sum(1 for t in times if t is None)
    held = sum(1 for t in times if t == float("inf"))
    if closed:
        med = closed[len(closed) // 2]
        print(f"connections={count} closed={len(closed)} held={held} connect_failed={failed} "
              f"min={closed[0]:.1f} median={med:.1f} max={closed[-1]:.1f}")
    else:
        print(f"connections={count} closed=0 held={held} connect_failed={failed} min=- median=- max=-")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "udp" and len(args) == 5:
            udp(args[0], int(args[1]), int(args[2]), float(args[3]), int(args[4]))
        elif cmd == "tcp" and len(args) == 5:
            asyncio.run(tcp_main(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4])))
        elif cmd == "loris" and len(args) == 4:
            asyncio.run(loris_main(args[0], int(args[1]), int(args[2]), float(args[3])))
        else:
            sys.exit(__doc__)
    except ValueError as e:
        sys.exit(f"garbage.py: {e}")


if __name__ == "__main__":
    main(sys.argv)
