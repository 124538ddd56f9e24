#!/usr/bin/env python3
"""Candidate gradient mechanisms for fedlead's differential-privacy plan,
simulated beside the plan as built (bench/dp_sim.py: its data split,
statistics release, row clip, encoding, zCDP accountant, calibration for
2 honest partners of 3 and Gaussian noise of the discrete Gaussian's
variance), over the same seeds. Needs python3-numpy.

    python3 bench/dp_mech.py [--data bank|coil] [--eps 0.5,1,2,4,8]
                             [--runs 200] [--only NAME,NAME]

For every candidate and epsilon it prints the held-out AUC's mean
difference to the non-private model (Newton to convergence, l2 = 1), its
standard deviation over the runs, how many runs were more than 0.01 below,
the worst run and the mean log-loss. Run k draws everything from numpy's
default_rng(k), the statistics release first, for every candidate. The
first candidate, "built", is the plan as built: its first run per epsilon
is computed by dp_sim.plan_new and checked against this file's faster
copy of the same arithmetic (mech(kind="built")), so every row stands
beside the current mechanism's of the same run. OPENBLAS_NUM_THREADS=1
is advisable on a shared machine. bench/README.md, "A gradient mechanism
for epsilon 1", has the figures.

Candidates (CANDIDATES below):

  built      statistics (a tenth of rho), then the Hessian and the
             gradient at the intercept of the statistics' rate (half each
             of the first evaluation's share), then one gradient; rows
             clipped to R in the centred encoding scaled by 1/k.
  gclip4     four evaluations (the rest of rho split equally, the first
             half Hessian, half gradient). Each row's gradient
             contribution x (p - y) is clipped to l2 norm cg R (cg = 0.65)
             in the evaluations after the first, so their gradients'
             sensitivity is cg R instead of R (per-example clipping, as in
             DP-SGD, Abadi et al. 2016, at a plan constant); in the first,
             at the intercept start, |p - y| <= sigma(|w| R), so its
             gradient's sensitivity is R sigma(|w| R) (0.62 R on bank)
             without any clipping. In the evaluations after the first the
             gradient's rows are not row-clipped (only their x (p - y) is).
             gclip4-80: cg = 0.8, THE RECOMMENDED PLAN (bank at epsilon 1
             within 0.01 in 200 of 200 runs, epsilon 8 and CoIL not
             worse). -r1 keeps the row clip R in the later gradients too
             (what the node does today: its rows are clipped once, at
             standardisation). gclip3 / gclip2: three / two evaluations.
  sens0      as built, the first gradient's sensitivity R sigma(|w| R).
  passglm    one evaluation: the quadratic approximation's sufficient
             statistics at the intercept start (PASS-GLM, Huggins, Adams
             and Broderick 2017: sum x x^T and sum x (q - y), with the
             Hessian's and the gradient's noise and shares), one solve.
  avg3       three evaluations as built, the model the average of the last
             two iterates.
  white      as built, the second gradient asked in the encoding whitened
             by the first release's floored Hessian B: the coordinator
             would send T = c B^(-1/2), the nodes clip T x' to R; the noise
             lands in the weights as B^(-1) instead of B^(-2).
  proj       as built, the second gradient asked only in the span of B's
             eigenvectors above the floor (the directions the Hessian
             measured), clipped to R there.
  rclip      as built, the residual p - y clipped to [-0.5, 0.5] in both
             gradients (a bounded-influence score, Avella-Medina, Bradshaw
             and Loh 2023), sensitivity R / 2.
  diag       as built, each 0/1 column's centred values also divided by
             (p (1 - p))^(1/4) over their geometric mean.

Exploration knobs (environment, used for bench/README.md's decomposition;
leave unset for the figures): GMUL / HMUL multiply the gradient's / the
Hessian's noise, FLOORABS replaces the Hessian's eigenvalue floor (with
HMUL=0: a free, exact Hessian), FH / FG0 the Hessian's and the first
gradient's fractions of the evaluations' rho, RC the rclip bound.
"""
import argparse, functools, math, os, sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dp_sim as S  # noqa: E402


S.rho_budget = functools.lru_cache(maxsize=None)(S.rho_budget)  # plan_new calls it per run


