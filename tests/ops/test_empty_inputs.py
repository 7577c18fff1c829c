"""Empty tensors, as torch's pooling takes them: an empty batch (N = 0) gives an empty output,
an input gradient of the input's shape and a zero parameter gradient, on every function and
layer and in every dtype; an empty channel axis is an error that names it. Until 2026-12-05 an
empty batch stopped the process (SIGFPE: the C++ kernel's thread split divided by the plane
count) or raised "cannot reshape tensor of 0 elements" on the pure-torch path."""

from __future__ import annotations

import pytest
import torch

import ppverify.ops as P
from ppverify.ops import _dispatch, _native

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]

LAYERS = {
    "PPool2d": lambda: P.PPool2d(3, 2, 1, alpha=2.0),
    "PPool1d per channel": lambda: P.PPool1d(2, alpha=2.0, num_channels=3),
    "AdaptivePPool3d": lambda: P.AdaptivePPool3d((2, 1, 2), alpha=2.0),
    "PowerMean2d": lambda: P.PowerMean2d(2, p=3.0),
    "AdaptivePowerMean2d per channel": lambda: P.AdaptivePowerMean2d(2, p=3.0, num_channels=3),
    "GeM": lambda: P.GeM(p=3.0),
    "LPPool2d": lambda: P.LPPool2d(2.0, 2, learnable=True),
}
SPATIAL = {"PPool1d per channel": (6,), "AdaptivePPool3d": (4, 3, 5)}


@pytest.mark.parametrize("path", ["dispatched", "pure torch"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_an_empty_batch_gives_empty_outputs_and_zero_parameter_gradients(name, dtype, path,
                                                                         monkeypatch):
    if path == "pure torch":
        monkeypatch.setattr(_dispatch, "BACKENDS", (_dispatch.TORCH,))
    layer = LAYERS[name]().to(dtype)
    spatial = SPATIAL.get(name, (6, 5))
    full = torch.rand(2, 3, *spatial, dtype=dtype) + 0.1
    x = full[:0].clone().requires_grad_(True)
    y = layer(x)
    assert y.shape == (0,) + layer(full).shape[1:] and y.dtype == dtype
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    params = list(layer.parameters())
    assert params, name  # every layer here has a learnable exponent
    for p in params:
        assert p.grad is not None and torch.equal(p.grad, torch.zeros_like(p))
    with torch.no_grad():
        assert layer(x).shape == y.shape


@pytest.mark.parametrize("fn, extra", [(P.p_pool2d, (2,)), (P.gem_pool2d, (2,)),
                                       (P.lp_pool2d, (2,)), (P.adaptive_p_pool2d, ((3, 2),)),
                                       (P.adaptive_gem_pool2d, (1,))])
def test_functions_with_an_empty_batch_and_a_per_channel_exponent(fn, extra):
    param = torch.tensor([2.0, 3.0, 0.5], requires_grad=True)
    x = torch.rand(0, 3, 6, 6, requires_grad=True)
    y = fn(x, param, *extra)
    assert y.shape[:2] == (0, 3)
    y.sum().backward()
    assert torch.equal(param.grad, torch.zeros(3)) and x.grad.shape == x.shape


@pytest.mark.parametrize("shape", [(2, 0, 6, 6), (0, 0, 6, 6), (0, 6, 6)])
def test_an_empty_channel_axis_is_an_error_that_names_it(shape):
    for call in (lambda x: P.p_pool2d(x, 2.0, 2), lambda x: P.adaptive_gem_pool2d(x, 3.0, 1),
                 P.PPool2d(2, alpha=2.0), P.GeM(p=3.0)):
        with pytest.raises(ValueError, match=r"input has no channels \(shape "):
            call(torch.rand(shape))


@pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built here")
def test_the_kernel_refuses_a_plan_without_planes():
    # a plan for N = 0 reaches the kernel only if the dispatcher's test is lost; the kernel
    # itself must then refuse it (status 3, "invalid call"), not divide by zero
    layout = P._layout.windowed(2, 2)
    plan = _native.make_plan("ppool", layout, (0, 3, 6, 6), torch.float32, False, 0, (3, 3))
    x, out = torch.rand(1), torch.empty(1)
    with pytest.raises(RuntimeError, match="invalid call"):
        _native.forward(plan.ctypes.data, x, torch.tensor([2.0], dtype=torch.float64), out)


def test_the_native_backend_does_not_take_empty_tensors():
    x = torch.rand(0, 3, 6, 6)
    assert not _dispatch._native_accepts("ppool", P._layout.windowed(2, 2), x)
