"""``ppverify bench --device cuda``: P-pooling on a CUDA device against torch's pooling.

In one run, interleaved round by round on the same input: ``p_pool2d`` (the Triton kernels,
learnable alpha; as users call it, with validation, which reads one flag back to the host per
call, and with ``validate=False``; each in the default float64 arithmetic and in the mixed one,
``PPVERIFY_TRITON_ARITHMETIC=mixed``: ``p_pool2d_mixed``), ``max_pool2d`` and ``avg_pool2d``,
kernel 2 / stride 2 and kernel 3 / stride 2 / padding 1, in float32, bfloat16 or float16.
Measured:

* forward (under ``no_grad``) and forward+backward (input and alpha require grad; the upstream
  gradient is a tensor of ones made before the timing): CUDA-event time of ``inner`` calls in a
  row divided by ``inner``, best and median over the rounds;
* peak memory: ``torch.cuda.max_memory_allocated`` during one forward+backward above what was
  allocated before it (the input is allocated before, the output, the saved tensors, the
  upstream gradient and the input gradient are counted).

The input of every forward+backward is a fresh leaf (``x.detach().requires_grad_(True)``), so no
op pays for accumulating into ``x.grad``. With ``device="cpu"`` and ``PPVERIFY_TRITON=cpu`` the
same code runs the kernels through Triton's interpreter (wall-clock times, no peak memory):
how this module is tested without a GPU; those times are not GPU figures.

Targets (issue 13, on bfloat16 and float32 (8, 64, 112, 112), both configurations): forward <=
1.2x ``max_pool2d``, forward+backward <= 1.5x, peak memory <= 1.5x (``TARGETS``), checked on
``p_pool2d`` as users call it by default (float64 arithmetic, validation on).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

CONFIGS = [
    {"kernel_size": 2, "stride": 2, "padding": 0},
    {"kernel_size": 3, "stride": 2, "padding": 1},
]
TARGETS = {"forward": 1.2, "forward_backward": 1.5, "peak_memory": 1.5}
SUBJECT, BASELINES = "p_pool2d", ("max_pool2d", "avg_pool2d")
# the P-pooling ops timed: (name, arithmetic, validate, the record's ratio key prefix)
SUBJECTS = [(SUBJECT, "float64", True, "ratios_vs_"),
            ("p_pool2d_novalidate", "float64", False, "ratios_novalidate_vs_"),
            ("p_pool2d_mixed", "mixed", True, "ratios_mixed_vs_"),
            ("p_pool2d_mixed_novalidate", "mixed", False, "ratios_mixed_novalidate_vs_")]


def _ops(alpha_value: float, cfg: dict, device):
    import torch
    import torch.nn.functional as F

    from . import _triton
    from .functional import p_pool2d

    alpha = torch.tensor(alpha_value, dtype=torch.float64, device=device, requires_grad=True)
    k, s, p = cfg["kernel_size"], cfg["stride"], cfg["padding"]

    def subject(arith: str, validate: bool):
        def call(x):  # the backward runs before the next op sets the attribute again
            _triton.forced_arithmetic = arith
            return p_pool2d(x, alpha, k, s, p, validate=validate)
        return call

    ops = {name: subject(arith, validate) for name, arith, validate, _ in SUBJECTS}
    return {**ops,
            "max_pool2d": lambda x: F.max_pool2d(x, k, s, p),
            "avg_pool2d": lambda x: F.avg_pool2d(x, k, s, p)}


def _timed(fn, inner: int, device) -> float:
    """Seconds per call of ``inner`` calls in a row: CUDA events on a GPU, the wall clock
    elsewhere (the interpreter, where this module is tested)."""
    import torch

    if device.type != "cuda":
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - t0) / inner
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(inner):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3 / inner


def _peak(fn, x, device) -> int | None:
    """Bytes allocated by one forward+backward above what was allocated before it (the
    output, saved tensors, upstream gradient and input gradient count; the input does not);
    None off CUDA."""
    import torch

    if device.type != "cuda":
        return None
    xg = x.detach().requires_grad_(True)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    y = fn(xg)
    y.backward(torch.ones_like(y))
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    del y, xg
    return peak


def measure(shape=(8, 64, 112, 112), dtype: str = "float32", alpha: float = 2.0,
            repeats: int = 15, inner: int = 20, configs=None, device: str = "cuda"):
    """One record per configuration: best and median seconds per call, peak bytes and the
    ratios of ``p_pool2d`` to each baseline. ``ValueError`` names a bad argument;
    ``RuntimeError`` when there is no CUDA device or ``p_pool2d`` does not run the Triton
    kernels on ``device`` (the reason and the fix)."""
    import torch

    shape = tuple(shape)
    if len(shape) != 4 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                              for n in shape):
        raise ValueError(f"shape must be four positive sizes (N, C, H, W), got {shape}")
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be float32, bfloat16 or float16, got {dtype!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if isinstance(inner, bool) or not isinstance(inner, int) or inner < 1:
        raise ValueError(f"inner must be a positive integer, got {inner!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"no CUDA device: torch {torch.__version__} (CUDA build: "
                           f"{torch.version.cuda or 'none, a CPU-only build'}) reports "
                           f"torch.cuda.is_available() == False")
    from . import _triton

    gen = torch.Generator(device=dev).manual_seed(0)
    x = torch.rand(shape, generator=gen, device=dev, dtype=getattr(torch, dtype))
    records = []
    for cfg in configs or CONFIGS:
        ops = _ops(alpha, cfg, dev)
        ones = {}
        for name, fn in ops.items():  # warm up: compile the kernels, size the allocator
            y = fn(x.detach().requires_grad_(True))
            ones[name] = torch.ones_like(y)
            y.backward(ones[name])
        try:
            for name, arith, _, _ in SUBJECTS:
                before = _triton.kernel_launches.copy()
                ops[name](x)
                kernel = _triton.launch_name("forward", arith)
                if _triton.kernel_launches[kernel] == before[kernel]:
                    raise RuntimeError(f"{name} did not run the Triton kernels ({kernel}) on "
                                       f"this device: {_triton.unavailable_reason(dev)}")
            fwd = {n: [] for n in ops}
            fb = {n: [] for n in ops}
            for _ in range(repeats):
                for name, fn in ops.items():
                    with torch.no_grad():
                        fwd[name].append(_timed(lambda fn=fn: fn(x), inner, dev))

                    def step(fn=fn, g=ones[name]):  # a fresh leaf: no accumulation in x.grad
                        fn(x.detach().requires_grad_(True)).backward(g)

                    fb[name].append(_timed(step, inner, dev))
            peak = {name: _peak(fn, x, dev) for name, fn in ops.items()}
        finally:
            _triton.forced_arithmetic = None
        rec = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
               f"{dev.type} (Triton's interpreter: times are not GPU figures)",
               "dtype": dtype, "config": cfg,
               "shape": list(shape), "alpha": alpha, "subject": SUBJECT,
               "baselines": list(BASELINES), "repeats": repeats, "inner": inner,
               "forward_s": {n: min(v) for n, v in fwd.items()},
               "forward_backward_s": {n: min(v) for n, v in fb.items()},
               "forward_s_median": {n: statistics.median(v) for n, v in fwd.items()},
               "forward_backward_s_median": {n: statistics.median(v) for n, v in fb.items()},
               "peak_bytes": peak}
        for subject, _, _, prefix in SUBJECTS:
            for base in BASELINES:
                rec[prefix + base] = {
                    "forward": rec["forward_s"][subject] / rec["forward_s"][base],
                    "forward_backward": (rec["forward_backward_s"][subject]
                                         / rec["forward_backward_s"][base]),
                    "peak_memory": None if peak[subject] is None else
                    peak[subject] / max(peak[base], 1),
                }
        records.append(rec)
    return records


def target_failures(rec: dict) -> list[str]:
    """The issue's targets this record misses (vs max_pool2d), as sentences."""
    out = []
    for key, bound in TARGETS.items():
        got = rec["ratios_vs_max_pool2d"][key]
        if got is None:
            out.append(f"{rec['dtype']} {tuple(rec['shape'])} {_describe(rec['config'])}: "
                       f"{key.replace('_', ' ')} not measured on {rec['device']}")
        elif not got <= bound:
            out.append(f"{rec['dtype']} {tuple(rec['shape'])} {_describe(rec['config'])}: "
                       f"{key.replace('_', '+')} {got:.2f}x max_pool2d > {bound}x")
    return out


