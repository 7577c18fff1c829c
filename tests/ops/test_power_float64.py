"""The compiled kernel's power mean (GeM) and Lp norm on float64 inputs (``power_kernel.inc``:
the weights, the window's ``y`` and dy/dp's logarithms in double-double, the window sums
compensated) against the oracle; the calls it hands back to the pure-torch path
(``_native.NotServed``: exponents below 1/16, planes whose weights would leave float64's
normal range, outputs below it in a backward) and that they are right too; the saved state of
windows that share no element (a float64 dy/dx); and that a handed-back call leaves nothing
behind for the next one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.conformance.driver import check
from ppverify.conformance.values import HARD_KINDS, ORDINARY_KINDS
from ppverify.ops import (
    _dispatch,
    _layout,
    _native,
    _torch_impl,
    adaptive_gem_pool2d,
    adaptive_lp_pool2d,
    gem_pool1d,
    gem_pool2d,
    gem_pool3d,
    lp_pool1d,
    lp_pool2d,
)
from ppverify.oracle import ulp_distance

from ._compare import FORWARD_ULP, alpha_scale, grad_input_scale, grads_of, within
from ._oracle_cache import reference

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")


@pytest.fixture
def torch_calls(monkeypatch):
    """Counts the pure-torch path's forwards and backwards (the kernel's hand-backs)."""
    calls = {"forward": 0, "backward": 0}
    forward, backward = _torch_impl.forward, _torch_impl.backward

    def counted_forward(*args, **kwargs):
        calls["forward"] += 1
        return forward(*args, **kwargs)

    def counted_backward(*args, **kwargs):
        calls["backward"] += 1
        return backward(*args, **kwargs)

    monkeypatch.setattr(_torch_impl, "forward", counted_forward)
    monkeypatch.setattr(_torch_impl, "backward", counted_backward)
    return calls


def _against_oracle(op, fn, x, p, kernel, stride=None, padding=0, ceil_mode=False, dims=2):
    """The op's output (within FORWARD_ULP), input gradient and p gradient (within the shared
    scales of tests/ops/_compare.py) against the oracle, float64."""
    args = (kernel, stride, padding, 1, ceil_mode) if op == "powermean" else \
        (kernel, stride, ceil_mode)
    y0 = fn(x, torch.as_tensor(p, dtype=torch.float64), *args)
    gout = torch.rand(y0.shape, generator=torch.Generator().manual_seed(3),
                      dtype=torch.float64) + 0.5
    if np.any(np.asarray(p) == 1.0):  # dy/dx = 1/n: ties the oracle cannot certify
        gout = torch.ones_like(gout)
    y, gx, gp = grads_of(fn, x, p, *args, grad_output=gout)
    ref = reference(op, x.numpy(), np.asarray(p, dtype=np.float64), kernel, stride, padding, 1,
                    ceil_mode, dims=dims, dtype="float64", grad_output=gout.numpy())
    where = f"{op} p={p} kernel={kernel} stride={stride} padding={padding}"
    fwd = ulp_distance(y.numpy(), ref.output, "float64")
    assert fwd.max() <= FORWARD_ULP, f"forward {fwd.max()} ULP; {where}"
    scale = grad_input_scale(ref.grad_input, dims, kernel, stride, padding, 1, ceil_mode)
    ok, _ = within(gx.numpy(), ref.grad_input, scale, "float64")
    assert ok.all(), f"grad_input {gx.numpy()[~ok][:3]} vs {ref.grad_input[~ok][:3]}; {where}"
    pscale = alpha_scale(x.numpy(), np.asarray(p, dtype=np.float64), dims, kernel, stride,
                         padding, 1, ceil_mode, gout.numpy())
    ok_p, _ = within(gp.numpy(), ref.grad_param, pscale, "float64")
    assert np.all(ok_p), f"grad_p {gp} vs {ref.grad_param}; {where}"
    return y, gx, gp


def _input(shape, *, zeros=False, seed=0, low=0.05, decades=0.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 4 + low
    if decades:  # magnitudes spread over this many decades
        x = x * 10.0 ** (torch.rand(shape, generator=g, dtype=torch.float64) * decades)
    if zeros:
        x.view(-1)[::5] = 0.0
        x[..., :3, :3] = 0.0  # an all-zero window in every plane
    return x


def test_the_kernel_serves_float64():
    x = torch.rand(1, 1, 4, 6, dtype=torch.float64)
    for layout in (_layout.windowed(2, 2), _layout.adaptive(2, 1), _layout.adaptive(2, (3, 4))):
        for op in ("powermean", "lp"):
            assert _dispatch._backend(op, layout, x) == "native"


@pytest.mark.parametrize("p", [3.0, 1.0, 0.5, 2.5, -2.0, 20.0, 0.07, -0.07])
def test_gem_pool2d_against_the_oracle_without_the_pure_torch_path(p, torch_calls):
    # 9 planes: two groups of lanes; magnitudes over 12 decades, 2 for p = 20 (a plane's
    # (|p| + 1) ln(max / min) within POW_F64_SPAN = 700)
    x = _input((2, 9, 7, 8), zeros=p > 0, decades=12.0 if abs(p) < 10 else 2.0)
    _against_oracle("powermean", gem_pool2d, x, p, 3, 2, 1)   # windows that share elements
    _against_oracle("powermean", gem_pool2d, x, p, 2, ceil_mode=True)  # disjoint: saved state
    assert torch_calls == {"forward": 0, "backward": 0}


@pytest.mark.parametrize("p", [3.0, 1.0, 2.0, 0.7, -1.5, 40.0])
def test_lp_pool2d_against_the_oracle_without_the_pure_torch_path(p, torch_calls):
    x = _input((2, 3, 7, 8), zeros=p > 0, seed=2, decades=30.0 if abs(p) < 10 else 3.0)
    _against_oracle("lp", lp_pool2d, x, p, 3, 2, ceil_mode=True)
    _against_oracle("lp", lp_pool2d, x, p, (2, 3), 1)
    assert torch_calls == {"forward": 0, "backward": 0}


def test_one_and_three_dimensions_and_per_channel_p(torch_calls):
    x1 = _input((2, 3, 50), seed=4)
    _against_oracle("powermean", gem_pool1d, x1, 3.0, 3, 1, 1, dims=1)
    _against_oracle("lp", lp_pool1d, x1, 2.5, 4, 3, dims=1)
    x3 = _input((1, 2, 5, 6, 7), seed=5)
    _against_oracle("powermean", gem_pool3d, x3, 1.7, 3, 2, 1, dims=3)
    per_channel = [3.0, -2.0, 0.5, 12.0, 1.0, 2.0, 4.0, -0.3, 7.5, 0.1]  # two groups of lanes
    x2 = _input((1, 10, 6, 6), seed=6, decades=5.0)
    _against_oracle("powermean", gem_pool2d, x2, per_channel, 3, 2, 1)
    assert torch_calls == {"forward": 0, "backward": 0}


def test_global_and_adaptive_against_the_oracle(torch_calls):
    x = _input((2, 3, 40, 41), seed=7, decades=3.0)
    for output_size, p in ((1, 3.0), ((3, 4), -1.5), (1, 0.25)):
        xin = x.clone().requires_grad_(True)
        pt = torch.tensor(p, dtype=torch.float64, requires_grad=True)
        y = adaptive_gem_pool2d(xin, pt, output_size)
        y.sum().backward()
        ref = reference("powermean", x.numpy(), p, output_size=output_size, dims=2,
                        dtype="float64")
        assert ulp_distance(y.detach().numpy(), ref.output, "float64").max() <= FORWARD_ULP
        rel = np.abs(xin.grad.numpy() - ref.grad_input) / np.abs(ref.grad_input).max()
        assert rel.max() <= 64 * 2.0 ** -52, (output_size, p, rel.max())
        assert abs(pt.grad.item() - ref.grad_param) <= 1e-13 * abs(ref.grad_param), (p,)
    assert torch_calls == {"forward": 0, "backward": 0}


def test_one_global_plane_in_lane_slices_keeps_float64s_bound(torch_calls):
    # a global window of one plane: 8 lane slices whose S are combined compensated
    _native.lane_slices()  # (reset)
    x = _input((1, 1, 512, 512), seed=8, decades=2.0)
    xin = x.clone().requires_grad_(True)
    pt = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    y = adaptive_gem_pool2d(xin, pt, 1)
    y.backward()
    assert _native.lane_slices()["sliced"] >= 1  # (the saving forward; its backward: a pass)
    ref = reference("powermean", x.numpy(), 3.0, output_size=1, dims=2, dtype="float64")
    assert ulp_distance(y.detach().numpy(), ref.output, "float64").max() <= 2
    rel = np.abs(xin.grad.numpy() - ref.grad_input) / np.abs(ref.grad_input)
    assert rel.max() <= 8 * 2.0 ** -52
    assert abs(pt.grad.item() - ref.grad_param) <= 1e-14 * abs(ref.grad_param)
    assert torch_calls == {"forward": 0, "backward": 0}


def _handed_back(op, x, p, kernel, stride):
    """Whether the kernel's plain forward hands this call back (``NotServed``)."""
    call = _dispatch._native_call(op, _layout.windowed(2, kernel, stride), x,
                                  torch.tensor(p, dtype=torch.float64))
    try:
        _native.forward(call.ptr, x, torch.tensor(p, dtype=torch.float64), call.new_output())
    except _native.NotServed:
        return True
    return False


