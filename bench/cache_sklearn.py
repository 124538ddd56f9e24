#!/usr/bin/python3
"""The scikit-learn reference of bench/inmem.sh: reads the standardised rows
of a fedlead column cache (include/fedlead/cache.h: rows at byte 48, dim at
56, X offset at 80, y offset at 88; column 0 is the intercept) into memory,
then times only LogisticRegression(lbfgs, C = 1 / l2).fit on them, the
figure fedlead's in-memory training is compared with.

usage: cache_sklearn.py LEADS.flc [L2]
"""
import struct
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

path = sys.argv[1]
l2 = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
with open(path, "rb") as f:
    head = f.read(176)
n, d = struct.unpack_from("<QQ", head, 48)
x_off, y_off = struct.unpack_from("<QQ", head, 80)
X = np.fromfile(path, dtype=np.float64, count=n * d, offset=x_off).reshape(n, d)[:, 1:].copy()
y = np.fromfile(path, dtype=np.float64, count=n, offset=y_off)
t0, c0 = time.perf_counter(), time.process_time()
m = LogisticRegression(C=1.0 / l2, solver="lbfgs", max_iter=2000, tol=1e-6).fit(X, y)
t1, c1 = time.perf_counter(), time.process_time()
print(f"fit {t1 - t0:.3f} s ({c1 - c0:.3f} s CPU, {m.n_iter_[0]} iterations) on {n} x {d - 1}")
print(f"training log-loss {log_loss(y, m.predict_proba(X)[:, 1]):.6f}")
