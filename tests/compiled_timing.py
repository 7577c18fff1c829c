"""Time torch.compile's forward+backward of the op with and without its saved state.

    python -m tests.compiled_timing [--backend inductor|aot_eager] [--op ppool|powermean|lp]
                                    [--rounds N] [--rows TEXT]

Per case (float32, two threads unless ``torch.set_num_threads`` says otherwise, a learnable
parameter: alpha = 2.5 or p = 3.1): the best of ROUNDS (default 7, after two warm-up calls)
of ``y = f(x); y.backward(ones)`` for ``f`` eager, ``f`` compiled with the graph's backward
recomputing the forward (``ppverify::pool``: ``_compiled.wants_state`` patched to refuse),
and ``f`` compiled as shipped (``ppverify::pool_saving``: the backward from the saved state),
``torch.compile(f, backend=..., fullgraph=True)`` in one process. Used for the README's
"torch.compile's backward from the saved state" figures."""

from __future__ import annotations

import argparse
import time

import torch

from ppverify.ops import _compiled, _dispatch, _layout

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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="inductor", help="torch.compile's backend")
    parser.add_argument("--op", default="ppool", choices=["ppool", "powermean", "lp"])
    parser.add_argument("--rounds", type=int, default=7, help="timed calls per figure")
    parser.add_argument("--rows", default="", help="keep the cases whose label holds this")
    args = parser.parse_args(argv)
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
