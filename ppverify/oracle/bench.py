"""Oracle throughput: certified windows per second.

Workload: P-pooling over 2x2 windows (kernel 2, stride 2) of random inputs in [0.01, 10] with
shape (1, 8, H, W), forward value plus the input gradient and the alpha gradient, every result
correctly rounded to --dtype (default float64), in one process unless --jobs says otherwise. A plain
mpmath loop at 80 bits, without any certification, is timed beside it for scale.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import mpmath
import numpy as np

from .reference import reference

HELP = "oracle throughput in certified windows per second"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--windows", type=int, default=40_000,
                        help="windows per run, rounded up to fill 8 square planes "
                        "(default 40000)")
    parser.add_argument("--alpha", type=float, default=2.5, help="alpha (default 2.5)")
    parser.add_argument("--dtype", default="float64",
                        choices=["float64", "float32", "float16", "bfloat16"],
                        help="format to round to (default float64)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs; the best is kept (default 3)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes for the oracle (default 1)")
    parser.add_argument("--json", action="store_true", help="print a JSON record")


def plain_mpmath_rate(x: np.ndarray, alpha: float, limit: int = 4000) -> float:
    """Windows/s of an uncertified mpmath loop at 80 bits (value, 4 gradients, d/dalpha)."""
    windows = x.reshape(-1, 4)[:limit].tolist()
    start = time.perf_counter()
    with mpmath.workprec(80):
        a = mpmath.mpf(alpha)
        for w in windows:
            xs = [mpmath.mpf(v) for v in w]
            u = [v**a for v in xs]
            s = mpmath.fsum(u)
            y = mpmath.fsum(ui * v for ui, v in zip(u, xs)) / s
            [ui / s * ((a + 1) - a * y / v) for ui, v in zip(u, xs)]
            mpmath.fsum(ui / s * mpmath.log(v) * (v - y) for ui, v in zip(u, xs))
    return len(windows) / (time.perf_counter() - start)


def measure(windows: int, alpha: float, dtype: str, repeat: int, jobs: int) -> dict:
    """Time ``reference`` on at least ``windows`` 2x2 P-pooling windows, best of ``repeat``.

    Raises ``ValueError`` naming the argument when ``windows`` or ``repeat`` is below 1 (and,
    from the oracle, for a bad ``alpha``, ``dtype`` or ``jobs``).
    """
    for name, value in (("windows", windows), ("repeat", repeat)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    channels = 8  # several planes, so that --jobs has work to spread
    side = int(np.ceil(np.sqrt(windows / channels))) * 2
    rng = np.random.default_rng(0)
    x = rng.uniform(0.01, 10.0, size=(1, channels, side, side))
    n_windows = channels * (side // 2) ** 2
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        reference("ppool", x, alpha, 2, dims=2, dtype=dtype, jobs=jobs)
        best = min(best, time.perf_counter() - start)
    return {
        "windows": n_windows,
        "seconds": best,
        "certified_windows_per_second": n_windows / best,
        "plain_mpmath_80bit_windows_per_second": plain_mpmath_rate(x, alpha),
        "dtype": dtype,
        "alpha": alpha,
        "jobs": jobs,
        "processes": processes_for(x.shape[0], channels, side * side, jobs),
        "goal_windows_per_second": 20_000,
    }


def processes_for(batch: int, channels: int, plane: int, jobs: int) -> int:
    """How many processes ``reference(jobs=jobs)`` uses on such an input."""
    from .reference import plane_chunks

    return min(jobs, len(plane_chunks(batch, channels, plane, jobs))) if jobs > 1 else 1


def run(args: argparse.Namespace) -> int:
    try:
        record = measure(args.windows, args.alpha, args.dtype, args.repeat, args.jobs)
    except ValueError as err:
        print(f"ppverify bench-oracle: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    rate = record["certified_windows_per_second"]
    plain = record["plain_mpmath_80bit_windows_per_second"]
    print(f"P-pooling, 2x2 windows, alpha={args.alpha}, value + all gradients, correctly "
          f"rounded to {args.dtype}, jobs={args.jobs} ({record['processes']} process(es): "
          f"never more than the planes)")
    print(f"  certified oracle : {rate:10,.0f} windows/s  ({record['windows']} windows in "
          f"{record['seconds']:.2f} s, best of {args.repeat})")
    print(f"  plain mpmath 80b : {plain:10,.0f} windows/s  (no certification)")
    print(f"  ratio            : {rate / plain:10.1f}x   goal: >= 20,000 windows/s")
    return 0
