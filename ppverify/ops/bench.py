"""Benchmark the ops against torch's pooling (speed and peak memory), ratios in one run.

Every operator of a suite is measured side by side in one run, interleaved round by round, on
the same float32 input: forward time, forward+backward time (input and, for the ops with a
parameter, a learnable alpha or p require grad) and two measures of peak memory during one
forward+backward:

* profiler: the peak of torch's CPU allocations (the profiler's memory records, relative to the
  moment before the forward). It cannot see allocations made outside torch's allocator (the
  compiled kernel's scratch), and it counts every temporary, including ones the allocator
  reuses at once, so it can overstate what the process really holds;
* RSS: the growth of the peak resident set size of a fresh process (/proc/self/status
  VmHWM after resetting it through /proc/self/clear_refs) over one forward+backward,
  after two warm-up calls on a small input (which load the kernel and torch's code without
  leaving freed large blocks behind for the measured call to reuse): what the operating
  system had to provide, whoever allocated it. Reported as unavailable where the kernel
  does not offer the reset.

Times are the best of the rounds (least disturbed by other load), with medians in
parentheses. The header names the kernel's vector code and the machine (CPU model, usable
CPUs, torch version; "machine" in --json): ratios differ between CPUs. Suites (--op):

* ppool (default): p_pool2d against max_pool2d and avg_pool2d, kernel 2 /
  stride 2 and kernel 3 / stride 2 / padding 1. Goals: forward <= 1.5x and forward+backward
  <= 2x max_pool2d; peak memory <= 2x.
* gem: the power mean gem_pool2d (p = 3) against torch's lp_pool2d and the usual
  GeM formula avg_pool2d(x.clamp(min=1e-6).pow(p)).pow(1/p) (kernel 2 / stride 2 and
  kernel 3 / stride 2), and global GeM (gem) against the same formula over the whole plane
  and adaptive_avg_pool2d(x, 1).
* adaptive: adaptive_p_pool2d (global, and to 7x7) against adaptive_max_pool2d and
  adaptive_avg_pool2d.

  ppverify bench                       # (8, 64, 112, 112), the P-pooling suite
  ppverify bench --op gem --shape 8 64 56 56 --repeats 5 --json
  ppverify bench --no-rss              # skip the fresh-process RSS measurement (faster)
  ppverify bench --device cuda --dtype bfloat16   # the Triton kernels on a GPU (bench_cuda)

The float32 input takes the compiled kernel (P-pooling, the power mean and the Lp norm, every
layout); --fallback measures the pure-torch path.

  ppverify bench --matrix --rss        # issue 12's whole table (every dtype, layout, window
                                       # size, memory format), ratios and targets, one run
  ppverify bench --matrix --quick      # every case on small inputs (a minute)
  ppverify bench --matrix --op gem     # the power mean's and Lp's rows (GeM layouts, one long
                                       # signal, one large plane, global heads, f64)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time

HELP = "speed and peak memory of the ops vs torch's pooling (ratios in one run)"

CONFIGS = [
    {"kernel_size": 2, "stride": 2, "padding": 0},
    {"kernel_size": 3, "stride": 2, "padding": 1},
]
GEM_CONFIGS = [
    {"kernel_size": 2, "stride": 2, "padding": 0},
    {"kernel_size": 3, "stride": 2, "padding": 0},  # lp_pool2d has no padding
    {"global": True},
]
ADAPTIVE_CONFIGS = [{"output_size": 1}, {"output_size": 7}]
SUITES = ("ppool", "gem", "adaptive")
EPS = 1e-6  # the usual GeM clamp


def machine(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The machine a benchmark ran on, as its headers and ``--json`` name it: the CPU's model
    (``model name`` of ``cpuinfo`` on Linux, else ``platform.processor()``, else "unknown
    CPU"), the CPUs the process may use and torch's version (the ratios differ between
    machines: the README's matrices of an Intel Xeon and of an AMD EPYC, both with AVX-512,
    miss different rows)."""
    import platform

    import torch

    model = ""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    model = value.strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or "unknown CPU"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cpus} CPUs, torch {torch.__version__}"


