"""The backward from saved state (issue 12): where the C++ kernel serves a call whose windows
share no element (stride >= kernel), the eager forward saves each input element's dy/dx
(float32; float64 for a float64 input, from the exact engine) and each window's dy/dalpha
(float64), and the backward is a pass over memory instead of a recomputation. These tests hold
its gradients to the oracle's tolerances, show that the saved state is what the backward uses
(the recompute entry point is never called) and that a wrong saved state is caught, and check
the cases that must recompute."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from ppverify.ops import _dispatch, _native, p_pool1d, p_pool2d, p_pool3d

from ._cases import ALPHAS as F64_ALPHAS  # -1e4 .. 1e6: float64's documented range
from ._cases import KINDS, values
from ._compare import check_case, dtype_name

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")

FAST_DTYPES = [torch.float32, torch.bfloat16, torch.float16]
ALPHAS = [-1e4, -30.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 30.0, 1e3, 3e6]
# (dims, spatial, kernel, stride, padding, ceil_mode): every one has disjoint windows
DISJOINT = [
    (2, (6, 8), 2, 2, 0, False),
    (2, (7, 5), 3, 3, 1, True),       # padding, a partial last window, uncovered elements
    (1, (11,), 3, 4, 0, False),       # gaps between windows
    (3, (4, 4, 3), 2, 2, 1, True),
]


@pytest.fixture
def recompute_forbidden(monkeypatch):
    """Fail if the backward recomputes the forward (the kernel's plain backward entry point)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the backward recomputed the forward instead of using its state")

    monkeypatch.setattr(_native, "backward", forbidden)
    return forbidden


@pytest.fixture
def kept_states(monkeypatch):
    """``(weakref, data_ptr)`` of the dy/dx buffer of each saved state the forwards make."""
    kept = []
    real = _dispatch._native_forward_saved

    def watching(*args):
        y, state = real(*args)
        if state is not None:
            kept.append((weakref.ref(state[0]), state[0].data_ptr()))
        return y, state

    monkeypatch.setattr(_dispatch, "_native_forward_saved", watching)
    return kept


@pytest.fixture
def count_saved(monkeypatch):
    """Count the backwards served from saved state."""
    calls = []
    real = _native.backward_saved

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_native, "backward_saved", counting)
    return calls


@pytest.mark.parametrize("dtype", FAST_DTYPES + [torch.float64], ids=dtype_name)
@pytest.mark.parametrize("geometry", range(len(DISJOINT)))
def test_saved_state_gradients_match_oracle(dtype, geometry, count_saved):
    # every adversarial kind meets every alpha (zeros with alpha <= 0, tiny weights and
    # |alpha| > 2^20 go through the exact engine inside the saving forward); where some dy/dx
    # is outside float32's normal range (subnormal inputs, huge ones) the state is refused and
    # the backward recomputes, so the count is checked over the suite, not per case
    dims, spatial, k, s, p, cm = DISJOINT[geometry]
    gen = torch.Generator().manual_seed(77 + geometry)
    alphas = F64_ALPHAS if dtype == torch.float64 else ALPHAS
    for kind in KINDS:
        for alpha in alphas:
            x = values(kind, (2, 3) + spatial, dtype, gen)
            check_case(x, alpha, k, s, p, 1, cm, dims=dims)
    # float64 refuses its state only where a window's dy/dalpha overflows or is subnormal in a
    # window of subnormal-scale inputs (the "tiny" kind at most)
    least = len(KINDS) * len(alphas) // 2 if dtype != torch.float64 else \
        (len(KINDS) - 1) * len(alphas)
    assert len(count_saved) >= least


@pytest.mark.parametrize("dtype", FAST_DTYPES + [torch.float64], ids=dtype_name)
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_per_channel_alpha_and_grad_output_without_recomputation(dtype, channels_last,
                                                                 recompute_forbidden):
    gen = torch.Generator().manual_seed(5)
    x = values("uniform", (2, 9, 8, 6), dtype, gen)
    x[0, 1, 0, 0] = 0.0  # zeros in lanes with alpha <= 0: exact-engine windows
    x[1, 4, 3, 3] = 0.0
    x[0, 7, 5, 2] = 1e-30 if dtype != torch.float16 else 6e-8  # tiny weights at alpha = 30
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    alpha = torch.tensor([-3.0, 0.0, 0.5, 1.0, -1.0, 2.0, 7.5, 30.0, 1e3], dtype=torch.float64)
    gout = torch.randn((2, 9, 4, 3), generator=gen, dtype=torch.float64).to(dtype).double()
    check_case(x, alpha, 2, 2, 0, dims=2, grad_output=gout)


