"""The op-versus-oracle comparison ``_compare.check_case`` is itself a checker: it must pass the
op and fail deliberately broken versions of it (value, NaN, input gradient, alpha gradient)."""

from __future__ import annotations

import pytest
import torch

from ppverify import ops

from ._compare import check_case

X = torch.tensor([[[0.5, 1.25, 3.0, 2.0, 0.75, 1.5]]], dtype=torch.float32)


class _Scale(torch.autograd.Function):
    """Identity forward, gradient multiplied by ``s`` (a deliberately wrong backward)."""

    @staticmethod
    def forward(ctx, t, s):
        ctx.s = s
        return t.view_as(t)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.s, None


def _broken(value=1.0, grad_input=1.0, grad_alpha=1.0, nan=False):
    original = ops.p_pool1d

    def p_pool1d(input, alpha, *args):
        x = _Scale.apply(input, grad_input)
        a = _Scale.apply(alpha, grad_alpha) if isinstance(alpha, torch.Tensor) else alpha
        y = original(x, a, *args) * value
        return y * float("nan") if nan else y

    return p_pool1d


def test_the_op_passes():
    check_case(X, 2.5, 3, 1, 1, dims=1)


@pytest.mark.parametrize("bug, message", [
    (dict(value=1 + 2.0**-19), "forward"),  # 16 ULP in float32, the tolerance is 8
    (dict(nan=True), "non-finite"),
    (dict(grad_input=1.001), "grad_input"),
    (dict(grad_alpha=1.001), "grad_alpha"),
], ids=["value", "nan", "grad_input", "grad_alpha"])
def test_a_broken_op_is_caught(monkeypatch, bug, message):
    monkeypatch.setattr(ops, "p_pool1d", _broken(**bug))
    with pytest.raises(AssertionError, match=message):
        check_case(X, 2.5, 3, 1, 1, dims=1)
