"""float64's overlap state (issue 12: float64 fwd+bwd within 3x ``max_pool2d``'s).

Where windows share elements (k3 s2 p1, k3 s1, dilation, adaptive), an autograd forward of a
float64 input saves, from the exact engine, each element's ``x^alpha`` (the engine's element
cache), each window's ``S``, ``y`` and ``y``'s low part and, with a learnable alpha, each
window's dy/dalpha from pass 2's sums (``R (sum E ln(x/R) rho - D sum E ln(x/R)) / S``); the
backward is then ``P = sum g / S``, ``C = sum g / S (x - y)`` over each element's windows and
``dx = x^alpha (P + alpha C / x)`` (``run_overlap64_backward`` in ``ppool_kernel.cpp``): no
logarithm, exponential or window pass. These tests hold its gradients to the oracle over the
adversarial inputs, show that it is used (and where it is refused and the backward
recomputes), that each part of a wrong state is caught, and that its memory model admits it
only where the peak stays within bounds."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _dispatch, _layout, _native, p_pool1d, p_pool2d, p_pool3d

from ._cases import KINDS, values
from ._compare import check_adaptive_case, check_case

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")

F64 = torch.float64
# the new path's alphas (|alpha| <= 16) and two beyond it (the per-window path: refused)
ALPHAS = [-3.0, -1.0, 0.0, 0.5, 2.0, 7.5, 16.0, 30.0]
# (dims, spatial, kernel, stride, padding, dilation, ceil_mode): windows share elements
GEOMETRIES = [
    (1, (12,), 5, 2, 2, 1, False),
    (2, (9, 8), 3, 2, 1, 1, False),                       # the headline's geometry
    (2, (9, 9), 3, 2, 0, 1, True),                        # ceil_mode: a partial last window
    (2, (10, 9), (3, 2), (2, 1), (1, 0), (2, 1), False),  # dilation; k2 s1 along W
    (2, (7, 6), 3, 1, 1, 1, False),                       # k3 s1: 9 windows per element
    (3, (5, 6, 5), 3, 2, 1, 1, False),
]


def _count(monkeypatch, name: str) -> list:
    calls = []
    real = getattr(_native, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_native, name, counting)
    return calls


@pytest.fixture
def count_overlap(monkeypatch):
    """Count the backwards served from the overlap state."""
    return _count(monkeypatch, "backward_overlap_saved")


@pytest.fixture
def recompute_forbidden(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the backward recomputed the forward instead of using its state")

    monkeypatch.setattr(_native, "backward", forbidden)


def _fn(dims):
    return {1: p_pool1d, 2: p_pool2d, 3: p_pool3d}[dims]


@pytest.mark.parametrize("geometry", range(len(GEOMETRIES)))
def test_float64_overlap_state_gradients_match_oracle(geometry, count_overlap):
    # every adversarial kind meets every alpha; windows the state does not serve (zeros,
    # subnormal elements, |alpha| > 16, spans below 1/16 or beyond 2^500) refuse it and the
    # backward recomputes, so the count is held over the whole set
    dims, spatial, k, s, p, d, cm = GEOMETRIES[geometry]
    gen = torch.Generator().manual_seed(900 + geometry)
    for kind in KINDS:
        for alpha in ALPHAS:
            x = values(kind, (2, 3) + spatial, F64, gen)
            g = torch.randn(_fn(dims)(x, 2.0, k, s, p, d, cm).shape, generator=gen, dtype=F64)
            check_case(x, alpha, k, s, p, d, cm, dims=dims, grad_output=g)
    assert len(count_overlap) >= len(KINDS) * len(ALPHAS) // 4, len(count_overlap)


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_float64_overlap_state_per_channel_alpha_without_recomputation(channels_last,
                                                                       recompute_forbidden,
                                                                       count_overlap):
    gen = torch.Generator().manual_seed(8)
    x = values("uniform", (2, 9, 9, 8), F64, gen) + 0.05
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    alpha = torch.tensor([-3.0, -1.0, 0.5, 2.0, 7.5, 0.25, 3.0, -0.5, 16.0], dtype=F64)
    gout = torch.randn((2, 9, 5, 4), generator=gen, dtype=F64)
    check_case(x, alpha, 3, 2, 1, dims=2, grad_output=gout)
    assert len(count_overlap) == 1


@pytest.mark.parametrize("dims, spatial, size", [(1, (13,), 3), (2, (7, 5), (3, 2)),
                                                 (3, (5, 4, 6), (2, 2, 3))])
def test_float64_overlap_state_adaptive_windows(dims, spatial, size, recompute_forbidden,
                                                count_overlap):
    gen = torch.Generator().manual_seed(12)
    for alpha in (-3.0, 0.5, 7.5):
        x = values("uniform", (2, 3) + spatial, F64, gen) + 0.05
        check_adaptive_case("ppool", x, alpha, size, dims=dims)
    assert len(count_overlap) == 3


def test_float64_overlap_state_over_wide_ranges(count_overlap):
    """Windows spanning up to 2^100 (range30) and 2^400, one alpha per channel: the weights'
    spread is where y's low part and the cancellation-free x - y matter."""
    gen = torch.Generator().manual_seed(70)
    x = values("range30", (2, 5, 9, 8), F64, gen)
    alpha = torch.tensor([2.0, -1.5, 0.5, 7.5, -3.0], dtype=F64)
    g = torch.randn((2, 5, 5, 4), generator=gen, dtype=F64)
    check_case(x, alpha, 3, 2, 1, dims=2, grad_output=g)
    wide = values("uniform", (1, 4, 9, 8), F64, gen) + 0.5
    wide[0, :, ::3, ::2] *= 2.0 ** 400
    check_case(wide, torch.tensor([0.5, 1.0, -0.5, 2.0], dtype=F64), 3, 2, 1, dims=2,
               grad_output=torch.randn((1, 4, 5, 4), generator=gen, dtype=F64))
    assert len(count_overlap) == 2


