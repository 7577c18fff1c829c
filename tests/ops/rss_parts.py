"""Peak-RSS growth of the parts of one forward+backward, each in a fresh process with the
matrix's protocol (``ppverify.ops.bench_matrix.peak_rss_growth``: two warm-ups on a small
input, then ``/proc/self/clear_refs`` and the growth of ``VmHWM``), for the README's breakdown
of the small-input row (issue 12)::

    python -m tests.ops.rss_parts [--threads 1] [--shape 1,64,56,56]

Parts: ``max_pool2d`` fwd+bwd; the op's forward without gradient; its forward saving the state;
its fwd+bwd; the same without the overlap state (recomputing backward); the op's gradients by
``torch.autograd.grad`` (no ``.backward()``); torch's ``avg_pool2d(x) * alpha`` by both; the
op's and that product's fwd+bwd after one warm-up (the protocol before 2026-12-02: the first
accumulation into alpha's existing ``.grad`` pages in torch's code, ``peak_rss_growth``). All
k3 s2 p1, float32."""

from __future__ import annotations

import argparse
import subprocess
import sys

PARTS = ("max_pool2d", "fwd_nograd", "fwd_saving", "fwdbwd", "fwdbwd_nostate", "grad_both",
         "torch_avg_alpha_backward", "torch_avg_alpha_grad", "fwdbwd_one_warmup",
         "torch_avg_alpha_backward_one_warmup")

_CHILD = """
import sys, torch
import torch.nn.functional as F
from ppverify.ops import p_pool2d, _native
from ppverify.ops.bench_matrix import peak_rss_growth
part, threads, shape = sys.argv[1], int(sys.argv[2]), tuple(map(int, sys.argv[3].split(",")))
torch.set_num_threads(threads)
if part == "fwdbwd_nostate":
    _native.saves_overlap = lambda op, dtype: False
alpha = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
alpha32 = torch.tensor(2.0, requires_grad=True)
def run(x):
    xg = x.detach().requires_grad_(True)
    if part == "fwd_nograd":
        with torch.no_grad():
            return p_pool2d(x, alpha, 3, 2, 1)
    if part == "max_pool2d":
        y = F.max_pool2d(xg, 3, 2, 1)
    elif part.startswith("torch_avg_alpha"):
        y = F.avg_pool2d(xg, 3, 2, 1) * alpha32
    else:
        y = p_pool2d(xg, alpha, 3, 2, 1)
    if part == "fwd_saving":
        return y
    g = torch.ones_like(y)
    if part == "grad_both":
        return torch.autograd.grad(y, [xg, alpha], g)
    if part == "torch_avg_alpha_grad":
        return torch.autograd.grad(y, [xg, alpha32], g)
    y.backward(g)
    return xg
warmups = 1 if part.endswith("one_warmup") else None
grown = peak_rss_growth(run, torch.rand(1, shape[1], 8, 8), lambda: torch.rand(*shape), warmups)
print(grown // 1024)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shape", default="1,64,56,56")
    args = parser.parse_args(argv)
    for part in PARTS:
        proc = subprocess.run([sys.executable, "-c", _CHILD, part, str(args.threads),
                               args.shape], capture_output=True, text=True, check=True)
        print(f"{part:<26} +{proc.stdout.strip().splitlines()[-1]} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
