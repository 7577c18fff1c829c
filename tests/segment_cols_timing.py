"""Time P-pooling on long signals with and without the cut of a plane into segments of about
``SEG_COLS`` columns (``_native.segment_cols``), in one run.

    python -m tests.segment_cols_timing [ROUNDS]

For each case (1-D float32 and float64 signals, k3 s1 and k3 s2 p1, few and many planes) and
each thread count (1, 2): the plain forward and one forward+backward with a learnable alpha,
best of ROUNDS (default 7) rounds that alternate the kernel's default segment length (1024
columns) with a length beyond every signal here (the cut for lanes and threads alone, as before
2026-12-05), and ``max_pool1d``'s forward+backward on the same input. The figures behind the
README's paragraph on long signals (tests/ops/test_segments.py holds the accuracy of the cut
signals; this only times)."""

from __future__ import annotations

import sys

from tests.zero_windows_timing import best_ms

CASES = [  # shape, dtype, kernel, stride, padding
    ((1, 1, 100_000), "float32", 3, 1, 0),
    ((1, 1, 400_000), "float32", 3, 1, 0),
    ((1, 1, 2_000_000), "float32", 3, 1, 1),
    ((1, 1, 400_000), "float64", 3, 1, 0),
    ((8, 64, 12544), "float32", 3, 2, 1),
]
UNCUT = 1 << 40  # a segment length beyond every signal: cut for lanes and threads only


def time_case(shape, dtype: str, k: int, s: int, p: int, rounds: int, lengths) -> tuple:
    """Best (forward, forward+backward) in ms per segment length (rounds that alternate the
    lengths), and ``max_pool1d``'s forward+backward."""
    import torch
    import torch.nn.functional as F

    from ppverify.ops import _native, p_pool1d

    x = torch.rand(shape, dtype=getattr(torch, dtype)) + 0.01
    xg = x.clone().requires_grad_()
    alpha = torch.tensor(2.1, dtype=torch.float64, requires_grad=True)

    def fwd():
        with torch.no_grad():
            p_pool1d(x, 2.1, k, s, p)

    def fwd_bwd():
        p_pool1d(xg, alpha, k, s, p).sum().backward()

    best = {}
    for _ in range(2):  # the lengths alternate, so that all see the same load
        for cols in lengths:
            _native.segment_cols(cols)
            f, fb = best_ms(fwd, rounds), best_ms(fwd_bwd, rounds)
            old = best.get(cols, (float("inf"), float("inf")))
            best[cols] = (min(old[0], f), min(old[1], fb))
    mx = best_ms(lambda: F.max_pool1d(xg, k, s, p).sum().backward(), rounds)
    return best, mx


def main(argv: list[str]) -> None:
    import torch

    from ppverify.ops import _native

    rounds = int(argv[0]) if argv else 7
    default = _native.segment_cols()
    torch.manual_seed(0)
    print(f"P-pooling, alpha 2.1 learnable; forward / forward+backward in ms, best of {rounds}; "
          f"segments of {default} columns against the cut for lanes and threads alone")
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for shape, dtype, k, s, p in CASES:
                best, mx = time_case(shape, dtype, k, s, p, rounds, (default, UNCUT))
                _native.segment_cols(default)
                new, old = best[default], best[UNCUT]
                print(f"{threads} thread(s) {dtype} {shape} k{k} s{s} p{p}: "
                      f"{old[0]:.2f} / {old[1]:.2f} -> {new[0]:.2f} / {new[1]:.2f} "
                      f"(max_pool1d fwd+bwd {mx:.2f})")
    finally:
        _native.segment_cols(default)


if __name__ == "__main__":
    main(sys.argv[1:])
