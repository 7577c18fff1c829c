"""Adaptive and global pooling (adaptive_p_pool*, adaptive_gem_pool*, adaptive_lp_pool*,
AdaptivePPool*, GeM) against the oracle evaluated window by window, with the tolerances of the
windowed op (tests/ops/_compare.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import (
    AdaptivePPool2d,
    GeM,
    adaptive_gem_pool2d,
    adaptive_p_pool1d,
    adaptive_p_pool2d,
    gem,
)
from ppverify.oracle import ulp_distance

from ._cases import ADAPTIVE_GEOMETRIES, ALPHAS, KINDS, values
from ._compare import check_adaptive_case, dtype_name
from ._oracle_cache import reference

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
P_VALUES = [-3.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 30.0, 1e3]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
@pytest.mark.parametrize("g", range(len(ADAPTIVE_GEOMETRIES)))
def test_adaptive_p_pool_matches_oracle(dtype, g):
    dims, spatial, output_size = ADAPTIVE_GEOMETRIES[g]
    gen = torch.Generator().manual_seed(500 + 10 * g + DTYPES.index(dtype))
    for j, kind in enumerate(KINDS):
        for t in range(2):
            alpha = ALPHAS[(g * 5 + j * 3 + t * 7) % len(ALPHAS)]
            x = values(kind, (1, 2) + spatial, dtype, gen)
            check_adaptive_case("ppool", x, alpha, output_size, dims=dims)


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16], ids=dtype_name)
@pytest.mark.parametrize("g", [0, 2, 3, 6])
def test_adaptive_power_mean_and_lp_match_oracle(op, dtype, g):
    dims, spatial, output_size = ADAPTIVE_GEOMETRIES[g]
    gen = torch.Generator().manual_seed(900 + 10 * g + [torch.float64, torch.float32].count(dtype))
    for j, kind in enumerate(KINDS):
        for t in range(2):
            p = P_VALUES[(g * 3 + j * 2 + t * 5) % len(P_VALUES)]
            if op == "lp" and p == 0:
                p = 2.0
            if kind in ("zeros", "tiny") and p <= 0:
                p = -p or 1.0  # a zero with p <= 0 is outside the domain (tested below)
            x = values(kind, (1, 2) + spatial, dtype, gen)
            check_adaptive_case(op, x, p, output_size, dims=dims)


# Small |p|: y / R = exp(ln(S / D) / p), so a relative error of the sum S reaches y multiplied
# by 1 / |p|, and ln(S / D) / p, rounded to one double, costs |ln(S / D) / p| eps. Before
# 2026-12-04 the float64 power mean and Lp norm (the pure-torch path) missed these windows by
# up to 18 ULP (3 x 3) and 154-218 ULP (30 decades, p = 0.05).
SMALL_P = [0.02, 0.05, -0.05, 0.1]


def _small_p_windows(dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """3 x 3 planes: one dominant element and 8 equal elements t with t^p = c for c from 0.1
    to 0.9 (equal elements share every rounding error), one (p, c) per channel."""
    planes, params = [], []
    for p in SMALL_P:
        for c in (0.1, 0.3, 0.5, 0.7, 0.9):
            t = c ** (1.0 / p)
            plane = torch.full((3, 3), t, dtype=torch.float64)
            plane[1, 1] = 1.0 if p > 0 else t / 4
            planes.append(plane)
            params.append(p)
    return (torch.stack(planes)[None].to(dtype),
            torch.tensor(params, dtype=torch.float64))


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=dtype_name)
def test_small_p_matches_oracle(op, dtype):
    """p = 0.02 to 0.1 at the usual tolerances (forward 8 ULP): global pooling of the balanced
    3 x 3 windows above and of 20 x 20 planes spanning 30 decades; overlapping adaptive
    windows of ties (1, 1.5, 2), where the input gradient (x/L)^(p-1) has |ln(x/L)| = 43 and
    p - 1 rounded to one double cost 15 ULP (now an exact pair: ``_numerics.scaled_log``)."""
    x, p = _small_p_windows(dtype)
    check_adaptive_case(op, x, p, 1, dims=2)
    gen = torch.Generator().manual_seed(61)
    ps = torch.tensor(SMALL_P, dtype=torch.float64)
    x = values("range30", (1, len(SMALL_P), 20, 20), dtype, gen)
    check_adaptive_case(op, x, ps, 1, dims=2)
    gen = torch.Generator().manual_seed(5)  # its third draw: the 15-ULP Lp gradient
    for _ in range(3):
        x = values("ties", (1, 2, 7, 5), dtype, gen)
        check_adaptive_case(op, x, 0.05, (3, 2), dims=2)
    if dtype == torch.float64:  # input gradients near 1e307: (x/R)^(p-1) alone overflows
        tiny = {"powermean": [3e-30, 5e-31], "lp": [6e-24, 1e-24]}[op]
        x = torch.tensor([[[1e300, t] for t in tiny]], dtype=dtype)
        check_adaptive_case(op, x, 0.05, 1, dims=1)


def test_per_channel_parameter_and_grad_output():
    gen = torch.Generator().manual_seed(4)
    x = values("range30", (2, 3, 7, 6), torch.float64, gen)
    gout = torch.randn((2, 3, 3, 2), generator=gen, dtype=torch.float64)
    alpha = torch.tensor([-3.0, 0.5, 30.0], dtype=torch.float64)
    check_adaptive_case("ppool", x, alpha, (3, 2), dims=2, grad_output=gout)
    check_adaptive_case("powermean", x, torch.tensor([0.0, 1.5, 8.0], dtype=torch.float64),
                        (3, 2), dims=2, grad_output=gout)


def test_global_pooling_is_the_whole_plane():
    """output_size=1: one window per plane; the oracle's windowed pooling with the kernel
    equal to the plane is the same thing."""
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    ref = reference("ppool", x.numpy(), 2.5, (5, 4), dims=2, gradients=False)
    assert ulp_distance(adaptive_p_pool2d(x, 2.5, 1).numpy(), ref.output, "float64").max() <= 8
    assert torch.equal(AdaptivePPool2d(1, alpha=2.5, dtype=torch.float64)(x).detach(),
                       adaptive_p_pool2d(x, 2.5, 1))
    ref = reference("powermean", x.numpy(), 3.0, (5, 4), dims=2, gradients=False)
    assert ulp_distance(gem(x, 3.0).numpy(), ref.output, "float64").max() <= 8
    assert GeM(dtype=torch.float64)(x).shape == (2, 3, 1, 1)
    assert torch.equal(GeM(dtype=torch.float64)(x).detach(), adaptive_gem_pool2d(x, 3.0, 1))


def test_adaptive_windows_are_torchs():
    """alpha = 0 is the average: adaptive_p_pool equals adaptive_avg_pool (same windows).

    Both averages round, torch's in its own summation order, so they agree to a few units of
    2**-53 (an unseeded version with rtol=4e-16 failed about one run in twelve: 4.5e-16 was
    seen); a wrong window would be off by about 1e-1."""
    rtol = 8 * 2.0**-53
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 7, 5, dtype=torch.float64, generator=g) + 0.5
    for size in [(3, 2), (4, 4), (9, 7), 1, (None, 2)]:
        ours = adaptive_p_pool2d(x, 0.0, size)
        theirs = torch.nn.functional.adaptive_avg_pool2d(x, size)
        assert torch.allclose(ours, theirs, rtol=rtol, atol=0), size
    x1 = torch.rand(1, 2, 11, dtype=torch.float64, generator=g) + 0.5
    assert torch.allclose(adaptive_p_pool1d(x1, 0.0, 4),
                          torch.nn.functional.adaptive_avg_pool1d(x1, 4), rtol=rtol, atol=0)


def test_zero_with_negative_p_is_an_error_naming_the_element():
    x = torch.rand(1, 2, 4, 4) + 0.5
    x[0, 1, 2, 3] = 0.0
    with pytest.raises(ValueError, match=r"batch 0, channel 1, position \(2, 3\).* is 0 and p"):
        gem(x, -1.0)
    assert torch.isnan(gem(x, -1.0, validate=False)[0, 1]).all()
    assert torch.isfinite(gem(x, -1.0, validate=False)[0, 0]).all()


def test_adaptive_bad_arguments():
    x = torch.rand(1, 2, 4, 4)
    with pytest.raises(ValueError, match="output_size must be positive"):
        adaptive_p_pool2d(x, 1.0, 0)
    with pytest.raises(TypeError, match="output_size entries must be ints"):
        adaptive_p_pool2d(x, 1.0, (2.5, 2))
    with pytest.raises(ValueError, match="output_size must have 1 or 2 entries"):
        adaptive_p_pool2d(x, 1.0, (2, 2, 2))
    with pytest.raises(ValueError, match="adaptive pooling needs a non-empty input"):
        adaptive_p_pool2d(torch.rand(1, 2, 0, 4), 1.0, 2)
    assert np.isfinite(adaptive_p_pool2d(x, 1.0, 7).numpy()).all()  # larger than the input
