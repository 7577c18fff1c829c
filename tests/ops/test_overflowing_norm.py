"""The Lp norm at a small p, whose value and derivatives lie beyond every float format.

``y = (Σ x^p)^(1/p)`` grows like ``n^(1/p)``: at p = 1e-3 a window of five elements near 2 has
y ≈ 5^1000 ≈ 1e699, and its dy/dx and dy/dp as well. Such terms are still exact real numbers:
two windows holding the same elements (ties, all-equal values) give equal terms, so
grad_output signs +1 and -1 make an input or parameter gradient of exactly 0, and terms of
different sizes make ±inf with the sign of the larger one. Summed as they came, the terms
overflowed first and the gradient was NaN (inf - inf, or 0 times the scale 2^2100 that could
not hold the common exponent), in every dtype and on every path: `ppverify check
'ppverify.ops:lp_pool1d' --op lp --param 1e-3 --param -1e-3 --param 1e-8 --thorough --seed 1`
(float64 ties, float32 random values, bfloat16/float16 parameter gradients). Checked against
the oracle (mpmath), whose values here are the correctly rounded exact sums.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import (
    adaptive_lp_pool1d,
    gem_pool1d,
    lp_pool1d,
    lp_pool2d,
)
from ppverify.oracle import ulp_distance

from ._oracle_cache import reference

DTYPES = [torch.float64, torch.float32, torch.bfloat16, torch.float16]
NAMES = {torch.float64: "float64", torch.float32: "float32", torch.bfloat16: "bfloat16",
         torch.float16: "float16"}

#: (name, input row, kernel, stride, grad_output, p)
CASES = [
    # windows [2, 1] and [1, 2] hold the same elements: equal terms, grad_output +1 and -1
    ("same window twice, opposite signs", [2.0, 1.0, 2.0], 2, 1, [1.0, -1.0], 1e-4),
    ("same window twice, unequal weights", [2.0, 1.0, 2.0], 2, 1, [1.0, -2.0], 1e-4),
    # the reproducer of the float64 ties case: windows of five with stride 2 and ceil_mode off
    ("ties, stride 2", [2.0, 2.0, 2.0, 1.0, 2.0, 2.0, 2.0, 2.0, 1.0], 5, 2, [-1.0, 1.0, 1.0],
     1e-3),
    ("different windows, opposite signs", [0.86, 0.67, 3.8, 0.71, 1.02, 2.96], 4, 2,
     [-1.0, 1.0], 2e-7),  # (1e-8 in the reproducer: 0 in float16)
    ("all equal", [1.5] * 6, 3, 1, [1.0, -1.0, 2.0, -2.0], 1e-3),
]


def _agree(got: np.ndarray, expected: np.ndarray, dtype: str, bound: float, what: str):
    """Equal where the oracle's value is 0 or infinite, within ``bound`` ULP elsewhere."""
    got, expected = np.atleast_1d(got), np.atleast_1d(expected)
    exact = ~np.isfinite(expected) | (expected == 0)
    assert np.array_equal(got[exact], expected[exact]), (
        f"{what}: got {got.tolist()}, oracle {expected.tolist()}")
    if (~exact).any():
        ulps = ulp_distance(got[~exact], expected[~exact], dtype)
        assert ulps.max() <= bound, f"{what}: {ulps.max()} ULP ({got}, oracle {expected})"


def _run(func, row, p, dtype, gy, *args):
    x = torch.tensor(row, dtype=torch.float64).to(dtype).reshape(1, 1, -1).requires_grad_()
    param = torch.tensor(p, dtype=dtype, requires_grad=True)
    y = func(x, param, *args)
    g = torch.tensor(gy, dtype=torch.float64).to(dtype).reshape(y.shape)
    gx, gp = torch.autograd.grad(y, [x, param], g)
    return x, param, y, g, gx, gp


