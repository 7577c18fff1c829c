"""The integer-alpha window state where windows share elements (channels-last memory).

At one alpha of 0-4 for every plane, a channels-last input whose windows share elements (k3
s2 p1, 3-D k3 s2 p1, overlapping adaptive windows) and that holds 4 input elements or more
per window saves each window's S and y (``forward_saved_int``; dy/dalpha as a float32) in
place of the overlap state's weight per element; the backward (``backward_saved_int``) sums,
for each element, the constants of the windows that hold it and forms ``dy/dx = P1 x^a - P2
x^(a-1)`` from x. Every case is checked against the oracle (forward, input and alpha
gradients), with the kernel's state counted so that a case that silently took another path
fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import _native, p_pool2d

from ._cases import positive_signal
from ._compare import check_adaptive_case, check_case, dtype_name
from .test_integer_alpha import check_elements_in_no_window, count_window_state
from .test_saved_backward import _count_calls

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

CL = torch.channels_last

# (dims, shape, layout): layout (kernel, stride, padding) or ("adaptive", size)
SHARED_CASES = [
    (2, (2, 16, 20, 24), (3, 2, 1)),       # the matrix's k3 s2 p1 (4 elements per window)
    (2, (1, 16, 20, 24), (3, 2, 0)),       # a row (19) and a column (23) in no window
    (2, (2, 16, 12, 12), ("adaptive", 5)),  # overlapping adaptive windows of 3 x 3
    (3, (1, 16, 6, 8, 9), (3, 2, 1)),      # up to 4 output rows read one input row
]
DTYPE_ALPHAS = [(torch.float32, a) for a in (0.0, 1.0, 2.0, 3.0, 4.0)] + [
    (d, a) for d in (torch.bfloat16, torch.float16) for a in (1.0, 2.0)]


@pytest.fixture
def window_state(monkeypatch):
    """``count_window_state`` with the overlap state's backward forbidden too."""
    return count_window_state(monkeypatch, "backward_overlap_saved")


def _memory(x, dims):
    return x.contiguous(memory_format=CL if dims == 2 else torch.channels_last_3d)


def _check(x, alpha, dims, layout, gradients=True):
    if layout[0] == "adaptive":
        return check_adaptive_case("ppool", x, alpha, layout[1], dims=dims, gradients=gradients)
    k, s, p = layout
    return check_case(x, alpha, k, s, p, 1, False, dims=dims, gradients=gradients)


@pytest.mark.parametrize("dtype, alpha", DTYPE_ALPHAS,
                         ids=[f"{dtype_name(d)}-{a}" for d, a in DTYPE_ALPHAS])
@pytest.mark.parametrize("dims, shape, layout", SHARED_CASES,
                         ids=[f"{c[0]}d-{c[1][1]}ch-{c[2][0]}" for c in SHARED_CASES])
def test_the_window_state_serves_shared_windows_on_channels_last(dims, shape, layout, dtype,
                                                                 alpha, window_state):
    x = positive_signal(shape, dtype, 7 + shape[-1], zeros=0.15)
    x[(0, 0) + (slice(0, 5),) * dims] = 0.0  # windows of zeros alone
    _check(_memory(x, dims), alpha, dims, layout)
    forwards, backwards = window_state
    assert len(forwards) == 1 and len(backwards) == 1, (forwards, backwards)


@pytest.mark.parametrize("shape, stride, channels_last", [
    ((1, 16, 12, 13), 1, True), ((1, 16, 19, 24), 2, True), ((2, 16, 20, 24), 2, False),
    ((1, 12, 20, 24), 2, True), ((1, 8, 20, 4), 2, True)])
def test_the_overlap_state_keeps_what_this_state_does_not_serve(shape, stride, channels_last,
                                                                monkeypatch):
    # k3 s1 p1: one window per input element, the state's 16 bytes per window 4 times the
    # overlap state's weights; k3 s2 p1 on 19 x 24: 10 x 12 windows, 3.8 elements a window;
    # contiguous memory (where the overlap state writes the input's gradient over its
    # weights); 12 channels (not whole groups of 8); channels-last rows of 4 x 8 elements
    # (below INT_OVERLAP_MIN_ROW)
    saved = _count_calls(monkeypatch, "forward_saved_int")
    overlap = _count_calls(monkeypatch, "backward_overlap_saved")
    x = positive_signal(shape, torch.float32, 5, zeros=0.1)
    check_case(_memory(x, 2) if channels_last else x, 2.0, 3, stride, 1, 1, False, dims=2)
    assert len(saved) == 0 and len(overlap) == 1


def test_elements_in_no_window_get_a_zero_gradient(monkeypatch):
    """k3 s2 p0 on 20 x 48 reads no element of row 19 or column 47: an infinity or a NaN there
    has a zero gradient, and every other gradient is bit for bit that of a finite input."""
    backwards = _count_calls(monkeypatch, "backward_saved_int")
    shape = (1, 8, 20, 48)
    x = positive_signal(shape, torch.float32, 41, zeros=0.1)
    free = torch.zeros(shape, dtype=torch.bool)
    free[..., 19, :] = True
    free[..., :, 47] = True
    check_elements_in_no_window(x, free, lambda t, a: p_pool2d(t, a, 3, 2, 0),
                                lambda t: _memory(t, 2))
    assert len(backwards) == 2  # (both from the window state)


