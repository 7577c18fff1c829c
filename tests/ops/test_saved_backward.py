"""The backward from saved state (issue 12): where the C++ kernel serves a call whose windows
share no element (stride >= kernel), the eager forward saves each input element's dy/dx
(float32; float64 for a float64 input, from the exact engine) and each window's dy/dalpha
(float64), and the backward is a pass over memory instead of a recomputation. Where windows
share elements (P-pooling in float32 / bfloat16 / float16), the forward saves each window's
1 / S and y (float64) and each plane's reference, and the backward recomputes the weights but
not the window sums (the overlap state, last section). These tests hold its gradients to the
oracle's tolerances, show that the saved state is what the backward uses (the recompute entry
point is never called) and that a wrong saved state is caught, and check the cases that must
recompute."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
import torch

from ppverify.ops import _dispatch, _layout, _native, p_pool1d, p_pool2d, p_pool3d

from ._cases import ALPHAS as F64_ALPHAS  # -1e4 .. 1e6: float64's documented range
from ._cases import KINDS, values
from ._compare import check_adaptive_case, check_case, dtype_name

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
        if state is not None and state[0] is not None:  # (the overlap state: no dy/dx)
            kept.append((weakref.ref(state[0]), state[0].data_ptr()))
        return y, state

    monkeypatch.setattr(_dispatch, "_native_forward_saved", watching)
    return kept


def _count_calls(monkeypatch, name: str) -> list:
    """A list that gets one entry per call of ``_native.<name>`` (which still runs)."""
    calls = []
    real = getattr(_native, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_native, name, counting)
    return calls


@pytest.fixture
def count_overlap(monkeypatch):
    """Count the backwards served from the overlap state (windows that share elements)."""
    return _count_calls(monkeypatch, "backward_overlap_saved")


@pytest.fixture
def count_saved(monkeypatch):
    """Count the backwards served from saved state."""
    return _count_calls(monkeypatch, "backward_saved")


def _f64_overlap_state(dims, spatial, k, s, p, cm) -> bool:
    """Whether a float64 autograd call on contiguous memory saves the overlap state for these
    disjoint windows (4 elements or more per window on average, _dispatch's rule)."""
    layout = _layout.windowed(dims, k, s, p, 1, cm)
    out = _layout.out_spatial(layout, spatial)
    plan = _native.make_plan("ppool", layout, (2, 3, *spatial), torch.float64, False, 0, out)
    return _native.plan_window_mean(plan) >= 4.0


@pytest.mark.parametrize("dtype", FAST_DTYPES + [torch.float64], ids=dtype_name)
@pytest.mark.parametrize("geometry", range(len(DISJOINT)))
def test_saved_state_gradients_match_oracle(dtype, geometry, count_saved, count_overlap):
    # every adversarial kind meets every alpha (zeros with alpha <= 0, tiny weights and
    # |alpha| > 2^20 go through the exact engine inside the saving forward); where some dy/dx
    # is outside float32's normal range (subnormal inputs, huge ones) the state is refused and
    # the backward recomputes, so the count is checked over the suite, not per case. float64
    # on contiguous memory with 4 elements or more per window on average (k2 s2 here) saves
    # the overlap state instead (test_overlap64.py holds it; here the count of either)
    dims, spatial, k, s, p, cm = DISJOINT[geometry]
    gen = torch.Generator().manual_seed(77 + geometry)
    alphas = F64_ALPHAS if dtype == torch.float64 else ALPHAS
    for kind in KINDS:
        for alpha in alphas:
            x = values(kind, (2, 3) + spatial, dtype, gen)
            check_case(x, alpha, k, s, p, 1, cm, dims=dims)
    # float64 refuses its state only where a window's dy/dalpha overflows or is subnormal in a
    # window of subnormal-scale inputs (the "tiny" kind at most)
    if dtype == torch.float64:
        overlap = _f64_overlap_state(dims, spatial, k, s, p, cm)
        assert (len(count_overlap) > 0) == overlap and (len(count_saved) > 0) != overlap
        if not overlap:
            assert len(count_saved) >= (len(KINDS) - 1) * len(alphas)
    else:
        assert len(count_saved) > len(KINDS) * len(alphas) // 2


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
    # (float64 on contiguous memory saves the overlap state: channels 7 and 8 of the second
    # batch entry make its last group of 8 planes, every |alpha| there beyond 16, so every
    # window of that group is evaluated again in the backward)
    alpha = torch.tensor([-3.0, 0.0, 0.5, 1.0, -1.0, 2.0, 7.5, 30.0, 1e3], dtype=torch.float64)
    gout = torch.randn((2, 9, 4, 3), generator=gen, dtype=torch.float64).to(dtype).double()
    check_case(x, alpha, 2, 2, 0, dims=2, grad_output=gout)


# channels-last memory whose channel count C is not a multiple of 8: the backward takes a run
# of one window's pixels in blocks of lcm(C, 8) elements, the window's gy repeated over the
# block (cl_pattern in the kernel); runs shorter than a block keep the loop per pixel. Global,
# adaptive and k8 windows (rows and columns in no window), and k3 (runs of 9 elements)
CL_PATTERN_CASES = [
    ((2, 3, 24, 16), ("adaptive", 1), (2, 3, 1, 1)),
    ((2, 5, 24, 16), ("adaptive", (3, 2)), (2, 5, 3, 2)),
    ((1, 12, 20, 18), ("windowed", 8), (1, 12, 2, 2)),
    ((1, 3, 13, 14), ("windowed", 3), (1, 3, 4, 4)),
]


# P-pooling at a non-integer alpha (the dy/dx state: an integer one keeps each window's S and
# y instead, test_integer_alpha.py) and the power mean (its adaptive forms: check_case is
# P-pooling's)
CL_PATTERN_OPS = [("ppool", 2.5, c) for c in CL_PATTERN_CASES] + [
    ("powermean", 3.1, c) for c in CL_PATTERN_CASES if c[1][0] == "adaptive"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64], ids=dtype_name)
@pytest.mark.parametrize("op, param, case", CL_PATTERN_OPS,
                         ids=[f"{o}-{c[0][1]}ch-{c[1][0]}-{c[1][1]}" for o, _, c in CL_PATTERN_OPS])
def test_channels_last_with_channels_not_a_multiple_of_8(op, param, case, dtype,
                                                         recompute_forbidden, count_saved):
    shape, (kind, size), out = case
    gen = torch.Generator().manual_seed(41 + shape[1])
    x = values("uniform", shape, dtype, gen).contiguous(memory_format=torch.channels_last)
    x[0, 0, 1, 1] = 0.0  # a zero (dy/dx at a zero)
    g = torch.randn(out, generator=gen, dtype=torch.float64).to(dtype).double()
    if kind == "adaptive":
        check_adaptive_case(op, x, param, size, dims=2, grad_output=g)
    else:
        check_case(x, param, size, size, 0, dims=2, grad_output=g)
    assert len(count_saved) == 1


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


def test_overlapping_windows_do_not_use_the_disjoint_state(count_saved):
    x = torch.rand(2, 3, 9, 9) + 0.1
    _grads(p_pool2d, x, 2.0, 3, 2, 1)  # windows share a row and a column: the overlap state
    _grads(p_pool1d, x[:, :, 0], 2.0, 5, 2, 0)
    _grads(p_pool2d, x.double(), 2.0, 3, 2, 1)  # float64 overlapping: its overlap state
    assert not count_saved
    call = _dispatch._native_call("ppool", _dispatch._layout.windowed(2, 3, 2, 1, 1, False), x,
                                  torch.tensor(2.0, dtype=torch.float64))
    assert call.saves(True) and call.overlap_state(True)
    # the exact engine saves too; on contiguous memory with 4 elements per window, the overlap
    # state (test_overlap64.py), on channels-last memory this one
    _grads(p_pool2d, x.double().contiguous(memory_format=torch.channels_last), 2.0, 2, 2)
    assert len(count_saved) == 1
    _grads(p_pool3d, x[:, :, None].expand(2, 3, 2, 9, 9), 2.0, 2, 2)
    assert len(count_saved) == 2


def _recomputing(monkeypatch):
    """Make every later forward save nothing (its backward then recomputes)."""
    monkeypatch.setattr(_dispatch, "_native_forward_saved",
                        lambda op, x, p, layout, v, n:
                        (_dispatch._native_forward(op, x, p, layout, v), None))


@pytest.mark.parametrize("dims, spatial, k, s, p, cm", DISJOINT)
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_float64_saved_gradients_are_the_recomputed_ones_bit_for_bit(dims, spatial, k, s, p,
                                                                     cm, channels_last,
                                                                     monkeypatch, count_saved,
                                                                     count_overlap):
    """float64 saves the exact engine's dy/dx itself: grad_output * dy/dx is the recomputing
    backward's gradient, bit for bit (so a state off by one ulp anywhere fails this test);
    dy/dalpha differs by the order of one rounding per window. Where it saves the overlap
    state instead (contiguous memory, 4 elements per window or more), the recomputing
    backward takes that state's steps: the same bits too."""
    if channels_last and dims == 1:
        pytest.skip("no channels-last 1-D layout")
    fn = {1: p_pool1d, 2: p_pool2d, 3: p_pool3d}[dims]
    gen = torch.Generator().manual_seed(31 + dims)
    x = values("range30", (2, 5) + spatial, torch.float64, gen)
    x.view(-1)[::7] = 0.0  # zeros: the exact engine's special windows at alpha <= 0 and 1
    if channels_last:
        x = x.contiguous(memory_format=(torch.channels_last if dims == 2
                                        else torch.channels_last_3d))
    counts = count_overlap if (not channels_last and
                               _f64_overlap_state(dims, spatial, k, s, p, cm)) else count_saved
    alpha = torch.tensor([2.0, -1.5, 0.0, 1.0, 40.0], dtype=torch.float64)
    args = (k, s, p, 1, cm)
    out = _grads(fn, x, alpha, *args)[0]
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    y1, gx1, ga1 = _grads(fn, x, alpha, *args, g=g)
    assert len(counts) == 2 and len(count_saved) + len(count_overlap) == 2
    _recomputing(monkeypatch)
    y2, gx2, ga2 = _grads(fn, x, alpha, *args, g=g)
    assert len(counts) == 2
    assert torch.equal(y1, y2)
    assert torch.equal(gx1, gx2)
    torch.testing.assert_close(ga1, ga2, rtol=2.0 ** -48, atol=0.0)


