"""PPool1d/2d/3d (and the other layers with a constraint): alpha options, constraints,
training, agreement with the oracle, checkpoints and the values a dtype cannot hold."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch

from ppverify.ops import (
    AdaptivePPool2d,
    GeM,
    LPPool2d,
    PowerMean2d,
    PPool1d,
    PPool2d,
    PPool3d,
)
from ppverify.ops.functional import p_pool2d
from ppverify.oracle import ulp_distance

from ._oracle_cache import reference


def test_shared_learnable_alpha_matches_oracle_and_trains():
    m = PPool2d(3, 2, 1, alpha=2.0)
    assert isinstance(m.raw_alpha, torch.nn.Parameter) and m.alpha.dim() == 0
    x = torch.rand(2, 3, 6, 6)
    y = m(x)
    ref = reference("ppool", x.numpy(), 2.0, 3, 2, 1, dims=2, dtype="float32",
                    grad_output=np.ones((2, 3, 3, 3)))
    assert ulp_distance(y.detach().numpy(), ref.output, "float32").max() <= 8
    y.sum().backward()
    assert np.isclose(m.raw_alpha.grad.item(), float(ref.grad_param), rtol=1e-4, atol=1e-6)


def test_per_channel_fixed_alpha():
    m = PPool1d(2, alpha=-1.0, learnable=False, num_channels=3)
    assert "raw_alpha" in dict(m.named_buffers()) and not list(m.parameters())
    x = torch.rand(1, 3, 8, dtype=torch.float64)
    ref = reference("ppool", x.numpy(), [-1.0] * 3, 2, dims=1, gradients=False)
    assert ulp_distance(m(x).numpy(), ref.output, "float64").max() <= 8


def test_softplus_keeps_alpha_positive_and_starts_at_the_initial_value():
    m = PPool3d(2, alpha=0.75, constraint="softplus", num_channels=2)
    assert torch.allclose(m.alpha, torch.tensor([0.75, 0.75], dtype=torch.float64))
    with torch.no_grad():
        m.raw_alpha.fill_(-50.0)
    assert (m.alpha > 0).all()
    big = PPool2d(2, alpha=1e6, constraint="softplus")
    assert big.alpha.item() == pytest.approx(1e6)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        PPool2d(2, alpha=0.0, constraint="softplus")


def test_clamp_constraint():
    m = PPool2d(2, alpha=-3.0, constraint="clamp")
    assert m.alpha.item() == 0.0
    x = torch.rand(1, 1, 4, 4)
    ref = reference("ppool", x.numpy(), 0.0, 2, dims=2, dtype="float32", gradients=False)
    assert ulp_distance(m(x).detach().numpy(), ref.output, "float32").max() <= 8


def test_a_few_sgd_steps_reduce_a_loss():
    torch.manual_seed(0)
    m = PPool2d(2, alpha=0.5, constraint="softplus")
    x = torch.rand(4, 2, 8, 8)
    target = torch.nn.functional.max_pool2d(x, 2)
    opt = torch.optim.SGD(m.parameters(), lr=50.0)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = ((m(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_bad_options():
    with pytest.raises(ValueError, match="constraint"):
        PPool2d(2, constraint="relu")
    with pytest.raises(ValueError, match="num_channels"):
        PPool2d(2, num_channels=0)
    with pytest.raises(ValueError, match="padding should be at most"):
        PPool2d(2, padding=2)
    with pytest.raises(ValueError, match="alpha must be finite"):
        PPool2d(2, alpha=float("inf"))


def test_state_dict_round_trip_and_repr():
    m = PPool2d(3, 2, 1, alpha=1.5, num_channels=2)
    m2 = PPool2d(3, 2, 1, alpha=0.0, num_channels=2)
    m2.load_state_dict(m.state_dict())
    assert torch.equal(m2.alpha, m.alpha)
    assert "constraint='none'" in repr(m)


@pytest.mark.parametrize("alpha", ["x", "2", True, None, [1.0]])
def test_module_alpha_must_be_a_real_number(alpha):
    from ppverify.ops import PPool2d

    with pytest.raises(TypeError, match="alpha must be a real number"):
        PPool2d(2, alpha=alpha)


# ------------------------------------------------------------------ checkpoints (state_dict)

LAYERS = {
    "PPool2d": lambda c: PPool2d(2, alpha=2.0, constraint=c),
    "AdaptivePPool2d": lambda c: AdaptivePPool2d(2, alpha=2.0, constraint=c),
    "PowerMean2d": lambda c: PowerMean2d(2, p=2.0, constraint=c),
    "GeM": lambda c: GeM(p=2.0, constraint=c),
    "LPPool2d": lambda c: LPPool2d(2.0, 2, constraint=c),
}
CONSTRAINTS = ("none", "clamp", "softplus", "softplus+1")


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("saved", CONSTRAINTS)
@pytest.mark.parametrize("target", CONSTRAINTS)
def test_a_checkpoint_loads_only_under_its_own_constraint(layer, saved, target):
    """The constraint is stored; loading under another one is refused (it would read the same
    raw tensor as another parameter: softplus's 2.0 became 1.85 under "none") and leaves the
    layer untouched."""
    make = LAYERS[layer]
    source, dest = make(saved), make(target)
    with torch.no_grad():
        next(iter(source.state_dict().values())).add_(0.25)  # the raw tensor
    before = copy.deepcopy(dest.state_dict())
    if saved == target:
        dest.load_state_dict(source.state_dict())
        assert torch.equal(_param(dest), _param(source))
        return
    with pytest.raises(RuntimeError, match=rf"constraint mismatch for raw_\w+: the checkpoint "
                                           rf"was saved with constraint='{re.escape(saved)}'.*"
                                           rf"construct the layer with constraint="):
        dest.load_state_dict(source.state_dict())
    with pytest.raises(RuntimeError, match="constraint mismatch"):
        dest.load_state_dict(source.state_dict(), strict=False)
    after = dest.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def _param(m):
    return m.alpha if hasattr(m, "alpha") else m.p


def test_the_softplus_checkpoint_of_the_issue():
    source, dest = PPool2d(2, alpha=2.0, constraint="softplus"), PPool2d(2, alpha=2.0)
    with pytest.raises(RuntimeError, match=r"constraint='softplus' \(alpha = "
                                           r"softplus\(raw_alpha\)\), but this PPool2d has "
                                           r"constraint='none' \(alpha = raw_alpha\)"):
        dest.load_state_dict(source.state_dict())
    assert dest.alpha.item() == 2.0


def test_nested_layers_are_named_by_their_prefix():
    saved = torch.nn.Sequential(PPool2d(2, constraint="softplus"), GeM(constraint="softplus+1"))
    model = torch.nn.Sequential(PPool2d(2, constraint="softplus"), GeM())
    with pytest.raises(RuntimeError, match=r"constraint mismatch for 1\.raw_p"):
        model.load_state_dict(saved.state_dict())


def test_a_checkpoint_from_before_the_constraint_was_stored_still_loads():
    """Documented rule: without the record, raw_* is read under the layer's own constraint
    (what earlier versions did), and strict loading does not report the record missing."""
    source = PPool2d(2, alpha=3.0, constraint="softplus", num_channels=2)
    old = {k: v for k, v in source.state_dict().items() if not k.endswith("_extra_state")}
    dest = PPool2d(2, alpha=1.0, constraint="softplus", num_channels=2)
    result = dest.load_state_dict(old)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.allclose(dest.alpha, torch.full((2,), 3.0, dtype=torch.float64))
    other = PPool2d(2, alpha=1.0, num_channels=2)
    other.load_state_dict(old)  # the old behaviour: the raw value read as alpha itself
    assert torch.equal(other.raw_alpha, source.raw_alpha)


def test_checkpoints_hold_only_tensors_and_load_with_weights_only(tmp_path):
    """The record is a uint8 tensor, so tensor-only formats and weights_only loading take it."""
    m = GeM(p=3.0, constraint="softplus+1", num_channels=4)
    state = m.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert bytes(state["_extra_state"].tolist()).decode() == "softplus+1"
    torch.save(state, tmp_path / "gem.pt")
    loaded = torch.load(tmp_path / "gem.pt", weights_only=True)
    fresh = GeM(p=5.0, constraint="softplus+1", num_channels=4)
    fresh.load_state_dict(loaded)
    assert torch.equal(fresh.p, m.p)
    with pytest.raises(RuntimeError, match="not a constraint record"):
        fresh.load_state_dict({**loaded, "_extra_state": torch.tensor([1.5])})


# ------------------------------------------------------------------ extreme initial values

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("value", [1e-320, 5e-324, 1e-300, 1e-45, 1e-8, 1e-3, 0.5, 2.0, 25.0,
                                   40.0, 1e3, 1e30])
def test_softplus_starts_at_the_initial_value(value, dtype):
    """The effective value (float64, what the op uses) against softplus of the stored raw
    value evaluated at 50 digits; alpha = 1e-320 gave exactly 0 (its float32 raw value,
    -736.8, is fine: float32's softplus rounded to 0)."""
    mpmath = pytest.importorskip("mpmath")
    m = PPool2d(2, alpha=value, constraint="softplus", dtype=dtype)
    raw = float(m.raw_alpha.detach())
    with mpmath.workdps(50):
        exact = float(mpmath.log1p(mpmath.exp(raw)))
    got = m.alpha.item()
    assert got > 0 and m.alpha.dtype == torch.float64
    assert got == pytest.approx(exact, rel=4e-16, abs=5e-324)
    # and the initial value comes back up to the rounding of raw in its dtype (raw is about
    # ln(value) for tiny values: exp turns its absolute rounding into a relative error)
    tol = torch.finfo(dtype).eps * max(1.0, abs(raw)) + 4e-16
    assert got == pytest.approx(value, rel=tol, abs=1e-323)


def test_tiny_alpha_keeps_the_positive_convention_at_zeros():
    """alpha = 1e-320 > 0: zeros drop out of the window (alpha = 0 would count them)."""
    m = PPool1d(3, alpha=1e-320, constraint="softplus")
    x = torch.tensor([[[0.0, 2.0, 4.0]]])
    ref = reference("ppool", x.numpy(), m.alpha.item(), 3, dims=1, dtype="float32",
                    gradients=False)
    assert m(x).item() == float(ref.output.reshape(-1)[0]) == pytest.approx(3.0)


def test_softplus_bounds_hold_for_any_raw_value():
    m, g = PPool2d(2, constraint="softplus"), GeM(constraint="softplus+1")
    with torch.no_grad():
        m.raw_alpha.fill_(-1e30)
        g.raw_p.fill_(-1e30)
    assert m.alpha.item() > 0 and g.p.item() > 1


@pytest.mark.parametrize("make, match", [
    (lambda: PPool2d(2, alpha=1e39), r"alpha = 1e\+39 with constraint='none' overflows the "
                                     r"layer's dtype torch.float32; pass dtype=torch.float64"),
    (lambda: PPool2d(2, alpha=1e300, constraint="softplus"),
     r"alpha = 1e\+300 with constraint='softplus' \(stored as raw_alpha = 1e\+300\) overflows"),
    (lambda: GeM(p=-1e39), r"p = -1e\+39 with constraint='none' overflows"),
    (lambda: PPool2d(2, alpha=1e-50), r"alpha = 1e-50 with constraint='none' rounds to 0 in "
                                      r"the layer's dtype torch.float32"),
    (lambda: PPool2d(2, alpha=70000.0, dtype=torch.float16), r"overflows the layer's dtype "
                                                             r"torch.float16"),
])
def test_values_the_dtype_cannot_hold_name_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_large_values_fit_in_float64():
    assert PPool2d(2, alpha=1e39, dtype=torch.float64).alpha.item() == 1e39
    assert PPool2d(2, alpha=1e300, constraint="softplus", dtype=torch.float64).alpha.item() \
        == 1e300


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dtype=torch.int64), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(dtype="float32"), TypeError, "dtype must be a floating-point torch.dtype"),
    (dict(learnable="yes"), TypeError, r"learnable must be a bool"),
    (dict(alpha=np.float32(1.5)), None, None),
    (dict(alpha=torch.tensor(1.5)), None, None),
    (dict(alpha=torch.tensor(1.5 + 1j)), TypeError, "alpha must be a real number"),
    (dict(alpha=np.bool_(True)), TypeError, "alpha must be a real number"),
    (dict(num_channels=np.int64(3)), None, None),
    (dict(alpha=np.longdouble(2.5)), None, None),
    (dict(alpha=10**400), ValueError, "alpha must be finite and within float64's range"),
])
def test_layer_options_are_checked_by_name(kwargs, error, match):
    if error is None:
        PPool2d(2, **kwargs)
        return
    with pytest.raises(error, match=match):
        PPool2d(2, **kwargs)


