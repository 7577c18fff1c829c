"""Time the float64 pure-torch paths (P-pooling's fallback, the power mean): a development tool.

    python -m tests.time_float64_paths [--op ppool|gem] [--param P] [--shape N C H W]
                                      [--repeats R]

One forward+backward of ``p_pool2d`` (with the compiled kernel switched off: the pure-torch
path, the fallback on CPU and on every device without a kernel) or ``gem_pool2d`` (float64 has
no kernel), kernel 3 stride 2 padding 1, a learnable parameter, on one thread; prints the best
and the median of ``--repeats`` calls after two warm-up calls. To compare with another commit,
run it there too (``git stash`` or a second checkout): the README's before/after figures of the
float64 paths were taken this way. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ppverify.ops import _dispatch, functional, power_mean


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", choices=("ppool", "gem"), default="gem")
    parser.add_argument("--param", type=float, default=3.0, help="alpha or p (default 3)")
    parser.add_argument("--shape", type=int, nargs=4, default=(2, 32, 56, 56))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _dispatch._use_native = lambda x: False  # the pure-torch path for P-pooling too
    fn = functional.p_pool2d if args.op == "ppool" else power_mean.gem_pool2d
    x = torch.rand(*args.shape, dtype=torch.float64, requires_grad=True)
    param = torch.tensor(args.param, dtype=torch.float64, requires_grad=True)

    def step():
        fn(x, param, 3, 2, 1).sum().backward()

    for _ in range(2):
        step()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(f"{args.op} float64 {tuple(args.shape)} k3 s2 p1, param {args.param:g}, one thread: "
          f"fwd+bwd best {min(times) * 1e3:.1f} ms, median {statistics.median(times) * 1e3:.1f} ms"
          f" ({args.repeats} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
