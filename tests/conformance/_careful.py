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

Its domain for the power mean and the Lp norm is the checker's exponents (|p| >= 0.05 in the
pools): at a tiny exponent ``(x/m)^p`` rounds to 1 in the working precision, so the result
tends to the window's normaliser instead of the geometric mean, and ``dy/dp``'s ``1/p^2`` is 0/0
(float32, p = 1e-10 on [1, 4]: 4 where 2 is right; p = 1.4e-36: dy/dp NaN). A test that draws
exponents freely (``ppverify.strategies.parameters`` reaches 1e-36) keeps to |p| >= 0.01.
``ppverify.ops`` has a small-exponent path of its own and no such limit.
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


def _reduce(op, flat, idx, mask, n_pad, include_pad, param):
    """Pool the windows ``flat[..., idx]`` (..., W, K) (masked) in ``flat``'s dtype."""
    if op == "ppool":
        return _PPool.apply(flat, idx, mask, param)
    if op in ("powermean", "lp") and _value(param) != 0:
        return _PowerMean.apply(flat, idx, mask, param, op == "powermean")
    win = flat[..., idx]
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
    return _Geometric.apply(win, mask, param)  # the power mean at p = 0


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


def _times_pow2(v, e):
    """``v * 2**e`` for an integer tensor ``|e| <= 3000``, in three exact steps (no
    intermediate overflow)."""
    third = torch.div(e, 3, rounding_mode="floor")
    for part in (third, third, e - 2 * third):
        v = v * torch.pow(2.0, part.to(v.dtype))
    return v


def _scatter_scaled(mant, k, idx, mask, n):
    """The input gradient ``sum over windows of mant * 2**k`` at each of the ``n`` flat
    positions (``mant``, ``k`` of shape (..., W, K), ``idx`` (W, K)).

    A window's dy/dx can exceed the working precision's range where the input gradient does
    not (a parameter just above 0 on a wide window: dy/dx ~ (m / x)^(1 - p)): each term is
    ``mant 2^k`` with ``mant`` in range, the terms of each element are scaled by the largest
    of their ``2^k`` before they are added, and the sum is scaled back once (inf only where it
    is beyond the range). Autograd's scatter of inf terms gave inf or NaN."""
    lead = mant.shape[:-2]
    live = mask & (mant != 0)
    low = torch.full_like(k, -(2**20))
    k = torch.where(live, k, low)
    flat_idx = idx.reshape(-1).expand(*lead, -1)
    top = torch.full((*lead, n), -(2**20), dtype=k.dtype)
    top = top.scatter_reduce(-1, flat_idx, k.reshape(*lead, -1), "amax")
    top = torch.where(top < -(2**19), torch.zeros_like(top), top)
    shift = (k - top[..., idx]).clamp(-3000, 0)
    terms = torch.where(live, _times_pow2(mant, shift), torch.zeros((), dtype=mant.dtype))
    acc = torch.zeros((*lead, n), dtype=mant.dtype)
    acc = acc.index_add(-1, idx.reshape(-1), terms.reshape(*lead, -1))
    return _times_pow2(acc, top)


