"""Benchmark P-pooling against torch's max_pool2d and avg_pool2d (speed and peak memory).

Every operator is measured side by side in one run, interleaved round by round, on the same
float32 input: forward time, forward+backward time (input and, for P-pooling, a learnable
alpha require grad) and two measures of peak memory during one forward+backward:

* profiler: the peak of torch's CPU allocations (the profiler's memory records, relative to the
  moment before the forward). It cannot see allocations made outside torch's allocator (the
  compiled kernel's scratch), and it counts every temporary, including ones the allocator
  reuses at once, so it can overstate what the process really holds;
* RSS: the growth of the peak resident set size of a fresh process (``/proc/self/status``
  ``VmHWM`` after resetting it through ``/proc/self/clear_refs``) over one forward+backward,
  after a warm-up call on a small input (which loads the kernel without leaving freed large
  blocks behind for the measured call to reuse): what the operating system had to provide,
  whoever allocated it. Reported as unavailable where the kernel does not offer the reset.

Times are the best of the rounds (least disturbed by other load), with medians in parentheses.

  ppverify bench                       # (8, 64, 112, 112); kernel 2/stride 2 and 3/2/pad 1
  ppverify bench --shape 2 16 56 56 --repeats 5 --json
  ppverify bench --no-rss              # skip the fresh-process RSS measurement (faster)

Goals: forward <= 1.5x and forward+backward <= 2x max_pool2d; peak memory <= 2x.
The float32 input takes the compiled kernel; --fallback measures the slow pure-torch path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

HELP = "speed and peak memory of the P-pooling op vs max/avg_pool2d"

CONFIGS = [
    {"kernel_size": 2, "stride": 2, "padding": 0},
    {"kernel_size": 3, "stride": 2, "padding": 1},
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", type=int, nargs=4, default=[8, 64, 112, 112],
                        metavar=("N", "C", "H", "W"), help="input shape (default 8 64 112 112)")
    parser.add_argument("--alpha", type=float, default=2.0, help="alpha (default 2.0)")
    parser.add_argument("--repeats", type=int, default=15,
                        help="timed rounds, at least 1 (default 15)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's)")
    parser.add_argument("--fallback", action="store_true",
                        help="benchmark the pure-torch path (PPVERIFY_NATIVE=0 behaviour)")
    parser.add_argument("--no-rss", action="store_true",
                        help="skip the peak-RSS measurement (one fresh process per operator "
                             "and configuration, a few seconds each)")
    parser.add_argument("--json", action="store_true", help="print a JSON record")


def _ops(alpha_value: float, cfg: dict):
    import torch
    import torch.nn.functional as F

    from .functional import p_pool2d

    alpha = torch.tensor(alpha_value, requires_grad=True)
    k, s, p = cfg["kernel_size"], cfg["stride"], cfg["padding"]
    return {
        "p_pool2d": lambda x: p_pool2d(x, alpha, k, s, p),
        "max_pool2d": lambda x: F.max_pool2d(x, k, s, p),
        "avg_pool2d": lambda x: F.avg_pool2d(x, k, s, p),
    }


def _peak_bytes(fn, x) -> int:
    """Peak of torch's CPU allocations (bytes above the start) during one forward+backward.

    From the profiler's memory records: each op's *self* allocation (so nested ops are not
    counted twice), allocations placed at the op's start and frees at its end.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    xg = x.detach().requires_grad_(True)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        y = fn(xg)
        y.backward(torch.ones_like(y))
        del y
    changes = []
    for e in prof.events():
        b = e.self_cpu_memory_usage
        if b > 0:
            changes.append((e.time_range.start, b))
        elif b < 0:
            changes.append((e.time_range.end, b))
    changes.sort(key=lambda c: (c[0], -c[1]))
    current = peak = 0
    for _, b in changes:
        current += b
        peak = max(peak, current)
    return peak


