#!/usr/bin/python3
"""infer_llama_torch.py — PyTorch eager peer for `northstar llm generate` (inference).

Loads a llama2.c checkpoint (version 0: 7-int header, fp32 weights, shared or separate
classifier) — the very file the C side runs — into an ordinary PyTorch Llama (nn.Linear,
RMSNorm, RoPE on adjacent pairs, SwiGLU, GQA) with a KV cache, and decodes greedily one
token at a time under torch.no_grad() (eager, no compile).

Usage: infer_llama_torch.py MODEL.bin --prompt-ids "1 400 500" --max-tokens N [--threads 2]
Prints the generated ids on stdout and 'generated N tokens in S s: R tokens/s' on stderr,
with the same definition as the C side: (N - 1) forwards after the prefill.
"""
import argparse
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Llama(nn.Module):
    def __init__(self, dim, hidden, L, H, KVH, V, T):
        super().__init__()
        self.dim, self.L, self.H, self.KVH, self.T = dim, L, H, KVH, T
        self.hd = dim // H
        kv = self.hd * KVH
        self.emb = nn.Embedding(V, dim)
        self.rms_att = nn.ParameterList([nn.Parameter(torch.ones(dim)) for _ in range(L)])
        self.rms_ffn = nn.ParameterList([nn.Parameter(torch.ones(dim)) for _ in range(L)])
        self.wq = nn.ModuleList([nn.Linear(dim, dim, bias=False) for _ in range(L)])
        self.wk = nn.ModuleList([nn.Linear(dim, kv, bias=False) for _ in range(L)])
        self.wv = nn.ModuleList([nn.Linear(dim, kv, bias=False) for _ in range(L)])
        self.wo = nn.ModuleList([nn.Linear(dim, dim, bias=False) for _ in range(L)])
        self.w1 = nn.ModuleList([nn.Linear(dim, hidden, bias=False) for _ in range(L)])
        self.w2 = nn.ModuleList([nn.Linear(hidden, dim, bias=False) for _ in range(L)])
        self.w3 = nn.ModuleList([nn.Linear(dim, hidden, bias=False) for _ in range(L)])
        self.rms_final = nn.Parameter(torch.ones(dim))
        self.wcls = nn.Linear(dim, V, bias=False)
        half = self.hd // 2
        inv = 1.0 / (10000.0 ** (torch.arange(0, half, dtype=torch.float64) * 2 / self.hd))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
        self.cos, self.sin = ang.cos().float(), ang.sin().float()
        self.kc = torch.zeros(L, T, KVH, self.hd)
        self.vc = torch.zeros(L, T, KVH, self.hd)

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * w

    def rope(self, x, pos):  # x [h, hd], adjacent pairs
        xr = x.view(x.shape[0], -1, 2)
        c, s = self.cos[pos], self.sin[pos]
        x0, x1 = xr[..., 0], xr[..., 1]
        return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], -1).view_as(x)

    def step(self, tok, pos):
        x = self.emb.weight[tok]
        G = self.H // self.KVH
        for l in range(self.L):
            h = self.rms(x, self.rms_att[l])
            q = self.rope(self.wq[l](h).view(self.H, self.hd), pos)
            k = self.rope(self.wk[l](h).view(self.KVH, self.hd), pos)
            self.kc[l, pos] = k
            self.vc[l, pos] = self.wv[l](h).view(self.KVH, self.hd)
            K = self.kc[l, :pos + 1].repeat_interleave(G, 1)  # [t, H, hd]
            Vv = self.vc[l, :pos + 1].repeat_interleave(G, 1)
            att = torch.einsum("hd,thd->ht", q, K) / (self.hd ** 0.5)
            y = torch.einsum("ht,thd->hd", att.softmax(-1), Vv).reshape(self.dim)
            x = x + self.wo[l](y)
            h = self.rms(x, self.rms_ffn[l])
            x = x + self.w2[l](F.silu(self.w1[l](h)) * self.w3[l](h))
        return self.wcls(self.rms(x, self.rms_final))


def load(path):
    raw = open(path, "rb").read()
    dim, hidden, L, H, KVH, V, T = np.frombuffer(raw[:28], dtype=np.int32)
    shared = V > 0
    V = abs(int(V))
    w = torch.from_numpy(np.frombuffer(raw[28:], dtype=np.float32).copy())
    m = Llama(int(dim), int(hidden), int(L), int(H), int(KVH), V, int(T))
    hd = dim // H
    kv = hd * KVH
    off = [0]

    def take(*shape):
        n = int(np.prod(shape))
        t = w[off[0]:off[0] + n].view(*shape)
        off[0] += n
        return t

    with torch.no_grad():
        m.emb.weight.copy_(take(V, dim))
        for l, t in enumerate(take(L, dim)):
            m.rms_att[l].copy_(t)
        for name, rows in (("wq", dim), ("wk", kv), ("wv", kv), ("wo", dim)):
            for l, t in enumerate(take(L, rows, dim)):
                getattr(m, name)[l].weight.copy_(t)
        for l, t in enumerate(take(L, dim)):
            m.rms_ffn[l].copy_(t)
        for l, t in enumerate(take(L, hidden, dim)):
            m.w1[l].weight.copy_(t)
        for l, t in enumerate(take(L, dim, hidden)):
            m.w2[l].weight.copy_(t)
        for l, t in enumerate(take(L, hidden, dim)):
            m.w3[l].weight.copy_(t)
        m.rms_final.copy_(take(dim))
        take(T, hd // 2)
        take(T, hd // 2)
        m.wcls.weight.copy_(m.emb.weight if shared else take(V, dim))
    assert off[0] == w.numel(), "file size does not match its header"
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--prompt-ids", required=True)
    ap.add_argument("--max-tokens", type=int, default=255)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = load(a.model)
    ids = [int(x) for x in a.prompt_ids.split()]
    out = []
    with torch.no_grad():
        for p, t in enumerate(ids):
            logits = m.step(t, p)
        pos = len(ids)
        t0 = time.perf_counter()
        for i in range(a.max_tokens):
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            if i + 1 == a.max_tokens or pos >= m.T:
                break
            logits = m.step(nxt, pos)
            pos += 1
        dt = time.perf_counter() - t0
    print(" ".join(map(str, out)))
    print("generated %d tokens in %.3fs: %.1f tokens/s (torch eager, %d threads)" %
          (len(out), dt, (len(out) - 1) / dt, a.threads), file=sys.stderr)


if __name__ == "__main__":
    main()