def _grads(fn, x, alpha, *args, g=None):
    xg = x.detach().clone().requires_grad_(True)
    a = torch.as_tensor(alpha, dtype=torch.float64).clone().requires_grad_(True)
    y = fn(xg, a, *args)
    y.backward(torch.ones_like(y) if g is None else g)
    return y.detach(), xg.grad, a.grad


def test_saved_and_recomputed_gradients_agree(monkeypatch):
    gen = torch.Generator().manual_seed(9)
    x = values("range30", (2, 4, 10, 12), torch.float32, gen)
    alpha = torch.tensor([2.0, -1.5, 0.3, 40.0], dtype=torch.float64)
    y1, gx1, ga1 = _grads(p_pool2d, x, alpha, 2, 2)
    monkeypatch.setattr(_native, "backward_saved", None)  # any use would fail
    monkeypatch.setattr(_dispatch, "_native_forward_saved",
                        lambda op, x, p, layout, v, n:
                        (_dispatch._native_forward(op, x, p, layout, v), None))
    y2, gx2, ga2 = _grads(p_pool2d, x, alpha, 2, 2)
    assert torch.equal(y1, y2)
    # one float32 rounding of dy/dx more than the recomputing backward, no more
    torch.testing.assert_close(gx1, gx2, rtol=2.0 ** -22, atol=0.0)
    torch.testing.assert_close(ga1, ga2, rtol=1e-12, atol=0.0)


def test_a_wrong_saved_state_is_caught(monkeypatch):
    """The oracle comparison goes through the saved state: a state off by 0.1% fails it."""
    real = _native.forward_saved

    def skewed(plan, x, param, out, jac, dw):
        result = real(plan, x, param, out, jac, dw)
        jac.mul_(1.001)
        return result

    monkeypatch.setattr(_native, "forward_saved", skewed)
    x = values("uniform", (1, 2, 6, 6), torch.float32, torch.Generator().manual_seed(1))
    with pytest.raises(AssertionError, match="grad_input outside tolerance"):
        check_case(x, 2.0, 2, 2, 0, dims=2)


def test_overlapping_windows_recompute(count_saved):
    x = torch.rand(2, 3, 9, 9) + 0.1
    _grads(p_pool2d, x, 2.0, 3, 2, 1)  # windows share a row and a column
    _grads(p_pool1d, x[:, :, 0], 2.0, 3, 2, 0)
    _grads(p_pool2d, x.double(), 2.0, 3, 2, 1)
    assert not count_saved
    assert not _dispatch._native_call("ppool", _dispatch._layout.windowed(
        2, 3, 2, 1, 1, False), x, torch.tensor(2.0, dtype=torch.float64)).saves()
    _grads(p_pool2d, x.double(), 2.0, 2, 2)  # the exact engine saves too
    assert len(count_saved) == 1
    _grads(p_pool3d, x[:, :, None].expand(2, 3, 2, 9, 9), 2.0, 2, 2)
    assert len(count_saved) == 2


def _recomputing(monkeypatch):
    """Make every later forward save nothing (its backward then recomputes)."""
    monkeypatch.setattr(_dispatch, "_native_forward_saved",
                        lambda op, x, p, layout, v, n:
                        (_dispatch._native_forward(op, x, p, layout, v), None))


@pytest.mark.parametrize("dims, spatial, k, s, p, cm", DISJOINT)
def test_float64_saved_gradients_are_the_recomputed_ones_bit_for_bit(dims, spatial, k, s, p,
                                                                     cm, monkeypatch,
                                                                     count_saved):
    """float64 saves the exact engine's dy/dx itself: grad_output * dy/dx is the recomputing
    backward's gradient, bit for bit (so a state off by one ulp anywhere fails this test);
    dy/dalpha differs by the order of one rounding per window."""
    fn = {1: p_pool1d, 2: p_pool2d, 3: p_pool3d}[dims]
    gen = torch.Generator().manual_seed(31 + dims)
    x = values("range30", (2, 5) + spatial, torch.float64, gen)
    x.view(-1)[::7] = 0.0  # zeros: the exact engine's special windows at alpha <= 0 and 1
    alpha = torch.tensor([2.0, -1.5, 0.0, 1.0, 40.0], dtype=torch.float64)
    args = (k, s, p, 1, cm)
    out = _grads(fn, x, alpha, *args)[0]
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    y1, gx1, ga1 = _grads(fn, x, alpha, *args, g=g)
    assert len(count_saved) == 2
    _recomputing(monkeypatch)
    y2, gx2, ga2 = _grads(fn, x, alpha, *args, g=g)
    assert len(count_saved) == 2
    assert torch.equal(y1, y2)
    assert torch.equal(gx1, gx2)
    torch.testing.assert_close(ga1, ga2, rtol=2.0 ** -48, atol=0.0)


