#!/usr/bin/python3
"""train_gpt_torch.py — the PyTorch peer for `northstar llm train` on Tiny Shakespeare.

The same model and recipe as the C run (nanoGPT's shakespeare_char CPU settings):
GPT-2 style, 4 layers, 4 heads, 128 dims, context 64, batch 12, no biases, no
dropout, tied embeddings, tanh GELU, AdamW (0.9, 0.99) lr 1e-3 -> 1e-4 cosine with
100 warmup steps, weight decay 0.1 on matrices/embeddings, clip 1.0; characters
of the whole text as vocabulary, first 90% train / last 10% val.
Written as an ordinary PyTorch model (nn.Linear, nn.LayerNorm, nn.Embedding).

With --arch llama the same recipe trains the Llama family of the same size instead
(`northstar llm train --arch llama`): RoPE (theta 10000, adjacent pairs), RMSNorm
(eps 1e-5), SwiGLU MLP with hidden 344 (~8C/3, so the parameter count equals the
GPT-2 model's), no biases, tied embeddings, the same initialisation (N(0, 0.02),
output projections N(0, 0.02 / sqrt(2 L)), norm weights 1).

Usage: train_gpt_torch.py DATA [--arch gpt2|llama] [--steps 2000] [--eval-every 250]
                              [--eval-iters 20] [--threads 2] [--seed 1337]
Prints 'final: step N val_loss X train_tokens_per_s Y threads T'.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln1 = nn.LayerNorm(C, bias=False) if "bias" in nn.LayerNorm.__init__.__code__.co_varnames else nn.LayerNorm(C)
        self.attn = nn.Linear(C, 3 * C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)
        self.ln2 = nn.LayerNorm(C, bias=False) if "bias" in nn.LayerNorm.__init__.__code__.co_varnames else nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C, bias=False)
        self.fcp = nn.Linear(4 * C, C, bias=False)

    def forward(self, x, mask):
        B, T, C = x.shape
        H = self.H
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(mask[:T, :T] == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.fcp(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class RMSNorm(nn.Module):
    def __init__(self, C, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(C))

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):  # x [B, H, T, hd], rotates adjacent pairs (llama2.c's layout)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], -1).flatten(-2)


class LlamaBlock(nn.Module):
    def __init__(self, C, H, Fd):
        super().__init__()
        self.H, self.Fd = H, Fd
        self.ln1 = RMSNorm(C)
        self.attn = nn.Linear(C, 3 * C, bias=False)
        self.proj = nn.Linear(C, C, bias=False)
        self.ln2 = RMSNorm(C)
        self.fc = nn.Linear(C, 2 * Fd, bias=False)  # gate and up, fused
        self.fcp = nn.Linear(Fd, C, bias=False)

    def forward(self, x, mask, cos, sin):
        B, T, C = x.shape
        H = self.H
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q = rope(q.view(B, T, H, C // H).transpose(1, 2), cos[:T], sin[:T])
        k = rope(k.view(B, T, H, C // H).transpose(1, 2), cos[:T], sin[:T])
        v = v.view(B, T, H, C // H).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(mask[:T, :T] == 0, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        g, u = self.fc(self.ln2(x)).split(self.Fd, dim=2)
        return x + self.fcp(F.silu(g) * u)


class Llama(nn.Module):
    def __init__(self, V, T, L, H, C, Fd=344):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([LlamaBlock(C, H, Fd) for _ in range(L)])
        self.lnf = RMSNorm(C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)))
        hd = C // H
        inv = torch.tensor([10000.0 ** (-2.0 * i / hd) for i in range(hd // 2)], dtype=torch.float64)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", ang.cos().float())
        self.register_buffer("sin", ang.sin().float())
        for n, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith(("proj.weight", "fcp.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        x = self.wte(idx)
        for b in self.blocks:
            x = b(x, self.mask, self.cos, self.sin)
        logits = self.lnf(x) @ self.wte.weight.T  # tied
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


class GPT(nn.Module):
    def __init__(self, V, T, L, H, C):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.blocks = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.lnf = nn.LayerNorm(C)
        self.register_buffer("mask", torch.tril(torch.ones(T, T)))
        for n, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith(("proj.weight", "fcp.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x, self.mask)
        logits = self.lnf(x) @ self.wte.weight.T  # tied
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--arch", choices=("gpt2", "llama"), default="gpt2")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-iters", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1337)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    tr, va = data[:n], data[n:]
    B, T = 12, 64
    model = (Llama if a.arch == "llama" else GPT)(len(chars), T, 4, 4, 128)
    # LayerNorm biases: nanoGPT's bias=False; torch 1.13 has no bias=False, so freeze them at 0
    for mod in model.modules():
        if isinstance(mod, nn.LayerNorm) and mod.bias is not None:
            mod.bias.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    dec = [p for p in params if p.dim() >= 2]
    nod = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": dec, "weight_decay": 0.1}, {"params": nod, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99), eps=1e-8)

    def batch(d, g=None):
        ix = torch.randint(len(d) - T, (B,), generator=g)
        return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + 1 + T] for i in ix])

    @torch.no_grad()
    def evaluate(d, seed):
        g = torch.Generator().manual_seed(seed)
        model.eval()
        ls = [model(*batch(d, g)).item() for _ in range(a.eval_iters)]
        model.train()
        return sum(ls) / len(ls)

    def lr_at(it, warmup=100, total=2000, lr=1e-3, min_lr=1e-4):
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        if it >= total:
            return min_lr
        r = (it - warmup) / (total - warmup)
        return min_lr + 0.5 * (1 + math.cos(math.pi * r)) * (lr - min_lr)

    t_train = 0.0
    for it in range(a.steps):
        if a.eval_every and it % a.eval_every == 0:
            print("step %d: train loss %.4f, val loss %.4f" % (it, evaluate(tr, 1000 + it), evaluate(va, 2000 + it)),
                  flush=True)
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(it, total=a.steps if a.steps < 2000 else 2000)
        x, y = batch(tr)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t_train += time.perf_counter() - t0
    vl = evaluate(va, 9999)
    print("final: step %d val_loss %.4f train_tokens_per_s %.0f threads %d" % (a.steps, vl, a.steps * B * T / t_train,
                                                                            a.threads))


if __name__ == "__main__":
    main()