def _describe(cfg: dict) -> str:
    return f"kernel {cfg['kernel_size']} stride {cfg['stride']} padding {cfg['padding']}"


def print_records(records, out=None) -> None:
    """The records as tables (to ``out``, default the current ``sys.stdout``)."""
    out = sys.stdout if out is None else out
    for rec in records:
        print(f"\n{rec['dtype']} {tuple(rec['shape'])}, {_describe(rec['config'])} "
              f"({rec['device']}; best and median of {rec['repeats']} rounds of "
              f"{rec['inner']} calls)", file=out)
        print(f"  {'op':<22} {'forward us':>18} {'fwd+bwd us':>18} {'peak MiB':>9}", file=out)
        for op in rec["forward_s"]:
            f = f"{1e6 * rec['forward_s'][op]:.1f} ({1e6 * rec['forward_s_median'][op]:.1f})"
            b = (f"{1e6 * rec['forward_backward_s'][op]:.1f} "
                 f"({1e6 * rec['forward_backward_s_median'][op]:.1f})")
            peak = rec["peak_bytes"][op]
            mib = "n/a" if peak is None else f"{peak / 2**20:.1f}"
            print(f"  {op:<22} {f:>18} {b:>18} {mib:>9}", file=out)
        for _name, arith, validate, prefix in SUBJECTS:
            label = "p_pool2d(" + ", ".join(
                ([] if arith == "float64" else [f"{arith} arithmetic"])
                + ([] if validate else ["validate=False"])) + ")"
            for base in rec["baselines"]:
                r = rec.get(prefix + base)
                if r is None:  # a record written before this subject was measured
                    continue
                mem = "n/a" if r["peak_memory"] is None else f"{r['peak_memory']:.2f}x"
                print(f"  {label} / {base}: forward {r['forward']:.2f}x, forward+backward "
                      f"{r['forward_backward']:.2f}x, peak memory {mem}", file=out)
        if "p_pool2d_mixed" in rec["forward_s"]:  # the two arithmetics, side by side
            for validate, pair in ((True, ("p_pool2d_mixed", SUBJECT)),
                                   (False, ("p_pool2d_mixed_novalidate", "p_pool2d_novalidate"))):
                f = rec["forward_s"][pair[0]] / rec["forward_s"][pair[1]]
                b = rec["forward_backward_s"][pair[0]] / rec["forward_backward_s"][pair[1]]
                print(f"  mixed / float64 arithmetic{'' if validate else ' (validate=False)'}: "
                      f"forward {f:.2f}x, forward+backward {b:.2f}x", file=out)


def run(args: argparse.Namespace) -> int:
    """The ``--device cuda`` branch of ``ppverify bench`` (P-pooling suite only)."""
    if args.op != "ppool":
        print("ppverify bench: error: --device cuda measures the P-pooling suite (--op ppool)",
              file=sys.stderr)
        return 2
    if args.fallback:
        print("ppverify bench: error: --fallback measures the CPU pure-torch path; it does not "
              "apply to --device cuda", file=sys.stderr)
        return 2
    if getattr(args, "matrix", False):
        print("ppverify bench: error: --matrix measures the CPU paths; with --device cuda "
              "run the GPU benchmark without it", file=sys.stderr)
        return 2
    try:
        records = measure(tuple(args.shape), args.dtype, 2.0 if args.alpha is None else
                          args.alpha, args.repeats, device=args.device)
    except ValueError as err:
        print(f"ppverify bench: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"ppverify bench: cannot run on {args.device}: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    print_records(records)
    return 0