def test_a_one_ulp_skew_of_the_float64_state_is_caught(monkeypatch):
    """The bit-for-bit comparison above catches a state one ulp off in a single element, and
    the oracle comparison catches a skew just beyond the gradient tolerance (8 ULP or 64 u x
    the window's largest gradient: 2^-44 relative in every element)."""
    x = values("uniform", (1, 2, 6, 6), torch.float64, torch.Generator().manual_seed(3))
    # powers of two: grad_output * dy/dx is exact, so a one-ulp skew shows in the gradient
    g = 2.0 ** torch.randint(-3, 4, (1, 2, 3, 3), generator=torch.Generator().manual_seed(4),
                             dtype=torch.float64)
    _recomputing(monkeypatch)
    _, gx_ref, _ = _grads(p_pool2d, x, 2.0, 2, 2, g=g)
    monkeypatch.undo()
    real = _native.forward_saved

    def skewed(by):
        def forward_saved(plan, x, param, out, jac, dw):
            result = real(plan, x, param, out, jac, dw)
            if by is None:
                jac.view(-1)[5] = torch.nextafter(jac.view(-1)[5], torch.tensor(1e300))
            else:
                jac.mul_(1 + by)
            return result
        return forward_saved

    monkeypatch.setattr(_native, "forward_saved", skewed(None))
    _, gx, _ = _grads(p_pool2d, x, 2.0, 2, 2, g=g)
    assert not torch.equal(gx, gx_ref)
    assert (gx != gx_ref).sum() == 1
    monkeypatch.setattr(_native, "forward_saved", skewed(2.0 ** -44))
    with pytest.raises(AssertionError, match="grad_input outside tolerance"):
        check_case(x, 2.0, 2, 2, 0, dims=2)
    monkeypatch.setattr(_native, "forward_saved", skewed(0.0))  # the same path, unskewed
    check_case(x, 2.0, 2, 2, 0, dims=2)


def test_a_float64_dalpha_that_is_not_a_normal_double_falls_back(count_saved):
    # subnormal inputs: each window's dy/dalpha is itself subnormal, so the state is refused
    # and the backward recomputes (its sums carry a power-of-two scale); without an alpha
    # gradient the same input's state is used
    x = torch.tensor([[[[1e-310, 3e-310], [2e-310, 1e-310]]]], dtype=torch.float64)
    check_case(x, 2.0, 2, 2, 0, dims=2)
    assert not count_saved
    xg = x.clone().requires_grad_(True)
    p_pool2d(xg, 2.0, 2, 2).sum().backward()
    assert len(count_saved) == 1
    check_case(x * 1e300, 2.0, 2, 2, 0, dims=2)  # ~3e-10: normal, saved
    assert len(count_saved) == 2


def test_an_unrepresentable_jacobian_falls_back_to_recomputation(count_saved):
    # alpha = 0.01 and a subnormal next to 1: dy/dx ~ -alpha w y / x ~ 1e42 overflows float32
    x = torch.tensor([[[[1.4e-45, 1.0], [1.0, 1.0]]]])
    g = torch.tensor([[[[1e-6]]]])
    _, gx, _ = _grads(p_pool2d, x, 0.01, 2, 2, g=g)
    assert not count_saved
    assert torch.isfinite(gx).all() and gx[0, 0, 0, 0] < -1e30  # the recomputed gradient
    # and a representable one in the same geometry uses the state
    _grads(p_pool2d, torch.rand(1, 1, 2, 2) + 0.5, 0.01, 2, 2)
    assert len(count_saved) == 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_name)
