"""Time and memory of large planes and long signals: P-pooling, the power mean (GeM) and Lp
against torch's max and average pooling of the same shape, each in a fresh process (peak RSS
above the process's before the call, so that no earlier call's buffers hide a later one's).

    python -m tests.ops.large_windows [--shapes 1,1,2048,2048 1,1,1,4194304] [--repeats 5]
    python -m tests.ops.large_windows --windowed 3 1 0 --shapes 1,1,1000000 1,1,2048,2048
    python -m tests.ops.large_windows --channels-last --shapes 8,3,224,224 1,3,999,999
    python -m tests.ops.large_windows --param 3.1 --shapes 8,3,224,224 4,8,224,224

By default one global window per plane (``adaptive_*_pool2d(x, 1)``: 4-D shapes); with
``--windowed K S P`` windows of kernel K, stride S and padding P (``max_pool{d}d``,
``avg_pool{d}d``, ``p_pool{d}d``, ``gem_pool{d}d``, and ``lp_pool{d}d`` where P is 0: it has no
padding) on 3-, 4- or 5-D shapes; with ``--channels-last`` the input in channels-last memory
(4-D ``channels_last``, 5-D ``channels_last_3d``). Prints, per shape and operator, the best
forward and forward+backward times (learnable exponent) and the extra peak memory of a forward
and of a forward+backward (the peak RSS reset before each call, ``/proc/self/clear_refs``:
``bench_matrix.peak_rss_growth``; n/a where the system cannot reset it), with the ratios to
max pooling. A benchmark, not a test:
figures are this machine's."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time, torch
import torch.nn.functional as F
import ppverify.ops as P
shape, op, repeats, windowed, channels_last, param = json.loads(sys.argv[1])
torch.manual_seed(0)
x = torch.rand(shape) + 0.1
if channels_last:
    x = x.contiguous(memory_format=torch.channels_last if len(shape) == 4
                     else torch.channels_last_3d)
p = torch.tensor(param, dtype=torch.float64, requires_grad=True)
if windowed is None:
    fn = {"max": lambda t: F.adaptive_max_pool2d(t, 1),
          "avg": lambda t: F.adaptive_avg_pool2d(t, 1),
          "ppool": lambda t: P.adaptive_p_pool2d(t, p, 1), "gem": lambda t: P.gem(t, p),
          "lp": lambda t: P.adaptive_lp_pool2d(t, p, 1)}[op]
    small = x[..., :8, :8]
else:
    k, s, pad = windowed
    d = len(shape) - 2
    fn = {"max": lambda t: getattr(F, f"max_pool{d}d")(t, k, s, pad),
          "avg": lambda t: getattr(F, f"avg_pool{d}d")(t, k, s, pad, count_include_pad=False),
          "ppool": lambda t: getattr(P, f"p_pool{d}d")(t, p, k, s, pad),
          "gem": lambda t: getattr(P, f"gem_pool{d}d")(t, p, k, s, pad),
          "lp": lambda t: getattr(P, f"lp_pool{d}d")(t, p, k, s)}[op]
    small = x[(..., *[slice(0, 16)] * d)]
from ppverify.ops.bench_matrix import peak_rss_growth
fn(small.clone().requires_grad_(True)).sum().backward()  # the library's first-call set-up
def forward(t):
    with torch.no_grad():
        return fn(t)
def forward_backward(t):
    fn(t).sum().backward()
fwd_mem = peak_rss_growth(forward, small, lambda: x, warmups=1)
both_mem = peak_rss_growth(forward_backward, small.clone().requires_grad_(True),
                           lambda: x.clone().requires_grad_(True), warmups=1)
def best(f):
    t = []
    for _ in range(repeats):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return min(t)
def fwd():
    with torch.no_grad():
        fn(x)
def fwd_bwd():
    xg = x.clone().requires_grad_(True)
    fn(xg).sum().backward()
print(json.dumps({"fwd": best(fwd), "fwd_bwd": best(fwd_bwd), "fwd_mem": fwd_mem,
                  "both_mem": both_mem}))
"""

OPS = ("max", "avg", "ppool", "gem", "lp")


def _mib(nbytes: int | None) -> str:
    return "   n/a" if nbytes is None else f"{nbytes / 2**20:6.0f}"


def measure(shape, op, repeats, windowed=None, channels_last=False, param=3.0):
    out = subprocess.run([sys.executable, "-c", CHILD,
                          json.dumps([shape, op, repeats, windowed, channels_last, param])],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=None,
                        help="comma-separated shapes (default: four global-window cases, or "
                             "with --windowed 1,1,1000000 1,1,2048,2048 4,16,50000)")
    parser.add_argument("--windowed", nargs=3, type=int, metavar=("K", "S", "P"),
                        help="windows of kernel K, stride S, padding P instead of one global "
                             "window per plane")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--channels-last", action="store_true",
                        help="the input in channels-last memory (4-D and 5-D shapes)")
    parser.add_argument("--param", type=float, default=3.0,
                        help="alpha / p of P-pooling, GeM and Lp (default 3: an integer, which "
                             "P-pooling weighs by multiplication; 3.1 takes the logarithm and "
                             "exponential a learned one takes)")
    args = parser.parse_args(argv)
    shapes = args.shapes or (
        ["1,1,1000000", "1,1,2048,2048", "4,16,50000"] if args.windowed else
        ["1,1,2048,2048", "1,1,1,4194304", "1,1,1,4194301", "1,8,1024,1024"])
    ops = OPS if not args.windowed or args.windowed[2] == 0 else OPS[:-1]
    ref_name = "max_pool" if args.windowed else "adaptive_max_pool2d"
    for text in shapes:
        shape = [int(s) for s in text.split(",")]
        rows = {op: measure(shape, op, args.repeats, args.windowed, args.channels_last,
                            args.param)
                for op in ops}
        ref = rows["max"]
        what = "k{} s{} p{}".format(*args.windowed) if args.windowed else "global"
        memory = " channels-last" if args.channels_last else ""
        print(f"{tuple(shape)} float32{memory} {what}, alpha / p {args.param:g} "
              f"(ratios to {ref_name})")
        for op, r in rows.items():
            print(f"  {op:6s} fwd {r['fwd'] * 1e3:8.2f} ms ({r['fwd'] / ref['fwd']:5.1f}x)"
                  f"  fwd+bwd {r['fwd_bwd'] * 1e3:8.2f} ms ({r['fwd_bwd'] / ref['fwd_bwd']:5.1f}x)"
                  f"  extra peak: fwd {_mib(r['fwd_mem'])} MiB, fwd+bwd {_mib(r['both_mem'])} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
