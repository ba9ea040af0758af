#!/usr/bin/python3
"""gen_kernels.py — PyTorch reference fixtures for the tensor kernels, the
optimizers and the half-precision conversions (tests/ref/test_ref_kernels.c,
test_ref_optim.c, test_ref_dtype.c).

Run:  /usr/bin/python3 tests/ref/gen_kernels.py [--out DIR]
      (default DIR: tests/ref/fixtures next to this script; the files there are
      committed so the C tests run without torch, and `make test` reruns this
      script into build/ref-fresh when torch is installed)

What it writes: one safetensors file per kernel family with the inputs, the
forward outputs, the values saved for backward (mean/rstd, attention
probabilities) and every gradient torch autograd computes from a random
upstream gradient. Inputs are drawn in float32 from numpy generators with
fixed seeds (one seed per file, so files do not depend on each other); the
kernels are evaluated by torch in FLOAT64 on those exactly-representable
inputs and the results rounded to float32, so the fixtures hold the true
answer and the C tolerances only have to cover the float32 kernels' own
rounding. The optimizers are run by torch.optim in float32, the way a torch
model would train, five steps on a fixed parameter/gradient sequence.

dtype.safetensors holds torch's float32 -> float16 / bfloat16 rounding (bit
patterns) for the conversions in src/tensor/dtype.c (test_ref_dtype.c).

FTRL-proximal has no torch implementation: its reference is a float64 numpy
transcription of McMahan et al., "Ad Click Prediction: a View from the
Trenches" (KDD 2013), Algorithm 1, per coordinate (z, n). The warmup+cosine
schedule is nanoGPT's get_lr formula evaluated in Python float64.

Shapes are small and odd (N=37, C=53, OC=29, T=19 and T=70 to cross the
64-row block of the fast attention) and the whole folder stays well under
1 MB. The safetensors files are written by hand (json + struct; format in
include/northstar/safetensors.h): there is no safetensors package here.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

DT = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
      np.dtype(np.int32): "I32", np.dtype(np.int64): "I64"}


def save(path, tensors, meta=None):
    """Write an ordered dict name -> numpy array as a safetensors file
    (header padded with spaces to an 8-byte boundary, tensors back to back)."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        if a.ndim == 0:
            a = a.reshape(1)
        if a.dtype not in DT:
            raise TypeError(f"{name}: dtype {a.dtype} not written by this script")
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DT[a.dtype], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    md = {"generator": "tests/ref/gen_kernels.py"}
    md.update(meta or {})
    header["__metadata__"] = md
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def rng(seed):
    return np.random.default_rng(seed)


def randn(g, *shape, scale=1.0):
    return (g.standard_normal(shape) * scale).astype(np.float32)


def leaf(a):
    """float64 torch leaf that requires grad, from a float32 numpy array."""
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def i32(a):
    return np.asarray(a, dtype=np.int32)


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------

def gen_matmul(out):
    g = rng(101)
    N, C, OC = 37, 53, 29
    inp, w, bias = randn(g, N, C), randn(g, OC, C, scale=C ** -0.5), randn(g, OC)
    dout = randn(g, N, OC)
    ti, tw, tb = leaf(inp), leaf(w), leaf(bias)
    o = F.linear(ti, tw, tb)
    o.backward(torch.tensor(dout, dtype=torch.float64))
    o_nb = F.linear(torch.tensor(inp, dtype=torch.float64), torch.tensor(w, dtype=torch.float64))
    save(os.path.join(out, "matmul.safetensors"), {
        "inp": inp, "w": w, "bias": bias, "out": f32(o), "out_nobias": f32(o_nb),
        "dout": dout, "dinp": f32(ti.grad), "dw": f32(tw.grad), "dbias": f32(tb.grad)})


def gen_embedding(out):
    g = rng(102)
    V, D, N = 23, 7, 31
    table = randn(g, V, D)
    ids = g.integers(0, V, N)
    ids[:4] = [5, 5, 0, V - 1]  # repeats and both ends of the table
    dout = randn(g, N, D)
    tt = leaf(table)
    o = F.embedding(torch.tensor(ids, dtype=torch.int64), tt)
    o.backward(torch.tensor(dout, dtype=torch.float64))
    save(os.path.join(out, "embedding.safetensors"), {
        "ids": i32(ids), "table": table, "out": f32(o), "dout": dout, "dtable": f32(tt.grad)})


