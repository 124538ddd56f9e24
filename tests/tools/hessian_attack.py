#!/usr/bin/python3
"""Rebuilds leads from what a coordinator learns in one Newton evaluation.

Input: the record written by tests/tools/deviant_coord --record (one JSON
object a line: each unmasked sum of a secure round, with its layout, and
the standardisation the coordinator sent), the federation's schema and the
partners' CSV files (only to score the attack: the rebuild itself reads
nothing but the record and the schema).

The algebra. A lead's encoded row x (src/core/encode.c) has x_0 = 1 (the
intercept), numeric columns standardised to (v - center) / scale, and 0/1
one-hot columns, left as they are by the standardisation
(fl_scaler_from_stats: center 0, scale 1). A node under differential
privacy scales a row to l2 norm at most privacy_clip, x -> f x with
0 < f <= 1. At w = 0 every sigma(z) (1 - sigma(z)) is 1/4, so the
evaluation's Hessian and gradient are
    H = 1/4 sum_i c_i x_i x_i^T,    g = sum_i c_i (1/2 - y_i) x_i
(c_i the class weight: pos_weight for converted leads, 1 otherwise). When
lead i is the only one with the category value of one-hot column j, x_kj
is 0 for every other lead k and f_i for lead i, so
    H[:, j] = c_i f_i^2 / 4 x_i     (f_i x_i is the clipped row),
    H[j, j] = c_i f_i^2 / 4,        g_j = c_i f_i (1/2 - y_i),
hence x_i = H[:, j] / H[j, j] exactly (whatever c_i and f_i), and y_i is 1
when g_j < 0. The row decodes field by field with the standardisation:
v = center + scale x for a numeric column, the 1 of each one-hot block for
a categorical one.

Which columns hold one lead: H[j, j] = 1/4 sum over the leads with that
value of c f^2, so 4 H[j, j] = 1 (or pos_weight) for one lead without
clipping; and the statistics round's sum of column j counts them. Both are
used: under differential privacy the Hessian's diagonal is noised, and the
statistics round may not be.

Under noise the attacker does its best with what it legitimately has. It
measures the noise from entries that are zero without it (two values of
one categorical feature never share a row) and weighs each estimate
against the statistics round: the label and every categorical field are
the most probable given the Hessian's column and the counts, a numeric
field the posterior mean (its standardised values have mean 0, variance
1), rounded to a whole number with --whole-numbers (CoIL's codes and
counts are whole numbers, which anyone knows from the data set's
description); the candidate's own category is known (the column), and a
diagonal that cannot belong to one lead (<= 0, or above c/4, which
clipping only lowers) is replaced by the unclipped c/4. Without noise all
of this reduces to the exact rebuild above.

--oracle adds the columns the CSVs say hold one lead, as if the attacker
knew them: the attack at its strongest, for a test that it fails.

Prints what it found and rebuilt; --summary FILE writes the numbers as
JSON, "exact" listing each CSV row rebuilt exactly as "FILE:LINE".
Exit status 0 when the attack ran (whatever it rebuilt), 2 for bad input.
"""

import argparse
import csv
import json
import math
import sys


def fail(msg):
    print("hessian_attack: %s" % msg, file=sys.stderr)
    sys.exit(2)


def load_record(path):
    stats = eva = std = None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                e = json.loads(line)
            except ValueError as ex:
                fail("%s:%d: not JSON: %s" % (path, n, ex))
            kind = e.get("kind")
            # The first of each: the statistics round, the standardisation
            # sent after it, the first evaluation (at w = 0).
            if kind == "stats" and stats is None:
                stats = e
            elif kind == "eval" and eva is None:
                eva = e
            elif kind == "standardize" and std is None:
                std = e
    for what, e in (("statistics sum", stats), ("evaluation sum", eva),
                     ("standardisation", std)):
        if e is None:
            fail("%s: no %s" % (path, what))
    return stats, eva, std


def layout(schema):
    """The encoded columns of each feature (include/fedlead/schema.h)."""
    cols, d = [], 1
    for f in schema["features"]:
        if f["type"] == "numeric":
            w = 2 if f.get("missing", "error") == "impute" else 1
        elif f["type"] == "categorical":
            w = len(f["values"]) + (1 if f.get("other") else 0)
        else:
            fail("feature %s: type %r" % (f["name"], f["type"]))
        cols.append((f, d, w))
        d += w
    return cols, d


