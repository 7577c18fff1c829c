"""The pure-torch path (the fallback of the compiled kernel) against the oracle, in every dtype,
forced with ``_dispatch._use_native = False``; and its window gathering against windows.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import _dispatch, _gather, _numerics, native_available
from ppverify.windows import (
    iter_windows,
    make_adaptive_geometry,
    make_geometry,
    output_spatial_shape,
)

from ._cases import ALPHAS, GEOMETRIES, KINDS, large_window_input, values
from ._compare import check_adaptive_case, check_case, dtype_name


@pytest.fixture
def fallback(monkeypatch):
    monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16],
                         ids=dtype_name)
@pytest.mark.parametrize("g", [0, 2, 5, 6])
def test_fallback_matches_oracle(fallback, dtype, g):
    dims, spatial, k, s, p, d, cm = GEOMETRIES[g]
    gen = torch.Generator().manual_seed(77 + g)
    for j, kind in enumerate(KINDS):
        for t in range(2):
            alpha = ALPHAS[(g * 7 + j * 5 + t * 6) % len(ALPHAS)]
            x = values(kind, (1, 2) + spatial, dtype, gen)
            check_case(x, alpha, k, s, p, d, cm, dims=dims)


@pytest.mark.parametrize("path, dtype", [("fallback", torch.float64), ("native", torch.float64),
                                         ("native", torch.float32), ("native", torch.bfloat16),
                                         ("native", torch.float16)],
                         ids=["fallback-float64", "native-float64", "native-float32",
                              "native-bfloat16", "native-float16"])
def test_large_window_adversary_within_bound(monkeypatch, path, dtype):
    """Global windows of 12544 elements built so that ln(x/R)'s relative error weighs most
    (``_cases.LARGE_WINDOW_CASES``): forward and gradients within the usual bounds (8 ULP
    forward in float64 and float32, 2 in the half types) on the pure-torch path (float64) and
    the compiled kernel (every dtype; the narrow ones gave 0 ULP). The pure-torch path's
    one-double logarithm (log1p of a mantissa ratio in (1/2, 2)) missed the forward by 28 ULP
    (``_numerics._log_ratio_dd`` now); the kernel's dy/dalpha, a plain sum over the window's
    12544 terms, by 3220 ULP (a Neumaier sum now: ``exact_grad_lanes``)."""
    if path == "fallback":
        monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)
    elif not native_available():
        pytest.skip("the compiled kernel is not available here")
    x, alpha = large_window_input(dtype)
    check_adaptive_case("ppool", x, alpha, 1, dims=1)  # forward 8 ULP (2 in the half types)


def test_fallback_direct_formula_regression(fallback):
    x = (40 + torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4) / 4)
    for alpha in (30.0, 1e6):
        check_case(x, alpha, 2, dims=2)


@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_gathered_windows_are_exactly_the_windows(g):
    """Every window's gathered elements (in row-major kernel order) are those of
    ppverify.windows, and scatter adds each element's windows back."""
    dims, spatial, k, s, p, d, cm = GEOMETRIES[g]
    geometry = make_geometry(dims, k, s, p, d, cm)
    _check_gather(geometry, spatial)


@pytest.mark.parametrize("dims, spatial, output_size", [
    (1, (7,), 3), (1, (5,), 8), (2, (5, 7), (2, 3)), (2, (4, 4), 1), (2, (6, 5), (None, 2)),
    (3, (3, 4, 5), (2, 3, 2)), (3, (2, 3, 2), 1)])
def test_gathered_adaptive_windows_are_exactly_the_windows(dims, spatial, output_size):
    _check_gather(make_adaptive_geometry(dims, output_size), spatial)


def _check_gather(geometry, spatial):
    index = _gather.WindowIndex(geometry, spatial, torch.device("cpu"))
    n = int(np.prod(spatial))
    x = torch.arange(1, 1 + n, dtype=torch.float64).reshape((1, 1) + tuple(spatial))
    X = index.gather(x)
    valid = torch.ones(X.shape[2:], dtype=torch.bool) if index.valid is None else index.valid
    wins = list(iter_windows(geometry, spatial))
    assert X.shape[2:-1] == output_spatial_shape(geometry, spatial)
    expected_counts = torch.zeros(spatial, dtype=torch.float64)
    for w in wins:
        got = X[(0, 0) + w.out_index][valid[w.out_index]]
        want = torch.tensor([float(x[(0, 0) + pos]) for pos in w.positions],
                            dtype=torch.float64)
        assert torch.equal(got, want), (w.out_index, got, want)
        for pos in w.positions:
            expected_counts[pos] += 1
    counts = index.scatter(torch.where(valid, 1.0, 0.0).expand_as(X))
    assert torch.equal(counts[0, 0], expected_counts)


def test_log_ratio_is_accurate_for_subnormals_and_huge_ratios():
    v = torch.tensor([5e-324, 1e-310, 1e300, 1.0], dtype=torch.float64)
    ref = torch.tensor([1e308, 1e308, 5e-324, 1.0 + 2**-52], dtype=torch.float64)
    got = _numerics.log_ratio(v, ref)
    import mpmath

    for g, a, b in zip(got.tolist(), v.tolist(), ref.tolist()):
        with mpmath.workprec(200):
            exact = float(mpmath.log(mpmath.mpf(a) / mpmath.mpf(b)))
        assert abs(g - exact) <= 4 * 2**-52 * max(1.0, abs(exact))


def test_scaled_power_ratio_is_accurate_where_the_power_alone_overflows():
    # f (v/ref)^b e^c with (v/ref)^b beyond the float64 range (or its exponent near 710,
    # where one rounded double exponent costs 150+ ulp) but the product representable
    f = torch.tensor([1.8527842467884281e-155, 3e-200, -2.5e-100, 1e250, 0.75],
                     dtype=torch.float64)
    v = torch.tensor([2.0**-20, 1e-300, 1e300, 1e-300, 3.0], dtype=torch.float64)
    ref = torch.tensor([2.0**1006, 1.0, 1e-10, 1.0, 2.0], dtype=torch.float64)
    b = torch.tensor([-1.0, -1.5, 1.0 + 2**-40, 1.25, -0.5], dtype=torch.float64)
    c = torch.tensor([-1.3862943611198906, 2.0, -0.5, -3.0, 0.1], dtype=torch.float64)
    got = _numerics.scaled_power_ratio(f, v, ref, b, c)
    import mpmath

    for i, g in enumerate(got.tolist()):
        with mpmath.workprec(300):
            exact = (mpmath.mpf(f[i].item()) * (mpmath.mpf(v[i].item()) / mpmath.mpf(ref[i].item()))
                     ** mpmath.mpf(b[i].item()) * mpmath.exp(mpmath.mpf(c[i].item())))
        assert mpmath.isfinite(exact) and abs(exact) < 1.7e308
        assert abs(g - float(exact)) <= 4 * 2**-52 * abs(float(exact)), (i, g, float(exact))
