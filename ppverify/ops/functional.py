"""P-pooling as a torch op: ``p_pool1d``, ``p_pool2d``, ``p_pool3d``.

Mathematics
-----------
Over each pooling window ``R`` (torch's window layout, ``ppverify.windows``)::

    y = Σ_{i∈R} x_i^(α+1) / Σ_{i∈R} x_i^α           (the Lehmer mean of the window)

α = 0 is the average, α = -1 the harmonic mean, α → +∞ the max, α → -∞ the min. With
``w_i = x_i^α / Σ x^α`` the analytic derivatives are::

    dy/dx_i = w_i (1 + α (x_i - y) / x_i)          (= w_i((α+1) - α y / x_i), without cancellation)
    dy/dα   = Σ_i w_i ln(x_i / R) (x_i - y)        (any constant R; the op centres at the window's
                                                     dominant element to avoid cancellation)

Conventions (exactly the oracle's, ``ppverify.oracle.operators``)
-----------------------------------------------------------------
* Padded positions are *excluded* from the window (they are not zeros).
* Inputs must be finite and ``>= 0``. Zeros (``k`` of them among ``N`` window elements):

  - α = 0: ``0^0 = 1``: ``y`` is the mean of all ``N`` elements, ``dy/dx_i = 1/N``; with zeros
    and positives ``dy/dα`` is infinite (``y`` jumps at α = 0) and returned as 0.
  - α > 0: zeros drop out of both sums; at a zero ``dy/dx`` is 0 for α > 1, ``-y / Σ_{x>0} x``
    for α = 1, and ``-inf`` for 0 < α < 1, **returned as 0** (the infinite-derivative
    convention, never NaN).
  - α < 0: a zero makes ``y = 0``. With two or more zeros every derivative is 0; with exactly one
    zero, the positives get 0 and the zero gets 1 (α < -1), ``N`` (α = -1) or ``+inf``
    (-1 < α < 0) returned as 0. ``dy/dα = 0``.
  - an all-zero window: ``y = 0``; ``dy/dx_i`` is 1 for α > 0, ``1/N`` for α = 0, and for α < 0
    1 if ``N = 1`` else 0; ``dy/dα = 0``.

* Negative inputs are rejected (``x^α`` is not real for a non-integer α; the op does not
  implement the integer-α extension to negative inputs that the oracle evaluates exactly), as are
  NaN and infinite inputs and non-finite α.

Numerics: every window is evaluated relative to its dominant element (see
``ppverify.ops._torch_impl``), so no intermediate overflows for any finite input and any finite
α. All dtypes are computed in float64 and rounded once to the input's dtype.

Paths: on CPU, float32/float16/bfloat16 go through the compiled kernel
(``ppverify.ops._native``) when it is available; float64, other devices, double backward
(``create_graph=True``) and machines without a compiler use the pure-torch implementation.
"""

from __future__ import annotations

import functools

import torch

from ..windows import make_geometry, output_spatial_shape, split_batch_channel
from . import _native, _torch_impl

__all__ = ["p_pool1d", "p_pool2d", "p_pool3d", "p_pool"]

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


@functools.lru_cache(maxsize=256)
def _geometry(dims, kernel_size, stride, padding, dilation, ceil_mode):
    return make_geometry(dims, kernel_size, stride, padding, dilation, ceil_mode)


def _hashable(v, name: str):
    if v is None or isinstance(v, (int, bool, float, str, bytes)):
        return v  # hashable; make_geometry names the argument if the type is wrong
    if isinstance(v, torch.Tensor):
        raise TypeError(f"{name}: pooling sizes must be ints or tuples of ints, not tensors")
    try:
        return tuple(v)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of ints, got "
                        f"{type(v).__name__}") from None


def _empty_windows(geometry, spatial) -> int | None:
    """Return an axis with a window made only of padding (possible with dilation), else None."""
    from ..windows import axis_windows

    for a in range(geometry.dims):
        for w in axis_windows(spatial[a], geometry.kernel_size[a], geometry.stride[a],
                              geometry.padding[a], geometry.dilation[a], geometry.ceil_mode):
            if not w.indices:
                return a
    return None


@functools.lru_cache(maxsize=256)
def _checked_layout(geometry, spatial):
    out = output_spatial_shape(geometry, spatial)
    axis = _empty_windows(geometry, spatial)
    if axis is not None:
        raise ValueError(
            f"kernel_size {geometry.kernel_size} with padding {geometry.padding} and dilation "
            f"{geometry.dilation} gives a window along spatial axis {axis} that covers only "
            f"padding (input size {spatial}): P-pooling of an empty window is undefined"
        )
    return out


