"""The training shortcut of ``ppverify.ops._dispatch.pool`` (autograd's calls: the input or the
parameter needs a gradient): a call of a kind (``_train_key``) that the full path served with
``_EagerPool`` and the C++ kernel goes to the node directly, its parameter as given (a layer's
learnable float32 alpha is cast inside the node: no cast node of its own).

It serves repeated calls with the oracle's values and gradients, never serves a call of another
kind, and gives way to the full path wherever that must decide. The key test is checked
against a planted defect: with any one field dropped from ``_train_key``, a call of another
kind finds the first call's entry and the oracle comparison fails."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ppverify.ops import PPool2d, _dispatch, _native, gem_pool2d, p_pool2d
from ppverify.oracle import ulp_distance

from ._cases import positive_signal
from ._compare import FORWARD_ULP, alpha_scale, grad_input_scale, within
from ._oracle_cache import reference
from ._shortcuts import served_by_shortcut as _via

pytestmark = pytest.mark.skipif(not _native.available(), reason="needs the C++ kernel")


def _input(shape, dtype=torch.float32, channels_last=False, seed=0):
    x = positive_signal(shape, dtype, seed)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _grad_output(shape, dtype, seed=1) -> torch.Tensor:
    return positive_signal(shape, dtype, seed)


def _train_mismatch(fn, x, param, kernel) -> str | None:
    """None if ``fn(x, param, kernel)`` and its gradients (the input's; the parameter's where it
    is a P-pooling tensor) are within the CPU tests' bounds of the oracle, else why. ``param``
    a float (the input alone needs a gradient) or a tensor (both need one)."""
    xin = x.clone().requires_grad_(True)
    p = param.detach().clone().requires_grad_(True) if isinstance(param, torch.Tensor) \
        else param
    try:
        y = fn(xin, p, kernel)
        g = _grad_output(y.shape, y.dtype)
        y.backward(g)
    except Exception as err:  # noqa: BLE001
        return f"raised {err!r}"
    op = "ppool" if fn is p_pool2d else "powermean"
    name = str(x.dtype).removeprefix("torch.")
    values = torch.as_tensor(param).detach().double().numpy()
    x64, g64 = x.double().numpy(), g.double().numpy()
    ref = reference(op, x64, values, kernel, dims=2, dtype=name, gradients=True,
                    grad_output=g64)
    if tuple(y.shape) != ref.output.shape:
        return f"shape {tuple(y.shape)}, oracle {ref.output.shape}"
    worst = float(np.max(ulp_distance(y.detach().double().numpy(), ref.output, name)))
    if worst > FORWARD_ULP:
        return f"forward {worst} ULP from the oracle"
    scale = grad_input_scale(ref.grad_input, 2, kernel, None, 0, 1, False)
    ok, _ = within(xin.grad.double().numpy(), ref.grad_input, scale, name)
    if not ok.all():
        return "grad_input outside the bound"
    if isinstance(param, torch.Tensor) and op == "ppool":
        ascale = alpha_scale(x64, values, 2, kernel, None, 0, 1, False, g64)
        # the bound of the input's dtype, or of the parameter's where that is coarser (its
        # gradient is rounded to it)
        coarser = min((x.dtype, param.dtype), key=lambda d: torch.finfo(d).bits)
        ok, _ = within(p.grad.double().numpy(), ref.grad_param, ascale,
                       str(coarser).removeprefix("torch."))
        if not np.all(ok):
            return f"grad_param {p.grad} outside the bound of the oracle's {ref.grad_param}"
    return None


def _backward(fn, x, param, kernel):
    def call():
        xin = x.clone().requires_grad_(True)
        fn(xin, param, kernel).sum().backward()
    return call


ALPHA32 = torch.tensor(1.5, requires_grad=True)
PER_CHANNEL = torch.tensor([0.5, 2.5], dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("param", [1.5, ALPHA32, PER_CHANNEL,
                                   torch.nn.Parameter(torch.tensor(3.0, dtype=torch.float16))],
                         ids=["float", "float32 tensor", "per-channel float64", "float16"])
@pytest.mark.parametrize("kernel", [2, 3], ids=["k2 (saved state)", "k3 (overlap state)"])
def test_a_repeated_training_call_is_served_with_the_oracles_values(monkeypatch, param, kernel):
    x = _input((2, 2, 6, 7))
    assert _via(monkeypatch, _backward(p_pool2d, x, param, kernel))
    for _ in range(2):  # the second is the shortcut's
        assert _train_mismatch(p_pool2d, x, param, kernel) is None


def test_an_unbatched_training_call_is_served_with_the_oracles_values(monkeypatch):
    x = _input((2, 6, 7))
    assert _via(monkeypatch, _backward(p_pool2d, x, ALPHA32, 2))
    assert _train_mismatch(p_pool2d, x, ALPHA32, 2) is None


def test_a_layers_learnable_alpha_takes_the_shortcut_with_no_cast_node(monkeypatch):
    layer = PPool2d(2, alpha=2.5)
    x = _input((1, 3, 8, 8)).requires_grad_(True)
    assert layer.raw_alpha.dtype == torch.float32
    assert _via(monkeypatch, lambda: layer(x).sum().backward())
    y = layer(x)
    # the node's inputs are the input and the stored parameter themselves
    assert [type(f).__name__ for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"] * 2
    layer.zero_grad()
    g = _grad_output(y.shape, y.dtype)
    y.backward(g)
    grad = layer.raw_alpha.grad
    assert grad.dtype == torch.float32
    ref = reference("ppool", x.detach().double().numpy(), 2.5, 2, dims=2, dtype="float32",
                    gradients=True, grad_output=g.double().numpy())
    scale = alpha_scale(x.detach().double().numpy(), 2.5, 2, 2, None, 0, 1, False,
                        g.double().numpy())
    assert within(grad.double().numpy(), ref.grad_param, scale, "float32")[0].all()


def test_a_parameters_second_derivative_reaches_it_through_the_node():
    """create_graph: the differentiable formula's cast of a float32 parameter is recorded in
    the backward, so second derivatives reach the parameter (as with a float64 one)."""
    x = _input((1, 2, 6, 6), torch.float64)
    second = {}
    for dtype in (torch.float32, torch.float64):
        a = torch.tensor(1.5, dtype=dtype, requires_grad=True)
        for _ in range(3):  # the last through the shortcut
            xin = x.clone().requires_grad_(True)
            gx, = torch.autograd.grad(p_pool2d(xin, a, 2).sum(), xin, create_graph=True)
            second[dtype], = torch.autograd.grad((gx * gx).sum(), a)
    assert second[torch.float32].dtype == torch.float32
    assert second[torch.float64] != 0
    assert second[torch.float32] == second[torch.float64].float()


# pairs of calls that agree in every field of the key but the one named (the first call no
# larger than the second: an entry found wrongly must not read beyond the first's input)
PAIRS = {
    "operator": ((p_pool2d, _input((1, 2, 6, 6)), 1.5, 2),
                 (gem_pool2d, _input((1, 2, 6, 6)), 1.5, 2)),
    "layout": ((p_pool2d, _input((1, 2, 6, 6)), 1.5, 2), (p_pool2d, _input((1, 2, 6, 6)), 1.5, 3)),
    "shape": ((p_pool2d, _input((1, 2, 5, 6)), 1.5, 2), (p_pool2d, _input((2, 2, 5, 6)), 1.5, 2)),
    "strides": ((p_pool2d, _input((2, 3, 5, 6)), 1.5, 2),
                (p_pool2d, _input((2, 3, 5, 6), channels_last=True), 1.5, 2)),
    "dtype": ((p_pool2d, _input((1, 2, 5, 6)), 1.5, 2),
              (p_pool2d, _input((1, 2, 5, 6), torch.float64), 1.5, 2)),
    "parameter": ((p_pool2d, _input((1, 2, 6, 6)), 1.5, 2),
                  (p_pool2d, _input((1, 2, 6, 6)), torch.tensor([0.5, 3.0]), 2)),
}
FIELDS = ("operator", "layout", "shape", "strides", "dtype", "parameter")  # _train_key's order


def _pair_mismatch(field: str) -> str | None:
    """Run the pair of ``field`` (each call three times, the shortcut serving the last ones)
    and return the first mismatch with the oracle, or that the two kinds did not get an entry
    each (one wrongly taken for the other: a call of the other layout is sent back to the full
    path, ``_train_shortcut``'s test of the call's layout, and its entry replaces the first),
    or None."""
    _dispatch._train_calls.clear()
    for fn, x, param, kernel in PAIRS[field]:
        for _ in range(3):
            why = _train_mismatch(fn, x, param, kernel)
            if why is not None:
                return why
    kinds = len(_dispatch._train_calls)
    return None if kinds == 2 else f"{kinds} entries for two kinds of call"


@pytest.mark.parametrize("field", FIELDS)
def test_a_cached_training_call_is_never_reused_for_another_kind(field):
    assert _pair_mismatch(field) is None


@pytest.mark.parametrize("dropped", range(len(FIELDS)))
def test_the_key_test_catches_a_key_without_one_field(monkeypatch, dropped):
    """Planted defect: the key without field ``dropped``; the test above must then fail on
    that field's pair."""
    full = _dispatch._train_key

    def short_key(op, layout, input, param):
        key = full(op, layout, input, param)
        return key[:dropped] + key[dropped + 1:]

    monkeypatch.setattr(_dispatch, "_train_key", short_key)
    assert _pair_mismatch(FIELDS[dropped]) is not None


