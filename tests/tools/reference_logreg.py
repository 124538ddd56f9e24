#!/usr/bin/python3
"""Independent reference fit for fedlead's golden logistic-regression model.

This script shares no code with fedlead: it reads the CSV with Python's csv
module and the schema with json, encodes rows by the rules documented in
include/fedlead/schema.h and include/fedlead/encode.h, and minimises the
objective documented in include/fedlead/logreg.h with a plain Newton method
in numpy. tests/test_train.c trains the same model with fedlead's library and
requires the two weight vectors to agree to 1e-6 relative, so a bug in
fedlead's encoder, standardiser or solver shows up as a mismatch.

Rules reproduced here:
  * Column 0 is the intercept (always 1). Each feature, in declared order:
      numeric, missing=error   -> the value
      numeric, missing=impute  -> the value (mean of the present values when
                                  missing), then a 0/1 missing indicator
      categorical              -> one 0/1 column per listed value, then one
                                  for "(other)" when other=true
  * Numeric value columns are standardised with the population mean and
    standard deviation of ALL rows (no validation split). A column whose
    variance is not above 1e-12 * (1 + mean^2) is treated as constant and
    keeps scale 1 (fl_scaler_from_stats does the same). Indicator, one-hot
    and intercept columns are not rescaled.
  * f(w) = sum_i [log(1 + exp(z_i)) - y_i z_i] + (l2 / 2) sum_{j>=1} w_j^2,
    z_i = x_i . w, intercept unpenalised, l2 = 1.0.
  * Newton's method with a backtracking (Armijo) line search from w = 0,
    until ||grad f||_2 < 1e-12 * rows.

Regenerate the golden file (needs Debian's numpy: apt-get install
python3-numpy; use /usr/bin/python3) from the repository root with:

    /usr/bin/python3 tests/tools/reference_logreg.py \
        --schema tests/data/coil2000/coil2000.schema.json \
        --data tests/data/coil2000/train.csv \
        --l2 1.0 --out tests/data/golden/coil2000_l2_1.json

Only regenerate when the encoding rules or the objective change on purpose;
a golden file rewritten to match a bug hides the bug.
"""

import argparse
import csv
import json
import math
import sys

import numpy as np


def column_names(features):
    """fedlead's names for the encoded columns (fl_schema_column_name)."""
    names = ["(intercept)"]
    for f in features:
        if f["type"] == "numeric":
            names.append(f["name"])
            if f.get("missing", "error") == "impute":
                names.append(f["name"] + " (missing)")
        elif f["type"] == "categorical":
            for v in f["values"]:
                names.append("%s=%s" % (f["name"], v))
            if f.get("other", False):
                names.append(f["name"] + "=(other)")
        else:
            raise ValueError("unknown feature type %r" % f["type"])
    return names


def encode(schema, path):
    """Returns X (raw, unstandardised; NaN for a missing numeric), y and a
    list of (column index, feature) for the numeric value columns."""
    features = schema["features"]
    label = schema["label"]
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], [r for r in rows[1:] if r]
    pos = {name: i for i, name in enumerate(header)}
    dim = len(column_names(features))
    X = np.zeros((len(body), dim))
    y = np.zeros(len(body))
    numeric_cols = []
    for r, rec in enumerate(body):
        if len(rec) != len(header):
            raise ValueError("%s: row %d has %d fields" % (path, r + 2, len(rec)))
        lv = rec[pos[label["column"]]]
        if lv == label["positive"]:
            y[r] = 1.0
        elif lv == label["negative"]:
            y[r] = 0.0
        else:
            raise ValueError("%s: row %d: bad label %r" % (path, r + 2, lv))
        X[r, 0] = 1.0
        j = 1
        for f in features:
            text = rec[pos[f["name"]]]
            if f["type"] == "numeric":
                impute = f.get("missing", "error") == "impute"
                if r == 0:
                    numeric_cols.append(j)
                if text.strip() == "":
                    if not impute:
                        raise ValueError("%s: row %d: %s missing" % (path, r + 2, f["name"]))
                    X[r, j] = math.nan
                    X[r, j + 1] = 1.0
                else:
                    v = float(text)
                    if not math.isfinite(v):
                        raise ValueError("%s: row %d: %s not finite" % (path, r + 2, f["name"]))
                    X[r, j] = v
                j += 2 if impute else 1
            else:
                values = f["values"]
                if text in values:
                    X[r, j + values.index(text)] = 1.0
                elif f.get("other", False):
                    X[r, j + len(values)] = 1.0
                else:
                    raise ValueError("%s: row %d: %s=%r not listed" % (path, r + 2, f["name"], text))
                j += len(values) + (1 if f.get("other", False) else 0)
        assert j == dim
    return X, y, numeric_cols


