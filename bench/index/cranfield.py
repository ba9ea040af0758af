#!/usr/bin/python3
"""cranfield.py — Cranfield data, the Xapian BM25 peer and the evaluation.

  cranfield.py prepare DATA_DIR OUT_DIR
      cran.all.1400 -> OUT/docs.jsonl ({"id","title","body"}); cran.qry ->
      OUT/queries.tsv ("QID<TAB>text"), QID = position 1..225 in the file
      (cran.qry numbers them 001..365 with gaps; cranqrel numbers them 1..225
      in order); cranqrel -> OUT/qrels.tsv ("QID DOC REL").
  cranfield.py xapian OUT_DIR K1 B REPEAT
      Xapian BM25 (python3-xapian): English stemmer, title + body indexed with
      TermGenerator into an on-disk database; timed indexing (REPEAT fresh
      builds, median) and query throughput at depth 10 (REPEAT passes over
      the 225 queries), then a depth-100 run written to OUT/run.xapian.
      Prints "index_seconds <s>" and "query_qps_10 <q/s>".
  cranfield.py eval QRELS RUN...
      nDCG@10 (gain 5 - rel for rel 1..4, the Cleverdon scale where 1 is a
      complete answer; rel -1 is no gain), MAP and Recall@100 (relevant =
      rel 1..4), averaged over the 225 queries.
"""
import json, math, os, re, shutil, statistics, sys, time


def smart(path):
    recs, cur, field = [], None, None
    for line in open(path, encoding="latin-1"):
        line = line.rstrip("\r\n")
        m = re.match(r"^\.([ITABW])(?:\s+(\d+))?\s*$", line)
        if m:
            if m.group(1) == "I":
                cur = {"I": int(m.group(2)), "T": "", "A": "", "B": "", "W": ""}
                recs.append(cur)
                field = None
            else:
                field = m.group(1)
            continue
        if cur is not None and field:
            cur[field] += (" " if cur[field] else "") + line.strip()
    return recs


def prepare(data, out):
    os.makedirs(out, exist_ok=True)
    docs = smart(os.path.join(data, "cran.all.1400"))
    with open(os.path.join(out, "docs.jsonl"), "w") as f:
        for d in docs:
            f.write(json.dumps({"id": d["I"], "title": d["T"], "body": d["W"]}) + "\n")
    qs = smart(os.path.join(data, "cran.qry"))
    with open(os.path.join(out, "queries.tsv"), "w") as f:
        for i, q in enumerate(qs, 1):
            f.write(f"{i}\t{q['W']}\n")
    with open(os.path.join(out, "qrels.tsv"), "w") as f:
        for line in open(os.path.join(data, "cranqrel")):
            p = line.split()
            if len(p) >= 3:
                f.write(f"{int(p[0])} {int(p[1])} {int(p[2])}\n")
    print(f"{len(docs)} documents, {len(qs)} queries", file=sys.stderr)


def xapian_run(out, k1, b, repeat):
    import xapian
    docs = [json.loads(l) for l in open(os.path.join(out, "docs.jsonl"))]
    queries = [l.rstrip("\n").split("\t", 1) for l in open(os.path.join(out, "queries.tsv"))]
    times = []
    dbdir = os.path.join(out, "xapian.db")
    for _ in range(repeat):
        shutil.rmtree(dbdir, ignore_errors=True)
        t0 = time.perf_counter()
        db = xapian.WritableDatabase(dbdir, xapian.DB_CREATE_OR_OVERWRITE)
        tg = xapian.TermGenerator()
        tg.set_stemmer(xapian.Stem("english"))
        for d in docs:
            doc = xapian.Document()
            tg.set_document(doc)
            tg.index_text(d["title"])
            tg.increase_termpos()
            tg.index_text(d["body"])
            db.replace_document(d["id"], doc)
        db.commit()
        db.close()
        times.append(time.perf_counter() - t0)
    db = xapian.Database(dbdir)
    enq = xapian.Enquire(db)
    enq.set_weighting_scheme(xapian.BM25Weight(k1, 0, 1, b, 0.5))
    qp = xapian.QueryParser()
    qp.set_stemmer(xapian.Stem("english"))
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_database(db)
    qp.set_default_op(xapian.Query.OP_OR)

    def run(k):
        res = []
        for qid, text in queries:
            enq.set_query(qp.parse_query(text))
            res.append((qid, [(m.docid, m.weight) for m in enq.get_mset(0, k)]))
        return res

    run(10)  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        run(10)
    qps = repeat * len(queries) / (time.perf_counter() - t0)
    with open(os.path.join(out, "run.xapian"), "w") as f:
        for qid, hits in run(100):
            for r, (d, s) in enumerate(hits, 1):
                f.write(f"{qid} Q0 {d} {r} {s:.6f} xapian\n")
    print(f"index_seconds\t{statistics.median(times):.4f}")
    print(f"query_qps_10\t{qps:.0f}")


def evaluate(qrels_path, runs):
    qrels = {}
    for line in open(qrels_path):
        q, d, r = line.split()
        qrels.setdefault(q, {})[d] = int(r)
    out = {}
    for path in runs:
        run = {}
        for line in open(path):
            p = line.split()
            run.setdefault(p[0], []).append(p[2])
        nd, ap, r100 = [], [], []
        for q, judged in qrels.items():
            gains = {d: 5 - r for d, r in judged.items() if 1 <= r <= 4}
            ranked = run.get(q, [])
            dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
            ideal = sorted(gains.values(), reverse=True)[:10]
            idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
            nd.append(dcg / idcg if idcg else 0)
            rel = set(gains)
            hits, s = 0, 0.0
            for i, d in enumerate(ranked[:100]):
                if d in rel:
                    hits += 1
                    s += hits / (i + 1)
            ap.append(s / len(rel) if rel else 0)
            r100.append(len(rel & set(ranked[:100])) / len(rel) if rel else 0)
        n = len(qrels)
        out[path] = (sum(nd) / n, sum(ap) / n, sum(r100) / n)
        print(f"{os.path.basename(path)}\tndcg@10 {out[path][0]:.4f}\tmap {out[path][1]:.4f}\trecall@100 {out[path][2]:.4f}")
    return out


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif cmd == "xapian":
        xapian_run(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "eval":
        evaluate(sys.argv[2], sys.argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
