"""Time and memory of one large window per plane: P-pooling, the power mean (GeM) and Lp
against torch's ``adaptive_max_pool2d`` and ``adaptive_avg_pool2d``, each in a fresh process
(peak RSS above the input's, so that no earlier call's buffers hide a later one's).

    python -m tests.ops.large_windows [--shapes 1,1,2048,2048 1,1,1,4194304] [--repeats 5]

Prints, per shape and operator, the best forward and forward+backward times (learnable
exponent) and the extra peak memory of a forward and of a forward+backward, with the ratios to
``adaptive_max_pool2d``. A benchmark, not a test: figures are this machine's."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
import torch.nn.functional as F
import ppverify.ops as P
shape, op, repeats = tuple(json.loads(sys.argv[1])), sys.argv[2], int(sys.argv[3])
torch.manual_seed(0)
x = torch.rand(shape) + 0.1
p = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
fn = {"max": lambda t: F.adaptive_max_pool2d(t, 1), "avg": lambda t: F.adaptive_avg_pool2d(t, 1),
      "ppool": lambda t: P.adaptive_p_pool2d(t, p, 1), "gem": lambda t: P.gem(t, p),
      "lp": lambda t: P.adaptive_lp_pool2d(t, p, 1)}[op]
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
base = rss()
with torch.no_grad():
    fn(x)
fwd_mem = rss() - base
xg = x.clone().requires_grad_(True)
fn(xg).sum().backward()
both_mem = rss() - base
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


def measure(shape, op, repeats):
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(shape), op, str(repeats)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["1,1,2048,2048", "1,1,1,4194304",
                                                        "1,1,1,4194301", "1,8,1024,1024"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for text in args.shapes:
        shape = [int(s) for s in text.split(",")]
        rows = {op: measure(shape, op, args.repeats) for op in OPS}
        ref = rows["max"]
        print(f"{tuple(shape)} float32 (ratios to adaptive_max_pool2d)")
        for op, r in rows.items():
            print(f"  {op:6s} fwd {r['fwd'] * 1e3:8.2f} ms ({r['fwd'] / ref['fwd']:5.1f}x)"
                  f"  fwd+bwd {r['fwd_bwd'] * 1e3:8.2f} ms ({r['fwd_bwd'] / ref['fwd_bwd']:5.1f}x)"
                  f"  extra peak: fwd {r['fwd_mem'] / 2**20:6.0f} MiB,"
                  f" fwd+bwd {r['both_mem'] / 2**20:6.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