def gen_embedding_bag(out):
    g = rng(103)
    V, D = 23, 7
    sizes = [3, 0, 5, 1, 4, 6, 2, 0, 7]  # bags 1 and 7 are empty
    B = len(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    nnz = int(offsets[-1])
    ids = g.integers(0, V, nnz)
    ids[:3] = [4, 4, 11]  # a repeat inside one bag
    ids[-2:] = [4, 0]     # ... and across bags
    table = randn(g, V, D)
    psw = g.uniform(-1.0, 2.0, nnz).astype(np.float32)
    tens = {"ids": i32(ids), "offsets": i32(offsets), "psw": psw, "table": table}
    tid = torch.tensor(ids, dtype=torch.int64)
    toff = torch.tensor(offsets, dtype=torch.int64)
    for name, mode, use_psw in (("sum", "sum", False), ("mean", "mean", False),
                                ("sum_psw", "sum", True)):
        dout = randn(g, B, D)
        for sparse in (False, True):
            tt = leaf(table)
            tp = leaf(psw) if use_psw else None
            o = F.embedding_bag(tid, tt, toff, mode=mode, per_sample_weights=tp,
                                include_last_offset=True, sparse=sparse)
            o.backward(torch.tensor(dout, dtype=torch.float64))
            if sparse:
                sg = tt.grad.coalesce()
                tens[f"{name}/sp_ids"] = i32(sg.indices()[0].numpy())
                tens[f"{name}/sp_rows"] = f32(sg.values())
            else:
                tens[f"{name}/out"] = f32(o)
                tens[f"{name}/dout"] = dout
                tens[f"{name}/dtable"] = f32(tt.grad)
                if use_psw:
                    tens[f"{name}/dpsw"] = f32(tp.grad)
    save(os.path.join(out, "embedding_bag.safetensors"), tens)


def gen_activations(out):
    g = rng(104)
    n = 301
    x = randn(g, n, scale=2.5)
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    x[:6] = [-12.0, -6.0, -0.75, 0.75, 6.0, 12.0]  # tails of the sigmoid / tanh
    b = randn(g, n)
    tens = {"x": x, "b": b}
    acts = {
        "relu": F.relu,
        "gelu": lambda t: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "sigmoid": torch.sigmoid,
    }
    for name, fn in acts.items():
        dout = randn(g, n)
        tx = leaf(x)
        o = fn(tx)
        o.backward(torch.tensor(dout, dtype=torch.float64))
        tens[f"{name}/out"], tens[f"{name}/dout"], tens[f"{name}/dx"] = f32(o), dout, f32(tx.grad)
    # SwiGLU: silu(a) * b, a = x.
    dout = randn(g, n)
    ta, tb = leaf(x), leaf(b)
    o = F.silu(ta) * tb
    o.backward(torch.tensor(dout, dtype=torch.float64))
    tens.update({"swiglu/out": f32(o), "swiglu/dout": dout, "swiglu/da": f32(ta.grad),
                 "swiglu/db": f32(tb.grad)})
    save(os.path.join(out, "activations.safetensors"), tens)


def gen_softmax(out):
    g = rng(105)
    N, V = 11, 37
    x = randn(g, N, V, scale=2.0)
    x[3] *= 20.0    # a peaked row (max subtraction matters)
    x[4] += 80.0    # a shifted row (exp would overflow without it)
    dout = randn(g, N, V)
    tx = leaf(x)
    o = torch.softmax(tx, dim=-1)
    o.backward(torch.tensor(dout, dtype=torch.float64))
    save(os.path.join(out, "softmax.safetensors"),
         {"x": x, "out": f32(o), "dout": dout, "dx": f32(tx.grad)})


def gen_cross_entropy(out):
    g = rng(106)
    N, V, IGN = 37, 29, -100
    logits = randn(g, N, V, scale=2.0)
    logits[5] += 60.0
    targets = g.integers(0, V, N)
    targets[[2, 9, 20]] = IGN
    weights = (g.uniform(size=N) > 0.25).astype(np.float32)  # per-row 0/1 mask
    weights[2] = 1.0  # an ignored row with weight 1 still does not count
    tens = {"logits": logits, "targets": i32(targets), "weights": weights}
    tt = torch.tensor(targets, dtype=torch.int64)
    for name, use_w in (("w", True), ("nw", False)):
        dloss = np.float32(g.uniform(0.5, 2.0))
        tl = leaf(logits)
        rows = F.cross_entropy(tl, tt, ignore_index=IGN, reduction="none")  # 0 where ignored
        counted = torch.tensor((targets != IGN).astype(np.float64))
        if use_w:
            counted = counted * torch.tensor(weights, dtype=torch.float64)
        loss = (counted * rows).sum() / counted.sum()
        loss.backward(torch.tensor(float(dloss), dtype=torch.float64))
        tens[f"{name}/losses"] = f32(rows * (counted != 0))  # the kernel writes 0 for uncounted rows
        tens[f"{name}/loss"] = np.array([loss.item()], dtype=np.float64)
        tens[f"{name}/dloss"] = np.array([dloss], dtype=np.float32)
        tens[f"{name}/dlogits"] = f32(tl.grad)
    save(os.path.join(out, "cross_entropy.safetensors"), tens, {"ignore_index": str(IGN)})


def gen_bce(out):
    g = rng(107)
    n = 203
    logits = randn(g, n, scale=3.0)
    logits[:4] = [-40.0, -15.0, 15.0, 40.0]  # log1p(exp(-|x|)) stability
    targets = (g.uniform(size=n) > 0.5).astype(np.float32)
    targets[10:30] = g.uniform(size=20).astype(np.float32)  # soft labels too
    weights = g.uniform(0.0, 2.0, n).astype(np.float32)
    tens = {"logits": logits, "targets": targets, "weights": weights}
    for name, use_w in (("w", True), ("nw", False)):
        dloss = np.float32(g.uniform(0.5, 2.0))
        tl = leaf(logits)
        tw = torch.tensor(weights, dtype=torch.float64) if use_w else None
        ty = torch.tensor(targets, dtype=torch.float64)
        rows = F.binary_cross_entropy_with_logits(tl, ty, weight=tw, reduction="none")
        loss = F.binary_cross_entropy_with_logits(tl, ty, weight=tw, reduction="mean")
        loss.backward(torch.tensor(float(dloss), dtype=torch.float64))
        tens[f"{name}/losses"] = f32(rows)
        tens[f"{name}/loss"] = np.array([loss.item()], dtype=np.float64)
        tens[f"{name}/dloss"] = np.array([dloss], dtype=np.float32)
        tens[f"{name}/dlogits"] = f32(tl.grad)
    save(os.path.join(out, "bce.safetensors"), tens)


def gen_layernorm(out):
    g = rng(108)
    N, C, eps = 37, 53, 1e-5
    x = randn(g, N, C) * g.uniform(0.5, 3.0, (N, 1)).astype(np.float32) + np.float32(3.0)
    x = x.astype(np.float32)
    w, b = (1 + randn(g, C, scale=0.3)), randn(g, C, scale=0.3)
    dout = randn(g, N, C)
    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    o = F.layer_norm(tx, (C,), tw, tb, eps)
    o.backward(torch.tensor(dout, dtype=torch.float64))
    xd = torch.tensor(x, dtype=torch.float64)
    mean = xd.mean(-1)
    rstd = 1.0 / torch.sqrt(xd.var(-1, unbiased=False) + eps)
    tx2 = leaf(x)
    o2 = F.layer_norm(tx2, (C,), None, None, eps)
    o2.backward(torch.tensor(dout, dtype=torch.float64))
    save(os.path.join(out, "layernorm.safetensors"), {
        "x": x, "w": w, "b": b, "eps": np.array([eps]), "out": f32(o), "mean": f32(mean),
        "rstd": f32(rstd), "dout": dout, "dx": f32(tx.grad), "dw": f32(tw.grad),
        "db": f32(tb.grad), "noaff/out": f32(o2), "noaff/dx": f32(tx2.grad)})


def rmsnorm(x, w, eps):
    """RMSNorm with torch ops (torch 1.13 has no module): x / sqrt(mean(x^2) + eps) * w."""
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * w if w is not None else y


def gen_rmsnorm(out):
    g = rng(109)
    N, C, eps = 37, 53, 1e-6
    x = (randn(g, N, C) * g.uniform(0.2, 4.0, (N, 1))).astype(np.float32)
    w = 1 + randn(g, C, scale=0.3)
    dout = randn(g, N, C)
    tx, tw = leaf(x), leaf(w)
    o = rmsnorm(tx, tw, eps)
    o.backward(torch.tensor(dout, dtype=torch.float64))
    xd = torch.tensor(x, dtype=torch.float64)
    rstd = torch.rsqrt(xd.pow(2).mean(-1) + eps)
    tx2 = leaf(x)
    o2 = rmsnorm(tx2, None, eps)
    o2.backward(torch.tensor(dout, dtype=torch.float64))
    save(os.path.join(out, "rmsnorm.safetensors"), {
        "x": x, "w": w, "eps": np.array([eps]), "out": f32(o), "rstd": f32(rstd), "dout": dout,
        "dx": f32(tx.grad), "dw": f32(tw.grad), "now/out": f32(o2), "now/dx": f32(tx2.grad)})


def rope_ref(x, pos, theta):
    """Llama's convention: rotate adjacent pairs (x[2i], x[2i+1]) of each head by
    angle pos * theta^(-2i/hd). x: [B,T,H,hd] float64; pos: [T] ints."""
    hd = x.shape[-1]
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)       # [hd/2]
    ang = torch.tensor(pos, dtype=torch.float64)[:, None] * inv[None, :]    # [T, hd/2]
    c, s = torch.cos(ang)[None, :, None, :], torch.sin(ang)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