def encode(X, p_oh, oh, nf, kappa, gamma=0.0):
    """The plan's encoding (coord_privacy.c fl_coord_dp_scaler): 0/1
    columns centred at the statistics' frequencies, every column divided
    by k; with gamma > 0, each 0/1 column also by (p (1 - p))^(gamma / 2)
    relative to their geometric mean. Returns M (x' = M x), k, E ||x'||^2
    estimated from the statistics as the coordinator would."""
    d = len(oh)
    p = np.zeros(d)
    p[np.where(oh)[0]] = np.where((p_oh > 0) & (p_oh < 1), p_oh, 0)
    v = np.where(oh, p * (1 - p), 1.0)  # E x_j^2 of the centred column
    lv = oh & (p > 0)
    a = np.ones(d)
    if gamma > 0 and lv.any():
        a[lv] = v[lv] ** (-gamma / 2)
        a[lv] /= math.exp(np.mean(np.log(a[lv])))
    E = float(np.sum(v * a * a))
    k = kappa * math.sqrt(E / (1 + nf))
    M = np.diag(a) / k
    M[1:, 0] = -p[1:] * a[1:] / k
    return M, k, E


def floor_hessian(H, blocks, p, P, l2p, d, floor=1.0):
    """coord_train.c dp_hessian_noise + dp_take_hessian, for the centred
    encoding with per-column scales a (p here is already p_j, the scales
    cancel in the zero entries' test only when a = 1; with a != 1 the
    relation is r = H_jl/(a_j a_l) + ... handled by the caller passing
    H in the unscaled centred units)."""
    H = H.copy()
    J, L = _pairs(blocks)  # every pair j < l of one block (no entry twice)
    r = H[J, L] + p[L] * H[J, 0] + p[J] * H[L, 0] + p[J] * p[L] * H[0, 0]
    ss = float(np.sum(r * r))
    ws = float(np.sum(1 + p[J] ** 2 + p[L] ** 2 + (p[J] * p[L]) ** 2))
    H[J, L] -= r
    H[L, J] = H[J, L]
    s = math.sqrt(ss / ws) if ws else 0.0
    ev, V = np.linalg.eigh(H + P)
    return (V * np.maximum(ev, l2p + floor * math.sqrt(d) * s)) @ V.T, s


_PAIRS = {}


def _pairs(blocks):
    key = id(blocks)
    if key not in _PAIRS:
        jl = [(b[i], b[c]) for b in blocks for i in range(len(b)) for c in range(i + 1, len(b))]
        _PAIRS[key] = (np.array([j for j, _ in jl], int), np.array([l for _, l in jl], int))
    return _PAIRS[key]


def clip_rows(A, R):
    return A * np.minimum(1, R / np.maximum(np.linalg.norm(A, axis=1), 1e-300))[:, None]


