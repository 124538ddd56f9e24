#!/usr/bin/env python3
"""Attacks on the coordinator's network limits, for tests/e2e/netlimits.sh.

Every mode runs until SIGTERM, keeps its connections open and opens new
ones for those the coordinator closes, and prints one line when its
initial connections are in place ("ready ...") and a summary on SIGTERM
(for the held modes: how many it opened, how many the coordinator closed,
and the longest one was held, from connect() to the close or to SIGTERM).

  idle     --port P --n N       TCP connections that never send a byte
  tls-slow --port P --n N       TLS records trickled a byte at a time: a
                                record header announcing 16 KiB, then one
                                byte every --every seconds
  http-slow --port P --n N      HTTP request headers trickled the same way
  park     --port P --ca --cert --key --fingerprint HEX --federation ID
           --size S --send B    a partner: TLS with its certificate, a valid
                                Hello, then a frame header announcing S bytes
                                followed by B of them, and nothing more; again
                                whenever it is closed, until its Hello is
                                refused

Reconnections are paced (--batch per --every seconds) so that the test
measures held connections, not a connect() storm. Standard library only;
127.0.0.1 only.
"""
import argparse
import os
import re
import selectors
import signal
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"
stop = False


def on_term(signum, frame):
    global stop
    stop = True


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((HOST, port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    return s


def held(a, first_bytes, trickle):
    """Keeps a.n connections open; sends first_bytes on connecting, then one
    byte of trickle per connection every a.every seconds."""
    sel = selectors.DefaultSelector()
    conns = {}  # socket -> position in trickle
    since = {}  # socket -> when connect() was called
    opened = closed = 0
    longest = 0.0

    def open_one():
        nonlocal opened
        s = connect(a.port)
        if s is None:
            return
        opened += 1
        conns[s] = 0
        since[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ)
        if first_bytes:
            try:
                s.send(first_bytes)
            except OSError:
                pass

    for _ in range(a.n):
        open_one()
    t0 = time.monotonic()
    ready = False
    next_tick = time.monotonic()
    while not stop:
        if not ready:
            print("ready %d connections in %.1f s" % (len(conns), time.monotonic() - t0),
                  flush=True)
            ready = True
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                longest = max(longest, time.monotonic() - since.pop(s))
                sel.unregister(s)
                s.close()
                del conns[s]
                closed += 1
        if time.monotonic() >= next_tick:
            next_tick = time.monotonic() + a.every
            if trickle:
                for s, pos in list(conns.items()):
                    try:
                        s.send(trickle[pos % len(trickle):pos % len(trickle) + 1])
                        conns[s] = pos + 1
                    except (BlockingIOError, OSError):
                        pass
            for _ in range(min(a.batch, a.n - len(conns))):
                open_one()
    now = time.monotonic()
    oldest = max([now - t for t in since.values()] or [0.0])
    print("opened %d, closed by the coordinator %d, open %d, longest held %.1f s" %
          (opened, closed, len(conns), max(longest, oldest)), flush=True)


def pb_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_field(num, wire, payload):
    if wire == 0:
        return pb_varint(num << 3) + pb_varint(payload)
    return pb_varint(num << 3 | 2) + pb_varint(len(payload)) + payload


def protocol_version():
    """FL_WIRE_PROTOCOL_VERSION, read from include/fedlead/wire.h: a copy here
    would fall behind the next version bump (and the attacker would then be
    refused at its Hello, never reaching the limits under test)."""
    wire_h = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include",
                          "fedlead", "wire.h")
    with open(wire_h) as f:
        for line in f:
            m = re.match(r"#define FL_WIRE_PROTOCOL_VERSION (\d+)$", line.strip())
            if m:
                return int(m.group(1))
    raise SystemExit("netattack: no FL_WIRE_PROTOCOL_VERSION in " + wire_h)


PROTOCOL_VERSION = protocol_version()


def hello_frame(fingerprint, federation):
    hello = (pb_field(1, 0, PROTOCOL_VERSION) + pb_field(2, 2, b"netattack") +
             pb_field(3, 2, bytes.fromhex(fingerprint)) + pb_field(4, 2, federation.encode()))
    env = pb_field(1, 2, hello)
    return len(env).to_bytes(4, "big") + env


def park(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(a.ca)
    ctx.load_cert_chain(a.cert, a.key)
    attempts = parked = 0
    first = True
    while not stop:
        attempts += 1
        try:
            raw = socket.create_connection((HOST, a.port), timeout=30)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            s.sendall(hello_frame(a.fingerprint, a.federation))
            hdr = s.recv(4)
            if len(hdr) < 4:
                print("closed before an answer to the hello", flush=True)
                continue
            body = b""
            n = int.from_bytes(hdr, "big")
            while len(body) < n:
                chunk = s.recv(n - len(body))
                if not chunk:
                    break
                body += chunk
            if body[:1] != b"\x12":  # Envelope field 2: Welcome
                print("hello refused: the coordinator answered with field %d" %
                      (body[0] >> 3 if body else -1), flush=True)
                break
            s.sendall(a.size.to_bytes(4, "big"))
            zeros = b"\0" * 65536
            sent = 0
            if first:
                print("ready: joined, frame of %d bytes announced" % a.size, flush=True)
            while sent < a.send:
                k = min(len(zeros), a.send - sent)
                s.sendall(zeros[:k])
                sent += k
            parked += 1
            print("parked %d of %d bytes" % (sent, a.size), flush=True)
            first = False
            t0 = time.monotonic()
            s.settimeout(0.2)
            while not stop:
                try:
                    if not s.recv(65536):
                        break
                except socket.timeout:
                    continue
                except (OSError, ssl.SSLError):
                    break
            if not stop:
                print("closed by the coordinator after %.1f s" % (time.monotonic() - t0),
                      flush=True)
            s.close()
        except (OSError, ssl.SSLError) as e:
            print("error: %s" % e, flush=True)
            time.sleep(0.2)
    print("attempts %d, parked %d" % (attempts, parked), flush=True)
    while not stop:
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["idle", "tls-slow", "http-slow", "park"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--fingerprint")
    ap.add_argument("--federation")
    ap.add_argument("--size", type=int, default=60 << 20)
    ap.add_argument("--send", type=int, default=30 << 20)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    if a.mode == "idle":
        held(a, b"", b"")
    elif a.mode == "tls-slow":
        # A handshake record announcing 16 KiB that never completes.
        held(a, bytes.fromhex("1603014000"), bytes(range(1, 256)))
    elif a.mode == "http-slow":
        held(a, b"GET /status HTTP/1.1\r\n", b"X-Slow: " + b"a" * 200)
    else:
        park(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
