#!/usr/bin/python3
"""The scikit-learn reference of bench/crm.sh: the model fedlead-node train
--l2 1 fits on bench_gen --crm leads, in one process, as a data scientist
would write it: pandas reads the CSV, numbers are standardised with their
mean imputed and a missing indicator beside them, categories one-hot
encoded sparse (a blank is its own level, fedlead's "other"), then
LogisticRegression(lbfgs) with C = 1 / l2 (the intercept unpenalised, as in
fedlead). Prints the phases' times and the mean training log-loss.

usage: crm_sklearn.py LEADS.csv SCHEMA.json
"""
import json
import sys
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import OneHotEncoder

t0 = time.perf_counter()
schema = json.load(open(sys.argv[2]))
num = [f["name"] for f in schema["features"] if f["type"] == "numeric"]
cat = [f for f in schema["features"] if f["type"] == "categorical"]
df = pd.read_csv(sys.argv[1], dtype={f["name"]: str for f in cat})
t_read = time.perf_counter()
y = df[schema["label"]["column"]].to_numpy(dtype=np.float64)
X = df[num].to_numpy(dtype=np.float64)
miss = np.isnan(X)
mean = np.nanmean(X, axis=0)
sd = np.nanstd(X, axis=0)
Xs = np.where(miss, 0.0, (X - mean) / np.where(sd > 0, sd, 1.0))
enc = OneHotEncoder(categories=[f["values"] + [""] for f in cat], sparse_output=True,
                    dtype=np.float64, handle_unknown="error")
C = enc.fit_transform(df[[f["name"] for f in cat]].fillna(""))
A = sp.hstack([sp.csr_matrix(Xs), sp.csr_matrix(miss.astype(np.float64)), C]).tocsr()
t_enc = time.perf_counter()
m = LogisticRegression(C=1.0, solver="lbfgs", max_iter=2000, tol=1e-6)
m.fit(A, y)
t_fit = time.perf_counter()
ll = log_loss(y, m.predict_proba(A)[:, 1])
print(f"rows {A.shape[0]} columns {A.shape[1] + 1} nnz {A.nnz}")
print(f"read {t_read - t0:.3f} s, encode {t_enc - t_read:.3f} s, fit {t_fit - t_enc:.3f} s "
      f"({m.n_iter_[0]} iterations), total {t_fit - t0:.3f} s")
print(f"training log-loss {ll:.6f}")