def _vector_code() -> str:
    """The compiled kernel's vector code on this CPU (``avx512``, ``avx2``, ``neon``,
    ``scalar``), or ``none`` without the kernel: printed with every benchmark, since it sets the
    speed (README, "On CPUs without AVX-512")."""
    from . import native_vector_code

    return native_vector_code() or "none"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--op", choices=SUITES, default="ppool",
                        help="suite: ppool (p_pool2d vs max/avg_pool2d, default), gem (the "
                             "power mean vs lp_pool2d and the usual GeM formula), adaptive "
                             "(adaptive_p_pool2d vs adaptive_max/avg_pool2d)")
    parser.add_argument("--shape", type=int, nargs=4, default=[8, 64, 112, 112],
                        metavar=("N", "C", "H", "W"), help="input shape (default 8 64 112 112)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="alpha or p (default: alpha 2.0, p 3.0). An integer alpha or p "
                             "of 0-4 (1-4 for p) is weighed by multiplication, x^2 at 2; any "
                             "other value (a learned one: --alpha 2.5) takes a logarithm and "
                             "an exponential per element, which costs more")
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
    parser.add_argument("--matrix", action="store_true",
                        help="issue 12's whole table in one run: dims 1-3, k2 s2 / k3 s2 p1 / "
                             "k3 s1 / global / adaptive / large windows, contiguous and "
                             "channels-last, float32/bfloat16/float16/float64, small and large "
                             "inputs, scalar and per-channel alpha, inputs after a ReLU "
                             "(zeros, windows of zeros; alpha 2, 1, 0 and -1; alpha 2.5, "
                             "which is not an integer, on six rows), the per-call "
                             "overhead (the functional forward, and the PPool2d layer's "
                             "forward and forward+backward against nn.MaxPool2d's) and the "
                             "first call; ratios against the slower of torch's max and avg "
                             "pooling of the same shape, layout and dtype (--repeats default 5 "
                             "here; RSS only with --rss; see ppverify/ops/bench_matrix.py). "
                             "With --op gem: the power mean's and Lp's rows (learnable p); "
                             "--op adaptive: P-pooling's adaptive and global rows")
    parser.add_argument("--quick", action="store_true",
                        help="with --matrix: the same cases on 12-element inputs (checks that "
                             "every case runs; the ratios then measure per-call overheads)")
    parser.add_argument("--rss", action="store_true",
                        help="with --matrix: also the peak-RSS growth of each op in a fresh "
                             "process (a few seconds per op and row)")
    parser.add_argument("--rows", default=None, metavar="TEXT",
                        help="with --matrix: only the rows whose label contains TEXT "
                             "(e.g. 'f64', 'channels_last', 'k56'), then the per-call "
                             "overhead and the first call; 'per-call' (or 'first call'): "
                             "those two lines alone")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cpu (default) or cuda: P-pooling's Triton kernels against "
                             "max_pool2d/avg_pool2d on the GPU, CUDA-event times and "
                             "torch.cuda peak memory (ppverify.ops.bench_cuda)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"),
                        default="float32", help="input dtype with --device cuda (default "
                                                "float32; the CPU suite is float32)")


def _ppool_ops(alpha_value: float, cfg: dict):
    import torch
    import torch.nn.functional as F

    from .functional import p_pool2d

    alpha = torch.tensor(alpha_value, requires_grad=True)
    k, s, p = cfg["kernel_size"], cfg["stride"], cfg["padding"]
    return "p_pool2d", ("max_pool2d", "avg_pool2d"), {
        "p_pool2d": lambda x: p_pool2d(x, alpha, k, s, p),
        "max_pool2d": lambda x: F.max_pool2d(x, k, s, p),
        "avg_pool2d": lambda x: F.avg_pool2d(x, k, s, p),
    }


