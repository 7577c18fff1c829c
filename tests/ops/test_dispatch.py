"""The dispatcher: the custom ops' registrations (opcheck), the backend choice, validation
inside the op, and the vmap rule."""

from __future__ import annotations

import math

import pytest
import torch

from ppverify.ops import _dispatch, _layout, adaptive_p_pool2d, gem_pool2d, p_pool1d, p_pool2d


def _args(op, x, param, layout, validate=True):
    planes = torch.full(x.shape[:2], param, dtype=torch.float64)
    return (x, planes, op, _layout.encode(layout), validate)


@pytest.mark.parametrize("op, dtype, layout", [
    ("ppool", torch.float32, _layout.windowed(2, 3, 2, 1)),      # C++ kernel
    ("ppool", torch.float64, _layout.windowed(2, 2)),            # pure torch
    ("ppool", torch.float32, _layout.adaptive(2, (2, 3))),
    ("powermean", torch.float64, _layout.windowed(2, 2, 1, 0, 2, True)),
    ("lp", torch.bfloat16, _layout.adaptive(2, 1)),
])
def test_custom_ops_pass_opcheck(op, dtype, layout):
    x = (torch.rand(2, 3, 7, 6) + 0.1).to(dtype)
    args = _args(op, x, 2.0, layout)
    torch.library.opcheck(torch.ops.ppverify.pool.default, args)
    y = torch.ops.ppverify.pool(*args)
    torch.library.opcheck(torch.ops.ppverify.pool_backward.default,
                          (torch.ones_like(y), *args[:4], True))


def test_backend_choice():
    windowed, glob, uneven = (_layout.windowed(2, 2), _layout.adaptive(2, 1),
                              _layout.adaptive(2, (3, 2)))
    x = torch.rand(1, 1, 4, 4)
    expected = "native" if _dispatch._use_native(x) else "torch"
    assert _dispatch._backend("ppool", windowed, x) == expected
    assert _dispatch._backend("ppool", glob, x) == expected  # same windows as kernel 4
    assert _dispatch._backend("ppool", uneven, x) == expected  # the kernel takes any window
    assert _dispatch._backend("ppool", windowed, x.double()) == expected
    assert _dispatch._backend("powermean", windowed, x) == expected  # float32: the kernel
    assert _dispatch._backend("lp", uneven, x.half()) == expected
    assert _dispatch._backend("powermean", windowed, x.double()) == expected  # float64 too


def test_adaptive_layouts_with_windowed_equivalents():
    assert _layout.as_windowed(_layout.adaptive(2, 1), (5, 6)) == _layout.windowed(2, (5, 6))
    assert _layout.as_windowed(_layout.adaptive(2, (None, 3)), (5, 6)) == \
        _layout.windowed(2, (1, 2))
    assert _layout.as_windowed(_layout.adaptive(1, 4), (9,)) is None
    x = torch.rand(2, 3, 6, 6)
    via_kernel = adaptive_p_pool2d(x, 2.5, (2, 3))
    assert torch.equal(via_kernel, p_pool2d(x, 2.5, (3, 2)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("value, word", [(-1.0, "negative values"), (math.nan, "NaN"),
                                         (math.inf, "inf")])
def test_validation_names_the_element(dtype, value, word):
    x = torch.rand(2, 3, 4, 4, dtype=dtype)
    x[1, 2, 3, 0] = value
    with pytest.raises(ValueError, match=rf"{word} \(first at batch 1, channel 2, position "
                                         rf"\(3, 0\)\)"):
        p_pool2d(x, 2.0, 2)
    y = p_pool2d(x, 2.0, 2, validate=False)
    assert torch.isnan(y[1, 2, 1, 0]) and int(torch.isnan(y).sum()) == 1


def test_validation_of_a_tensor_parameter_happens_in_the_op():
    x = torch.rand(1, 2, 4, 4)
    alpha = torch.tensor([1.0, math.inf])
    with pytest.raises(ValueError, match=r"alpha must be finite, got \[inf\]"):
        p_pool2d(x, alpha, 2)
    y = p_pool2d(x, alpha, 2, validate=False)
    assert torch.isfinite(y[0, 0]).all() and torch.isnan(y[0, 1]).all()
    with pytest.raises(ValueError, match=r"p must be finite, got \[nan\]"):
        gem_pool2d(x, torch.tensor(math.nan), 2)


def test_unbatched_input_positions_are_named_in_the_batched_frame():
    x = torch.rand(2, 7)
    x[1, 4] = -2.0
    with pytest.raises(ValueError, match=r"batch 0, channel 1, position \(4,\)"):
        p_pool1d(x, 1.0, 3)


def test_custom_op_vmap_rule():
    x = torch.rand(5, 2, 3, 6, 6, dtype=torch.float64)
    planes = torch.rand(5, 2, 3, dtype=torch.float64) * 4 - 2
    code = _layout.encode(_layout.windowed(2, 3, 2, 1))
    ys = torch.vmap(lambda xi, pi: torch.ops.ppverify.pool(xi, pi, "ppool", code, True))(
        x, planes)
    for k in range(5):  # equal up to the last bit of a vectorised exp/log (batch sizes differ)
        assert torch.allclose(ys[k], torch.ops.ppverify.pool(x[k], planes[k], "ppool", code,
                                                             True), rtol=1e-15, atol=0)


def test_adaptive_output_larger_than_input_repeats_elements():
    x = torch.rand(1, 1, 2, 3, dtype=torch.float64)
    y = adaptive_p_pool2d(x, 5.0, (4, 6))  # every window is a single element
    assert torch.equal(y, torch.nn.functional.adaptive_max_pool2d(x, (4, 6)))


@pytest.mark.parametrize("param_shape, in_dim", [((), None), ((3,), None), ((), 0),
                                                  ((3,), 0), ((2, 3), 0)])
def test_custom_backward_op_vmap_rule(param_shape, in_dim):
    """vmap of pool_backward gives each sample's gradients, the parameter's in its shape."""
    B = 4
    x = torch.rand(B, 2, 3, 5, 5, dtype=torch.float64) + 0.1
    gy = torch.randn(B, 2, 3, 3, 3, dtype=torch.float64)
    shape = param_shape if in_dim is None else (B, *param_shape)
    param = torch.rand(shape, dtype=torch.float64) * 3 - 1
    code = _layout.encode(_layout.windowed(2, 3, 2, 1))

    def bwd(g, xi, pi):
        return torch.ops.ppverify.pool_backward(g, xi, pi, "ppool", code, True)

    gx, gp = torch.vmap(bwd, in_dims=(0, 0, in_dim))(gy, x, param)
    assert gp.shape == (B, *param_shape)
    for k in range(B):
        pk = param if in_dim is None else param[k]
        ex, ep = bwd(gy[k], x[k], pk)
        assert torch.allclose(gx[k], ex, rtol=1e-14) and torch.allclose(gp[k], ep, rtol=1e-12)