@pytest.mark.parametrize("case", ["small p", "wide plane", "large p", "subnormal y"])
def test_calls_handed_back_to_the_pure_torch_path_are_right(case, torch_calls):
    x = _input((1, 2, 6, 6), seed=9)
    p = 3.0
    if case == "small p":  # the fast form's ln(S / D) / p cancels as p -> 0
        p = 0.03
    elif case == "wide plane":  # weights (x / max)^p below e^-700: not normal doubles
        x[0, 0, 0, 0] = 1e-290
    elif case == "large p":  # the same with elements within 1/81 of the max
        p = 300.0
    else:  # y below float64's normal range: its gradients need the digits it lost
        x[0, 1] = x[0, 1] * 1e-309
    forward_handed_back = case != "subnormal y"  # (a plain forward's subnormal y is fine)
    assert _handed_back("powermean", x, p, 2, 2) == forward_handed_back
    _against_oracle("powermean", gem_pool2d, x, p, 2, 2)
    assert torch_calls["backward"] >= 1 or torch_calls["forward"] >= 1


def test_a_handed_back_call_leaves_no_gradients_in_the_kept_scratch(monkeypatch):
    # a backward that hands back after the exact engine wrote a window of zeros' gradients
    # into the thread's kept scratch: the next call must not read them (it added them twice)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    x = torch.zeros(1, 1, 2, 4, dtype=torch.float64)
    x[0, 0, :, 2:] = 1e-310  # window 1: zeros alone; window 2: y subnormal, handed back
    grads_of(gem_pool2d, x, 3.0, 2, 2)
    x2 = torch.zeros(1, 1, 2, 4, dtype=torch.float64)
    x2[0, 0, :, 2:] = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    y, gx, _ = grads_of(gem_pool2d, x2, 3.0, 2, 2)
    ref = reference("powermean", x2.numpy(), 3.0, 2, 2, dims=2, dtype="float64")
    np.testing.assert_allclose(gx.numpy(), ref.grad_input, rtol=1e-15, atol=0)


