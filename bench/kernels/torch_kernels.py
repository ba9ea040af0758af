#!/usr/bin/python3
"""torch_kernels.py — the PyTorch side of bench_kernels.c: the same ops and
shapes, timed the same way (warm-up, then the median of repeated runs),
printed as JSON lines with "impl": "torch".

Attention is the composition PyTorch 1.13 offers (no fused SDPA before 2.0):
q k^T * scale, causal masked_fill, softmax, @ v, with kv heads repeated for
grouped-query attention; backward through autograd from a fixed upstream
gradient. Thread count comes from --threads (torch.set_num_threads); the
OpenBLAS thread count from the environment (the runner tries both settings
and keeps each op's best, so PyTorch is measured at its best).
"""
import argparse, json, math, os, statistics, sys, time

import torch
import torch.nn.functional as F


def timeit(fn, reps):
    t0 = time.perf_counter(); w = 0
    while w < 2 or (time.perf_counter() - t0 < 0.2 and w < 50):
        fn(); w += 1
    ts = []
    for _ in range(reps):
        s = time.perf_counter(); fn(); ts.append((time.perf_counter() - s) * 1e3)
    return statistics.median(ts)


def reps_for(flops):
    r = 1e11 / max(flops, 1)
    return int(min(200, max(5, r)))


def report(op, shape, ms, flops, extra):
    d = {"impl": "torch", "op": op, "shape": shape, "ms": round(ms, 4), "gflops": round(flops / (ms * 1e6), 2)}
    d.update(extra)
    print(json.dumps(d), flush=True)


def bench_matmul(N, C, OC, extra):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, C, generator=g); w = torch.randn(OC, C, generator=g); b = torch.randn(OC, generator=g)
    dout = torch.randn(N, OC, generator=g)
    shape = f"{N}x{C}x{OC}"
    fl = 2.0 * N * C * OC
    report("sgemm", shape, timeit(lambda: torch.mm(x, w.t()), reps_for(fl)), fl, extra)
    report("matmul_fwd", shape, timeit(lambda: F.linear(x, w, b), reps_for(fl)), fl, extra)
    # backward of linear: dx = dout @ w, dw = dout^T @ x, db = sum(dout)
    def bwd():
        torch.mm(dout, w); torch.mm(dout.t(), x); dout.sum(0)
    report("matmul_bwd", shape, timeit(bwd, reps_for(2 * fl)), 2 * fl, extra)


def bench_attention(B, T, H, KVH, hd, extra):
    g = torch.Generator().manual_seed(2)
    q = torch.randn(B, H, T, hd, generator=g, requires_grad=True)
    k = torch.randn(B, KVH, T, hd, generator=g, requires_grad=True)
    v = torch.randn(B, KVH, T, hd, generator=g, requires_grad=True)
    dout = torch.randn(B, H, T, hd, generator=g)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    scale = 1.0 / math.sqrt(hd)
    rep = H // KVH

    def fwd():
        kk = k.repeat_interleave(rep, dim=1) if rep > 1 else k
        vv = v.repeat_interleave(rep, dim=1) if rep > 1 else v
        att = (q @ kk.transpose(-2, -1)) * scale
        att = att.masked_fill(mask, float("-inf")).softmax(dim=-1)
        return att @ vv

    def fwd_nograd():
        with torch.no_grad():
            fwd()

    def fwdbwd():
        q.grad = k.grad = v.grad = None
        fwd().backward(dout)

    shape = f"B{B}_T{T}_H{H}_KV{KVH}_hd{hd}"
    fl = 2.0 * 2.0 * B * H * (T * (T + 1) / 2) * hd
    report("attention_fwd", shape, timeit(fwd_nograd, reps_for(fl)), fl, extra)
    report("attention_fwdbwd", shape, timeit(fwdbwd, reps_for(3 * fl)), 3 * fl, extra)


def bench_layernorm(N, C, extra):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(N, C, generator=g, requires_grad=True)
    w = torch.randn(C, generator=g, requires_grad=True); b = torch.randn(C, generator=g, requires_grad=True)
    dout = torch.randn(N, C, generator=g)

    def fwd():
        with torch.no_grad():
            F.layer_norm(x, (C,), w, b, 1e-5)

    def fwdbwd():
        x.grad = w.grad = b.grad = None
        F.layer_norm(x, (C,), w, b, 1e-5).backward(dout)

    shape = f"{N}x{C}"
    fl = 8.0 * N * C
    report("layernorm_fwd", shape, timeit(fwd, reps_for(fl * 20)), fl, extra)
    report("layernorm_fwdbwd", shape, timeit(fwdbwd, reps_for(fl * 60)), 3 * fl, extra)


def blas_library():
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l.lower()}
        return ",".join(sorted(os.path.basename(os.path.dirname(l)) + "/" + os.path.basename(l) for l in libs))
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(True)
    torch.mm(torch.ones(4, 4), torch.ones(4, 4))  # load BLAS before reading the maps
    extra = {"torch_threads": a.threads, "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
    print(f"torch {torch.__version__}, {a.threads} threads, BLAS {blas_library()}, "
          f"OPENBLAS_NUM_THREADS={extra['openblas_threads']}", file=sys.stderr)
    bench_matmul(768, 128, 384, extra)
    bench_matmul(768, 128, 65, extra)
    bench_matmul(1024, 1024, 1024, extra)
    if not a.quick:
        bench_matmul(2048, 2048, 2048, extra)
        bench_matmul(4096, 4096, 4096, extra)
    bench_attention(12, 64, 4, 4, 32, extra)
    bench_attention(4, 256, 8, 8, 64, extra)
    bench_attention(4, 256, 8, 2, 64, extra)
    bench_layernorm(768, 128, extra)
    bench_layernorm(8192, 1024, extra)
    if not a.quick:
        bench_layernorm(16384, 4096, extra)


if __name__ == "__main__":
    main()
