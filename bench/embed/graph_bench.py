#!/usr/bin/python3
"""graph_bench.py — DeepWalk / node2vec on BlogCatalog, northstar vs gensim
(issue 3), runs alternating, then node classification for each vector file.

  graph_bench.py BUILD_DIR DATA_DIR OUT_DIR [--rounds 2] [--p P --q Q] [--quick]

Settings of the comparison (the issue's gensim DeepWalk): 10 walks of 40
nodes per node, window 10, dim 128, 5 epochs, negative 5, 2 threads; each
tool with its own defaults otherwise (northstar deepwalk: negatives by
degree^0.5 and input + output vectors written; gensim: 0.75 and input
vectors). Round 0 also runs each tool with the other's trainer choices, once.
End to end = reading the graph + walks + training + writing the vectors,
wall time of the whole command (northstar) or script (gensim peer: numpy
walks, then gensim Word2Vec; interpreter start-up and imports excluded).
"""
import argparse, json, os, re, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(" ".join(cmd) + "\n" + p.stdout + p.stderr)
    return p, wall


def ours(build, edges, out, p=1.0, q=1.0, length=40, negative=5, extra=()):
    cmd = [f"{build}/northstar", "deepwalk", "-j", "2", "-o", out, "--walks", "10", "--length", str(length),
           "--window", "10", "--dim", "128", "--epochs", "5", "--p", str(p), "--q", str(q),
           "--negative", str(negative), *extra, edges]
    pr, wall = run(cmd, dict(os.environ, NS_PROGRESS="0", OMP_WAIT_POLICY="passive"))
    walk = float(re.search(r"walks ([0-9.]+)s", pr.stderr).group(1))
    train = float(re.search(r"train ([0-9.]+)s", pr.stderr).group(1))
    return dict(tool="northstar", walk_s=walk, train_s=train, total_s=wall)


def gensim(edges, out, extra=()):
    cmd = ["/usr/bin/python3", f"{HERE}/peer_gensim.py", "walks", edges, out, "--dim", "128", "--window", "10",
           "--walks", "10", "--length", "40", "--epochs", "5", "--min-count", "1", "--threads", "2", *extra]
    pr, wall = run(cmd, dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    r = json.loads(pr.stdout.strip().splitlines()[-1])
    return dict(tool="gensim", walk_s=r["walk_s"], train_s=r["train_s"], total_s=r["total_s"])


def classify(vec, labels, quick):
    cmd = ["/usr/bin/python3", f"{HERE}/blogcatalog_eval.py", vec, labels, "--json"]
    if quick:
        cmd += ["--fractions", "0.5", "--splits", "2"]
    pr, _ = run(cmd)
    return json.loads(pr.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--p", type=float, default=1.0)
    ap.add_argument("--q", type=float, default=0.25)
    ap.add_argument("--length", type=int, default=80, help="node2vec walk length (the paper's 80)")
    ap.add_argument("--negative", type=int, default=10, help="node2vec negative samples")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-variants", dest="variants", action="store_false",
                    help="skip the two trainer-choice rows (run once, in round 0)")
    a = ap.parse_args()
    edges = f"{a.data}/blogcatalog/blogcatalog.edges.txt"
    labels = f"{a.data}/blogcatalog/blogcatalog.labels.txt"
    if not os.path.exists(edges):
        print("graph: BlogCatalog missing, skipped")
        return 0
    os.makedirs(a.out, exist_ok=True)
    rows = []
    rounds = 1 if a.quick else a.rounds
    for rd in range(rounds):
        jobs = [("northstar DeepWalk", lambda o: ours(a.build, edges, o)),
                ("gensim DeepWalk", lambda o: gensim(edges, o)),
                (f"northstar node2vec p={a.p:g} q={a.q:g} l={a.length} neg={a.negative}",
                 lambda o: ours(a.build, edges, o, a.p, a.q, a.length, a.negative))]
        if rd % 2:
            jobs.reverse()
        elif a.variants and rd == 0:
            # Trainer choices, once (quality): northstar with word2vec.c's (negatives by
            # degree^0.75, input vectors), gensim with northstar's deepwalk defaults.
            jobs += [("northstar DeepWalk w2v-choices",
                      lambda o: ours(a.build, edges, o, extra=("--ns-exponent", "0.75", "--vectors", "in"))),
                     ("gensim DeepWalk ns0.5+w+c",
                      lambda o: gensim(edges, o, extra=("--ns-exponent", "0.5", "--vectors", "sum")))]
        for name, fn in jobs:
            path = f"{a.out}/bc-{re.sub('[^A-Za-z0-9.]+', '-', name)}-{rd}.vec"
            r = fn(path)
            r.update(name=name, path=path, round=rd)
            print(json.dumps(r), flush=True)
            rows.append(r)
    names = []
    for r in rows:
        if r["name"] not in names:
            names.append(r["name"])
    print("\nBlogCatalog (10,312 nodes, 333,983 edges): 10 walks x 40 per node (node2vec: x l), window 10, "
          f"dim 128, 5 epochs, 2 threads; {rounds} alternating round(s); times are the best of the rounds; F1 at 10/50/90% "
          "labelled, mean of 5 splits")
    hdr = f"{'run':34} {'walks s':>8} {'train s':>8} {'e2e s':>7} {'gensim/this':>11}"
    fr = ["0.1", "0.5", "0.9"] if not a.quick else ["0.5"]
    for f in fr:
        hdr += f" {'Mi/Ma@' + f:>15}"
    print(hdr)
    for n in names:
        rs = sorted((r for r in rows if r["name"] == n), key=lambda r: r["total_s"])
        med = rs[(len(rs) - 1) // 2]
        q = classify(rs[0]["path"], labels, a.quick)
        gm = sorted(r["total_s"] for r in rows if r["name"] == "gensim DeepWalk")
        gmed = gm[(len(gm) - 1) // 2]
        line = f"{n:34} {med['walk_s']:>8.2f} {med['train_s']:>8.2f} {med['total_s']:>7.2f} {gmed / med['total_s']:>10.2f}x"
        for f in fr:
            line += f"   {q['micro@' + f]:.3f}/{q['macro@' + f]:.3f}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
