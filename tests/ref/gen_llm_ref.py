#!/usr/bin/python3
"""gen_llm_ref.py — PyTorch twin of northstar's GPT engine (src/llm), for tests.

Writes one safetensors fixture per family with random weights:
  config (metadata "config", our JSON), every parameter under our names,
  fwd.idx / fwd.targets (I32, some targets -1 = ignored), fwd.logits, fwd.loss,
  grad.<name> for every parameter,
  train.x / train.y [steps, accum, B, T], train.loss [steps] and final.<name>
  after `steps` AdamW steps (decay groups, warmup+cosine, clipping, accumulation),
  gen.prompt / gen.tokens: greedy continuation computed without a KV cache.

Usage: gen_llm_ref.py OUT_DIR [--seed S]   (fixtures are committed; make test
reruns this with another seed when torch is present).
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def save_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.float32:
            dt = "F32"
        elif t.dtype == torch.int32:
            dt = "I32"
        else:
            raise ValueError(t.dtype)
        b = t.numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


class Twin(torch.nn.Module):
    """Same math, same parameter names and layouts as src/llm/model.c."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        c = cfg
        L, C, V, Fd = c["n_layer"], c["d_model"], c["vocab_size"], c["d_ff"]
        H, KVH = c["n_head"], c["n_kv_head"]
        hd = C // H
        Q = (H + 2 * KVH) * hd
        self.gpt = c["arch"] == "gpt2"
        bias = self.gpt and c["bias"]
        F1 = Fd if self.gpt else 2 * Fd
        shapes = {"wte": (V, C)}
        if self.gpt:
            shapes["wpe"] = (c["max_seq"], C)
        shapes["ln1.w"] = (L, C)
        if bias:
            shapes["ln1.b"] = (L, C)
        shapes["qkv.w"] = (L, Q, C)
        if bias:
            shapes["qkv.b"] = (L, Q)
        shapes["attn.proj.w"] = (L, C, C)
        if bias:
            shapes["attn.proj.b"] = (L, C)
        shapes["ln2.w"] = (L, C)
        if bias:
            shapes["ln2.b"] = (L, C)
        shapes["fc.w"] = (L, F1, C)
        if bias:
            shapes["fc.b"] = (L, Fd)
        shapes["fc.proj.w"] = (L, C, Fd)
        if bias:
            shapes["fc.proj.b"] = (L, C)
        shapes["lnf.w"] = (C,)
        if bias:
            shapes["lnf.b"] = (C,)
        if not c["tied"]:
            shapes["lm_head"] = (V, C)
        self.names = list(shapes)
        self.p = torch.nn.ParameterDict({n.replace(".", "_"): torch.nn.Parameter(torch.zeros(s)) for n, s in shapes.items()})
        self.decay = {"wte", "wpe", "qkv.w", "attn.proj.w", "fc.w", "fc.proj.w", "lm_head"}
        if not self.gpt:
            half = hd // 2
            inv = torch.tensor([c["rope_theta"] ** (-2.0 * i / hd) for i in range(half)], dtype=torch.float64)
            ang = torch.arange(c["max_seq"], dtype=torch.float64)[:, None] * inv[None, :]
            self.cos, self.sin = ang.cos().float(), ang.sin().float()

    def P(self, n):
        k = n.replace(".", "_")
        return self.p[k] if k in self.p else None

    def norm(self, x, w, b):
        eps = self.cfg["norm_eps"]
        if self.gpt:
            return F.layer_norm(x, (x.shape[-1],), w, b, eps)
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w

    def rope(self, x):  # x [B,T,h,hd], adjacent pairs
        B, T, h, hd = x.shape
        xr = x.view(B, T, h, hd // 2, 2)
        x0, x1 = xr[..., 0], xr[..., 1]
        cs, sn = self.cos[:T][None, :, None, :], self.sin[:T][None, :, None, :]
        return torch.stack([x0 * cs - x1 * sn, x0 * sn + x1 * cs], -1).view(B, T, h, hd)

    def hidden(self, idx):
        c = self.cfg
        B, T = idx.shape
        L, C, H, KVH = c["n_layer"], c["d_model"], c["n_head"], c["n_kv_head"]
        hd, Fd = C // H, c["d_ff"]
        idx = idx.long()
        x = self.P("wte")[idx]
        if self.gpt:
            x = x + self.P("wpe")[:T][None]

        def lp(n, l):
            t = self.P(n)
            return None if t is None else t[l]

        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        for l in range(L):
            h = self.norm(x, lp("ln1.w", l), lp("ln1.b", l))
            qkv = h @ lp("qkv.w", l).T
            if lp("qkv.b", l) is not None:
                qkv = qkv + lp("qkv.b", l)
            q = qkv[..., :C].reshape(B, T, H, hd)
            k = qkv[..., C:C + KVH * hd].reshape(B, T, KVH, hd)
            v = qkv[..., C + KVH * hd:].reshape(B, T, KVH, hd)
            if not self.gpt:
                q, k = self.rope(q), self.rope(k)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            G = H // KVH
            k, v = k.repeat_interleave(G, 1), v.repeat_interleave(G, 1)
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            y = y @ lp("attn.proj.w", l).T
            if lp("attn.proj.b", l) is not None:
                y = y + lp("attn.proj.b", l)
            x = x + y
            h = self.norm(x, lp("ln2.w", l), lp("ln2.b", l))
            f = h @ lp("fc.w", l).T
            if self.gpt:
                if lp("fc.b", l) is not None:
                    f = f + lp("fc.b", l)
                f = F.gelu(f, approximate="tanh")
            else:
                f = F.silu(f[..., :Fd]) * f[..., Fd:]
            f = f @ lp("fc.proj.w", l).T
            if lp("fc.proj.b", l) is not None:
                f = f + lp("fc.proj.b", l)
            x = x + f
        return self.norm(x, self.P("lnf.w"), self.P("lnf.b"))

    def forward(self, idx, targets=None):
        h = self.hidden(idx)
        head = self.P("wte") if self.cfg["tied"] else self.P("lm_head")
        logits = h @ head.T
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1).long(), ignore_index=-1)
        return logits, loss