def test_saved_state_is_used_once_and_freed_with_the_graph(dtype, kept_states, count_saved):
    kept = kept_states
    x = (torch.rand(2, 3, 8, 8, dtype=dtype) + 0.1).requires_grad_(True)
    y = p_pool2d(x, 2.0, 2, 2)
    assert len(kept) == 1 and kept[0][0]() is not None
    g = torch.rand_like(y)
    y.backward(g, retain_graph=True)
    first = x.grad
    assert first.data_ptr() == kept[0][1]  # written over the state, no copy
    x.grad = None
    y.backward(g)  # the state was used: this backward recomputes
    assert len(count_saved) == 1
    if dtype == torch.float64:  # the state is the recomputing backward's dy/dx itself
        assert torch.equal(x.grad, first)
    else:
        torch.testing.assert_close(x.grad, first, rtol=2.0 ** -22, atol=0.0)
    del first
    x.grad = None
    gc.collect()
    assert kept[0][0]() is None  # nothing holds the state any more, though y is alive
    assert y.grad_fn is not None
    if dtype == torch.float64:
        return
    # a float16 state is not the gradient's buffer; the graph's end frees it
    xh = (torch.rand(2, 3, 8, 8) + 0.1).half().requires_grad_(True)
    yh = p_pool2d(xh, 2.0, 2, 2)
    yh.backward(torch.ones_like(yh))
    gc.collect()
    assert kept[1][0]() is None and xh.grad.dtype == torch.float16


def test_no_state_without_an_input_gradient(count_saved):
    alpha = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    y = p_pool2d(torch.rand(1, 2, 4, 4) + 0.1, alpha, 2, 2)
    y.sum().backward()
    assert not count_saved and torch.isfinite(alpha.grad)


def test_windows_disjoint_is_the_geometric_condition():
    from ppverify.ops import _layout

    def disjoint(spatial, k, s, p=0, d=1, cm=False):
        layout = _layout.windowed(len(spatial), k, s, p, d, cm)
        out = _layout.out_spatial(layout, spatial)
        return _native.plan_disjoint(_native.make_plan(
            "ppool", layout, (1, 1, *spatial), torch.float32, False, 0, tuple(out)))

    assert disjoint((8, 8), 2, 2) and disjoint((7,), 3, 3, 1, 1, True) and disjoint((9,), 2, 4)
    assert not disjoint((8, 8), 3, 2, 1) and not disjoint((8,), (2,), (1,))
    assert not disjoint((9,), 2, 2, 0, 2)  # dilated windows that interleave: conservative
    assert np.all([disjoint((n,), n, 1) for n in (1, 5)])  # one window
    assert disjoint((3, 8, 8), 2, 2) and not disjoint((3, 8, 8), (2, 3, 2), (2, 2, 2))


