"""The dispatcher: one pair of ``torch.library`` custom ops for every pooling operator, the
backend choice behind them, input validation, and the autograd / torch.func rules.

What torch sees
---------------
``ppverify::pool(x, param, op, layout, validate) -> y`` and
``ppverify::pool_backward(grad_y, x, param, op, layout, need_param) -> (grad_x, grad_param)``,
with ``x`` of shape ``(N, C, *spatial)``, ``param`` float64 of shape ``()``, ``(C,)`` or
``(N, C)`` (one value for all, per channel or per plane; ``grad_param`` has its shape, summed
over the windows with one common power-of-two scaling, so that partial sums of huge or
subnormal magnitude neither overflow nor round early), ``op`` one of ``OPERATORS`` and
``layout`` the integer code of ``ppverify.ops._layout``.
Both have fake (meta) implementations, so ``torch.compile(fullgraph=True)`` (any backend,
``dynamic=True``) and ``torch.export`` trace them as single opaque nodes, and a vmap rule
(the vmapped dimension joins the batch). ``ppverify.ops._decomp`` registers their lowering to
standard aten ops for deployment (``torch.onnx.export``, ``ExportedProgram.run_decompositions``).

Backends (one file each): ``_triton`` (Triton kernels: P-pooling of CUDA tensors, every layout
and dtype) when Triton is installed, ``_native`` (the C++ kernel: windowed P-pooling, CPU, float32
/ float16 / bfloat16) when available, otherwise ``_torch_impl`` (pure torch, every operator,
layout, dtype and device; ``_fallback`` warns once where a kernel could have served).

Validation happens inside the custom op's implementation, so it costs no graph break and no
guard in compiled or exported graphs and runs the same in eager mode, compiled code and an
exported program. With ``validate=True`` (the default) a negative, NaN or infinite element in
some window, a non-finite parameter, or a zero with p < 0 (power mean, Lp) raises
``ValueError`` naming the element; its cost: nothing extra on the C++ kernel (it flags bad
elements while reading them), one reduction over the output and one host synchronisation on
the pure-torch path. With ``validate=False`` those windows give NaN instead (no host
synchronisation at all); the deployment decomposition behaves the same way.

Autograd and torch.func
-----------------------
``_PoolFunction`` (an ``autograd.Function`` with ``setup_context``, ``jvp`` and
``generate_vmap_rule``) is what the public functions call in eager mode (under
``torch.compile`` and ``torch.jit.trace`` they call the custom op, whose own autograd formula is
the opaque backward). Its backward is the opaque
``pool_backward`` op, unless the graph must be differentiated again (``create_graph=True``, or
a torch.func transform such as ``hessian``): then it is the differentiable pure-torch formula.
``jvp`` (forward-mode AD, ``jacfwd``) is always the pure-torch formula. The custom op's own
autograd formula serves the graphs that call it directly (compiled code, exported programs,
traces).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import _fallback, _layout, _native, _torch_impl, _triton


@dataclass(frozen=True)
class Operator:
    """One pooling operator as the op layer knows it."""

    name: str          # "ppool", "powermean", "lp" (the oracle's names)
    title: str         # for messages
    param: str         # the parameter's name
    zero_param: bool   # whether param = 0 is in the domain
    native: bool       # whether the C++ kernel implements it


OPERATORS = {
    "ppool": Operator("ppool", "P-pooling", "alpha", True, True),
    "powermean": Operator("powermean", "the power mean", "p", True, False),
    "lp": Operator("lp", "the Lp norm", "p", False, False),
}


def _use_native(x: Tensor) -> bool:
    """The compiled kernel serves CPU float32/float16/bfloat16; float64 and other devices use
    the pure-torch path (float64 needs its slower, more careful logarithms)."""
    return x.device.type == "cpu" and x.dtype != torch.float64 and _native.available()


def _backend(op: str, layout, x: Tensor) -> str:
    """"triton" for P-pooling of CUDA tensors when Triton is available (``_triton.serves``),
    "native" when the C++ kernel serves this call (windowed P-pooling, or an adaptive layout
    with the same windows as a windowed one, e.g. global pooling), else "torch"."""
    if OPERATORS[op].native and _triton.serves(x):
        return "triton"
    if OPERATORS[op].native and _use_native(x) and \
            _layout.as_windowed(layout, tuple(x.shape[2:])) is not None:
        return "native"
    if OPERATORS[op].native:
        _fallback.note(x, layout)
    return "torch"


def _memory_format(x: Tensor):
    """Outputs and input gradients keep a channels-last input's layout (as torch's pooling)."""
    if x.dim() == 4 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and not x.is_contiguous() and \
            x.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _conform(t: Tensor, shape, fmt) -> Tensor:
    """``t`` with exactly the strides the fake implementation promises."""
    t = t.reshape(shape)
    want = torch.empty(shape, device="meta", memory_format=fmt).stride()
    if t.stride() == want:
        return t
    out = torch.empty(shape, dtype=t.dtype, device=t.device, memory_format=fmt)
    out.copy_(t)
    return out


# ------------------------------------------------------------------------------- validation


def _where(index) -> str:
    b, c, *pos = index
    return f"batch {b}, channel {c}, position {tuple(pos)}"


def diagnose(op: str, x: Tensor, param: Tensor) -> None:
    """Raise the ``ValueError`` that names why ``x`` / ``param`` are outside ``op``'s domain
    (called only after a check failed: it reads values back to the host)."""
    info = OPERATORS[op]
    bad_param = ~torch.isfinite(param)
    if bool(bad_param.any()):
        vals = ", ".join(dict.fromkeys(str(float(v)) for v in param[bad_param].tolist()))
        raise ValueError(f"{info.param} must be finite, got [{vals}]")
    if not info.zero_param and bool((param == 0).any()):
        raise ValueError(f"{info.param} = 0 is outside the domain of {info.title} "
                         f"(1/{info.param} is undefined)")
    xd = x.detach()
    for test, word in ((torch.isnan, "NaN"), (torch.isinf, "inf")):
        hits = test(xd).nonzero()
        if hits.shape[0]:
            raise ValueError(f"input contains {word} (first at {_where(hits[0].tolist())}): "
                             f"{info.title} needs finite, non-negative inputs")
    hits = (xd < 0).nonzero()
    if hits.shape[0]:
        raise ValueError(
            f"input contains negative values (first at {_where(hits[0].tolist())}): "
            f"x**{info.param} is not real for a non-integer {info.param}; {info.title} needs "
            f"non-negative inputs")
    if op != "ppool":
        planes = planes_of(param, x.shape[0], x.shape[1])
        plane_neg = planes.reshape(planes.shape + (1,) * (x.dim() - 2)) < 0
        hits = ((xd == 0) & plane_neg).nonzero()
        if hits.shape[0]:
            b, c = hits[0].tolist()[:2]
            raise ValueError(
                f"input element ({_where(hits[0].tolist())}) is 0 and {info.param} = "
                f"{float(planes[b, c])} < 0: x**{info.param} is infinite ({info.title} needs "
                f"positive inputs for a negative {info.param})")
    raise ValueError(f"input outside the domain of {info.title}")


# ------------------------------------------------------------------------------ custom ops


def planes_of(param: Tensor, N, C) -> Tensor:
    """The parameter as one value per (batch, channel) plane, shape ``(N, C)``."""
    if param.dim() == 0:
        return param.reshape(1, 1).expand(N, C)
    if param.dim() == 1:
        return param.reshape(1, -1).expand(N, C)
    return param


def reduce_planes(per_plane: Tensor, like: Tensor) -> Tensor:
    """A per-plane ``(N, C)`` gradient summed to the parameter's shape."""
    if like.dim() == 0:
        return per_plane.sum()
    if like.dim() == 1:
        return per_plane.sum(0)
    return per_plane


