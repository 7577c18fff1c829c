"""Time the power mean's eager forward+backward with its saved state against recomputation.

    python -m tests.power_state_timing [--dtype float32|float64] [--op powermean|lp]
                                       [--rounds N] [--all-dtypes-state]

Per case (two threads unless ``torch.set_num_threads`` says otherwise, p = 3.1 learnable and
fixed): the best of ROUNDS (default 5, after two warm-up calls) of ``y = pool(x); y.backward
(ones)`` with the dispatch's own choice of state, then with every state refused
(``_dispatch._NativeCall.saves`` patched to say no: the backward recomputes the forward), and
their ratio. ``--all-dtypes-state`` lets the dispatch take the power overlap state in float32
too (``_dispatch.POWER_OVERLAP_STATE_DTYPES``), as it did before 2026-12-06. Used for the
README's "The power overlap state in float32"."""

from __future__ import annotations

import argparse

import torch

from ppverify.ops import _dispatch, _layout

from .compiled_timing import _best


def _cases(batch: int):
    c, cl = torch.contiguous_format, torch.channels_last
    return [
        ("k3 s2 p1", (batch, 64, 112, 112), _layout.windowed(2, 3, 2, 1), c),
        ("k3 s2 p1 channels_last", (batch, 64, 112, 112), _layout.windowed(2, 3, 2, 1), cl),
        ("k3 s1 p1", (batch, 64, 56, 56), _layout.windowed(2, 3, 1, 1), c),
        ("k4 s2 p1", (batch, 64, 112, 112), _layout.windowed(2, 4, 2, 1), c),
        ("k5 s2 p2", (batch, 64, 112, 112), _layout.windowed(2, 5, 2, 2), c),
        ("k7 s2 p3", (batch, 64, 112, 112), _layout.windowed(2, 7, 2, 3), c),
        ("adaptive 5", (batch, 64, 112, 112), _layout.adaptive(2, 5), c),
        ("3-D k3 s2 p1", (2, 32, 32, 64, 64), _layout.windowed(3, 3, 2, 1), c),
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--op", default="powermean", choices=["powermean", "lp"])
    parser.add_argument("--rounds", type=int, default=5, help="timed calls per figure")
    parser.add_argument("--all-dtypes-state", action="store_true",
                        help="let float32 take the power overlap state too")
    args = parser.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    shipped_saves, shipped_dtypes = _dispatch._NativeCall.saves, \
        _dispatch.POWER_OVERLAP_STATE_DTYPES
    if args.all_dtypes_state:
        _dispatch.POWER_OVERLAP_STATE_DTYPES = (torch.float32, torch.float64)
    torch.manual_seed(0)
    print(f"{args.op} {args.dtype}, {torch.get_num_threads()} threads, best of {args.rounds}; "
          "ms of forward+backward, the dispatch's state / every state refused")
    try:
        for label, shape, layout, fmt in _cases(2 if dtype is torch.float64 else 8):
            x = torch.rand(shape, dtype=dtype).contiguous(memory_format=fmt)
            for learnable in (True, False):
                p = torch.tensor(3.1, dtype=torch.float64, requires_grad=learnable)

                def f(v, p=p, layout=layout):
                    return _dispatch.pool(args.op, v, p, layout)

                figures = []
                for saves in (shipped_saves, lambda self, need_param=False: False):
                    _dispatch._NativeCall.saves = saves
                    _dispatch._native_calls.clear()
                    figures.append(_best(f, x, args.rounds))
                _dispatch._NativeCall.saves = shipped_saves
                print(f"{label:24s} {'learnable' if learnable else 'fixed':9s} "
                      f"{figures[0]:8.2f} / {figures[1]:8.2f}  ({figures[0] / figures[1]:.2f}x)",
                      flush=True)
    finally:
        _dispatch._NativeCall.saves = shipped_saves
        _dispatch.POWER_OVERLAP_STATE_DTYPES = shipped_dtypes
        _dispatch._native_calls.clear()


if __name__ == "__main__":
    main()