def test_the_saved_state_of_disjoint_windows_serves_the_backward(monkeypatch):
    # k2 s2: the forward saves each element's float64 dy/dx (the recomputing backward's own
    # arithmetic) and each window's dy/dp; the backward is a pass over memory
    x = _input((2, 3, 8, 10), zeros=True, seed=10, decades=8.0)
    with monkeypatch.context() as m:  # every forward saves nothing: the backward recomputes
        m.setattr(_dispatch, "_native_forward_saved", lambda op, x, p, layout, v, n:
                  (_dispatch._native_forward(op, x, p, layout, v), None))
        recomputed = grads_of(gem_pool2d, x, 2.5, 2, 2)

    def fail(*args, **kwargs):
        raise AssertionError("the backward recomputed")

    saved_states = []
    real = _dispatch._native_forward_saved

    def watching(*args):
        y, state = real(*args)
        saved_states.append(state)
        return y, state

    monkeypatch.setattr(_dispatch, "_native_forward_saved", watching)
    monkeypatch.setattr(_native, "backward", fail)
    saved = grads_of(gem_pool2d, x, 2.5, 2, 2)
    assert saved_states and saved_states[0] is not None
    assert saved_states[0][0].dtype == torch.float64  # dy/dx kept as float64
    for a, b in zip(saved, recomputed):  # the recomputing backward's arithmetic: same bits
        assert torch.equal(a, b)
    _against_oracle("powermean", gem_pool2d, x, 2.5, 2, 2)  # (the saved state again)