def test_a_one_ulp_skew_of_the_float64_state_is_caught(monkeypatch):
    """The bit-for-bit comparison above catches a state one ulp off in a single element, and
    the oracle comparison catches a skew just beyond the gradient tolerance (8 ULP or 64 u x
    the window's largest gradient: 2^-44 relative in every element)."""
    x = values("uniform", (1, 2, 6, 6), torch.float64, torch.Generator().manual_seed(3))
    # channels-last: the disjoint state (contiguous k2 s2 keeps the overlap state, whose
    # planted defects test_overlap64.py holds)
    x = x.contiguous(memory_format=torch.channels_last)
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
                flat = jac.as_strided((jac.numel(),), (1,))  # (dense channels-last memory)
                flat[5] = torch.nextafter(flat[5], torch.tensor(1e300))
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
    # (1-D windows of 2 elements: the disjoint state; the overlap state's windows of
    # subnormal elements are evaluated again, test_overlap64.py)
    x = torch.tensor([[[1e-310, 3e-310, 2e-310, 1e-310]]], dtype=torch.float64)
    check_case(x, 2.0, 2, 2, 0, dims=1)
    assert not count_saved
    xg = x.clone().requires_grad_(True)
    p_pool1d(xg, 2.0, 2, 2).sum().backward()
    assert len(count_saved) == 1
    check_case(x * 1e300, 2.0, 2, 2, 0, dims=1)  # ~3e-10: normal, saved
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
    x = torch.rand(2, 3, 8, 8, dtype=dtype) + 0.1
    if dtype == torch.float64:  # (contiguous float64 k2 s2 keeps the overlap state instead)
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    y = p_pool2d(x, 2.0, 2, 2)
    assert len(kept) == 1 and kept[0][0]() is not None
    g = torch.rand_like(y)
    y.backward(g, retain_graph=True)
    first = x.grad
    assert first.data_ptr() == kept[0][1]  # written over the state, no copy
    # the retained graph holds its saved tensors, the state among them (save_for_backward:
    # checkpointing and saved-tensor hooks see it)
    assert any(t.data_ptr() == kept[0][1] for t in y.grad_fn.saved_tensors)
    x.grad = None
    y.backward(g)  # the state was used: this backward recomputes
    assert len(count_saved) == 1
    if dtype == torch.float64:  # the state is the recomputing backward's dy/dx itself
        assert torch.equal(x.grad, first)
    else:
        torch.testing.assert_close(x.grad, first, rtol=2.0 ** -22, atol=0.0)
    with pytest.raises(RuntimeError, match="freed"):  # the last backward freed the graph's
        _ = y.grad_fn.saved_tensors                    # saved tensors, the state with them
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


def _power_cases() -> list[tuple[str, float]]:
    """Every adversarial kind with every p (zeros only with p > 0: a zero with p < 0 is
    outside the domain)."""
    return [(kind, p) for kind in POWER_KINDS for p in POWER_P
            if not (kind == "zeros" and p < 0)]


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
    cases = _power_cases()
    for kind, p in cases:
        x = values(kind, (2, 3) + geo[1], dtype, gen)
        # subnormal windows: dy/dp within the shared tolerance, not within 64 float32 ULP
        # (the recomputing backward's figures, to the bit: up to 10% relative)
        _power_check(op, x, p, geo, strict_p=kind != "tiny")
    assert len(count_saved) >= len(cases) * 3 // 4, (len(count_saved), len(cases))


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


def test_power_overlapping_windows_skip_the_disjoint_state(count_saved, count_power_overlap):
    from ppverify.ops import gem_pool2d, lp_pool2d
    x = torch.rand(2, 3, 9, 9) + 0.1
    _grads(gem_pool2d, x, 3.0, 3, 2, 1)  # windows share a row and a column: the overlap state
    _grads(lp_pool2d, x, 3.0, 3, 2)
    _grads(lp_pool2d, x.half(), 3.0, 3, 2)  # the half types: no overlap state, recomputed
    _grads(gem_pool2d, x.double(), 3.0, 3, 2, 1)  # float64: its overlap state (float64 E / x)
    assert not count_saved and len(count_power_overlap) == 3
    _grads(gem_pool2d, x, 3.0, 2, 2)
    _grads(lp_pool2d, x.half(), 3.1, 3, 3)
    _grads(gem_pool2d, x.double(), 3.0, 2, 2)  # float64's disjoint state (a float64 dy/dx)
    assert len(count_saved) == 3 and len(count_power_overlap) == 3


def test_float32_power_overlap_recomputes_by_default(monkeypatch):
    """The dispatch's rule (``_dispatch.POWER_OVERLAP_STATE_DTYPES``): windows that share
    elements save the power overlap state in float64 alone; float32 recomputes (measured
    faster on most shapes, and no input-sized state)."""
    from ppverify.ops import gem_pool2d, lp_pool2d
    _dispatch._native_calls.clear()
    counted = _count_calls(monkeypatch, "backward_power_overlap_saved")
    recomputed = _count_calls(monkeypatch, "backward")
    x = torch.rand(2, 3, 9, 9) + 0.1
    _grads(gem_pool2d, x, 3.1, 3, 2, 1)
    _grads(lp_pool2d, x, 3.0, 3, 2)
    assert not counted and len(recomputed) == 2
    _grads(gem_pool2d, x.double(), 3.1, 3, 2, 1)
    assert len(counted) == 1 and len(recomputed) == 2


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


def _check_used_once_and_written_over(kept, counted, y, x, p, rtol):
    """Backward twice through a retained graph: the first from the saved state (the input
    gradient written over the state's buffer, ``kept[0]``), the second recomputing (the state
    was spent), the two within ``rtol`` (input) and 1e-12 (parameter); the retained graph
    holds the buffer among its saved tensors until its last backward frees them."""
    g = torch.rand_like(y)
    y.backward(g, retain_graph=True)
    first, first_p = x.grad, p.grad.clone()
    assert first.data_ptr() == kept[0][1]  # written over the state, no copy
    assert any(t.data_ptr() == kept[0][1] for t in y.grad_fn.saved_tensors)  # held, retained
    x.grad, p.grad = None, None
    y.backward(g)  # the state was used: this backward recomputes
    assert len(counted) == 1
    torch.testing.assert_close(x.grad, first, rtol=rtol, atol=0.0)
    torch.testing.assert_close(p.grad, first_p, rtol=1e-12, atol=0.0)
    with pytest.raises(RuntimeError, match="freed"):  # freed with the graph's saved tensors
        _ = y.grad_fn.saved_tensors


