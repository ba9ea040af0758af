#!/usr/bin/python3
"""text_bench.py — word2vec throughput and quality, northstar vs fastText vs
gensim on the same tokenized corpus in the same session (issue 3).

  text_bench.py BUILD_DIR DATA_DIR OUT_DIR [--rounds 3] [--quick]

Throughput is the same numerator for every tool — corpus tokens x epochs —
over each tool's training time: northstar's own training-loop timer,
gensim's train() call (vocabulary built before, not counted), and for
fastText (a single command) the whole process, plus the words/sec/thread
fastText itself prints. End-to-end wall time (read, vocabulary, train,
write) is reported for all. Runs of different tools alternate within each
round. Every vector file is scored by the same code (`northstar word2vec
eval`): WordSim-353 and SimLex-999 Spearman, questions-words top-1 over the
30k most frequent words.
"""
import argparse, json, os, re, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
SET = dict(dim=100, window=5, negative=5, min_count=5, sample=1e-3, epochs=5, threads=2)


def run(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(" ".join(cmd) + "\n" + p.stdout + p.stderr)
        raise SystemExit(f"failed: {cmd[0]}")
    return p, wall


def ours(build, corpus, out, sg=True, alpha=None, classic=False):
    cmd = [f"{build}/northstar", "word2vec", "train", "-j", str(SET["threads"]), "-o", out,
           "--dim", str(SET["dim"]), "--window", str(SET["window"]), "--negative", str(SET["negative"]),
           "--min-count", str(SET["min_count"]), "--sample", str(SET["sample"]), "--epochs", str(SET["epochs"])]
    if not sg:
        cmd.append("--cbow")
    if alpha:
        cmd += ["--alpha", str(alpha)]
    if classic:
        cmd.append("--classic")
    env = dict(os.environ, NS_PROGRESS="0", OMP_WAIT_POLICY="passive")
    p, wall = run(cmd + [corpus], env)
    m = re.search(r"train ([0-9.]+)s", p.stderr)
    a = alpha or 0.05
    return dict(tool="northstar", train_s=float(m.group(1)), total_s=wall, alpha=a)


def fasttext(corpus, prefix, sg=True, lr=None):
    cmd = ["fasttext", "skipgram" if sg else "cbow", "-input", corpus, "-output", prefix,
           "-dim", str(SET["dim"]), "-ws", str(SET["window"]), "-neg", str(SET["negative"]),
           "-minCount", str(SET["min_count"]), "-t", str(SET["sample"]), "-epoch", str(SET["epochs"]),
           "-thread", str(SET["threads"]), "-minn", "0", "-maxn", "0", "-verbose", "2"]
    if lr:
        cmd += ["-lr", str(lr)]
    p, wall = run(cmd)
    rates = re.findall(r"words/sec/thread:\s*([0-9]+)", p.stderr + p.stdout)
    return dict(tool="fastText", train_s=wall, total_s=wall, alpha=lr or 0.05,
                self_rate=int(rates[-1]) * SET["threads"] if rates else None)


def gensim(corpus, out, sg=True, alpha=0.025, mode="file"):
    cmd = ["/usr/bin/python3", f"{HERE}/peer_gensim.py", "text", corpus, out, "--sg", str(int(sg)),
           "--alpha", str(alpha), "--mode", mode, "--dim", str(SET["dim"]), "--window", str(SET["window"]),
           "--negative", str(SET["negative"]), "--min-count", str(SET["min_count"]),
           "--sample", str(SET["sample"]), "--epochs", str(SET["epochs"]), "--threads", str(SET["threads"])]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    p, wall = run(cmd, env)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return dict(tool=f"gensim ({mode})", train_s=r["train_s"], total_s=r["total_s"], alpha=alpha)


def evaluate(build, path):
    p, _ = run([f"{build}/northstar", "word2vec", "eval", "--json", path])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one round, skip CBOW and matched runs")
    a = ap.parse_args()
    corpus = f"{a.data}/text-corpus-tokenized/corpus.txt"
    if not os.path.exists(corpus):
        print(f"text: {corpus} missing, skipped")
        return 0
    tokens = sum(len(l.split()) for l in open(corpus, encoding="utf-8"))
    work = tokens * SET["epochs"]
    os.makedirs(a.out, exist_ok=True)
    rows = []

    def add(name, model, r, path):
        q = evaluate(a.build, path)
        r.update(name=name, model=model, wps=work / r["train_s"], ws=q["wordsim353"], sl=q["simlex999"],
                 an=q["analogy"], ws_found=q["wordsim353_found"], an_cov=q["analogy_covered"])
        rows.append(r)
        print(json.dumps(r), flush=True)

    rounds = 1 if a.quick else a.rounds
    for rd in range(rounds):
        jobs = [
            ("northstar sg", lambda p: ours(a.build, corpus, p)),
            ("fastText sg", lambda p: fasttext(corpus, p[:-4])),
            ("gensim sg (corpus_file)", lambda p: gensim(corpus, p, mode="file")),
            ("gensim sg (LineSentence)", lambda p: gensim(corpus, p, mode="lines")),
        ]
        if rd % 2:
            jobs.reverse()
        for name, fn in jobs:
            path = f"{a.out}/{name.split()[0]}-sg-{rd}.vec"
            add(name, "sg", fn(path), path)
    if not a.quick:
        extra = [
            ("northstar sg alpha=0.025", "sg", lambda p: ours(a.build, corpus, p, alpha=0.025)),
            ("northstar sg --classic", "sg", lambda p: ours(a.build, corpus, p, classic=True)),
            ("gensim sg (corpus_file) alpha=0.05", "sg", lambda p: gensim(corpus, p, alpha=0.05, mode="file")),
            ("fastText sg lr=0.025", "sg", lambda p: fasttext(corpus, p[:-4], lr=0.025)),
            ("northstar cbow", "cbow", lambda p: ours(a.build, corpus, p, sg=False)),
            ("fastText cbow", "cbow", lambda p: fasttext(corpus, p[:-4], sg=False)),
            ("gensim cbow (corpus_file)", "cbow", lambda p: gensim(corpus, p, sg=False, mode="file")),
            ("gensim cbow (corpus_file) alpha=0.05", "cbow", lambda p: gensim(corpus, p, sg=False, alpha=0.05, mode="file")),
        ]
        for i, (name, model, fn) in enumerate(extra):
            path = f"{a.out}/extra-{i}.vec"
            add(name, model, fn(path), path)

    # Table: medians over rounds for the default-settings runs.
    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    print(f"\nword2vec on {corpus}: {tokens} tokens x {SET['epochs']} epochs, dim {SET['dim']}, window "
          f"{SET['window']}, negative {SET['negative']}, min-count {SET['min_count']}, sample {SET['sample']}, "
          f"{SET['threads']} threads; {rounds} alternating round(s)")
    names = []
    for r in rows:
        if r["name"] not in names:
            names.append(r["name"])
    # Speed: each tool's best round; quality: the median over rounds.
    ours_sg = max([r["wps"] for r in rows if r["name"] == "northstar sg"])
    ours_cb = [r["wps"] for r in rows if r["name"] == "northstar cbow"]
    print(f"{'run':40} {'alpha':>6} {'train s':>8} {'words/s':>10} {'ours/this':>9} {'e2e s':>7} "
          f"{'WS353':>7} {'SimLex':>7} {'analogy':>8}")
    for n in names:
        rs = [r for r in rows if r["name"] == n]
        wps = max([r["wps"] for r in rs])
        ref = ours_sg if rs[0]["model"] == "sg" else (ours_cb[0] if ours_cb else float("nan"))
        print(f"{n:40} {rs[0]['alpha']:>6} {min([r['train_s'] for r in rs]):>8.2f} {wps:>10.0f} "
              f"{ref / wps:>8.2f}x {min([r['total_s'] for r in rs]):>7.2f} {med([r['ws'] for r in rs]):>7.4f} "
              f"{med([r['sl'] for r in rs]):>7.4f} {100 * med([r['an'] for r in rs]):>7.2f}%")
    ft = [r["self_rate"] for r in rows if r["name"] == "fastText sg" and r.get("self_rate")]
    if ft:
        print(f"(fastText's own words/sec/thread x threads, sg default, best round: {max(ft):.0f})")
    print("(speed columns: each run's best round; quality columns: median over rounds)")
    print(f"(WordSim-353 pairs found: {rows[0]['ws_found']}/353; analogy questions covered: {rows[0]['an_cov']}/19544)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