def _native_args(x: Tensor, param: Tensor, layout):
    spatial = tuple(x.shape[2:])
    layout = _layout.as_windowed(layout, spatial)
    out = _layout.out_spatial(layout, spatial)
    x3 = x.detach().to(torch.float32).contiguous().reshape((-1,) + spatial)
    a = planes_of(param.detach().to(torch.float64), x.shape[0], x.shape[1])
    a = a.contiguous().reshape(-1)
    return x3, a, _native.geometry_list(layout, spatial, out), out


@torch.library.custom_op("ppverify::pool", mutates_args=())
def pool_op(x: Tensor, param: Tensor, op: str, layout: list[int], validate: bool) -> Tensor:
    """Pool every (batch, channel) plane of ``x`` with operator ``op`` (module docstring)."""
    geometry = _layout.decode(layout)
    spatial = tuple(x.shape[2:])
    out = _layout.out_spatial(geometry, spatial)
    _layout.check_windows(geometry, spatial)
    shape = (x.shape[0], x.shape[1], *out)
    backend = _backend(op, geometry, x)
    if backend == "triton":
        y, flag = _triton.forward(x, param, geometry, _memory_format(x))
        if validate and bool(flag):  # one host synchronisation; the kernel NaNs bad windows
            diagnose(op, x, param)
        return y
    if backend == "native":
        x3, a, geo, _ = _native_args(x, param, geometry)
        y, bad, _, _ = _native.forward_f32(x3, a, geo)
        bad = bad or not bool(torch.isfinite(a).all())
        if bad and validate:
            diagnose(op, x, param)
        if bad:  # validation off: the pure-torch path gives NaN in the affected windows
            y = _torch_impl.forward(op, x, param, geometry)
        y = y.to(x.dtype)
    else:
        y = _torch_impl.forward(op, x, param, geometry)
        if validate and bool(torch.isnan(y).any()):
            diagnose(op, x, param)
    return _conform(y, shape, _memory_format(x))