_real_forward = _native.forward_overlap_saved
# one element of group 0, lane 0 of a (1, 2, 7, 7) input: input (2, 3) (e_index: (2*7+3)*8);
# one window of it, output (1, 1) of a 4x4 output (state_index: (1*4+1)*8)
_ELEMENT, _WINDOW, _WINDOWS = (2 * 7 + 3) * 8, (1 * 4 + 1) * 8, 16 * 8


def _skew(monkeypatch, what, factor):
    def forward(plan, x, param, out, weights, dw, ref):
        result = _real_forward(plan, x, param, out, weights, dw, ref)
        if what == "ylo":  # the low part (a float32 relative to y, after S and y) moved by 1e-12
            ref[2 * _WINDOWS:].view(torch.float32)[_WINDOW] += factor
            return result
        t, i = {"weights": (weights, _ELEMENT), "dw": (dw, _WINDOW), "S": (ref, _WINDOW),
                "y": (ref, _WINDOWS + _WINDOW)}[what]
        t[i] *= factor
        return result

    monkeypatch.setattr(_native, "forward_overlap_saved", forward)


@pytest.mark.parametrize("what, factor, message", [
    ("weights", 1 + 1e-12, "grad_input"),   # one element's x^alpha off by 1e-12
    ("weights", 0.0, "grad_input"),         # one element's x^alpha zeroed
    ("S", 1 + 1e-12, "grad_input"),         # one window's S off by 1e-12
    ("y", 1 + 1e-12, "grad_input"),         # one window's y off by 1e-12
    ("ylo", 1e-12, "grad_input"),           # one window's low part off by 1e-12 of y
    ("dw", 2.0, "grad_alpha"),              # one window's dy/dalpha doubled
    ("dw", 0.0, "grad_alpha"),              # one window's dy/dalpha dropped
])
def test_a_wrong_float64_overlap_state_is_caught(what, factor, message, monkeypatch,
                                                 count_overlap):
    """The oracle comparison goes through the state: each planted defect fails it, and the
    same path with the honest state passes."""
    x = values("uniform", (1, 2, 7, 7), F64, torch.Generator().manual_seed(2)) + 0.05
    alpha = torch.tensor([2.0, 3.0], dtype=F64)
    check_case(x, alpha, 3, 2, 1, dims=2)
    assert len(count_overlap) == 1
    _skew(monkeypatch, what, factor)
    with pytest.raises(AssertionError, match=f"{message} outside tolerance"):
        check_case(x, alpha, 3, 2, 1, dims=2)
    _skew(monkeypatch, what, 1.0 if what != "ylo" else 0.0)  # (ylo: adds 0)
    check_case(x, alpha, 3, 2, 1, dims=2)
    assert len(count_overlap) == 3


