#!/usr/bin/python3
"""PyTorch twin of northstar's Wide & Deep ranker (bench only).

Reads the features `northstar rank featurize` wrote (safetensors: the SAME
encoded rows the C trainer sees) and trains the same model the same way:
  wide  = sum_i w[id_i] * v_i over the wide indexes (index 0 is the bias),
          FTRL-proximal (McMahan et al. 2013) per coordinate, on the batch-mean
          gradient, with the same alpha, beta, l1, l2
  deep  = mean-bag embeddings per field ++ dense inputs -> Linear/ReLU ... -> 1,
          Adam (torch.optim.Adam, lr, betas 0.9/0.999, eps 1e-8), nn.Linear's
          default init, embeddings N(0, emb_std)
  loss  = BCEWithLogits(weight = row weight), mean over the batch
  batch size, epochs, per-epoch shuffling: as given.
Only the training loop is timed (no feature loading, no evaluation), as on
the C side. Prints one JSON line.

usage: wd_torch.py FEATURES.safetensors [--model wide|deep|wide_deep]
         [--epochs 10] [--batch 256] [--lr 1e-3] [--hidden 100,50]
         [--alpha 1] [--beta 1] [--l1 0.1] [--l2 0.5] [--emb-std 0.05]
         [--threads 2] [--seed 1]
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    dt = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "F64": np.float64}
    out = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype=dt[t["dtype"]]).reshape(t["shape"])
    return out, meta


class Split:
    """One split's rows as tensors; fixed-width fast paths when every row has
    the same number of wide entries / exactly one id per embedded field."""

    def __init__(self, T, pre, layout):
        off = T[pre + ".wide_off"].astype(np.int64)
        self.n = len(off) - 1
        counts = np.diff(off)
        self.wide_k = int(counts[0]) if self.n and (counts == counts[0]).all() else None
        ids = T[pre + ".wide_ids"].astype(np.int64)
        vals = T[pre + ".wide_vals"].astype(np.float32)
        if self.wide_k is not None:
            self.wide_ids = torch.from_numpy(ids.reshape(self.n, self.wide_k).copy())
            self.wide_vals = torch.from_numpy(vals.reshape(self.n, self.wide_k).copy())
        else:
            self.wide_off, self.wide_ids_flat, self.wide_vals_flat = off, ids, vals
        self.emb = []
        singles = []
        for f in range(len(layout["emb"])):
            eo = T["%s.emb%d_off" % (pre, f)].astype(np.int64)
            ei = T["%s.emb%d_ids" % (pre, f)].astype(np.int64)
            c = np.diff(eo)
            if (c == 1).all():
                self.emb.append(("single", len(singles)))
                singles.append(ei)
            else:
                self.emb.append(("bag", (eo, ei)))
        # single-valued fields as one [n, k] table: one gather per batch
        self.single = torch.from_numpy(np.stack(singles, 1).copy()) if singles else None
        self.dense = torch.from_numpy(T[pre + ".dense"].astype(np.float32).copy())
        self.label = torch.from_numpy(T[pre + ".label"].astype(np.float32).copy())
        self.weight = torch.from_numpy(T[pre + ".weight"].astype(np.float32).copy())

    def batch(self, idx):
        """idx: LongTensor of row numbers -> model inputs for those rows."""
        if self.wide_k is not None:
            wide = (self.wide_ids[idx], self.wide_vals[idx], None)
        else:
            ii = idx.numpy()
            o = self.wide_off
            parts = [np.arange(o[r], o[r + 1]) for r in ii]
            flat = np.concatenate(parts)
            offs = np.cumsum([0] + [len(p) for p in parts[:-1]])
            wide = (torch.from_numpy(self.wide_ids_flat[flat]), torch.from_numpy(self.wide_vals_flat[flat]),
                    torch.from_numpy(offs))
        embs = []
        sing = self.single[idx] if self.single is not None else None
        for kind, data in self.emb:
            if kind == "single":
                embs.append((sing[:, data], None))
            else:
                eo, ei = data
                ii = idx.numpy()
                parts = [ei[eo[r]:eo[r + 1]] for r in ii]
                embs.append((torch.from_numpy(np.concatenate(parts)),
                             torch.from_numpy(np.cumsum([0] + [len(p) for p in parts[:-1]]))))
        return wide, embs, self.dense[idx], self.label[idx], self.weight[idx]


class WideDeep(torch.nn.Module):
    def __init__(self, layout, kind, hidden, emb_std):
        super().__init__()
        self.use_wide = kind != "deep"
        self.use_deep = kind != "wide"
        if self.use_wide:
            self.wide = torch.nn.Parameter(torch.zeros(layout["wide_dim"]))
        if self.use_deep:
            self.embs = torch.nn.ModuleList()
            width = layout["dense_dim"]
            for e in layout["emb"]:
                m = torch.nn.EmbeddingBag(e["card"], e["dim"], mode="mean")
                torch.nn.init.normal_(m.weight, 0.0, emb_std)
                self.embs.append(m)
                width += e["dim"]
            layers = []
            for h in hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
                width = h
            layers.append(torch.nn.Linear(width, 1))
            self.mlp = torch.nn.Sequential(*layers)

    def forward(self, wide, embs, dense):
        logit = 0
        if self.use_wide:
            ids, vals, offs = wide
            if offs is None:  # embedding's dense backward beats advanced indexing's index_put
                logit = (torch.nn.functional.embedding(ids, self.wide.unsqueeze(1)).squeeze(2) * vals).sum(1)
            else:
                logit = torch.nn.functional.embedding_bag(ids, self.wide.unsqueeze(1), offs, mode="sum",
                                                          per_sample_weights=vals).squeeze(1)
        if self.use_deep:
            xs = []
            for m, (ids, offs) in zip(self.embs, embs):
                if offs is None:
                    xs.append(torch.nn.functional.embedding(ids, m.weight))
                else:
                    xs.append(m(ids, offs))
            xs.append(dense)
            logit = logit + self.mlp(torch.cat(xs, 1)).squeeze(1)
        return logit


class FTRL(torch.optim.Optimizer):
    """FTRL-proximal per coordinate (the update of ns_ftrl_step). A coordinate
    whose gradient is 0 keeps its weight, so the dense update equals the
    C side's update of the touched rows."""

    def __init__(self, params, alpha, beta, l1, l2):
        super().__init__(params, dict(alpha=alpha, beta=beta, l1=l1, l2=l2))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            a, b, l1, l2 = g["alpha"], g["beta"], g["l1"], g["l2"]
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["z"] = torch.zeros_like(p)
                    st["n"] = torch.zeros_like(p)
                z, n, gr = st["z"], st["n"], p.grad
                n_new = n + gr * gr
                sigma = (n_new.sqrt() - n.sqrt()) / a
                z.add_(gr - sigma * p)
                n.copy_(n_new)
                w = -(z - torch.sign(z) * l1) / ((b + n_new.sqrt()) / a + l2)
                p.copy_(torch.where(z.abs() <= l1, torch.zeros_like(w), w))


