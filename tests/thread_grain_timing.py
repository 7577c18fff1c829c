"""Time the ops at the kernel's thread grains against the grains before 2026-12-07, in one run.

    python -m tests.thread_grain_timing [--rounds N] [--threads N] [--load]

The kernel gives a call a second thread per ``THREAD_PAIRS`` window-element pairs (2**14;
``_native.thread_pairs``) and a call cut into segments one per ``SEG_THREAD_ELEMENTS`` input
elements (2**13; ``_native.segment_grain``); until 2026-12-07 they were 2**16 and 2**15, which
kept inputs of batch 1 and short signals on one thread. For each case (2-D inputs of batch 1
and 2, short 1-D signals, a small 3-D volume; and three whose thread count the grains do not
change: a tiny input, 8 planes of 32 x 32, the matrix's small row) this prints P-pooling's
forward and forward+backward and GeM's forward+backward (a learnable exponent of 2.5, float32)
at the old grains and at today's, best of N (default 7) rounds of 20 calls that alternate the two
settings (so both see the same load), ``max_pool``'s forward+backward, and the ratios new / old.
``--load`` runs a busy Python loop in another process while it times (one core of two taken:
what a second thread costs on a loaded machine). Timing only: tests/ops/test_segments.py holds
the thread counts and the results' accuracy at these grains."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CASES = [  # shape, kernel, stride, padding
    ((1, 16, 32, 32), 3, 2, 1),
    ((1, 64, 28, 28), 2, 2, 0),
    ((2, 32, 28, 28), 3, 2, 1),
    ((1, 64, 14, 14), 3, 1, 1),
    ((1, 16, 64, 64), 2, 2, 0),
    ((2, 3, 6000), 3, 1, 0),
    ((1, 1, 16384), 3, 1, 0),
    ((1, 3, 4000), 3, 1, 0),
    ((1, 1, 26, 26, 26), 3, 2, 1),
    ((1, 1, 4, 4), 2, 2, 0),
    ((1, 8, 32, 32), 3, 2, 1),
    ((1, 64, 56, 56), 3, 2, 1),
]
#: (thread pairs, segment grain): the grains before 2026-12-07 and today's
OLD = (1 << 16, 1 << 15)
BUSY = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"
CALLS = 20  # calls per timed batch


def per_call_us(fn, calls: int = CALLS) -> float:
    """Mean time of ``calls`` consecutive calls of ``fn`` in us (after one untimed call)."""
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def time_case(shape, k: int, s: int, p: int, rounds: int, grains) -> tuple[dict, float]:
    """Best (P forward, P forward+backward, GeM forward+backward) in us per grain setting,
    rounds alternating the settings, and ``max_pool``'s forward+backward."""
    import torch
    import torch.nn.functional as F

    from ppverify.ops import _native, functional, power_mean

    d = len(shape) - 2
    ppool = getattr(functional, f"p_pool{d}d")
    gem = getattr(power_mean, f"gem_pool{d}d")
    max_pool = getattr(F, f"max_pool{d}d")
    x = torch.rand(shape) + 0.1
    xg = x.clone().requires_grad_()
    alpha = torch.tensor(2.5, requires_grad=True)

    def fwd():
        with torch.no_grad():
            ppool(x, alpha, k, s, p)

    def fwd_bwd():
        ppool(xg, alpha, k, s, p).sum().backward()

    def gem_fwd_bwd():
        gem(xg, alpha, k, s, p).sum().backward()

    best: dict = {}
    for _ in range(rounds):
        for grain in grains:
            _native.thread_pairs(grain[0])
            _native.segment_grain(grain[1])
            times = [per_call_us(f) for f in (fwd, fwd_bwd, gem_fwd_bwd)]
            old = best.get(grain, [float("inf")] * 3)
            best[grain] = [min(a, b) for a, b in zip(old, times)]
    mx = min(per_call_us(lambda: max_pool(xg, k, s, p).sum().backward())
             for _ in range(rounds))
    return best, mx


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.thread_grain_timing",
                                     description=__doc__.split("\n\n")[2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--load", action="store_true",
                        help="time with a busy loop running in another process")
    args = parser.parse_args(argv)
    import torch

    from ppverify.ops import _native

    torch.set_num_threads(args.threads)
    grains = [OLD, (_native.thread_pairs(), _native.segment_grain())]
    busy = subprocess.Popen([sys.executable, "-c", BUSY]) if args.load else None
    try:
        print(f"threads {args.threads}, best of {args.rounds} rounds, us; grains (pairs, "
              f"segment elements) {grains[0]} -> {grains[1]}"
              + ("; a busy loop in another process" if busy else ""))
        print(f"{'case':<28} {'P fwd old -> new':>18} {'P f+b old -> new':>18} "
              f"{'GeM f+b old -> new':>20} {'max f+b':>8}  new/old (P fwd, P f+b, GeM f+b)")
        for shape, k, s, p in CASES:
            best, mx = time_case(shape, k, s, p, args.rounds, grains)
            o, n = best[grains[0]], best[grains[1]]
            label = f"{shape} k{k} s{s} p{p}"
            print(f"{label:<28} {o[0]:7.1f} -> {n[0]:7.1f} {o[1]:7.1f} -> {n[1]:7.1f} "
                  f"{o[2]:8.1f} -> {n[2]:8.1f} {mx:8.1f}  "
                  + " ".join(f"{b / a:.2f}" for a, b in zip(o, n)))
    finally:
        if busy is not None:
            busy.kill()
        _native.thread_pairs(grains[1][0])
        _native.segment_grain(grains[1][1])


if __name__ == "__main__":
    main(sys.argv[1:])