def mech(X, y, blocks, p_oh, oh, eps, R, nf, rng, share_stats, base_rate, kind,
         kappa=0.75, kappa2=0.75, steps=None, delta=1e-6, noisy=2, parts=3, l2=1.0,
         rc=float(os.environ.get("RC", "0.5")), gamma=0.5, cg=None, rg=100.0, sens0=False,
         avg=False):
    """One private model (weights in X's standardised units) by candidate
    `kind`; see the module's doc."""
    n, d = X.shape
    if steps is None:
        steps = {"white3": 3, "white-avg": 3, "passglm": 1}.get(kind, 2)
    M, k, E = encode(X, p_oh, oh, nf, kappa, gamma if kind == "diag" else 0.0)
    a = np.diag(M) * k  # per-column scales (1 unless diag)
    Xraw = (X - np.outer(X[:, 0], -M[:, 0] * k / np.where(a == 0, 1, a) * (np.arange(d) > 0))) * (a / k)
    Xe = clip_rows(Xraw, R)
    # The penalty l2 |w|^2 on standardised weights: w = M^T w', so
    # l2 |M^T w'|^2 restricted to the non-intercept part; with a = 1 it is
    # l2 / k^2 |w'_{1:}|^2 (the centring touches the intercept only).
    Pm = np.zeros((d, d))
    Pm[1:, 1:] = np.diag(l2 / (k * k) * a[1:] ** 2)
    l2p = l2 / (k * k)
    rho = S.rho_budget(eps, delta)
    r_eval = rho * (1 - share_stats) / steps
    fh, fg0 = (FH, FG0) if kind == "split" or "FH" in os.environ else (0.5 / steps, 0.5 / steps)
    rH = rho * (1 - share_stats) * fh
    rG = [rho * (1 - share_stats) * fg0] + [rho * (1 - share_stats) * (1 - fh - fg0) / max(steps - 1, 1)] * (steps - 1)
    k2 = parts / (2 * noisy)
    w = np.zeros(d)
    q = base_rate
    w[0] = k * math.log(q / (1 - q))
    p = np.zeros(d)
    p[np.where(oh)[0]] = np.where((p_oh > 0) & (p_oh < 1), p_oh, 0)
    sens = rc if kind == "rclip" else 1.0
    iters = []
    B = T = Tinv = None
    for t in range(steps):
        if t >= 1 and kind in ("white", "white3", "white-avg") and T is None:
            if True:
                ev, V = np.linalg.eigh(B)
                Bmh = (V / np.sqrt(ev)) @ V.T  # B^(-1/2)
                # E ||B^(-1/2) x'||^2 from the noisy Hessian: at the
                # intercept start H = q (1 - q) sum x' x'^T over ~n rows.
                nhat = n  # the statistics' noisy row count in the real plan
                e2 = max(np.trace(np.linalg.solve(B, Hraw)), 1.0) / (nhat * q * (1 - q))
                c = R / (kappa2 * math.sqrt(e2))
                T, Tinv = c * Bmh, (V * np.sqrt(ev)) @ V.T / c
        if t >= 1 and kind == "proj":
            ev, V = np.linalg.eigh(B)
            U, lam = V[:, ev > ev.min() * (1 + 1e-9)], ev[ev > ev.min() * (1 + 1e-9)]
            e2 = max(np.trace(U.T @ Hraw @ U), 1.0) / (n * q * (1 - q))
            c = R / (kappa2 * math.sqrt(e2))
            Xp = Xraw @ U * c
            f = np.minimum(1, R / np.linalg.norm(Xp, axis=1))
            res = S.sig((Xraw * f[:, None]) @ w) - y
            gs = ((Xp * f[:, None]).T @ res + rng.normal(0, math.sqrt(k2 * R * R / rG[t]), U.shape[1])) / c
            w = w - U @ ((gs + U.T @ (Pm @ w)) / lam)
            iters.append(w.copy())
            continue
        if t >= 1 and kind in ("white", "white3", "white-avg"):
            Xw = clip_rows(Xraw @ T.T, R)
            pr = S.sig(Xw @ (Tinv.T @ w))
            res = pr - y
            g = Tinv @ (Xw.T @ res + rng.normal(0, math.sqrt(k2 * R * R / rG[t]), d))
        else:
            pr = S.sig(Xe @ w)
            res = pr - y
            if kind == "rclip":
                res = np.clip(res, -rc, rc)
            rgb = rG[t]
            if (sens0 or kind == "split") and SENS0 and t == 0:
                # |p - y| <= sigma(max |w . x|) <= sigma(|w| R): the
                # gradient's sensitivity at w is R sigma(|w| R), a bound
                # the node computes from w alone (Cauchy-Schwarz)
                sens = SENS0B(w, k, R)
            if cg is not None and t >= 1:  # each row's x (p - y) clipped to cg R
                Xg = clip_rows(Xraw, rg * R) if rg != 1 else Xe
                res = S.sig(Xg @ w) - y
                V_ = Xg * res[:, None]
                g = clip_rows(V_, cg * R).sum(0)
                sens = cg
            else:
                g = Xe.T @ res
            g = g + GMUL * rng.normal(0, math.sqrt(k2 * (sens * R) ** 2 / rgb), d)
            sens = rc if kind == "rclip" else 1.0
        if t == 0:
            Hraw = (Xe * (pr * (1 - pr))[:, None]).T @ Xe
            En = np.triu(rng.normal(0, math.sqrt(k2 * (R ** 4 / 16) / rH), (d, d)))
            En *= HMUL
            Hn = Hraw + En + np.triu(En, 1).T
            # the zero-entry test in the centred units (scales undone)
            Hc = Hn / np.outer(a, a)
            Pc = np.eye(d) * l2p
            Pc[0, 0] = 0
            Bc, s = floor_hessian(Hc, blocks, p, Pc, l2p, d)
            if FLOORABS:
                ev, V = np.linalg.eigh(Hc + Pc)
                Bc = (V * np.maximum(ev, l2p + FLOORABS)) @ V.T
            B = Bc * np.outer(a, a)
            if kind == "diag":  # floor again in the scaled units
                ev, V = np.linalg.eigh(B)
                B = (V * np.maximum(ev, np.min(a * a) * (l2p + math.sqrt(d) * s))) @ V.T
            Hraw = Hn  # the coordinator knows the noisy sum only
        w = w - np.linalg.solve(B, g + Pm @ w)
        iters.append(w.copy())
    if kind == "white-avg" or avg:
        w = (iters[-1] + iters[-2]) / 2
    cal = min(1.0, R * k / math.sqrt(E))
    return cal * (M.T @ w)


GMUL = float(os.environ.get("GMUL", "1"))
HMUL = float(os.environ.get("HMUL", "1"))
FLOORABS = float(os.environ.get("FLOORABS", "0"))
SENS0 = os.environ.get("SENS0", "cs")
def SENS0B(w, k, R):
    if SENS0 == "tight":  # only the intercept moved: |w . x| <= |w_0| / k
        return S.sig(abs(w[0]) / k + R * np.linalg.norm(w[1:]))
    return S.sig(R * np.linalg.norm(w))