def gen_rope(out):
    g = rng(110)
    B, T, H, hd, theta, Tmax = 2, 7, 3, 8, 10000.0, 32
    pad = 5
    stride = H * hd + pad  # q/k inside a wider token row
    buf = randn(g, B, T, stride)
    dbuf = randn(g, B, T, stride)
    pos = np.array([5, 0, 17, 3, 3, 9, 31])
    tens = {"x": buf, "dout": dbuf, "pos": i32(pos)}
    xs = leaf(buf[:, :, :H * hd].reshape(B, T, H, hd))
    o = rope_ref(xs, pos, theta)
    o.backward(torch.tensor(dbuf[:, :, :H * hd].reshape(B, T, H, hd), dtype=torch.float64))
    # Outside the heads the buffer is untouched (forward) / passed through (backward).
    ob, db = buf.copy(), dbuf.copy()
    ob[:, :, :H * hd] = f32(o).reshape(B, T, H * hd)
    db[:, :, :H * hd] = f32(xs.grad).reshape(B, T, H * hd)
    tens["out"], tens["dx"] = ob, db
    # Positions 0..T-1 (pos = NULL) on a contiguous [B,T,H,hd] tensor.
    xc = randn(g, B, T, H, hd)
    dc = randn(g, B, T, H, hd)
    tx = leaf(xc)
    o2 = rope_ref(tx, np.arange(T), theta)
    o2.backward(torch.tensor(dc, dtype=torch.float64))
    tens.update({"seq/x": xc, "seq/dout": dc, "seq/out": f32(o2), "seq/dx": f32(tx.grad)})
    ang = np.arange(Tmax)[:, None] * theta ** (-np.arange(0, hd, 2) / hd)[None, :]
    tens["cos"], tens["sin"] = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
    save(os.path.join(out, "rope.safetensors"), tens,
         {"config": json.dumps({"B": B, "T": T, "H": H, "hd": hd, "stride": stride,
                                "theta": theta, "T_max": Tmax})})