def standardise(X, numeric_cols):
    center = np.zeros(X.shape[1])
    scale = np.ones(X.shape[1])
    for j in numeric_cols:
        col = X[:, j]
        present = col[~np.isnan(col)]
        mean = float(np.mean(present)) if present.size else 0.0
        var = float(np.mean((present - mean) ** 2)) if present.size else 0.0
        col[np.isnan(col)] = mean
        center[j] = mean
        if var > 1e-12 * (1.0 + mean * mean):
            scale[j] = math.sqrt(var)
        X[:, j] = (col - mean) / scale[j]
    return center, scale


def objective(X, y, w, l2):
    z = X @ w
    return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.dot(w[1:], w[1:]))


def gradient_hessian(X, y, w, l2):
    z = X @ w
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid without overflow
    g = X.T @ (p - y)
    g[1:] += l2 * w[1:]
    H = (X * (p * (1.0 - p))[:, None]).T @ X
    H[np.arange(1, len(w)), np.arange(1, len(w))] += l2
    return g, H


def newton(X, y, l2, tol):
    w = np.zeros(X.shape[1])
    f = objective(X, y, w, l2)
    for it in range(200):
        g, H = gradient_hessian(X, y, w, l2)
        gn = float(np.linalg.norm(g))
        if gn < tol:
            return w, f, gn, it
        step = np.linalg.solve(H, -g)
        t = 1.0
        while True:
            wn = w + t * step
            fn = objective(X, y, wn, l2)
            if fn <= f + 1e-4 * t * float(g @ step) or t < 1e-10:
                break
            t *= 0.5
        w, f = wn, fn
    raise RuntimeError("Newton did not converge (||g|| = %g)" % gn)


def g17(v):
    return "%.17g" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schema", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    with open(a.schema, encoding="utf-8") as fh:
        schema = json.load(fh)
    names = column_names(schema["features"])
    X, y, numeric_cols = encode(schema, a.data)
    center, scale = standardise(X, numeric_cols)
    n = X.shape[0]
    w, f, gn, iters = newton(X, y, a.l2, 1e-12 * n)

    # Written by hand so every double has 17 significant digits.
    out = []
    out.append("{")
    out.append('  "generator": "tests/tools/reference_logreg.py (numpy Newton, independent of fedlead)",')
    out.append('  "data": %s,' % json.dumps("tests/data/coil2000/train.csv"))
    out.append('  "schema": %s,' % json.dumps("tests/data/coil2000/coil2000.schema.json"))
    out.append('  "l2": %s,' % g17(a.l2))
    out.append('  "rows": %d,' % n)
    out.append('  "positives": %d,' % int(y.sum()))
    out.append('  "dim": %d,' % len(w))
    out.append('  "iterations": %d,' % iters)
    out.append('  "objective": %s,' % g17(f))
    out.append('  "grad_norm": %s,' % g17(gn))
    out.append('  "columns": [\n    %s\n  ],' % ",\n    ".join(json.dumps(s) for s in names))
    out.append('  "center": [\n    %s\n  ],' % ",\n    ".join(g17(v) for v in center))
    out.append('  "scale": [\n    %s\n  ],' % ",\n    ".join(g17(v) for v in scale))
    out.append('  "weights": [\n    %s\n  ]' % ",\n    ".join(g17(v) for v in w))
    out.append("}")
    text = "\n".join(out) + "\n"
    json.loads(text)  # the file must parse
    with open(a.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print("%s: %d rows, %d columns, %d Newton steps, objective %.17g, ||g|| %.3g"
          % (a.out, n, len(w), iters, f, gn), file=sys.stderr)


if __name__ == "__main__":
    main()
