"""The power mean and the Lp norm at tiny exponents (|p| down to 1e-30, and p = 0 exactly),
against the oracle (mpmath).

At a tiny |p| the power mean is the geometric mean to within rounding, which for a window
spanning more than 308 decades lies beyond float64's normal range relative to the window's
dominant element R: the output y = R (y / R) lost its digits in a subnormal y / R (the
geometric mean of [3.2e37, 2.0e-233, 3.7e-300, 3.1e263] is 1.6575e-58; it came out 0.43% off,
at p = 0, 1e-12 and 1e-8), or with p < 0 y / R overflowed (inf where 7.5e32 is right). The
input gradient at p = 0 overflowed in y / x where y / (x D) is finite (inf for 1.1e308), a
window of one zero had dy/dx = 0 where y = x gives 1 (every path and dtype), and a parameter
gradient summed over windows lost its subnormal digits when a window with y = 0 set the scale
of the sum (4.78833323659e-312 for 4.788335563703e-312). Found with `ppverify check
'ppverify.ops:gem_pool{d}d' --op powermean --param 1e-8 --param -1e-8 --param 1e-30 --param 0
--thorough --seed 1`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import gem_pool1d
from ppverify.oracle import ulp_distance

from ._oracle_cache import reference

WIDE = [1.0, 1.0, 1.0, 1.0, 3.190147189883798e37, 1.0, 2.0128589904991042e-233, 1.0,
        3.7330544740128755e-300, 1.0, 3.148880786512287e263]


def _op(x, p, **kw):
    x = torch.tensor(x, dtype=torch.float64).reshape(1, 1, -1).requires_grad_(True)
    param = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    y = gem_pool1d(x, param, **kw)
    gx, gp = torch.autograd.grad(y, [x, param], torch.ones_like(y))
    return x, y, gx, gp


def _reference(x, p, kernel, **kw):
    geometry = {k: (v,) for k, v in kw.items()}
    return reference("powermean", x.detach().numpy(), p, (kernel,), dims=1, dtype="float64",
                     **geometry)


@pytest.mark.parametrize("p", [0.0, 1e-16, 1e-12, 1e-8, 1e-6, -1e-8, -1e-12])
def test_geometric_regime_beyond_the_normal_range_relative_to_r(p):
    x, y, gx, gp = _op(WIDE, p, kernel_size=4, stride=4, dilation=2)
    ref = _reference(x, p, 4, stride=4, dilation=2)
    assert np.all(np.isfinite(y.detach().numpy()))
    assert ulp_distance(y.detach().numpy().ravel(), ref.output.ravel(), "float64").max() <= 4
    err = np.abs(gx.numpy().ravel() - ref.grad_input.ravel())
    assert np.all(err <= 64 * np.spacing(np.abs(ref.grad_input.ravel())) + 1e-320)
    assert abs(float(gp) - float(ref.grad_param)) <= 256 * np.spacing(abs(float(ref.grad_param)))


def test_negative_tiny_exponent_does_not_overflow_y_over_r():
    # R is the smallest element for p < 0: y / R = 1e500 overflowed, y = 1e200 does not
    x = [1e-300, 1e300, 1e300, 1e300, 1e300, 1e300]
    xt, y, gx, gp = _op(x, -1e-8, kernel_size=6)
    ref = _reference(xt, -1e-8, 6)
    assert np.isfinite(float(y)) and float(ref.output.ravel()[0]) == pytest.approx(float(y),
                                                                                  rel=1e-15)


def test_geometric_mean_input_gradient_near_the_top_of_the_range():
    # dy/dx = y / (x D): R / x and y / x = 4.8e308 overflow where the gradient 1.2e308 does not
    x = [1e300, 1e300, 1e300, 6e-112]
    xt, y, gx, gp = _op(x, 0.0, kernel_size=4)
    ref = _reference(xt, 0.0, 4)
    assert np.all(np.isfinite(ref.grad_input))
    assert ulp_distance(gx.numpy().ravel(), ref.grad_input.ravel(), "float64").max() <= 4


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_geometric_mean_of_a_single_zero_has_derivative_one(dtype):
    # a window of one element is the element itself (y = x) whatever p: dy/dx = 1, at 0 too
    x = torch.zeros(1, 1, 1, dtype=dtype, requires_grad=True)
    y = gem_pool1d(x, torch.tensor(0.0, dtype=dtype), 2, padding=1)
    (g,) = torch.autograd.grad(y.sum(), [x])
    ref = reference("powermean", np.zeros((1, 1, 1)), 0.0, (2,), padding=(1,), dims=1)
    assert float(ref.grad_input.ravel()[0]) == 1.0 and float(g) == 1.0


def test_parameter_gradient_summed_over_windows_keeps_its_subnormal_digits():
    # p = 0.001 on windows of 27 holding zeros: y = (k/27)^1000 is 1e-352 for k = 12 (a unit
    # 2^-1169 that is 0 in float64, beside dy/dp / unit = 6e5) and 1e-317 for k = 13 (dy/dp
    # 6e-311): the first term's zero unit set the scale of the sum, and the second lost its
    # digits (4.7e5 ULP)
    row = [1.0] * 12 + [0.0] * 15 + [1.0] * 13 + [0.0] * 14
    xt = torch.tensor(row, dtype=torch.float64).reshape(1, 1, -1).requires_grad_(True)
    param = torch.tensor(0.001, dtype=torch.float64, requires_grad=True)
    y = gem_pool1d(xt, param, 27)
    (gp,) = torch.autograd.grad(y, [param], torch.ones_like(y))
    ref = reference("powermean", np.array(row).reshape(1, 1, -1), 0.001, (27,), dims=1,
                    dtype="float64")
    want = float(ref.grad_param)
    assert 0 < want < 2.3e-308  # a subnormal sum
    assert abs(float(gp) - want) <= 256 * np.spacing(want)