@pytest.mark.parametrize("case, again", [
    ("served", False),
    ("zero", False),             # a zero at alpha = 2: weight and dy/dx 0, served
    ("zero_alpha_1", True),      # a = 1's zeros (their one-sided dy/dx): evaluated again
    ("zero_alpha_neg", True),    # a zero at alpha < 0: y = 0 (the exact engine's)
    ("subnormal", True),
    ("span_2_600", True),
    ("narrow", True),            # every element within 1/16 of the largest: per window
    ("one_channel_17", True),    # |alpha| > 16 in one channel: its windows per window
])
def test_float64_overlap_state_windows_evaluated_again(case, again, count_overlap):
    """Windows outside the state's argument (zeros at alpha <= 0 or = 1, a subnormal element,
    a span beyond 2^500, elements all within 1/16 of each other, |alpha| > 16) are evaluated
    again in the backward by the exact engine, their lanes alone, the others from the state;
    the gradients meet the oracle either way."""
    gen = torch.Generator().manual_seed(21)
    x = values("uniform", (2, 3, 9, 8), F64, gen) + 0.05
    alpha = {"zero_alpha_1": 1.0, "zero_alpha_neg": -1.5, "span_2_600": 0.5}.get(case, 2.0)
    if case.startswith("zero"):
        x[1, 2, 4, 4] = 0.0
    elif case == "subnormal":
        x[1, 2, 4, 4] = 1e-310
    elif case == "span_2_600":
        x[0, 1, 3, 3] = 2.0 ** -600
    elif case == "narrow":
        x[0, 0, :3, :3] = 1.0 + torch.rand((3, 3), generator=gen, dtype=F64) / 32
    elif case == "one_channel_17":
        alpha = torch.tensor([2.0, 17.0, -3.0], dtype=F64)
    _native.overlap_redone()
    check_case(x, alpha, 3, 2, 1, dims=2,
               grad_output=torch.randn((2, 3, 5, 4), generator=gen, dtype=F64))
    assert len(count_overlap) == 1
    assert (_native.overlap_redone() > 0) == again


# windows that share no element, on contiguous memory (the state serves 4 elements or more per
# window on average): (dims, spatial, kernel, stride, padding, ceil_mode); 8 channels, so the
# groups of 8 planes are whole (read and written by vectors: gather_lanes_range)
DISJOINT = [
    (2, (9, 7), 2, 2, 0, False),    # the last row and column in no window (dy/dx 0)
    (2, (8, 8), 4, 4, 0, False),
    (2, (7, 9), 3, 3, 1, True),     # padding and partial last windows
    (3, (5, 4, 6), 2, 2, 0, False),
    (1, (23,), 5, 6, 0, False),     # gaps between windows
]


@pytest.mark.parametrize("geometry", range(len(DISJOINT)))
@pytest.mark.parametrize("case, again", [("served", False), ("zero_alpha_neg", True),
                                         ("subnormal", True)])
def test_float64_overlap_state_disjoint_windows(geometry, case, again, count_overlap,
                                                recompute_forbidden):
    """Disjoint windows take the state too (each element's dx formed from its one window's
    terms, with no 1 / x, P or C array), per-channel alpha, elements in no window and windows
    evaluated again (a zero at alpha < 0, a subnormal element) among the served ones: the
    gradients meet the oracle."""
    dims, spatial, k, s, p, cm = DISJOINT[geometry]
    gen = torch.Generator().manual_seed(40 + geometry)
    x = values("uniform", (2, 8) + spatial, F64, gen) + 0.05
    alpha = torch.tensor([2.0, -1.5, 0.5, 7.5, -3.0, 1.0, 16.0, 0.0], dtype=F64)
    g = torch.randn(_fn(dims)(x, 2.0, k, s, p, 1, cm).shape, generator=gen, dtype=F64)
    # (a window of one element, as ceil_mode's last, is evaluated again: no spread)
    _native.overlap_redone()
    check_case(x, alpha, k, s, p, 1, cm, dims=dims, grad_output=g)
    served_again = _native.overlap_redone()
    first = (1, 1) + (p,) * dims  # channel 1 (alpha = -1.5), its first window's first element
    if case == "zero_alpha_neg":
        x[first] = 0.0
    elif case == "subnormal":
        x[first] = 1e-310
    check_case(x, alpha, k, s, p, 1, cm, dims=dims, grad_output=g)
    assert len(count_overlap) == 2
    assert (_native.overlap_redone() > served_again) == again