def test_a_checkpoint_value_the_layer_dtype_cannot_hold_is_refused():
    """A float64 checkpoint's alpha = 1e39 became inf in a float32 layer (and the forward then
    said only "alpha must be finite"); 1e-50 became 0, another alpha. Refused by name, the
    layer untouched; values that fit load (rounded to the layer's dtype, as torch copies)."""
    for value, became in ((1e39, "inf"), (1e-50, "0")):
        source = PPool2d(2, alpha=value, dtype=torch.float64)
        dest = PPool2d(2, alpha=2.0)
        shown = re.escape(f"{value:g}")
        with pytest.raises(RuntimeError, match=rf"raw_alpha = {shown} from the checkpoint "
                                               rf"\(torch.float64\) cannot be held by this "
                                               rf"PPool2d's dtype torch.float32 \(it would "
                                               rf"become {became}\); construct the layer with "
                                               rf"dtype=torch.float64"):
            dest.load_state_dict(source.state_dict())
        assert dest.alpha.item() == 2.0
    dest = PPool2d(2, alpha=2.0)
    dest.load_state_dict(PPool2d(2, alpha=1.1, dtype=torch.float64).state_dict())
    assert dest.raw_alpha.dtype == torch.float32 and dest.alpha.item() == float(
        torch.tensor(1.1, dtype=torch.float32))


