#!/usr/bin/env python3
"""A spline's baselines under differential privacy from the knots round's
noised histogram (fl_knots_basis_means in src/fed/knots.c), simulated on
the bank-marketing split of tests/e2e/dp_spline_baselines.sh (every 4th
lead held out) for its three splines: age (5 knots), balance (5) and pdays
(4, -1 a special value). Needs python3-numpy and python3-scipy.

    python3 bench/dp_spline_base.py [BANK.csv] [--runs 4000] [--sigma2 171.16]

Knots at the quantiles of the pooled leads' exact 256-bin histogram (as
fl_knots_from_hist places them without noise), then for each run every
bin gets Gaussian noise of variance 3 x sigma2 (three partners' discrete
Gaussian noise of the knots release; sigma2 as each node's audit log
records it at epsilon 1, delta 1e-6, 6 releases, 3 splines). The B-spline
means among the leads with a value, from the noised histogram at the bins'
midpoints, against those of the exact histogram: the total variation
distance, for the counts taken as they are (as built) and with negative
counts as 0. The midpoint rule's own error against the leads' exact means
is printed first. Run k draws from numpy's default_rng(k).
"""
import argparse
import csv
import os

import numpy as np
from scipy.interpolate import BSpline

BINS = 256
FEATURES = (("age", 20.0, 82.0, 5, None), ("balance", -620.0, 20000.0, 5, -1e300),
            ("pdays", -1.0, 590.0, 4, -1.0))


def hist_knots(h, lo, hi, K):
    """fl_knots_from_hist for one feature (counts h >= 0)."""
    w = (hi - lo) / BINS
    N = h.sum()
    kn = []
    for j in range(K):
        t, cum = j / (K - 1) * N, 0.0
        for b in range(BINS):
            if h[b] > 0 and cum + h[b] >= t:
                break
            cum += h[b]
        else:
            b = max(i for i in range(BINS) if h[i] > 0)
        kn.append(lo + (b + min(1, max(0, (t - cum) / h[b]))) * w)
    gap = w / K
    for j in range(1, K):
        kn[j] = max(kn[j], kn[j - 1] + gap)
    return np.array(kn)


def basis(kn, x):
    """The cubic B-splines on the clamped knots at x (inside the knots)."""
    t = np.r_[[kn[0]] * 3, kn, [kn[-1]] * 3]
    return BSpline.design_matrix(np.clip(x, kn[0], kn[-1]), t, 3).toarray()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("bank", nargs="?",
                    default=os.path.join(here, "..", "tests", "data", "bank-marketing", "bank.csv"))
    ap.add_argument("--runs", type=int, default=4000)
    ap.add_argument("--sigma2", type=float, default=171.16)
    a = ap.parse_args()
    rows = [r for i, r in enumerate(csv.DictReader(open(a.bank), delimiter=";"), 1) if i % 4]
    sigma = np.sqrt(3 * a.sigma2)
    print("%d training leads; noise sd %.2f counts per bin" % (len(rows), sigma))
    for name, lo, hi, K, special in FEATURES:
        v = np.array([min(hi, max(lo, float(r[name]))) for r in rows])
        v = v[v != special] if special is not None else v
        b = np.clip(((v - lo) / (hi - lo) * BINS).astype(int), 0, BINS - 1)
        h = np.bincount(b, minlength=BINS).astype(float)
        kn = hist_knots(h, lo, hi, K)
        B = basis(kn, lo + (np.arange(BINS) + 0.5) * (hi - lo) / BINS)
        exact = h @ B / h.sum()
        leads = basis(kn, v).mean(0)
        lin, clamp = [], []
        for k in range(a.runs):
            hn = h + np.random.default_rng(k).normal(0, sigma, BINS)
            lin.append(0.5 * np.abs(hn @ B / hn.sum() - exact).sum())
            hc = np.maximum(hn, 0)
            clamp.append(0.5 * np.abs(hc @ B / hc.sum() - exact).sum())
        lin, clamp = np.array(lin), np.array(clamp)
        print("%-8s %5d leads with a value, knots %s; midpoint rule %.4f from the leads' means"
              % (name, len(v), " ".join("%.1f" % x for x in kn),
                 0.5 * np.abs(exact - leads).sum()))
        print("         as built: distance mean %.4f sd %.4f largest %.4f; negative counts as 0: "
              "mean %.4f sd %.4f" % (lin.mean(), lin.std(), lin.max(), clamp.mean(), clamp.std()))


if __name__ == "__main__":
    main()
