#!/usr/bin/python3
"""ml_reference.py — an independent reference for `northstar eval movielens`
(the lists the running service answered over HTTP, one file per row).

    ml_reference.py DATA_DIR DUMP_DIR [--seed 42] [--ratio 0.75] [--k 10] [--peers]

DUMP_DIR is what `northstar eval movielens --data DATA_DIR --dump DUMP_DIR`
wrote: train.tsv, test.tsv (user, item, rating, ts), one <row>.tsv of
predictions (user, item, rank) per configuration and metrics.tsv (our
figures). This script, written without any northstar code:

1. re-implements the split (xoshiro256** seeded through splitmix64 with a
   stream per user, Lemire's unbiased bounded draw, Fisher-Yates, Python's
   round() of ratio * n per user: what Microsoft Recommenders'
   python_stratified_split keeps per user) from u.data and checks that it
   produces exactly the dumped train/test sets;
2. recomputes Precision@k, Recall@k, nDCG@k, MAP and MAP@k with the
   definitions of recommenders.evaluation.python_evaluation (precision_at_k,
   recall_at_k, ndcg_at_k with binary relevance, map = the pre-1.2
   map_at_k, map_at_k) from each predictions file and compares them with
   metrics.tsv (relative difference <= 1e-9);
3. with --peers, measures peers on the same split with numpy: the
   popularity baseline, cosine item-kNN (100 neighbours) and EASE
   (lambda 300), all with seen items removed.

Exit status 1 if the split or any metric differs.
"""
import math
import sys
import time

M64 = (1 << 64) - 1


