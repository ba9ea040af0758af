#!/usr/bin/python3
"""Reference points on UCI Adult (bench only): xgboost and scikit-learn
logistic regression, each on its usual preprocessing (one-hot categoricals;
numerics as they are for the trees, standardised for the linear model).
Train on adult.data, report on adult.test. Prints one JSON line per peer.

usage: peers_adult.py DATA_DIR [--threads 2]
"""
import argparse
import json
import time

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = [0, 2, 4, 10, 11, 12]
CATEGORICAL = [1, 3, 5, 6, 7, 8, 9, 13]


def load(path):
    rows, y = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("|"):
                continue
            parts = [p.strip() for p in line.split(",")]
            rows.append(parts[:14])
            y.append(1 if parts[14].startswith(">50K") else 0)
    num = np.array([[float(r[i]) for i in NUMERIC] for r in rows])
    cat = np.array([[r[i] for i in CATEGORICAL] for r in rows], dtype=object)
    return num, cat, np.array(y)


def report(name, p, y, secs, extra):
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    out = {"peer": name, "train_seconds": round(secs, 4), "test": {
        "n": int(len(y)), "auc": round(float(roc_auc_score(y, p)), 6),
        "logloss": round(float(log_loss(y, pc)), 6), "accuracy": round(float(accuracy_score(y, p >= 0.5)), 6)}}
    out.update(extra)
    print(json.dumps(out), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    ntr, ctr, ytr = load(a.data + "/adult.data")
    nte, cte, yte = load(a.data + "/adult.test")
    enc = OneHotEncoder(handle_unknown="ignore").fit(ctr)
    sc = StandardScaler().fit(ntr)
    Xtr_lin = sp.hstack([enc.transform(ctr), sp.csr_matrix(sc.transform(ntr))]).tocsr()
    Xte_lin = sp.hstack([enc.transform(cte), sp.csr_matrix(sc.transform(nte))]).tocsr()
    t0 = time.perf_counter()
    lr = LogisticRegression(max_iter=2000, C=1.0).fit(Xtr_lin, ytr)
    report("sklearn-logreg", lr.predict_proba(Xte_lin)[:, 1], yte, time.perf_counter() - t0,
           {"params": "lbfgs C=1, one-hot + standardised numerics"})

    import xgboost as xgb
    Xtr = sp.hstack([enc.transform(ctr), sp.csr_matrix(ntr)]).tocsr()
    Xte = sp.hstack([enc.transform(cte), sp.csr_matrix(nte)]).tocsr()
    params = dict(n_estimators=400, learning_rate=0.05, max_depth=6, subsample=0.9, colsample_bytree=0.9,
                  tree_method="hist", n_jobs=a.threads, random_state=1)
    t0 = time.perf_counter()
    m = xgb.XGBClassifier(**params).fit(Xtr, ytr)
    report("xgboost", m.predict_proba(Xte)[:, 1], yte, time.perf_counter() - t0,
           {"version": xgb.__version__, "params": "hist, 400 trees, depth 6, eta 0.05, subsample/colsample 0.9",
            "threads": a.threads})


if __name__ == "__main__":
    main()