def _proc_status(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def rss_child(name: str, cfg: dict, shape, alpha: float) -> int | None:
    """In this (fresh) process: growth of the peak RSS over one forward+backward of ``name``,
    after a warm-up call on a small input; None where the peak cannot be reset."""
    import gc

    import torch

    torch.manual_seed(0)
    fn = _ops(alpha, cfg)[name]
    small = torch.rand(1, 1, 16, 16).requires_grad_(True)
    y = fn(small)
    y.backward(torch.ones_like(y))
    del y, small
    gc.collect()
    x = torch.rand(*shape)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        base = _proc_status("VmRSS")
    except OSError:
        return None
    xg = x.detach().requires_grad_(True)
    y = fn(xg)
    y.backward(torch.ones_like(y))
    return max(0, _proc_status("VmHWM") - base)


def rss_peak_bytes(name: str, cfg: dict, shape, alpha: float) -> int | None:
    """``rss_child`` in a fresh interpreter (same PPVERIFY_NATIVE and thread count)."""
    import os
    import subprocess

    import torch

    code = ("import json, torch; from ppverify.ops.bench import rss_child; "
            f"torch.set_num_threads({torch.get_num_threads()}); "
            f"print(json.dumps(rss_child({name!r}, {cfg!r}, {tuple(shape)!r}, {alpha!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS measurement of {name} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(shape=(8, 64, 112, 112), alpha: float = 2.0, repeats: int = 15, configs=None,
            rss: bool = True):
    """Return one record per config: best and median times (s), peak bytes and ratios.

    Raises ``ValueError`` naming the argument for a ``shape`` that is not four positive sizes,
    ``repeats`` below 1, or (from the op) an alpha or shape that P-pooling rejects.
    """
    import torch

    shape = tuple(shape)
    if len(shape) != 4 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                              for n in shape):
        raise ValueError(f"shape must be four positive sizes (N, C, H, W), got {shape}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")

    from . import _native

    native = _native.available()
    torch.manual_seed(0)
    x = torch.rand(*shape)
    records = []
    for cfg in configs or CONFIGS:
        ops = _ops(alpha, cfg)
        for fn in ops.values():  # warm up (and build the kernel)
            y = fn(x.detach().requires_grad_(True))
            y.backward(torch.ones_like(y))
        fwd = {n: [] for n in ops}
        fb = {n: [] for n in ops}
        for _ in range(repeats):
            for name, fn in ops.items():
                with torch.no_grad():
                    t0 = time.perf_counter()
                    fn(x)
                    fwd[name].append(time.perf_counter() - t0)
                xg = x.detach().requires_grad_(True)
                t0 = time.perf_counter()
                y = fn(xg)
                y.backward(torch.ones_like(y))
                fb[name].append(time.perf_counter() - t0)
                del y, xg
        peak = {name: _peak_bytes(fn, x) for name, fn in ops.items()}
        rss_peak = {name: rss_peak_bytes(name, cfg, shape, alpha) if rss else None
                    for name in ops}
        rec = {"config": cfg, "shape": list(shape), "alpha": alpha, "native": native,
               "threads": torch.get_num_threads(), "peak_rss_bytes": rss_peak,
               "forward_s": {n: min(v) for n, v in fwd.items()},
               "forward_backward_s": {n: min(v) for n, v in fb.items()},
               "forward_s_median": {n: statistics.median(v) for n, v in fwd.items()},
               "forward_backward_s_median": {n: statistics.median(v) for n, v in fb.items()},
               "peak_bytes": peak}
        for base in ("max_pool2d", "avg_pool2d"):
            for suffix in ("", "_median"):
                f, b = rec["forward_s" + suffix], rec["forward_backward_s" + suffix]
                rec[f"ratios{suffix}_vs_{base}"] = {
                    "forward": f["p_pool2d"] / f[base],
                    "forward_backward": b["p_pool2d"] / b[base],
                    "peak_memory": peak["p_pool2d"] / max(peak[base], 1),
                    "peak_rss": (rss_peak["p_pool2d"] / max(rss_peak[base], 1)
                                 if rss_peak["p_pool2d"] is not None
                                 and rss_peak[base] is not None else None),
                }
        records.append(rec)
    return records


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    if args.fallback:
        os.environ["PPVERIFY_NATIVE"] = "0"
    if args.threads is not None:
        if args.threads < 1:
            print(f"ppverify bench: error: --threads must be at least 1, got {args.threads}",
                  file=sys.stderr)
            return 2
        torch.set_num_threads(args.threads)
    try:
        records = measure(tuple(args.shape), args.alpha, args.repeats, rss=not args.no_rss)
    except ValueError as err:
        print(f"ppverify bench: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    r0 = records[0]
    path = "compiled kernel" if r0["native"] else "pure-torch fallback"
    print(f"P-pooling benchmark: float32 input {tuple(r0['shape'])}, alpha={r0['alpha']}, "
          f"{r0['threads']} threads, {path}; best (and median) of {args.repeats} interleaved "
          f"rounds")
    for rec in records:
        c = rec["config"]
        print(f"\nkernel {c['kernel_size']} stride {c['stride']} padding {c['padding']}")
        print(f"  {'op':<11} {'forward ms':>18} {'fwd+bwd ms':>18} {'profiler MB':>12} "
              f"{'RSS MB':>8}")
        for name in ("p_pool2d", "max_pool2d", "avg_pool2d"):
            f = f"{1e3 * rec['forward_s'][name]:.2f} ({1e3 * rec['forward_s_median'][name]:.2f})"
            b = (f"{1e3 * rec['forward_backward_s'][name]:.2f} "
                 f"({1e3 * rec['forward_backward_s_median'][name]:.2f})")
            rss_mb = rec["peak_rss_bytes"][name]
            rss_text = "n/a" if rss_mb is None else f"{rss_mb / 2**20:.1f}"
            print(f"  {name:<11} {f:>18} {b:>18} {rec['peak_bytes'][name] / 2**20:>12.1f} "
                  f"{rss_text:>8}")
        for base in ("max_pool2d", "avg_pool2d"):
            r, m = rec[f"ratios_vs_{base}"], rec[f"ratios_median_vs_{base}"]
            rss_ratio = "n/a" if r["peak_rss"] is None else f"{r['peak_rss']:.2f}x"
            print(f"  p_pool2d / {base:<10}: forward {r['forward']:.2f}x "
                  f"({m['forward']:.2f}x), forward+backward {r['forward_backward']:.2f}x "
                  f"({m['forward_backward']:.2f}x), peak memory: profiler "
                  f"{r['peak_memory']:.2f}x, RSS {rss_ratio}")
    return 0
