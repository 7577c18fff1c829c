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

from ppverify.ops import _dispatch, _native, p_pool2d
from ppverify.oracle import reference

ALPHAS = [1e17, 1e20, 1e39, 1e300, -1e17, -1e20, -1e39, -1e300]


@pytest.fixture(params=["native", "torch"])
def path(request, monkeypatch):
    if request.param == "native" and not _native.available():
        pytest.skip("no C++ kernel on this machine")
    if request.param == "torch":
        monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)
    return request.param


@pytest.mark.parametrize("alpha", ALPHAS)
def test_huge_alpha_is_max_or_min_pooling_against_the_oracle(path, alpha):
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