def _alpha_tensor(alpha, C: int, device) -> torch.Tensor:
    if isinstance(alpha, torch.Tensor):
        a = alpha
        if not a.is_floating_point():
            a = a.to(torch.float64)
    elif isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
        raise TypeError(f"alpha must be a float or a tensor, got {type(alpha).__name__}")
    else:
        a = torch.tensor(float(alpha), dtype=torch.float64, device=device)
    if a.dim() > 1 or (a.dim() == 1 and a.shape[0] not in (1, C)):
        raise ValueError(
            f"alpha must be a scalar or have one value per channel ({C}), got shape "
            f"{tuple(a.shape)}"
        )
    if a.dim() == 1 and a.shape[0] == 1:
        a = a.reshape(())
    if not bool(torch.isfinite(a.detach()).all()):
        raise ValueError(f"alpha must be finite, got {a.detach().cpu().tolist()}")
    return a


def _check_input(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"input must be float16, bfloat16, float32 or float64, got {x.dtype}")


def _check_values(x: torch.Tensor) -> None:
    xd = x.detach()
    if bool(torch.isnan(xd).any()):
        raise ValueError("input contains NaN: P-pooling needs finite, non-negative inputs")
    if bool(torch.isinf(xd).any()):
        raise ValueError("input contains inf: P-pooling needs finite, non-negative inputs")
    if bool((xd < 0).any()):
        raise ValueError(
            "input contains negative values: x**alpha is not real for a non-integer alpha; "
            "P-pooling needs non-negative inputs"
        )


