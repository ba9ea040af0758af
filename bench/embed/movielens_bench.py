#!/usr/bin/python3
"""movielens_bench.py — item vectors on MovieLens-100K (issue 3).

  movielens_bench.py BUILD_DIR DATA_DIR OUT_DIR

Leave-last-out: each user's last rating (by timestamp) is held out; the rest
is the training log. Item vectors are learned two ways with northstar:
  deepwalk   `northstar deepwalk --format interactions --items-only` on the
             user-item graph (rating = edge weight),
  histories  `northstar word2vec train` on each user's time-ordered items
             (one sentence per user, item2vec-style).
Next-item hit-rate@10: the query is the mean of the unit vectors of the
user's last 3 training items; the 10 nearest items the user has not rated
are the recommendation; a hit when the held-out item is among them. The
most-popular-unseen list is the baseline. Also prints the nearest titles of
a few well-known films.
"""
import os, subprocess, sys, time

import numpy as np


def load_vecs(path):
    with open(path, encoding="utf-8") as f:
        n, d = map(int, f.readline().split())
        keys, rows = [], []
        for line in f:
            p = line.rstrip().split(" ")
            keys.append(int(p[0]))
            rows.append([float(x) for x in p[1:]])
    X = np.array(rows, dtype=np.float64)
    X /= np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return {k: i for i, k in enumerate(keys)}, np.array(keys), X


def hit_rate(index, keys, X, hist, held, k=10):
    hits = 0
    for u, items in hist.items():
        rows = [index[i] for i in items[-3:] if i in index]
        if not rows:
            continue
        q = X[rows].mean(0)
        s = X @ q
        seen = [index[i] for i in items if i in index]
        s[seen] = -np.inf
        top = keys[np.argpartition(-s, k)[:k]]
        hits += held[u] in set(top.tolist())
    return hits / len(hist)


def main():
    build, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
    ml = f"{data}/movielens-100k"
    if not os.path.exists(f"{ml}/u.data"):
        print("items: MovieLens-100K missing, skipped")
        return 0
    os.makedirs(out, exist_ok=True)
    ev = np.loadtxt(f"{ml}/u.data", dtype=np.int64)
    titles = {}
    for line in open(f"{ml}/u.item", encoding="latin-1"):
        f = line.split("|")
        titles[int(f[0])] = f[1]
    by_user = {}
    for u, i, r, t in ev:
        by_user.setdefault(int(u), []).append((int(t), int(i), int(r)))
    hist, held = {}, {}
    train_log = f"{out}/ml_train.tsv"
    with open(train_log, "w") as f, open(f"{out}/ml_histories.txt", "w") as h:
        for u, lst in by_user.items():
            lst.sort()
            held[u] = lst[-1][1]
            hist[u] = [i for _, i, _ in lst[:-1]]
            for t, i, r in lst[:-1]:
                f.write(f"{u}\t{i}\t{r}\t{t}\n")
            h.write(" ".join(str(i) for i in hist[u]) + "\n")
    env = dict(os.environ, NS_PROGRESS="0")
    runs = {
        "deepwalk (user-item graph)": [f"{build}/northstar", "deepwalk", "--format", "interactions",
                                       "--items-only", "-j", "2", "--dim", "64", "--window", "5",
                                       "--walks", "10", "--length", "40", "-o", f"{out}/ml_dw.vec", train_log],
        "word2vec (time-ordered histories)": [f"{build}/northstar", "word2vec", "train", "-j", "2", "--dim", "64",
                                              "--window", "10", "--min-count", "5", "--epochs", "20",
                                              "--sample", "1e-4",
                                              "-o", f"{out}/ml_hist.vec", f"{out}/ml_histories.txt"],
    }
    pop = {}
    for lst in hist.values():
        for i in lst:
            pop[i] = pop.get(i, 0) + 1
    by_pop = sorted(pop, key=lambda i: -pop[i])
    hits = 0
    for u, items in hist.items():
        s = set(items)
        top = [i for i in by_pop if i not in s][:10]
        hits += held[u] in top
    print(f"MovieLens-100K leave-last-out, {len(hist)} users, next-item hit-rate@10:")
    print(f"  {'most popular unseen (baseline)':36} {hits / len(hist):.4f}")
    vecs = {}
    for name, cmd in runs.items():
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode:
            sys.exit(p.stderr)
        wall = time.perf_counter() - t0
        index, keys, X = load_vecs(cmd[cmd.index("-o") + 1])
        vecs[name] = (index, keys, X)
        print(f"  {name:36} {hit_rate(index, keys, X, hist, held):.4f}   ({len(keys)} items, {wall:.2f}s)")
    for name, (index, keys, X) in vecs.items():
        print(f"\nnearest titles, {name}:")
        for film in (50, 1, 100, 127):
            if film not in index:
                continue
            s = X @ X[index[film]]
            s[index[film]] = -np.inf
            top = keys[np.argsort(-s)[:5]]
            print(f"  {titles[film]:28} -> " + "; ".join(titles[i] for i in top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