def auc(score, y):
    order = np.argsort(score, kind="mergesort")
    s, yy = score[order], y[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        ranks[i:j] = (i + 1 + j) / 2.0
        i = j
    npos = yy.sum()
    nneg = len(yy) - npos
    return float((ranks[yy > 0.5].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("--model", default="wide_deep")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", default="100,50")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--beta", type=float, default=1.0)
    ap.add_argument("--l1", type=float, default=0.1)
    ap.add_argument("--l2", type=float, default=0.5)
    ap.add_argument("--emb-std", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--serve", type=int, default=0, help="also time scoring N pre-encoded test rows (1 thread)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    T, meta = read_safetensors(a.features)
    layout = json.loads(meta["layout"])
    tr = Split(T, "train", layout)
    te = Split(T, "test", layout) if "test.label" in T else None
    hidden = [int(h) for h in a.hidden.split(",") if h]
    model = WideDeep(layout, a.model, hidden, a.emb_std)
    opts = []
    if model.use_wide:
        opts.append(FTRL([model.wide], a.alpha, a.beta, a.l1, a.l2))
    if model.use_deep:
        deep = [p for n, p in model.named_parameters() if n != "wide"]
        opts.append(torch.optim.Adam(deep, lr=a.lr))
    lossf = torch.nn.BCEWithLogitsLoss(reduction="none")
    t0 = time.perf_counter()
    for ep in range(a.epochs):
        perm = torch.randperm(tr.n)
        for s in range(0, tr.n, a.batch):
            idx = perm[s:s + a.batch]
            wide, embs, dense, y, w = tr.batch(idx)
            for o in opts:
                o.zero_grad(set_to_none=False)
            logit = model(wide, embs, dense)
            loss = (lossf(logit, y) * w).mean()
            loss.backward()
            for o in opts:
                o.step()
    secs = time.perf_counter() - t0
    res = {"peer": "pytorch-wide-deep", "model": a.model, "torch": torch.__version__, "threads": a.threads,
           "epochs": a.epochs, "batch": a.batch, "rows": tr.n, "train_seconds": round(secs, 4),
           "examples_per_s": round(tr.n * a.epochs / secs, 1)}
    if te is not None:
        with torch.no_grad():
            p = torch.sigmoid(model(*te.batch(torch.arange(te.n))[:3])).numpy().astype(np.float64)
        y = te.label.numpy().astype(np.float64)
        pc = np.clip(p, 1e-7, 1 - 1e-7)
        res["test"] = {"n": te.n, "auc": round(auc(p, y), 6),
                       "logloss": round(float(-(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean()), 6),
                       "accuracy": round(float(((p >= 0.5) == (y > 0.5)).mean()), 6)}
    if a.serve and te is not None:
        torch.set_num_threads(1)
        inp = te.batch(torch.arange(a.serve))[:3]
        times = []
        with torch.no_grad():
            for r in range(550):
                t1 = time.perf_counter()
                torch.sigmoid(model(*inp))
                if r >= 50:
                    times.append((time.perf_counter() - t1) * 1e3)
        times.sort()
        res["serve"] = {"candidates": a.serve, "threads": 1, "model_only_ms_median": round(times[len(times) // 2], 4),
                        "model_only_ms_p99": round(times[len(times) * 99 // 100], 4)}
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