@pytest.mark.parametrize("op, target", [("powermean", "gem_pool{d}d"), ("lp", "lp_pool{d}d")])
@pytest.mark.parametrize("kinds", ["ordinary", "hard"])
def test_the_checker_passes_float64(op, target, kinds, torch_calls):
    # the checker's ordinary value kinds with its ordinary and negative exponents stay in the
    # kernel; its hard kinds (600 decades, subnormals, values near 1e308, zeros) and
    # exponents (below 1/4, up to 1e3) go back to the pure-torch path where they must
    ordinary = kinds == "ordinary"
    report = check(f"ppverify.ops:{target}", op, (1, 2, 3), dtypes=("float64",), count=60,
                   seed=5, isolate=False,
                   kinds=ORDINARY_KINDS if ordinary else HARD_KINDS,
                   params=(3.0, 2.0, 1.0, 0.5, -1.5, 7.25) if ordinary else None)
    assert report.conforms, {c: report.categories[c].minimal_finding.message
                             for c in report.failed_categories}
    if ordinary:
        assert torch_calls == {"forward": 0, "backward": 0}


def test_the_overlap_state_serves_the_backward_of_windows_that_share_elements(monkeypatch):
    # k3 s2 p1: the forward saves each element's E / x (a float64, scaled by the reference's
    # exponent) and each window's y / S and dy/dp; the backward takes no log, exp or sum
    x = _input((2, 3, 9, 10), seed=11, decades=6.0)
    saved = []
    real = _native.forward_power_overlap_saved

    def watching(*args):
        result = real(*args)
        saved.append(result)
        return result

    def fail(*args, **kwargs):
        raise AssertionError("the backward recomputed")

    monkeypatch.setattr(_native, "forward_power_overlap_saved", watching)
    monkeypatch.setattr(_native, "backward", fail)
    zeros = x.clone()
    zeros.view(-1)[::5] = 0.0
    zeros[..., :3, :3] = 0.0  # windows of zeros alone: y = 0, dy/dx = D^(-1/p) in the state
    for op, fn, args in (("powermean", gem_pool2d, (3, 2, 1)), ("lp", lp_pool2d, (3, 2))):
        _against_oracle(op, fn, zeros, 2.5, *args)
        _against_oracle(op, fn, x, -1.5 if op == "powermean" else 7.0, *args)
    assert len(saved) == 4 and all(usable for _, usable in saved)


def test_a_skewed_overlap_state_is_caught(monkeypatch):
    # the oracle comparison sees a 1e-12 relative error in the saved E / x (float64's bounds
    # are about 1e-14): the state is what the backward reads
    x = _input((1, 2, 7, 7), seed=12)
    real = _native.forward_power_overlap_saved

    def skewed(plan, xk, p, y, jac, dw, cw):
        result = real(plan, xk, p, y, jac, dw, cw)
        jac.mul_(1 + 1e-12)
        return result

    monkeypatch.setattr(_native, "forward_power_overlap_saved", skewed)
    with pytest.raises(AssertionError, match="grad_input"):
        _against_oracle("powermean", gem_pool2d, x, 2.5, 3, 2, 1)