def lr_at(step, warmup, total, lr, min_lr):  # nanoGPT get_lr, = ns_lr_warmup_cosine
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= total:
        return min_lr
    r = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * r)) * (lr - min_lr)


def make(cfg, train, seed, path):
    g = torch.Generator().manual_seed(seed)
    m = Twin(cfg)
    with torch.no_grad():
        for n in m.names:
            p = m.P(n)
            if n.endswith(".w") and n.startswith(("ln", "lnf")):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif n.endswith(".b"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    init = {n: m.P(n).detach().clone() for n in m.names}
    V, B, T = cfg["vocab_size"], train["batch"], train["seq"]
    idx = torch.randint(0, V, (B, T), generator=g, dtype=torch.int32)
    tgt = torch.randint(0, V, (B, T), generator=g, dtype=torch.int32)
    tgt[0, :3] = -1  # ignored positions (SFT-style masking)
    logits, loss = m(idx, tgt)
    loss.backward()
    out = {n: init[n] for n in m.names}
    out["fwd.idx"], out["fwd.targets"] = idx, tgt
    out["fwd.logits"], out["fwd.loss"] = logits.detach(), loss.detach().reshape(1)
    for n in m.names:
        out["grad." + n] = m.P(n).grad.detach().clone()

    # greedy continuation without a cache (the C side uses its KV cache)
    with torch.no_grad():
        seq = torch.randint(0, V, (1, 3), generator=g, dtype=torch.int64)
        out["gen.prompt"] = seq[0].to(torch.int32).clone()
        for _ in range(cfg["max_seq"] - 3):
            lg, _ = m(seq)
            seq = torch.cat([seq, lg[:, -1].argmax(-1, keepdim=True)], 1)
        out["gen.tokens"] = seq[0, 3:].to(torch.int32)

    # training steps with AdamW, decay groups, schedule, clipping, accumulation
    S, A = train["steps"], train["accum"]
    xs = torch.randint(0, V, (S, A, B, T), generator=g, dtype=torch.int32)
    ys = torch.randint(0, V, (S, A, B, T), generator=g, dtype=torch.int32)
    dec = [m.P(n) for n in m.names if n in m.decay]
    nod = [m.P(n) for n in m.names if n not in m.decay]
    opt = torch.optim.AdamW([{"params": dec, "weight_decay": train["weight_decay"]},
                             {"params": nod, "weight_decay": 0.0}],
                            lr=train["lr"], betas=(train["beta1"], train["beta2"]), eps=train["eps"])
    losses = []
    for s in range(S):
        opt.zero_grad(set_to_none=True)
        tot = 0.0
        for a in range(A):
            _, l = m(xs[s, a], ys[s, a])
            (l / A).backward()
            tot += l.item() / A
        losses.append(tot)
        torch.nn.utils.clip_grad_norm_(m.parameters(), train["grad_clip"])
        lr = lr_at(s, train["warmup"], train["decay_steps"], train["lr"], train["min_lr"])
        for gr in opt.param_groups:
            gr["lr"] = lr
        opt.step()
    out["train.x"], out["train.y"] = xs, ys
    out["train.loss"] = torch.tensor(losses, dtype=torch.float32)
    for n in m.names:
        out["final." + n] = m.P(n).detach().clone()
    save_safetensors(path, out, {"config": json.dumps(cfg), "train": json.dumps(train)})


CONFIGS = {
    "gpt2": {"arch": "gpt2", "vocab_size": 37, "max_seq": 16, "n_layer": 2, "n_head": 4, "n_kv_head": 4,
             "d_model": 32, "d_ff": 128, "tied": 1, "bias": 1, "norm_eps": 1e-5},
    "llama": {"arch": "llama", "vocab_size": 41, "max_seq": 16, "n_layer": 2, "n_head": 4, "n_kv_head": 2,
              "d_model": 32, "d_ff": 40, "tied": 0, "bias": 0, "norm_eps": 1e-5, "rope_theta": 10000.0},
}
TRAIN = {"batch": 2, "seq": 12, "steps": 5, "accum": 2, "lr": 3e-3, "min_lr": 3e-4, "warmup": 2,
         "decay_steps": 5, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "grad_clip": 1.0}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    outdir = sys.argv[1]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 1234
    os.makedirs(outdir, exist_ok=True)
    for k, (fam, cfg) in enumerate(CONFIGS.items()):
        make(cfg, TRAIN, seed + k, os.path.join(outdir, "llm_%s.safetensors" % fam))
    print("wrote", outdir)


if __name__ == "__main__":
    main()