def test_float64_overlap_state_disjoint_global_windows(count_overlap, recompute_forbidden):
    """Global pooling of whole 8-plane groups from the state (one window per plane)."""
    gen = torch.Generator().manual_seed(41)
    for alpha in (-3.0, 0.5, 7.5):
        x = values("uniform", (2, 8, 7, 9), F64, gen) + 0.05
        check_adaptive_case("ppool", x, alpha, 1, dims=2)
    assert len(count_overlap) == 3


def test_float64_overlap_state_refused_without_the_element_cache(count_overlap):
    """Every |alpha| > 16 (no element cache: no x^alpha to keep, and nothing the state
    would serve) and planes beyond the cache (32768 positions) recompute, and meet the
    oracle."""
    gen = torch.Generator().manual_seed(22)
    x = values("uniform", (2, 3, 9, 8), F64, gen) + 0.05
    check_case(x, 17.0, 3, 2, 1, dims=2)
    long = values("uniform", (1, 8, 40000), F64, gen) + 0.05
    check_case(long, 2.0, 5, 2, 2, dims=1)
    assert not count_overlap
    check_case(x, 16.0, 3, 2, 1, dims=2)
    assert len(count_overlap) == 1


def test_a_group_beyond_the_element_cache_keeps_the_others_state(count_overlap):
    """One group of 8 planes whose every |alpha| is beyond 16 (channels 7 and 8 of the second
    batch entry), the others within: the state is kept, that group's windows evaluated again
    in the backward; gradients meet the oracle and a second backward (recomputing through
    the same steps) gives the same bits."""
    gen = torch.Generator().manual_seed(23)
    x = values("uniform", (2, 9, 9, 8), F64, gen) + 0.05
    alpha = torch.tensor([2.0, -1.0, 0.5, 3.0, 7.5, -3.0, 1.5, 30.0, -20.0], dtype=F64)
    _native.overlap_redone()
    check_case(x, alpha, 3, 2, 1, dims=2,
               grad_output=torch.randn((2, 9, 5, 4), generator=gen, dtype=F64))
    assert len(count_overlap) == 1 and _native.overlap_redone() > 0
    xg, ag = x.clone().requires_grad_(), alpha.clone().requires_grad_()
    y = p_pool2d(xg, ag, 3, 2, 1)
    g = torch.randn(y.shape, generator=gen, dtype=F64)
    first = torch.autograd.grad(y, (xg, ag), g, retain_graph=True)
    second = torch.autograd.grad(y, (xg, ag), g)
    assert len(count_overlap) == 2
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_float64_overlap_state_is_written_over_and_used_once(count_overlap):
    """On contiguous memory the input gradient is written over the saved x^alpha (the
    state's largest part); a second backward through the same graph recomputes and agrees."""
    kept = []
    real = _dispatch._native_forward_saved

    def watching(*args):
        y, state = real(*args)
        kept.append(state[2][0].data_ptr())
        return y, state

    x = (values("uniform", (2, 8, 9, 9), F64, torch.Generator().manual_seed(4)) + 0.1)
    x.requires_grad_(True)
    a = torch.tensor(2.5, dtype=F64, requires_grad=True)
    try:
        _dispatch._native_forward_saved = watching
        y = p_pool2d(x, a, 3, 2, 1)
    finally:
        _dispatch._native_forward_saved = real
    g = torch.randn(y.shape, dtype=F64, generator=torch.Generator().manual_seed(5))
    gx, ga = torch.autograd.grad(y, (x, a), g, retain_graph=True)
    assert gx.data_ptr() == kept[0]
    gx2, ga2 = torch.autograd.grad(y, (x, a), g)
    assert len(count_overlap) == 1
    torch.testing.assert_close(gx2, gx, rtol=2.0 ** -48, atol=2.0 ** -48 * gx.abs().max())
    torch.testing.assert_close(ga2, ga, rtol=2.0 ** -45, atol=0.0)


