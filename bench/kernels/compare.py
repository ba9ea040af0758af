#!/usr/bin/python3
"""compare.py — read JSON lines from bench_kernels and torch_kernels runs
(several rounds, several torch configurations) and print the comparison:
for each op and shape the best (lowest) median time of each implementation,
PyTorch's best configuration, and the ratio torch_ms / northstar_ms (> 1:
northstar is faster). Also: matmul GFLOP/s against the machine's peak
estimate and against raw cblas_sgemm (OpenBLAS's own speed)."""
import json, re, sys


def peak_gflops():
    """FMA lanes x 2 FMA pipes x 2 flops x nominal clock x cores."""
    flags, mhz, cores = "", 0.0, 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags") and not flags:
                flags = line
            elif line.startswith("cpu MHz") and not mhz:
                mhz = float(line.split(":")[1])
            elif line.startswith("processor"):
                cores += 1
    lanes = 16 if " avx512f" in flags else 8 if " avx2" in flags else 4
    fma = 2 if " fma" in flags else 1
    return lanes * 2 * fma * mhz / 1e3 * cores, lanes, mhz, cores


def main(paths):
    best = {}
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                d = json.loads(line)
                key = (d["op"], d["shape"], d["impl"])
                cfg = f"t{d.get('torch_threads','')}/blas{d.get('openblas_threads','')}" if d["impl"] == "torch" else ""
                if key not in best or d["ms"] < best[key][0]:
                    best[key] = (d["ms"], d["gflops"], cfg)
    peak, lanes, mhz, cores = peak_gflops()
    print(f"machine peak estimate: {peak:.0f} GFLOP/s fp32 ({lanes} lanes x 2 (FMA) x 2 pipes x {mhz:.0f} MHz x {cores} cores)")
    print()
    print(f"{'op':<18} {'shape':<22} {'northstar ms':>12} {'torch ms':>10} {'torch cfg':>12} {'torch/ns':>9}  {'ns GFLOP/s':>10}")
    ops = sorted({(k[0], k[1]) for k in best}, key=lambda x: (x[0].split('_')[0], x[1], x[0]))
    for op, shape in ops:
        ns = best.get((op, shape, "northstar")); th = best.get((op, shape, "torch"))
        if not ns:
            continue
        ratio = f"{th[0] / ns[0]:.2f}x" if th else "-"
        print(f"{op:<18} {shape:<22} {ns[0]:>12.3f} {th[0] if th else float('nan'):>10.3f} {th[2] if th else '':>12} {ratio:>9}  {ns[1]:>10.1f}")
    print()
    for op, shape in ops:
        if op != "matmul_fwd":
            continue
        ns = best.get((op, shape, "northstar")); raw = best.get(("sgemm", shape, "northstar"))
        if ns and raw:
            print(f"matmul_fwd {shape:<16} {ns[1]:6.1f} GFLOP/s = {100 * ns[1] / peak:5.1f}% of peak, "
                  f"{100 * ns[1] / raw[1]:5.1f}% of raw cblas_sgemm ({raw[1]:.1f} GFLOP/s)")


if __name__ == "__main__":
    main(sys.argv[1:])