def _alpha_view(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """alpha as float64 on x's device, shaped to broadcast over (N, C, *out_spatial)."""
    ndim = x.dim()
    a64 = a.to(device=x.device, dtype=torch.float64)
    if a64.dim() == 1:
        a64 = a64.view([1, -1] + [1] * (ndim - 2))
    return a64


SAVE_FOR_BACKWARD = False


class _PPoolFunction(torch.autograd.Function):
    """P-pooling with an analytic backward for the input and for alpha."""

    @staticmethod
    def forward(ctx, x, alpha, geometry, out_spatial):
        ctx.geometry = geometry
        ctx.out_spatial = out_spatial
        # The kernel can keep E (float32) and the unrounded y for the backward; measured, that
        # saves ~5% of the backward and costs gradient accuracy, so it is off.
        save = SAVE_FOR_BACKWARD and _use_native(x) and (x.requires_grad or alpha.requires_grad)
        with torch.no_grad():
            if save:
                y, e, y64 = _native_forward(x, alpha, geometry, out_spatial, save=True)
                ctx.save_for_backward(x, alpha, e, y64)
            else:
                y = _forward_impl(x, alpha, geometry, out_spatial)
                ctx.save_for_backward(x, alpha)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, alpha, *saved = ctx.saved_tensors
        gx, ga = _backward_impl(x, alpha, ctx.geometry, ctx.out_spatial, grad_output,
                                ctx.needs_input_grad[0], ctx.needs_input_grad[1], saved)
        return gx, ga, None, None


def _use_native(x: torch.Tensor) -> bool:
    """The compiled kernel serves CPU float32/float16/bfloat16; float64 and other devices use
    the pure-torch path (float64 needs the slower, more careful logarithms of ``_torch_impl``)."""
    return x.device.type == "cpu" and x.dtype != torch.float64 and _native.available()


def _native_args(x, alpha, geometry, out_spatial):
    dims = geometry.dims
    spatial = tuple(x.shape[-dims:])
    N, C = x.shape[0], x.shape[1]
    x3 = x.detach().to(torch.float32).contiguous().reshape((N * C,) + spatial)
    a = alpha.detach().to(torch.float64)
    a = (a.reshape(1, -1) if a.dim() == 1 else a.reshape(1, 1)).expand(N, C).contiguous()
    geo = _native.geometry_list(geometry, spatial, out_spatial)
    return x3, a.reshape(-1), geo


def _raise_bad_values(x):
    _check_values(x)
    raise ValueError("input contains negative, NaN or infinite values")


def _native_forward(x, alpha, geometry, out_spatial, save=False):
    """Forward through the compiled kernel; with ``save`` also return the kernel's saves for
    the backward (each plane's E in float32 and the unrounded output in float64)."""
    x3, a, geo = _native_args(x, alpha, geometry, out_spatial)
    y, bad, e, y64 = _native.forward_f32(x3, a, geo, save)
    if bool(bad):
        _raise_bad_values(x)
    y = y.reshape(tuple(x.shape[:2]) + tuple(out_spatial)).to(x.dtype)
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
            and not x.is_contiguous():
        y = y.contiguous(memory_format=torch.channels_last)
    return (y, e, y64) if save else y


def _native_backward(x, alpha, geometry, out_spatial, grad_output, want_x, want_alpha,
                     saved=()):
    x3, a, geo = _native_args(x, alpha, geometry, out_spatial)
    g3 = grad_output.detach().to(torch.float32).contiguous().reshape(
        (x3.shape[0],) + tuple(out_spatial))
    if saved:
        e, y64 = saved
    else:
        e = x3.new_empty(0)
        y64 = x3.new_empty(0, dtype=torch.float64)
    gin, dalpha = _native.backward_f32(x3, a, g3, e, y64, geo, bool(want_alpha))
    gx = gin.reshape(x.shape).to(x.dtype) if want_x else None
    if gx is not None and x.dim() == 4 and not x.is_contiguous() \
            and x.is_contiguous(memory_format=torch.channels_last):
        gx = gx.contiguous(memory_format=torch.channels_last)
    ga = None
    if want_alpha:
        da = dalpha.reshape(x.shape[0], x.shape[1])
        ga = (da.sum() if alpha.dim() == 0 else da.sum(0)).to(alpha.dtype)
    return gx, ga


def _forward_impl(x, alpha, geometry, out_spatial):
    if _use_native(x):
        return _native_forward(x, alpha, geometry, out_spatial)
    _check_values(x)
    x64 = x.to(torch.float64)
    win = _torch_impl.Windows(x64, geometry, out_spatial)
    st = _torch_impl.analyse(x64, _alpha_view(alpha, x), win)
    return st.y.to(x.dtype)


def _backward_impl(x, alpha, geometry, out_spatial, grad_output, want_x, want_alpha,
                   saved=()):
    if _use_native(x) and not torch.is_grad_enabled():
        return _native_backward(x, alpha, geometry, out_spatial, grad_output, want_x,
                                want_alpha, saved)
    x64 = x.to(torch.float64)
    a64 = _alpha_view(alpha, x)
    win = _torch_impl.Windows(x64, geometry, out_spatial)
    st = _torch_impl.analyse(x64, a64, win)
    gx64, da, ref = _torch_impl.grads(st, grad_output.to(torch.float64), win, x64)
    gx = gx64.to(x.dtype) if want_x else None
    ga = None
    if want_alpha:
        ga = _torch_impl.reduce_dalpha(da, ref, alpha.dim() == 1).to(alpha.dtype)
    return gx, ga


def p_pool(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
           dims: int):
    """P-pooling over ``dims`` spatial dimensions; see the module docstring."""
    _check_input(input)
    geometry = _geometry(dims, _hashable(kernel_size, "kernel_size"), _hashable(stride, "stride"),
                         _hashable(padding, "padding"), _hashable(dilation, "dilation"),
                         bool(ceil_mode))
    spatial = split_batch_channel(input.shape, dims)
    batched = input.dim() == dims + 2
    x = input if batched else input.unsqueeze(0)
    C = x.shape[1]
    a = _alpha_tensor(alpha, C, x.device)
    out_spatial = _checked_layout(geometry, spatial)
    y = _PPoolFunction.apply(x, a, geometry, out_spatial)
    return y if batched else y.squeeze(0)


def p_pool1d(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """1-D P-pooling of an ``(N, C, L)`` or ``(C, L)`` input; see ``ppverify.ops.functional``.

    ``alpha`` is a float, a 0-d tensor or a tensor of one value per channel; the other arguments
    are those of ``torch.nn.functional.max_pool1d``. Padded positions are excluded from windows.
    """
    return p_pool(input, alpha, kernel_size, stride, padding, dilation, ceil_mode, dims=1)


def p_pool2d(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """2-D P-pooling of an ``(N, C, H, W)`` or ``(C, H, W)`` input; see ``p_pool1d``."""
    return p_pool(input, alpha, kernel_size, stride, padding, dilation, ceil_mode, dims=2)


def p_pool3d(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """3-D P-pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input; see ``p_pool1d``."""
    return p_pool(input, alpha, kernel_size, stride, padding, dilation, ceil_mode, dims=3)
