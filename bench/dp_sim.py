#!/usr/bin/env python3
"""Simulation of fedlead's differential-privacy plan (bench/README.md,
"Differential privacy"): the mechanism of src/fed/node.c and the plan of
src/fed/coord_train.c in numpy, with Gaussian noise of the discrete
Gaussian's variance, to compare plans over many noise draws (a real
federation is one draw). Needs python3-numpy.

    python3 bench/dp_sim.py [--data bank|coil] [--eps 1] [--runs 40] [--clip R] [--steps 3]

Prints the held-out AUC and log-loss of the non-private model (Newton to
convergence, l2 = 1) and, per epsilon, the private plan's mean, standard
deviation and how many runs were more than 0.01 below.
"""
import argparse, csv, json, math, os
import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SHARES = {"loss": 0.02, "gradient": 1.0, "hessian": 1.5}  # node.c DP_W_*


def load(name):
    d = os.path.join(SRC, "tests", "data")
    if name == "bank":
        f, sch, sep = d + "/bank-marketing/bank.csv", d + "/bank-marketing/bank.schema.json", ";"
    else:
        f, sch, sep = d + "/coil2000/train.csv", d + "/coil2000/coil2000.schema.json", ","
    s = json.load(open(sch))
    rows = list(csv.reader(open(f, newline=""), delimiter=sep))
    idx = {h: i for i, h in enumerate(rows[0])}
    data = rows[1:]
    cols, num, zeros = [np.ones(len(data))], [False], []
    for ft in s["features"]:
        v = [r[idx[ft["name"]]] for r in data]
        if ft["type"] == "numeric":
            cols.append(np.array([float(x) for x in v]))
            num.append(True)
            continue
        first = len(cols)
        for k in ft["values"]:
            cols.append(np.array([1.0 if x == k else 0.0 for x in v]))
            num.append(False)
        if ft.get("other"):
            cols.append(np.array([0.0 if x in ft["values"] else 1.0 for x in v]))
            num.append(False)
        zeros += [(j, k) for j in range(first, len(cols)) for k in range(j + 1, len(cols))]
    X = np.stack(cols, 1)
    lab = s["label"]
    y = np.array([1.0 if r[idx[lab["column"]]] == lab["positive"] else 0.0 for r in data])
    # tests/e2e/lib/dp.bash split_holdout: every 4th lead held out
    i = np.arange(len(y))
    te = i % 4 == 3
    num = np.array(num)
    mu, sd = X[~te][:, num].mean(0), X[~te][:, num].std(0)
    sd[sd == 0] = 1
    X[:, num] = (X[:, num] - mu) / sd
    Z = np.zeros((X.shape[1],) * 2, bool)
    for j, k in zeros:
        Z[j, k] = Z[k, j] = True
    return X[~te], y[~te], X[te], y[te], Z, len(s["features"])


def eps_of(rho, delta):  # src/privacy/accountant.c fl_dp_epsilon
    a = 1 + np.exp(np.linspace(-30, 30, 20001))
    return max(0, np.min(a * rho + (a * np.log1p(-1 / a) - np.log(a - 1) - math.log(delta)) / (a - 1)))


def rho_budget(eps, delta):
    lo, hi = 0.0, eps + 1
    for _ in range(60):
        m = (lo + hi) / 2
        lo, hi = (m, hi) if eps_of(m, delta) <= eps else (lo, m)
    return lo


def sig(z):
    return 0.5 * (1 + np.tanh(z / 2))


def auc(y, p):
    r = np.argsort(np.argsort(p)) + 1.0
    for v in np.unique(p):  # average ranks of ties
        m = p == v
        r[m] = r[m].mean()
    n1 = y.sum()
    return (r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (len(y) - n1))


def logloss(y, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def newton(X, y, l2, iters=50):
    d = X.shape[1]
    P = np.eye(d) * l2
    P[0, 0] = 0
    w = np.zeros(d)
    for _ in range(iters):
        p = sig(X @ w)
        w -= np.linalg.solve((X * (p * (1 - p))[:, None]).T @ X + P, X.T @ (p - y) + P @ w)
    return w


def plan(X, y, Z, eps, R, steps, l2, rng, delta=1e-6, noisy=2, parts=3):
    """The privacy plan: rows clipped to R; release 1 the loss, gradient and
    Hessian at w = 0, releases 2..steps the loss and gradient; each block
    noised to its share of rho / steps for `noisy` honest partners, all
    `parts` partners adding it; the Hessian's known zeros set to 0, the l2
    term added and its eigenvalues floored at l2 + sqrt(d) s."""
    n, d = X.shape
    X = X * np.minimum(1, R / np.linalg.norm(X, axis=1))[:, None]
    P = np.eye(d) * l2
    P[0, 0] = 0
    r = rho_budget(eps, delta) / steps
    w, B = np.zeros(d), None
    for k in range(steps):
        p = sig(X @ w)
        g = X.T @ (p - y)
        blocks = ["loss", "gradient"] + (["hessian"] if k == 0 else [])
        tot = sum(SHARES[b] for b in blocks)
        rg = r * SHARES["gradient"] / tot
        g = g + rng.normal(0, math.sqrt(parts * R * R / (2 * noisy * rg)), d)
        if k == 0:
            rH = r * SHARES["hessian"] / tot
            H = (X * (p * (1 - p))[:, None]).T @ X
            E = np.triu(rng.normal(0, math.sqrt(parts * (R ** 4 / 16) / (2 * noisy * rH)), (d, d)))
            H = H + E + np.triu(E, 1).T
            s = math.sqrt(np.mean(H[np.triu(Z, 1)] ** 2)) if Z.any() else 0
            H[Z] = 0
            ev, V = np.linalg.eigh(H + P)
            B = (V * np.maximum(ev, l2 + math.sqrt(d) * s)) @ V.T
        w = w - np.linalg.solve(B, g + P @ w)
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="bank")
    ap.add_argument("--eps", default="1")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--clip", type=float, default=0, help="0: sqrt(1 + features)")
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    Xtr, ytr, Xte, yte, Z, nf = load(a.data)
    R = a.clip or math.sqrt(1 + nf)
    w0 = newton(Xtr, ytr, 1.0)
    p0 = sig(Xte @ w0)
    base = auc(yte, p0)
    print("%s: %d training rows, %d columns; without privacy: AUC %.4f, log-loss %.4f"
          % (a.data, len(ytr), Xtr.shape[1], base, logloss(yte, p0)))
    for e in [float(x) for x in a.eps.split(",")]:
        res = []
        for k in range(a.runs):
            w = plan(Xtr, ytr, Z, e, R, a.steps, 1.0, np.random.default_rng(k))
            p = sig(Xte @ w)
            res.append((auc(yte, p), logloss(yte, p)))
        res = np.array(res)
        print("epsilon %g, R %.3g, %d steps: AUC %.4f (sd %.4f, %d of %d runs more than 0.01 "
              "below), log-loss %.4f" % (e, R, a.steps, res[:, 0].mean(), res[:, 0].std(),
                                         (res[:, 0] < base - 0.01).sum(), a.runs, res[:, 1].mean()))


if __name__ == "__main__":
    main()
