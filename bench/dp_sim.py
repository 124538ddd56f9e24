#!/usr/bin/env python3
"""Simulation of fedlead's differential-privacy plan (bench/README.md,
"Differential privacy"): the mechanism of src/fed/node.c and the plan of
src/fed/coord_train.c and coord_privacy.c in numpy, with Gaussian noise of
the discrete Gaussian's variance, to compare plans over many noise draws (a
real federation is one draw). Needs python3-numpy.

    python3 bench/dp_sim.py [--data bank|coil] [--eps 1] [--runs 40] [--steps 2]
                            [--kappa 0.75] [--stats built|exact] [--old]
                            [--no-init] [--pos-exp 0] [--share 0.1]
                            [--exact num,freq,rows] [--hess noisy|exact|free]
                            [--hshare 0.5] [--floor 1] [--last 1] [--pmin 0]
                            [--noisy 2]

Set DP_SIM_RUNS=1 in the environment to print every run's AUC difference.

Prints the held-out AUC and log-loss of the non-private model (Newton to
convergence, l2 = 1) and, per epsilon, the private plan's mean, standard
deviation and how many runs were more than 0.01 below.

The plan as built: the statistics release takes a tenth of the rho
(payload.c: numeric sums about the clip range's midpoint, the rows count
1/4, the positives count 1 and level columns 1/2 of a lead's part), the
evaluations split the rest equally; the first, at the intercept-only model
of the statistics' rate of converted leads, carries the Hessian there and
the gradient (equal shares), the others the gradient; the coordinator trains in its own
encoding (every 0/1 column centred at its frequency, every column divided
by k = kappa sqrt(E |x|^2 / (1 + features))), in which the nodes clip rows
to sqrt(1 + features); the Hessian's known zeros (of the 0/1 encoding)
restored, its eigenvalues floored at l2 + sqrt(d) s; full steps; the
weights mapped back and scaled by min(1, R k / sqrt(E |x|^2)).

--stats exact: the training rows' own means, deviations and frequencies,
no budget. --old: the plan before this one (the statistics a quarter of
rho with sums about 0, counts weighted 4; no centring, rows clipped to
sqrt(1 + features) as standardised; Hessian 1.5 : gradient 1; 3 steps).
The other options are the experiments of bench/README.md: --no-init starts
at w = 0 (Hessian (1/4) X^T X), --pos-exp 2 weights the positives as the
rows count; --share is the statistics' share of rho; --exact makes parts
of the statistics exact while still spending their budget; --hess exact
releases a noise-free Hessian (its budget spent), free none (all to the
gradient, the Hessian exact); --hshare is the Hessian's share of the first
evaluation, --floor multiplies the eigenvalue floor, --last the last step,
--pmin leaves levels rarer than that uncentred.
"""
import argparse, csv, json, math, os
import numpy as np

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SHARES = {"loss": 0.02, "gradient": 1.0, "hessian": 1.5}  # node.c DP_W_*


def load(name):
    d = os.path.join(SRC, "tests", "data")
    if name == "bank":
        f, sch, sep = d + "/bank-marketing/bank.csv", d + "/bank-marketing/bank-dp.schema.json", ";"
    else:
        f, sch, sep = d + "/coil2000/train.csv", d + "/coil2000/coil2000-dp.schema.json", ","
    s = json.load(open(sch))
    rows = list(csv.reader(open(f, newline=""), delimiter=sep))
    idx = {h: i for i, h in enumerate(rows[0])}
    data = rows[1:]
    cols, num, zeros, clips = [np.ones(len(data))], [False], [], []
    for ft in s["features"]:
        v = [r[idx[ft["name"]]] for r in data]
        if ft["type"] == "numeric":
            lo, hi = ft["clip"]  # the -dp schemas clip every numeric feature
            cols.append(np.clip(np.array([float(x) for x in v]), lo, hi))
            num.append(True)
            clips.append((lo, hi))
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
    Z = np.zeros((X.shape[1],) * 2, bool)
    for j, k in zeros:
        Z[j, k] = Z[k, j] = True
    return X, y, te, num, clips, Z, len(s["features"])


def pow2_above(b):  # payload.c
    e = 0
    if b > 1:
        _, e = math.frexp(b)
        if math.ldexp(1, e - 1) == b:
            e -= 1
    return e


