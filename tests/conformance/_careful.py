"""Careful float implementations of every operator, written for the tests, independent of
``ppverify.ops`` and of ``ppverify.windows``: the checker must pass them with no false alarm.

"Careful" means what a good implementation does, no more: it computes in the input's working
precision (float64 for float64 inputs, float32 for float32, float16 and bfloat16), normalises
each window by its largest element (smallest positive one for a negative exponent; the
normaliser is a constant for autograd, which is exact by homogeneity), raises powers of numbers
in (0, 1] with ``torch.pow``, and lets autograd differentiate. It follows the oracle's documented
conventions at zeros and ties (``ppverify/oracle/operators.py``). ``make(op, dims, pooling)``
returns a function with the calling convention ``ppverify check`` uses for that pooling mode:
windowed ``f(input, [param,] kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False
[, count_include_pad])``, adaptive ``f(input, [param,] output_size)``, global
``f(input[, param])``. ``work="float64"`` computes everything in float64 instead.
"""

from __future__ import annotations

import itertools
import math

import torch

HAS_PARAM = {"ppool": True, "powermean": True, "lp": True, "avg": False, "max": False,
             "min": False}


def _value(param) -> float:
    return float(param.detach() if isinstance(param, torch.Tensor) else param)


def _tuple(v, dims, name):
    if isinstance(v, int):
        return (v,) * dims
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        v = v * dims
    if len(v) != dims:
        raise ValueError(f"{name} must have {dims} entries")
    return v


def _axis_windows(length, k, s, p, d, ceil):
    """torch's rule (documented in torch.nn.MaxPool1d): positions, and band size per output."""
    num = length + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)
    out = num // s + 1
    if ceil and (out - 1) * s >= length + p:
        out -= 1
    if out < 1:
        raise ValueError("output size is too small")
    windows = []
    for o in range(out):
        start = o * s - p
        pos = [start + j * d for j in range(k)]
        band = sum(1 for q in pos if -p <= q < length + p)
        windows.append(([q for q in pos if 0 <= q < length], band))
    return windows