def gen_attention(out, name, seed, B, T, H, KVH, hd, fused):
    """Causal grouped-query attention. fused: q, k, v live side by side in one
    [B, T, (H + 2 KVH) hd] buffer (token strides qs = ks = vs = row width) and
    the output has a padded token stride; else q, k, v, out are contiguous."""
    g = rng(seed)
    G = H // KVH
    W = (H + 2 * KVH) * hd
    qkv = randn(g, B, T, W)
    dout = randn(g, B, T, H, hd)
    t = leaf(qkv)
    q = t[:, :, :H * hd].reshape(B, T, H, hd).transpose(1, 2)                      # [B,H,T,hd]
    k = t[:, :, H * hd:(H + KVH) * hd].reshape(B, T, KVH, hd).transpose(1, 2)     # [B,KVH,T,hd]
    v = t[:, :, (H + KVH) * hd:].reshape(B, T, KVH, hd).transpose(1, 2)
    k = k.repeat_interleave(G, dim=1)  # head h reads kv head h // G
    v = v.repeat_interleave(G, dim=1)
    s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)                  # [B,H,T,T]
    o = (p @ v).transpose(1, 2)                                                    # [B,T,H,hd]
    o.backward(torch.tensor(dout, dtype=torch.float64))
    gq = t.grad[:, :, :H * hd]
    gk = t.grad[:, :, H * hd:(H + KVH) * hd]
    gv = t.grad[:, :, (H + KVH) * hd:]
    tens = {"dims": i32([B, T, H, KVH, hd, 1 if fused else 0]), "att": f32(p), "dout": dout,
            "out": f32(o)}
    if fused:
        tens.update({"qkv": qkv, "dqkv": f32(t.grad)})
    else:
        tens.update({"q": qkv[:, :, :H * hd], "k": qkv[:, :, H * hd:(H + KVH) * hd],
                     "v": qkv[:, :, (H + KVH) * hd:], "dq": f32(gq), "dk": f32(gk), "dv": f32(gv)})
    save(os.path.join(out, f"attention_{name}.safetensors"), tens)


