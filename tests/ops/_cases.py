"""Adversarial inputs for the op-versus-oracle tests (small: the oracle does ~20k windows/s)."""

from __future__ import annotations

import numpy as np
import torch

ALPHAS = [-1e4, -30.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 30.0, 1e3, 1e6]

# (dims, spatial shape, kernel, stride, padding, dilation, ceil_mode)
GEOMETRIES = [
    (1, (9,), 3, 2, 1, 1, False),
    (1, (10,), 4, 3, 2, 1, True),
    (2, (5, 5), 3, 2, 1, 1, False),
    (2, (6, 5), 2, None, 0, 1, True),
    (2, (7, 7), (3, 2), (2, 1), (1, 0), (2, 1), False),
    (3, (3, 3, 3), 3, 1, 0, 1, False),          # one 27-element window
    (3, (4, 4, 3), 2, 2, 1, 1, True),
]

_TINY = {"float64": 5e-324, "float32": 1.4e-45, "float16": 6e-8, "bfloat16": 1e-40}
_HUGE = {"float64": 1e300, "float32": 3e38, "float16": 6e4, "bfloat16": 3e38}


def values(kind: str, shape, dtype: torch.dtype, gen: torch.Generator) -> torch.Tensor:
    """Non-negative inputs of one adversarial kind, exactly representable in ``dtype``."""
    name = str(dtype).removeprefix("torch.")
    n = int(np.prod(shape))
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    if kind == "uniform":
        v = u
    elif kind == "ties":
        v = torch.floor(u * 3) / 2 + 1  # {1, 1.5, 2}
    elif kind == "zeros":
        v = torch.where(u < 0.4, 0.0, torch.rand(n, generator=gen, dtype=torch.float64))
    elif kind == "range30":  # 30 decades in every window (11 in float16, its whole range)
        v = 10.0 ** (u * 11 - 7) if name == "float16" else 10.0 ** (u * 30 - 15)
    elif kind == "near40":  # the direct formula's NaN regime (alpha = 30)
        v = 40 + 4 * u
    elif kind == "tiny":  # subnormals and the smallest normals
        v = _TINY[name] * torch.floor(1 + 8 * u) * (2 ** torch.floor(u * 3))
    elif kind == "huge":
        v = _HUGE[name] * (0.25 + 0.75 * u)
    else:
        raise ValueError(kind)
    return v.reshape(shape).to(dtype)


KINDS = ["uniform", "ties", "zeros", "range30", "near40", "tiny", "huge"]

# adaptive and global layouts: (dims, spatial shape, output_size)
ADAPTIVE_GEOMETRIES = [
    (1, (9,), 4),                  # overlapping windows of 3 and 4
    (1, (5,), 8),                  # output larger than the input: repeated elements
    (2, (7, 5), (3, 2)),
    (2, (5, 6), 1),                # global: one 30-element window per plane
    (2, (6, 4), (None, 3)),        # None keeps the input length
    (3, (3, 4, 3), (2, 2, 2)),
    (3, (3, 3, 3), 1),             # global 27-element window
]


def positive_signal(shape, dtype: torch.dtype, seed: int, zeros: float = 0.0) -> torch.Tensor:
    """Values in [0.05, 1.05), a fraction ``zeros`` of them exactly 0 (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.05
    if zeros:
        x[torch.rand(shape, generator=gen, dtype=torch.float64) < zeros] = 0.0
    return x.to(dtype)


# The large-window adversary: one element 1 and 12543 equal elements t (a 112 x 112 plane's
# count) whose weights t^alpha sum to about 1. The mean of |alpha ln(x/R)| under the weights is
# then near ln N, the most a relative error of ln(x/R) can weigh in y (the error analysis above
# ppool_forward_mixed in ppverify/ops/_triton_kernels.py), and equal elements share one error,
# so nothing averages out. (alpha, t): the first four are the cases of 768 near the balance
# point where the mixed Triton kernels with ln(x/R) rounded to float32 missed y by 2 float32
# ULP; the last two, where the pure-torch float64 path with a one-double logarithm missed it
# by 28 and 25 ULP. Every t is a float32 value (exact in every dtype used with it).
LARGE_WINDOW_N = 12544
LARGE_WINDOW_CASES = [(24.0, 0.6748326420783997), (28.0, 0.714122474193573),
                      (28.0, 0.7143190503120422), (32.0, 0.7445165514945984),
                      (24.0, 0.6743065118789673), (28.0, 0.7138333916664124),
                      (32.0, 0.7439036965370178), (35.3, 0.765590250492096),
                      (100.0, 0.9182688593864441), (100.0, 0.9111356139183044)]


def large_window_input(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, alpha)``: x of shape (1, len(LARGE_WINDOW_CASES), LARGE_WINDOW_N), one case per
    channel, for global pooling; alpha per channel (float64)."""
    x = torch.empty(1, len(LARGE_WINDOW_CASES), LARGE_WINDOW_N, dtype=dtype)
    for c, (_alpha, t) in enumerate(LARGE_WINDOW_CASES):
        x[0, c] = t
    x[0, :, 0] = 1.0
    return x, torch.tensor([a for a, _t in LARGE_WINDOW_CASES], dtype=torch.float64)