def splitmix_hash(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class Rng:
    """xoshiro256** with northstar's (seed, stream) seeding (base.h)."""

    def __init__(self, seed, stream):
        x = seed ^ splitmix_hash(stream ^ 0x5851F42D4C957F2D)
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            self.s.append(splitmix_hash(x))
        if not any(self.s):
            self.s[0] = 1

    def u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        x = self.u64()
        m = x * n
        lo = m & M64
        if lo < n:
            t = ((1 << 64) - n) % n
            while lo < t:
                x = self.u64()
                m = x * n
                lo = m & M64
        return m >> 64


def stratified_split(rows, ratio, seed):
    """rows: (user, item, rating, ts) with integer ids. Returns (train, test) sets of (user, item)."""
    by_user = {}
    for u, i, r, t in rows:
        by_user.setdefault(u, []).append(i)
    train, test = set(), set()
    for u, items in by_user.items():
        items.sort()
        m = len(items)
        perm = list(range(m))
        rng = Rng(seed, u)
        for k in range(m, 1, -1):  # Fisher-Yates as ns_rng_shuffle_u32
            j = rng.below(k)
            perm[k - 1], perm[j] = perm[j], perm[k - 1]
        ntrain = round(ratio * m)  # Python's round: half to even
        for k in range(m):
            (train if k < ntrain else test).add((u, items[perm[k]]))
    return train, test


def metrics(pred, truth, k):
    """pred: user -> ranked items; truth: user -> set. MS Recommenders' definitions."""
    users = [u for u in truth if u in pred and truth[u] and pred[u]]
    P = R = N = MAP = MAPK = 0.0
    for u in users:
        t = truth[u]
        top = pred[u][:k]
        hits = 0
        dcg = rr = 0.0
        for r, it in enumerate(top, 1):
            if it in t:
                hits += 1
                dcg += 1.0 / math.log(1 + r)
                rr += hits / r
        idcg = sum(1.0 / math.log(1 + r) for r in range(1, min(len(t), k) + 1))
        P += hits / k
        R += hits / len(t)
        N += dcg / idcg
        MAP += rr / len(t)
        MAPK += rr / min(len(t), k)
    n = len(users)
    if not n:
        return [0.0] * 5, 0
    return [P / n, R / n, N / n, MAP / n, MAPK / n], n


def read_tsv(path, cols):
    out = []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            out.append(tuple(c(x) for c, x in zip(cols, p)))
    return out


def peers(train, test, k):
    import numpy as np

    users = sorted({u for u, _ in train} | {u for u, _ in test})
    items = sorted({i for _, i in train} | {i for _, i in test})
    ui = {u: n for n, u in enumerate(users)}
    ii = {i: n for n, i in enumerate(items)}
    X = np.zeros((len(users), len(items)), dtype=np.float64)
    for u, i in train:
        X[ui[u], ii[i]] = 1.0
    truth = {}
    for u, i in test:
        truth.setdefault(u, set()).add(i)

    def evaluate(S):
        S = np.where(X > 0, -np.inf, S)
        top = np.argsort(-S, axis=1, kind="stable")[:, :k]
        pred = {u: [items[j] for j in top[ui[u]]] for u in truth}
        return metrics(pred, truth, k)[0]

    out = []
    t0 = time.time()
    pop = X.sum(0)
    out.append(("popularity (numpy)", evaluate(np.tile(pop, (len(users), 1))), time.time() - t0))
    t0 = time.time()
    n = np.sqrt(X.sum(0)) + 1e-12
    C = (X.T @ X) / n[:, None] / n[None, :]
    np.fill_diagonal(C, 0)
    Ck = np.zeros_like(C)
    idx = np.argsort(-C, axis=1, kind="stable")[:, :100]
    rows = np.arange(C.shape[0])[:, None]
    Ck[rows, idx] = C[rows, idx]
    out.append(("item-kNN cosine 100 (numpy)", evaluate(X @ Ck), time.time() - t0))
    t0 = time.time()
    G = X.T @ X + 300.0 * np.eye(len(items))
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0)
    out.append(("EASE lambda 300 (numpy)", evaluate(X @ B), time.time() - t0))
    return out


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description="reference split and metrics for northstar eval movielens")
    ap.add_argument("data")
    ap.add_argument("dump")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--ratio", type=float, default=0.75)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--peers", action="store_true")
    a = ap.parse_args(argv[1:])
    opts = dict(seed=a.seed, ratio=a.ratio, k=a.k)
    args = [a.data, a.dump]
    data, dump = args
    k = opts["k"]
    ok = True

    rows = read_tsv(f"{data}/u.data", (int, int, int, int))
    train, test = stratified_split(rows, opts["ratio"], opts["seed"])
    dtrain = {(int(u), int(i)) for u, i, *_ in read_tsv(f"{dump}/train.tsv", (str, str))}
    dtest = {(int(u), int(i)) for u, i, *_ in read_tsv(f"{dump}/test.tsv", (str, str))}
    same = dtrain == train and dtest == test
    print(f"split: reference {len(train)} train / {len(test)} test, northstar {len(dtrain)} / {len(dtest)}: "
          f"{'identical' if same else 'DIFFERENT'}")
    ok &= same

    truth = {}
    for u, i in dtest:
        truth.setdefault(u, set()).add(i)
    names = ["P@k", "R@k", "nDCG@k", "MAP", "MAP@k"]
    print(f"{'configuration':24s} " + " ".join(f"{n:>8s}" for n in names) + "   max rel. diff vs northstar")
    for name, kk, users, *ours in read_tsv(f"{dump}/metrics.tsv", (str, int, int, float, float, float, float, float)):
        pred = {}
        for u, i, r in read_tsv(f"{dump}/{name}.tsv", (int, int, int)):
            pred.setdefault(u, []).append((r, i))
        pred = {u: [i for _, i in sorted(v)] for u, v in pred.items()}
        ref, n = metrics(pred, truth, kk)
        diff = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(ref, ours)) if n else 0.0
        good = n == users and diff <= 1e-9
        ok &= good
        print(f"{name:24s} " + " ".join(f"{v:8.4f}" for v in ref) + f"   {diff:.1e} {'ok' if good else 'MISMATCH'}")

    if a.peers:
        print("\npeers on the same split (numpy, seen items removed):")
        for name, m, secs in peers(train, test, k):
            print(f"{name:28s} " + " ".join(f"{v:8.4f}" for v in m) + f"   {secs:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
