"""P-pooling with |alpha| far beyond the dominant element's float gap: max / min pooling.

The C++ kernel's slow path (a window far below its plane's largest element) formed
``r = x * (1 / R)``, which can exceed 1 at the window's maximum ``R`` by one rounding; with
``alpha >= ~1e17`` the weight ``exp(alpha ln r)`` then overflowed and the window gave NaN,
silently (``alpha = 1e39`` on a random (4, 4) plane, 2x2 windows). Checked against the oracle,
on the C++ kernel and the pure-torch path.
"""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import p_pool2d

from ._oracle_cache import reference

ALPHAS = [1e17, 1e20, 1e39, 1e300, -1e17, -1e20, -1e39, -1e300]


@pytest.mark.parametrize("alpha", ALPHAS)
def test_huge_alpha_is_max_or_min_pooling_against_the_oracle(native_or_torch, alpha):
    bad = []
    for seed in range(6):
        x = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(seed))
        x[0, 0] *= 1e-20  # planes whose windows lie far below other planes' maxima
        x[1, 2, :3] *= 1e-30  # and windows far below their own plane's maximum
        xg = x.clone().requires_grad_()
        y = p_pool2d(xg, alpha, 2)
        y.backward(torch.ones_like(y))
        ref = reference("ppool", x.numpy(), alpha, 2, dims=2, dtype="float32",
                        param_gradient=False)
        expected = torch.as_tensor(ref.output).reshape(y.shape)
        expected_grad = torch.as_tensor(ref.grad_input).reshape(x.shape)
        if not (torch.equal(y.detach(), expected) and torch.equal(xg.grad, expected_grad)):
            bad.append((seed, int((y != expected).sum()), int(y.isnan().sum()),
                        int((xg.grad != expected_grad).sum())))
    assert not bad, f"(seed, output mismatches, NaN outputs, gradient mismatches): {bad}"


@pytest.mark.parametrize("alpha", [40.0, 100.0])
def test_a_weight_that_underflows_next_to_an_overflowing_ratio(native_or_torch, alpha):
    """A window far below its plane's largest weight (the compiled kernel's weights are
    relative to the plane) holding a tiny element: its E underflows to 0 while a Q / x
    (y / S over that x) overflows, and E ((1 + a) P - a Q / x) was 0 * inf = NaN (float32,
    an adaptive row of [4.7e-36, 5.3e21, 3.6e31] below a plane maximum of 3.7e37, found by
    ppverify check --thorough --seed 1). Its dy/dx is 0."""
    from ppverify.ops import adaptive_p_pool2d

    rows = [[1.0, 1.0, 1.0], [7257286.0, 3.7124255754308297e37, 1.1469206545476901e-32],
            [4.687425423204584e-36, 5.321431364652795e21, 3.628322949611683e31],
            [1.3241649808732462e32, 2.7872558191470445e19, 992659374080.0]]
    x = torch.tensor([rows], dtype=torch.float32)
    xg = x.clone().requires_grad_()
    y = adaptive_p_pool2d(xg, torch.tensor(alpha, requires_grad=True), (4, 1))
    y.backward(torch.ones_like(y))
    ref = reference("ppool", x.numpy(), alpha, (1, 3), (1, 3), dims=2, dtype="float32",
                    param_gradient=False)
    expected = torch.as_tensor(ref.grad_input).reshape(x.shape)
    assert torch.isfinite(xg.grad).all() and torch.equal(xg.grad.abs(), expected.abs()), (
        xg.grad, expected)