def gen_dtype(out):
    """float32 -> float16 / bfloat16 rounding (round to nearest, ties to even;
    overflow, subnormals, signed zero, inf, NaN) as torch's .half() and
    .bfloat16() do it; bit patterns saved as I32."""
    g = rng(120)
    parts = []
    # Random magnitudes over the whole f16 range and beyond, both signs.
    parts.append(g.standard_normal(1200) * 10.0 ** g.uniform(-9, 6, 1200))
    # Exact f16 ties: midpoints of adjacent finite f16 values.
    h = g.integers(0, 0x7bff, 300).astype(np.uint16)
    lo = h.view(np.float16).astype(np.float32)
    hi = (h + 1).view(np.float16).astype(np.float32)
    parts.append((lo + hi) / 2 * np.where(g.uniform(size=300) < 0.5, -1, 1))
    # Exact bf16 ties: low 16 bits 0x8000, and one ulp either side.
    b = (g.integers(0x0080, 0x7f7f, 300).astype(np.uint32) << 16)
    parts += [(b | 0x8000).view(np.float32), (b | 0x8001).view(np.float32),
              (b | 0x7fff).view(np.float32)]
    # The f16 subnormal range and its rounding edges.
    parts.append(g.uniform(0, 2.0 ** -14, 200))
    parts.append(np.array([2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -25 * 1.0001, 2.0 ** -26,
                           2.0 ** -14, 2.0 ** -14 * (1 - 2.0 ** -11), 65504.0, 65519.0, 65520.0,
                           1e5, 3.4e38, 1e-40, 1e-45, 0.0, -0.0, np.inf, -np.inf, np.nan]))
    x = np.concatenate(parts).astype(np.float32)
    tx = torch.tensor(x)
    f16 = tx.half().view(torch.int16).numpy().astype(np.int32) & 0xffff
    bf16 = tx.bfloat16().view(torch.int16).numpy().astype(np.int32) & 0xffff
    save(os.path.join(out, "dtype.safetensors"), {"x": x, "f16": f16, "bf16": bf16})