def test_power_saved_state_is_used_once_and_freed_with_the_graph(kept_states, count_saved):
    from ppverify.ops import gem_pool2d
    kept = kept_states
    x = (torch.rand(2, 3, 8, 8) + 0.1).requires_grad_(True)
    p = torch.tensor(3.1, dtype=torch.float64, requires_grad=True)
    y = gem_pool2d(x, p, 2)
    assert len(kept) == 1
    _check_used_once_and_written_over(kept, count_saved, y, x, p, 2.0 ** -22)
    # create_graph: the differentiable pure-torch formula, no state used
    y = gem_pool2d(x, p, 2)
    (gx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    assert gx.requires_grad and len(count_saved) == 1


# The power engine's dy/dx stored in one pass (pow_jac_store_row: contiguous groups of 8
# planes, AVX-512 or its AVX2 emulation) rather than through a lane-interleaved row
# (pow_jac_row, then store_row): the same double product r * c_w, the same float rounding.
# Global windows take one coefficient per lane for the whole row (no coefficient row).
# (layout, spatial): 16 planes of each, two contiguous groups of 8
POWER_DIRECT = [
    ("global 7x7", lambda: _layout.adaptive(2, 1), (7, 7)),  # folded into one row of 49
    ("global 9x11", lambda: _layout.adaptive(2, 1), (9, 11)),  # one row of 99: a 3-column tail
    ("adaptive (3, 2)", lambda: _layout.adaptive(2, (3, 2)), (9, 8)),
    ("k2 s2", lambda: _layout.windowed(2, 2), (6, 9)),  # a column no window holds
    ("k8", lambda: _layout.windowed(2, 8), (16, 17)),
]


def _power_state(op, x, p, layout):
    """``(y, jac, dw)``: the saving forward's output and disjoint state through the dispatcher's
    plan (a global window's rows folded as in a call), for ``x`` in its memory format."""
    call = _dispatch._native_call(op, layout, x, p)
    assert call.saves(True) and not call.overlap_state(True)
    y = call.new_output()
    jac, dw = call.new_saved(True)
    bad, usable = _native.forward_saved(call.ptr, x, p, y, jac, dw)
    assert not bad and usable
    return y, jac, dw


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("op, p", [("powermean", 3.0), ("powermean", 2.5),
                                   ("powermean", -1.5), ("lp", 2.0), ("lp", 7.5)])
def test_power_direct_dy_dx_is_pow_jac_rows_bit_for_bit(op, p, dtype, jac_paths):
    """The same state from both paths (and by streaming stores): contiguous groups of 8 planes
    (pow_jac_store_row) and the same values in channels-last memory (pow_jac_row), for global,
    adaptive and windowed pooling; y, every dy/dx and every dy/dp equal to the bit. A one-ulp
    skew of one dy/dx fails the comparison."""
    if not _runs_vector_code():
        pytest.skip("the direct path needs the 8-lane vector code (AVX-512 or AVX2)")
    gen = torch.Generator().manual_seed(43)
    pt = torch.tensor(p, dtype=torch.float64)
    for name, layout, spatial in POWER_DIRECT:
        if op == "lp" and name == "k2 s2":
            spatial = (6, 8)
        x = values("range30" if p > 0 else "uniform", (2, 8) + spatial, dtype, gen) + 0.01
        direct = _power_state(op, x, pt, layout())
        paths = jac_paths()
        assert paths["power_direct"] > 0 and paths["power_lanes"] == 0, (name, paths)
        old = _native.jac_stream_bytes(1)
        try:
            streamed = _power_state(op, x, pt, layout())
        finally:
            _native.jac_stream_bytes(old)
        assert jac_paths()["power_direct"] > 0, name
        lanes = _power_state(op, x.contiguous(memory_format=torch.channels_last), pt, layout())
        paths = jac_paths()
        assert paths["power_direct"] == 0 and paths["power_lanes"] > 0, (name, paths)
        for a, b, c in zip(direct, streamed, lanes):
            assert torch.equal(a, b), name
            assert torch.equal(a.contiguous(), c.contiguous()), name
        skewed = lanes[1].contiguous().clone()
        skewed.view(-1)[5] = torch.nextafter(skewed.view(-1)[5], torch.tensor(math.inf))
        assert not torch.equal(direct[1].contiguous(), skewed)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("op", ["powermean", "lp"])
def test_power_direct_saved_gradients_match_oracle(op, dtype, count_saved, jac_paths):
    """16 planes of every adversarial kind (zeros with p > 0 alone), a scalar p and one per
    channel: the gradients from states pow_jac_store_row wrote, held to the oracle (windows of
    the exact engine send their output row through pow_jac_row instead, so the direct path's
    rows are counted over the whole set)."""
    gen = torch.Generator().manual_seed(47)
    per_channel = [3.0, 2.5, 0.5, 20.0, 1.0, 2.0, 4.0, 7.5]
    for kind in POWER_KINDS:
        for p in ([3.0, 2.5, -1.5, 20.0] if op == "powermean" else [2.0, 3.0, 7.5]) + \
                [per_channel]:
            if kind == "zeros" and np.ndim(p) == 0 and p < 0:
                continue
            x = values(kind, (2, 8, 7, 7), dtype, gen)
            check_adaptive_case(op, x, p, 1, dims=2)
            x = values(kind, (2, 8, 6, 8), dtype, gen)
            _check_windowed(op, x, p, 2, 2, dims=2, strict_p=kind != "tiny")
    assert len(count_saved) > len(POWER_KINDS) * 4, len(count_saved)
    paths = jac_paths()
    if _runs_vector_code():
        assert paths["power_direct"] >= len(POWER_KINDS) * 4, paths


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("op, param", [("ppool", 2.0), ("ppool", "per-channel"),
                                       ("powermean", 3.1), ("powermean", "per-channel")])
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_global_parameter_gradient_is_the_planes_terms_summed_in_order(op, param, dtype,
                                                                        channels_last):
    """Global pooling, one output per plane (96 planes): the backward from the saved state
    gives dy/dparam as the plain double sum, plane by plane in order (n, c), of each plane's
    term gy * dw, each rounded (no fused multiply-add); with one parameter per channel, each
    channel's planes in order. Equal to the bit to Python's float arithmetic; the same terms
    summed in other orders differ (so the comparison can fail)."""
    gen = torch.Generator().manual_seed(59)
    N, C = 4, 24
    x = values("uniform", (N, C, 5, 3), dtype, gen) + 0.01
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    if param == "per-channel":
        p = torch.linspace(0.5, 6.0, C, dtype=torch.float64)
    else:
        p = torch.tensor(param, dtype=torch.float64)
    call = _dispatch._native_call(op, _layout.adaptive(2, 1), x, p)
    assert call.saves(True) and not call.overlap_state(True)
    y = call.new_output()
    jac, dw = call.new_saved(True)
    bad, usable = _native.forward_saved(call.ptr, x, p, y, jac, dw)
    assert not bad and usable
    gy = (torch.randn(y.shape, generator=gen, dtype=torch.float64) * 1e3).to(dtype)
    gy = gy.contiguous(memory_format=torch.channels_last) if channels_last else gy
    dparam = _native.backward_saved(call.ptr, jac, dw, gy, call.new_grad_input(), p.shape)
    terms = [float(g) * float(d) for g, d in
             zip(gy.double().reshape(-1).tolist(), dw.reshape(-1).tolist())]  # plane order
    groups = 1 if p.dim() == 0 else C
    expected = [0.0] * groups
    for k, t in enumerate(terms):
        expected[k % groups] += t
    assert dparam.reshape(-1).tolist() == expected
    orders = []  # the same terms in other orders: some sum differs
    for seed in range(8):
        order = torch.randperm(len(terms), generator=torch.Generator().manual_seed(seed))
        other = [0.0] * groups
        for k in sorted(range(len(terms)), key=lambda k: (k % groups, int(order[k]))):
            other[k % groups] += terms[k]
        orders.append(other)
    assert any(other != expected for other in orders)


def test_plain_double_sums_are_the_scaled_sums_bits():
    """reduce_param's claim (ppool_kernel.cpp): for finite doubles, a plain double sum in order
    has the same bits as the exponent-carrying ScaledSum (mantissa in [1/2, 1), exponent aside)
    whenever the plain sum stays finite: roundings relative to magnitude alike, sums among the
    subnormals exact, terms far below the sum rounded away in both. ScaledSum transcribed in
    Python (math.frexp / ldexp are exact) over adversarial sequences: cancellations into the
    subnormal range, huge and tiny terms mixed, subnormal terms."""
    import random

    def scaled_sum(values):
        m, e = 0.0, 0
        for v in values:
            if v == 0.0:
                continue
            fv, ev = math.frexp(v)
            if m == 0.0:
                m, e = fv, ev
                continue
            if ev > e:
                m, e = math.ldexp(m, e - ev) + fv, ev
            else:
                m += math.ldexp(fv, ev - e)
            m, em = math.frexp(m)
            e += em
        return math.ldexp(m, e)

    rng = random.Random(61)
    pools = [
        lambda: rng.uniform(-1, 1) * 2.0 ** rng.randint(-1074, 1000),
        lambda: rng.choice([1.0, -1.0]) * 2.0 ** -1022 * rng.randint(1, 1 << 20),
        lambda: rng.choice([5e-324, -5e-324, 2.2250738585072014e-308, 1e300, -1e300]),
        lambda: rng.uniform(-1, 1),
    ]
    compared = 0
    for trial in range(4000):
        pick = pools[trial % len(pools)]
        values = [pick() for _ in range(rng.randint(1, 40))]
        if trial % 3 == 0:  # exact cancellation pairs, leaving small remainders
            values += [-v for v in values[: len(values) // 2]] + [rng.uniform(-1, 1) * 1e-310]
        rng.shuffle(values)
        plain = 0.0
        for v in values:
            plain += v
        if math.isfinite(plain):
            assert plain == scaled_sum(values) or (plain == 0.0 and scaled_sum(values) == 0.0), \
                values
            compared += 1
    assert compared > 3500


# ------------------------------------- the power mean and Lp: windows that share elements
# The power overlap state (power_kernel.inc, "the overlap state"; float32 inputs): each
# element's E / x as a float32 (x's layout), each window's y / S and, with a learnable p,
# dy/dp as float64; the backward is one coefficient per window and one pass per input row (no
# log, exp or window sum), writing the input gradient over E / x. Windows of zeros alone keep
# it (dy/dx = D^(-1/p) at their elements, held as a negative y / S). Refused (the backward
# recomputes) where a window goes to the exact engine (weights that underflow, |p| < 1/16) or
# an E / x is not a normal float32.

POWER_OVERLAP = {
    "powermean": [(1, (12,), 5, 2, 2, False),     # 1-D k5 s2 p2
                  (2, (9, 8), 3, 2, 1, False),     # the headline's geometry
                  (2, (7, 7), 3, 1, 1, False),     # k3 s1
                  (3, (5, 6, 5), 3, 2, 1, True)],  # ceil_mode: partial last windows
    "lp": [(1, (12,), 5, 2, 0, False),
           (2, (9, 8), 3, 2, 0, False),
           (2, (9, 9), 3, 2, 0, True),
           (3, (5, 6, 5), 3, 2, 0, False)],
}


@pytest.fixture
def count_power_overlap(monkeypatch, float32_power_state):
    """Count the backwards served from the power overlap state (float32's included)."""
    return _count_calls(monkeypatch, "backward_power_overlap_saved")


@pytest.mark.parametrize("op, geometry", [(op, g) for op in POWER_OVERLAP for g in range(4)])
def test_power_overlap_state_gradients_match_oracle(op, geometry, count_power_overlap):
    # every adversarial kind meets every p; the windows of the exact engine ("tiny" and
    # "huge" scales and 30 decades at large |p|, p < 1/16) and E / x below float32's normal
    # range refuse the state, so the count is held over the whole set (29-31 of 52 serve)
    geo = POWER_OVERLAP[op][geometry]
    gen = torch.Generator().manual_seed(700 + geometry)
    cases = _power_cases()
    for kind, p in cases:
        x = values(kind, (2, 3) + geo[1], torch.float32, gen)
        # (Lp at p = 1e3 over 30 decades, 2-D k3 s2: dy/dp 1.7% from the oracle's, inside
        # the shared tolerance but not float32's 64 ULP; the recomputing backward's figure,
        # the same before this state, whose windows there go to the exact engine)
        strict = kind != "tiny" and not (kind == "range30" and p >= 1e3)
        _power_check(op, x, p, geo, strict_p=strict)
    assert len(count_power_overlap) >= len(cases) // 2, (len(count_power_overlap), len(cases))


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_power_overlap_per_channel_p_without_recomputation(op, channels_last,
                                                          recompute_forbidden,
                                                          count_power_overlap):
    # per-channel p mixing the fast engine's lanes, its integer-power rows (p = 1, 2, 3),
    # p < 0 (weights relative to the smallest element) and ties
    gen = torch.Generator().manual_seed(8)
    x = values("uniform", (2, 9, 9, 8), torch.float32, gen) + 0.01
    x[1, 5, 2:5, 2:5] = 1.5  # a window of ties
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    p = [-3.0, 0.5, 1.0, 2.0, 3.0, 3.1, 20.0, 8.0, -0.5]
    _power_check(op, x, p, (2, None, 3, 2, 1, False))
    assert len(count_power_overlap) == 1


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("what, factor, message", [("jac", 1.001, "grad_input at"),
                                                   ("cw", 1.001, "grad_input at"),
                                                   ("dw", 1 + 1e-5, "grad_p")])
def test_a_wrong_power_overlap_state_is_caught(op, what, factor, message, monkeypatch,
                                               count_power_overlap):
    """The oracle comparison goes through the state: a skew of 0.1% in E / x or in y / S, or
    of 1e-5 in dy/dp, fails it."""
    real = _native.forward_power_overlap_saved
    x = values("uniform", (1, 2, 7, 7), torch.float32, torch.Generator().manual_seed(2)) + 0.05
    geo = (2, None, 3, 2, 1, False)
    _power_check(op, x, 3.1, geo)  # the honest state passes

    def skewed(plan, x, param, out, jac, dw, cw):
        result = real(plan, x, param, out, jac, dw, cw)
        {"jac": jac, "cw": cw, "dw": dw}[what].mul_(factor)
        return result

    monkeypatch.setattr(_native, "forward_power_overlap_saved", skewed)
    with pytest.raises(AssertionError, match=message):
        _power_check(op, x, 3.1, geo)
    assert len(count_power_overlap) == 2


@pytest.mark.parametrize("case", ["p_near_0", "unrepresentable", "underflow"])
def test_power_overlap_state_refused_where_the_exact_engine_serves(case, count_power_overlap):
    """|p| < 1/16 (the exact engine's lanes), an E / x beyond float32 (p = 0.1 at a
    subnormal: x^-0.9 ~ 1e40) and weights that underflow relative to the plane refuse the
    state: the backward recomputes, and its gradients meet the oracle."""
    gen = torch.Generator().manual_seed(23)
    x = values("uniform", (2, 3, 9, 8), torch.float32, gen) + 0.05
    p = {"p_near_0": 0.03, "unrepresentable": 0.1, "underflow": 1e3}[case]
    if case == "unrepresentable":
        x[0, 1, 4, 4] = 1.4e-45
    if case == "underflow":
        x[1, 0, :4, :4] = 1e-3  # (1e-3 / 1.05)^1000: below 1e-200 of the plane's reference
    _power_check("powermean", x, p, (2, None, 3, 2, 1, False))
    assert not count_power_overlap
    _power_check("powermean", x.clamp(min=0.05), 2.5, (2, None, 3, 2, 1, False))
    assert len(count_power_overlap) == 1


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("geometry", [(2, None, 3, 2, 1, False), (3, None, 3, 2, 1, True),
                                      (1, None, 5, 2, 2, False)], ids=["2-D", "3-D", "1-D"])
def test_power_overlap_state_serves_windows_of_zeros(op, geometry, recompute_forbidden,
                                                     count_power_overlap):
    """Inputs after a ReLU, many windows of zeros alone (dy/dx = D^(-1/p) at each element:
    1 for the Lp norm, n^(-1/p) for the power mean) beside windows mixing zeros and positive
    elements (a zero's dy/dx 0 there, 1/D at p = 1), per-channel p of both sides of 1, with
    the recomputing backward forbidden: the oracle's gradients. Planes whose windows all hold
    zeros alone, and none, too."""
    dims = geometry[0]
    shape = {1: (2, 4, 24), 2: (2, 4, 9, 8), 3: (2, 4, 5, 6, 5)}[dims]
    gen = torch.Generator().manual_seed(30 + dims)
    x = torch.relu(torch.randn(shape, generator=gen) - 0.7)
    x[0, 1] = 0.0  # a plane of zeros
    x[1, 2] = x[1, 2].abs() + 0.1  # a plane without a zero
    # (p up to 4: at p = 8 an element 1e-5 of its plane's largest has E / x below float32's
    # normal range, and the state is refused)
    for p in ([0.5, 1.0, 3.0, 3.1], [2.0, 1.0, 4.0, 1.5]):
        _power_check(op, x, p, geometry)
    assert len(count_power_overlap) == 2


def test_a_dropped_window_of_zeros_is_caught(monkeypatch, count_power_overlap):
    """The oracle comparison sees a window of zeros' gradient: its coefficient halved in the
    state (y / S = -D^(-1/p) / 2) fails it."""
    real = _native.forward_power_overlap_saved
    x = torch.relu(torch.randn(1, 2, 7, 7, generator=torch.Generator().manual_seed(5)) - 0.7)
    geo = (2, None, 3, 2, 1, False)

    def halved(plan, x, param, out, jac, dw, cw):
        result = real(plan, x, param, out, jac, dw, cw)
        cw[cw < 0] *= 0.5
        return result

    monkeypatch.setattr(_native, "forward_power_overlap_saved", halved)
    with pytest.raises(AssertionError, match="grad_input at"):
        _power_check("powermean", x, 3.0, geo)
    assert len(count_power_overlap) == 1


def test_power_overlap_state_is_used_once_and_written_over(kept_states, monkeypatch,
                                                          count_power_overlap):
    from ppverify.ops import gem_pool2d
    x = (torch.rand(2, 3, 9, 9) + 0.1).requires_grad_(True)
    p = torch.tensor(3.1, dtype=torch.float64, requires_grad=True)
    y = gem_pool2d(x, p, 3, 2, 1)
    assert len(kept_states) == 1
    # E / x rounded to float32 once: the recomputing backward's product within 2^-24 relative
    _check_used_once_and_written_over(kept_states, count_power_overlap, y, x, p, 2.0 ** -21)


def test_power_overlap_state_memory_model():
    """The state is kept where ``_power_overlap_state_fits`` says the peak stays within 1.45x
    max pooling's: k3 s2 p1 and k3 s1 with dy/dp fit; with dy/dp the ratio tends to 1.5 as
    the outputs outnumber the inputs (ceil_mode and padding on tiny planes), and 10 outputs per
    input do not fit; without dy/dp it is at most 1.0."""
    fits = _dispatch._power_overlap_state_fits
    n = 8 * 64 * 112 * 112
    assert fits(n, n // 4, True) and fits(n, n // 4, False)
    assert fits(n, n, True)  # k3 s1: 28 against 1.45 x 20 bytes per element
    assert not fits(n, 10 * n, True) and fits(n, 10 * n, False)
    assert fits(1000, 10_000, True)  # a state of at most 1 MiB is always kept


# ------------------------------------------------------------ windows that share elements
# The overlap state (ppool_kernel.cpp, "backward from the overlap state"): each element's weight
# E as a float32 (a bfloat16 for bfloat16 and float16 inputs; -1 where the format holds no
# normal E: that element is weighed again), each window's
# dy/dalpha as a float32 (only with a learnable alpha), each plane's reference Lc; the backward
# sums S and T again from the stored weights and scatters g / S and g y / S over each element's
# windows, with no logarithm or exponential. Its gradients are held to the oracle's bounds.
# Refused (the backward recomputes) where a window goes to the exact engine, where a dy/dalpha
# is not a normal float32 in a window of tiny y, where the forward is segmented, where the
# outputs exceed 5/8 of the inputs (the state 6.5 bytes per input element; k3 s1 in 2-D) and
# where windows hold fewer than 4 elements on average (1-D k3).

from ppverify.ops import adaptive_p_pool  # noqa: E402

OVERLAP_ALPHAS = [-3.0, -1.0, 0.5, 2.0, 7.5, 1e3]
# (dims, spatial, kernel, stride, padding, dilation, ceil_mode): windows share elements
OVERLAP = [
    (1, (12,), 5, 2, 2, 1, False),                      # (1-D k3's 3 elements: not saved)
    (2, (9, 8), 3, 2, 1, 1, False),                     # the headline's geometry
    (2, (9, 9), 3, 2, 0, 1, True),                      # ceil_mode: a partial last window
    (2, (10, 9), (3, 2), (2, 1), (1, 0), (2, 1), False),  # dilation; k2 s1 along W
    (3, (5, 6, 5), 3, 2, 1, 1, False),
]


def _overlap_args(geometry):
    dims, spatial, k, s, p, d, cm = geometry
    return {1: p_pool1d, 2: p_pool2d, 3: p_pool3d}[dims], spatial, (k, s, p, d, cm)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("geometry", range(len(OVERLAP)))
def test_overlap_state_gradients_match_oracle(dtype, geometry, count_overlap):
    # every adversarial kind meets every alpha; windows of the exact engine (zeros at
    # alpha <= 0, weights that underflow: "tiny", "range30" and alpha = 1e3) refuse the state,
    # so the count is held over the whole set
    dims, spatial, k, s, p, d, cm = OVERLAP[geometry]
    gen = torch.Generator().manual_seed(500 + geometry)
    for kind in KINDS:
        for alpha in OVERLAP_ALPHAS:
            x = values(kind, (2, 3) + spatial, dtype, gen)
            check_case(x, alpha, k, s, p, d, cm, dims=dims)
    assert len(count_overlap) >= len(KINDS) * len(OVERLAP_ALPHAS) // 3, len(count_overlap)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_overlap_state_per_channel_alpha_without_recomputation(dtype, channels_last,
                                                               recompute_forbidden,
                                                               count_overlap):
    gen = torch.Generator().manual_seed(8)
    x = values("uniform", (2, 9, 9, 8), dtype, gen) + 0.05
    x[1, 3, 4, 4] = 0.0  # a zero at alpha = 2: E = 0, the fast engine's (not special)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    alpha = torch.tensor([-3.0, -1.0, 0.5, 2.0, 7.5, 0.25, 3.0, -0.5, 1.5], dtype=torch.float64)
    gout = torch.randn((2, 9, 5, 4), generator=gen, dtype=torch.float64).to(dtype).double()
    check_case(x, alpha, 3, 2, 1, dims=2, grad_output=gout)
    assert len(count_overlap) == 1


@pytest.mark.parametrize("dims, spatial, size", [(1, (13,), 3), (2, (7, 5), (3, 2)),
                                                 (3, (5, 4, 6), (2, 2, 3))])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=dtype_name)
def test_overlap_state_adaptive_windows(dims, spatial, size, dtype, recompute_forbidden,
                                        count_overlap):
    gen = torch.Generator().manual_seed(12)
    for alpha in (-3.0, 0.5, 7.5):
        x = values("uniform", (2, 3) + spatial, dtype, gen) + 0.05
        check_adaptive_case("ppool", x, alpha, size, dims=dims)
    assert len(count_overlap) == 3


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("geometry", range(len(OVERLAP)))
def test_overlap_state_with_random_grad_output_and_per_channel_alpha(dtype, geometry,
                                                                    count_overlap):
    """30 decades in every window, one alpha per channel (weights stored as float32 and, where
    float32 holds no normal weight, weighed again) and a random output gradient: the input
    and alpha gradients from the state meet the oracle."""
    fn, spatial, args = _overlap_args(OVERLAP[geometry])
    dims = OVERLAP[geometry][0]
    gen = torch.Generator().manual_seed(70 + geometry)
    x = values("range30", (2, 5) + spatial, dtype, gen)
    alpha = torch.tensor([2.0, -1.5, 0.5, 7.5, -3.0], dtype=torch.float64)
    y = fn(x, 2.0, *args)
    g = torch.randn(y.shape, generator=gen, dtype=torch.float64).to(dtype).double()
    check_case(x, alpha, *args, dims=dims, grad_output=g)
    assert len(count_overlap) == 1


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
def test_overlap_state_at_large_alpha(dtype, count_overlap):
    """Large |alpha| is where a stored weight's rounding could be amplified (the input
    gradient's bracket 1 + a (1 - y / x) multiplies y's error by a): y's error is
    2u sum w |x - y|, which shrinks like 1 / a as the weights concentrate, so a (its error)
    stays O(u x). Held against the oracle with random output gradients at |alpha| up to 300
    on four kinds of input (the state serves most: the count)."""
    gen = torch.Generator().manual_seed(5)
    for kind in ("uniform", "ties", "near40", "range30"):
        for alpha in (30.0, 100.0, 300.0, -30.0, -100.0):
            x = values(kind, (2, 3, 9, 8), dtype, gen) + (0.05 if kind == "uniform" else 0)
            g = torch.randn((2, 3, 5, 4), generator=gen, dtype=torch.float64)
            check_case(x, alpha, 3, 2, 1, dims=2, grad_output=g)
    assert len(count_overlap) >= 12, len(count_overlap)


@pytest.mark.parametrize("alpha", [3.0, 7.5, -2.0])
def test_weights_float_cannot_hold_are_weighed_again(alpha, recompute_forbidden,
                                                     count_overlap):
    """Weights below float32's normal range in windows the fast engine serves (1e-14 ** 3 =
    1e-42 beside 1 at alpha = 3; (1e-6)^7.5 relative to the plane's largest at 7.5; at -2
    the large elements' (1e20)^-2 relative to the smallest): stored as the mark, their rows
    weighed again in the backward (overlap_redone), the gradients as the oracle's."""
    gen = torch.Generator().manual_seed(31)
    x = values("uniform", (1, 3, 9, 8), torch.float32, gen) + 0.5
    small = {3.0: 1e-14, 7.5: 1e-6, -2.0: 1e20}[alpha]
    x[0, :, 2, 3] = small
    x[0, 1, 5, 6] = small
    _native.overlap_redone()
    check_case(x, alpha, 3, 2, 1, dims=2,
               grad_output=torch.randn((1, 3, 5, 4), generator=gen, dtype=torch.float64))
    assert len(count_overlap) == 1
    assert _native.overlap_redone() > 0


def test_overlap_state_in_long_rows_and_wide_windows(count_overlap):
    """Rows longer than the kernel's column tile (2048 columns): coefficients kept across
    tiles; windows wider than a tile (summed in chunks) are saved too. Both meet the
    oracle. (Planes of two rows: a 1-D signal this long is cut into segments of about
    SEG_COLS columns, which keep no state; planes cut along H are cut only where they leave
    lanes idle, and 18 planes fill them.)"""
    gen = torch.Generator().manual_seed(13)
    x = values("uniform", (2, 9, 2, 5001), torch.float32, gen) + 0.05
    alpha = torch.tensor([2.0, -1.5, 0.0, 30.0, 1.0, 0.5, -30.0, 3.0, 7.5],
                         dtype=torch.float64)
    check_case(x, alpha, (1, 5), (1, 2), (0, 2), dims=2)  # out: (2, 2501)
    check_adaptive_case("ppool", x, alpha, (1, 2), dims=2)  # two windows of 2 x 2501 sharing
    assert len(count_overlap) == 2                          # a column


_real_forward_overlap_saved = _native.forward_overlap_saved


def _skewed_overlap(monkeypatch, what, index, factor):
    real = _real_forward_overlap_saved

    def forward(plan, x, param, out, weights, dw, ref):
        result = real(plan, x, param, out, weights, dw, ref)
        t = {"weights": weights, "dw": dw, "ref": ref}[what]
        if factor is None:
            t[index] = 0.0
        else:
            t[index] = t[index] * factor if what != "ref" else t[index] + factor
        return result

    monkeypatch.setattr(_native, "forward_overlap_saved", forward)


# one element's weight: input (0, 0, 2, 3) of group 0, lane 0 (e_index: (2 * 7 + 3) * 8)
_WEIGHT = (2 * 7 + 3) * 8


@pytest.mark.parametrize("what, factor, message", [
    ("weights", 1 + 1e-4, "grad_input"),   # one element's weight off by 1e-4
    ("weights", None, "grad_input"),       # one element's weight zeroed
    ("dw", 2.0, "grad_alpha"),             # one window's dy/dalpha doubled
    ("dw", None, "grad_alpha"),            # one window's dy/dalpha dropped
])
def test_a_wrong_overlap_state_is_caught(what, factor, message, monkeypatch, count_overlap):
    """The oracle comparison goes through the overlap state: each planted defect fails it,
    and the same path with the honest state passes."""
    x = values("uniform", (1, 2, 7, 7), torch.float32, torch.Generator().manual_seed(2)) + 0.05
    index = _WEIGHT if what == "weights" else 8 * 5 + 0  # window (0, 0, 1, 1) of plane 0
    alpha = torch.tensor([2.0, 3.0], dtype=torch.float64)
    check_case(x, alpha, 3, 2, 1, dims=2)
    assert len(count_overlap) == 1
    _skewed_overlap(monkeypatch, what, index, factor)
    with pytest.raises(AssertionError, match=f"{message} outside tolerance"):
        check_case(x, alpha, 3, 2, 1, dims=2)
    _skewed_overlap(monkeypatch, what, index, 1.0)
    check_case(x, alpha, 3, 2, 1, dims=2)
    assert len(count_overlap) == 3


def test_a_wrong_reference_is_caught_in_rows_weighed_again(monkeypatch, count_overlap):
    """The reference Lc serves only the weights weighed again (E_REDO): a reference off by
    1e-4 moves them by exp(-alpha 1e-4) against the others of their windows and fails the
    oracle comparison; off in a plane with none, it changes nothing. (At alpha = 7.5 with a
    plane maximum of 1, 9.4e-6 ** 7.5 = 2e-38 is a normal float32, 7.8e-6 ** 7.5 = 5e-39 is
    not: windows of both kinds alone mix the two.)"""
    gen = torch.Generator().manual_seed(4)
    x = values("uniform", (1, 2, 7, 7), torch.float32, gen) + 0.5
    x[0, 0] = torch.where(torch.rand((7, 7), generator=gen) < 0.5, 9.4e-6, 7.8e-6)
    x[0, 0, 6, 6] = 1.0
    check_case(x, 7.5, 3, 2, 1, dims=2)
    _skewed_overlap(monkeypatch, "ref", 1, 1e-4)  # plane 1: no row weighed again
    check_case(x, 7.5, 3, 2, 1, dims=2)
    _skewed_overlap(monkeypatch, "ref", 0, 1e-4)
    with pytest.raises(AssertionError, match="outside tolerance"):
        check_case(x, 7.5, 3, 2, 1, dims=2)
    assert len(count_overlap) == 3


@pytest.mark.parametrize("case", ["huge_alpha", "underflow", "alpha_not_finite_free"])
def test_overlap_state_refused_where_the_exact_engine_serves(case, count_overlap):
    """Windows the exact engine evaluates (|alpha| > 2^20, weights that underflow) refuse the
    state: the backward recomputes, and its gradients meet the oracle. (Zeros at alpha <= 0
    no longer do: tests/ops/test_zero_windows.py.)"""
    gen = torch.Generator().manual_seed(21)
    x = values("uniform", (2, 3, 9, 8), torch.float32, gen) + 0.05
    alpha = {"huge_alpha": 3e6, "underflow": 1e3, "alpha_not_finite_free": 2.0}[case]
    if case == "underflow":
        x[1, 2, 0, 0] = 1e-3  # (1e-3 / 1.05)^1000 underflows: an exact-engine window
    check_case(x, alpha, 3, 2, 1, dims=2)
    assert len(count_overlap) == (1 if case == "alpha_not_finite_free" else 0)


def test_overlap_state_refused_for_segments_memory_and_small_windows(count_overlap):
    """Few planes (segments: they recompute shared windows), 1-D k3 (3 elements per window,
    below the limit of 4) and, beyond 1 MiB of state, 3-D k3 s2 p1
    in float32 on channels-last memory (its input gradient beside the state's 4 bytes per
    element: 1.50x max pooling's peak, above the limit of 1.45x) recompute, correctly; on
    contiguous memory (the input gradient written over the weights) 3-D float32 k3 s2 p1
    (0.83x), 2-D k3 s1, 2-D float32 k3 s2 p1 with a learnable alpha and the half types
    with their bfloat16 weights save; float64 saves its own state (tests/ops/test_overlap64.py)."""
    from ppverify.ops import _layout
    gen = torch.Generator().manual_seed(22)
    x = values("uniform", (1, 1, 64, 64), torch.float32, gen) + 0.05
    layout = _layout.windowed(2, 3, 2, 1, 1, False)
    plan = _native.make_plan("ppool", layout, tuple(x.shape), x.dtype, False, 0, (32, 32))
    assert _native.segments(plan, torch.get_num_threads())["axis"] >= 0
    _grads(p_pool2d, x, 2.0, 3, 2, 1)
    assert not count_overlap
    small = values("uniform", (2, 3, 7, 6), torch.float32, gen) + 0.05
    check_case(small[:, :, 0], 2.0, 3, 2, 1, dims=1)
    assert not count_overlap
    check_case(small, 2.0, 3, 1, 1, dims=2)
    check_case(small, 2.0, 3, 2, 1, dims=2)
    check_case(small.double(), 2.0, 3, 2, 1, dims=2)
    assert len(count_overlap) == 3

    def grads(x, alpha, fn, *args):
        x = x.detach().clone().requires_grad_(True)
        fn(x, alpha, *args).sum().backward()

    # (alpha 2.5: at an integer alpha these shapes take the integer-alpha window state,
    # tests/ops/test_integer_alpha_shared.py)
    big = torch.rand(8, 16, 64, 64) + 0.05  # 2 MiB of float32 weights
    learnable = torch.tensor(2.5, requires_grad=True)
    big3 = torch.rand(4, 16, 16, 32, 32) + 0.05  # 4 MiB of float32 weights
    grads(big3.contiguous(memory_format=torch.channels_last_3d), 2.5, p_pool3d, 3, 2, 1)
    assert len(count_overlap) == 3
    grads(big3, learnable, p_pool3d, 3, 2, 1)
    for dtype in (torch.bfloat16, torch.float16):
        grads(big3.to(dtype), learnable, p_pool3d, 3, 2, 1)
        grads(big.to(dtype), learnable, p_pool2d, 3, 2, 1)
    grads(big, learnable, p_pool2d, 3, 2, 1)
    grads(big, learnable, p_pool2d, 3, 1, 1)
    assert len(count_overlap) == 10


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_overlap_state_ignores_elements_no_window_reads(value, count_overlap):
    """k3 s2 dilation 2 reads only the even rows and columns: a NaN, inf or negative value at
    an odd position changes neither the output nor any gradient (the state's per-element
    dy/dalpha pass masks it rather than multiplying its NaN weight by 0)."""
    x = values("uniform", (1, 2, 9, 9), torch.float32, torch.Generator().manual_seed(3)) + 0.05
    clean = _grads(p_pool2d, x, 2.5, 3, 2, 0, 2)
    x[0, 1, 4, 5] = value  # a row that windows read, a column that none does
    dirty = _grads(p_pool2d, x, 2.5, 3, 2, 0, 2)
    assert len(count_overlap) == 2
    assert torch.equal(clean[0], dirty[0]) and torch.equal(clean[1], dirty[1])
    assert torch.equal(clean[2], dirty[2])


def test_overlap_state_is_used_once_and_freed_with_the_graph(monkeypatch, count_overlap):
    kept = []
    real = _dispatch._native_forward_saved

    def watching(*args):
        y, state = real(*args)
        kept.extend(weakref.ref(t) for t in state[2] if t is not None)
        return y, state

    monkeypatch.setattr(_dispatch, "_native_forward_saved", watching)
    x = (torch.rand(2, 3, 9, 9) + 0.1).requires_grad_(True)
    y = p_pool2d(x, 2.0, 3, 2, 1)  # a constant alpha: no dy/dalpha saved
    assert len(kept) == 2 and all(r() is not None for r in kept)
    g = torch.rand_like(y)
    y.backward(g, retain_graph=True)
    first = x.grad
    x.grad = None
    y.backward(g)  # the state was used: this backward recomputes (the oracle tests hold both)
    assert len(count_overlap) == 1
    torch.testing.assert_close(x.grad, first, rtol=2.0 ** -18, atol=2.0 ** -18)
    gc.collect()
    assert all(r() is None for r in kept) and y.grad_fn is not None


# ---- large disjoint windows: the saving forward's one-pass dy/dx (issue 12, "Fast everywhere")
# On AVX-512 builds, where a group is 8 contiguous planes and no window of an output row went
# to the exact engine, the saving forward writes each input row's dy/dx straight into the
# planes (jac_store_row in ppool_kernel.cpp); otherwise (channels-last memory, a group with
# fewer than 8 planes, exact-engine windows) through a lane-interleaved row (jac_row). Both do
# the same arithmetic in the same order, so their dy/dx agree to the bit; the tests below hold
# the direct path to the oracle over the adversarial inputs, show it is taken (and where it is
# not), compare it bit for bit with jac_row, and show that a skewed state fails the oracle.

LARGE_ALPHAS = [-3.0, -1.0, 0.5, 2.0, 7.5, 1e3]


def _runs_vector_code() -> bool:
    """Whether the kernel runs its 8-lane vector code (AVX-512, or emulated on AVX2: the same
    paths), not the scalar forms."""
    return _native.vector_isa() != "scalar"


@pytest.fixture
def jac_paths():
    """``saved_jac_paths``' counts over the test's own calls (a function: call it to read)."""
    _native.saved_jac_paths()  # reset
    return _native.saved_jac_paths


# (name, dims, spatial, call): 16 planes (two contiguous groups of 8) in each
LARGE = [
    ("global 2-D", 2, (9, 7), lambda x, a: adaptive_p_pool(x, a, 1, dims=2)),
    ("adaptive 2-D (3, 2)", 2, (9, 8), lambda x, a: adaptive_p_pool(x, a, (3, 2), dims=2)),
    ("k8 2-D", 2, (16, 17), lambda x, a: p_pool2d(x, a, 8)),  # a column no window holds
    ("global 3-D", 3, (3, 4, 5), lambda x, a: adaptive_p_pool(x, a, 1, dims=3)),
    ("global 1-D", 1, (40,), lambda x, a: adaptive_p_pool(x, a, 1, dims=1)),
]


def _large_check(name, dims, x, alpha, grad_output=None):
    if name.startswith(("global", "adaptive")):
        size = 1 if name.startswith("global") else (3, 2)
        check_adaptive_case("ppool", x, alpha, size, dims=dims, grad_output=grad_output)
    else:
        check_case(x, alpha, 8, 8, 0, dims=dims, grad_output=grad_output)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("case", range(len(LARGE)), ids=[c[0] for c in LARGE])
def test_large_disjoint_windows_saved_gradients_match_oracle(dtype, case, count_saved,
                                                             jac_paths):
    # every adversarial kind meets every alpha; windows of the exact engine (zeros at
    # alpha <= 0, weights that underflow) send their output row through jac_row, and states
    # with a dy/dx beyond float32's range are refused, so the counts are held over the set
    name, dims, spatial, _ = LARGE[case]
    gen = torch.Generator().manual_seed(900 + case)
    for kind in KINDS:
        for alpha in LARGE_ALPHAS:
            x = values(kind, (2, 8) + spatial, dtype, gen)
            _large_check(name, dims, x, alpha)
    assert len(count_saved) > len(KINDS) * len(LARGE_ALPHAS) // 2, len(count_saved)
    paths = jac_paths()
    if _runs_vector_code():
        assert paths["direct"] >= len(KINDS) * len(LARGE_ALPHAS) // 2, paths
    assert paths["lanes"] > 0, paths  # (the exact engine's windows)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_large_windows_per_channel_alpha_without_recomputation(dtype, channels_last,
                                                                recompute_forbidden,
                                                                count_saved, jac_paths):
    """Global and adaptive 2-D pooling, one alpha per channel and a random grad_output: the
    backward is served from the state (the recomputing entry point would fail), by the direct
    path for contiguous memory and by jac_row for channels-last memory."""
    gen = torch.Generator().manual_seed(31)
    alpha = torch.tensor([-3.0, -1.0, 0.5, 2.0, 7.5, 0.25, 3.0, 1e3], dtype=torch.float64)
    for size, spatial in ((1, (9, 7)), ((3, 2), (9, 8))):
        x = values("uniform", (2, 8) + spatial, dtype, gen) + 0.05
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = (1, 1) if size == 1 else size
        gout = torch.randn((2, 8) + out, generator=gen, dtype=torch.float64).to(dtype).double()
        check_adaptive_case("ppool", x, alpha, size, dims=2, grad_output=gout)
    assert len(count_saved) == 2
    paths = jac_paths()
    if channels_last:
        assert paths["direct"] == 0 and paths["lanes"] > 0, paths
    elif _runs_vector_code():
        assert paths["direct"] > 0 and paths["lanes"] == 0, paths


def _saved_state(x, alpha, layout):
    """``(y, jac, dw)`` of ``_native.forward_saved`` for ``x`` (its memory format) and a
    scalar ``alpha``."""
    from ppverify.ops import _layout
    cl = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous()
    out = _layout.out_spatial(layout, tuple(x.shape[2:]))
    plan = _native.make_plan("ppool", layout, tuple(x.shape), x.dtype, cl, 0, out)
    fmt = torch.channels_last if cl else torch.contiguous_format
    y = torch.empty((x.shape[0], x.shape[1], *out), dtype=x.dtype).contiguous(memory_format=fmt)
    jac = torch.zeros(x.shape, dtype=torch.float32).contiguous(memory_format=fmt)
    dw = torch.empty(y.shape, dtype=torch.float64).contiguous(memory_format=fmt)
    p = torch.tensor([alpha], dtype=torch.float64)
    bad, usable = _native.forward_saved(plan.ctypes.data, x, p, y, jac, dw)
    assert not bad and usable
    return y, jac, dw


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("alpha", LARGE_ALPHAS)
def test_direct_dy_dx_is_jac_rows_bit_for_bit(dtype, alpha, jac_paths):
    """The same state from both paths: contiguous groups of 8 planes (the direct path) and the
    same values in channels-last memory (jac_row), for global, adaptive and k8 windows: y, every
    dy/dx and every dy/dalpha equal to the bit. With a one-ulp skew of one dy/dx the
    comparison fails (it can)."""
    from ppverify.ops import _layout
    if not _runs_vector_code():
        pytest.skip("the direct path needs the 8-lane vector code (AVX-512 or AVX2)")
    gen = torch.Generator().manual_seed(41)
    for layout, spatial in ((_layout.adaptive(2, 1), (9, 7)), (_layout.adaptive(2, (3, 2)), (9, 8)),
                            (_layout.windowed(2, 8), (16, 17))):
        x = values("range30", (2, 8) + spatial, dtype, gen)
        direct = _saved_state(x, alpha, layout)
        # (an output row with a window in the exact engine goes through jac_row: at
        # alpha = 1e3 on 30 decades, every adaptive and k8 row has one that underflows)
        assert jac_paths()["direct"] > 0 or alpha == 1e3
        lanes = _saved_state(x.contiguous(memory_format=torch.channels_last), alpha, layout)
        assert jac_paths()["direct"] == 0
        for a, b in zip(direct, lanes):
            assert torch.equal(a.contiguous(), b.contiguous())
        skewed = lanes[1].contiguous().clone()
        skewed.view(-1)[5] = torch.nextafter(skewed.view(-1)[5], torch.tensor(math.inf))
        assert not torch.equal(direct[1].contiguous(), skewed)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("alpha", [0.5, 2.5, 7.5])
def test_direct_dy_dx_blocks_with_and_without_masks(dtype, alpha, count_saved, jac_paths):
    """jac_store_row's two branches per block of 8 columns: all x positive and finite (no
    masks) and a zero in the block (masked, per column), in the same rows. Zeros at alpha > 0,
    alpha != 1 leave the windows in the fast engine, so both branches write the direct state
    (alphas that are not integers: an integer alpha's windows of 16 elements or more keep the
    window state instead, test_integer_alpha.py):
    the oracle holds the gradients of k8 and global pooling, and the state equals jac_row's
    (channels-last memory) to the bit."""
    from ppverify.ops import _layout
    gen = torch.Generator().manual_seed(53)
    x = values("uniform", (2, 8, 16, 17), dtype, gen) + 0.05
    x[:, :, 3, 2] = 0.0  # a zero in block 0 of row 3 of every plane
    x[1, 5, 10, 12] = 0.0  # and in block 1 of row 10 of one plane
    check_case(x, alpha, 8, 8, 0, dims=2)
    check_adaptive_case("ppool", x, alpha, 1, dims=2)
    assert len(count_saved) == 2
    paths = jac_paths()
    if not _runs_vector_code():
        return
    assert paths["direct"] > 0 and paths["lanes"] == 0, paths
    assert paths["positive_blocks"] > 0 and paths["masked_blocks"] > 0, paths
    for layout in (_layout.windowed(2, 8), _layout.adaptive(2, 1)):
        direct = _saved_state(x, alpha, layout)
        lanes = _saved_state(x.contiguous(memory_format=torch.channels_last), alpha, layout)
        for a, b in zip(direct, lanes):
            assert torch.equal(a.contiguous(), b.contiguous())


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
def test_direct_dy_dx_of_dilated_disjoint_windows(dtype, count_saved, jac_paths):
    """k2 s5 dilation 2 along both axes: disjoint windows whose columns interleave with
    columns no window holds (jac_cols' general branch, every column cleared first, rather than
    the tiling's gaps zeroed as they are passed). The oracle holds the gradients, the direct
    state equals jac_row's (channels-last memory) to the bit, and the unheld columns' dy/dx
    is 0."""
    from ppverify.ops import _layout
    gen = torch.Generator().manual_seed(59)
    x = values("uniform", (2, 8, 16, 27), dtype, gen) + 0.05
    check_case(x, 2.5, 2, 5, 0, 2, dims=2)
    assert len(count_saved) == 1
    if not _runs_vector_code():
        return
    assert jac_paths()["direct"] > 0
    layout = _layout.windowed(2, 2, 5, 0, 2)
    direct = _saved_state(x, 2.5, layout)
    lanes = _saved_state(x.contiguous(memory_format=torch.channels_last), 2.5, layout)
    for a, b in zip(direct, lanes):
        assert torch.equal(a.contiguous(), b.contiguous())
    held = torch.zeros(16, 27, dtype=torch.bool)
    for r0 in range(0, 12, 5):  # outputs 0..2 along H (rows r0, r0 + 2), 0..4 along W
        for c0 in range(0, 23, 5):
            held[r0:r0 + 3:2, c0:c0 + 3:2] = True
    jac = direct[1]
    assert (jac[:, :, ~held] == 0).all() and (jac[:, :, held] != 0).all()


@pytest.mark.parametrize("masked", [False, True], ids=["positive_block", "masked_block"])
def test_direct_dy_dx_beyond_float_is_refused_in_either_branch(masked, count_saved, jac_paths):
    """A subnormal float32 element (1e-45) at alpha = 0.05 in a k8 window of elements near 1:
    its dy/dx, about 0.05 (1e-45)^0.05 y / (64 x), is beyond float32's range, so the direct
    path refuses the state (the backward recomputes; the oracle holds the gradients), whether
    its block of 8 columns takes the all-positive branch or, with a zero beside it, the masked
    one."""
    from ppverify.ops import _layout
    x = torch.rand((1, 8, 16, 17), generator=torch.Generator().manual_seed(3)) + 0.05
    x[0, 0, 0, 3] = 1e-45
    if masked:
        x[0, 1, 0, 5] = 0.0
    layout = _layout.windowed(2, 8)
    out = _layout.out_spatial(layout, (16, 17))
    plan = _native.make_plan("ppool", layout, tuple(x.shape), x.dtype, False, 0, out)
    y = torch.empty((1, 8, *out))
    jac = torch.zeros(x.shape)
    dw = torch.empty(y.shape, dtype=torch.float64)
    p = torch.tensor([0.05], dtype=torch.float64)
    bad, usable = _native.forward_saved(plan.ctypes.data, x, p, y, jac, dw)
    assert not bad and not usable
    paths = jac_paths()
    if _runs_vector_code():
        assert paths["direct"] > 0 and paths["lanes"] == 0, paths
        assert paths["masked_blocks" if masked else "positive_blocks"] > 0, paths
        assert masked or paths["masked_blocks"] == 0, paths
    check_case(x, 0.05, 8, 8, 0, dims=2)
    assert len(count_saved) == 0  # refused: recomputed


@pytest.mark.parametrize("what", ["jac", "dw"])
def test_a_wrong_large_window_state_is_caught(what, monkeypatch, count_saved, jac_paths):
    """The oracle comparison of global pooling goes through the direct path's state: dy/dx or
    dy/dalpha off by 0.1% fails it; the same path unskewed passes. (Alpha 2.5: at an integer
    alpha a global window keeps the window state instead, test_integer_alpha.py.)"""
    x = values("uniform", (1, 8, 9, 7), torch.float32, torch.Generator().manual_seed(6)) + 0.05
    real = _native.forward_saved

    def skewed(factor):
        def forward(plan, x, param, out, jac, dw):
            result = real(plan, x, param, out, jac, dw)
            (jac if what == "jac" else dw).mul_(factor)
            return result
        return forward

    monkeypatch.setattr(_native, "forward_saved", skewed(1.001))
    with pytest.raises(AssertionError, match="outside tolerance"):
        check_adaptive_case("ppool", x, 2.5, 1, dims=2)
    monkeypatch.setattr(_native, "forward_saved", skewed(1.0))
    check_adaptive_case("ppool", x, 2.5, 1, dims=2)
    assert len(count_saved) == 2
    if _runs_vector_code():
        assert jac_paths()["direct"] == 2


# ---- the backward from the state, run by run (run_saved_backward): each contiguous plane
# row's input gradient is formed per run of a window's consecutive columns, one gy per run

@pytest.fixture
def backward_paths():
    """``saved_backward_paths``' counts over the test's own calls (a function: call it)."""
    _native.saved_backward_paths()  # reset
    return _native.saved_backward_paths


# (name, dims, spatial, call, path): several windows per row where the layout has them,
# columns that no window holds (k14 on 30 columns, k56 on 113, k8 s9 on 35: runs of no
# output), 16 planes (two contiguous groups of 8); path: the kernel's ("planes" for global
# windows, one loop per plane; "spread" where a row's runs average fewer than 32 columns and
# an output row's windows read several input rows, else "runs": a 1-D signal's row is the
# only one its output row reads)
RUNS = [
    ("global 1-D", 1, (40,), lambda x, a: adaptive_p_pool(x, a, 1, dims=1), "planes"),
    ("global 2-D", 2, (9, 7), lambda x, a: adaptive_p_pool(x, a, 1, dims=2), "planes"),
    ("global 3-D", 3, (3, 4, 5), lambda x, a: adaptive_p_pool(x, a, 1, dims=3), "planes"),
    ("adaptive 2-D (3, 4)", 2, (9, 12), lambda x, a: adaptive_p_pool(x, a, (3, 4), dims=2),
     "spread"),
    ("k14 2-D", 2, (28, 30), lambda x, a: p_pool2d(x, a, 14), "spread"),
    ("k56 1-D", 1, (113,), lambda x, a: p_pool1d(x, a, 56), "runs"),
    ("k8 s9 1-D", 1, (35,), lambda x, a: p_pool1d(x, a, 8, 9), "runs"),  # gaps
    ("k8 s9 2-D", 2, (17, 35), lambda x, a: p_pool2d(x, a, 8, 9), "spread"),  # gaps, rows too
]
RUN_ALPHAS = [-3.0, 0.5, 2.0, 1e3]


def _runs_check(name, dims, x, alpha, gout):
    """The oracle comparison of one RUNS case with upstream gradient ``gout``."""
    if name.startswith(("global", "adaptive")):
        size = 1 if name.startswith("global") else (3, 4)
        check_adaptive_case("ppool", x, alpha, size, dims=dims, grad_output=gout)
    elif name.startswith("k8"):
        check_case(x, alpha, 8, 9, 0, dims=dims, grad_output=gout)
    else:
        k = int(name.split()[0][1:])
        check_case(x, alpha, k, k, 0, dims=dims, grad_output=gout)


def _runs_out_shape(name, x):
    call = next(c for c in RUNS if c[0] == name)[3]
    return call(x.double(), torch.tensor(1.0, dtype=torch.float64)).shape


@pytest.mark.parametrize("dtype", FAST_DTYPES + [torch.float64], ids=dtype_name)
@pytest.mark.parametrize("case", range(len(RUNS)), ids=[c[0] for c in RUNS])
def test_saved_backward_runs_match_oracle(dtype, case, count_saved, count_overlap,
                                         backward_paths):
    """Every kind of input with a scalar alpha from -3 to 1e3 and one alpha per channel, each
    with a random upstream gradient (so that a run given another window's gy fails), against
    the oracle; the backward from the state formed every contiguous row by the case's path
    (run by run, or from the runs' gy spread over the row)."""
    name, dims, spatial, _, path = RUNS[case]
    gen = torch.Generator().manual_seed(1200 + case)
    per_channel = torch.tensor([-3.0, -1.0, 0.5, 2.0, 7.5, 0.25, 3.0, 1e3] * 2,
                               dtype=torch.float64)
    cases = 0
    for kind in KINDS:
        for alpha in RUN_ALPHAS + [per_channel]:
            x = values(kind, (2, 16) + spatial, dtype, gen)
            shape = _runs_out_shape(name, x)
            gout = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype).double()
            _runs_check(name, dims, x, alpha, gout)
            cases += 1
    paths = backward_paths()
    if dtype == torch.float64:  # contiguous, 4 elements per window or more: the overlap state
        assert len(count_saved) == 0 and len(count_overlap) > cases // 2
        assert all(n == 0 for n in paths.values()), paths
        return
    assert len(count_saved) > cases // 2, (len(count_saved), cases)
    assert paths[path] > 0, paths
    assert all(n == 0 for p, n in paths.items() if p != path), paths


