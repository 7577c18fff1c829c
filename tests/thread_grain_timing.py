"""Time the ops where the kernel's thread grains decide the threads, in one run.

    python -m tests.thread_grain_timing [--rounds N] [--threads N] [--load]
                                        [--old PAIRS,ELEMENTS | --against CHECKOUT]

The kernel gives a call a second thread per ``THREAD_PAIRS`` window-element pairs of a
forward's work (2**14; ``_native.thread_pairs``) and a call cut into segments one per
``SEG_THREAD_ELEMENTS`` input elements (2**13; ``_native.segment_grain``); a recomputing
backward counts its work twice and a backward from a disjoint state a quarter (``WORK_*`` in
ppool_kernel.cpp). Until 2026-12-07 the grains were 2**16 and 2**15 for every path, which kept
inputs of batch 1 and short signals on one thread. For each case (2-D inputs of batch 1 and 2,
short 1-D signals, a small 3-D volume; and three whose threads the grains do not change: a
tiny input, 8 planes of 32 x 32, the matrix's small row) this prints P-pooling's forward and
forward+backward and GeM's forward+backward (a learnable exponent of 2.5, float32), best of N
(default 7) rounds of 20 calls, in two settings that alternate round by round (so both see the
same load), ``max_pool``'s forward+backward, and the ratios of the second setting's times to
the first's. The settings: the base grains ``--old`` (default 65536,32768: the values before
2026-12-07, with today's per-path weights) against the kernel's own, in this process; or with
``--against CHECKOUT`` another checkout's ppverify (``PYTHONPATH=CHECKOUT``, its own kernel
build) against this one, each round a fresh process of each. ``--load`` runs a busy Python loop
in another process while it times (one core of two taken: what a second thread costs on a
loaded machine). Timing only: tests/ops/test_segments.py holds the thread counts and the
results' accuracy at these grains."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASES = [  # shape, kernel, stride, padding
    ((1, 16, 32, 32), 3, 2, 1),
    ((1, 64, 28, 28), 2, 2, 0),
    ((2, 32, 28, 28), 3, 2, 1),
    ((1, 64, 14, 14), 3, 1, 1),
    ((1, 16, 64, 64), 2, 2, 0),
    ((2, 3, 6000), 3, 1, 0),
    ((1, 1, 6000), 3, 1, 0),
    ((1, 1, 16384), 3, 1, 0),
    ((1, 3, 4000), 3, 1, 0),
    ((1, 1, 26, 26, 26), 3, 2, 1),
    ((1, 1, 4, 4), 2, 2, 0),
    ((1, 8, 32, 32), 3, 2, 1),
    ((1, 64, 56, 56), 3, 2, 1),
]
BUSY = "import time\nend = time.time() + 3600\nwhile time.time() < end:\n    pass\n"
CALLS = 20  # calls per timed batch

# One round of every case in a process: the best of `rounds` batches of each op per case, as
# JSON (times in us: P forward, P forward+backward, GeM forward+backward, max_pool's
# forward+backward). Run here, and as a child with another checkout on PYTHONPATH.
ROUND = """
import json, sys, time
import torch
import torch.nn.functional as F
from ppverify.ops import functional, power_mean, _native

def per_call_us(fn, calls):
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6

def run(cases, threads, calls, batches, grains=None):
    torch.set_num_threads(threads)
    if grains:
        _native.thread_pairs(grains[0])
        _native.segment_grain(grains[1])
    out = []
    for shape, k, s, p in cases:
        d = len(shape) - 2
        ppool = getattr(functional, f"p_pool{d}d")
        gem = getattr(power_mean, f"gem_pool{d}d")
        max_pool = getattr(F, f"max_pool{d}d")
        torch.manual_seed(0)
        x = torch.rand(shape) + 0.1
        xg = x.clone().requires_grad_()
        alpha = torch.tensor(2.5, requires_grad=True)

        def fwd():
            with torch.no_grad():
                ppool(x, alpha, k, s, p)

        fns = (fwd, lambda: ppool(xg, alpha, k, s, p).sum().backward(),
               lambda: gem(xg, alpha, k, s, p).sum().backward(),
               lambda: max_pool(xg, k, s, p).sum().backward())
        out.append([min(per_call_us(f, calls) for _ in range(batches)) for f in fns])
    return out

if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                         int(sys.argv[4]))))
"""


def _child(checkout: str | None, threads: int) -> list:
    """One round in a fresh process of ``checkout``'s ppverify (None: this checkout's)."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = checkout if checkout else here
    proc = subprocess.run([sys.executable, "-c", ROUND, json.dumps(CASES), str(threads),
                           str(CALLS), "3"], capture_output=True, text=True, env=env,
                          check=True, cwd=checkout or here)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.thread_grain_timing",
                                     description=__doc__.split("\n\n")[2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--load", action="store_true",
                        help="time with a busy loop running in another process")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--old", default="65536,32768",
                       help="the first setting's base grains: PAIRS,ELEMENTS")
    group.add_argument("--against", metavar="CHECKOUT",
                       help="the first setting: another checkout's ppverify, in fresh processes")
    args = parser.parse_args(argv)
    busy = subprocess.Popen([sys.executable, "-c", BUSY]) if args.load else None
    try:
        if args.against:
            labels = (f"{args.against}", "this checkout")
            settings = [args.against, None]
            runs = {0: [], 1: []}
            for _ in range(args.rounds):
                for i, checkout in enumerate(settings):
                    runs[i].append(_child(checkout, args.threads))
        else:
            namespace: dict = {}
            exec(compile(ROUND, "thread_grain_timing.ROUND", "exec"), namespace)
            from ppverify.ops import _native

            new = (_native.thread_pairs(), _native.segment_grain())
            old = tuple(int(v) for v in args.old.split(","))
            labels = (f"grains {old}", f"grains {new} (the kernel's)")
            runs = {0: [], 1: []}
            try:
                for _ in range(args.rounds):
                    for i, grains in enumerate((old, new)):
                        runs[i].append(namespace["run"](CASES, args.threads, CALLS, 1, grains))
            finally:
                _native.thread_pairs(new[0])
                _native.segment_grain(new[1])
        best = {i: [[min(r[c][j] for r in runs[i]) for j in range(4)]
                    for c in range(len(CASES))] for i in runs}
        print(f"threads {args.threads}, best of {args.rounds} rounds of {CALLS} calls, us: "
              f"{labels[0]} -> {labels[1]}" + ("; a busy loop in another process" if busy
                                                  else ""))
        print(f"{'case':<28} {'P fwd':>18} {'P f+b':>18} {'GeM f+b':>20} {'max f+b':>8}  "
              "ratios (P fwd, P f+b, GeM f+b)")
        for c, (shape, k, s, p) in enumerate(CASES):
            o, n = best[0][c], best[1][c]
            label = f"{shape} k{k} s{s} p{p}"
            print(f"{label:<28} {o[0]:7.1f} -> {n[0]:7.1f} {o[1]:7.1f} -> {n[1]:7.1f} "
                  f"{o[2]:8.1f} -> {n[2]:8.1f} {min(o[3], n[3]):8.1f}  "
                  + " ".join(f"{n[j] / o[j]:.2f}" for j in range(3)))
    finally:
        if busy is not None:
            busy.kill()


if __name__ == "__main__":
    main(sys.argv[1:])