def stats_release(X, num, clips, n_cat, rho, rng, center, light, noisy=2, parts=3):
    """Means and deviations of the numeric columns from one noised
    statistics release (payload.c stats_dp_entries, fl_payload_stats_denoise)."""
    ce, ke = (2, 1) if light else (-2, 0)
    l2sq = 2 * 4.0 ** -ce + n_cat * 4.0 ** -ke
    bounds = []
    for lo, hi in clips:
        c = (lo + hi) / 2 if center else 0.0
        b = max(abs(lo - c), abs(hi - c))
        s1, s2 = 2.0 ** pow2_above(b), 2.0 ** pow2_above(b * b)
        l2sq += (b / s1) ** 2 + (b * b / s2) ** 2
        bounds.append((c, s1, s2))
    sd = math.sqrt(parts * l2sq / (2 * noisy * rho))  # per scaled entry, all partners
    rows = max(2, round(len(X) + rng.normal(0, sd) * 2.0 ** ce))
    Xn = X[:, num]
    mu, sg = np.zeros(Xn.shape[1]), np.ones(Xn.shape[1])
    for j, ((lo, hi), (c, s1, s2)) in enumerate(zip(clips, bounds)):
        w = hi - lo
        m = np.clip(((Xn[:, j] - c).sum() + rng.normal(0, sd) * s1) / rows, lo - c, hi - c)
        v = np.square(Xn[:, j] - c).sum() + rng.normal(0, sd) * s2
        mu[j], sg[j] = m + c, math.sqrt(np.clip(v / rows - m * m, w * w / 400, w * w / 4))
    return mu, sg


def standardise(X, num, mu, sd):
    X = X.copy()
    sd = np.where(sd == 0, 1, sd)
    X[:, num] = (X[:, num] - mu) / sd
    return X


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



def stats_new(X, y, num, oh, clips, n_cat, rho, rng, noisy=2, parts=3, exact=(), pos_exp=2):
    """The statistics release as built: means and deviations of the numeric
    columns and the levels' frequencies from one noised release."""
    l2sq = 1 / 16.0 + 4.0 ** -pos_exp + n_cat / 4.0
    bounds = []
    for lo, hi in clips:
        c = lo / 2 + hi / 2
        b = (hi - lo) / 2
        s1, s2 = 2.0 ** pow2_above(b), 2.0 ** pow2_above(b * b)
        l2sq += (b / s1) ** 2 + (b * b / s2) ** 2
        bounds.append((c, s1, s2))
    sd = math.sqrt(parts * l2sq / (2 * noisy * rho))
    rows = max(2, round(len(X) + rng.normal(0, sd) * 4))
    pos = min(max(round(y.sum() + rng.normal(0, sd) * 2 ** pos_exp), 1), rows - 1)
    p = np.clip(np.round(X[:, oh].sum(0) + rng.normal(0, sd, oh.sum()) * 2), 0, rows) / rows
    if "rows" in exact:
        rows, pos = len(X), y.sum()
    if "freq" in exact:
        p = X[:, oh].mean(0)
    Xn = X[:, num]
    mu, sg = np.zeros(Xn.shape[1]), np.ones(Xn.shape[1])
    for j, ((lo, hi), (c, s1, s2)) in enumerate(zip(clips, bounds)):
        w = hi - lo
        m = np.clip(((Xn[:, j] - c).sum() + rng.normal(0, sd) * s1) / rows, lo - c, hi - c)
        v = np.square(Xn[:, j] - c).sum() + rng.normal(0, sd) * s2
        mu[j], sg[j] = m + c, math.sqrt(np.clip(v / rows - m * m, w * w / 400, w * w / 4))
    if "num" in exact:
        mu, sg = Xn.mean(0), Xn.std(0)
    return mu, sg, p, pos / rows