def _root_pair(big_m, p):
    """``big_m^(1/p)`` as ``(mant, exp)`` with the value ``mant 2^exp``: from ``torch.pow``
    where the power is a normal number; from ``log2`` where it overflows or underflows (a
    small |p|: (n / D)^(1/p) reaches 125^20 for a 5 x 5 x 5 window and p = 0.05)."""
    dt = big_m.dtype
    yr = torch.pow(big_m, 1 / p)
    normal = torch.isfinite(yr) & (yr >= torch.finfo(dt).tiny)
    fm, fe = torch.frexp(torch.where(normal, yr, torch.ones((), dtype=dt)))
    l2 = torch.log2(big_m) / p
    le = torch.floor(l2) + 1
    return torch.where(normal, fm, torch.exp2(l2 - le)), torch.where(normal, fe, le.to(fe.dtype))


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
    def forward(ctx, flat, idx, mask, a):
        win = flat[..., idx]
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
        elif av <= -1:  # weights sit on the small elements: y = m sum (x/m)^(a+1) / sum w
            t = torch.where(pos, _power(win, pos, m, logs, a + 1), zero)
            y = m.squeeze(-1) * (t.sum(-1) / sw.squeeze(-1))
        else:  # -1 < a < 0: (x/m)^(a+1) overflows on a wide window; normalise it by the
            # largest element: y = mx (sum (x/mx)^(a+1) / sum w) (mx/m)^a, each factor <= 1
            t = torch.where(pos, _power(win, pos, mx, _normalised_logs(win, pos, mx), a + 1),
                            zero)
            r = mx / m
            spread = torch.exp(a * torch.where(torch.isfinite(r), torch.log(r),
                                               torch.log(mx) - torch.log(m)))
            y = mx.squeeze(-1) * ((t.sum(-1) / sw.squeeze(-1)) * spread.squeeze(-1))
        ctx.log_sw = torch.log(sw)
        special = (npos == 0) | ((nzero > 0) & (av < 0))
        y = torch.where(special, zero, y)
        ctx.save_for_backward(win, idx, mask, p, y, logs, a)
        ctx.n = flat.shape[-1]
        return y

    @staticmethod
    def backward(ctx, g):
        win, idx, mask, p, y, logs, a = ctx.saved_tensors
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
        # where y / x may overflow (y = ym 2^ye, x = xm 2^xe exactly, k = ye - xe > 0):
        # dy/dx = (p (a + 1) 2^-k - a p (ym / xm)) 2^k, the bracket in range
        ym, ye = torch.frexp(yk)
        xm, xe = torch.frexp(safe)
        k = (ye - xe).clamp_min(0)
        scaled = pos & (k > 0) & (p >= torch.finfo(dt).tiny / torch.finfo(dt).eps)
        bracket = (a + 1) * p * torch.pow(2.0, (-k).to(dt)) - a * (p * (ym / xm))
        dx = torch.where(scaled, bracket, dx)
        k = torch.where(scaled, k, torch.zeros_like(k))
        special = torch.zeros_like(pos)  # entries a convention sets (their k is 0)
        if av == 0:
            special = mask
            dx = torch.where(mask, 1 / n, zero)
        elif av == 1:  # a zero's derivative is -y / sum x
            total = torch.where(pos, win, zero).sum(-1, keepdim=True)
            special = special | zer
            dx = torch.where(zer, -yk / total, dx)
        # a < 0 with a zero: y = 0; one zero gets 1 (a < -1), N (a = -1), inf -> 0
        if av < 0:
            c = torch.full_like(n, 1.0) if av < -1 else (n if av == -1 else 0 * n)
            at_zero = torch.where(zer & (nzero == 1), c, zero)
            special = special | (nzero > 0)
            dx = torch.where(nzero > 0, at_zero, dx)
        # all-zero window: 1 (a > 0), 1/N (a = 0), [N = 1] (a < 0)
        coef = (torch.ones_like(n) if av > 0 else 1 / n if av == 0 else (n == 1).to(dt))
        special = special | (npos == 0)
        dx = torch.where(npos == 0, torch.where(mask, coef, zero), dx)
        k = torch.where(special, torch.zeros_like(k), k)
        # dy/da = sum p_i ln(x_i / m) (x_i - y)
        top = torch.where(mask, win, zero).amax().clamp_min(torch.finfo(dt).tiny)
        da = torch.where(pos, p * logs * (win / top - yk / top), zero).sum(-1)
        da = torch.where((npos.squeeze(-1) == 0) | ((nzero.squeeze(-1) > 0) & (av <= 0)),
                         zero, da)
        # sum_j g_j da_j, scaled by the largest element so that no partial sum overflows
        grad_a = (top * (g * da).sum()).reshape(a.shape) if a.requires_grad else None
        return _scatter_scaled(g[..., None] * dx, k, idx, mask, ctx.n), None, None, grad_a


