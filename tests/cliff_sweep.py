"""Look for cliffs outside the matrix: shapes of few planes, short signals, wide or deep planes.

    python -m tests.cliff_sweep [--ops ppool,gem] [--dtypes float32[,bfloat16,float64]]

For each case (1-D signals of 6,000 to 200,000 samples, one plane k3 s1 and 2 x 3 planes k3 s2
p1; 2-D planes of 300 x 300, 1000 x 200, 64 x 4000 and 4000 x 64, one plane k3 s1 p1 and 3
planes k3 s2 p1; inputs of batch 1 with many small planes, (1, 16, 32, 32) k3 s2 p1, (1, 64, 28,
28) k2 s2 and (1, 64, 14, 14) k3 s1 p1, where a call's fixed costs count; 3-D (1, 1, 40, 40,
40) k3 s1 p1 and (1, 2, 16, 64, 64) k3 s2 p1), each op and
torch's ``max_pool`` / ``avg_pool`` of the same case run in a fresh process on 2 threads: the
peak-RSS growth of one forward+backward by the matrix's protocol
(``ppverify.ops.bench_matrix.peak_rss_growth``), then the best of 7 forward+backward times
(learnable alpha 2.5 or p 3.0). Each line gives both ratios against the larger of torch's two
and marks a ratio over issue 12's bounds (RSS 1.5x, forward+backward 2x; float64's bound is
3x ``max_pool``'s). A dev tool (not collected by pytest): the README's "Outside the matrix"
figures come from it. Run it alone: other jobs on the cores move the times."""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys

CHILD = r'''
import json, sys, time, torch
import torch.nn.functional as F
import ppverify.ops as P
from ppverify.ops.bench_matrix import peak_rss_growth
shape, k, s, pd, dtype, name = json.loads(sys.argv[1])
torch.set_num_threads(2)
dt = getattr(torch, dtype); d = len(shape) - 2
p = torch.tensor(2.5 if name == "ppool" else 3.0, requires_grad=True)
fn = {"ppool": lambda x: getattr(P, f"p_pool{d}d")(x, p, k, s, pd),
      "gem": lambda x: getattr(P, f"gem_pool{d}d")(x, p, k, s, pd),
      "max": lambda x: getattr(F, f"max_pool{d}d")(x, k, s, pd),
      "avg": lambda x: getattr(F, f"avg_pool{d}d")(x, k, s, pd)}[name]
def make(sh): return (torch.rand(*sh) + 0.01).to(dt)
def run(x):
    xg = x.detach().requires_grad_(True); y = fn(xg); y.backward(torch.ones_like(y)); return y
grown = peak_rss_growth(run, make((1, shape[1]) + (8,) * d), lambda: make(shape))
x = make(shape); best = 1e9
for _ in range(7):
    t = time.perf_counter(); run(x); best = min(best, time.perf_counter() - t)
print(json.dumps([grown, best]))
'''


def cases() -> list[tuple]:
    out = []
    for n in (6000, 20000, 50000, 200000):
        out += [((1, 1, n), 3, 1, 0), ((2, 3, n), 3, 2, 1)]
    for hw in ((300, 300), (1000, 200), (64, 4000), (4000, 64)):
        out += [((1, 1) + hw, 3, 1, 1), ((1, 3) + hw, 3, 2, 1)]
    out += [((1, 16, 32, 32), 3, 2, 1), ((1, 64, 28, 28), 2, 2, 0), ((1, 64, 14, 14), 3, 1, 1)]
    return out + [((1, 1, 40, 40, 40), 3, 1, 1), ((1, 2, 16, 64, 64), 3, 2, 1)]


def measure(case: tuple, dtype: str, name: str) -> list | None:
    shape, k, s, pd = case
    proc = subprocess.run([sys.executable, "-c", CHILD,
                           json.dumps([list(shape), k, s, pd, dtype, name])],
                          capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", default="ppool,gem")
    parser.add_argument("--dtypes", default="float32")
    args = parser.parse_args()
    for case, dtype in itertools.product(cases(), args.dtypes.split(",")):
        shape, k, s, pd = case
        base = [measure(case, dtype, b) for b in ("max", "avg")]
        if None in base:
            print(f"{shape}: torch's pooling failed")
            continue
        rss0, t0 = max(b[0] or 0 for b in base) or 1, max(b[1] for b in base)
        t_max = base[0][1]
        for op in args.ops.split(","):
            got = measure(case, dtype, op)
            if got is None:
                print(f"{op} {dtype} {shape}: failed")
                continue
            rss, t = got[0] or 0, got[1]
            flags = (" <-- RSS" if rss > 1.5 * rss0 else "") + (
                " <-- TIME" if (t > 3 * t_max if dtype == "float64" else t > 2 * t0) else "")
            print(f"{op:5s} {dtype:8s} {str(shape):22s} k{k} s{s} p{pd}: rss {rss >> 10:6d} KB / "
                  f"{rss0 >> 10:6d} = {rss / rss0:5.2f}   f+b {t * 1e3:8.3f} / {t0 * 1e3:8.3f} ms "
                  f"= {t / t0:5.2f}{flags}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