# --------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------

STEPS = 5


def run_torch_optim(tens, prefix, make_opt, p0, grads, hp):
    """Run torch.optim for len(grads) steps on one float32 parameter; save the
    gradients and the parameter after every step (prefix/p0 .. prefix/pK)."""
    p = torch.nn.Parameter(torch.tensor(p0))
    opt = make_opt([p])
    tens[f"{prefix}/hp"] = np.array(hp, dtype=np.float64)
    tens[f"{prefix}/p0"] = p0
    for k, gk in enumerate(grads, 1):
        p.grad = torch.tensor(gk)
        opt.step()
        tens[f"{prefix}/g{k}"] = gk
        tens[f"{prefix}/p{k}"] = p.detach().numpy().copy()


def ftrl_reference(grads, alpha, beta, l1, l2, shape):
    """McMahan et al. 2013, Algorithm 1 (FTRL-Proximal with L1 and L2), float64
    numpy, per coordinate. w is recomputed from (z, n) before each gradient;
    returns the weights as they stand after each step (what the next
    prediction would use)."""
    z = np.zeros(shape)
    n = np.zeros(shape)
    out = []

    def weights():
        w = -(z - np.sign(z) * l1) / ((beta + np.sqrt(n)) / alpha + l2)
        return np.where(np.abs(z) <= l1, 0.0, w)

    for gk in grads:
        w = weights()
        g = gk.astype(np.float64)
        sigma = (np.sqrt(n + g * g) - np.sqrt(n)) / alpha
        z = z + g - sigma * w
        n = n + g * g
        out.append(weights())
    return out


