"""The channels-last forward at an integer alpha that sums windows straight from memory.

At one alpha of 0-4 for every plane, a channels-last input with channels in whole groups of 8
has its windows summed from memory, 8 channels a vector (``cl_direct_forward`` in
ppool_kernel.cpp; ``_native.direct_rows`` counts its output rows): the plain forward, and the
saving forward of the integer-alpha window state where alpha is not learned. Every case is
checked against the oracle, the path counted (a case that silently took another path fails),
and compared bit for bit with the general path of the same build (``_native.direct_enable``),
whose terms it adds in the same order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify import ops
from ppverify.ops import _native
from ppverify.oracle import ulp_distance

from ._cases import positive_signal
from ._compare import check_adaptive_case, check_case, dtype_name, grad_input_scale, within
from ._oracle_cache import reference

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")


def _has_direct() -> bool:
    return _native.available() and _native.vector_isa() != "scalar"


needs_direct = pytest.mark.skipif(not _has_direct(),
                                  reason="the one-lane build has no direct path")


def _memory(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last if x.dim() == 4
                        else torch.channels_last_3d)


def _bits(t: torch.Tensor) -> np.ndarray:
    """The values' bits (as integers of their width), in logical order."""
    width = {2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.detach().contiguous().view(width).numpy().copy()


# (dims, shape, layout): layout (kernel, stride, padding[, dilation, ceil_mode]) or
# ("adaptive", size). Channels 8, 24 (one block of 3 vectors), 40 (32 + 8), 64.
CASES = [
    (2, (2, 64, 20, 24), (3, 2, 1)),           # the matrix's k3 s2 p1
    (2, (1, 40, 17, 19), (3, 2, 1)),           # 32 + 8 channels, odd sizes
    (2, (2, 24, 16, 16), (2, 2, 0)),           # k2 s2: windows that share nothing
    (2, (1, 8, 13, 14), (3, 1, 1)),            # k3 s1 p1: 9 windows hold an element
    (2, (1, 16, 20, 21), (3, 2, 1, 2, True)),  # dilation 2, ceil_mode
    (2, (2, 16, 12, 12), ("adaptive", 5)),     # overlapping adaptive windows
    (2, (1, 64, 9, 7), ("adaptive", 1)),       # global, one output row: 32-channel units
    (3, (1, 16, 6, 8, 9), (3, 2, 1)),          # 3-D
]
DTYPE_ALPHAS = [(torch.float32, a) for a in (0.0, 1.0, 2.0, 3.0, 4.0)] + [
    (d, a) for d in (torch.bfloat16, torch.float16) for a in (0.0, 2.0, 4.0)]


def _call(x, alpha, dims, layout):
    if layout[0] == "adaptive":
        return ops.adaptive_p_pool(x, alpha, layout[1], dims=dims)
    return getattr(ops, f"p_pool{dims}d")(x, alpha, *layout)


def _input(shape, dtype, seed):
    x = positive_signal(shape, dtype, seed, zeros=0.2)
    x[(0, 0) + (slice(0, 5),) * (len(shape) - 2)] = 0.0  # windows of zeros alone
    return _memory(x)


@needs_direct
@pytest.mark.parametrize("dtype, alpha", DTYPE_ALPHAS,
                         ids=[f"{dtype_name(d)}-{a}" for d, a in DTYPE_ALPHAS])
@pytest.mark.parametrize("dims, shape, layout", CASES,
                         ids=[f"{c[0]}d-{c[1][1]}ch-{c[2]}" for c in CASES])
def test_the_forward_meets_the_oracle_and_the_general_paths_bits(dims, shape, layout, dtype,
                                                                 alpha):
    x = _input(shape, dtype, 3 + shape[-1])
    _native.direct_rows()  # reset
    with torch.no_grad():
        if layout[0] == "adaptive":
            check_adaptive_case("ppool", x, alpha, layout[1], dims=dims, gradients=False)
        else:
            check_case(x, alpha, *layout, dims=dims, gradients=False)
    assert _native.direct_rows() > 0
    with torch.no_grad():
        direct = _call(x, alpha, dims, layout)
        before = _native.direct_enable(False)
        try:
            general = _call(x, alpha, dims, layout)
        finally:
            _native.direct_enable(before)
    assert _native.direct_rows() > 0  # (the first call's rows alone)
    np.testing.assert_array_equal(_bits(direct), _bits(general))


def _grad_input_case(x, alpha, dims, layout):
    """y and x's gradient (alpha a fixed float) for a random upstream gradient."""
    xin = x.detach().clone().requires_grad_(True)
    y = _call(xin, alpha, dims, layout)
    g = positive_signal(tuple(y.shape), torch.float64, 99).to(y.dtype)
    y.backward(g)
    return y.detach(), xin.grad, g


@needs_direct
@pytest.mark.parametrize("dtype, alpha", [(torch.float32, 0.0), (torch.float32, 2.0),
                                          (torch.float32, 4.0), (torch.bfloat16, 1.0),
                                          (torch.float16, 3.0)])
@pytest.mark.parametrize("shape", [(2, 64, 20, 24), (1, 40, 24, 26)])
def test_the_saving_forward_keeps_the_window_state_for_the_backward(shape, dtype, alpha,
                                                                    monkeypatch):
    """k3 s2 p1 with x's gradient and a fixed alpha: the direct path writes each window's S
    and y (the integer-alpha window state); the backward from it meets the oracle, and the
    output, the state and the gradient are the general path's bits."""
    states = []
    real = _native.forward_saved_int

    def keep(plan, x, param, out, dw, sums):
        result = real(plan, x, param, out, dw, sums)
        states.append(sums.clone())
        return result

    monkeypatch.setattr(_native, "forward_saved_int", keep)
    x = _input(shape, dtype, 5 + shape[-1])
    layout = (3, 2, 1)
    _native.direct_rows()
    y, gx, g = _grad_input_case(x, alpha, 2, layout)
    assert _native.direct_rows() == shape[0] * ((shape[2] + 1) // 2)
    assert len(states) == 1
    name = dtype_name(dtype)
    xd = x.double().numpy()
    ref = reference("ppool", xd, np.asarray(alpha), 3, 2, 1, 1, False, dims=2, dtype=name,
                    gradients=True, grad_output=g.double().numpy())
    assert ulp_distance(y.double().numpy(), ref.output, name).max() <= (
        2 if name != "float32" else 8)
    scale = grad_input_scale(ref.grad_input, 2, 3, 2, 1, 1, False)
    ok, _ = within(gx.double().numpy(), ref.grad_input, scale, name)
    assert ok.all(), np.argwhere(~ok)[:3]
    before = _native.direct_enable(False)
    try:
        y2, gx2, _ = _grad_input_case(x, alpha, 2, layout)
    finally:
        _native.direct_enable(before)
    assert _native.direct_rows() == 0
    assert len(states) == 2
    np.testing.assert_array_equal(_bits(states[0]), _bits(states[1]))
    np.testing.assert_array_equal(_bits(y), _bits(y2))
    np.testing.assert_array_equal(_bits(gx), _bits(gx2))


@needs_direct
@pytest.mark.parametrize("value, word", [(float("nan"), "NaN"), (-1.0, "negative"),
                                         (float("inf"), "inf"), (-float("inf"), "inf")])
@pytest.mark.parametrize("alpha", [0.0, 2.0])
def test_a_bad_element_is_reported_as_the_general_path_reports_it(value, word, alpha):
    """The direct path meets a negative, NaN or infinite element (a negative running minimum,
    a y that is not finite) and hands the call to the general path, which names it."""
    x = _memory(positive_signal((2, 16, 10, 12), torch.float32, 1))
    x[1, 9, 6, 7] = value
    with pytest.raises(ValueError, match=rf"{word}.*batch 1, channel 9, position \(6, 7\)"):
        ops.p_pool2d(x, alpha, 3, 2, 1)


@needs_direct
def test_what_the_direct_path_does_not_serve_takes_the_general_path():
    x = _memory(positive_signal((1, 16, 12, 12), torch.float32, 2))
    _native.direct_rows()
    with torch.no_grad():
        ops.p_pool2d(x, 2.5, 3, 2, 1)  # not an integer alpha
        ops.p_pool2d(x, 5.0, 3, 2, 1)  # above 4
        ops.p_pool2d(x.contiguous(), 2.0, 3, 2, 1)  # contiguous memory
        ops.p_pool2d(_memory(positive_signal((1, 12, 12, 12), torch.float32, 2)), 2.0, 3, 2, 1)
        ops.p_pool2d(x, torch.linspace(1.0, 2.0, 16, dtype=torch.float64), 3, 2, 1)
        ops.p_pool2d(x.double(), 2.0, 3, 2, 1)
        ops.gem_pool2d(x, 2.0, 3, 2, 1)
    assert _native.direct_rows() == 0
    with torch.no_grad():
        ops.p_pool2d(x, torch.full((16,), 2.0, dtype=torch.float64), 3, 2, 1)  # one alpha
    assert _native.direct_rows() == 6


def test_the_switch_reports_and_restores_its_setting(general_path):
    assert _native.direct_enable() is False
    assert _native.direct_enable(True) is False
    assert _native.direct_enable(False) is _has_direct()


# (dims, shape, layout) with a learnable alpha: the integer-alpha window state with dy/dalpha
# (a float32 where windows share elements, with each input row's logarithms in the direct
# path's row cache; a float64 for the global windows, logarithms formed in the windows)
LEARNABLE_CASES = [
    (2, (2, 64, 20, 24), (3, 2, 1)),
    (2, (1, 24, 24, 26), (3, 2, 1)),
    (2, (2, 16, 12, 12), ("adaptive", 5)),
    (2, (2, 16, 24, 16), ("adaptive", 1)),
    (3, (1, 16, 6, 8, 9), (3, 2, 1)),
]


def _learnable_run(x, alpha, dims, layout, g):
    xin = x.detach().clone().requires_grad_(True)
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    y = _call(xin, a, dims, layout)
    y.backward(g)
    return y.detach(), xin.grad, a.grad


@needs_direct
@pytest.mark.parametrize("dtype, alpha", [(torch.float32, a) for a in (0.0, 1.0, 2.0, 4.0)]
                         + [(torch.bfloat16, 3.0), (torch.float16, 2.0)],
                         ids=lambda v: dtype_name(v) if isinstance(v, torch.dtype) else str(v))
@pytest.mark.parametrize("dims, shape, layout", LEARNABLE_CASES,
                         ids=[f"{c[0]}d-{c[1][1]}ch-{c[2]}" for c in LEARNABLE_CASES])
def test_a_learnable_alpha_meets_the_oracle_and_the_general_paths_bits(dims, shape, layout,
                                                                       dtype, alpha,
                                                                       monkeypatch):
    """dy/dalpha's sums U and V in the direct path (each element's logarithm, the reference c
    from the window's first row, 0 in windows of zeros and, at alpha 0, in windows holding a
    zero): the forward, the input gradient and alpha's gradient against the oracle, then the
    output, the saved S, y and dy/dalpha and both gradients bit for bit the general path's."""
    states = []
    real = _native.forward_saved_int

    def keep(plan, x, param, out, dw, sums):
        result = real(plan, x, param, out, dw, sums)
        states.append((sums.clone(), dw.clone(), result))
        return result

    monkeypatch.setattr(_native, "forward_saved_int", keep)
    x = _input(shape, dtype, 9 + shape[-1])
    _native.direct_rows()
    if layout[0] == "adaptive":
        check_adaptive_case("ppool", x, alpha, layout[1], dims=dims)
    else:
        check_case(x, alpha, *layout, dims=dims)
    assert _native.direct_rows() > 0 and len(states) == 1
    y = _call(x, alpha, dims, layout)
    g = positive_signal(tuple(y.shape), torch.float64, 77).to(dtype)
    direct = _learnable_run(x, alpha, dims, layout, g)
    before = _native.direct_enable(False)
    try:
        general = _learnable_run(x, alpha, dims, layout, g)
    finally:
        _native.direct_enable(before)
    assert len(states) == 3
    (s1, dw1, r1), (s2, dw2, r2) = states[1], states[2]
    assert r1 == r2 == (False, True)
    np.testing.assert_array_equal(_bits(s1), _bits(s2))
    np.testing.assert_array_equal(_bits(dw1), _bits(dw2))
    for got, want in zip(direct, general):
        np.testing.assert_array_equal(_bits(got), _bits(want))