def test_float64_overlap_state_memory_model():
    """The state is 8 bytes per input element (x^alpha) and 28 per output (S, y, its low
    part as a float32 relative to y, dy/dalpha): 2-D k3 s2 p1 at (8, 64, 112, 112) fits the
    1.45x model (the input gradient written over x^alpha), k3 s1 (as many outputs as inputs)
    and channels-last memory (its input gradient beside the state) do not."""
    def fits(shape, layout, channels_last=False):
        x = torch.empty(shape, dtype=F64)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        call = _dispatch._native_call("ppool", layout, x, torch.tensor(2.0, dtype=F64))
        return call.saves(True) and call.overlap_state(True)

    big = (8, 64, 112, 112)
    assert fits(big, _layout.windowed(2, 3, 2, 1, 1, False))
    assert not fits(big, _layout.windowed(2, 3, 1, 1, 1, False))
    assert not fits(big, _layout.windowed(2, 3, 2, 1, 1, False), channels_last=True)
    assert fits((1, 2, 9, 9), _layout.windowed(2, 3, 1, 1, 1, False))  # <= 1 MiB: kept


@pytest.mark.parametrize("alpha", [-1.0, -1.0 + 2.0**-30, -0.99, -0.95])
@pytest.mark.parametrize("saved", [True, False], ids=["autograd", "recomputing"])
def test_harmonic_mean_gradient_of_an_element_far_above_its_windows(alpha, saved):
    """At alpha = -1 (the harmonic mean) dy/dx = w y / x has no (1 + alpha) term: an element
    far above its windows' means has a tiny gradient (4e-40 at x = 1e20 in windows [1, 1e20]),
    and the near form 1 + alpha (x - y) / x cancels to 0 there (it did: 0 instead of 4e-40,
    and a relative error of 6e-12 at x = 1e5). With -1 <= alpha < 0 and a positive upstream
    gradient every term is positive, so each element's gradient must be within 8 ULP of the
    oracle's, whatever the window's largest gradient; the autograd path (the overlap state
    where it serves) and the recomputing backward (the custom op's)."""
    from ppverify.oracle import ulp_distance

    from ._oracle_cache import reference

    x = torch.tensor([[[1.0, 1e20, 1.0, 1.0, 1e5, 0.5, 3.0, 1e-3, 7.0]]], dtype=F64)
    g = torch.tensor([[[1.0, 0.5, 2.0, 0.25, 1.0, 1.0, 3.0, 0.5]]], dtype=F64)
    if saved:
        xg = x.clone().requires_grad_()
        p_pool1d(xg, torch.tensor(alpha, dtype=F64, requires_grad=True), 2, 1).backward(g)
        gx = xg.grad
    else:
        gx, _ = _dispatch.backward_impl("ppool", x, torch.tensor(alpha, dtype=F64),
                                        _layout.windowed(1, 2, 1), g, False)
    ref = reference("ppool", x.numpy(), alpha, 2, 1, dims=1, dtype="float64",
                    grad_output=g.numpy())
    ulps = ulp_distance(gx.numpy(), ref.grad_input, "float64")
    assert ulps.max() <= 8, (gx.numpy().ravel().tolist(), ref.grad_input.ravel().tolist())


@pytest.mark.parametrize("alpha", [-1.0, -0.99])
def test_harmonic_mean_gradients_from_the_overlap_state(alpha, count_overlap):
    """The same on the overlap state (2-D k3 s2 p1, elements 1e20 times their neighbours)."""
    from ppverify.oracle import ulp_distance

    from ._oracle_cache import reference

    gen = torch.Generator().manual_seed(71)
    x = torch.rand((1, 2, 9, 8), generator=gen, dtype=F64) + 0.5
    x[0, :, ::3, ::2] *= 1e20
    g = torch.rand((1, 2, 5, 4), generator=gen, dtype=F64) + 0.25
    xg = x.clone().requires_grad_()
    p_pool2d(xg, torch.tensor(alpha, dtype=F64, requires_grad=True), 3, 2, 1).backward(g)
    assert len(count_overlap) == 1
    ref = reference("ppool", x.numpy(), alpha, 3, 2, 1, dims=2, dtype="float64",
                    grad_output=g.numpy())
    ulps = ulp_distance(xg.grad.numpy(), ref.grad_input, "float64")
    assert ulps.max() <= 8, ulps.max()