class _Watching(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def test_the_full_path_decides_everything_else(monkeypatch):
    x = _input((1, 2, 4, 4))
    a = torch.tensor(2.0, requires_grad=True)
    one = torch.tensor([2.0], requires_grad=True)  # (1,): reshaped, so never stored

    def forward_ad():
        import torch.autograd.forward_ad as fwAD
        with fwAD.dual_level():
            p_pool2d(fwAD.make_dual(x, torch.ones_like(x)), a, 2)

    def under_mode():
        with _Watching():
            p_pool2d(x.clone().requires_grad_(True), a, 2)

    as_parameter = torch.nn.Parameter(x.clone())  # an input of a subclass: never stored
    served = _backward(p_pool2d, x, a, 2)
    assert _via(monkeypatch, served)  # the entry that each call below would otherwise find
    for call in (_backward(p_pool2d, x, one, 2),
                 lambda: p_pool2d(as_parameter, a, 2).sum().backward(),
                 lambda: torch.func.grad(lambda t: p_pool2d(t, a, 2).sum())(x),
                 lambda: torch.func.grad(lambda b: p_pool2d(x, b, 2).sum())(a.detach()),
                 forward_ad, under_mode,
                 lambda: p_pool2d(x, a.detach(), 2)):  # no gradient: the eager shortcut's
        assert not _via(monkeypatch, call)
    # a backend choice changed, or the cache of calls cleared, after the entry was stored
    monkeypatch.setattr(_dispatch, "_use_native", lambda t: False)
    assert not _via(monkeypatch, served)
    monkeypatch.undo()
    assert _via(monkeypatch, served)
    monkeypatch.setattr(_native, "available", lambda: False)
    assert not _via(monkeypatch, served)
    monkeypatch.undo()
    _dispatch._native_calls.clear()
    full = []
    original = _dispatch._pool
    monkeypatch.setattr(_dispatch, "_pool", lambda *a: full.append(1) or original(*a))
    served()
    assert full
    monkeypatch.undo()
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    full.clear()
    monkeypatch.setattr(_dispatch, "_pool", lambda *a: full.append(1) or original(*a))
    with contextlib.suppress(Exception):  # Triton on CPU may be missing: the route matters
        served()
    assert full


def test_the_shortcut_keeps_the_errors_that_name_the_element():
    x = _input((1, 1, 4, 4))
    a = torch.tensor(2.0, requires_grad=True)
    for _ in range(3):
        p_pool2d(x.clone().requires_grad_(True), a, 2)
    bad = x.clone()
    bad[0, 0, 1, 2] = -1.0
    with pytest.raises(ValueError, match=r"negative values \(first at batch 0, channel 0, "
                                         r"position \(1, 2\)\)"):
        p_pool2d(bad.requires_grad_(True), a, 2)
    with pytest.raises(ValueError, match="alpha must be finite"):
        p_pool2d(x.clone().requires_grad_(True), torch.tensor(float("nan"), requires_grad=True),
                 2)


def test_a_small_inputs_gradient_is_a_new_tensor_a_large_ones_the_state(monkeypatch):
    """Below ``OVER_STATE_MIN_BYTES`` the input's gradient is not written over the saved state
    (a new tensor); from it, it is (the backward's peak memory no more than the forward's)."""
    kept = []
    original = _dispatch._native_backward_saved

    def watch(*args, **kwargs):
        gx, gp = original(*args, **kwargs)
        kept.append((gx.data_ptr(), args[5].data_ptr()))  # (grad, the saved dy/dx)
        return gx, gp

    monkeypatch.setattr(_dispatch, "_native_backward_saved", watch)
    for shape, over in (((1, 1, 4, 4), False), ((1, 1, 8, 8), True), ((2, 4, 64, 64), True)):
        kept.clear()
        x = _input(shape).requires_grad_(True)
        assert (x.numel() * 4 >= _dispatch.OVER_STATE_MIN_BYTES) == over
        p_pool2d(x, 2.0, 2).backward(_grad_output((*shape[:2], shape[2] // 2, shape[3] // 2),
                                                  torch.float32))
        assert len(kept) == 1 and (kept[0][0] == kept[0][1]) == over