@pool_op.register_fake
def _pool_fake(x, param, op, layout, validate):
    geometry = _layout.decode(layout)
    out = _layout.out_spatial(geometry, tuple(x.shape[2:]))
    return torch.empty((x.shape[0], x.shape[1], *out), dtype=x.dtype, device=x.device,
                       memory_format=_memory_format(x))


@torch.library.custom_op("ppverify::pool_backward", mutates_args=())
def pool_backward_op(grad_y: Tensor, x: Tensor, param: Tensor, op: str, layout: list[int],
                     need_param: bool) -> tuple[Tensor, Tensor]:
    """``(dL/dx, dL/dparam)`` (float64, ``param``'s shape) for the upstream ``grad_y``."""
    geometry = _layout.decode(layout)
    N, C = x.shape[0], x.shape[1]
    backend = _backend(op, geometry, x)
    if backend == "triton":
        gx, gp = _triton.backward(grad_y, x, param, geometry, need_param, _memory_format(x))
    elif backend == "native":
        x3, a, geo, out = _native_args(x, param, geometry)
        g3 = grad_y.detach().to(torch.float32).contiguous().reshape((-1,) + tuple(out))
        gin, dparam = _native.backward_f32(x3, a, g3, x3.new_empty(0),
                                           x3.new_empty(0, dtype=torch.float64), geo,
                                           need_param)
        gx = gin.to(x.dtype)  # per-plane float64 sums of float32 data cannot overflow:
        gp = reduce_planes(dparam.reshape(N, C), param) if need_param else None
    else:
        gx, gp = _torch_impl.backward(op, x, param, geometry, grad_y, need_param)
    if gp is None:
        gp = torch.zeros(param.shape, dtype=torch.float64, device=x.device)
    return _conform(gx, x.shape, _memory_format(x)), gp


@pool_backward_op.register_fake
def _(grad_y, x, param, op, layout, need_param):
    gx = torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=_memory_format(x))
    return gx, x.new_empty(param.shape, dtype=torch.float64)


def _op_setup_context(ctx, inputs, output):
    x, param, op, layout, _ = inputs
    ctx.op, ctx.layout = op, layout
    ctx.save_for_backward(x, param)


def _op_backward(ctx, grad_y):
    x, param = ctx.saved_tensors
    gx, gp = torch.ops.ppverify.pool_backward(grad_y, x, param, ctx.op, ctx.layout,
                                              ctx.needs_input_grad[1])
    return gx, gp.to(param.dtype), None, None, None


pool_op.register_autograd(_op_backward, setup_context=_op_setup_context)


def _merge_vmap_dim(info, in_dims, x, param):
    """Move the vmapped dimension of ``x`` into the batch, (B, N, ...) -> (B N, ...), and make
    ``param`` per plane, ``(B N, C)`` (each sample may have its own)."""
    B = info.batch_size
    xd, pd = in_dims[0], in_dims[1]
    x = x.movedim(xd, 0) if xd is not None else x.expand(B, *x.shape)
    N, C = x.shape[1], x.shape[2]
    if pd is None:
        planes = planes_of(param, N, C).expand(B, N, C)
    else:
        param = param.movedim(pd, 0)
        per = param.reshape(B, 1, 1) if param.dim() == 1 else (
            param.reshape(B, 1, C) if param.dim() == 2 else param)
        planes = per.expand(B, N, C)
    return B, x.reshape(B * N, *x.shape[2:]), planes.reshape(B * N, C)


def _pool_vmap(info, in_dims, x, param, op, layout, validate):
    B, xm, pm = _merge_vmap_dim(info, in_dims, x, param)
    y = torch.ops.ppverify.pool(xm, pm, op, layout, validate)
    return y.reshape(B, -1, *y.shape[1:]), 0


pool_op.register_vmap(_pool_vmap)


