#!/usr/bin/env python3
"""A hostile or broken federation peer for the end-to-end tests.

Connects to a coordinator over TLS 1.3 (with or without a client
certificate), optionally sends raw bytes once the handshake is done, and
reports what happened, one line each, on stdout:

  handshake ok | handshake failed: REASON
  sent N bytes
  received N bytes (frame types: ...)
  closed by peer | still open after S s | error: REASON

Standard library only. Exit status 0 whatever the peer did (the tests
judge the coordinator's log), 2 on bad usage.
"""
import argparse
import socket
import ssl
import sys
import time

ENVELOPE_FIELDS = {
    1: "hello", 2: "welcome", 3: "reject", 4: "stats_task", 5: "standardize",
    6: "eval_task", 7: "local_train", 8: "final_model", 9: "update", 10: "status",
}


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def frame_types(data):
    """Names of the Envelope bodies in a byte stream of length-prefixed frames."""
    names, i = [], 0
    while i + 4 <= len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        body = data[i + 4:i + 4 + n]
        if len(body) < n:
            names.append("partial")
            break
        key, _ = varint(body, 0) if body else (0, 0)
        names.append(ENVELOPE_FIELDS.get(key >> 3, "field%d" % (key >> 3)))
        i += 4 + n
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True, help="CA to verify the coordinator with")
    ap.add_argument("--cert", help="client certificate (none: send no certificate)")
    ap.add_argument("--key")
    ap.add_argument("--server-name", default="localhost")
    ap.add_argument("--send-hex", default="", help="bytes to send after the handshake")
    ap.add_argument("--wait", type=float, default=5.0,
                    help="seconds to wait for the coordinator to close the connection")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_verify_locations(a.ca)
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=a.wait)
    try:
        s = ctx.wrap_socket(raw, server_hostname=a.server_name)
    except (ssl.SSLError, OSError) as e:
        print("handshake failed: %s" % e)
        return 0
    print("handshake ok")
    received = b""
    try:
        if a.send_hex:
            payload = bytes.fromhex(a.send_hex)
            s.sendall(payload)
            print("sent %d bytes" % len(payload))
        deadline = time.monotonic() + a.wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                print("still open after %g s" % a.wait)
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                print("closed by peer")
                break
            received += chunk
    except (ssl.SSLError, OSError) as e:
        # In TLS 1.3 the server judges the client certificate after the
        # client has finished its handshake: a refusal arrives as an alert
        # on the first read.
        print("error: %s" % e)
    if received:
        print("received %d bytes (frame types: %s)" % (len(received),
                                                       " ".join(frame_types(received))))
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
