"""float64's plain forward straight from the element cache (issue 12: float64 forward speed).

A float64 forward with no gradient wanted evaluates each window (8 planes at a time) by
``forward_window64`` in ``ppool_kernel.cpp``: the exact engine's passes 1 and 2 and its y, read
straight from the group's element cache (x, x^alpha and its low part per position), without
the gather, the per-element stores or the sums only the backward reads. Windows it does not
take (a special lane: no positive element, zeros at alpha < 0, a bad element; an old-path lane:
|alpha| > 16, a span below 1/16; a y that needs ldexp) go to ``exact_window`` as before.

The overlap state's saving forward (an autograd call with windows that share elements) takes
the same lean windows, forming also D, the dy/dalpha sums and the state's values as
``exact_window``'s ``want_state`` does.

These tests hold its outputs to the oracle over the adversarial inputs, show that it is used
(``_native.lean_windows64``) and where it is not, and that its outputs, states and gradients
have the bits of the exact engine's (``_native.lean64(False)``: every window by
``exact_window``): a change of its arithmetic, even one within the forward's bound, fails that
comparison."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native, p_pool1d, p_pool2d, p_pool3d

from ._cases import KINDS, values
from ._compare import check_case

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")

F64 = torch.float64
ALPHAS = [-3.0, 0.0, 0.5, 2.0, 16.0, 30.0]
# (dims, spatial, kernel, stride, padding, dilation, ceil_mode)
GEOMETRIES = [
    (1, (12,), 5, 2, 2, 1, False),
    (2, (9, 8), 3, 2, 1, 1, False),
    (2, (8, 8), 2, 2, 0, 1, False),
    (2, (10, 9), (3, 2), (2, 1), (1, 0), (2, 1), True),  # dilation, ceil_mode
    (3, (5, 6, 5), 3, 2, 1, 1, False),
]


def _fn(dims):
    return {1: p_pool1d, 2: p_pool2d, 3: p_pool3d}[dims]


def _alpha(value: float, channels: int) -> torch.Tensor:
    # one alpha per channel around value: lanes of one group differ
    return value + torch.linspace(0.0, 0.25, channels, dtype=F64)


@pytest.mark.parametrize("geometry", range(len(GEOMETRIES)))
def test_float64_forward_matches_oracle(geometry):
    """Every adversarial kind at every alpha, 9 channels (a full group of 8 planes and one of
    1): the no-gradient forward within the float64 bound; the lean windows are used."""
    dims, spatial, k, s, p, d, cm = GEOMETRIES[geometry]
    gen = torch.Generator().manual_seed(700 + geometry)
    _native.lean_windows64()
    for kind in KINDS:
        for alpha in ALPHAS:
            x = values(kind, (1, 9) + spatial, F64, gen)
            check_case(x, _alpha(alpha, 9), k, s, p, d, cm, dims=dims, gradients=False)
    assert _native.lean_windows64() > 0


@pytest.fixture
def lean_off():
    """A function ``run(fn, *args)``: ``fn(*args)`` with forward_window64 off (exact_window
    for every window), the setting restored after."""
    def run(fn, *args):
        before = _native.lean64(False)
        try:
            return fn(*args)
        finally:
            _native.lean64(before)
    return run


def _forward_backward(fn, x, a, args, g):
    xi, ai = x.clone().requires_grad_(), a.clone().requires_grad_()
    y = fn(xi, ai, *args)
    y.backward(g)
    return y.detach(), xi.grad, ai.grad


@pytest.mark.parametrize("geometry", range(len(GEOMETRIES)))
@pytest.mark.parametrize("channels", [3, 8, 11])
def test_float64_lean_windows_have_the_exact_engines_bits(geometry, channels, lean_off):
    """The lean windows give the bits of exact_window's: the plain forward's output, and the
    overlap state's saving forward's output and (through the backward from that state) the
    input and alpha gradients, with forward_window64 on and off, over every kind and alpha."""
    dims, spatial, k, s, p, d, cm = GEOMETRIES[geometry]
    fn, args = _fn(dims), (k, s, p, d, cm)
    gen = torch.Generator().manual_seed(800 + geometry)
    lean = lean_state = 0
    for kind in KINDS:
        for alpha in ALPHAS:
            x = values(kind, (2, channels) + spatial, F64, gen)
            a = _alpha(alpha, channels)
            _native.lean_windows64()
            with torch.no_grad():
                plain = fn(x, a, *args)
            lean += _native.lean_windows64()
            g = torch.randn(plain.shape, generator=gen, dtype=F64)
            state = _forward_backward(fn, x, a, args, g)
            lean_state += _native.lean_windows64()
            with torch.no_grad():
                plain_off = lean_off(fn, x, a, *args)
            state_off = lean_off(_forward_backward, fn, x, a, args, g)
            assert _native.lean_windows64() == 0
            assert torch.equal(plain, plain_off), (kind, alpha)
            assert torch.equal(plain, state[0]), (kind, alpha)
            for got, want, what in zip(state, state_off, ("y", "grad_input", "grad_alpha")):
                assert torch.equal(got, want), (what, kind, alpha)
    assert lean > 0
    # the saving forward's lean windows (k2 s2's disjoint windows too: contiguous float64
    # with 4 elements per window saves the overlap state)
    assert lean_state > 0


@pytest.mark.parametrize("case", ["narrow", "alpha_17", "zeros_negative_alpha", "subnormal",
                                  "all_zero"])
def test_float64_forward_windows_left_to_the_exact_engine(case):
    """Windows the lean form does not take (an old-path or special lane among the 8) are
    evaluated by exact_window: fewer lean windows, outputs still within the bound."""
    gen = torch.Generator().manual_seed(31)
    x = values("uniform", (1, 8, 9, 8), F64, gen) + 0.05
    alpha = torch.full((8,), 2.0, dtype=F64)
    _native.lean_windows64()
    with torch.no_grad():
        p_pool2d(x, alpha, 3, 2, 1)
    every = _native.lean_windows64()
    assert every == 5 * 4  # every window of the plane group
    if case == "narrow":  # a span below 1/16 in one plane's top-left windows
        x[0, 3, :3, :3] = 1.0 + torch.rand((3, 3), generator=gen, dtype=F64) / 32
    elif case == "alpha_17":  # one plane beyond the new path: every window
        alpha[5] = 17.0
    elif case == "zeros_negative_alpha":
        alpha[2] = -1.5
        x[0, 2, 4, 4] = 0.0
    elif case == "subnormal":
        x[0, 6, 4, 4] = 1e-310
    elif case == "all_zero":
        x[0, 1, :2, :2] = 0.0
    _native.lean_windows64()
    check_case(x, alpha, 3, 2, 1, dims=2, gradients=False)
    left = every - _native.lean_windows64()
    assert (left == every) if case == "alpha_17" else (0 < left < every), left
