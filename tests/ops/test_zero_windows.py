"""Zeros in the fast engine (float32 / bfloat16 / float16): inputs after a ReLU hold many zeros
and whole windows of them. Three cases used to leave the fast engine for the exact one, a
window at a time, and (where windows share elements) refuse the overlap state for the whole
call:

* alpha = 1 (the modules' default) with a zero anywhere in a window: its dy/dx at the zero is
  -y / sum_{x>0} x (x^(alpha-1) -> 1), which the fast form E ((1 + a) P - a Q / x) now gives
  as -e^(-Lc) Q (FastLanes::z1 in ppool_kernel.cpp);
* a window of zeros alone at alpha > 0: y = 0, dy/dx = 1 at each element, dy/dalpha = 0,
  now taken from S = 0 in the forward and, in the overlap state's backward, by a third
  coefficient scattered onto the window's elements;
* alpha = 0 (a learnable alpha started as average pooling) with a zero in a window, with
  gradients: a zero weighs 1 (0^0) and its dy/dx is the fast form's 1/S; only dy/dalpha
  differs (0, the oracle's convention for the jump of y(alpha) at 0).

(8, 64, 112, 112) k3 s2 p1, one thread, before: alpha = 1 on relu(randn) forward+backward
1553 ms (max_pool2d 70 ms); alpha = 2 on relu(randn - 1) 205 ms; alpha = 0 on relu(randn)
1548 ms (max_pool2d 77 ms). These tests hold every path
(forward, the overlap state, the disjoint state, the recomputing backward, channels-last,
adaptive windows) to the oracle on such inputs and show which path served them: the kernel's
special-window counters and the backward entry point that ran."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native, adaptive_p_pool2d, p_pool1d, p_pool2d, p_pool3d

from ._compare import check_adaptive_case, check_case, dtype_name
from .test_saved_backward import _count_calls

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")

FAST_DTYPES = [torch.float32, torch.bfloat16, torch.float16]
# 0: a zero weighs 1 (0^0) and dy/dalpha is 0 in a window holding one; 0.5 and 2: S = 0 in
# the forward; 1: the a = 1 zeros; 7.5 and 30: a reference Lc (and at 30 weights that may
# underflow), windows of zeros found by the special-window path instead
ALPHAS = [0.0, 0.5, 1.0, 2.0, 7.5, 30.0]


def relu_input(shape, dtype, seed: int, shift: float = 1.0):
    """relu(randn - shift) with a block of zeros (whole windows of zeros in every geometry
    here) and one plane entirely zero."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.relu(torch.randn(shape, generator=gen, dtype=torch.float64) - shift)
    spatial = x.shape[2:]
    block = tuple(slice(0, max(1, n // 2)) for n in spatial)
    x[(0, 0) + block] = 0.0
    x[-1, -1] = 0.0
    return x.to(dtype)


def _grad_output(x, fn, alpha, args, seed):
    y = fn(x, alpha, *args)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(y.shape, generator=gen, dtype=torch.float64)


@pytest.fixture
def served(monkeypatch):
    """Which backward served each call: the overlap state, the disjoint state, the
    integer-alpha window state, or a recomputation."""
    return {"overlap": _count_calls(monkeypatch, "backward_overlap_saved"),
            "saved": _count_calls(monkeypatch, "backward_saved"),
            "int": _count_calls(monkeypatch, "backward_saved_int"),
            "recomputed": _count_calls(monkeypatch, "backward")}


# (fn, spatial, (kernel, stride, padding, dilation, ceil_mode), which backward serves it)
GEOMETRIES = [
    (p_pool2d, (12, 11), (3, 2, 1, 1, False), "overlap"),   # the headline's geometry
    (p_pool2d, (12, 10), (2, 2, 0, 1, False), "saved"),     # disjoint windows
    (p_pool1d, (30,), (5, 2, 2, 1, False), "overlap"),
    (p_pool3d, (6, 7, 6), (3, 2, 1, 1, False), "overlap"),
    (p_pool2d, (11, 10), (3, 1, 1, 1, False), "overlap"),   # k3 s1 (kept: a small state)
]


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("geometry", range(len(GEOMETRIES)))
def test_relu_inputs_match_the_oracle(dtype, geometry, served):
    fn, spatial, args, path = GEOMETRIES[geometry]
    dims = len(spatial)
    for i, alpha in enumerate(ALPHAS):
        x = relu_input((2, 4) + spatial, dtype, seed=10 * geometry + i)
        g = _grad_output(x, fn, alpha, args, seed=i)
        check_case(x, alpha, *args, dims=dims, grad_output=g)
    # the state served alpha = 0, 0.5, 1 and 2 at least (30: weights may underflow and refuse
    # it)
    assert len(served[path]) >= 4, served


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
def test_per_channel_alpha_and_channels_last(dtype, served):
    x = relu_input((2, 6, 12, 11), dtype, seed=3).contiguous(memory_format=torch.channels_last)
    alpha = torch.tensor([0.5, 1.0, 2.0, 0.0, 1.0, 7.5], dtype=torch.float64)
    g = _grad_output(x, p_pool2d, 2.0, (3, 2, 1), seed=4)
    check_case(x, alpha, 3, 2, 1, dims=2, grad_output=g)
    assert len(served["overlap"]) == 1 and not served["recomputed"], served


@pytest.mark.parametrize("dims, spatial, size", [(1, (13,), 3), (2, (9, 7), (3, 2)),
                                                 (2, (8, 8), 1), (3, (5, 4, 6), (2, 2, 3))])
def test_adaptive_and_global_windows(dims, spatial, size):
    for alpha in (1.0, 2.0, 0.0, -1.0):
        x = relu_input((2, 3) + spatial, torch.float32, seed=dims)
        check_adaptive_case("ppool", x, alpha, size, dims=dims)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_the_recomputing_backward(alpha, monkeypatch):
    """Where no state is saved (here: forced off) the backward recomputes and takes windows
    of zeros as special windows (their gradient added per element)."""
    from ppverify.ops import _dispatch

    monkeypatch.setattr(_dispatch._NativeCall, "saves", lambda self, need_param=False: False)
    recomputed = _count_calls(monkeypatch, "backward")
    x = relu_input((2, 4, 12, 11), torch.float32, seed=5)
    check_case(x, alpha, 3, 2, 1, dims=2, grad_output=_grad_output(x, p_pool2d, alpha,
                                                                   (3, 2, 1), seed=6))
    assert len(recomputed) == 1


def test_which_windows_are_special():
    """The kernel's counters: windows of zeros are done in place at every positive alpha
    (from S = 0, or by the special-window path where a reference is used); zeros at
    alpha = 1 and alpha = 0 (a zero weighs 1 there) are no special windows; zeros below 0 are
    done in place (y = 0; with gradients, dy/dx at a single zero). (alpha = 0 on such inputs,
    a learnable alpha started as average pooling, was the exact engine's with gradients:
    1548 ms for (8, 64, 112, 112) k3 s2 p1 forward+backward, one thread, max_pool2d 77.)"""
    x = relu_input((2, 8, 12, 11), torch.float32, seed=7)
    for alpha in (0.5, 1.0, 2.0, 30.0, -1.0, 0.0, -30.0, -0.5):
        for grads in (False, True):
            _native.special_windows()
            xin = x.clone().requires_grad_(grads)
            with torch.set_grad_enabled(grads):
                p_pool2d(xin, alpha, 3, 2, 1)
            counts = _native.special_windows()
            if alpha > 0:
                assert counts["zero"] > 0, (alpha, grads, counts)
            assert counts["exact"] == 0, (alpha, grads, counts)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
def test_plain_forward_with_zeros_at_alpha_up_to_zero(dtype):
    """No gradients wanted: windows holding zeros at alpha <= 0 are the fast engine's (y = 0
    below 0, the mean of all at 0); against the oracle's forward, one alpha per channel, with
    a bad element (NaN) that must still be reported as such."""
    from ppverify.oracle import ulp_distance

    from ._compare import FORWARD_ULP, HALF_ULP
    from ._oracle_cache import reference

    name = dtype_name(dtype)
    alpha = torch.tensor([-1e4, -30.0, -3.0, -1.0, -0.5, 0.0], dtype=torch.float64)
    x = relu_input((2, 6, 12, 11), dtype, seed=8)
    for k, s_, p in ((3, 2, 1), (2, 2, 0), (3, 1, 1)):
        with torch.no_grad():
            y = p_pool2d(x, alpha, k, s_, p)
        ref = reference("ppool", x.double().numpy(), alpha.numpy(), k, s_, p, 1, False,
                        dims=2, dtype=name, gradients=False)
        fwd = ulp_distance(y.double().numpy(), ref.output, name)
        limit = HALF_ULP if name in ("float16", "bfloat16") else FORWARD_ULP
        assert fwd.max() <= limit, (k, s_, p, fwd.max())
    bad = x.clone()
    bad[0, 3, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        p_pool2d(bad, alpha, 3, 2, 1)
    with torch.no_grad():
        y = p_pool2d(bad, alpha, 3, 2, 1, validate=False)
    assert torch.isnan(y[0, 3, 2:4, 2:4]).all()


def test_a_window_of_zeros_beside_underflowing_weights():
    """At alpha = 30 with a reference (weights relative to the plane's largest element), a
    window of tiny positive elements has weights that underflow to 0 like a window of zeros
    would: it is the exact engine's, not a window of zeros (y is its elements' mean-like
    value, not 0)."""
    x = torch.zeros(1, 8, 6, 6)
    x[:, :, 0, 0] = 100.0
    x[:, :, 4:, 4:] = 1e-30  # (1e-30 / 100)^30 underflows
    _native.special_windows()
    with torch.no_grad():
        y = p_pool2d(x, 30.0, 2, 2)
    assert torch.all(y[:, :, 2, 2] == torch.tensor(1e-30, dtype=torch.float32))
    assert torch.all(y[:, :, 1, 1] == 0)
    counts = _native.special_windows()
    assert counts["exact"] > 0 and counts["zero"] > 0, counts


def test_global_pooling_of_a_plane_of_zeros():
    x = torch.zeros(2, 8, 7, 7, requires_grad=True)
    y = adaptive_p_pool2d(x, 2.0, 1)
    y.backward(torch.full_like(y, 3.0))
    assert torch.all(y == 0)
    assert torch.all(x.grad == 3.0)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("geometry", [(3, 2, 1), (2, 2, 0)], ids=["k3s2p1", "k2s2"])
def test_few_planes_cut_into_segments(threads, geometry):
    """One or two planes, cut into segments (the grain lowered so that a size the oracle can
    check is cut): windows of zeros on and around the segments' boundaries."""
    from ppverify.ops import _layout

    before_threads, before_grain = torch.get_num_threads(), _native.segment_grain(64)
    torch.set_num_threads(threads)
    try:
        x = relu_input((1, 2, 72, 9), torch.float32, seed=11)
        x[0, 1, 30:42] = 0.0  # rows of zeros across the middle
        k, s, p = geometry
        out = _layout.out_spatial(_layout.windowed(2, k, s, p, 1, False), (72, 9))
        plan = _native.make_plan("ppool", _layout.windowed(2, k, s, p, 1, False),
                                 tuple(x.shape), x.dtype, False, 0, out)
        assert _native.segments(plan, threads)["segments"] > 2
        for alpha in (1.0, 2.0, 0.0, -1.0):
            check_case(x, alpha, k, s, p, dims=2,
                       grad_output=_grad_output(x, p_pool2d, alpha, (k, s, p), seed=12))
    finally:
        torch.set_num_threads(before_threads)
        _native.segment_grain(before_grain)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("op", ["powermean", "lp"])
def test_power_mean_and_lp_windows_of_zeros(op, dtype):
    """The power-mean / Lp engine's plain forward takes windows of zeros by S = 0 (y = 0, no
    exact engine); its forward with gradients and its backwards keep the exact engine's
    all-zero case (dy/dx = D^(-1/p)). Both against the oracle on relu inputs with blocks of
    zeros, at p = 1, 2, 3 (weights by multiplication), 2.5 and 30 (a reference)."""
    import numpy as np

    from ppverify.ops import gem_pool2d, lp_pool2d
    from ppverify.oracle import ulp_distance

    from ._compare import FORWARD_ULP, HALF_ULP
    from ._oracle_cache import reference
    from .test_power_kernel import _check_windowed

    name = dtype_name(dtype)
    for i, p in enumerate((1.0, 2.0, 3.0, 2.5, 30.0)):
        x = relu_input((2, 4, 12, 11), dtype, seed=40 + i)
        if op == "powermean":
            with torch.no_grad():
                y = gem_pool2d(x, p, 3, 2, 1)
            ref = reference(op, x.double().numpy(), np.float64(p), 3, 2, 1, 1, False, dims=2,
                            dtype=name, gradients=False)
            if p != 2.0:  # (at p = 2 a window of zeros' dy/dx = D^(-1/2), 1/2 for a
                # corner window of 4, makes input gradients whose exact value can sit on a
                # rounding boundary of the random gy: the oracle cannot certify those)
                _check_windowed(op, x, p, 3, 2, 1, dims=2)
        else:
            with torch.no_grad():
                y = lp_pool2d(x, p, 2, 2)
            ref = reference(op, x.double().numpy(), np.float64(p), 2, 2, 0, 1, False, dims=2,
                            dtype=name, gradients=False)
            _check_windowed(op, x, p, 2, 2, dims=2)
        assert torch.all(y[0, 0, 0, :2] == 0), "no window of zeros in the case"
        limit = HALF_ULP if name in ("float16", "bfloat16") else FORWARD_ULP
        fwd = ulp_distance(y.double().numpy(), ref.output, name)
        assert fwd.max() <= limit, (op, name, p, fwd.max())


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("geometry", range(len(GEOMETRIES)))
def test_negative_alpha_with_zeros_matches_the_oracle(dtype, geometry, served):
    """Windows holding zeros at alpha < 0 (y = 0; dy/dx 1 at a single zero below -1, the
    window's count at -1, 0 above; 0 everywhere with two zeros or more), done in place in the
    forward; the overlap state keeps them (its backward counts each window's zeros) and the
    disjoint state takes their dy/dx from the forward: mostly positive inputs (a few zeros:
    many windows with exactly one) and relu inputs with blocks of zeros, against the
    oracle."""
    fn, spatial, args, path = GEOMETRIES[geometry]
    dims = len(spatial)
    # (-1e4 on the mostly positive input: the oracle cannot certify one input gradient)
    unserved = []
    for i, alpha in enumerate((-300.0, -30.0, -3.0, -1.0, -0.5)):
        for shift in (-1.5, 1.0):
            x = relu_input((2, 4) + spatial, dtype, seed=60 + i, shift=shift)
            g = _grad_output(x, fn, alpha, args, seed=i)
            before = len(served[path])
            check_case(x, alpha, *args, dims=dims, grad_output=g)
            if len(served[path]) == before:
                unserved.append((alpha, shift))
    # the state served every case but -300 on the mostly positive input (windows whose
    # weights underflow relative to the plane there, below 1e-250: the exact engine's, which
    # refuse the state)
    assert set(unserved) <= {(-300.0, -1.5)}, unserved


def test_negative_alpha_per_channel_in_the_overlap_state(served):
    """Lanes of one group at alpha < 0, 0 and > 0 together (the backward counts zeros in the
    negative lanes alone), channels-last, with windows of one zero, of several and of zeros
    alone."""
    x = relu_input((2, 8, 12, 11), torch.float32, seed=13, shift=-1.0)
    x[1, :, 4:8, 4:8] = 0.0
    x[1, :, 0, 0] = 0.0
    alpha = torch.tensor([-3.0, -1.0, -0.5, 0.0, 1.0, 2.0, -30.0, 0.5], dtype=torch.float64)
    for fmt in (torch.contiguous_format, torch.channels_last):
        xf = x.contiguous(memory_format=fmt)
        check_case(xf, alpha, 3, 2, 1, dims=2,
                   grad_output=_grad_output(xf, p_pool2d, 2.0, (3, 2, 1), seed=14))
    assert len(served["overlap"]) == 2 and not served["recomputed"], served


@pytest.mark.parametrize("alpha", [-3.0, -1.0, -0.5, 2.0])
def test_windows_of_one_element(alpha):
    """An adaptive output longer than its input: windows of one element, some of them a zero
    (the all-zero case's dy/dx = 1 at any alpha)."""
    x = relu_input((2, 4, 5), torch.float32, seed=9, shift=0.0)
    x[0, 1, 2] = 0.0
    check_adaptive_case("ppool", x, alpha, 8, dims=1)


def test_windows_wider_than_a_column_tile(served):
    """Windows of 2500 columns (wider than the kernel's tile of 2048: their sums, zero counts
    included, are taken in chunks) sharing elements, with zeros, at alpha -1, 0 and 2: the
    overlap state serves each, against the oracle."""
    x = relu_input((1, 8, 6500), torch.float32, seed=15, shift=-5.0)  # no zeros but these:
    x[0, :, 100:110] = 0.0  # (plane 0: its first half; plane 7: all) ten zeros in window 0
    x[0, 3, 4000] = 0.0     # two windows share this single zero (at -1 its dy/dx is 2500)
    assert int((x[0, 3] == 0).sum()) == 11
    for alpha in (-1.0, 0.0, 2.0):
        check_case(x, alpha, 2500, 1000, 0, dims=1,
                   grad_output=_grad_output(x, p_pool1d, alpha, (2500, 1000), seed=16))
    assert len(served["overlap"]) == 3 and not served["recomputed"], served
