"""Lowering of ``ppverify::pool`` to standard aten ops, for deployment.

An exported program (``torch.export.export``) holds the custom op ``ppverify::pool``; runtimes
without ppverify (onnxruntime, ExecuTorch, AOTInductor on another machine) need it expressed in
standard ops. ``lower`` is that expression: the stable log-domain formulation in float64,
made of ``pad``, strided slices (or, for adaptive windows, an ``index_select`` with an index
computed by ``arange`` arithmetic), ``log``, ``exp``, ``log1p``, ``expm1``, max/min/sum
reductions, ``argmax`` and ``where``; no data-dependent control flow, so it traces with
symbolic sizes (every layout).

It is registered in torch's decomposition table (``torch._decomp``), which
``torch.onnx.export(..., dynamo=True)`` consults, so an ONNX export of a model with ``PPool2d``
needs nothing else; for other targets pass ``decompositions()`` to
``ExportedProgram.run_decompositions``. The op's conventions (zeros, all-zero windows, padding
excluded) are kept; validation is not: a window with a negative, NaN or infinite element, or a
non-finite parameter, gives NaN. Accuracy: this formulation has no double-double products and
no compensated sums; its error against the oracle is measured in ``tests/ops/test_decomp.py``
and stated in the README (the op itself remains the accurate reference).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from ..windows import AdaptiveGeometry, PoolGeometry, adaptive_axis_bounds
from . import _dispatch, _layout

F64 = torch.float64


def _windowed(x: Tensor, g: PoolGeometry):
    """``(X, valid)``: the windows stacked on a last axis, and which entries are elements."""
    dims = g.dims
    spatial = x.shape[2:]
    out = _layout.out_spatial(g, spatial)
    flat = []
    for a in reversed(range(dims)):  # right padding p + s - 1 always reaches ceil_mode's end
        flat += [g.padding[a], g.padding[a] + g.stride[a] - 1]
    xp = torch.nn.functional.pad(x, flat)
    axis_ok = []
    for a in range(dims):
        starts = torch.arange(out[a], device=x.device) * g.stride[a] - g.padding[a]
        axis_ok.append([(starts + j * g.dilation[a] >= 0) & (starts + j * g.dilation[a]
                                                             < spatial[a])
                        for j in range(g.kernel_size[a])])
    views, masks = [], []
    for offset in itertools.product(*(range(k) for k in g.kernel_size)):
        sl = [slice(None), slice(None)]
        mask = None
        for a, j in enumerate(offset):
            start = j * g.dilation[a]
            sl.append(slice(start, start + (out[a] - 1) * g.stride[a] + 1, g.stride[a]))
            shape = [1] * dims
            shape[a] = -1
            m = axis_ok[a][j].reshape(shape)
            mask = m if mask is None else mask & m
        views.append(xp[tuple(sl)])
        masks.append(torch.broadcast_to(mask, tuple(out)))
    return torch.stack(views, -1), torch.stack(masks, -1)


def _adaptive_axis(length, n_out: int, device):
    """One axis of an adaptive layout in tensor ops on a possibly symbolic ``length``: each
    output's element coordinates ``(n_out, k)`` (0 where the slot is past the window's end) and
    which slots are elements. Windows follow torch's rule, ``[floor(i L / n), ceil((i+1) L /
    n))``; ``k`` is the longest window when ``length`` is an int, else the bound
    ``ceil(L / n) + 1`` (every window is shorter: ``ceil(a) - floor(b) < a - b + 2``), its
    extra slots masked. Tensor ops, not a precomputed index, so that ``torch.export`` traces
    them (a constant index tensor cannot be added to an exported program by a decomposition)."""
    i = torch.arange(n_out, device=device)
    starts = (i * length) // n_out
    ends = -((-(i + 1) * length) // n_out)
    if isinstance(length, int):
        k = max(end - start for start, end in adaptive_axis_bounds(length, n_out))
    else:
        k = (length + n_out - 1) // n_out + 1
    pos = starts[:, None] + torch.arange(k, device=device)
    ok = pos < ends[:, None]
    return torch.where(ok, pos, 0), ok


def _adaptive(x: Tensor, g: AdaptiveGeometry):
    """``(X, valid)`` for an adaptive layout: windows gathered on a last axis (one
    ``index_select`` of the flattened plane), and which entries are elements."""
    dims = g.dims
    if g.is_global:
        X = x.reshape(x.shape[0], x.shape[1], *[1] * dims, math.prod(x.shape[2:]))
        return X, torch.ones(X.shape[2:], dtype=torch.bool, device=x.device)
    spatial = tuple(x.shape[2:])
    out = _layout.out_spatial(g, spatial)
    flat, valid, stride, ks = 0, True, 1, [0] * dims
    for a in reversed(range(dims)):  # row-major: the last axis has stride 1
        pos, ok = _adaptive_axis(spatial[a], out[a], x.device)
        ks[a] = pos.shape[1]
        shape = [1] * (2 * dims)  # (*out, *kernel): output axis a, kernel axis dims + a
        shape[a], shape[dims + a] = out[a], ks[a]
        flat = flat + pos.reshape(shape) * stride
        valid = ok.reshape(shape) & valid
        stride = stride * spatial[a]
    K = math.prod(ks)
    flat = torch.broadcast_to(flat, (*out, *ks)).reshape(-1)
    valid = torch.broadcast_to(valid, (*out, *ks)).reshape(*out, K)
    X = x.reshape(x.shape[0], x.shape[1], math.prod(spatial)).index_select(2, flat)
    return X.reshape(x.shape[0], x.shape[1], *out, K), valid


def _log_ratio(v: Tensor, ref: Tensor) -> Tensor:
    """``ln(v / ref)``: from the quotient when it is a normal float64, else ln v - ln ref."""
    r = v / ref
    normal = (r >= 2.2250738585072014e-308) & (r <= 1.7976931348623157e308)
    return torch.where(normal, torch.log(torch.where(normal, r, 1.0)),
                       torch.log(v) - torch.log(ref))


def _ppool(X, M, pos, zero, n, a):
    n_zero = zero.sum(-1)
    xmax = torch.where(M, X, 0.0).amax(-1)
    xminpos = torch.where(pos, X, math.inf).amin(-1)
    safe_max = torch.where(xmax > 0, xmax, 1.0)
    safe_min = torch.where(xminpos < math.inf, xminpos, 1.0)
    ref_d = torch.where(a >= 0, safe_max, safe_min)
    ref_n = torch.where(a + 1 >= 0, safe_max, safe_min)
    xs = torch.where(pos, X, 1.0)
    ed = torch.where(pos, torch.exp(a[..., None] * _log_ratio(xs, ref_d[..., None])), 0.0)
    en = torch.where(pos, torch.exp((a[..., None] + 1) * _log_ratio(xs, ref_n[..., None])), 0.0)
    S, T = ed.sum(-1), en.sum(-1)
    S = torch.where(S > 0, S, 1.0)
    # R_n^(a+1) / R_d^a = R_d (R_n / R_d)^(a+1), the ratio within one window
    factor = torch.where(ref_n == ref_d, ref_d,
                         ref_d * torch.exp((a + 1) * _log_ratio(ref_n, ref_d)))
    mean = safe_max * (torch.where(M, X / safe_max[..., None], 0.0).sum(-1) / n)  # no overflow
    y = torch.where(a == 0, mean, factor * (T / S))
    kill = (pos.sum(-1) == 0) | ((a < 0) & (n_zero > 0))
    return torch.where(kill, 0.0, y), torch.zeros_like(kill)


def _power(X, M, pos, zero, n, p, lp: bool):
    n_zero = zero.sum(-1)
    xmax = torch.where(M, X, 0.0).amax(-1)
    xmin = torch.where(pos, X, math.inf).amin(-1)
    ref = torch.where(p < 0, xmin, xmax)
    ref = torch.where((ref > 0) & (ref < math.inf), ref, 1.0)
    xs = torch.where(pos, X, ref[..., None])
    lr = torch.where(pos, _log_ratio(xs, ref[..., None]), 0.0)
    t = p[..., None] * lr
    e = torch.where(pos, torch.exp(t), 0.0)
    first = torch.arange(X.shape[-1], device=X.device) == e.argmax(-1, keepdim=True)
    rest = torch.where(first, 0.0, e).sum(-1)
    if lp:
        G = torch.log1p(rest)
    else:
        m = torch.where(pos, torch.expm1(t), torch.where(M, -1.0, 0.0)).sum(-1) / n
        G = torch.where(m >= -0.5, torch.log1p(torch.where(m >= -0.5, m, 0.0)),
                        torch.log1p(rest) - torch.log(n))
    p_safe = torch.where(p == 0, 1.0, p)
    g = torch.where(p == 0, lr.sum(-1) / n, G / p_safe)
    y = ref * torch.exp(g)
    kill = (pos.sum(-1) == 0) | ((p == 0) & (n_zero > 0))
    domain = (p < 0) & (n_zero > 0)
    if lp:
        domain = domain | (p == 0)
    return torch.where(kill, 0.0, y), domain


def lower(x: Tensor, param: Tensor, op: str, layout: list[int], validate: bool) -> Tensor:
    """``ppverify::pool`` in standard aten ops (see the module docstring)."""
    geometry = _layout.decode(layout)
    X, M = (_adaptive(x, geometry) if isinstance(geometry, AdaptiveGeometry)
            else _windowed(x, geometry))
    X = X.to(F64)
    # (x == inf, not isinf: the ONNX exporter's IsInf casts float64 to float32 first, which
    # made every |x| > 3.4e38 "infinite" and the output NaN in onnxruntime)
    bad = (~(X >= 0) | X.eq(math.inf)) & M
    pos, zero = (X > 0) & M, (X == 0) & M
    n = M.sum(-1).to(F64)
    lead = {0: (1, 1), 1: (1, -1), 2: tuple(param.shape)}[param.dim()]  # (), (C,) or (N, C)
    a = param.to(F64).reshape(*lead, *[1] * geometry.dims)
    a = torch.broadcast_to(a, X.shape[:-1])
    if op == "ppool":
        y, domain = _ppool(X, M, pos, zero, n, a)
    else:
        y, domain = _power(X, M, pos, zero, n, a, lp=op == "lp")
    nan = bad.any(-1) | domain | ~((a > -math.inf) & (a < math.inf))
    return torch.where(nan, math.nan, y).to(x.dtype)


def decompositions() -> dict:
    """``{torch.ops.ppverify.pool.default: lower}``, for
    ``ExportedProgram.run_decompositions`` (add it to ``torch.export.default_decompositions()``
    to get core aten ops too)."""
    return {torch.ops.ppverify.pool.default: lower}


def _register() -> None:
    """Put ``lower`` in torch's decomposition table (read by ``torch.onnx.export``).

    FakeTensor, tracing with symbolic sizes, prefers a decomposition-table entry to an op's own
    fake implementation unless the op has a "meta" entry; without one, ``torch.compile(...,
    dynamic=True)`` and ``torch.export`` with dynamic shapes would trace ``lower`` just to
    learn the output's shape (adding guards that export's constraint solver rejects). The
    "meta" entry is only checked for membership; the op's registered fake implementation
    still computes the shape.
    """
    op = torch.ops.ppverify.pool.default
    torch._decomp.register_decomposition(op)(lower)
    torch._decomp.meta_table.setdefault(op, _dispatch._pool_fake)


_register()