@pytest.mark.parametrize("length, k, s", [(5001, 2, 2), (4999, 3, 4), (3000, 3000, 1)])
def test_long_rows_in_column_tiles(length, k, s, count_saved, monkeypatch):
    """Rows longer than the kernel's column tile (2048): the state is written tile by tile
    (gaps between windows and tiles are 0); a window wider than a tile is not saved."""
    x = torch.rand(2, 9, length) + 0.05
    alpha = torch.tensor([2.0, -1.5, 0.0, 30.0, 1.0, 0.5, -30.0, 3.0, 1e3], dtype=torch.float64)
    g = torch.randn(2, 9, (length - k) // s + 1)
    _, gx1, ga1 = _grads(p_pool1d, x, alpha, k, s, g=g)
    assert len(count_saved) == (0 if k > 2048 else 1)
    monkeypatch.setattr(_dispatch, "_native_forward_saved",
                        lambda op, x, p, layout, v, n:
                        (_dispatch._native_forward(op, x, p, layout, v), None))
    _, gx2, ga2 = _grads(p_pool1d, x, alpha, k, s, g=g)
    # a dy/dx that float32 holds as a subnormal differs by at most 2^-149 |g| (alpha = 1e3)
    torch.testing.assert_close(gx1, gx2, rtol=2.0 ** -22, atol=2.0 ** -126)
    torch.testing.assert_close(ga1, ga2, rtol=1e-9, atol=0.0)


# ---------------------------------------------------------------- the power mean and Lp norm
# The power engine (power_kernel.inc: float32 / bfloat16 / float16) saves the same state:
# each element's dy/dx = (x / y)^(p-1) / D (float32) and each window's dy/dp (float64), formed
# in the forward with the window-relative sums of the recomputing backward; these tests hold
# it to the oracle through tests/ops/test_power_kernel.py's checker (_check_windowed).

from .test_power_kernel import _check_windowed  # noqa: E402  (the oracle-checked helper)

POWER_P = [-3.0, -1.0, 0.5, 1.0, 2.0, 3.0, 3.1, 20.0, 1e3]
# (dims, spatial, kernel, stride, padding, ceil_mode): disjoint windows (Lp has no padding)
POWER_DISJOINT = {
    "powermean": [(1, (11,), 3, 4, 0, False),      # gaps between windows
                  (2, (7, 5), 3, 3, 1, True),      # padding, partial windows, uncovered
                  (3, (4, 4, 3), 2, 2, 1, True)],
    "lp": [(1, (11,), 3, 4, 0, False),
           (2, (7, 5), 2, 2, 0, True),             # a partial last window
           (3, (4, 5, 3), 2, 3, 0, False)],        # gaps on two axes
}
POWER_KINDS = ["uniform", "ties", "zeros", "range30", "tiny", "huge"]


def _power_check(op, x, p, geometry, **kw):
    dims, _, k, s, pad, cm = geometry
    if op == "lp":
        return _check_windowed(op, x, p, k, s, 0, cm, dims=dims, **kw)
    return _check_windowed(op, x, p, k, s, pad, cm, dims=dims, **kw)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("op, geometry", [(op, g) for op in POWER_DISJOINT
                                          for g in range(3)])
def test_power_saved_state_gradients_match_oracle(op, geometry, dtype, count_saved):
    # every adversarial kind meets every p (zeros only with p > 0: a zero with p < 0 is outside
    # the domain); windows of subnormals, or with a dy/dx beyond float32's range, may refuse
    # the state and recompute, so the count is held over the whole set of cases
    geo = POWER_DISJOINT[op][geometry]
    gen = torch.Generator().manual_seed(310 + geometry)
    cases = 0
    for kind in POWER_KINDS:
        for p in POWER_P:
            if kind == "zeros" and p < 0:
                continue
            x = values(kind, (2, 3) + geo[1], dtype, gen)
            # subnormal windows: dy/dp within the shared tolerance, not within 64 float32 ULP
            # (the recomputing backward's figures, to the bit: up to 10% relative)
            _power_check(op, x, p, geo, strict_p=kind != "tiny")
            cases += 1
    assert len(count_saved) >= cases * 3 // 4, (len(count_saved), cases)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_power_per_channel_p_without_recomputation(op, dtype, channels_last,
                                                   recompute_forbidden, count_saved):
    # per-channel p mixing the fast engine, its integer-power rows, the exact engine's lanes
    # (|p| < 1/16) and windows it hands to the exact engine (a zero at p = 1, ties)
    gen = torch.Generator().manual_seed(6)
    x = values("uniform", (2, 9, 8, 6), dtype, gen) + 0.01
    x[0, 2, 0, 0] = 0.0
    x[1, 5, 2:4, 2:4] = 1.5  # a window of ties
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    p = [-3.0, 0.03, 1.0, 2.0, 3.0, 3.1, 20.0, 1e3, -0.5] if op == "powermean" else \
        [-3.0, 0.5, 1.0, 2.0, 3.0, 3.1, 20.0, 1e3, -0.5]
    _check_windowed(op, x, p, 2, 2, dims=2)
    assert len(count_saved) == 1


