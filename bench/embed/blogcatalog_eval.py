#!/usr/bin/python3
"""blogcatalog_eval.py — multi-label node classification on BlogCatalog, the
DeepWalk / node2vec protocol: node vectors -> one-vs-rest logistic regression
(scikit-learn, liblinear, C=1) trained on a random fraction of the nodes;
each test node is assigned its top-k labels, k = its true number of labels;
Micro- and Macro-F1 averaged over 5 random splits per fraction.

  blogcatalog_eval.py VECTORS LABELS [--fractions 0.1,0.5,0.9] [--splits 5] [--json]
"""
import argparse, json, sys
import warnings

import numpy as np
from gensim.models import KeyedVectors
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vectors")
    ap.add_argument("labels")
    ap.add_argument("--fractions", default="0.1,0.5,0.9")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    kv = KeyedVectors.load_word2vec_format(a.vectors, binary=False)
    lab = {}
    for line in open(a.labels):
        f = line.split()
        if len(f) >= 2:
            lab.setdefault(f[0], []).append(int(f[1]))
    nodes = sorted(lab, key=int)
    missing = [n for n in nodes if n not in kv.key_to_index]
    if missing:
        sys.exit(f"{len(missing)} labelled nodes have no vector (e.g. {missing[:3]})")
    X = np.stack([kv[n] for n in nodes]).astype(np.float64)
    mlb = MultiLabelBinarizer()
    Y = mlb.fit_transform([lab[n] for n in nodes])
    out = {"vectors": a.vectors, "nodes": len(nodes), "labels": Y.shape[1]}
    for frac in [float(x) for x in a.fractions.split(",")]:
        mi, ma = [], []
        for s in range(a.splits):
            rng = np.random.default_rng(1000 + s)
            perm = rng.permutation(len(nodes))
            ntr = int(round(frac * len(nodes)))
            tr, te = perm[:ntr], perm[ntr:]
            clf = OneVsRestClassifier(LogisticRegression(solver="liblinear", C=1.0), n_jobs=a.jobs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(X[tr], Y[tr])
            P = clf.predict_proba(X[te])
            pred = np.zeros_like(Y[te])
            k = Y[te].sum(1)
            top = np.argsort(-P, axis=1)
            for i in range(len(te)):
                pred[i, top[i, : k[i]]] = 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mi.append(f1_score(Y[te], pred, average="micro", zero_division=0))
                ma.append(f1_score(Y[te], pred, average="macro", zero_division=0))
        out[f"micro@{frac:g}"] = float(np.mean(mi))
        out[f"macro@{frac:g}"] = float(np.mean(ma))
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
