#!/usr/bin/env python3
"""Decodes the frames a fedlead-node wrote with --dump-dir.

Each file NNNNNN-TYPE.bin holds one frame exactly as it went into TLS: a
4-byte big-endian length and a protobuf Envelope (proto/wire.proto). This
decoder is written from the .proto alone (no protobuf library, nothing
shared with the C code), so a test can check the node's own claims about
what it sends. Prints one JSON object per frame, in file order:

  {"file", "seq", "name_type", "type", "bytes", "round", "kind", "n_values",
   "values" (with --values), "detail", "fingerprint"}

Exit status 1 when a frame is malformed: wrong length prefix, trailing
bytes, not exactly one Envelope body, or a truncated field.
"""
import json
import os
import re
import struct
import sys

ENVELOPE = {
    1: "hello", 2: "welcome", 3: "reject", 4: "stats_task", 5: "standardize",
    6: "eval_task", 7: "local_train", 8: "final_model", 9: "update", 10: "status",
    11: "key_advert", 12: "key_list", 13: "share_set", 14: "masked_update",
    15: "unmask_request", 16: "unmask_reply", 17: "consistency_check",
    18: "consistency_signature",
}
UPDATE_KIND = {0: "none", 1: "stats", 2: "eval", 3: "fedavg"}


class Malformed(Exception):
    pass


def varint(buf, i):
    shift = value = 0
    while True:
        if i >= len(buf):
            raise Malformed("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise Malformed("varint too long")


def fields(buf):
    """[(number, wire_type, value)]: value is an int (varint, fixed) or bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise Malformed("field number 0")
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            if i + 8 > len(buf):
                raise Malformed("truncated fixed64")
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            if i + n > len(buf):
                raise Malformed("truncated length-delimited field")
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            if i + 4 > len(buf):
                raise Malformed("truncated fixed32")
            v, i = buf[i:i + 4], i + 4
        else:
            raise Malformed("wire type %d" % wt)
        out.append((num, wt, v))
    return out


def first(fs, num, default=None):
    for n, _, v in fs:
        if n == num:
            return v
    return default


def eight_byte_values(fs, num, fmt):
    """A repeated double / fixed64 field, packed or not."""
    vals = []
    for n, wt, v in fs:
        if n != num:
            continue
        if wt == 2:
            if len(v) % 8:
                raise Malformed("packed field %d of %d bytes" % (num, len(v)))
            vals.extend(struct.unpack("<%d%s" % (len(v) // 8, fmt), v))
        elif wt == 1:
            vals.append(struct.unpack("<" + fmt, v)[0])
        else:
            raise Malformed("field %d has wire type %d" % (num, wt))
    return vals


def decode(frame, want_values=False):
    if len(frame) < 4:
        raise Malformed("shorter than the length prefix")
    n = int.from_bytes(frame[:4], "big")
    if n != len(frame) - 4:
        raise Malformed("length prefix says %d bytes, the frame has %d" % (n, len(frame) - 4))
    env = fields(frame[4:])
    if len(env) != 1 or env[0][1] != 2:
        raise Malformed("an Envelope must hold exactly one body, it holds %d fields" % len(env))
    num, _, body = env[0]
    rec = {"type": ENVELOPE.get(num, "field%d" % num), "bytes": len(frame)}
    fs = fields(body)
    ref = first(fs, 1) if num != 1 else None
    if isinstance(ref, bytes):
        rf = fields(ref)
        rec["round"] = first(rf, 2, 0)
        rec["fingerprint"] = (first(rf, 3, b"") or b"").hex()
    if num == 1:  # Hello
        rec["fingerprint"] = (first(fs, 3, b"") or b"").hex()
        rec["n_fields"] = len(fs)
    if num in (9, 14):  # Update, MaskedUpdate
        rec["kind"] = UPDATE_KIND.get(first(fs, 2, 0), str(first(fs, 2, 0)))
        vals = eight_byte_values(fs, 3, "d" if num == 9 else "Q")
        rec["n_values"] = len(vals)
        if want_values:
            rec["values"] = vals
    if num == 10:  # Status
        rec["code"] = first(fs, 2, 0)
        rec["detail"] = (first(fs, 3, b"") or b"").decode("utf-8", "replace")
    return rec


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    want_values = "--values" in sys.argv
    if len(args) != 1:
        sys.stderr.write("usage: framedump.py [--values] DUMP-DIR\n")
        return 2
    status = 0
    for name in sorted(os.listdir(args[0])):
        m = re.fullmatch(r"(\d+)-([a-z_]+)\.bin", name)
        if not m:
            print(json.dumps({"file": name, "error": "unexpected file name"}))
            status = 1
            continue
        with open(os.path.join(args[0], name), "rb") as fp:
            frame = fp.read()
        try:
            rec = decode(frame, want_values)
        except Malformed as e:
            rec = {"error": str(e)}
            status = 1
        rec.update({"file": name, "seq": int(m.group(1)), "name_type": m.group(2)})
        print(json.dumps(rec))
    return status


if __name__ == "__main__":
    sys.exit(main())
