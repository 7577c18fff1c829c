"""Forward+backward of large global and windowed poolings against torch's max pooling, a scan
for performance cliffs (issue 12: "no performance cliff in any layout, window size or dtype").

    python -m tests.global_scan [--rows TEXT] [--repeats N]

Each case times ``y = op(x, a); y.sum().backward()`` with a learnable parameter (P-pooling
alpha 2.5, GeM p = 3.1; a new input gradient every call, as training has) and the same with
torch's ``max_poolNd`` / ``adaptive_max_poolNd`` of the same shape, best of ``--repeats`` (7) calls
after two warm-ups, two threads, inputs ``torch.rand(shape) + 0.05``; prints milliseconds and
the ratio. A dev tool (not collected by pytest): figures in the README name the machine and
the commit."""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import ppverify.ops as ops
from tests.zero_windows_timing import best_ms

CASES = [
    ("global C1 4096^2", (1, 1, 4096, 4096), 2, "global"),
    ("global C2 2896^2", (1, 2, 2896, 2896), 2, "global"),
    ("global C1 2896^2", (1, 1, 2896, 2896), 2, "global"),
    ("global C3 2048^2", (1, 3, 2048, 2048), 2, "global"),
    ("global C5 1024^2", (1, 5, 1024, 1024), 2, "global"),
    ("global C1 8192^2", (1, 1, 8192, 8192), 2, "global"),
    ("global 1-D 4M", (1, 1, 4_000_000), 1, "global"),
    ("global 1-D 16M", (1, 1, 16_000_000), 1, "global"),
    ("global C1 3000^2", (1, 1, 3000, 3000), 2, "global"),
    ("global 3-D", (1, 2, 128, 128, 128), 3, "global"),
    ("k3s2p1 1-D long", (1, 1, 8_000_000), 1, (3, 2, 1)),
    ("k3s2p1 3-D", (1, 4, 128, 128, 128), 3, (3, 2, 1)),
    ("k7s1 2-D", (4, 16, 256, 256), 2, (7, 1, 3)),
    ("k2s2 2-D bf16", (8, 64, 112, 112), 2, (2, 2, 0)),
]


def _best(f, repeats: int) -> float:
    # two warm-ups: with one, the first case of a fresh process was sometimes 2x slower
    return best_ms(f, repeats, warmups=2) / 1e3


def _ops(op: str, d: int, kind):
    if kind == "global":
        name = f"adaptive_p_pool{d}d" if op == "ppool" else f"adaptive_gem_pool{d}d"
        return (lambda x, a: getattr(ops, name)(x, a, 1),
                lambda x: getattr(F, f"adaptive_max_pool{d}d")(x, 1))
    k, s, p = kind
    name = f"p_pool{d}d" if op == "ppool" else f"gem_pool{d}d"
    return (lambda x, a: getattr(ops, name)(x, a, k, s, p),
            lambda x: getattr(F, f"max_pool{d}d")(x, k, s, p))


def _time_pair(x, op: str, ours, theirs, repeats: int) -> tuple[float, float]:
    """Best forward+backward times (seconds) of ours (learnable parameter) and torch's."""
    xr = x.clone().requires_grad_()
    a = torch.tensor(2.5 if op == "ppool" else 3.1, requires_grad=True)

    def run_ours():
        ours(xr, a).sum().backward()
        xr.grad = None
        a.grad = None

    def run_theirs():
        theirs(xr).sum().backward()
        xr.grad = None

    return _best(run_ours, repeats), _best(run_theirs, repeats)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="", help="keep the cases whose label contains TEXT")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    for label, shape, d, kind in CASES:
        if args.rows not in label:
            continue
        x = torch.rand(*shape) + 0.05
        if "bf16" in label:
            x = x.bfloat16()
        for op in ("ppool", "gem"):
            ours, theirs = _ops(op, d, kind)
            t1, t2 = _time_pair(x, op, ours, theirs, args.repeats)
            print(f"{label:22s} {op:5s} fwd+bwd {t1 * 1e3:8.2f} ms  {t1 / t2:5.2f}x max",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