def _pool_backward_vmap(info, in_dims, grad_y, x, param, op, layout, need_param):
    """Per-sample gradients: the parameter's gradient has its (unbatched) shape per sample."""
    B = info.batch_size
    gd = in_dims[0]
    grad_y = grad_y.movedim(gd, 0) if gd is not None else grad_y.expand(B, *grad_y.shape)
    _, xm, pm = _merge_vmap_dim(info, in_dims[1:], x, param)
    gm = grad_y.reshape(B * grad_y.shape[1], *grad_y.shape[2:])
    gx, gp = torch.ops.ppverify.pool_backward(gm, xm, pm, op, layout, need_param)
    gp = gp.reshape(B, -1, gp.shape[-1])
    one = param if in_dims[2] is None else param.select(in_dims[2], 0)
    gp = gp.sum((1, 2)) if one.dim() == 0 else (gp.sum(1) if one.dim() == 1 else gp)
    return (gx.reshape(B, -1, *gx.shape[1:]), gp), (0, 0)


pool_backward_op.register_vmap(_pool_backward_vmap)


# ------------------------------------------------------------------------------- autograd


def _opaque_backward_ok(*tensors: Tensor) -> bool:
    """Whether the backward may be the opaque op: not when it must itself be differentiated
    (create_graph=True, or a torch.func transform tracking these tensors)."""
    if torch.is_grad_enabled():
        return False
    return not any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors)


class _PoolFunction(torch.autograd.Function):
    """The op for autograd and torch.func (see the module docstring)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, param, op, layout, validate):
        return torch.ops.ppverify.pool(x, param, op, layout, validate)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, param, op, layout, _ = inputs
        ctx.op, ctx.layout = op, layout
        ctx.save_for_backward(x, param)
        ctx.save_for_forward(x, param)

    @staticmethod
    def backward(ctx, grad_y):
        x, param = ctx.saved_tensors
        need_x, need_param = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if _opaque_backward_ok(grad_y, x, param):
            gx, gp = torch.ops.ppverify.pool_backward(grad_y, x, param, ctx.op, ctx.layout,
                                                      need_param)
        else:
            gx, gp = _torch_impl.backward(ctx.op, x, param, _layout.decode(ctx.layout), grad_y,
                                          need_param)
        return (gx if need_x else None, gp.to(param.dtype) if need_param else None, None,
                None, None)

    @staticmethod
    def jvp(ctx, x_tangent, param_tangent, *_):
        x, param = ctx.saved_tensors
        return _torch_impl.jvp(ctx.op, x, param, _layout.decode(ctx.layout), x_tangent,
                               param_tangent)


# ------------------------------------------------------------------------------ entry point

_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _param_tensor(param, op: str, C, device) -> Tensor:
    """The parameter as float64 of shape ``()`` or ``(C,)`` (a differentiable cast of a
    tensor); ``TypeError``/``ValueError`` naming it."""
    info = OPERATORS[op]
    if isinstance(param, Tensor):
        a = param
        if a.dim() > 1 or (a.dim() == 1 and a.shape[0] not in (1, C)):
            raise ValueError(f"{info.param} must be a scalar or have one value per channel "
                             f"({C}), got shape {tuple(a.shape)}")
        a = a.to(device=device, dtype=torch.float64)
        return a.reshape(()) if a.dim() == 1 and a.shape[0] == 1 else a
    if isinstance(param, bool) or not isinstance(param, (int, float)):
        raise TypeError(f"{info.param} must be a float or a tensor, got {type(param).__name__}")
    value = float(param)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{info.param} must be finite, got {value}")
    if value == 0 and not info.zero_param:
        raise ValueError(f"{info.param} = 0 is outside the domain of {info.title} "
                         f"(1/{info.param} is undefined)")
    return torch.tensor(value, dtype=torch.float64, device=device)


def pool(op: str, input: Tensor, param, layout, validate: bool = True) -> Tensor:
    """Pool ``input`` (``(N, C, *spatial)`` or unbatched ``(C, *spatial)``) with ``op`` and its
    parameter over ``layout`` (a windowed or adaptive geometry)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.dtype not in _FLOATS:
        raise TypeError(f"input must be float16, bfloat16, float32 or float64, got "
                        f"{input.dtype}")
    batched = _layout.check_rank(input.shape, layout.dims)
    x = input if batched else input.unsqueeze(0)
    param_t = _param_tensor(param, op, x.shape[1], x.device)
    if not torch.compiler.is_compiling():  # the fake implementation checks under tracing
        spatial = tuple(x.shape[2:])
        _layout.out_spatial(layout, spatial)
        if all(isinstance(s, int) for s in spatial):
            _layout.check_windows(layout, spatial)
    code = _layout.encode(layout)
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        # dynamo does not trace an autograd.Function with a jvp, and a TorchScript trace would
        # record it as an unsaveable Python op: the graph gets the op and its own autograd
        y = torch.ops.ppverify.pool(x, param_t, op, code, bool(validate))
    else:
        y = _PoolFunction.apply(x, param_t, op, code, bool(validate))
    return y if batched else y.squeeze(0)