def test_power_saved_and_recomputed_gradients_agree(monkeypatch):
    gen = torch.Generator().manual_seed(10)
    x = values("range30", (2, 4, 10, 12), torch.float32, gen)
    from ppverify.ops import gem_pool2d, lp_pool2d
    p = torch.tensor([3.0, -1.5, 0.3, 40.0], dtype=torch.float64)
    saved = [_grads(f, x, p, 2, 2) for f in (gem_pool2d, lp_pool2d)]
    _recomputing(monkeypatch)
    monkeypatch.setattr(_native, "backward_saved", None)  # any use would fail
    for (y1, gx1, gp1), f in zip(saved, (gem_pool2d, lp_pool2d)):
        y2, gx2, gp2 = _grads(f, x, p, 2, 2)
        assert torch.equal(y1, y2)  # the saving forward's output is the forward's
        # one float32 rounding of dy/dx more than the recomputing backward, no more
        torch.testing.assert_close(gx1, gx2, rtol=2.0 ** -22, atol=0.0)
        torch.testing.assert_close(gp1, gp2, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("op", ["powermean", "lp"])
def test_a_wrong_power_saved_state_is_caught(op, monkeypatch):
    """The oracle comparison goes through the saved state: a skew of 0.1% in dy/dx, or of
    1e-5 in dy/dp, fails it."""
    real = _native.forward_saved
    x = values("uniform", (1, 2, 6, 6), torch.float32, torch.Generator().manual_seed(1))
    _power_check(op, x, 3.1, (2, None, 2, 2, 0, False))  # the honest state passes

    def skewed_jac(plan, x, param, out, jac, dw):
        result = real(plan, x, param, out, jac, dw)
        jac.mul_(1.001)
        return result

    monkeypatch.setattr(_native, "forward_saved", skewed_jac)
    with pytest.raises(AssertionError, match="grad_input at"):
        _power_check(op, x, 3.1, (2, None, 2, 2, 0, False))

    def skewed_dw(plan, x, param, out, jac, dw):
        result = real(plan, x, param, out, jac, dw)
        dw.mul_(1 + 1e-5)
        return result

    monkeypatch.setattr(_native, "forward_saved", skewed_dw)
    with pytest.raises(AssertionError, match="grad_p"):
        _power_check(op, x, 3.1, (2, None, 2, 2, 0, False))


def test_power_overlapping_windows_and_float64_recompute(count_saved):
    from ppverify.ops import gem_pool2d, lp_pool2d
    x = torch.rand(2, 3, 9, 9) + 0.1
    _grads(gem_pool2d, x, 3.0, 3, 2, 1)  # windows share a row and a column
    _grads(lp_pool2d, x, 3.0, 3, 2)
    _grads(gem_pool2d, x.double(), 3.0, 2, 2)  # float64: the pure-torch path
    assert not count_saved
    _grads(gem_pool2d, x, 3.0, 2, 2)
    _grads(lp_pool2d, x.half(), 3.1, 3, 3)
    assert len(count_saved) == 2


def test_power_unrepresentable_jacobian_falls_back_to_recomputation(count_saved):
    # dy/dx = (x / y)^(p-1) / D overflows float32 at 0 < p < 1 for a subnormal next to 1
    # (p = 0.1: (1e-45)^(-0.9) / 4 ~ 1e40): the state is refused and the backward recomputes
    from ppverify.ops import gem_pool2d
    x = torch.tensor([[[[1.4e-45, 1.0], [1.0, 1.0]]]])
    _, gx, _ = _grads(gem_pool2d, x, 0.1, 2, 2, g=torch.tensor([[[[1e-6]]]]))
    assert not count_saved
    assert torch.isfinite(gx).all() and gx[0, 0, 0, 0] > 1e30  # the recomputed gradient
    _grads(gem_pool2d, torch.rand(1, 1, 2, 2) + 0.5, 0.1, 2, 2)
    assert len(count_saved) == 1


def test_power_saved_state_is_used_once_and_freed_with_the_graph(kept_states, count_saved):
    from ppverify.ops import gem_pool2d
    kept = kept_states
    x = (torch.rand(2, 3, 8, 8) + 0.1).requires_grad_(True)
    p = torch.tensor(3.1, dtype=torch.float64, requires_grad=True)
    y = gem_pool2d(x, p, 2)
    assert len(kept) == 1
    g = torch.rand_like(y)
    y.backward(g, retain_graph=True)
    first, first_p = x.grad, p.grad.clone()
    assert first.data_ptr() == kept[0][1]  # written over the state, no copy
    x.grad, p.grad = None, None
    y.backward(g)  # the state was used: this backward recomputes
    assert len(count_saved) == 1
    torch.testing.assert_close(x.grad, first, rtol=2.0 ** -22, atol=0.0)
    torch.testing.assert_close(p.grad, first_p, rtol=1e-12, atol=0.0)
    del first
    x.grad = None
    gc.collect()
    assert kept[0][0]() is None and y.grad_fn is not None
    # create_graph: the differentiable pure-torch formula, no state used
    y = gem_pool2d(x, p, 2)
    (gx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    assert gx.requires_grad and len(count_saved) == 1