def plan_new(X, y, blocks, p_oh, oh, eps, R, kappa, steps, l2, rng, share_stats, nf,
             delta=1e-6, noisy=2, parts=3, hess="noisy", hshare=0.5, floor=1.0, last=1.0, init=False, base_rate=None, pmin=0.0):
    """The evaluations as built, on X standardised (numeric) with 0/1 levels;
    returns the model's weights in those units."""
    n, d = X.shape
    p = np.zeros(d)
    p[np.where(oh)[0]] = np.where((p_oh > 0) & (p_oh < 1) & (p_oh >= pmin), p_oh, 0)
    E = 1 + (~oh[1:]).sum() + np.sum(p * (1 - p))
    k = kappa * math.sqrt(E / (1 + nf))
    M = np.eye(d) / k
    M[1:, 0] = -p[1:] / k  # x' = M x
    Xe = X @ M.T
    Xe = Xe * np.minimum(1, R / np.linalg.norm(Xe, axis=1))[:, None]
    l2p = l2 / (k * k)
    P = np.eye(d) * l2p
    P[0, 0] = 0
    rho = rho_budget(eps, delta)
    r_eval = rho * (1 - share_stats) / steps
    k2 = parts / (2 * noisy)
    w = np.zeros(d)
    if init:  # the intercept at the base rate of the statistics' counts
        q = base_rate
        w[0] = k * math.log(q / (1 - q))
    for t in range(steps):
        pr = sig(Xe @ w)
        rg = r_eval * (1 - hshare) if t == 0 and hess in ("noisy", "exact") else r_eval
        g = Xe.T @ (pr - y) + rng.normal(0, math.sqrt(k2 * R * R / rg), d)
        if t == 0:
            H = (Xe * (pr * (1 - pr))[:, None]).T @ Xe
            E_ = np.triu(rng.normal(0, math.sqrt(k2 * (R ** 4 / 16) / (r_eval * hshare)), (d, d)))
            if hess == "noisy":
                H = H + E_ + np.triu(E_, 1).T
            ss = ws = 0.0
            for b in blocks:
                for a in range(len(b)):
                    for c in range(a + 1, len(b)):
                        j, l = b[a], b[c]
                        r = H[j, l] + p[l] * H[j, 0] + p[j] * H[l, 0] + p[j] * p[l] * H[0, 0]
                        ss += r * r
                        ws += 1 + p[j] ** 2 + p[l] ** 2 + (p[j] * p[l]) ** 2
                        H[j, l] -= r
                        H[l, j] = H[j, l]
            s = math.sqrt(ss / ws)
            ev, V = np.linalg.eigh(H + P)
            B = (V * np.maximum(ev, l2p + floor * math.sqrt(d) * s)) @ V.T
        w = w - (last if t == steps - 1 and t > 0 else 1.0) * np.linalg.solve(B, g + P @ w)
    cal = min(1.0, R * k / math.sqrt(E))
    return cal * (M.T @ w)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="bank")
    ap.add_argument("--eps", default="1")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--kappa", type=float, default=0.75)
    ap.add_argument("--stats", default="built")
    ap.add_argument("--old", action="store_true")
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--hess", default="noisy", help="noisy | exact (budget spent) | free (no release)")
    ap.add_argument("--hshare", type=float, default=0.5)
    ap.add_argument("--floor", type=float, default=1.0)
    ap.add_argument("--last", type=float, default=1.0)
    ap.add_argument("--no-init", dest="init", action="store_false",
                    help="start at w = 0 (the plan before), not at the statistics' rate")
    ap.add_argument("--pmin", type=float, default=0.0)
    ap.add_argument("--noisy", type=int, default=2,
                    help="honest partners the noise is calibrated for (3 - max_colluders)")
    ap.add_argument("--pos-exp", type=int, default=0,
                    help="positives count scaled by 2^-e in the statistics (2: the plan before)")
    ap.add_argument("--exact", default="", help="comma list of num,freq,rows: exact, budget still spent")
    a = ap.parse_args()
    X, y, te, num, clips, Z, nf = load(a.data)
    n_cat = nf - len(clips)
    oh = ~num.copy()
    oh[0] = False
    blocks, j = [], 0
    while j < X.shape[1]:  # the runs of one-hot columns Z ties together
        if oh[j]:
            b = [j]
            while j + 1 < X.shape[1] and Z[j, j + 1]:
                j += 1
                b.append(j)
            blocks.append(b)
        j += 1
    ytr, yte = y[~te], y[te]
    mu0, sd0 = X[~te][:, num].mean(0), X[~te][:, num].std(0)
    p0 = X[~te][:, oh].mean(0)
    Xs = standardise(X, num, mu0, sd0)
    w0 = newton(Xs[~te], ytr, 1.0)
    q0 = sig(Xs[te] @ w0)
    base = auc(yte, q0)
    print("%s: %d training rows, %d columns; without privacy: AUC %.4f, log-loss %.4f"
          % (a.data, len(ytr), X.shape[1], base, logloss(yte, q0)))
    R = math.sqrt(1 + nf)
    for e in [float(x) for x in a.eps.split(",")]:
        res = []
        for k in range(a.runs):
            rng = np.random.default_rng(k)
            rho = rho_budget(e, 1e-6)
            if a.old:
                share = 0 if a.stats == "exact" else 1.0 / (a.steps + 1)
                mu, sd = (mu0, sd0) if share == 0 else stats_release(
                    X[~te], num, clips, n_cat, rho * share, rng, False, False)
                A = standardise(X, num, mu, sd)
                w = plan(A[~te], ytr, Z, eps_of(rho * (1 - share), 1e-6), R, a.steps, 1.0, rng)
            else:
                share = 0 if a.stats == "exact" else a.share
                mu, sd, p, q = (mu0, sd0, p0, ytr.mean()) if share == 0 else stats_new(
                    X[~te], ytr, num, oh, clips, n_cat, rho * share, rng,
                    exact=a.exact.split(","), pos_exp=a.pos_exp, noisy=a.noisy)
                A = standardise(X, num, mu, sd)
                w = plan_new(A[~te], ytr, blocks, p, oh, e, R, a.kappa, a.steps, 1.0, rng,
                             share, nf, hess=a.hess, hshare=a.hshare, floor=a.floor, last=a.last, init=a.init, base_rate=q, pmin=a.pmin, noisy=a.noisy)
            q = sig(A[te] @ w)
            res.append((auc(yte, q), logloss(yte, q)))
            if os.environ.get("DP_SIM_RUNS"):
                print("run %d: %.4f" % (k, res[-1][0] - base))
        res = np.array(res)
        print("epsilon %g, %s plan, %d steps, stats %s: AUC %.4f (mean %+.4f, sd %.4f, %d of %d runs "
              "more than 0.01 below), log-loss %.4f" % (
                  e, "old" if a.old else "new", a.steps, a.stats, res[:, 0].mean(),
                  res[:, 0].mean() - base, res[:, 0].std(), (res[:, 0] < base - 0.01).sum(),
                  a.runs, res[:, 1].mean()))


if __name__ == "__main__":
    main()
