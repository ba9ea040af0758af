#!/usr/bin/python3
"""peer_gensim.py — gensim Word2Vec as a timed peer (issue 3).

  peer_gensim.py text  CORPUS OUT.vec [--sg 1] [--alpha A] [--mode file|lines] ...
  peer_gensim.py walks EDGES OUT.vec [--walks 10] [--length 40] ...

text: trains on a tokenized corpus (one sentence per line). --mode file uses
gensim's corpus_file path (C reader, no GIL: gensim's fastest), --mode lines
streams LineSentence through Python (the common usage).
walks: DeepWalk as people run it with gensim: uniform random walks over an
undirected edge list (here vectorised with numpy, all walkers one step at a
time, so the walk phase is as fast as Python allows), then Word2Vec on them.
Prints one JSON line with the timings; vectors go to OUT.vec (word2vec text).
"""
import argparse, json, os, sys, time

import numpy as np
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence


def walks_numpy(edges_path, walks, length, seed):
    e = np.loadtxt(edges_path, dtype=np.int64, usecols=(0, 1), ndmin=2)
    src = np.concatenate([e[:, 0], e[:, 1]])
    dst = np.concatenate([e[:, 1], e[:, 0]])
    nodes, inv = np.unique(np.concatenate([src, dst]), return_inverse=True)
    s, d = inv[: len(src)], inv[len(src):]
    order = np.argsort(s, kind="stable")
    s, d = s[order], d[order]
    n = len(nodes)
    deg = np.bincount(s, minlength=n)
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=off[1:])
    rng = np.random.default_rng(seed)
    out = []
    names = nodes.astype(str)
    for _ in range(walks):
        cur = rng.permutation(n)
        path = np.empty((n, length), dtype=np.int64)
        path[:, 0] = cur
        for t in range(1, length):
            k = deg[cur]
            step = (rng.random(n) * np.maximum(k, 1)).astype(np.int64)
            nxt = d[np.minimum(off[cur] + step, len(d) - 1)]
            cur = np.where(k > 0, nxt, cur)
            path[:, t] = cur
        out.extend(names[path].tolist())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["text", "walks"])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--sg", type=int, default=1)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--alpha", type=float, default=0.025)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["file", "lines"], default="file")
    ap.add_argument("--walks", type=int, default=10)
    ap.add_argument("--length", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ns-exponent", type=float, default=0.75)
    ap.add_argument("--vectors", choices=["in", "sum"], default="in",
                    help="write wv (in) or wv + syn1neg (sum, 'w + c')")
    a = ap.parse_args()
    t0 = time.perf_counter()
    kw = dict(vector_size=a.dim, window=a.window, negative=a.negative, hs=0, sg=a.sg,
              min_count=a.min_count, sample=a.sample, alpha=a.alpha, workers=a.threads,
              seed=a.seed, ns_exponent=a.ns_exponent)
    res = {"peer": "gensim", "what": a.what, "sg": a.sg, "alpha": a.alpha, "mode": a.mode}
    if a.what == "walks":
        walks = walks_numpy(a.input, a.walks, a.length, a.seed)
        res["walk_s"] = time.perf_counter() - t0
        m = Word2Vec(**kw)
        t1 = time.perf_counter()
        m.build_vocab(walks)
        t2 = time.perf_counter()
        m.train(walks, total_examples=m.corpus_count, epochs=a.epochs)
        t3 = time.perf_counter()
        words = sum(len(w) for w in walks)
    else:
        m = Word2Vec(**kw)
        t1 = time.perf_counter()
        if a.mode == "file":
            m.build_vocab(corpus_file=a.input)
            t2 = time.perf_counter()
            m.train(corpus_file=a.input, total_examples=m.corpus_count,
                    total_words=m.corpus_total_words, epochs=a.epochs)
        else:
            sents = LineSentence(a.input)
            m.build_vocab(sents)
            t2 = time.perf_counter()
            m.train(sents, total_examples=m.corpus_count, epochs=a.epochs)
        t3 = time.perf_counter()
        words = m.corpus_total_words
    res.update(vocab=len(m.wv), words=int(words), epochs=a.epochs, vocab_s=t2 - t1,
               train_s=t3 - t2, total_s=t3 - t0)
    if a.vectors == "sum":
        m.wv.vectors += m.syn1neg  # rows share the wv index order
    m.wv.save_word2vec_format(a.output, binary=False)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