def gen_optim(out):
    g = rng(201)
    n = 41
    tens = {}
    p0 = randn(g, n)
    grads = [randn(g, n) for _ in range(STEPS)]
    # SGD: hp = lr, momentum, dampening, weight_decay, nesterov
    for name, lr, mom, damp, wd, nest in (("sgd_plain", 0.1, 0.0, 0.0, 0.0, 0),
                                          ("sgd_momentum", 0.05, 0.9, 0.1, 0.01, 0),
                                          ("sgd_nesterov", 0.05, 0.9, 0.0, 0.02, 1)):
        run_torch_optim(tens, name,
                        lambda ps, lr=lr, mom=mom, damp=damp, wd=wd, nest=nest: torch.optim.SGD(
                            ps, lr=lr, momentum=mom, dampening=damp, weight_decay=wd,
                            nesterov=bool(nest)),
                        p0, grads, [lr, mom, damp, wd, nest])
    # Adam (L2 weight decay) and AdamW (decoupled): hp = lr, beta1, beta2, eps, wd, decoupled
    run_torch_optim(tens, "adam", lambda ps: torch.optim.Adam(
        ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False),
        p0, grads, [0.01, 0.9, 0.999, 1e-8, 0.01, 0])
    run_torch_optim(tens, "adamw", lambda ps: torch.optim.AdamW(
        ps, lr=0.01, betas=(0.85, 0.99), eps=1e-6, weight_decay=0.1, foreach=False),
        p0, grads, [0.01, 0.85, 0.99, 1e-6, 0.1, 1])
    # Adagrad: hp = lr, lr_decay, weight_decay, eps
    run_torch_optim(tens, "adagrad", lambda ps: torch.optim.Adagrad(
        ps, lr=0.1, lr_decay=0.01, weight_decay=0.01, eps=1e-10, foreach=False),
        p0, grads, [0.1, 0.01, 0.01, 1e-10])

    # Sparse-row Adagrad: a [V, D] table, each step a coalesced COO gradient on
    # a few rows; torch's Adagrad takes sparse gradients (weight_decay 0 there).
    V, D = 13, 5
    table0 = randn(g, V, D)
    t = torch.nn.Parameter(torch.tensor(table0))
    opt = torch.optim.Adagrad([t], lr=0.1, lr_decay=0.02, eps=1e-10, foreach=False)
    tens["adagrad_rows/hp"] = np.array([0.1, 0.02, 0.0, 1e-10])
    tens["adagrad_rows/p0"] = table0
    ftrl_rows_grads = []
    for k in range(1, STEPS + 1):
        ids = np.sort(g.choice(V, size=4 + k % 3, replace=False))
        rows = randn(g, len(ids), D)
        t.grad = torch.sparse_coo_tensor(torch.tensor(ids[None, :], dtype=torch.int64),
                                         torch.tensor(rows), (V, D)).coalesce()
        opt.step()
        tens[f"adagrad_rows/ids{k}"] = i32(ids)
        tens[f"adagrad_rows/rows{k}"] = rows
        tens[f"adagrad_rows/p{k}"] = t.detach().numpy().copy()
        dense = np.zeros((V, D), dtype=np.float32)
        dense[ids] = rows
        ftrl_rows_grads.append(dense)

    # FTRL-proximal (numpy float64 reference, see ftrl_reference): dense and rows.
    alpha, beta, l1, l2 = 0.1, 1.0, 0.6, 0.1
    tens["ftrl/hp"] = np.array([alpha, beta, l1, l2])
    for k, wk in enumerate(ftrl_reference(grads, alpha, beta, l1, l2, (n,)), 1):
        tens[f"ftrl/g{k}"] = grads[k - 1]
        tens[f"ftrl/w{k}"] = wk.astype(np.float32)
    for k, wk in enumerate(ftrl_reference(ftrl_rows_grads, alpha, beta, l1, l2, (V, D)), 1):
        tens[f"ftrl_rows/w{k}"] = wk.astype(np.float32)  # ids/rows: adagrad_rows/ids{k}, rows{k}

    # Global-norm clipping over three tensors: one case that clips, one that does not.
    shapes = [(7, 5), (11,), (3, 4, 2)]
    gs = [randn(g, *s) for s in shapes]
    for name, max_norm in (("clip", 1.5), ("noclip", 100.0)):
        ps = [torch.nn.Parameter(torch.zeros(s)) for s in shapes]
        for p, gk in zip(ps, gs):
            p.grad = torch.tensor(gk)
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        tens[f"{name}/max_norm"] = np.array([max_norm])
        tens[f"{name}/total"] = np.array([total.item()])
        for i, (p, gk) in enumerate(zip(ps, gs)):
            tens[f"{name}/g{i}"] = gk
            tens[f"{name}/out{i}"] = p.grad.numpy().copy()

    # nanoGPT's get_lr, steps counted from 0.
    warmup, total, lr_max, lr_min = 10, 50, 6e-4, 6e-5

    def get_lr(it):
        if it < warmup:
            return lr_max * (it + 1) / (warmup + 1)
        if it > total:
            return lr_min
        ratio = (it - warmup) / (total - warmup)
        coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
        return lr_min + coeff * (lr_max - lr_min)

    steps = np.arange(0, total + 6)
    tens["sched/hp"] = np.array([warmup, total, lr_max, lr_min])
    tens["sched/lr"] = np.array([get_lr(int(s)) for s in steps])
    save(os.path.join(out, "optim.safetensors"), tens)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "fixtures"), help="output directory")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    gen_matmul(args.out)
    gen_embedding(args.out)
    gen_embedding_bag(args.out)
    gen_activations(args.out)
    gen_softmax(args.out)
    gen_cross_entropy(args.out)
    gen_bce(args.out)
    gen_layernorm(args.out)
    gen_rmsnorm(args.out)
    gen_rope(args.out)
    gen_attention(args.out, "gqa", 111, B=2, T=19, H=4, KVH=2, hd=8, fused=False)
    gen_attention(args.out, "mha_fused", 112, B=2, T=19, H=4, KVH=4, hd=8, fused=True)
    gen_attention(args.out, "mqa", 113, B=2, T=19, H=4, KVH=1, hd=8, fused=False)
    gen_attention(args.out, "long_fused", 114, B=1, T=70, H=4, KVH=2, hd=8, fused=True)
    gen_dtype(args.out)
    gen_optim(args.out)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"gen_kernels.py: wrote fixtures to {args.out} ({total} bytes, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
