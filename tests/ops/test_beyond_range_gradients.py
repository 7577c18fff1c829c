"""Input gradients whose per-window terms exceed float64's range while their sum does not.

With a parameter just above 0 (P-pooling's alpha, the power mean's or the Lp norm's p) a
window spanning float64's range has dy/dx ~ (R / x)^(1 - p) ~ 1e570 at its tiny element. Times
a grad_output of 1e-300 the input gradient is ~1e270, and two such terms of opposite signs
from two windows sharing the element leave a finite difference; summed as they came, the terms
overflowed first and the gradient was inf or NaN (`ppverify check ... --param 0.05`, float64
wide values: every path, the pure-torch backend, the C++ kernel's recomputing and saving
backwards and the Triton kernels). Checked against the oracle (mpmath), on every path.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import (
    _dispatch,
    _native,
    _triton,
    adaptive_gem_pool1d,
    gem_pool1d,
    lp_pool1d,
    p_pool1d,
)
from ppverify.oracle import ulp_distance

from ._oracle_cache import reference

BIG, TINY = 1e300, 1e-300
PARAMS = [0.05, 0.1, 0.3]
FUNCS = {"ppool": p_pool1d, "powermean": gem_pool1d, "lp": lp_pool1d}

#: (name, input row, kernel, stride, grad_output): one window (the saving backward's disjoint
#: state), two windows sharing the tiny element with opposite grad_output signs, and a
#: mixed row of overlapping windows
CASES = [
    ("one window", [BIG, TINY], 2, 2, [TINY]),
    ("two windows, opposite signs", [BIG, TINY, BIG], 2, 1, [TINY, -2 * TINY]),
    ("overlapping", [BIG, TINY, 3e250, TINY, 1e-200, 7.0], 3, 1,
     [TINY, -1e-290, 4e-301, -1.0]),
]


@pytest.fixture(params=["native", "native recomputing", "torch", "triton"])
def path(request, monkeypatch):
    if request.param.startswith("native") and not _native.available():
        pytest.skip("no C++ kernel on this machine")
    if request.param == "triton":  # P-pooling's Triton kernels, interpreted on CPU tensors
        pytest.importorskip("triton", reason="Triton is not installed")
        if _triton.interpreter_too_old("this test"):
            pytest.skip(_triton.interpreter_too_old("this test"))
        monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
        monkeypatch.delenv("PPVERIFY_TRITON_TILE", raising=False)
    if request.param == "torch":
        monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)
    return request.param


def _oracle(op, x, param, kernel, stride, gy):
    return reference(op, x.reshape(1, 1, -1), param, kernel, stride, dims=1, dtype="float64",
                     grad_output=np.asarray(gy, dtype=np.float64).reshape(1, 1, -1))


def _assert_close(got: np.ndarray, expected: np.ndarray, what: str, bound: float = 8):
    assert np.isfinite(expected).all(), f"the case is meant to be finite: {expected}"
    ulps = ulp_distance(got, expected, "float64")
    assert np.isfinite(got).all() and ulps.max() <= bound, (
        f"{what}: got {got.tolist()}, oracle {expected.tolist()} ({ulps.max()} ULP)")


@pytest.mark.parametrize("param", PARAMS)
@pytest.mark.parametrize("op", sorted(FUNCS))
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_windowed_gradient_beyond_the_range_of_its_terms(path, op, case, param):
    name, row, kernel, stride, gy = case
    x = torch.tensor(row, dtype=torch.float64).reshape(1, 1, -1)
    g = torch.tensor(gy, dtype=torch.float64).reshape(1, 1, -1)
    ref = _oracle(op, x.numpy(), param, kernel, stride, gy)
    if path == "native recomputing":  # the backward the custom op runs (no saved state)
        gx, _ = _dispatch.backward_impl(op, x, torch.tensor(param, dtype=torch.float64),
                                        _layout_of(kernel, stride), g, False)
    else:
        xg = x.clone().requires_grad_()
        FUNCS[op](xg, param, kernel, stride).backward(g)
        gx = xg.grad
    _assert_close(gx.numpy().ravel(), ref.grad_input.ravel(), f"{op} p={param} {name}")


def _layout_of(kernel, stride):
    """The decoded layout the functional form builds for a 1-D windowed call."""
    from ppverify.ops import _layout

    return _layout.windowed(1, kernel, stride)


@pytest.mark.parametrize("param", PARAMS)
def test_global_gradient_beyond_the_range_of_its_terms(path, param):
    x = torch.tensor([[[BIG, TINY, 2.5, 1e-250]]], dtype=torch.float64)
    gy = [[[TINY]]]
    xg = x.clone().requires_grad_()
    adaptive_gem_pool1d(xg, param, 1).backward(torch.tensor(gy, dtype=torch.float64))
    ref = reference("powermean", x.numpy(), param, 4, 4, dims=1, dtype="float64",
                    grad_output=np.asarray(gy))
    _assert_close(xg.grad.numpy().ravel(), ref.grad_input.ravel(), f"global p={param}")


def test_a_sum_that_is_beyond_the_range_stays_infinite(path):
    """The scaled sum does not hide a true overflow: grad_output 1 on the tiny element's
    window gives dy/dx itself, ~1e570 (the oracle: inf)."""
    x = torch.tensor([[[BIG, TINY]]], dtype=torch.float64, requires_grad=True)
    gem_pool1d(x, 0.05, 2).backward(torch.ones(1, 1, 1, dtype=torch.float64))
    ref = _oracle("powermean", x.detach().numpy(), 0.05, 2, 2, [1.0])
    assert np.isinf(ref.grad_input.ravel()[1])
    assert torch.isposinf(x.grad[0, 0, 1]), x.grad


@pytest.mark.parametrize("op", sorted(FUNCS))
def test_forward_mode_derivative_beyond_the_range_of_its_terms(op):
    """torch.func.jvp: a tangent of 1e-300 at the tiny element times dy/dx ~ 1e570 is finite
    (by linearity, the oracle's input gradient for a grad_output of 1e-300)."""
    x = torch.tensor([[[BIG, TINY]]], dtype=torch.float64)
    tangent = torch.tensor([[[0.0, TINY]]], dtype=torch.float64)
    _, dy = torch.func.jvp(lambda v: FUNCS[op](v, 0.05, 2), (x,), (tangent,))
    ref = _oracle(op, x.numpy(), 0.05, 2, 2, [TINY])
    _assert_close(dy.numpy().ravel(), ref.grad_input.ravel()[1:], f"{op} jvp")