def key_num(v):
    return None if v is None else float("%.9g" % v)


def csv_rows(schema, paths):
    """Every row of the CSVs as the tuple the decoder produces."""
    lab = schema["label"]
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            r = csv.reader(f)
            hdr = next(r)
            idx = {h: i for i, h in enumerate(hdr)}
            for need in [x["name"] for x in schema["features"]] + [lab["column"]]:
                if need not in idx:
                    fail("%s: no column %s" % (p, need))
            for rec in r:
                t = []
                for fe in schema["features"]:
                    s = rec[idx[fe["name"]]]
                    if fe["type"] == "numeric":
                        t.append(key_num(float(s)) if s.strip() != "" else None)
                    else:
                        t.append(s if s in fe["values"] else ("other", s))
                y = rec[idx[lab["column"]]]
                t.append(1 if y == lab["positive"] else 0)
                rows.append(("%s:%d" % (p, r.line_num), tuple(t)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--whole-numbers", action="store_true")
    ap.add_argument("--summary")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("csv", nargs="+")
    a = ap.parse_args()
    schema = json.load(open(a.schema))
    feats, d = layout(schema)
    stats, eva, std = load_record(a.record)
    if eva["d"] != d or stats["d"] != d or std["d"] != d:
        fail("the record is for d = %d, the schema encodes %d columns" % (eva["d"], d))
    ev, lo = eva["values"], eva["layout"]
    g0 = lo["grad"][0]
    h0, hn = lo["hess_upper"]
    if hn != d * (d + 1) // 2 or h0 + hn > len(ev):
        fail("the evaluation carries no Hessian of %d columns" % d)
    st, sl = stats["values"], stats["layout"]
    colsum = st[sl["sum"][0]:sl["sum"][0] + d]
    center, scale, pw = std["center"], std["scale"], std["pos_weight"]

    def H(a_, b_):  # upper triangle, row by row (fl_payload_hess_pack)
        if a_ > b_:
            a_, b_ = b_, a_
        return ev[h0 + a_ * d - a_ * (a_ - 1) // 2 + (b_ - a_)]

    onehot = []  # (feature index, column, value)
    for fi, (f, off, w) in enumerate(feats):
        if f["type"] == "categorical":
            for k in range(w):
                onehot.append((fi, off + k, f["values"][k] if k < len(f["values"]) else None))
    by_hess = {j for _, j, _ in onehot
               if min(abs(4 * H(j, j) / c - 1) for c in (1.0, pw)) < 0.5}
    by_stats = {j for _, j, _ in onehot if abs(colsum[j] - 1) < 0.5}
    rows = csv_rows(schema, a.csv)
    # --oracle: also every column the CSVs say holds one lead, as if the
    # attacker knew which (the strongest case; under noise the diagonal and
    # the statistics may no longer tell).
    by_oracle = set()
    if a.oracle:
        n = {}
        for _, t in rows:
            for fi, v in enumerate(t[:-1]):
                n[(fi, v)] = n.get((fi, v), 0) + 1
        by_oracle = {j for fi, j, v in onehot if n.get((fi, v)) == 1}
    cand = sorted(by_hess | by_stats | by_oracle)
    index = {}
    for where, t in rows:
        index.setdefault(t, []).append(where)

    exact, fields_right, label_right, true_cands, base_right = set(), [], 0, 0, []
    worst_frac = 0.0
    # A blind guess from the statistics alone, for comparison: each
    # numeric field its mean, each categorical its most common value, the
    # more common label.
    guess = []
    for f, off, w in feats:
        if f["type"] == "numeric":
            m = center[off]
            guess.append(key_num(round(m) if a.whole_numbers else m))
        else:
            k = max(range(w), key=lambda k: colsum[off + k])
            guess.append(f["values"][k] if k < len(f["values"]) else ("other", None))
    positives = st[sl["positives"][0]]
    rows_n = st[sl["rows"][0]]
    guess.append(1 if positives > rows_n / 2 else 0)

    # The noise on each value of the sum, from entries that are zero
    # without it: two values of one categorical feature are never on the
    # same row. Zero without differential privacy (0 * 0 is exact in the
    # fixed-point encoding).
    zeros = [H(off + p, off + q) for f, off, w in feats if f["type"] == "categorical"
             for p in range(w) for q in range(p + 1, w)]
    s2 = sum(z * z for z in zeros) / len(zeros) if zeros else 0.0
    prior = [max(colsum[k], 0.5) / rows_n for k in range(d)]
    py1 = min(max(positives / rows_n, 0.5 / rows_n), 1 - 0.5 / rows_n)

    for j in cand:
        hjj, gj = H(j, j), ev[g0 + j]
        # The label: g_j is c (1/2 - y) (times f <= 1) plus the noise.
        if s2 > 0:
            y = max((0, 1), key=lambda y: math.log(py1 if y else 1 - py1) -
                    (gj - (pw if y else 1.0) * (0.5 - y)) ** 2 / (2 * s2))
        else:
            y = 1 if gj < 0 else 0
        c = pw if y else 1.0
        den = hjj if 0 < hjj <= c / 4 * (1 + 1e-9) else c / 4
        x = [H(k, j) / den for k in range(d)]
        # Under noise, each estimate is weighed against what the statistics
        # say (a numeric column's standardised values have mean 0 and
        # variance 1; a category is as common as its count): the posterior
        # mean, and the most probable category. Without noise both are the
        # rebuilt values themselves.
        shrink = 1 / (1 + s2 / (den * den))
        t = []
        for f, off, w in feats:
            if f["type"] == "numeric":
                if w == 2 and x[off + 1] > 0.5:
                    t.append(None)
                    continue
                v = center[off] + scale[off] * x[off] * shrink
                if a.whole_numbers:
                    worst_frac = max(worst_frac, abs(v - round(v)))
                    v = round(v)
                t.append(key_num(v))
            else:
                if off <= j < off + w:
                    k = j - off
                elif s2 > 0:
                    k = max(range(w), key=lambda k: math.log(prior[off + k]) +
                            den * den * x[off + k] / s2)
                else:
                    k = max(range(w), key=lambda k: x[off + k])
                t.append(f["values"][k] if k < len(f["values"]) else ("other", None))
        t.append(y)
        t = tuple(t)
        for where in index.get(t, []):
            exact.add(where)
        # The lead really alone in column j, if there is one: how close.
        fi, _, val = next(o for o in onehot if o[1] == j)
        truth = [r for _, r in rows if val is not None and r[fi] == val]
        if len(truth) == 1:
            true_cands += 1
            fields_right.append(sum(p == q for p, q in zip(t, truth[0])) / len(t))
            base_right.append(sum(p == q for p, q in zip(guess, truth[0])) / len(t))
            label_right += t[-1] == truth[0][-1]

    nf = len(feats) + 1
    mean = sum(fields_right) / len(fields_right) if fields_right else 0.0
    base = sum(base_right) / len(base_right) if base_right else 0.0
    out = {
        "candidates": len(cand), "by_hessian": len(by_hess), "by_statistics": len(by_stats),
        "by_oracle": len(by_oracle),
        "true_candidates": true_cands, "rebuilt_exactly": len(exact),
        "exact": sorted(exact), "fields": nf, "mean_fields_right": mean,
        "best_fields_right": max(fields_right) if fields_right else 0.0,
        "label_right": label_right, "guess_fields_right": base,
        "largest_distance_from_whole": worst_frac, "noise_sd": math.sqrt(s2),
    }
    print("noise on each value of the sum: sd %.4g (from %d entries that are zero "
          "without it)" % (math.sqrt(s2), len(zeros)))
    print("candidates: %d one-hot columns that hold one lead (%d by the Hessian's diagonal, "
          "%d by the statistics' counts%s); %d of them really do" %
          (len(cand), len(by_hess), len(by_stats),
           ", %d told by the CSVs" % len(by_oracle) if a.oracle else "", true_cands))
    print("rebuilt exactly: %d leads (all %d fields and the label equal to a row of the "
          "partners' CSVs)" % (len(exact), nf - 1))
    print("closeness: over the %d columns that hold one lead, %.1f %% of the %d fields right "
          "on average (best %.1f %%), the label right %d times; a guess from the statistics "
          "alone gets %.1f %%" % (true_cands, 100 * mean, nf, 100 * out["best_fields_right"],
                                  label_right, 100 * base))
    if a.whole_numbers:
        print("largest distance of a rebuilt numeric value from a whole number: %.3g" %
              worst_frac)
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(out, f, indent=1)


main()