@pytest.mark.parametrize("op, p", [("powermean", 3.0), ("powermean", 2.0), ("lp", 3.0)])
def test_dy_dp_of_near_degenerate_windows_keeps_float64s_bound(op, p, torch_calls):
    # dy/dp from the window sums alone (pow_dp_fast) cancels near a window's degenerate case:
    # inputs within 1e-9 of 1e30 (the power mean's sum about 1e-19 of y / p^2), Lp windows
    # whose largest element is 1e6 times the others; float64 takes the cheap form only where
    # its bound is 2^-46 of the value
    gen = torch.Generator().manual_seed(12)
    x = 1e30 * (1.0 + 1e-9 * torch.rand((2, 3, 9, 8), generator=gen, dtype=torch.float64))
    if op == "lp":
        x = x * 1e-6
        x[:, :, 1::2, 1::2] *= 1e6  # the centre of each k3 s2 window
        _against_oracle(op, lp_pool2d, x, p, 3, 2)
    else:
        _against_oracle(op, gem_pool2d, x, p, 3, 2)
    assert torch_calls == {"forward": 0, "backward": 0}


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("above", [1e60, 1e3])
def test_dy_dp_of_windows_far_below_the_plane_reference(op, above, torch_calls):
    # windows 1e60 below their plane's largest element: each z = p (ln x - Lc) about -414, so
    # the cheap form's bound (n + 2) 2^-52 A / S + ... is 1e-12 of a dy/dp sum of 0.05: the
    # kernel must sum these windows element by element (the form taken at float32's 2^-30:
    # dy/dp 1e-12 off relative, about 4,400 ULP); the window holding 1e60 gets no gradient.
    # 1e3 above: z about -21, the bound (n + 2) 21 2^-52 over 2^-46, and the cheap form, taken
    # anyway, 507 2^-52 off relative for the power mean (measured; 58 at 1e8, 7160 at 1e20)
    gen = torch.Generator().manual_seed(13)
    x = 1.0 + 0.1 * torch.rand((2, 3, 8, 8), generator=gen, dtype=torch.float64)
    x[..., 0, 0] = above
    fn = gem_pool2d if op == "powermean" else lp_pool2d
    gout = torch.ones(2, 3, 4, 4, dtype=torch.float64)
    gout[..., 0, 0] = 0.0
    _, _, gp = grads_of(fn, x, 3.0, 2, 2, grad_output=gout)
    ref = reference(op, x.numpy(), 3.0, 2, 2, dims=2, dtype="float64",
                    grad_output=gout.numpy())
    assert abs(gp.item() - ref.grad_param) <= 64 * 2.0 ** -52 * abs(ref.grad_param), (
        gp.item(), ref.grad_param)
    assert torch_calls == {"forward": 0, "backward": 0}


@pytest.mark.parametrize("op, p, kernel, stride, padding", [
    ("powermean", 3.1, 3, 2, 1), ("powermean", 3.0, 2, 2, 0), ("lp", 3.0, 2, 2, 0),
    ("lp", 2.5, 3, 2, 0)])
def test_dy_dp_of_ordinary_windows_comes_from_the_window_sums(op, p, kernel, stride, padding,
                                                             torch_calls):
    # float64's dy/dp takes the cheap form U / S - ln(S / D) where pow_dp_fast's float64 error
    # bound, 2^-52 ((n + 2) A / S + 1.5 |ln(S / D)| + |core| + 4), is within 2^-46 max(|core|,
    # 1): these inputs in [0.1, 1] never need the second pass over the rows, where the narrow
    # types' bound, (n + 8) 2^-52 (A / S + |ln(S / D)| + 1), took it (a sixth of a GeM k3 s2 p1
    # saving forward; in every output row of a uniform (2, 64, 112, 112) input; here in all
    # but the Lp k3 case, whose |core|, about ln n, let it hold), and the gradients keep
    # float64's bound against the oracle
    gen = torch.Generator().manual_seed(14)
    x = 0.1 + 0.9 * torch.rand((2, 8, 13, 12), generator=gen, dtype=torch.float64)
    fn = gem_pool2d if op == "powermean" else lp_pool2d
    _native.pow_dp_passes()
    if op == "powermean":
        _against_oracle(op, fn, x, p, kernel, stride, padding)
    else:
        _against_oracle(op, fn, x, p, kernel, stride)
    assert _native.pow_dp_passes() == 0
    assert torch_calls == {"forward": 0, "backward": 0}


# 48 values of about 1e308 (the checker's "huge" kind, --dtypes float64 --thorough, 3-D Lp at
# p = -1): each window's grad_output * dy/dp is finite, their sum in the kernel's order passes
# float64's largest value, and the gradient is -1.74e308
_HUGE = [1.2868924590249104e308, 1.6958277933975078e308, 7.010683553636936e307,
         1.612123448383034e308, 1.5498003794225355e308, 1.7348967362717244e308,
         1.5911695259188574e308, 3.7639990472662833e307, 5.553221861155729e307,
         1.5266442366387523e308, 1.6849459502651307e308, 1.0717283474771742e308,
         1.691277159479468e308, 6.735465192290039e307, 1.5965879566762062e307,
         6.612785837337981e307, 5.47171105267228e307, 6.778100213612484e307,
         3.776429139366143e307, 5.312629709098925e307, 5.563639917698087e307,
         9.684143932578737e307, 4.059138969133582e307, 1.2142015148750767e308,
         5.19862516692022e307, 1.0754733522975806e308, 6.393264524835537e307,
         1.5152246923664033e308, 1.7873083976030739e308, 1.725928708533915e308,
         7.506736084102442e307, 1.1840710777679815e308, 1.6486231869563545e308,
         1.1932986480184401e308, 7.502702528394412e307, 5.861351964569737e307,
         3.756286436557384e307, 8.899669872615454e307, 1.0359667687883359e307,
         3.931381177274438e307, 1.7101020381237756e308, 7.472437770192095e307,
         1.2777184326759122e307, 1.3879869005739707e308, 1.07580791304269e308,
         4.1468207800519037e307, 1.3923070772633409e308, 7.823724650820955e307]