def test_the_parameter_is_reused_in_inference_and_follows_every_change():
    """forward reuses the constrained float64 parameter where no derivative of it is wanted,
    and recomputes it after an in-place update, a checkpoint load, a dtype change, or in
    grad mode for a learnable parameter."""
    x = torch.rand(1, 2, 6, 6)

    def expected(module):  # the op with the parameter computed afresh (no cache)
        with torch.no_grad():
            return p_pool2d(x, float(module._effective()), 2)

    m = PPool2d(2, alpha=2.0, constraint="softplus")
    with torch.no_grad():
        first = m._effective_cached()
        assert m._effective_cached() is first  # reused
        torch.testing.assert_close(m(x), expected(m), rtol=0, atol=0)
        m.raw_alpha.add_(1.0)  # an optimizer step
        assert m._effective_cached() is not first
        assert abs(float(m._effective_cached()) - 2.0) > 0.5
        torch.testing.assert_close(m(x), expected(m), rtol=0, atol=0)
    m.load_state_dict(PPool2d(2, alpha=5.0, constraint="softplus").state_dict())
    with torch.no_grad():
        assert abs(float(m._effective_cached()) - 5.0) < 1e-5
        torch.testing.assert_close(m(x), expected(m), rtol=0, atol=0)
    m.double()  # new storage of another dtype
    with torch.no_grad():
        assert m._effective_cached().item() == m._effective().item()
        torch.testing.assert_close(m(x), expected(m), rtol=0, atol=0)
    # grad mode with a learnable parameter: a graph, never the cached value
    y = m(x)
    y.sum().backward()
    assert m.raw_alpha.grad is not None and m.raw_alpha.grad.abs().item() > 0
    # a fixed parameter is reused in grad mode too, and the input still gets its gradient
    f = PPool2d(2, alpha=3.0, learnable=False)
    assert f._effective_cached() is f._effective_cached()
    xg = x.clone().requires_grad_()
    f(xg).sum().backward()
    assert xg.grad is not None
    with torch.no_grad():
        f.raw_alpha.fill_(4.0)  # a buffer changed in place
    assert f._effective_cached().item() == 4.0
    torch.testing.assert_close(f(x), expected(f), rtol=0, atol=0)


