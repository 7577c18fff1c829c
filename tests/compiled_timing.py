"""Time torch.compile's forward+backward of the op with and without its saved state.

    python -m tests.compiled_timing [--backend inductor|aot_eager] [--op ppool|powermean|lp]
                                    [--rounds N] [--rows TEXT] [--rss]

Per case (float32, two threads unless ``torch.set_num_threads`` says otherwise, a learnable
parameter: alpha = 2.5 or p = 3.1): the best of ROUNDS (default 7, after two warm-up calls)
of ``y = f(x); y.backward(ones)`` for ``f`` eager, ``f`` compiled with the graph's backward
recomputing the forward (``ppverify::pool``: ``_compiled.wants_state`` patched to refuse),
and ``f`` compiled as shipped (``ppverify::pool_saving``: the backward from the saved state),
``torch.compile(f, backend=..., fullgraph=True)`` in one process. With ``--rss``, instead of
times: each variant's peak resident memory of one forward+backward beyond the memory held
before it (MiB; a fresh process per variant and case, after three warm-up calls whose freed
memory ``malloc_trim`` returns to the system; Linux and glibc: the peak is reset by writing 5
to ``/proc/self/clear_refs`` and read as ``VmHWM``), the input's clone included. Used for the
README's "torch.compile's backward from the saved state" figures."""

from __future__ import annotations

import argparse
import ctypes
import gc
import subprocess
import sys
import time

import torch

from ppverify.ops import _compiled, _dispatch, _layout
from ppverify.ops.bench import _proc_status

CASES = [  # label, shape, layout, memory format
    ("k3 s2 p1 (8,64,112,112)", (8, 64, 112, 112), _layout.windowed(2, 3, 2, 1),
     torch.contiguous_format),
    ("k3 s2 p1 channels_last (8,64,112,112)", (8, 64, 112, 112), _layout.windowed(2, 3, 2, 1),
     torch.channels_last),
    ("k2 s2 (8,64,112,112)", (8, 64, 112, 112), _layout.windowed(2, 2, 2),
     torch.contiguous_format),
    ("global (8,64,112,112)", (8, 64, 112, 112), _layout.adaptive(2, 1),
     torch.contiguous_format),
    ("global (1,1,2048,2048)", (1, 1, 2048, 2048), _layout.adaptive(2, 1),
     torch.contiguous_format),
]


def _best(fn, x: torch.Tensor, rounds: int) -> float:
    """The best of ``rounds`` forward+backward calls of ``fn`` on a fresh leaf copy of ``x``
    (ones as the output's gradient), after two warm-up calls; ms."""
    best = float("inf")
    for i in range(rounds + 2):
        xr = x.clone().requires_grad_(True)
        t0 = time.perf_counter()
        y = fn(xr)
        y.backward(torch.ones_like(y))
        elapsed = time.perf_counter() - t0
        if i >= 2:
            best = min(best, elapsed)
    return best * 1e3


def _rss_child(op: str, backend: str, variant: str, label: str) -> None:
    """One variant's peak extra resident memory of one forward+backward, printed in MiB."""
    shape, layout, fmt = next((s, lay, m) for lab, s, lay, m in CASES if lab == label)
    x = torch.rand(shape).contiguous(memory_format=fmt)
    param = torch.tensor(2.5 if op == "ppool" else 3.1, dtype=torch.float64,
                         requires_grad=True)

    def f(v):
        return _dispatch.pool(op, v, param, layout)

    if variant == "recompute":
        _compiled.wants_state = lambda x: False
    fn = f if variant == "eager" else torch.compile(f, backend=backend, fullgraph=True)
    _best(fn, x, 1)  # compiles and warms up
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)  # the warm-up's freed buffers back to the system
    before = _proc_status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f_:
        f_.write("5")
    xr = x.clone().requires_grad_(True)
    y = fn(xr)
    y.backward(torch.ones_like(y))
    print((_proc_status("VmHWM") - before) / 2**20)


def _rss(args) -> None:
    print(f"{args.op}, backend {args.backend}: peak extra RSS of one forward+backward, MiB "
          "(eager / compiled recomputing / compiled from the saved state)")
    for label, *_ in CASES:
        if args.rows not in label:
            continue
        figures = []
        for variant in ("eager", "recompute", "state"):
            out = subprocess.run([sys.executable, "-m", "tests.compiled_timing", "--op", args.op,
                                  "--backend", args.backend, "--rss-child", variant, label],
                                 capture_output=True, text=True, check=True)
            figures.append(float(out.stdout.strip().splitlines()[-1]))
        print(f"{label:40s} " + " / ".join(f"{v:7.1f}" for v in figures), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="inductor", help="torch.compile's backend")
    parser.add_argument("--op", default="ppool", choices=["ppool", "powermean", "lp"])
    parser.add_argument("--rounds", type=int, default=7, help="timed calls per figure")
    parser.add_argument("--rows", default="", help="keep the cases whose label holds this")
    parser.add_argument("--rss", action="store_true",
                        help="peak extra resident memory instead of times")
    parser.add_argument("--rss-child", nargs=2, metavar=("VARIANT", "LABEL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        _rss_child(args.op, args.backend, *args.rss_child)
        return
    if args.rss:
        _rss(args)
        return
    shipped = _compiled.wants_state
    torch.manual_seed(0)
    print(f"{args.op}, backend {args.backend}, {torch.get_num_threads()} threads, best of "
          f"{args.rounds}; ms of forward+backward")
    for label, shape, layout, fmt in CASES:
        if args.rows not in label:
            continue
        x = torch.rand(shape).contiguous(memory_format=fmt)
        param = torch.tensor(2.5 if args.op == "ppool" else 3.1, dtype=torch.float64,
                             requires_grad=True)

        def f(v, param=param, layout=layout):
            return _dispatch.pool(args.op, v, param, layout)

        figures = {"eager": _best(f, x, args.rounds)}
        try:
            for name, wants in (("recompute", lambda x: False), ("state", shipped)):
                _compiled.wants_state = wants
                torch._dynamo.reset()
                compiled = torch.compile(f, backend=args.backend, fullgraph=True)
                figures[name] = _best(compiled, x, args.rounds)
        finally:
            _compiled.wants_state = shipped
        print(f"{label:40s} eager {figures['eager']:7.2f}  compiled, recomputing "
              f"{figures['recompute']:7.2f}  compiled, saved state {figures['state']:7.2f}",
              flush=True)


if __name__ == "__main__":
    main()