@pytest.mark.parametrize("path", ["state", "recomputing", "custom op", "compiled"])
def test_a_parameter_gradient_whose_terms_sum_past_the_range(path, monkeypatch):
    # the kernels add the windows' terms as plain doubles: the sum overflowed to -inf where
    # the gradient is finite (dispatch's param_within_range computes it again on the
    # pure-torch path where the kernel's is not finite)
    x = torch.tensor(_HUGE, dtype=torch.float64).reshape(1, 1, 4, 4, 3)
    gout = torch.tensor([2.0, 1.0, 0.5, 2.0, 1.0, -1.0, 2.0, 0.25, 2.0, 2.0, -1.0, -1.0],
                        dtype=torch.float64).reshape(1, 1, 3, 2, 2)
    layout = _layout.windowed(3, (2, 3, 1), (1, 2, 2), 0, 1, True)
    if path == "recomputing":
        monkeypatch.setattr(_dispatch, "POWER_OVERLAP_STATE_DTYPES", ())
    p = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
    if path == "custom op":  # backward_impl, as the custom op's autograd formula runs it
        _, gp = torch.ops.ppverify.pool_backward(gout, x, p.detach(), "lp",
                                                 _layout.encode(layout), True)
    else:
        def fn(v, q):
            return _dispatch.pool("lp", v, q, layout)

        if path == "compiled":
            fn = torch.compile(fn, backend="aot_eager", fullgraph=True)
        y = fn(x.clone().requires_grad_(), p)
        gp = torch.autograd.grad(y, [p], gout)[0]
    ref = reference("lp", x.numpy(), -1.0, (2, 3, 1), (1, 2, 2), 0, 1, True, dims=3,
                    dtype="float64", grad_output=gout.numpy())
    assert np.isfinite(ref.grad_param) and ref.grad_param < -1.7e308
    assert abs(float(gp) - ref.grad_param) <= 1e-12 * abs(ref.grad_param), (float(gp),
                                                                            ref.grad_param)


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("shape", [(2, 8, 40, 41), (1, 1, 512, 512)],
                         ids=["planes", "lane slices"])
def test_dy_dp_of_global_windows_comes_from_the_window_sums(op, shape, torch_calls):
    # float64's U = sum E z is summed compensated (pow_sum_rows; across lane slices by
    # pow_fold_pair_lanes), so the cheap form's bound no longer grows with the window's n
    # (pow_dp_fast64): a global window of 1,640 or 262,144 elements in [0.1, 1] takes no second
    # pass over its rows (every one did with the plain sum's (n - 1) u A / S), and dy/dp keeps
    # float64's accuracy against the oracle
    gen = torch.Generator().manual_seed(15)
    x = 0.1 + 0.9 * torch.rand(shape, generator=gen, dtype=torch.float64)
    xin = x.clone().requires_grad_(True)
    pt = torch.tensor(3.1, dtype=torch.float64, requires_grad=True)
    fn = adaptive_gem_pool2d if op == "powermean" else adaptive_lp_pool2d
    _native.pow_dp_passes()
    fn(xin, pt, 1).sum().backward()
    assert _native.pow_dp_passes() == 0
    ref = reference(op, x.numpy(), 3.1, output_size=1, dims=2, dtype="float64")
    assert abs(pt.grad.item() - ref.grad_param) <= 1e-13 * abs(ref.grad_param), (
        pt.grad.item(), ref.grad_param)
    assert torch_calls == {"forward": 0, "backward": 0}