def _adaptive_axis(length, n):
    return [(list(range((i * length) // n, -((-(i + 1) * length) // n))), None)
            for i in range(n)]


def _layout(spatial, per_axis):
    """(W, K) flat indices, (W, K) mask, (W,) number of padded positions, output shape."""
    strides = [1] * len(spatial)
    for a in range(len(spatial) - 2, -1, -1):
        strides[a] = strides[a + 1] * spatial[a + 1]
    rows, pads = [], []
    for combo in itertools.product(*per_axis):
        positions = list(itertools.product(*(w[0] for w in combo)))
        band = math.prod(w[1] for w in combo) if combo[0][1] is not None else len(positions)
        rows.append([sum(q * st for q, st in zip(pos, strides)) for pos in positions])
        pads.append(band - len(positions))
    width = max(1, max(len(r) for r in rows))
    idx = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        idx[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = True
    out = tuple(len(a) for a in per_axis)
    return idx, mask, torch.tensor(pads), out


def _check_input(x, dims, op):
    if x.dim() not in (dims + 1, dims + 2):
        raise ValueError(f"expected a {dims + 1}-D or {dims + 2}-D input")
    if torch.isnan(x).any() or torch.isinf(x).any():
        raise ValueError("input must be finite")
    if op in ("ppool", "powermean", "lp") and (x < 0).any():
        raise ValueError("input must be non-negative")


def _reduce(op, win, mask, n_pad, include_pad, param):
    """Pool the gathered windows (..., W, K) (masked) in their dtype."""
    dt = win.dtype
    zero = torch.zeros((), dtype=dt)
    count = mask.sum(-1).to(dt)
    if op == "avg":  # scaled by the largest magnitude, so that the sum cannot overflow
        d = count + (n_pad.to(dt) if include_pad else 0)
        scale = torch.where(mask, win.abs(), zero).amax(-1, keepdim=True)
        scale = torch.where(scale > 0, scale, torch.ones((), dtype=dt)).detach()
        v = _Divide.apply(win, scale)
        return _Rescale.apply(torch.where(mask, v, zero).sum(-1) / d, scale[..., 0])
    if op in ("max", "min"):
        fill = torch.tensor(-math.inf if op == "max" else math.inf, dtype=dt)
        masked = torch.where(mask, win, fill)
        pick = masked.argmax(-1, keepdim=True) if op == "max" else \
            masked.argmin(-1, keepdim=True)
        y = masked.gather(-1, pick).squeeze(-1)
        return torch.where(mask.any(-1), y, fill)
    if op == "ppool":
        return _PPool.apply(win, mask, param)
    if op == "powermean" and _value(param) == 0:
        return _Geometric.apply(win, mask, param)
    return _PowerMean.apply(win, mask, param, op == "powermean")


class _Rescale(torch.autograd.Function):
    """``z * scale`` whose backward passes the gradient to ``z`` unscaled: for a result
    computed as ``scale * f(x / scale)`` with ``f`` of degree 1, the two scalings cancel exactly
    in the derivative, and not forming ``g * scale`` avoids its overflow."""

    @staticmethod
    def forward(ctx, z, scale):
        return z * scale

    @staticmethod
    def backward(ctx, g):
        return g, None


class _Divide(torch.autograd.Function):
    """``x / scale`` whose backward passes the gradient unscaled (the partner of _Rescale)."""

    @staticmethod
    def forward(ctx, x, scale):
        return x / scale

    @staticmethod
    def backward(ctx, g):
        return g, None


def _power(win, pos, m, logs, a):
    """(x / m)^a: ``pow`` where x / m is a normal number, ``exp(a ln(x / m))`` where it
    overflows or underflows."""
    one = torch.ones((), dtype=win.dtype)
    r = torch.where(pos, win, one) / m
    normal = torch.isfinite(r) & (r >= torch.finfo(win.dtype).tiny)
    return torch.where(normal, torch.pow(torch.where(normal, r, one), a), torch.exp(a * logs))


def _times_ratio(share, log_share, y, x):
    """share * y / x without overflow or a premature underflow of ``share``."""
    dt = x.dtype
    tiny = torch.finfo(dt).tiny
    ratio = y / x
    direct = share * ratio
    ok = torch.isfinite(ratio) & (share >= tiny / torch.finfo(dt).eps) & torch.isfinite(direct)
    safe_y = torch.where(y > 0, y, torch.ones((), dtype=dt))
    logged = torch.exp(log_share + torch.log(safe_y) - torch.log(x))
    return torch.where(ok, direct, torch.where(y > 0, logged, torch.zeros((), dtype=dt)))


def _normalised_logs(win, pos, m):
    """ln(x / m) for the positive elements, exact-ish also where x / m overflows."""
    one = torch.ones((), dtype=win.dtype)
    safe = torch.where(pos, win, one)
    r = safe / m
    normal = torch.isfinite(r) & (r >= torch.finfo(win.dtype).tiny)
    return torch.where(normal, torch.log(torch.where(normal, r, one)),
                       torch.log(safe) - torch.log(m))


class _PPool(torch.autograd.Function):
    """Lehmer mean of each window (..., W, K) with explicit stable derivatives."""

    @staticmethod
    def forward(ctx, win, mask, a):
        dt = win.dtype
        av = float(a.detach())
        zero, one = torch.zeros((), dtype=dt), torch.ones((), dtype=dt)
        pos = mask & (win > 0)
        zer = mask & (win == 0)
        npos, nzero = pos.sum(-1), zer.sum(-1)
        big = torch.where(pos, win, zero).amax(-1, keepdim=True)
        small = torch.where(pos, win, torch.tensor(math.inf, dtype=dt)).amin(-1, keepdim=True)
        m = torch.where(npos[..., None] > 0, big if av >= 0 else small, one)
        mx = torch.where(npos[..., None] > 0, big, one)
        logs = _normalised_logs(win, pos, m)
        # 0^0 = 1 at a = 0: every element counts
        w = mask.to(dt) if av == 0 else torch.where(pos, _power(win, pos, m, logs, a), zero)
        sw = w.sum(-1, keepdim=True).clamp_min(torch.finfo(dt).tiny)
        p = w / sw
        if av >= 0:
            y = mx.squeeze(-1) * (p * torch.where(mask, win / mx, zero)).sum(-1)
        else:  # weights sit on the small elements: y = m sum (x/m)^(a+1) / sum w
            t = torch.where(pos, _power(win, pos, m, logs, a + 1), zero)
            y = m.squeeze(-1) * (t.sum(-1) / sw.squeeze(-1))
        ctx.log_sw = torch.log(sw)
        special = (npos == 0) | ((nzero > 0) & (av < 0))
        y = torch.where(special, zero, y)
        ctx.save_for_backward(win, mask, p, y, logs, a)
        return y

    @staticmethod
    def backward(ctx, g):
        win, mask, p, y, logs, a = ctx.saved_tensors
        dt = win.dtype
        av = float(a.detach())
        zero = torch.zeros((), dtype=dt)
        pos = mask & (win > 0)
        zer = mask & (win == 0)
        n = mask.sum(-1, keepdim=True).to(dt)
        npos = pos.sum(-1, keepdim=True)
        nzero = zer.sum(-1, keepdim=True)
        yk = y[..., None]
        safe = torch.where(pos, win, torch.ones((), dtype=dt))
        # dy/dx_i = p_i ((a + 1) - a y / x_i), with p_i y / x_i formed without overflow
        py_x = _times_ratio(p, a * logs - ctx.log_sw, yk, safe)
        dx = torch.where(pos, (a + 1) * p - a * py_x, zero)
        if av == 0:
            dx = torch.where(mask, 1 / n, zero)
        elif av == 1:  # a zero's derivative is -y / sum x
            total = torch.where(pos, win, zero).sum(-1, keepdim=True)
            dx = torch.where(zer, -yk / total, dx)
        # a < 0 with a zero: y = 0; one zero gets 1 (a < -1), N (a = -1), inf -> 0
        if av < 0:
            c = torch.full_like(n, 1.0) if av < -1 else (n if av == -1 else 0 * n)
            at_zero = torch.where(zer & (nzero == 1), c, zero)
            dx = torch.where(nzero > 0, at_zero, dx)
        # all-zero window: 1 (a > 0), 1/N (a = 0), [N = 1] (a < 0)
        coef = (torch.ones_like(n) if av > 0 else 1 / n if av == 0 else (n == 1).to(dt))
        dx = torch.where(npos == 0, torch.where(mask, coef, zero), dx)
        # dy/da = sum p_i ln(x_i / m) (x_i - y)
        top = torch.where(mask, win, zero).amax().clamp_min(torch.finfo(dt).tiny)
        da = torch.where(pos, p * logs * (win / top - yk / top), zero).sum(-1)
        da = torch.where((npos.squeeze(-1) == 0) | ((nzero.squeeze(-1) > 0) & (av <= 0)),
                         zero, da)
        # sum_j g_j da_j, scaled by the largest element so that no partial sum overflows
        grad_a = (top * (g * da).sum()).reshape(a.shape) if a.requires_grad else None
        return g[..., None] * dx, None, grad_a


class _PowerMean(torch.autograd.Function):
    """Power mean (``mean=True``) or Lp norm of each window, explicit stable derivatives."""

    @staticmethod
    def forward(ctx, win, mask, p, mean):
        dt = win.dtype
        pv = float(p.detach())
        zero, one = torch.zeros((), dtype=dt), torch.ones((), dtype=dt)
        pos = mask & (win > 0)
        npos = pos.sum(-1)
        big = torch.where(pos, win, zero).amax(-1, keepdim=True)
        small = torch.where(pos, win, torch.tensor(math.inf, dtype=dt)).amin(-1, keepdim=True)
        m = torch.where(npos[..., None] > 0, big if pv > 0 else small, one)
        logs = _normalised_logs(win, pos, m)
        e = torch.where(pos, _power(win, pos, m, logs, p), zero)
        s = e.sum(-1)
        d = mask.sum(-1).to(dt) if mean else torch.ones_like(s)
        big_m = torch.where(npos > 0, s / d, one)
        yr = torch.pow(big_m, 1 / p)  # y / m, in [D^(-1/p), n^(1/p)]
        y = torch.where(npos > 0, m.squeeze(-1) * yr, zero)
        ctx.save_for_backward(win, mask, e, s, big_m, yr, m, logs, p, d, y)
        ctx.mean = mean
        return y

    @staticmethod
    def backward(ctx, g):
        win, mask, e, s, big_m, yr, m, logs, p, d, y = ctx.saved_tensors
        dt = win.dtype
        pv = float(p.detach())
        zero = torch.zeros((), dtype=dt)
        pos = mask & (win > 0)
        zer = mask & (win == 0)
        npos = pos.sum(-1, keepdim=True)
        sk = s[..., None].clamp_min(torch.finfo(dt).tiny)
        safe = torch.where(pos, win, torch.ones((), dtype=dt))
        share = e / sk
        # dy/dx_i = share_i * y / x_i, with y / x_i = yr * (m / x_i): y itself may overflow
        log_share = p * logs - torch.log(sk)
        ratio = yr[..., None] * (m / safe)
        direct = share * ratio
        ok = torch.isfinite(ratio) & torch.isfinite(direct) & \
            (share >= torch.finfo(dt).tiny / torch.finfo(dt).eps)
        logged = torch.exp(log_share + torch.log(yr[..., None]) - logs)
        dx = torch.where(pos, torch.where(ok, direct, logged), zero)
        if pv == 1:  # a zero's derivative: y / sum x = yr / s
            dx = torch.where(zer, yr[..., None] / sk, dx)
        n = mask.sum(-1, keepdim=True).to(dt)
        coef = n ** (-1 / pv) if ctx.mean else torch.ones_like(n)
        dx = torch.where(npos == 0, torch.where(mask, coef, zero), dx)
        # dy/dp = y (-ln M / p^2 + sum share_i ln(x_i / m) / p)
        q = yr * (-torch.log(big_m) / (p * p) + torch.where(pos, share * logs, zero).sum(-1) / p)
        q = torch.where(npos.squeeze(-1) > 0, q, zero)
        # sum_j g_j m_j q_j, scaled by the largest m so that terms cannot overflow on their own
        mm = m.squeeze(-1)
        top = mm.max().clamp_min(torch.finfo(dt).tiny)
        grad_p = top * (g * (mm / top) * q).sum() if p.requires_grad else None
        grad_p = None if grad_p is None else grad_p.reshape(p.shape)
        return g[..., None] * dx, None, grad_p, None


class _Geometric(torch.autograd.Function):
    """Geometric mean (power mean at p = 0) of each window."""

    @staticmethod
    def forward(ctx, win, mask, p):
        dt = win.dtype
        zero, one = torch.zeros((), dtype=dt), torch.ones((), dtype=dt)
        pos = mask & (win > 0)
        n = mask.sum(-1).to(dt)
        big = torch.where(pos, win, zero).amax(-1, keepdim=True)
        m = torch.where(pos.any(-1, keepdim=True), big, one)
        logs = torch.where(pos, torch.log(torch.where(pos, win, one) / m), zero)
        mean_log = logs.sum(-1) / n
        y = m.squeeze(-1) * torch.exp(mean_log)
        y = torch.where(pos.sum(-1) == n.to(torch.long), y, zero)
        ctx.save_for_backward(win, mask, y, logs, mean_log, p)
        return y

    @staticmethod
    def backward(ctx, g):
        win, mask, y, logs, mean_log, p = ctx.saved_tensors
        dt = win.dtype
        zero = torch.zeros((), dtype=dt)
        pos = mask & (win > 0)
        n = mask.sum(-1, keepdim=True).to(dt)
        safe = torch.where(pos, win, torch.ones((), dtype=dt))
        dx = torch.where(pos, y[..., None] / (n * safe), zero)
        dev = torch.where(pos, logs - mean_log[..., None], zero)
        dp = y * (dev * dev).sum(-1) / n.squeeze(-1) / 2
        grad_p = (g * dp).sum().reshape(p.shape) if p.requires_grad else None
        return g[..., None] * dx, None, grad_p


def make(op: str, dims: int, pooling: str = "windowed", work: str | None = None):
    """A careful implementation of ``op`` (see the module doc)."""
    has_param = HAS_PARAM[op]

    def run(x, param, geometry):
        _check_input(x, dims, op)
        if op == "lp" and _value(param) == 0:
            raise ValueError("p = 0")
        if op in ("lp", "powermean") and _value(param) < 0 and (x == 0).any():
            raise ValueError("zero input with a negative exponent")
        spatial = tuple(x.shape[-dims:])
        if pooling == "windowed":
            k, s, p, d, ceil, include = geometry
            per_axis = [_axis_windows(spatial[i], k[i], s[i], p[i], d[i], ceil)
                        for i in range(dims)]
        elif pooling == "adaptive":
            per_axis = [_adaptive_axis(spatial[i], geometry[i]) for i in range(dims)]
            include = False
        else:
            per_axis = [_adaptive_axis(spatial[i], 1) for i in range(dims)]
            include = False
        idx, mask, n_pad, out = _layout(spatial, per_axis)
        if op not in ("max", "min", "avg") and not mask.any(-1).all():
            raise ValueError("a window holds no input element")
        wdt = torch.float64 if (work == "float64" or x.dtype == torch.float64) \
            else torch.float32
        lead = x.shape[: x.dim() - dims]
        flat = x.to(wdt).reshape(*lead, -1)
        win = flat[..., idx]
        a = None
        if has_param:
            a = param.to(wdt) if isinstance(param, torch.Tensor) else \
                torch.tensor(_value(param), dtype=wdt)
            a = a.reshape(())
        y = _reduce(op, win, mask, n_pad, include, a)
        return y.reshape(*lead, *out).to(x.dtype)

    def windowed(input, param, kernel, stride, padding, dilation, ceil_mode, include):
        k = _tuple(kernel, dims, "kernel_size")
        s = k if stride is None or stride == () else _tuple(stride, dims, "stride")
        p = _tuple(padding, dims, "padding")
        d = _tuple(dilation, dims, "dilation")
        if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
            raise ValueError("kernel_size, stride, dilation must be positive")
        if any(pi > ki // 2 for pi, ki in zip(p, k)):
            raise ValueError("padding should be at most half of kernel_size")
        return run(input, param, (k, s, p, d, ceil_mode, include))

    if pooling == "windowed" and op == "avg":
        def pool(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
            return windowed(input, None, kernel_size, stride, padding, 1, ceil_mode,
                            count_include_pad)
    elif pooling == "windowed" and has_param:
        def pool(input, param, kernel_size, stride=None, padding=0, dilation=1,
                 ceil_mode=False):
            return windowed(input, param, kernel_size, stride, padding, dilation, ceil_mode,
                            False)
    elif pooling == "windowed":
        def pool(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
            return windowed(input, None, kernel_size, stride, padding, dilation, ceil_mode,
                            False)
    elif pooling == "adaptive":
        def pool(input, *args):
            param = args[0] if has_param else None
            size = _tuple(args[-1], dims, "output_size")
            if min(size) < 1:
                raise ValueError("output_size must be positive")
            return run(input, param, size)
    else:
        def pool(input, *args):
            return run(input, args[0] if has_param else None, None)

    pool.__qualname__ = f"careful_{op}_{pooling}{dims}d"
    return pool