def _layers_to_change():
    from ppverify.ops import GeM, LPPool2d

    return {
        "PPool2d": lambda: PPool2d(2, alpha=2.0),
        "PPool2d per channel": lambda: PPool2d(2, alpha=2.0, num_channels=3),
        "PPool2d fixed": lambda: PPool2d(2, alpha=2.0, learnable=False),
        "PPool2d softplus": lambda: PPool2d(2, alpha=2.0, constraint="softplus"),
        "GeM": lambda: GeM(p=3.0),
        "LPPool2d": lambda: LPPool2d(2.0, 2),
    }


@pytest.mark.parametrize("name", list(_layers_to_change()))
@pytest.mark.parametrize("how", ["data.fill_", "data.copy_", "data[...] =", "fill_ no_grad"])
@pytest.mark.parametrize("mode", ["no_grad", "inference_mode", "grad, input only"])
def test_the_next_forward_pools_with_the_parameter_as_changed(name, how, mode):
    """A layer's forward reuses its constrained parameter where no derivative of it is
    wanted, by the stored values: a change through ``.data`` (which leaves the tensor's
    version counter alone; ``p.data.fill_(3)`` is common in GeM code) is pooled with by the
    next call. Before 2026-12-07 the reuse was keyed on the version counter and such a
    layer pooled with the old value under ``torch.no_grad``, silently. Each result against
    the layer's operator called with the new value as a float."""
    from ppverify.ops import functional as fn
    from ppverify.ops import gem_pool2d, lp_pool2d

    layer = _layers_to_change()[name]()
    x = torch.rand(1, 3, 6, 6) + 0.05
    raw = next(t for n, t in list(layer.named_parameters()) + list(layer.named_buffers())
               if n.startswith("raw_"))
    if mode == "grad, input only":
        raw.requires_grad_(False)

    def run():
        if mode == "no_grad":
            with torch.no_grad():
                return layer(x)
        if mode == "inference_mode":
            with torch.inference_mode():
                return layer(x).clone()
        return layer(x.clone().requires_grad_(True)).detach()

    run()
    run()  # the reused value is in place
    new = torch.full_like(raw, 0.5 if "softplus" in name else 4.0)
    if how == "data.fill_":
        raw.data.fill_(float(new.flatten()[0]))
    elif how == "data.copy_":
        raw.data.copy_(new)
    elif how == "data[...] =":
        raw.data[...] = new
    else:
        with torch.no_grad():
            raw.fill_(float(new.flatten()[0]))
    value = float(layer._effective().detach().flatten()[0])
    assert abs(value - (float(torch.nn.functional.softplus(new.double()).flatten()[0])
                        if "softplus" in name else 4.0)) < 1e-12
    want = {"PPool2d": lambda: fn.p_pool2d(x, value, 2), "GeM": lambda: gem_pool2d(x, value, 6),
            "LPPool2d": lambda: lp_pool2d(x, value, 2)}[name.split()[0]]()
    torch.testing.assert_close(run(), want, rtol=0, atol=0)


