"""``ppverify bench --matrix``: issue 12's whole table in one run, as ratios against torch.

``--op ppool`` (default) runs P-pooling's rows (``ROWS``), ``--op gem`` the power mean's and
the Lp norm's (``POWER_ROWS``: GeM layouts, long signals, single large planes, global heads),
``--op adaptive`` P-pooling's adaptive and global rows. Every row is one case (operator,
dimensions, pooling layout, memory format, dtype, input size, threads, scalar or per-channel
alpha or p, and the input's values: uniform in [0, 1), or after a ReLU, with zeros and
windows of zeros alone). Its op and torch's ``max_pool`` and ``avg_pool`` of the
same shape, layout and dtype (``adaptive_max_pool`` / ``adaptive_avg_pool`` for global and
adaptive rows) are timed in interleaved rounds; the figures are best-of-rounds times and:

* ``fwd x`` / ``fwd+bwd x``: the op's time over the *slower* of the two torch ops (the
  targets: forward <= 1.5x, forward+backward <= 2x);
* ``mem x``: peak memory of one forward+backward over the larger of the two torch ops', by
  the profiler (torch's allocations; it cannot see the compiled kernel's scratch) and, with
  ``--rss``, by the growth of the peak RSS in a fresh process (what the OS had to provide);
  target <= 1.5x;
* headline rows (float32 2-D, (8, 64, 112, 112), k2 s2 and k3 s2 p1) also give forward+backward
  over ``max_pool2d`` alone (target <= 1.3x) and over ``avg_pool2d`` (<= 2x); float64 rows
  over ``max_pool2d`` float64 (<= 3x);
* per-call overhead: forward of a (1, 1, 4, 4) input over ``max_pool2d``'s (target <= 3x;
  medians of 201 interleaved rounds of 50 calls), the functional form with a float alpha,
  then the layer (``PPool2d``, a learnable alpha, under ``torch.no_grad``) over
  ``nn.MaxPool2d``'s, and the layer's forward+backward (the input and alpha needing
  gradients) over ``nn.MaxPool2d``'s (the input's), each held to the same 3x;
* first call: the extra seconds of ``import ppverify.ops`` and a first forward+backward in a
  fresh process, over torch's first ``max_pool2d`` (target <= 0.3 s).

A row that misses a target is marked ``MISS`` with the figure; nothing is hidden. The numbers
depend on the machine and its load: run ``uptime`` alongside and quote both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

FWD_TARGET, FB_TARGET, MEM_TARGET = 1.5, 2.0, 1.5
HEADLINE_MAX, HEADLINE_AVG, F64_MAX = 1.3, 2.0, 3.0
OVERHEAD_TARGET, FIRST_CALL_TARGET = 3.0, 0.3
#: ``--rows`` values that select no table row, only the per-call overhead and the first call
OVERHEAD_ROWS = ("per-call", "first call")


@dataclass(frozen=True)
class Row:
    """One case of the matrix (``layout``: ``windowed`` with kernel/stride/padding, or
    ``adaptive`` with ``output_size``; 1 is global pooling)."""

    label: str
    dims: int
    shape: tuple
    layout: str = "windowed"
    kernel: int = 2
    stride: int = 2
    padding: int = 0
    output_size: int = 1
    dtype: str = "float32"
    channels_last: bool = False
    threads: int | None = None
    per_channel: bool = False
    alpha: float = 2.0
    values: str = "uniform"  # or "relu": relu(randn - shift); "shift" its shift
    shift: float = 0.0
    headline: bool = False
    tags: tuple = field(default_factory=tuple)
    op: str = "ppool"  # or "gem" (the power mean; alpha is p), "lp" (the Lp norm: no padding)


BIG2 = (8, 64, 112, 112)
MID2 = (8, 64, 56, 56)
BIG3 = (2, 32, 32, 56, 56)
BIG1 = (8, 64, 12544)
IMG3 = (8, 3, 224, 224)

ROWS: list[Row] = [
    Row("2-D f32 k2 s2", 2, BIG2, kernel=2, stride=2, headline=True),
    Row("2-D f32 k3 s2 p1", 2, BIG2, kernel=3, stride=2, padding=1, headline=True),
    Row("2-D f32 k2 s2 per-channel alpha", 2, BIG2, kernel=2, stride=2, per_channel=True),
    Row("2-D f32 k3 s2 p1 relu(randn), alpha 1", 2, BIG2, kernel=3, stride=2, padding=1,
        alpha=1.0, values="relu"),
    Row("2-D f32 k3 s2 p1 relu(randn - 1)", 2, BIG2, kernel=3, stride=2, padding=1,
        values="relu", shift=1.0),
    Row("2-D f32 k3 s2 p1 relu(randn), alpha 0", 2, BIG2, kernel=3, stride=2, padding=1,
        alpha=0.0, values="relu"),
    Row("2-D f32 k3 s2 p1 relu(randn), alpha -1", 2, BIG2, kernel=3, stride=2, padding=1,
        alpha=-1.0, values="relu"),
    Row("2-D f32 k3 s1", 2, MID2, kernel=3, stride=1, padding=1),
    Row("1-D f32 k3 s2 p1", 1, BIG1, kernel=3, stride=2, padding=1),
    Row("1-D f32 one signal of 2_000_000, k3", 1, (1, 1, 2_000_000), kernel=3, stride=3),
    Row("3-D f32 k3 s2 p1", 3, BIG3, kernel=3, stride=2, padding=1),
    Row("2-D f32 global", 2, BIG2, layout="adaptive", output_size=1),
    # alpha 2 (the rows' default) is an integer: since 2026-12-06 the kernel weighs such an
    # alpha (0-4) by multiplication, with no exponential. A learned alpha leaves the integers:
    # these rows keep the exponential's cost in the table
    Row("2-D f32 k3 s2 p1, alpha 2.5", 2, BIG2, kernel=3, stride=2, padding=1, alpha=2.5),
    Row("2-D f32 global, alpha 2.5", 2, BIG2, layout="adaptive", output_size=1, alpha=2.5),
    # global windows of fewer planes than threads, and of planes that do not share out evenly
    # among them (one plane's slices, or three planes', in parts of rows since 2026-12-06:
    # XParts in ppool_kernel.cpp; before, one thread did a plane's whole window)
    Row("2-D f32 one plane 2048x2048 global, alpha 2.5", 2, (1, 1, 2048, 2048),
        layout="adaptive", output_size=1, alpha=2.5),
    Row("2-D f32 3 planes 1024x1024 global, alpha 2.5", 2, (1, 3, 1024, 1024),
        layout="adaptive", output_size=1, alpha=2.5),
    Row("2-D f32 adaptive 7", 2, MID2, layout="adaptive", output_size=7),
    Row("2-D f32 k14 on 56x56, 1 thread", 2, MID2, kernel=14, stride=14, threads=1),
    Row("2-D f32 k28 on 56x56, 1 thread", 2, MID2, kernel=28, stride=28, threads=1),
    Row("2-D f32 k56 on 56x56, 1 thread", 2, MID2, kernel=56, stride=56, threads=1),
    Row("2-D f32 k56 on 56x56, 1 thread, alpha 2.5", 2, MID2, kernel=56, stride=56, threads=1,
        alpha=2.5),
    Row("2-D f32 k3 s2 p1 channels_last", 2, BIG2, kernel=3, stride=2, padding=1,
        channels_last=True),
    Row("2-D f32 k3 s2 p1 channels_last, alpha 2.5", 2, BIG2, kernel=3, stride=2, padding=1,
        channels_last=True, alpha=2.5),
    Row("3-D f32 k3 s2 p1 channels_last_3d", 3, BIG3, kernel=3, stride=2, padding=1,
        channels_last=True),
    # fewer channels than lanes (an image's 3): the kernel packs 8 planes (n, c) to a group
    # (as it does for any channel count that is not a multiple of 8)
    Row("2-D f32 k3 s2 p1 channels_last, 3 channels", 2, IMG3, kernel=3, stride=2, padding=1,
        channels_last=True),
    Row("2-D f32 global channels_last, 3 channels", 2, IMG3, layout="adaptive", output_size=1,
        channels_last=True),
    Row("2-D f64 k2 s2", 2, BIG2, kernel=2, stride=2, dtype="float64"),
    Row("2-D f64 k3 s2 p1", 2, BIG2, kernel=3, stride=2, padding=1, dtype="float64"),
    Row("2-D bf16 k3 s2 p1", 2, BIG2, kernel=3, stride=2, padding=1, dtype="bfloat16"),
    Row("2-D f16 k3 s2 p1", 2, BIG2, kernel=3, stride=2, padding=1, dtype="float16"),
    Row("2-D f32 small k3 s2 p1, 1 thread", 2, (1, 64, 56, 56), kernel=3, stride=2,
        padding=1, threads=1),
    Row("2-D f32 small k3 s2 p1", 2, (1, 64, 56, 56), kernel=3, stride=2, padding=1),
]


# The power mean and the Lp norm (``--op gem``): GeM's usual layouts, a learned p (3.1: a p
# that has left the integers), and the shapes where the power engine had cliffs until
# 2026-12-05 (one long signal, one large plane, a global window of few planes).
GEM_P = 3.1
POWER_ROWS: list[Row] = [
    Row("GeM 2-D f32 k3 s2 p1", 2, BIG2, kernel=3, stride=2, padding=1, op="gem",
        alpha=GEM_P),
    Row("GeM 2-D f32 k2 s2, p = 3", 2, BIG2, kernel=2, stride=2, op="gem", alpha=3.0),
    Row("Lp 2-D f32 k2 s2", 2, BIG2, kernel=2, stride=2, op="lp", alpha=GEM_P),
    Row("GeM 2-D f32 k3 s2 p1 per-channel p", 2, BIG2, kernel=3, stride=2, padding=1,
        op="gem", per_channel=True),
    Row("GeM 2-D f32 global", 2, BIG2, layout="adaptive", output_size=1, op="gem",
        alpha=GEM_P),
    Row("GeM 2-D f32 global, ResNet-50 head", 2, (8, 2048, 7, 7), layout="adaptive",
        output_size=1, op="gem", alpha=GEM_P),
    Row("GeM 2-D f32 one plane 2048x2048 global", 2, (1, 1, 2048, 2048), layout="adaptive",
        output_size=1, op="gem", alpha=GEM_P),
    Row("GeM 2-D f32 3 planes 1024x1024 global", 2, (1, 3, 1024, 1024), layout="adaptive",
        output_size=1, op="gem", alpha=GEM_P),
    Row("GeM 2-D f32 one plane 2048x2048 k3 s1", 2, (1, 1, 2048, 2048), kernel=3, stride=1,
        padding=1, op="gem", alpha=GEM_P),
    Row("GeM 1-D f32 signal of 1_000_000, k3 s1", 1, (1, 1, 1_000_000), kernel=3,
        stride=1, padding=1, op="gem", alpha=GEM_P),
    Row("GeM 1-D f32 signal of 100_000, k3 s1", 1, (1, 1, 100_000), kernel=3, stride=1,
        padding=1, op="gem", alpha=GEM_P),
    Row("GeM 2-D f32 k3 s2 p1 channels_last", 2, BIG2, kernel=3, stride=2, padding=1,
        channels_last=True, op="gem", alpha=GEM_P),
    Row("GeM 2-D f32 global channels_last, 3 channels", 2, IMG3, layout="adaptive",
        output_size=1, channels_last=True, op="gem", alpha=GEM_P),
    Row("GeM 2-D bf16 k3 s2 p1", 2, BIG2, kernel=3, stride=2, padding=1, dtype="bfloat16",
        op="gem", alpha=GEM_P),
    Row("GeM 2-D f64 k3 s2 p1", 2, MID2, kernel=3, stride=2, padding=1, dtype="float64",
        op="gem", alpha=GEM_P),
    Row("GeM 2-D f64 k2 s2, p = 3", 2, MID2, kernel=2, stride=2, dtype="float64", op="gem",
        alpha=3.0),
    Row("Lp 2-D f64 k2 s2", 2, MID2, kernel=2, stride=2, dtype="float64", op="lp",
        alpha=GEM_P),
    Row("GeM 2-D f64 global", 2, MID2, layout="adaptive", output_size=1, dtype="float64",
        op="gem", alpha=GEM_P),
]


def rows_for(op: str) -> list[Row]:
    """The matrix's rows for ``--op``: ppool (P-pooling), gem (the power mean and Lp) or
    adaptive (P-pooling's adaptive and global rows)."""
    if op == "gem":
        return list(POWER_ROWS)
    if op == "adaptive":
        return [r for r in ROWS if r.layout == "adaptive"]
    return list(ROWS)


def quick_rows(rows: list[Row], size: int = 12) -> list[Row]:
    """The same cases on small inputs (``--quick``; also what the tests run): one batch
    entry of 8 channels, or of the row's own channels where they are fewer."""
    out = []
    for r in rows:
        spatial = min(size, max(r.kernel, 4)) if r.layout == "windowed" else size
        spatial = max(spatial, r.kernel if r.layout == "windowed" else r.output_size)
        shape = (1, min(8, r.shape[1])) + (spatial,) * r.dims
        out.append(Row(**{**asdict(r), "shape": shape}))
    return out


# ------------------------------------------------------------------------------- the ops


def _torch_dtype(name: str):
    import torch

    return getattr(torch, name)


def make_input(row: Row):
    import torch

    torch.manual_seed(0)
    if row.values == "relu":  # activations after a ReLU: zeros, and windows of zeros alone
        x = torch.relu(torch.randn(*row.shape, dtype=torch.float32) - row.shift)
    else:
        x = torch.rand(*row.shape, dtype=torch.float32)
    x = x.to(_torch_dtype(row.dtype))
    if row.channels_last:
        fmt = torch.channels_last if row.dims == 2 else torch.channels_last_3d
        x = x.contiguous(memory_format=fmt)
    return x


def make_ops(row: Row) -> dict:
    """``{name: fn(x)}``: the row's op (P-pooling, the power mean or Lp, with a learnable
    parameter) first, then torch's two baselines."""
    import torch
    import torch.nn.functional as F

    from .. import ops as P

    d = row.dims
    C = row.shape[1]
    value = torch.linspace(1.0, 3.0, C, dtype=torch.float64) if row.per_channel else \
        torch.tensor(row.alpha, dtype=torch.float64)
    alpha = value.requires_grad_(True)
    if row.layout == "adaptive":
        n = row.output_size
        name = {"ppool": "adaptive_p_pool", "gem": "adaptive_gem_pool",
                "lp": "adaptive_lp_pool"}[row.op] + f"{d}d"
        return {
            name: lambda x: getattr(P, name)(x, alpha, n),
            f"adaptive_max_pool{d}d": lambda x: getattr(F, f"adaptive_max_pool{d}d")(x, n),
            f"adaptive_avg_pool{d}d": lambda x: getattr(F, f"adaptive_avg_pool{d}d")(x, n),
        }
    k, s, p = row.kernel, row.stride, row.padding
    name = {"ppool": "p_pool", "gem": "gem_pool", "lp": "lp_pool"}[row.op] + f"{d}d"
    if row.op == "lp" and p:
        raise ValueError(f"matrix row {row.label!r}: lp_pool has no padding")
    pad = () if row.op == "lp" else (p,)
    return {
        name: lambda x: getattr(P, name)(x, alpha, k, s, *pad),
        f"max_pool{d}d": lambda x: getattr(F, f"max_pool{d}d")(x, k, s, p),
        f"avg_pool{d}d": lambda x: getattr(F, f"avg_pool{d}d")(x, k, s, p),
    }


def _fwd_bwd(fn, x):
    import torch

    xg = x.detach().requires_grad_(True)
    y = fn(xg)
    y.backward(torch.ones_like(y))


def rss_child(row_json: str, name: str) -> int | None:
    """In this (fresh) process: growth of the peak RSS over one forward+backward of ``name``
    on ``row``'s input, after warm-ups on a small input (``peak_rss_growth``); None where it
    cannot be reset."""
    import torch

    row = Row(**{k: tuple(v) if isinstance(v, list) else v
                 for k, v in json.loads(row_json).items()})
    if row.threads:
        torch.set_num_threads(row.threads)
    fn = make_ops(row)[name]
    warm = max(8, row.kernel if row.layout == "windowed" else row.output_size)
    small = make_input(Row(**{**asdict(row), "shape": (1, row.shape[1]) + (warm,) * row.dims}))
    return peak_rss_growth(lambda x: _fwd_bwd(fn, x), small, lambda: make_input(row))


#: warm-up calls before the measured one (see ``peak_rss_growth``)
RSS_WARMUPS = 2


def peak_rss_growth(run, small, make_x, warmups: int | None = None) -> int | None:
    """Growth (bytes) of this process's peak RSS over ``run(make_x())`` (a forward+backward;
    the input is made before the peak is reset and is not counted), after ``warmups``
    (default ``RSS_WARMUPS``) calls ``run(small)``; None where the peak cannot be reset
    (``/proc/self/clear_refs``).

    Two warm-ups, not one: the first call of a kind loads code, and so does the first call
    that takes a path the first did not. The measured call accumulates its parameter's
    gradient into the ``.grad`` that the warm-up created (the rows' learnable alpha is one
    leaf across calls); the first such accumulation pages in about 0.5-1 MB of torch's
    code (``RssFile`` grows, ``RssAnon`` by about 12 kB: measured 2026-12-02 on a 0-d float64
    ``a.grad += g``). After one warm-up the small row (1,64,56,56) k3 s2 p1 grew +2700 KB,
    after two +2120 KB (one thread); torch's ``avg_pool2d(x) * alpha`` +2088 / +1764 KB, its
    allocations exactly. The baselines have no parameter, so that code counted against the
    op alone (``tests/ops/test_bench.py`` holds the protocol to the allocations)."""
    import gc

    from .bench import _proc_status

    for _ in range(RSS_WARMUPS if warmups is None else warmups):
        run(small)
    del small
    gc.collect()
    x = make_x()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        base = _proc_status("VmRSS")
    except OSError:
        return None
    keep = run(x)  # noqa: F841 (what the call returns stays alive until the peak is read)
    return max(0, _proc_status("VmHWM") - base)


def _rss_in_fresh_process(row: Row, name: str) -> int | None:
    code = ("import json; from ppverify.ops.bench_matrix import rss_child; "
            f"print(json.dumps(rss_child({json.dumps(asdict(row))!r}, {name!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"RSS measurement of {name} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ measuring


def measure_row(row: Row, repeats: int, rss: bool) -> dict:
    """Best-of-``repeats`` forward and forward+backward times of the row's three ops
    (interleaved), their profiler peaks, optionally their fresh-process RSS peaks, and the
    ratios against the slower baseline."""
    import torch

    from .bench import _peak_bytes

    saved = torch.get_num_threads()
    if row.threads:
        torch.set_num_threads(row.threads)
    try:
        x = make_input(row)
        ops = make_ops(row)
        for fn in ops.values():
            _fwd_bwd(fn, x)
        fwd = {n: float("inf") for n in ops}
        fb = dict(fwd)
        for _ in range(repeats):
            for name, fn in ops.items():
                with torch.no_grad():
                    t0 = time.perf_counter()
                    fn(x)
                    fwd[name] = min(fwd[name], time.perf_counter() - t0)
                t0 = time.perf_counter()
                _fwd_bwd(fn, x)
                fb[name] = min(fb[name], time.perf_counter() - t0)
        peak = {name: _peak_bytes(fn, x) for name, fn in ops.items()}
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(saved)
    rss_peak = {name: _rss_in_fresh_process(row, name) if rss else None for name in ops}
    subject, *bases = list(ops)
    slow_f = max(fwd[b] for b in bases)
    slow_b = max(fb[b] for b in bases)
    rec = {"row": asdict(row), "threads": threads, "subject": subject, "baselines": bases,
           "forward_s": fwd, "forward_backward_s": fb, "peak_bytes": peak,
           "peak_rss_bytes": rss_peak,
           "forward_ratio": fwd[subject] / slow_f, "forward_backward_ratio": fb[subject] / slow_b,
           "memory_ratio": peak[subject] / max(max(peak[b] for b in bases), 1),
           "rss_ratio": None}
    if rss and all(v is not None for v in rss_peak.values()):
        rec["rss_ratio"] = rss_peak[subject] / max(max(rss_peak[b] for b in bases), 1)
    rec["fb_vs_max"] = fb[subject] / fb[bases[0]]
    rec["fb_vs_avg"] = fb[subject] / fb[bases[1]]
    rec["misses"] = misses(rec)
    return rec


def misses(rec: dict) -> list[str]:
    """The targets this row misses, each with its figure."""
    row = rec["row"]
    out = []
    if rec["forward_ratio"] > FWD_TARGET:
        out.append(f"fwd {rec['forward_ratio']:.2f}x > {FWD_TARGET}x")
    if rec["forward_backward_ratio"] > FB_TARGET:
        out.append(f"fwd+bwd {rec['forward_backward_ratio']:.2f}x > {FB_TARGET}x")
    mem = rec["rss_ratio"] if rec["rss_ratio"] is not None else rec["memory_ratio"]
    if mem > MEM_TARGET:
        out.append(f"mem {mem:.2f}x > {MEM_TARGET}x")
    if row["headline"]:
        if rec["fb_vs_max"] > HEADLINE_MAX:
            out.append(f"fwd+bwd {rec['fb_vs_max']:.2f}x max_pool > {HEADLINE_MAX}x")
        if rec["fb_vs_avg"] > HEADLINE_AVG:
            out.append(f"fwd+bwd {rec['fb_vs_avg']:.2f}x avg_pool > {HEADLINE_AVG}x")
    if row["dtype"] == "float64" and rec["fb_vs_max"] > F64_MAX:
        out.append(f"fwd+bwd {rec['fb_vs_max']:.2f}x max_pool f64 > {F64_MAX}x")
    return out


def per_call_overhead(repeats: int = 50, rounds: int = 201) -> dict:
    """Time per call on a (1, 1, 4, 4) float32 input, ours over torch's, in three pairs: the
    forward of ``p_pool2d(x, 2.0, 2)`` over ``max_pool2d``'s (``ratio``); the forward of a
    ``PPool2d(2)`` layer (learnable alpha) under ``torch.no_grad`` over ``nn.MaxPool2d``'s
    (``layer_ratio``); the layer's forward+backward (the input needs its gradient; ``.sum()``
    and ``.backward()`` included) over ``nn.MaxPool2d``'s (``train_ratio``). Each figure is the
    median over ``rounds`` interleaved rounds (each op ``repeats`` calls per round; a fifth of
    that for forward+backward) of its time per call. Short rounds (about 0.1-0.3 ms),
    alternating: on a loaded machine a round is sometimes preempted for a scheduler slice of
    several ms, and a round's chance of that grows with its length, so long rounds (5 of 2000
    calls, before 2026-12-02: 10 ms for our op, 5 ms for ``max_pool2d``) counted the slower
    op's preemptions more often (1.9-2.9x for one build at load 5; 2.1-2.2x with short
    rounds, 08:57 UTC)."""
    import statistics

    import torch
    import torch.nn.functional as F

    from .functional import p_pool2d
    from .modules import PPool2d

    x = torch.rand(1, 1, 4, 4)
    xg = torch.rand(1, 1, 4, 4, requires_grad=True)
    layer, max_layer = PPool2d(2, alpha=2.0), torch.nn.MaxPool2d(2)

    def no_grad(module):
        def call():
            with torch.no_grad():
                module(x)
        return call

    def train(module):
        def call():
            module(xg).sum().backward()
        return call

    pairs = {"forward": ({"p_pool2d": lambda: p_pool2d(x, 2.0, 2),
                          "max_pool2d": lambda: F.max_pool2d(x, 2)}, repeats),
             "layer": ({"PPool2d": no_grad(layer), "MaxPool2d": no_grad(max_layer)}, repeats),
             "train": ({"PPool2d train": train(layer), "MaxPool2d train": train(max_layer)},
                       max(1, repeats // 5))}
    med = {}
    for fns, calls in pairs.values():
        per = {n: [] for n in fns}
        for fn in fns.values():
            for _ in range(3):  # the shortcut's entry is made on the second call
                fn()
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                per[name].append((time.perf_counter() - t0) / calls)
        med.update({n: statistics.median(v) for n, v in per.items()})
    return {"per_call_s": med, "ratio": med["p_pool2d"] / med["max_pool2d"],
            "layer_ratio": med["PPool2d"] / med["MaxPool2d"],
            "train_ratio": med["PPool2d train"] / med["MaxPool2d train"],
            "rounds": rounds, "calls_per_round": repeats}


_FIRST_CALL = """
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import torch.nn.functional as F
x = torch.rand(1, 1, 4, 4, requires_grad=True)
F.max_pool2d(x, 2).sum().backward()
t2 = time.perf_counter()
n0 = len(sys.modules)
import ppverify.ops as ops
from ppverify.ops import _native
_native.available()
t3 = time.perf_counter()
ops.p_pool2d(x, 2.0, 2).sum().backward()
t4 = time.perf_counter()
print(json.dumps({"torch_first_max_pool_s": t2 - t1, "ppverify_import_s": t3 - t2,
                  "first_call_s": t4 - t3, "modules": len(sys.modules) - n0}))
"""


def first_call() -> dict:
    """In a fresh process (kernel already in the cache): seconds to import ppverify.ops and
    load the kernel, and of the first forward+backward, and the modules both added."""
    proc = subprocess.run([sys.executable, "-c", _FIRST_CALL], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600, check=True)
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec["extra_s"] = rec["ppverify_import_s"] + rec["first_call_s"]
    return rec


def _warm_kernel_cache() -> None:
    from . import _native

    _native.available()


def run_matrix(rows: list[Row], repeats: int, rss: bool, out=sys.stdout,
               overhead: bool = True) -> dict:
    """Measure every row (printing as it goes), the per-call overhead and the first call."""
    _warm_kernel_cache()
    records = []
    print(f"{'case':<40} {'thr':>3} {'fwd x':>6} {'f+b x':>6} {'mem x':>6} {'rss x':>6}"
          f"  misses", file=out, flush=True)
    for row in rows:
        rec = measure_row(row, repeats, rss)
        records.append(rec)
        rss_text = "-" if rec["rss_ratio"] is None else f"{rec['rss_ratio']:.2f}"
        verdict = "ok" if not rec["misses"] else "MISS " + "; ".join(rec["misses"])
        print(f"{row.label:<40} {rec['threads']:>3} {rec['forward_ratio']:>6.2f} "
              f"{rec['forward_backward_ratio']:>6.2f} {rec['memory_ratio']:>6.2f} "
              f"{rss_text:>6}  {verdict}", file=out, flush=True)
    result = {"rows": records}
    if overhead:
        oh = per_call_overhead()
        fc = first_call()
        result["per_call"], result["first_call"] = oh, fc
        per = oh["per_call_s"]
        print("", file=out)
        for what, ours, theirs, key in [
                ("forward", "p_pool2d", "max_pool2d", "ratio"),
                ("layer forward, no_grad", "PPool2d", "MaxPool2d", "layer_ratio"),
                ("layer forward+backward", "PPool2d train", "MaxPool2d train", "train_ratio")]:
            ok = "ok" if oh[key] <= OVERHEAD_TARGET else f"MISS > {OVERHEAD_TARGET}x"
            print(f"per-call overhead, (1, 1, 4, 4) {what}: {1e6 * per[ours]:.1f} us vs "
                  f"{theirs.split()[0]} {1e6 * per[theirs]:.1f} us = {oh[key]:.2f}x  {ok}",
                  file=out)
        ok = "ok" if fc["extra_s"] <= FIRST_CALL_TARGET else f"MISS > {FIRST_CALL_TARGET} s"
        print(f"first call in a fresh process: import + kernel load {fc['ppverify_import_s']:.3f}"
              f" s, first forward+backward {fc['first_call_s']:.3f} s (+{fc['modules']} "
              f"modules; torch's first max_pool2d {fc['torch_first_max_pool_s']:.3f} s)  {ok}",
              file=out)
    return result