# name: (kind, options of mech()); "built" is dp_sim.plan_new itself.
CANDIDATES = {
    "built": ("built", {}),
    "gclip4": ("gclip", dict(steps=4, cg=0.65, sens0=True)),
    "gclip4-80": ("gclip", dict(steps=4, cg=0.8, sens0=True)),
    "gclip3": ("gclip", dict(steps=3, cg=0.65, sens0=True)),
    "gclip3-80": ("gclip", dict(steps=3, cg=0.8, sens0=True)),
    "gclip2": ("gclip", dict(steps=2, cg=0.65, sens0=True)),
    "gclip4-r1": ("gclip", dict(steps=4, cg=0.65, sens0=True, rg=1.0)),
    "gclip4-80-r1": ("gclip", dict(steps=4, cg=0.8, sens0=True, rg=1.0)),
    "sens0": ("sens0", dict(sens0=True)),
    "passglm": ("passglm", dict(steps=1)),
    "avg3": ("avg3", dict(steps=3, avg=True)),
    "white": ("white", {}),
    "proj": ("proj", {}),
    "rclip": ("rclip", {}),
    "diag": ("diag", {}),
}
DEFAULT = "built,gclip4-80,gclip4,gclip4-r1,gclip4-80-r1,gclip3,gclip2,sens0,passglm,avg3,rclip,white,proj"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="bank")
    ap.add_argument("--eps", default="0.5,1,2,4,8")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--only", default=DEFAULT, help="comma list of: " + ",".join(CANDIDATES))
    ap.add_argument("--kappa2", type=float, default=0.75)
    ap.add_argument("--noisy", type=int, default=2)
    a = ap.parse_args()
    X, y, te, num, clips, Z, nf = S.load(a.data)
    n_cat = nf - len(clips)
    oh = ~num.copy()
    oh[0] = False
    blocks, j = [], 0
    while j < X.shape[1]:
        if oh[j]:
            b = [j]
            while j + 1 < X.shape[1] and Z[j, j + 1]:
                j += 1
                b.append(j)
            blocks.append(b)
        j += 1
    ytr, yte = y[~te], y[te]
    mu0, sd0 = X[~te][:, num].mean(0), X[~te][:, num].std(0)
    w0 = S.newton(S.standardise(X, num, mu0, sd0)[~te], ytr, 1.0)
    q0 = S.sig(S.standardise(X, num, mu0, sd0)[te] @ w0)
    base = S.auc(yte, q0)
    R = math.sqrt(1 + nf)
    print("%s: %d training rows, %d columns; without privacy AUC %.4f; %d runs per row, "
          "noise for %d honest partners of 3" % (a.data, len(ytr), X.shape[1], base, a.runs, a.noisy))
    print("%-12s %7s | %8s %7s %6s %8s | %8s" % ("candidate", "epsilon", "mean", "sd", ">0.01",
                                                 "worst", "logloss"))
    for name in a.only.split(","):
        kind, opt = CANDIDATES[name]
        for e in [float(x) for x in a.eps.split(",")]:
            res = []
            for run in range(a.runs):
                rng = np.random.default_rng(run)
                rho = S.rho_budget(e, 1e-6)
                share = 0.1
                mu, sd, p, q = S.stats_new(X[~te], ytr, num, oh, clips, n_cat, rho * share, rng,
                                           exact=[""], pos_exp=0, noisy=a.noisy)
                A = S.standardise(X, num, mu, sd)
                if kind == "built" and run == 0:
                    # dp_sim.plan_new is the plan as built; mech(kind
                    # "built") is the same arithmetic, faster: checked on
                    # the first run's noise draws
                    st = rng.bit_generator.state
                    w = S.plan_new(A[~te], ytr, blocks, p, oh, e, R, 0.75, 2, 1.0, rng, share, nf,
                                   init=True, base_rate=q, noisy=a.noisy)
                    rng.bit_generator.state = st
                    w2 = mech(A[~te], ytr, blocks, p, oh, e, R, nf, rng, share, q, kind, noisy=a.noisy)
                    assert np.allclose(w, w2, rtol=1e-9, atol=1e-9), "mech(built) differs from plan_new"
                else:
                    w = mech(A[~te], ytr, blocks, p, oh, e, R, nf, rng, share, q, kind,
                             kappa2=a.kappa2, noisy=a.noisy, **opt)
                pr = S.sig(A[te] @ w)
                res.append((S.auc(yte, pr) - base, S.logloss(yte, pr)))
            r = np.array(res)
            print("%-12s %7g | %+8.4f %7.4f %6d %+8.4f | %8.4f" % (
                name, e, r[:, 0].mean(), r[:, 0].std(), (r[:, 0] < -0.01).sum(), r[:, 0].min(),
                r[:, 1].mean()), flush=True)


if __name__ == "__main__":
    main()