def test_saved_backward_rows_beyond_the_table_gather(count_saved, backward_paths,
                                                     monkeypatch):
    """A row longer than the W table allows (4 x 16384 columns) takes the gather of gy per
    element: the same gradients as the recomputing backward (one float32 rounding of dy/dx
    apart), and the runs path is not taken there."""
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(1, 8, 70001, generator=gen) + 0.05
    alpha = torch.tensor([2.0, -1.5, 0.0, 30.0, 1.0, 0.5, -3.0, 3.0], dtype=torch.float64)
    g = torch.randn(1, 8, 70001 // 3, generator=gen)
    _, gx1, ga1 = _grads(p_pool1d, x, alpha, 3, 3, g=g)
    assert len(count_saved) == 1
    paths = backward_paths()
    assert paths["gather"] > 0 and paths["runs"] == paths["spread"] == 0, paths
    monkeypatch.setattr(_dispatch, "_native_forward_saved",
                        lambda op, x, p, layout, v, n:
                        (_dispatch._native_forward(op, x, p, layout, v), None))
    _, gx2, ga2 = _grads(p_pool1d, x, alpha, 3, 3, g=g)
    torch.testing.assert_close(gx1, gx2, rtol=2.0 ** -22, atol=0.0)


@pytest.fixture
def streamed():
    """Every float32 dy/dx state stored by streaming stores (``jac_stream_bytes`` set to 1
    byte) for the test, then the kernel's own threshold again."""
    old = _native.jac_stream_bytes(1)
    try:
        yield
    finally:
        _native.jac_stream_bytes(old)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
def test_streamed_dy_dx_matches_the_oracle_and_the_plain_stores(dtype, streamed, count_saved,
                                                                 jac_paths):
    """The saving forward's streaming stores (a state above ``jac_stream_bytes``): global,
    adaptive and k8 windows (rows of 7, 8 and 17 floats: blocks of 8 on and off 64-byte lines,
    a pair of blocks streamed as one line and plain stores in one row) through autograd against
    the oracle, then the state itself equal to the bit to the one stored without streaming (a
    pair's second half stored over its first fails it)."""
    from ppverify.ops import _layout
    gen = torch.Generator().manual_seed(43)
    alpha = torch.tensor([-3.0, -1.0, 0.5, 2.0, 7.5, 0.25, 3.0, 40.0] * 2, dtype=torch.float64)
    for name, dims, spatial, _ in LARGE[:3]:
        x = values("uniform", (1, 16) + spatial, dtype, gen) + 0.05
        _large_check(name, dims, x, alpha)
    assert len(count_saved) == 3
    paths = jac_paths()
    if not _runs_vector_code():
        assert paths["streamed"] == 0, paths
        return
    assert paths["direct"] > 0 and paths["streamed"] == paths["direct"], paths
    for layout, spatial in ((_layout.adaptive(2, 1), (9, 7)), (_layout.windowed(2, 8), (16, 17))):
        x = values("range30", (2, 8) + spatial, dtype, gen)
        stream = _saved_state(x, 2.0, layout)
        assert jac_paths()["streamed"] > 0
        _native.jac_stream_bytes(1 << 40)
        plain = _saved_state(x, 2.0, layout)
        assert jac_paths()["streamed"] == 0
        _native.jac_stream_bytes(1)
        for a, b in zip(stream, plain):
            assert torch.equal(a, b)
