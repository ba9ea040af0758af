#!/usr/bin/python3
"""summarize_hnsw.py DIR N... — tables with ratios from the bench_hnsw/peer outputs.

Reads DIR/<engine>-<N>.tsv (engine = northstar, hnswlib, faiss) as printed by
bench_hnsw run / peer_*.py, and prints for each N: build time, memory, the
recall/QPS sweep, and the comparison at recall@10 >= 0.95 (QPS at the
smallest ef of the common ef grid reaching 0.95, and QPS interpolated at
recall exactly 0.95 on a log scale), as ratios northstar / peer.
"""
import math, os, sys

def load(path):
    b, s = None, []
    if not os.path.exists(path):
        return None
    for line in open(path):
        f = line.split()
        if f and f[0] == "build":
            b = (float(f[1]), float(f[2]), float(f[3]), float(f[4]) if len(f) > 4 else float("nan"))
        elif f and f[0] == "search":
            s.append((int(f[1]), float(f[2]), float(f[3]), float(f[4]) if len(f) > 4 else float("nan")))
    return (b, s) if b else None

def at95(s, col=2):
    s = [(x[0], x[1], x[col]) for x in s]
    first = next(((ef, r, q) for ef, r, q in s if r >= 0.95), None)
    interp = None
    for (e0, r0, q0), (e1, r1, q1) in zip(s, s[1:]):
        if r0 < 0.95 <= r1:
            t = (0.95 - r0) / (r1 - r0)
            interp = math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    if interp is None and s and s[0][1] >= 0.95:
        interp = s[0][2]
    return first, interp

d = sys.argv[1]
for n in sys.argv[2:]:
    res = {e: load(f"{d}/{e}-{n}.tsv") for e in ("northstar", "hnswlib", "faiss")}
    res = {e: v for e, v in res.items() if v}
    if "northstar" not in res:
        continue
    print(f"\n### {int(n):,} x 128-d Gaussian mixture, M 16, ef_construction 200\n")
    print("| engine | build s, wall (2 threads) | build CPU s | peak RSS MiB | index MiB |")
    print("|---|---|---|---|---|")
    for e, (b, _) in res.items():
        print(f"| {e} | {b[0]:.1f} | {b[3]:.1f} | {b[1]:.0f} | {b[2]:.0f} |")
    efs = [x[0] for x in res["northstar"][1]]
    print("\n| ef | " + " | ".join(f"{e} recall@10 / QPS / QPS per CPU-s" for e in res) + " |")
    print("|---|" + "---|" * len(res))
    for ef in efs:
        cells = []
        for e, (_, s) in res.items():
            m = [x for x in s if x[0] == ef]
            cells.append(f"{m[0][1]:.4f} / {m[0][2]:,.0f} / {m[0][3]:,.0f}" if m else "-")
        print(f"| {ef} | " + " | ".join(cells) + " |")
    ours_b, ours_c = res["northstar"][0][0], res["northstar"][0][3]
    of, oi = at95(res["northstar"][1])
    ocf, oci = at95(res["northstar"][1], 3)
    print("\nAt recall@10 >= 0.95 (single-thread QPS):")
    for e, (b, s) in res.items():
        f, i = at95(s)
        fs = f"ef {f[0]}: recall {f[1]:.4f}, {f[2]:,.0f} QPS" if f else "never reaches 0.95"
        print(f"  {e:9s} {fs}; interpolated at 0.95: {i:,.0f} QPS" if i else f"  {e:9s} {fs}")
    for e in ("hnswlib", "faiss"):
        if e not in res:
            continue
        f, i = at95(res[e][1])
        cf, ci = at95(res[e][1], 3)
        r1 = f"{of[2] / f[2]:.2f}x" if of and f else "n/a"
        r2 = f"{oi / i:.2f}x" if oi and i else "n/a"
        r3 = f"{oci / ci:.2f}x" if oci and ci else "n/a"
        print(f"  northstar / {e}: QPS {r1} (first ef >= 0.95), {r2} (interpolated at 0.95), "
              f"{r3} (per CPU-second, interpolated); build time {ours_b / res[e][0][0]:.2f}x wall, "
              f"{ours_c / res[e][0][3]:.2f}x CPU (below 1 = northstar faster)")
