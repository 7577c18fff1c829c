"""The state-saving custom op pair: a compiled graph's backward from the forward's saved state,
as eager autograd's (``_dispatch._EagerPool``), instead of a recomputation of the forward.

What torch sees
---------------
``ppverify::pool_saving(x, param, op, layout, validate, need_param) -> (y, s0, s1, s2, kind)``
and ``ppverify::pool_backward_saved(grad_y, x, param, s0, s1, s2, kind, op, layout,
saved_param, need_param) -> (grad_x, grad_param)``. ``pool_saving``'s autograd formula is
``pool_backward_saved``. ``s0``, ``s1``, ``s2`` are the bytes of the C++ kernel's saved state
(1-D ``uint8`` tensors whose sizes the fake implementation leaves data-dependent: unbacked
sizes, so the state's form may be chosen from values, as eager autograd's is, and from sizes
that a graph compiled with ``dynamic=True`` holds as symbols) and ``kind`` a 0-d ``int64``
tensor naming the form (``KINDS``; 0: no state). AOTAutograd keeps them between its forward
and backward graphs as it keeps any saved activation (so its partitioner and saved-tensor
hooks see them, as they see eager autograd's, which goes through ``save_for_backward``).

The state is exactly eager autograd's (``_dispatch._native_forward_saved``: the same forms,
chosen by the same rules, read by the same ``_dispatch._native_backward_saved``), so compiled
and eager gradients agree bit for bit. Where the forward saves none (another backend, a state
whose memory would not fit, a dy/dx beyond float32's range, windows the power engine handed
back), ``kind`` is 0 and the backward recomputes (``_dispatch.backward_impl``), as eager
autograd's does. Unlike eager autograd's, the backward writes the input's gradient to a new
tensor, never over the state (a custom op may not write over its inputs): its peak holds the
state and the gradient together.

``_dispatch._pool`` calls ``pool_saving`` under ``torch.compile`` where the input needs a
gradient, on CPU, and not while exporting (``torch.export``'s programs lower to the
deployment decomposition, which knows ``ppverify::pool``); ``torch.jit.trace`` and every other
graph hold ``ppverify::pool``, whose backward recomputes."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _dispatch, _layout, _native

#: the state's forms, by ``kind`` (0: none); each a tuple of ``_dispatch._native_forward_saved``'s
#: state slots that hold tensors: ``(jac, dw)``; ``(jac, dw, None, cw)``; ``(None, None, (E,
#: dw, ref))``; ``(None, dw, None, None, window_sums)``
KINDS = ("none", "jac", "power_overlap", "overlap", "window_sums")


def _bytes(t: Tensor | None) -> Tensor:
    """The bytes of a dense buffer the kernel wrote (any memory format), as a 1-D ``uint8``
    view; no buffer: no byte."""
    if t is None:
        return torch.empty(0, dtype=torch.uint8)
    return t.as_strided((t.numel(),), (1,)).view(torch.uint8)


def _tensor(b: Tensor, dtype: torch.dtype, shape, fmt=torch.contiguous_format) -> Tensor | None:
    """``_bytes``'s inverse: the buffer of ``dtype``, ``shape`` and memory format ``fmt`` whose
    bytes ``b`` holds (None for no byte)."""
    if b.numel() == 0:
        return None
    stride = torch.empty(shape, dtype=dtype, device="meta", memory_format=fmt).stride()
    return b.view(dtype).as_strided(tuple(shape), stride)


def _flat(b: Tensor, dtype: torch.dtype) -> Tensor | None:
    return None if b.numel() == 0 else b.view(dtype)


def _pack(state: tuple | None) -> tuple[int, tuple[Tensor, Tensor, Tensor]]:
    """``(kind, (s0, s1, s2))`` of a ``_native_forward_saved`` state."""
    if state is None:
        return 0, (_bytes(None), _bytes(None), _bytes(None))
    if len(state) == 2:
        return 1, (_bytes(state[0]), _bytes(state[1]), _bytes(None))
    if len(state) == 4:
        return 2, (_bytes(state[0]), _bytes(state[1]), _bytes(state[3]))
    if len(state) == 3:
        weights, dw, ref = state[2]
        return 3, (_bytes(weights), _bytes(dw), _bytes(ref))
    return 4, (_bytes(state[1]), _bytes(state[4]), _bytes(None))


def _unpack(kind: int, s0: Tensor, s1: Tensor, s2: Tensor, call, x: Tensor) -> tuple:
    """``_pack``'s inverse: the state as ``_native_backward_saved`` reads it."""
    fmt, out = call.fmt, call.out_shape
    if kind in (1, 2):
        jac = _tensor(s0, _native.jac_dtype(x.dtype), x.shape, fmt)
        dw = _tensor(s1, torch.float64, out, fmt)
        return (jac, dw) if kind == 1 else (jac, dw, None, _tensor(s2, torch.float64, out, fmt))
    if kind == 3:
        return None, None, (_flat(s0, _native.overlap_weights_dtype(x.dtype)),
                            _flat(s1, _native.overlap_dw_dtype(x.dtype)),
                            _flat(s2, torch.float64))
    # (the window state's dy/dalpha: float64, or float32 where windows share elements)
    dw_dtype = torch.float32 if s0.numel() == 4 * math.prod(out) else torch.float64
    return None, _tensor(s0, dw_dtype, out, fmt), None, None, _flat(s1, torch.float64)