def _gem_ops(p_value: float, cfg: dict):
    import torch
    import torch.nn.functional as F

    from .power_mean import gem, gem_pool2d

    p = torch.tensor(p_value, requires_grad=True)
    if cfg.get("global"):
        return "gem", ("usual_gem", "adaptive_avg_pool2d"), {
            "gem": lambda x: gem(x, p),
            "usual_gem": lambda x: F.avg_pool2d(x.clamp(min=EPS).pow(p),
                                                tuple(x.shape[-2:])).pow(1.0 / p),
            "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, 1),
        }
    k, s = cfg["kernel_size"], cfg["stride"]
    return "gem_pool2d", ("lp_pool2d", "usual_gem"), {
        "gem_pool2d": lambda x: gem_pool2d(x, p, k, s),
        "lp_pool2d": lambda x: F.lp_pool2d(x, p_value, k, s),
        "usual_gem": lambda x: F.avg_pool2d(x.clamp(min=EPS).pow(p), k, s).pow(1.0 / p),
    }


def _adaptive_ops(alpha_value: float, cfg: dict):
    import torch
    import torch.nn.functional as F

    from .functional import adaptive_p_pool2d

    alpha = torch.tensor(alpha_value, requires_grad=True)
    n = cfg["output_size"]
    return "adaptive_p_pool2d", ("adaptive_max_pool2d", "adaptive_avg_pool2d"), {
        "adaptive_p_pool2d": lambda x: adaptive_p_pool2d(x, alpha, n),
        "adaptive_max_pool2d": lambda x: F.adaptive_max_pool2d(x, n),
        "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, n),
    }


_SUITES = {"ppool": (_ppool_ops, CONFIGS, 2.0), "gem": (_gem_ops, GEM_CONFIGS, 3.0),
           "adaptive": (_adaptive_ops, ADAPTIVE_CONFIGS, 2.0)}


def _is_kineto_trace_line(line: str) -> bool:
    """Whether ``line`` is one of the lines torch's profiler library (kineto, torch 2.13) writes
    to file descriptor 2 at the start and end of every profiling session
    (``USDT:<date> <pid>:<tid> SyncActivityProfilerHandler.cpp:52] profiler_start``)."""
    return line.startswith("USDT:") and "ActivityProfilerHandler" in line


@contextlib.contextmanager
def _without_kineto_trace_lines():
    """Run the block with file descriptor 2 captured, then write back to stderr every line
    it received except kineto's session lines (``_is_kineto_trace_line``), which would
    otherwise be interleaved with the benchmark's table once per profiled op."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (a daemon): nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True)
                    if not _is_kineto_trace_line(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _peak_bytes(fn, x) -> int:
    """Peak of torch's CPU allocations (bytes above the start) during one forward+backward.

    From the profiler's memory records: each op's *self* allocation (so nested ops are not
    counted twice), allocations placed at the op's start and frees at its end.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    xg = x.detach().requires_grad_(True)
    with _without_kineto_trace_lines(), profile(activities=[ProfilerActivity.CPU],
                                                profile_memory=True) as prof:
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


def rss_child(name: str, cfg: dict, shape, alpha: float, suite: str = "ppool") -> int | None:
    """In this (fresh) process: growth of the peak RSS over one forward+backward of ``name``,
    after warm-up calls on a small input (``bench_matrix.peak_rss_growth``: two, so that the
    first accumulation into the learnable parameter's ``.grad`` is not counted); None where the
    peak cannot be reset."""
    import torch

    from .bench_matrix import peak_rss_growth

    torch.manual_seed(0)
    fn = _SUITES[suite][0](alpha, cfg)[2][name]

    def run(x):
        xg = x.detach().requires_grad_(True)
        y = fn(xg)
        y.backward(torch.ones_like(y))
        return xg

    return peak_rss_growth(run, torch.rand(1, 1, 16, 16), lambda: torch.rand(*shape))


