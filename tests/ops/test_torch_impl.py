"""The pure-torch path (the fallback of the compiled kernel) against the oracle, in every dtype,
forced with ``functional._use_native = False``; and its window views against windows.py."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _torch_impl, functional
from ppverify.windows import make_geometry, output_spatial_shape

from ._cases import ALPHAS, GEOMETRIES, KINDS, values
from ._compare import check_case, dtype_name


@pytest.fixture
def fallback(monkeypatch):
    monkeypatch.setattr(functional, "_use_native", lambda x: False)


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


def test_fallback_direct_formula_regression(fallback):
    x = (40 + torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4) / 4)
    for alpha in (30.0, 1e6):
        check_case(x, alpha, 2, dims=2)


@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_views_cover_exactly_the_windows(g):
    dims, spatial, k, s, p, d, cm = GEOMETRIES[g]
    geometry = make_geometry(dims, k, s, p, d, cm)
    out = output_spatial_shape(geometry, spatial)
    x = torch.arange(1, 1 + int(torch.tensor(spatial).prod()), dtype=torch.float64)
    x = x.reshape((1, 1) + spatial)
    win = _torch_impl.Windows(x, geometry, out)
    counts = torch.zeros_like(x)
    ones = [torch.ones((1, 1) + tuple(out), dtype=torch.float64) for _ in win.offsets]
    masked = [o if win.valid(off) is None else o * win.valid(off) for o, off in
              zip(ones, win.offsets)]
    counts = win.scatter(masked, x)
    from ppverify.windows import iter_windows

    expected = torch.zeros(spatial, dtype=torch.float64)
    for w in iter_windows(geometry, spatial):
        for pos in w.positions:
            expected[pos] += 1
    assert torch.equal(counts[0, 0], expected)


def test_log_ratio_is_accurate_for_subnormals_and_huge_ratios():
    v = torch.tensor([5e-324, 1e-310, 1e300, 1.0], dtype=torch.float64)
    ref = torch.tensor([1e308, 1e308, 5e-324, 1.0 + 2**-52], dtype=torch.float64)
    got = _torch_impl.log_ratio(v, ref)
    import mpmath

    for g, a, b in zip(got.tolist(), v.tolist(), ref.tolist()):
        with mpmath.workprec(200):
            exact = float(mpmath.log(mpmath.mpf(a) / mpmath.mpf(b)))
        assert abs(g - exact) <= 4 * 2**-52 * max(1.0, abs(exact))