@pytest.mark.parametrize("dtype", DTYPES, ids=[NAMES[d] for d in DTYPES])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradients_of_a_norm_beyond_the_range(native_or_torch, case, dtype):
    name, row, kernel, stride, gy, p = case
    x, param, y, g, gx, gp = _run(lp_pool1d, row, p, dtype, gy, kernel, stride)
    ref = reference("lp", x.detach().double().numpy(), float(param), (kernel,), (stride,),
                    dims=1, dtype=NAMES[dtype], grad_output=g.double().numpy())
    what = f"{name} {NAMES[dtype]} ({native_or_torch})"
    _agree(y.detach().double().numpy().ravel(), ref.output.ravel(), NAMES[dtype], 2,
           f"output, {what}")
    _agree(gx.double().numpy().ravel(), ref.grad_input.ravel(), NAMES[dtype], 64,
           f"grad_input, {what}")
    _agree(gp.double().numpy(), np.asarray(ref.grad_param), NAMES[dtype], 256,
           f"grad_param, {what}")


def test_a_finite_gradient_from_terms_beyond_the_range(native_or_torch):
    """dy/dx ~ 1e602 (p = 5e-4) times a grad_output of 1e-300: a finite input gradient (the
    parameter's, ~1e609 times, is not)."""
    row, gy = [2.0, 1.0, 2.0], [1e-300, -3e-300]
    x, param, y, g, gx, gp = _run(lp_pool1d, row, 5e-4, torch.float64, gy, 2, 1)
    ref = reference("lp", x.detach().numpy(), 5e-4, (2,), (1,), dims=1, dtype="float64",
                    grad_output=g.numpy())
    assert np.isfinite(ref.grad_input).all() and np.abs(ref.grad_input).max() > 1e300
    _agree(gx.numpy().ravel(), ref.grad_input.ravel(), "float64", 64, "grad_input")
    _agree(gp.numpy(), np.asarray(ref.grad_param), "float64", 256, "grad_param")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_global_norm_beyond_the_range_over_planes(native_or_torch, dtype):
    """A per-channel p over planes of equal values: the parameter gradient of each channel
    sums two planes' equal terms with grad_output +1 and -1 (exactly 0)."""
    x = torch.full((2, 2, 5), 1.25, dtype=dtype, requires_grad=True)
    p = torch.tensor([1e-3, 2e-3], dtype=dtype, requires_grad=True)
    y = adaptive_lp_pool1d(x, p, 1)
    g = torch.tensor([[[1.0], [2.0]], [[-1.0], [-3.0]]], dtype=dtype)
    gx, gp = torch.autograd.grad(y, [x, p], g)
    for c in range(2):
        ref = reference("lp", x[:, c:c + 1].detach().double().numpy(), float(p[c]), (5,), (5,),
                        dims=1, dtype=NAMES[dtype], grad_output=g[:, c:c + 1].double().numpy())
        _agree(gx[:, c].double().numpy().ravel(), ref.grad_input.ravel(), NAMES[dtype], 64,
               f"grad_input, channel {c}")
        _agree(gp[c:c + 1].double().numpy(), np.asarray(ref.grad_param), NAMES[dtype], 256,
               f"grad_param, channel {c}")


def test_the_power_mean_stays_in_range():
    """The power mean of the same windows is near 1.4: nothing here applies to it (a control:
    the same comparison, finite values)."""
    x, param, y, g, gx, gp = _run(gem_pool1d, [2.0, 1.0, 2.0], 1e-4, torch.float64,
                                  [1.0, -1.0], 2, 1)
    assert torch.isfinite(gx).all() and torch.isfinite(gp)


def _exact_jvp(row, p, tx, tp) -> float:
    """d/dt (Σ (x + t tx)^(p + t tp))^(1 / (p + t tp)) at t = 0 for one window, in mpmath
    (no exponent range: the value is exact to 60 digits, then rounded to float64)."""
    import mpmath

    with mpmath.workdps(60):
        def norm(t):
            q = mpmath.mpf(p) + t * mpmath.mpf(tp)
            return mpmath.fsum((mpmath.mpf(v) + t * mpmath.mpf(d)) ** q
                               for v, d in zip(row, tx)) ** (1 / q)
        d = mpmath.diff(norm, 0)
        return float(d) if abs(d) < mpmath.mpf(2) ** 1024 else float(mpmath.sign(d)) * np.inf


