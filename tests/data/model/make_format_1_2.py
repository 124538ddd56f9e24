#!/usr/bin/env python3
"""Writes format-1.2.flm, the compatibility golden for model format 1.2.

Format 1.2 adds Provenance.privacy (field 17, a Privacy message with
repeated PartnerPrivacy) to 1.1: the 1.1 golden model plus a privacy
record. Like make_format_1_1.py, this builds the file from the published
layout (include/fedlead/model.h) and proto/model.proto with a hand-written
protobuf encoder, independently of src/core/model_codec.c. The values are
the ones test_golden_format_1_2 in tests/test_model.c expects; change both
together (and never change them for format 1.2 once released).

Usage: python3 make_format_1_2.py > format-1.2.flm
"""
import hashlib
import struct
import sys

# Canonical text of the test schema (keys sorted, defaults explicit, compact).
SCHEMA = ('{"features":[{"missing":"impute","name":"age","type":"numeric"},'
          '{"name":"region","other":true,"type":"categorical",'
          '"values":["north","south"]}],"fedlead_schema":1,"id":"lead_id",'
          '"ignore":["notes"],"label":{"column":"y","negative":"0","positive":"1"}}')

WEIGHTS = [-2.5, 0.1, -0.75, 1.0, -1.0, 0.5]
CENTER = [0.0, 40.0, 0.0, 0.0, 0.0, 0.0]
SCALE = [1.0, 12.5, 1.0, 1.0, 1.0, 1.0]
BASELINE = [1.0, 0.0, 0.25, 0.5, 0.375, 0.125]
IMPUTE = [0.0, 40.0, 0.0, 0.0, 0.0, 0.0]

NAN = float('nan')  # "not measured"; packs as 0x7ff8000000000000

# (round, kind, l2, train_loss, grad_norm, valid_log_loss, valid_auc, partners)
HISTORY = [
    (1, 'stats', 0.0, NAN, NAN, NAN, NAN, 2),
    (2, 'fedavg', 0.01, 0.25, 0.5, 0.3, 0.625, 2),
    (12, 'final', 0.01, 0.2, 1e-9, 0.21, 0.7, 2),
]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, n):
    return tag(field, 0) + varint(n) if n else b''


def f_double(field, d):
    # proto3 omits a scalar equal to its default; NaN is not 0, so it stays.
    return tag(field, 1) + struct.pack('<d', d) if d != 0 else b''


def f_bytes(field, b):
    return tag(field, 2) + varint(len(b)) + b


def f_str(field, s):
    return f_bytes(field, s.encode()) if s else b''


def f_packed(field, ds):
    return f_bytes(field, b''.join(struct.pack('<d', d) for d in ds))


def metric(rows, positives, auc, log_loss):
    return (f_varint(1, rows) + f_varint(2, positives) + f_double(3, auc) +
            f_double(4, log_loss))


def round_log(rnd, kind, l2, train_loss, grad_norm, valid_log_loss, valid_auc,
              partners):
    return (f_varint(1, rnd) + f_str(2, kind) + f_double(3, l2) +
            f_double(4, train_loss) + f_double(5, grad_norm) +
            f_double(6, valid_log_loss) + f_double(7, valid_auc) +
            f_varint(8, partners))


def partner_privacy(partner, epsilon, delta, releases, clip, max_colluders,
                    rho):
    return (f_str(1, partner) + f_double(2, epsilon) + f_double(3, delta) +
            f_varint(4, releases) + f_double(5, clip) +
            f_varint(6, max_colluders) + f_double(7, rho))


# (partner, epsilon, delta, releases, clip, max_colluders, rho)
PARTNERS = [
    ('acme', 1.0, 1e-6, 30, 3.0, 1, 0.0126),
    ('globex', 1.0, 1e-6, 30, 3.0, 0, 0.0126),
]

privacy = (f_str(1, 'distributed discrete Gaussian') + f_str(2, 'zCDP') +
           f_varint(3, 4) + f_varint(4, 2) +
           b''.join(f_bytes(5, partner_privacy(*p)) for p in PARTNERS))

prov = (f_str(1, 'fedavg') + f_double(2, 0.01) + f_double(3, 1.0) +
        f_varint(4, 1000) + f_varint(5, 60) + f_varint(6, 7) +
        f_double(7, 0.2) + f_double(8, 1e-9) +
        f_bytes(9, metric(1000, 60, 0.75, 0.2)) +
        f_bytes(10, metric(250, 15, 0.7, 0.21)) +
        f_str(11, '2024-01-02T03:04:05Z') + f_str(12, '0.1.0') +
        f_str(13, 'fed-demo') + f_varint(14, 12) +
        f_str(15, 'acme') + f_str(15, 'globex') +
        b''.join(f_bytes(16, round_log(*h)) for h in HISTORY) +
        f_bytes(17, privacy))

payload = (f_varint(1, 1) + f_varint(2, 2) + f_str(3, SCHEMA) +
           f_bytes(4, hashlib.sha256(SCHEMA.encode()).digest()) +
           f_packed(5, WEIGHTS) + f_packed(6, CENTER) + f_packed(7, SCALE) +
           f_packed(8, BASELINE) + f_packed(9, IMPUTE) + f_bytes(10, prov))

head = b'FLMODEL\n' + struct.pack('>I', len(payload))
sys.stdout.buffer.write(head + payload + hashlib.sha256(head + payload).digest())