@torch.library.custom_op("ppverify::pool_saving", mutates_args=())
def pool_saving_op(x: Tensor, param: Tensor, op: str, layout: list[int], validate: bool,
                   need_param: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``ppverify::pool``'s output and the kernel's saved state (module docstring; with
    ``need_param`` the state for the parameter's gradient too)."""
    geometry = _layout.decode(layout)
    _dispatch._check_shape(geometry, x.shape[2:])
    y, state = _dispatch.forward_saving(op, x, param, geometry, validate, need_param)
    kind, saved = _pack(state)
    return (y, *saved, torch.tensor(kind, dtype=torch.int64))


@pool_saving_op.register_fake
def _pool_saving_fake(x, param, op, layout, validate, need_param):
    y = _dispatch._pool_fake(x, param, op, layout, validate)
    ctx = torch.library.get_ctx()
    state = [x.new_empty((ctx.new_dynamic_size(),), dtype=torch.uint8) for _ in range(3)]
    return (y, *state, x.new_empty((), dtype=torch.int64))


@torch.library.custom_op("ppverify::pool_backward_saved", mutates_args=())
def pool_backward_saved_op(grad_y: Tensor, x: Tensor, param: Tensor, s0: Tensor, s1: Tensor,
                           s2: Tensor, kind: Tensor, op: str, layout: list[int],
                           saved_param: bool, need_param: bool) -> tuple[Tensor, Tensor]:
    """``(dL/dx, dL/dparam)`` from ``pool_saving``'s state (module docstring; ``saved_param``
    its ``need_param``); a recomputation where ``kind`` is 0. ``need_param`` (which needs
    ``saved_param``): whether dL/dparam is wanted (else it is zeros)."""
    geometry = _layout.decode(layout)
    k = int(kind)
    if k == 0:
        gx, gp = _dispatch.backward_impl(op, x, param, geometry, grad_y, need_param)
    else:
        call = _dispatch._native_call(op, geometry, x, param)
        state = _unpack(k, s0, s1, s2, call, x)
        gx, gp = _dispatch._native_backward_saved(op, x, param, geometry, grad_y, *state,
                                                  need_param=need_param, over_state=False)
        gx, gp = _dispatch.gradients_within_range(op, x, param, geometry, grad_y, gx, gp)
    if gp is None:
        gp = torch.zeros(param.shape, dtype=torch.float64, device=x.device)
    return gx, gp


@pool_backward_saved_op.register_fake
def _(grad_y, x, param, s0, s1, s2, kind, op, layout, saved_param, need_param):
    return _dispatch._pool_backward_fake(grad_y, x, param, op, layout, need_param)


def _saving_setup_context(ctx, inputs, output):
    x, param, op, layout, _, need_param = inputs
    _, s0, s1, s2, kind = output
    ctx.op, ctx.layout, ctx.need_param = op, layout, need_param
    ctx.mark_non_differentiable(s0, s1, s2, kind)
    ctx.save_for_backward(x, param, s0, s1, s2, kind)


def _saving_backward(ctx, grad_y, *_state_grads):
    x, param, s0, s1, s2, kind = ctx.saved_tensors
    need_param = ctx.need_param and ctx.needs_input_grad[1]
    gx, gp = torch.ops.ppverify.pool_backward_saved(grad_y, x, param, s0, s1, s2, kind, ctx.op,
                                                    ctx.layout, ctx.need_param, need_param)
    return (gx if ctx.needs_input_grad[0] else None,
            gp.to(param.dtype) if ctx.needs_input_grad[1] else None, None, None, None, None)


pool_saving_op.register_autograd(_saving_backward, setup_context=_saving_setup_context)


def wants_state(x: Tensor) -> bool:
    """Whether ``_dispatch._pool``, under ``torch.compile``, calls ``pool_saving`` (its
    backward from the saved state) rather than ``ppverify::pool`` (module docstring): a
    gradient of the input is wanted, on CPU, and not while exporting. Read while dynamo
    traces: each test is a constant of the trace (guarded)."""
    return (torch.is_grad_enabled() and x.requires_grad and x.device.type == "cpu"
            and not torch.compiler.is_exporting())
