#!/usr/bin/env python3
"""Splits the bundled bank-marketing leads for bench/splines.sh, and scores
the scikit-learn references on the same split.

  splines.py split BANK.csv OUTDIR [--seed N]
      writes OUTDIR/p1.csv, p2.csv, p3.csv (three partners, 25 % each),
      OUTDIR/train.csv (the three together) and OUTDIR/test.csv (the
      held-out 25 %), semicolon-separated like the source.
  splines.py sklearn OUTDIR [--drop COLUMN]
      fits on train.csv, scores test.csv, prints "name auc seconds" lines:
      plain logistic regression (LogisticRegressionCV on standardised
      numbers and one-hot categories), the same with SplineTransformer
      (5 quantile knots, cubic, linear extrapolation) on the numbers, that
      with one more one-hot feature, the contact's date (month and day
      together, every date of train.csv), and
      HistGradientBoostingClassifier (defaults).
"""
import csv
import random
import sys
import time


def split(src, out, seed):
    with open(src, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    head, rows = rows[0], rows[1:]
    rnd = random.Random(seed)
    rnd.shuffle(rows)
    q = len(rows) // 4
    parts = {"p1": rows[:q], "p2": rows[q:2 * q], "p3": rows[2 * q:3 * q],
             "test": rows[3 * q:], "train": rows[:3 * q]}
    for name, part in parts.items():
        with open(f"{out}/{name}.csv", "w", newline="") as f:
            w = csv.writer(f, delimiter=";", lineterminator="\n")
            w.writerow(head)
            w.writerows(part)


def read(path, drop):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    head, rows = rows[0], rows[1:]
    keep = [k for k, c in enumerate(head) if c != "y" and c not in drop]
    y = [1 if r[head.index("y")] == "yes" else 0 for r in rows]
    cols = {head[k]: [r[k] for r in rows] for k in keep}
    return cols, y


def is_number(values):
    try:
        for v in values:
            float(v)
        return True
    except ValueError:
        return False


def sklearn_refs(out, drop):
    import numpy as np
    from scipy import sparse
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

    tr, y_tr = read(f"{out}/train.csv", drop)
    te, y_te = read(f"{out}/test.csv", drop)
    num = [c for c in tr if is_number(tr[c])]
    cat = [c for c in tr if c not in num]
    n_tr = np.array([[float(v) for v in tr[c]] for c in num]).T
    n_te = np.array([[float(v) for v in te[c]] for c in num]).T
    c_tr = np.array([tr[c] for c in cat]).T
    c_te = np.array([te[c] for c in cat]).T
    oh = OneHotEncoder(handle_unknown="ignore").fit(c_tr)

    def lr():
        return LogisticRegressionCV(Cs=10, cv=5, max_iter=5000, scoring="neg_log_loss")

    def run(name, fit):
        t = time.perf_counter()
        score = fit()
        secs = time.perf_counter() - t
        print(f"{name} {roc_auc_score(y_te, score):.4f} {secs:.2f}")
        sys.stdout.flush()

    def plain():
        sc = StandardScaler().fit(n_tr)
        m = lr().fit(sparse.hstack([sc.transform(n_tr), oh.transform(c_tr)]).tocsr(), y_tr)
        return m.predict_proba(sparse.hstack([sc.transform(n_te), oh.transform(c_te)]).tocsr())[:, 1]

    def spline():
        st = SplineTransformer(n_knots=5, degree=3, knots="quantile",
                               extrapolation="linear").fit(n_tr)
        sc = StandardScaler().fit(st.transform(n_tr))
        f_tr = sparse.hstack([sc.transform(st.transform(n_tr)), oh.transform(c_tr)]).tocsr()
        f_te = sparse.hstack([sc.transform(st.transform(n_te)), oh.transform(c_te)]).tocsr()
        return lr().fit(f_tr, y_tr).predict_proba(f_te)[:, 1]

    def spline_date():
        # The calendar date as one categorical feature, as the drafted
        # schema's "month day" (bench/README.md, "Splines").
        d_tr = np.array([[m + " " + d for m, d in zip(tr["month"], tr["day"])]]).T
        d_te = np.array([[m + " " + d for m, d in zip(te["month"], te["day"])]]).T
        dh = OneHotEncoder(handle_unknown="ignore").fit(d_tr)
        st = SplineTransformer(n_knots=5, degree=3, knots="quantile",
                               extrapolation="linear").fit(n_tr)
        sc = StandardScaler().fit(st.transform(n_tr))
        f_tr = sparse.hstack([sc.transform(st.transform(n_tr)), oh.transform(c_tr),
                              dh.transform(d_tr)]).tocsr()
        f_te = sparse.hstack([sc.transform(st.transform(n_te)), oh.transform(c_te),
                              dh.transform(d_te)]).tocsr()
        return lr().fit(f_tr, y_tr).predict_proba(f_te)[:, 1]

    def hgb():
        f_tr = np.hstack([n_tr, oh.transform(c_tr).toarray()])
        f_te = np.hstack([n_te, oh.transform(c_te).toarray()])
        m = HistGradientBoostingClassifier(random_state=0).fit(f_tr, y_tr)
        return m.predict_proba(f_te)[:, 1]

    run("sklearn-lr", plain)
    run("sklearn-lr-spline", spline)
    run("sklearn-lr-spline-date", spline_date)
    run("sklearn-hgb", hgb)


def main(argv):
    if len(argv) >= 3 and argv[0] == "split":
        seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 1
        split(argv[1], argv[2], seed)
    elif len(argv) >= 2 and argv[0] == "sklearn":
        drop = [argv[i + 1] for i, a in enumerate(argv) if a == "--drop"]
        sklearn_refs(argv[1], drop)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