def rss_peak_bytes(name: str, cfg: dict, shape, alpha: float,
                   suite: str = "ppool") -> int | None:
    """``rss_child`` in a fresh interpreter (same PPVERIFY_NATIVE and thread count)."""
    import os
    import subprocess

    import torch

    code = ("import json, torch; from ppverify.ops.bench import rss_child; "
            f"torch.set_num_threads({torch.get_num_threads()}); "
            f"print(json.dumps(rss_child({name!r}, {cfg!r}, {tuple(shape)!r}, {alpha!r}, "
            f"{suite!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS measurement of {name} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(shape=(8, 64, 112, 112), alpha: float | None = None, repeats: int = 15,
            configs=None, suite: str = "ppool", rss: bool = True):
    """Return one record per config of ``suite``: best and median times (s), peak bytes and
    the ratios of the suite's op to each baseline.

    Raises ``ValueError`` naming the argument for a ``shape`` that is not four positive sizes,
    ``repeats`` below 1, an unknown ``suite``, or (from the op) a parameter or shape that the
    op rejects.
    """
    import torch

    shape = tuple(shape)
    if len(shape) != 4 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                              for n in shape):
        raise ValueError(f"shape must be four positive sizes (N, C, H, W), got {shape}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if suite not in _SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    make_ops, default_configs, default_param = _SUITES[suite]
    param = default_param if alpha is None else alpha

    from . import _native

    native = _native.available()
    torch.manual_seed(0)
    x = torch.rand(*shape)
    records = []
    for cfg in configs or default_configs:
        subject, baselines, ops = make_ops(param, cfg)
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
        rss_peak = {name: rss_peak_bytes(name, cfg, shape, param, suite) if rss else None
                    for name in ops}
        rec = {"suite": suite, "config": cfg, "shape": list(shape), "alpha": param,
               "param": param, "native": native, "threads": torch.get_num_threads(),
               "peak_rss_bytes": rss_peak,
               "subject": subject, "baselines": list(baselines),
               "forward_s": {n: min(v) for n, v in fwd.items()},
               "forward_backward_s": {n: min(v) for n, v in fb.items()},
               "forward_s_median": {n: statistics.median(v) for n, v in fwd.items()},
               "forward_backward_s_median": {n: statistics.median(v) for n, v in fb.items()},
               "peak_bytes": peak}
        for base in baselines:
            for suffix in ("", "_median"):
                f, b = rec["forward_s" + suffix], rec["forward_backward_s" + suffix]
                rec[f"ratios{suffix}_vs_{base}"] = {
                    "forward": f[subject] / f[base],
                    "forward_backward": b[subject] / b[base],
                    "peak_memory": peak[subject] / max(peak[base], 1),
                    "peak_rss": (rss_peak[subject] / max(rss_peak[base], 1)
                                 if rss_peak[subject] is not None
                                 and rss_peak[base] is not None else None),
                }
        records.append(rec)
    return records


def _describe(cfg: dict) -> str:
    if cfg.get("global"):
        return "global (the whole plane)"
    if "output_size" in cfg:
        return f"output_size {cfg['output_size']}"
    return f"kernel {cfg['kernel_size']} stride {cfg['stride']} padding {cfg['padding']}"


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    if getattr(args, "device", "cpu") != "cpu":
        from . import bench_cuda

        return bench_cuda.run(args)
    if getattr(args, "dtype", "float32") != "float32":
        print("ppverify bench: error: --dtype applies to --device cuda (the CPU suite is "
              "float32)", file=sys.stderr)
        return 2
    if args.fallback:
        os.environ["PPVERIFY_NATIVE"] = "0"
    if args.threads is not None:
        if args.threads < 1:
            print(f"ppverify bench: error: --threads must be at least 1, got {args.threads}",
                  file=sys.stderr)
            return 2
        torch.set_num_threads(args.threads)
    if args.matrix:
        return _run_matrix(args)
    try:
        records = measure(tuple(args.shape), args.alpha, args.repeats, suite=args.op,
                          rss=not args.no_rss)
    except ValueError as err:
        print(f"ppverify bench: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        where = machine()
        for rec in records:
            rec["machine"] = where
        print(json.dumps(records, indent=2))
        return 0
    r0 = records[0]
    path = (f"compiled kernel ({_vector_code()} vector code)" if r0["native"]
            else "pure-torch path")
    name = "alpha" if args.op in ("ppool", "adaptive") else "p"
    print(f"{args.op} benchmark: float32 input {tuple(r0['shape'])}, {name}={r0['param']}, "
          f"{r0['threads']} threads, {path}; best (and median) of {args.repeats} interleaved "
          f"rounds; {machine()}")
    for rec in records:
        subject = rec["subject"]
        print(f"\n{_describe(rec['config'])}")
        print(f"  {'op':<20} {'forward ms':>18} {'fwd+bwd ms':>18} {'profiler MB':>12} "
              f"{'RSS MB':>8}")
        for op in rec["forward_s"]:
            f = f"{1e3 * rec['forward_s'][op]:.2f} ({1e3 * rec['forward_s_median'][op]:.2f})"
            b = (f"{1e3 * rec['forward_backward_s'][op]:.2f} "
                 f"({1e3 * rec['forward_backward_s_median'][op]:.2f})")
            rss_mb = rec["peak_rss_bytes"][op]
            rss_text = "n/a" if rss_mb is None else f"{rss_mb / 2**20:.1f}"
            print(f"  {op:<20} {f:>18} {b:>18} {rec['peak_bytes'][op] / 2**20:>12.1f} "
                  f"{rss_text:>8}")
        for base in rec["baselines"]:
            r, m = rec[f"ratios_vs_{base}"], rec[f"ratios_median_vs_{base}"]
            rss_ratio = "n/a" if r["peak_rss"] is None else f"{r['peak_rss']:.2f}x"
            print(f"  {subject} / {base}: forward {r['forward']:.2f}x "
                  f"({m['forward']:.2f}x), forward+backward {r['forward_backward']:.2f}x "
                  f"({m['forward_backward']:.2f}x), peak memory: profiler "
                  f"{r['peak_memory']:.2f}x, RSS {rss_ratio}")
    return 0


def _run_matrix(args: argparse.Namespace) -> int:
    from . import bench_matrix as bm

    rows = bm.rows_for(args.op)
    rows = bm.quick_rows(rows) if args.quick else rows
    if args.rows:
        rows = [r for r in rows if args.rows in r.label]
        # no table row is fine for OVERHEAD_ROWS: the per-call overhead and the first call alone
        if not rows and args.rows not in bm.OVERHEAD_ROWS:
            print(f"ppverify bench: error: no matrix row matches --rows {args.rows!r}",
                  file=sys.stderr)
            return 2
    repeats = 5 if "--repeats" not in sys.argv else args.repeats
    if repeats < 1:
        print(f"ppverify bench: error: repeats must be a positive integer, got {repeats}",
              file=sys.stderr)
        return 2
    out = sys.stderr if args.json else sys.stdout
    code = _vector_code()
    where = machine()
    print(f"ppverify bench --matrix: {len(rows)} rows, best of {repeats} interleaved rounds; "
          f"ratios are the op over the slower of torch's max/avg pooling (same shape, layout, "
          f"dtype); compiled kernel: {code} vector code; {where}", file=out)
    if args.op != "gem":
        print("alpha 2 where the label names none (an integer: weighed by multiplication, x^2; "
              "the rows labelled alpha 2.5 take the logarithm and exponential a learned alpha "
              "takes)", file=out)
    # (the per-call and first-call lines are P-pooling's)
    result = bm.run_matrix(rows, repeats, args.rss, out=out, overhead=args.op == "ppool")
    result["vector_code"], result["machine"] = code, where
    if args.json:
        print(json.dumps(result, indent=2))
    return 0