class _PowerMean(torch.autograd.Function):
    """Power mean (``mean=True``) or Lp norm of each window, explicit stable derivatives."""

    @staticmethod
    def forward(ctx, flat, idx, mask, p, mean):
        win = flat[..., idx]
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
        ym, ye = _root_pair(big_m, p)  # y / m = ym 2^ye, in [D^(-1/p), n^(1/p)]
        mm, me = torch.frexp(m.squeeze(-1))
        y = torch.where(npos > 0, _times_pow2(mm * ym, me + ye), zero)
        ctx.save_for_backward(win, idx, mask, e, s, big_m, ym, ye, m, logs, p)
        ctx.mean, ctx.n = mean, flat.shape[-1]
        return y

    @staticmethod
    def backward(ctx, g):
        win, idx, mask, e, s, big_m, ym, ye, m, logs, p = ctx.saved_tensors
        dt = win.dtype
        pv = float(p.detach())
        zero = torch.zeros((), dtype=dt)
        pos = mask & (win > 0)
        zer = mask & (win == 0)
        npos = pos.sum(-1, keepdim=True)
        sk = s[..., None].clamp_min(torch.finfo(dt).tiny)
        safe = torch.where(pos, win, torch.ones((), dtype=dt))
        share = e / sk
        # dy/dx_i = share_i * y / x_i = share_i yr (m / x_i): yr may overflow, and so may
        # m / x_i (a small p on a wide window): with yr = ym 2^ye, m = mm 2^me and
        # x_i = xm 2^xe exactly, dy/dx_i = (share_i ym (mm / xm)) 2^(ye + me - xe)
        log_share = p * logs - torch.log(sk)
        mm, me = torch.frexp(m)
        xm, xe = torch.frexp(safe)
        ym_, ye_ = ym[..., None], ye[..., None]
        direct = share * (ym_ * (mm / xm))
        ok = torch.isfinite(direct) & (share >= torch.finfo(dt).tiny / torch.finfo(dt).eps)
        # elsewhere (share underflows) in logarithms, scaled by 2^kz: z = ln(share ym x/m)
        z = log_share + torch.log(ym_) - logs
        kz = torch.round(z / math.log(2))
        logged = torch.exp(z - kz * math.log(2))
        dx = torch.where(pos, torch.where(ok, direct, logged), zero)
        k = torch.where(pos, torch.where(ok, me - xe, kz.to(xe.dtype)) + ye_,
                        torch.zeros_like(xe))
        if pv == 1:  # a zero's derivative: y / sum x = yr / s
            dx = torch.where(zer, ym_ / sk, dx)
            k = torch.where(zer, ye_, k)
        n = mask.sum(-1, keepdim=True).to(dt)
        coef = n ** (-1 / pv) if ctx.mean else torch.ones_like(n)
        dx = torch.where(npos == 0, torch.where(mask, coef, zero), dx)
        k = torch.where(npos == 0, torch.zeros_like(k), k)
        # dy/dp = y (-ln M / p^2 + sum share_i ln(x_i / m) / p)
        q = -torch.log(big_m) / (p * p) + torch.where(pos, share * logs, zero).sum(-1) / p
        q = torch.where(npos.squeeze(-1) > 0, q, zero)
        # sum_j g_j y_j q_j with y_j = (mm_j ym_j) 2^(e_j) (e_j = me_j + ye_j), each term
        # scaled by 2^-E (E the largest e_j) so that none overflows on its own (y_j itself
        # may, or y_j / m_j where y_j does not: a small p on tiny values)
        grad_p = None
        if p.requires_grad:
            mw = mm.squeeze(-1)  # m = mm 2^me (above)
            e_all = (me.squeeze(-1) + ye).to(torch.int64)
            live = npos.squeeze(-1) > 0
            top = torch.where(live, e_all, torch.full_like(e_all, -(2**20))).max()
            top = top if bool(live.any()) else torch.zeros_like(top)
            terms = g * (mw * ym) * q
            grad_p = _times_pow2(_times_pow2(terms, (e_all - top).clamp(-3000, 0)).sum(), top)
        grad_p = None if grad_p is None else grad_p.reshape(p.shape)
        return _scatter_scaled(g[..., None] * dx, k, idx, mask, ctx.n), None, None, grad_p, \
            None


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
        a = None
        if has_param:
            a = param.to(wdt) if isinstance(param, torch.Tensor) else \
                torch.tensor(_value(param), dtype=wdt)
            a = a.reshape(())
        y = _reduce(op, flat, idx, mask, n_pad, include, a)
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