@pytest.mark.parametrize("what", ["S", "y", "dw"])
def test_a_wrong_shared_window_state_is_caught(what, monkeypatch):
    """A 0.1% error in a window's S, y or dy/dalpha (a float32 here) fails the oracle
    comparison of the gradients; the same path unskewed passes."""
    x = _memory(positive_signal((2, 8, 12, 48), torch.float32, 13, zeros=0.1), 2)
    real = _native.forward_saved_int

    def skewed(factor):
        def forward(plan, x, param, out, dw, sums):
            result = real(plan, x, param, out, dw, sums)
            half = sums.numel() // 2
            assert dw.dtype == torch.float32  # (dy/dalpha as a float32 where windows share)
            {"S": sums[:half], "y": sums[half:], "dw": dw}[what].mul_(factor)
            return result
        return forward

    monkeypatch.setattr(_native, "forward_saved_int", skewed(1.001))
    with pytest.raises(AssertionError, match="outside tolerance"):
        check_case(x, 2.0, 3, 2, 1, 1, False, dims=2)
    monkeypatch.setattr(_native, "forward_saved_int", skewed(1.0))
    check_case(x, 2.0, 3, 2, 1, 1, False, dims=2)


@pytest.mark.parametrize("direct", [False, True], ids=["general", "direct"])
def test_a_few_planes_recompute_in_segments_and_keep_the_state_in_direct_rows(direct,
                                                                             monkeypatch):
    # one group of 8 channels over two threads: the general path's forward cuts the plane into
    # segments, which share windows; the state is refused and the backward recomputes, against
    # the oracle. The direct path (test_cl_direct.py) takes rows, not segments: it keeps the
    # state, and the backward reads it
    if direct and _native.vector_isa() == "scalar":
        pytest.skip("the one-lane build has no direct path")
    before_direct = _native.direct_enable(direct)
    saved = _count_calls(monkeypatch, "forward_saved_int")
    recomputed = _count_calls(monkeypatch, "backward")
    from_state = _count_calls(monkeypatch, "backward_saved_int")
    x = _memory(positive_signal((1, 8, 64, 66), torch.float32, 2, zeros=0.05), 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # (the kernel cuts segments for the threads asked, any machine)
    try:
        check_case(x, 3.0, 3, 2, 1, 1, False, dims=2)
    finally:
        torch.set_num_threads(before)
        _native.direct_enable(before_direct)
    assert len(saved) == 1
    assert (len(recomputed), len(from_state)) == ((0, 1) if direct else (1, 0))


def test_a_dalpha_beyond_float32_recomputes(monkeypatch):
    """At alpha 0 (the mean) a window of 1e-30s and one 3e38 has dy/dalpha = sum w (x - y)
    (ln x - ln y) of about 4e39, beyond float32's range: the state's float32 dy/dalpha cannot
    hold it, the forward says the state is unusable and the backward recomputes. A float64
    alpha's gradient is then finite and the oracle's in float64 (the float32 check rounds both
    to inf); the same values scaled into range keep the state."""
    from ._compare import reference, run_case
    saved = _count_calls(monkeypatch, "forward_saved_int")
    recomputed = _count_calls(monkeypatch, "backward")
    gen = torch.Generator().manual_seed(5)
    x = torch.full((1, 16, 12, 12), 1e-30, dtype=torch.float64)
    x[torch.rand(x.shape, generator=gen) < 0.2] = 3e38
    xf = _memory(x.float(), 2)
    got, _ = run_case(xf, 0.0, 3, 2, 1, 1, False, dims=2)
    ref = reference("ppool", xf.double().numpy(), np.asarray(0.0), 3, 2, 1, 1, False, dims=2,
                    dtype="float64", gradients=True)
    assert np.isfinite(got["grad_param"]).all() and abs(float(ref.grad_param)) > 3.4e38
    assert np.allclose(got["grad_param"], ref.grad_param, rtol=1e-6, atol=0.0)
    assert len(saved) == 1 and len(recomputed) == 1
    check_case(_memory((x * 1e-8).float(), 2), 0.0, 3, 2, 1, 1, False, dims=2)
    assert len(saved) == 2 and len(recomputed) == 1


@pytest.mark.parametrize("dtype, with_dw, fits", [
    (torch.float32, False, True), (torch.float32, True, True),
    (torch.bfloat16, False, True), (torch.bfloat16, True, False)])
def test_the_state_is_kept_where_its_peak_fits(dtype, with_dw, fits, monkeypatch):
    """k3 s2 p1 with 4 input elements a window, beyond the 1 MiB that always fits: float32
    1.25x / 1.375x max pooling's peak by the model (without / with a learnable alpha), the
    half types 1.40x / 1.60x, against the bound of 1.45x; the refused case keeps the overlap
    state."""
    from ppverify.ops import _dispatch
    n_in, n_out = 8 * 16 * 64 * 64, 8 * 16 * 32 * 32
    assert _dispatch._int_overlap_state_fits(n_in, n_out, dtype.itemsize, with_dw) == fits
    saved = _count_calls(monkeypatch, "forward_saved_int")
    overlap = _count_calls(monkeypatch, "forward_overlap_saved")
    x = _memory(torch.rand(8, 16, 64, 64, dtype=dtype) + 0.05, 2).requires_grad_(True)
    alpha = torch.tensor(2.0, requires_grad=with_dw)
    p_pool2d(x, alpha, 3, 2, 1).sum().backward()
    assert (len(saved), len(overlap)) == ((1, 0) if fits else (0, 1))
