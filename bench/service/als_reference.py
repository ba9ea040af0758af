#!/usr/bin/python3
"""als_reference.py — a numpy twin of northstar's implicit ALS (als.h, the "mf" channel).

    northstar eval movielens --data DATA --mf --no-ranker --work WORK --dump DUMP
    als_reference.py DUMP [--model WORK/bundle/mf.safetensors] [--dim 64 --alpha 4
                     --lambda 40 --iters 15 --init 0.1 --seed 1] [--dtype float32] [--repeat 1]

Written without any northstar code, from the equations of Hu, Koren & Volinsky
(ICDM 2008) and the initialisation documented in include/northstar/als.h:
reads DUMP/train.tsv (user, item, rating, ts; every rating a positive),
trains the same ALS (confidence 1 + alpha for positives, L2 lambda on both
sides, users then items each sweep, exact solves: numpy's batched LAPACK
solve, or with --backend torch sparse products and a batched Cholesky), recommends the top k unseen items to every user with test items
and computes nDCG@k and the other Microsoft Recommenders metrics
(ml_reference.metrics) on DUMP/test.tsv. It prints its figures beside
northstar's row "channel:mf" of DUMP/metrics.tsv and the training times.
With --model, the item and user factors of northstar's model are compared
with the twin's (max abs difference).

Exit status 1 if the nDCG@k of the two differs by more than 0.005.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ml_reference import metrics  # noqa: E402

M64 = (1 << 64) - 1


def hash64(x):
    """splitmix64's finaliser (northstar's ns_hash64) on uint64 arrays."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def init_items(ids, k, init, seed):
    with np.errstate(over="ignore"):
        s = hash64(np.array([seed], dtype=np.uint64))[0]
        h = np.array([fnv1a(i) for i in ids], dtype=np.uint64) ^ s
        mix = np.arange(1, k + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        v = hash64(h[:, None] ^ mix[None, :])
    u = (v >> np.uint64(40)).astype(np.float64) / 16777216.0
    return init * (2 * u - 1)


def solve_side(Q, indptr, indices, lam, alpha):
    """Every row r: (Q'Q + lam I + alpha Q_r'Q_r) x = (1 + alpha) sum Q_r."""
    n, k = len(indptr) - 1, Q.shape[1]
    G = Q.T @ Q + lam * np.eye(k, dtype=Q.dtype)
    A = np.repeat(G[None], n, axis=0)
    B = np.zeros((n, k), dtype=Q.dtype)
    for r in range(n):
        s, e = indptr[r], indptr[r + 1]
        if s == e:
            continue
        Qr = Q[indices[s:e]]
        A[r] += alpha * (Qr.T @ Qr)
        B[r] = Qr.sum(0)
    B *= 1 + alpha
    return np.linalg.solve(A, B[..., None])[..., 0]


def solve_side_torch(Q, R, lam, alpha):
    """The same solves in PyTorch, with no Python loop over rows: every row's
    sum of q q' at once as one sparse-dense product R (Q (x) Q), then a
    batched Cholesky."""
    import torch

    n, k = R.shape[0], Q.shape[1]
    G = Q.T @ Q + lam * torch.eye(k, dtype=Q.dtype)
    QQ = (Q[:, :, None] * Q[:, None, :]).reshape(Q.shape[0], k * k)
    A = torch.sparse.mm(R, QQ).reshape(n, k, k) * alpha + G
    B = torch.sparse.mm(R, Q) * (1 + alpha)
    L = torch.linalg.cholesky(A)
    return torch.cholesky_solve(B[..., None], L)[..., 0]


def train_torch(ru, ri, nu, items, a, dtype):
    import torch

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    td = torch.float32 if dtype == np.float32 else torch.float64
    Y = torch.from_numpy(init_items(items, a.dim, a.init, a.seed)).to(td)
    ix = torch.from_numpy(np.stack([ru, ri]))
    one = torch.ones(len(ru), dtype=td)
    Ru = torch.sparse_coo_tensor(ix, one, (nu, len(items))).coalesce().to_sparse_csr()
    Ri = torch.sparse_coo_tensor(ix.flip(0), one, (len(items), nu)).coalesce().to_sparse_csr()
    X = torch.zeros((nu, a.dim), dtype=td)
    for _ in range(a.iters):
        X = solve_side_torch(Y, Ru, a.lam, a.alpha)
        Y = solve_side_torch(X, Ri, a.lam, a.alpha)
    return X.numpy(), Y.numpy(), time.perf_counter() - t0


def csr(rows, cols, nrows):
    order = np.lexsort((cols, rows))
    indptr = np.zeros(nrows + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr), cols[order]


def train(ru, ri, nu, items, a, dtype):
    t0 = time.perf_counter()
    Y = init_items(items, a.dim, a.init, a.seed).astype(dtype)
    up, ui = csr(ru, ri, nu)
    ip, iu = csr(ri, ru, len(items))
    X = np.zeros((nu, a.dim), dtype=dtype)
    for _ in range(a.iters):
        X = solve_side(Y, up, ui, a.lam, a.alpha)
        Y = solve_side(X, ip, iu, a.lam, a.alpha)
    return X, Y, time.perf_counter() - t0


def read_st(path):
    """The tensors of a safetensors file (F32 and U8 only: what als.h writes)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        buf = f.read()
    out = {}
    for name, t in hdr.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        dt = {"F32": np.float32, "U8": np.uint8}[t["dtype"]]
        out[name] = np.frombuffer(buf[b:e], dtype=dt).reshape(t["shape"])
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump")
    ap.add_argument("--model")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--alpha", type=float, default=4.0)
    ap.add_argument("--lambda", dest="lam", type=float, default=40.0)
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--init", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--repeat", type=int, default=1, help="train this many times, report each time")
    ap.add_argument("--backend", choices=["numpy", "torch"], default="numpy",
                    help="numpy: a loop over rows for the sums, batched LAPACK solves; torch: sparse products and "
                    "batched Cholesky, no Python loop")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (numpy: set OMP_NUM_THREADS; Debian's OpenBLAS is the OpenMP build)")
    a = ap.parse_args(argv)
    dtype = np.float32 if a.dtype == "float32" else np.float64

    def rows(name):
        with open(os.path.join(a.dump, name)) as f:
            return [line.rstrip("\n").split("\t")[:2] for line in f if line.strip()]

    train_rows, test_rows = rows("train.tsv"), rows("test.tsv")
    users = sorted({u for u, _ in train_rows} | {u for u, _ in test_rows})
    items = sorted({i for _, i in train_rows} | {i for _, i in test_rows})
    uix = {u: n for n, u in enumerate(users)}
    iix = {i: n for n, i in enumerate(items)}
    pairs = sorted({(uix[u], iix[i]) for u, i in train_rows})
    ru = np.array([p[0] for p in pairs], dtype=np.int64)
    ri = np.array([p[1] for p in pairs], dtype=np.int64)
    times = []
    for _ in range(a.repeat):
        X, Y, secs = (train_torch if a.backend == "torch" else train)(ru, ri, len(users), items, a, dtype)
        times.append(secs)
        print(f"{a.backend} ALS k {a.dim} alpha {a.alpha:g} lambda {a.lam:g} {a.iters} sweeps ({a.dtype}): {secs:.3f} s",
              flush=True)
    S = (X.astype(np.float64) @ Y.astype(np.float64).T)
    S[ru, ri] = -np.inf
    top = np.argsort(-S, axis=1, kind="stable")[:, : a.k]
    truth = {}
    for u, i in test_rows:
        truth.setdefault(u, set()).add(i)
    pred = {u: [items[j] for j in top[uix[u]]] for u in truth}
    (P, R, N, MAP, MAPK), n = metrics(pred, truth, a.k)
    print(f"twin   P@{a.k} {P:.4f} R@{a.k} {R:.4f} nDCG@{a.k} {N:.4f} MAP {MAP:.4f} MAP@k {MAPK:.4f} users {n}")
    ours = None
    mpath = os.path.join(a.dump, "metrics.tsv")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if p[0] == "channel:mf":
                    ours = [float(x) for x in p[3:8]]
    if a.model:
        st = read_st(a.model)
        ids = lambda t: bytes(t).decode().split("\0")[:-1]
        cu = {u: n for n, u in enumerate(ids(st["user_ids"]))}
        ci = {i: n for n, i in enumerate(ids(st["item_ids"]))}
        cy = st["item_factors"][[ci[i] for i in items]]
        cx = st["user_factors"][[cu[u] for u in users]]
        print(f"factors: max |northstar - twin| items {np.abs(cy - Y).max():.3g} (max |y| {np.abs(Y).max():.3g}), "
              f"users {np.abs(cx - X).max():.3g} (max |x| {np.abs(X).max():.3g})")
    if ours is None:
        print("no channel:mf row in metrics.tsv (run the eval with --mf --dump)")
        return 0
    d = abs(ours[2] - N)
    print(f"northstar P@{a.k} {ours[0]:.4f} R@{a.k} {ours[1]:.4f} nDCG@{a.k} {ours[2]:.4f} MAP {ours[3]:.4f} "
          f"MAP@k {ours[4]:.4f}; |nDCG difference| {d:.5f} ({'within' if d <= 0.005 else 'BEYOND'} 0.005)")
    return 0 if d <= 0.005 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