@pytest.mark.parametrize("row, tx, tp", [
    ([2.0, 2.0], [1.0, -1.0], 0.0),      # equal terms: exactly 0
    ([2.0, 2.0], [1.0, -1.0], None),     # the same without a parameter tangent
    ([2.0, 1.0], [1.0, -1.0], 0.0),      # the smaller element's term is the larger: -inf
    ([2.0, 1.0], [1.0, 1.0], 1.0),       # +inf from x, -inf from p (1/p^2 larger): -inf
    ([2.0, 1.0], [0.0, 0.0], -1.0),      # the parameter's alone: +inf
])
def test_forward_mode_derivative_of_a_norm_beyond_the_range(native_or_torch, row, tx, tp):
    """torch.func.jvp (the pure-torch path's forward-mode formula on every path) at p = 1e-4,
    where y ~ 2^10000: the derivative's terms are beyond float64's range, their sum too, or
    exactly 0; it was NaN (inf - inf, or 0 times the unit 2^10000 as inf)."""
    x = torch.tensor([[row]], dtype=torch.float64)
    p = torch.tensor(1e-4, dtype=torch.float64)
    t = torch.tensor([[tx]], dtype=torch.float64)
    if tp is None:
        _, dy = torch.func.jvp(lambda v: lp_pool1d(v, p, 2), (x,), (t,))
    else:
        _, dy = torch.func.jvp(lambda v, q: lp_pool1d(v, q, 2), (x, p),
                               (t, torch.tensor(tp, dtype=torch.float64)))
    expected = _exact_jvp(row, 1e-4, tx, tp or 0.0)
    assert float(dy) == expected, (float(dy), expected)


def test_near_ties_beyond_the_range(native_or_torch):
    """Windows a few ULP apart at p = 1e-8: their y ~ 5^(1e8) differ by about 1e-17 relative,
    below one rounding of a term's mantissa, and grad_output +1 and -1 leave that difference,
    +inf. With each mantissa one double the two terms came out equal (0 where inf); they are
    pairs now (``scaled_power_ratio(..., low=True)``). The reproducer's plane, float64."""
    u = 2.0**-53  # one ULP of 0.75
    row = [0.75 + n * u for n in (3, 4, 3, 3, 2, 4, 0, 3, 0)]
    x = torch.tensor(row, dtype=torch.float64).reshape(1, 1, -1).requires_grad_()
    p = torch.tensor(1e-8, dtype=torch.float64)
    g = torch.tensor([[[1.0, -1.0, 2.0]]], dtype=torch.float64)
    (gx,) = torch.autograd.grad(lp_pool1d(x, p, 5, 3, True), [x], g)
    ref = reference("lp", x.detach().numpy(), 1e-8, (5,), (3,), ceil_mode=True, dims=1,
                    dtype="float64", grad_output=g.numpy())
    assert np.isposinf(ref.grad_input.ravel()[3])  # the element both windows hold
    _agree(gx.numpy().ravel(), ref.grad_input.ravel(), "float64", 64, "grad_input")


def test_terms_of_different_sizes_are_not_absorbed(native_or_torch):
    """All-equal float32 values, 3 x 3 windows with stride 2 and ceil_mode: an element's
    terms from two full windows (9 elements, y = 9^1000 x) cancel and one from a partial
    window (6 elements, 1e176 times smaller) is the gradient's sign; added as they came, the
    small term was lost before the large ones cancelled (-inf where +inf)."""
    x = torch.ones(1, 1, 8, 8, dtype=torch.float32, requires_grad=True)
    p = torch.tensor(1e-3, dtype=torch.float32)
    g = torch.from_numpy(np.random.default_rng(3).choice([-1.0, 1.0, 2.0], (1, 1, 4, 4)))
    g = g.to(torch.float32)
    g[0, 0, 0, 2], g[0, 0, 0, 3], g[0, 0, 1, 2], g[0, 0, 1, 3] = -1.0, 2.0, 1.0, -1.0
    (gx,) = torch.autograd.grad(lp_pool2d(x, p, 3, 2, True), [x], g)
    ref = reference("lp", x.detach().double().numpy(), float(p), (3, 3), (2, 2),
                    ceil_mode=True, dims=2, dtype="float32",
                    grad_output=g.double().numpy())
    assert np.isposinf(ref.grad_input[0, 0, 2, 6])
    _agree(gx.double().numpy().ravel(), ref.grad_input.ravel(), "float32", 64, "grad_input")
