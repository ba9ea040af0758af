#!/usr/bin/python3
"""Tables (markdown) from the JSON lines bench/run_rank.sh collects: medians
over rounds, ratios northstar / PyTorch twin at equal thread counts."""
import json
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    runs = {}
    for r in rows:
        if r.get("system") in ("northstar", "pytorch") and "examples_per_s" in r and r.get("epochs", 0) >= 10:
            runs.setdefault((r["model"], r["system"], r["threads_req"]), []).append(r)

    def agg(key):
        rs = runs.get(key, [])
        if not rs:
            return None
        return {"n": len(rs), "eps": med([r["examples_per_s"] for r in rs]),
                "eps_all": [round(r["examples_per_s"]) for r in rs],
                "auc": med([r["test"]["auc"] for r in rs]), "ll": med([r["test"]["logloss"] for r in rs]),
                "acc": med([r["test"]["accuracy"] for r in rs]), "secs": med([r["train_seconds"] for r in rs])}

    print("\n### UCI Adult: train adult.data (32,561 rows), test adult.test (16,281 rows); batch 256, 10 epochs\n")
    print("| model | system | threads | runs | test AUC | logloss | accuracy | train s | examples/s (median) | all runs | ours / twin |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for model in ("wide_deep", "wide", "deep"):
        for th in (2, 1):
            o, t = agg((model, "northstar", th)), agg((model, "pytorch", th))
            for name, a in (("northstar", o), ("PyTorch twin", t)):
                if not a:
                    continue
                ratio = ""
                if name == "northstar" and t:
                    ratio = "**%.1fx**" % (a["eps"] / t["eps"])
                print("| %s | %s | %d | %d | %.4f | %.4f | %.4f | %.2f | %.0f | %s | %s |" % (
                    model, name, th, a["n"], a["auc"], a["ll"], a["acc"], a["secs"], a["eps"],
                    " ".join(str(x) for x in a["eps_all"]), ratio))
    best_o = max((agg(("wide_deep", "northstar", th)) or {"eps": 0})["eps"] for th in (1, 2))
    best_t = max((agg(("wide_deep", "pytorch", th)) or {"eps": 0})["eps"] for th in (1, 2))
    if best_o and best_t:
        print("\nWide & Deep, best thread count each side: northstar %.0f ex/s, PyTorch twin %.0f ex/s: %.1fx"
              % (best_o, best_t, best_o / best_t))
    peers = [r for r in rows if r.get("system") == "peer"]
    if peers:
        print("\n| reference peer | test AUC | logloss | accuracy | train s |")
        print("|---|---|---|---|---|")
        for r in peers:
            print("| %s | %.4f | %.4f | %.4f | %.2f |" % (r["peer"], r["test"]["auc"], r["test"]["logloss"],
                                                     r["test"]["accuracy"], r["train_seconds"]))
    serve = [r for r in rows if r.get("bench") == "rank-serve"]
    tws = [r["serve"] for r in rows if "serve" in r]
    if serve:
        s = serve[0]
        print("\n### Serving: %d candidates per request, one thread (%d requests)\n" % (s["candidates"], s["reps"]))
        print("| system | what is timed | median ms | p90 ms | p99 ms |")
        print("|---|---|---|---|---|")
        print("| northstar | encode raw values with the fitted spec + model | %.3f | %.3f | %.3f |" % (
            s["ms_median"], s["ms_p90"], s["ms_p99"]))
        print("| northstar | model only (rows already encoded) | %.3f | | %.3f |" % (
            s["model_only_ms_median"], s["model_only_ms_p99"]))
        for t in tws:
            print("| PyTorch twin | model only (rows already encoded) | %.3f | | %.3f |" % (
                t["model_only_ms_median"], t["model_only_ms_p99"]))
    other = [r for r in rows if str(r.get("system", "")).startswith("northstar-")]
    if other:
        print("\n### Criteo / Avazu samples (sanity; metrics on the training rows themselves)\n")
        print("| run | rows | AUC | logloss | accuracy |")
        print("|---|---|---|---|---|")
        for r in other:
            m = r.get("test") or r.get("eval")
            print("| %s | %d | %.4f | %.4f | %.4f |" % (r["system"], m["n"], m["auc"], m["logloss"], m["accuracy"]))


if __name__ == "__main__":
    main()