def test_a_layers_single_parameter_goes_to_the_op_as_a_float_only_without_a_graph():
    """A 0-d parameter on the CPU reaches the op as a Python float (its shortcut) where no
    derivative of it is wanted; with a learnable one in grad mode, as the tensor of a graph."""
    layer = PPool2d(2, alpha=2.5)
    with torch.no_grad():
        assert type(layer._pool_param()) is float and layer._pool_param() == 2.5
    with torch.inference_mode():
        assert type(layer._pool_param()) is float
    param = layer._pool_param()
    assert isinstance(param, torch.Tensor) and param.requires_grad
    per_channel = PPool2d(2, alpha=2.5, num_channels=3)
    with torch.no_grad():
        assert isinstance(per_channel._pool_param(), torch.Tensor)


FIXED_LAYERS = {
    "PPool2d": lambda c: PPool2d(2, alpha=2.0, learnable=False),
    "AdaptivePPool2d": lambda c: AdaptivePPool2d(2, alpha=2.0, learnable=False),
    "PowerMean2d": lambda c: PowerMean2d(2, p=2.0, learnable=False),
    "GeM": lambda c: GeM(p=2.0, learnable=False),
    "LPPool2d": lambda c: LPPool2d(2.0, 2, learnable=False),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("learnable", [True, False], ids=["learnable", "fixed"])
def test_layers_run_under_inference_mode(name, learnable):
    """``torch.inference_mode()`` (how inference is usually run): every layer's forward
    raised "Inference tensors do not track version counter" (the parameter cache read the
    version counter of a parameter computed there); built outside or inside the mode, the
    output is the one under ``no_grad``, bit for bit, and the layer still trains after."""
    make = LAYERS[name] if learnable else FIXED_LAYERS[name]
    x = torch.rand(2, 3, 6, 6)
    m = make("softplus")
    with torch.no_grad():
        want = m(x)
    with torch.inference_mode():
        got = m(x)
        again = m(x)
        assert got.is_inference()
        inside = copy.deepcopy(m) if learnable else m
        built_inside = make("softplus")
        also = built_inside(x)
    for y in (got, again, also, inside(x)):
        assert torch.equal(y, want)
    xg = x.clone().requires_grad_()
    m(xg).sum().backward()  # and grad mode after it
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def _raw(m):
    return m.raw_alpha if hasattr(m, "raw_alpha") else m.raw_p


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_learnable_parameter_takes_torch_s_default_dtype(name):
    """As torch's layers create their parameters: float32 by default, float64 under
    ``torch.set_default_dtype(torch.float64)`` (it stayed float32 there before 2026-12-05);
    an explicit ``dtype`` wins, and a fixed value is float64 whatever the default."""
    def make():  # (torch's LPPool2d has a fixed p: ours too unless asked)
        return LPPool2d(2.0, 2, learnable=True) if name == "LPPool2d" else LAYERS[name]("none")

    before = torch.get_default_dtype()
    try:
        assert _raw(make()).dtype == torch.float32
        torch.set_default_dtype(torch.float64)
        m = make()
        assert _raw(m).dtype == torch.float64
        x = torch.rand(2, 3, 6, 6)
        assert m(x).dtype == torch.float64
        m(x.requires_grad_()).sum().backward()
        assert _raw(m).grad.dtype == torch.float64
        assert _raw(FIXED_LAYERS[name]("none")).dtype == torch.float64
    finally:
        torch.set_default_dtype(before)
    explicit = {"PPool2d": lambda: PPool2d(2, dtype=torch.bfloat16),
                "AdaptivePPool2d": lambda: AdaptivePPool2d(2, dtype=torch.bfloat16),
                "PowerMean2d": lambda: PowerMean2d(2, p=2.0, dtype=torch.bfloat16),
                "GeM": lambda: GeM(dtype=torch.bfloat16),
                "LPPool2d": lambda: LPPool2d(2.0, 2, learnable=True, dtype=torch.bfloat16)}[name]
    assert _raw(explicit()).dtype == torch.bfloat16


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("learnable", [True, False], ids=["learnable", "fixed"])
def test_layers_built_on_the_meta_device_materialise(name, learnable):
    """Deferred initialisation (``with torch.device("meta")``, then ``to_empty`` and
    ``reset_parameters``, as large-model loaders and FSDP do): building a layer there raised
    "Tensor.item() cannot be called on meta tensors" (the check that the dtype holds the value
    made its tensor on the default device). Now it builds, runs on meta inputs, and once
    materialised and reset gives the CPU-built layer's output bit for bit."""
    make = LAYERS[name] if learnable else FIXED_LAYERS[name]
    x = torch.rand(2, 3, 6, 6)
    want = make("softplus")(x)
    with torch.device("meta"):
        m = make("softplus")
    assert _raw(m).is_meta
    assert m(torch.empty(2, 3, 6, 6, device="meta")).shape == want.shape
    m = m.to_empty(device="cpu")
    m.reset_parameters()
    assert not _raw(m).is_meta and _raw(m).dtype == _raw(make("softplus")).dtype
    assert torch.equal(m(x), want)
    if learnable:  # and reset_parameters undoes training
        with torch.no_grad():
            _raw(m).add_(1.0)
        assert not torch.equal(m(x), want)
        m.reset_parameters()
        assert torch.equal(m(x), want)


def test_a_compiled_layer_runs_under_inference_mode():
    m = torch.compile(PPool2d(2, alpha=2.0), fullgraph=True, backend="aot_eager")
    x = torch.rand(2, 3, 6, 6)
    with torch.no_grad():
        want = m(x)
    with torch.inference_mode():
        assert torch.equal(m(x), want)


def test_a_fixed_parameter_is_the_number_given_whatever_the_module_is_converted_to():
    """LPPool2d(0.1, 2) (fixed, as torch's norm_type) stored 0.1 in float32 (0.10000000149):
    2e7 ULP off in a float64 output; a fixed value is now a float64 buffer that .to(), .half()
    and .double() move but do not round, and it checkpoints and loads as such."""
    x = torch.rand(1, 2, 4, 6, dtype=torch.float64) + 0.5
    for layer in (LPPool2d(0.1, 2), PPool2d(2, alpha=0.1, learnable=False)):
        name = "raw_p" if isinstance(layer, LPPool2d) else "raw_alpha"
        for convert in (lambda m: m, lambda m: m.half(), lambda m: m.to(torch.bfloat16),
                        lambda m: m.double(), lambda m: m.float()):
            layer = convert(layer)
            stored = getattr(layer, name)
            assert stored.dtype == torch.float64 and stored.item() == 0.1
        op = "lp" if isinstance(layer, LPPool2d) else "ppool"
        ref = reference(op, x.numpy(), 0.1, 2, dims=2, dtype="float64", gradients=False)
        assert ulp_distance(layer(x).numpy(), ref.output, "float64").max() <= 2
        copy = type(layer)(0.7, 2) if op == "lp" else PPool2d(2, alpha=0.7, learnable=False)
        copy.load_state_dict(layer.state_dict())
        assert getattr(copy, name).item() == 0.1
    learnable = PPool2d(2, alpha=0.1)  # a parameter: the module's dtype, as torch's
    assert learnable.raw_alpha.dtype == torch.float32 and learnable.double().raw_alpha.dtype \
        == torch.float64


@pytest.mark.parametrize("constraint", ["softplus", "softplus+1"])
def test_softplus_constraint_backward_does_not_overflow(constraint):
    """A dy/dalpha near float64's top reaches raw_alpha scaled by the sigmoid (< 1): torch's
    softplus backward formed g e^rho first and gave inf (found by ``ppverify check
    'ppverify.ops:PPool2d(constraint="softplus")' --param-attr raw_alpha --param-map
    'softplus(v)'``: raw gradient inf where 4e307 is right on huge float64 inputs)."""
    m = PPool2d(2, alpha=2.0, constraint=constraint, num_channels=5, dtype=torch.float64)
    with torch.no_grad():
        m.raw_alpha.copy_(torch.tensor([-800.0, -3.0, 1.85, 39.0, 45.0]))
    alpha = m.alpha
    (g,) = torch.autograd.grad(alpha, [m.raw_alpha], torch.full_like(alpha, 1e308))
    raw = m.raw_alpha.detach()
    want = 1e308 * torch.sigmoid(raw)
    assert torch.isfinite(g).all(), g
    assert torch.allclose(g, want, rtol=1e-15, atol=0), (g, want)
    # the values are softplus's, bit for bit (torch's, threshold 40)
    plain = torch.nn.functional.softplus(raw, threshold=40.0)
    shift = 1.0 if constraint == "softplus+1" else 0.0
    assert torch.equal(alpha.detach(), (shift + plain).clamp(min=5e-324 if not shift
                                                             else 1.0000000000000002))


def test_softplus_constraint_backward_keeps_a_subnormal_gradient():
    """A subnormal dy/dp at a large raw value reaches raw_p times sigmoid (about 1): dividing
    by 1 + e^rho first underflowed it to the smallest subnormal (found by ``ppverify check
    'ppverify.ops:GeM(constraint="softplus+1")' --param-attr raw_p --param-map
    '1 + softplus(float64(v))' --per-channel``: 1.4e-310 where 1.1e-310 is right)."""
    m = GeM(p=32.0, constraint="softplus+1", num_channels=3, dtype=torch.float64)
    with torch.no_grad():
        m.raw_p.copy_(torch.tensor([31.0, 39.9, 60.0]))
    p = m.p
    g_in = torch.tensor([1.1386751994106e-310, 3e-320, 2.2e-308], dtype=torch.float64)
    (g,) = torch.autograd.grad(p, [m.raw_p], g_in)
    want = g_in * torch.sigmoid(m.raw_p.detach())
    assert torch.equal(g, want), (g, want)


@pytest.mark.parametrize("constraint", ["softplus", "softplus+1"])
def test_softplus_constraint_derivatives_at_the_edges(constraint):
    """An infinite dy/dalpha stays infinite (a backward of two terms makes inf - inf = NaN),
    and the second derivative is sigmoid's derivative (torch.func.hessian)."""
    from ppverify.ops.modules import _softplus

    m = PPool2d(2, alpha=2.0, constraint=constraint, num_channels=4, dtype=torch.float64)
    with torch.no_grad():
        m.raw_alpha.copy_(torch.tensor([-30.0, 0.3, 5.0, 50.0]))
    inf = torch.full((4,), float("inf"), dtype=torch.float64)
    (g,) = torch.autograd.grad(m.alpha, [m.raw_alpha], inf)
    assert torch.equal(g, inf), g
    raw = m.raw_alpha.detach()
    hess = torch.func.hessian(lambda r: _softplus(r).sum())(raw)
    slope_of_sigmoid = torch.sigmoid(raw) * torch.sigmoid(-raw)  # (1 - s loses it at 50)
    assert torch.allclose(torch.diagonal(hess), slope_of_sigmoid, rtol=1e-12, atol=0)
    assert torch.equal(hess, torch.diag(torch.diagonal(hess)))


def test_a_float_parameter_first_seen_under_inference_mode_serves_autograd_later():
    """The op caches the tensor of a float parameter it accepted; one first made under
    ``torch.inference_mode`` was an inference tensor, and a later call with autograd raised
    "Inference tensors cannot be saved for backward" (a layer whose constrained parameter
    became a float under inference mode, then trained: found by the test order of
    ``test_the_next_forward_pools_with_the_parameter_as_changed``, 2026-12-07)."""
    from ppverify.ops import functional as fn

    alpha = 1.2345678912345  # (a value no other test uses: not yet cached)
    x = torch.rand(1, 3, 6, 6) + 0.05
    with torch.inference_mode():
        fn.p_pool2d(x, alpha, 2)
    xg = x.clone().requires_grad_(True)
    fn.p_pool2d(xg, alpha, 2).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


@pytest.mark.parametrize("alpha, kernel, stride, padding, channels_last", [
    (2.0, 2, 2, 0, False),   # windows that share nothing: the saved dy/dx
    (2.5, 3, 2, 1, False),   # the overlap state
    (2.0, 3, 2, 1, True),    # the integer-alpha window state (channels-last direct path)
    (2.0, 8, 8, 0, False),   # the integer-alpha window state, disjoint windows
])
def test_a_call_first_made_under_inference_mode_serves_autograd_later(alpha, kernel, stride,
                                                                       padding, channels_last):
    """The dispatcher keeps, per call kind, templates of its outputs and saved states
    (``_dispatch._allocator``); made first under ``torch.inference_mode`` they are inference
    tensors. A later training call of the same kind gets normal tensors from them (its
    output, input gradient and alpha's gradient), and the same forward values."""
    from ppverify.ops import _dispatch

    _dispatch._native_calls.clear()
    shape = (2, 16, 24, 24)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(3)) + 0.05
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        y0 = p_pool2d(x, alpha, kernel, stride, padding)
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    xg = x.clone().requires_grad_(True)
    y = p_pool2d(xg, a, kernel, stride, padding)
    assert not y.is_inference()
    y.backward(torch.ones_like(y))
    assert not xg.grad.is_inference() and torch.isfinite(xg.grad).all()
    assert a.grad is not None and torch.isfinite(a.grad)
    assert torch.equal(y.detach(), y0)
