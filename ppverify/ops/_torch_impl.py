"""Pure-torch P-pooling: the portable implementation (and the fallback of the C++ fast path).

Every window is visited through ``prod(kernel_size)`` strided *views* of the (padded) input, one
per kernel offset, each of the output's shape: nothing is copied kernel-size-fold. All arithmetic
is in float64 whatever the input dtype, and every function here is made of differentiable torch
ops, so that the analytic backward can itself be differentiated (``gradgradcheck``).

Stable formulation (the mathematics and conventions are those of ``ppverify.ops.functional``)::

    y = Σ x^(α+1) / Σ x^α = R_n^(α+1) / R_d^α · Σ exp((α+1) ln(x/R_n)) / Σ exp(α ln(x/R_d))

with ``R_d`` (``R_n``) the element where ``α ln x`` (``(α+1) ln x``) is largest: the window's
max for a positive exponent, its smallest positive element for a negative one. Every exponent
is then <= 0, so nothing overflows, and the largest term is exactly 1. ``ln(x/R)`` is computed
from the binary decompositions ``x = m 2^e`` as ``log1p((m_x - m_R)/m_R) + (e_x - e_R) ln 2``
(``m_x - m_R`` is exact), which stays accurate for subnormals and ratios beyond the float range.
"""

from __future__ import annotations

import itertools
import math

import torch

LN2 = math.log(2.0)
COMPUTE = torch.float64


class _Sum:
    """Running compensated sum (Neumaier) of tensors; differentiable."""

    def __init__(self):
        self.s = None
        self.comp = None

    def add(self, t: torch.Tensor) -> None:
        if self.s is None:
            self.s, self.comp = t, torch.zeros_like(t)
            return
        u = self.s + t
        self.comp = self.comp + torch.where(self.s.abs() >= t.abs(), (self.s - u) + t,
                                            (t - u) + self.s)
        self.s = u

    def value(self) -> torch.Tensor:
        return self.s + self.comp


def _neumaier(terms):
    """Compensated sum of an iterable of tensors (Neumaier); differentiable."""
    acc = _Sum()
    for t in terms:
        acc.add(t)
    return acc.value()


def log_ratio(v: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """``ln(v / ref)`` for positive float64 ``v`` and ``ref``, accurate to a few ulp absolute
    (relative to ``max(1, |ln(v/ref)|)``), with the derivative of ``ln v`` (``ref`` constant)."""
    mv, ev = torch.frexp(v.detach())
    mr, er = torch.frexp(ref.detach())
    value = torch.log1p((mv - mr) / mr) + (ev - er).to(v.dtype) * LN2
    if v.requires_grad and torch.is_grad_enabled():
        lv = torch.log(v)
        value = value + (lv - lv.detach())
    return value


# ln 2 split so that k * LN2_HI is exact for |k| < 2**21 (fdlibm's constants)
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
_SPLITTER = 134217729.0  # 2**27 + 1, Dekker's split of a float64


def _two_prod(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a * b = p + e`` exactly (Dekker), for finite float64 without overflow in the split."""
    p = a * b
    ca = _SPLITTER * a
    a_hi = ca - (ca - a)
    a_lo = a - a_hi
    cb = _SPLITTER * b
    b_hi = cb - (cb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def power_ratio(v: torch.Tensor, ref: torch.Tensor, a: torch.Tensor,
                log: torch.Tensor | None = None) -> torch.Tensor:
    """``(v / ref) ** a`` for positive float64 ``v``, ``ref``, as ``exp(a ln(v / ref))`` with the
    product ``a ln(v / ref)`` carried in double-double.

    Rounding ``t = a ln(v/ref)`` to one double would cost ``|t| eps`` of relative error (35 eps
    for a 1e30 range); here ``ln(v/ref) = k LN2_HI + (k LN2_LO + ln(mv/mr))`` with the first term
    exact, ``a k LN2_HI`` is split exactly by Dekker's product, and ``exp(t_hi + t_lo)`` is
    ``exp(t_hi) + exp(t_hi) t_lo``. Derivatives are those of ``exp(a ln v)`` (``ref`` constant);
    ``log`` is ``log_ratio(v, ref)`` when the caller already has it.
    """
    with torch.no_grad():
        vd, ad = v.detach(), a.detach()
        mv, ev = torch.frexp(vd)
        mr, er = torch.frexp(ref.detach())
        k = (ev - er).to(vd.dtype)
        small = torch.log1p((mv - mr) / mr) + k * LN2_LO
        big = k * LN2_HI  # exact
        p, e = _two_prod(torch.broadcast_to(ad, big.shape), big)
        q = e + ad * small
        t_hi = p + q
        t_lo = q - (t_hi - p)
        e_hi = torch.exp(t_hi)
        value = e_hi + e_hi * t_lo  # exp(t_hi) (1 + t_lo) without rounding 1 + t_lo
        value = torch.where(torch.isfinite(value) | ~torch.isfinite(t_hi), value,
                            torch.exp(ad * (big + small)))
    if (v.requires_grad or a.requires_grad) and torch.is_grad_enabled():
        approx = torch.exp(a * (log_ratio(v, ref) if log is None else log))
        value = value + (approx - approx.detach())
    return value


class Windows:
    """The strided views of a padded input, one per kernel offset, and their validity masks."""

    def __init__(self, x: torch.Tensor, geometry, out_spatial):
        dims = geometry.dims
        spatial = x.shape[-dims:]
        pads = []
        self.needed = []
        for a in range(dims):
            k, s, p, d = (geometry.kernel_size[a], geometry.stride[a], geometry.padding[a],
                          geometry.dilation[a])
            need = (out_spatial[a] - 1) * s + (k - 1) * d + 1
            right = max(0, need - p - spatial[a])
            pads.append((p, right))
        self.pads = pads
        self.geometry = geometry
        self.out_spatial = tuple(out_spatial)
        self.spatial = tuple(spatial)
        flat = []
        for p, r in reversed(pads):
            flat += [p, r]
        self.xp = torch.nn.functional.pad(x, flat) if any(flat) else x
        # per-axis validity of each kernel offset's output positions
        self.axis_valid = []
        for a in range(dims):
            k, s, p, d = (geometry.kernel_size[a], geometry.stride[a], geometry.padding[a],
                          geometry.dilation[a])
            o = out_spatial[a]
            starts = torch.arange(o, device=x.device) * s - p
            self.axis_valid.append([((starts + j * d) >= 0) & ((starts + j * d) < spatial[a])
                                    for j in range(k)])
        self.offsets = list(itertools.product(*(range(k) for k in geometry.kernel_size)))

    def slices(self, offset):
        g = self.geometry
        sl = [slice(None), slice(None)]
        for a, j in enumerate(offset):
            start = j * g.dilation[a]
            sl.append(slice(start, start + (self.out_spatial[a] - 1) * g.stride[a] + 1,
                            g.stride[a]))
        return tuple(sl)

    def view(self, offset):
        return self.xp[self.slices(offset)]

    def valid(self, offset):
        """Boolean mask of shape ``out_spatial`` (broadcasts over batch and channel), or None
        when every position is an input element."""
        dims = self.geometry.dims
        mask = None
        for a, j in enumerate(offset):
            m = self.axis_valid[a][j]
            if bool(m.all()):
                continue
            shape = [1] * dims
            shape[a] = -1
            m = m.view(shape)
            mask = m if mask is None else mask & m
        if mask is None:
            return None
        return mask.expand(self.out_spatial)

    def scatter(self, contributions, like: torch.Tensor) -> torch.Tensor:
        """Sum per-offset output-shaped contributions (an iterable, consumed one at a time)
        back onto the (unpadded) input."""
        gp = torch.zeros(self.xp.shape, dtype=like.dtype, device=like.device)
        for offset, c in zip(self.offsets, contributions):
            sl = self.slices(offset)
            gp[sl] = gp[sl] + c
        dims = self.geometry.dims
        sl = [slice(None), slice(None)]
        for a in range(dims):
            p = self.pads[a][0]
            sl.append(slice(p, p + self.spatial[a]))
        return gp[tuple(sl)]


def _masks(v, valid):
    pos = v > 0
    zero = v == 0
    if valid is not None:
        pos = pos & valid
        zero = zero & valid
    return pos, zero


class _State:
    """Everything the forward and backward share about one batch of windows."""


def analyse(x64: torch.Tensor, a: torch.Tensor, win: Windows) -> _State:
    """Compute y and the per-window statistics (differentiably in ``x64`` and ``a``)."""
    st = _State()
    views = [win.view(o) for o in win.offsets]
    valids = [win.valid(o) for o in win.offsets]
    st.views, st.valids = views, valids
    masks = [_masks(v, m) for v, m in zip(views, valids)]
    st.pos = [p for p, _ in masks]
    st.zero = [z for _, z in masks]
    shape = views[0].shape
    f64 = x64.dtype
    n_valid = sum(((torch.ones((), dtype=f64, device=x64.device) if m is None else m.to(f64))
                   for m in valids), torch.zeros((), dtype=f64, device=x64.device))
    n_pos = sum(p.to(f64) for p in st.pos)
    n_zero = sum(z.to(f64) for z in st.zero)
    st.n_valid = torch.broadcast_to(n_valid, shape)
    st.n_pos, st.n_zero = n_pos, n_zero
    with torch.no_grad():
        xmax = views[0].detach().clone() if valids[0] is None else torch.where(
            valids[0], views[0].detach(), 0.0)
        xminpos = torch.where(st.pos[0], views[0].detach(), math.inf)
        for v, m, p in zip(views[1:], valids[1:], st.pos[1:]):
            vd = v.detach()
            xmax = torch.maximum(xmax, vd if m is None else torch.where(m, vd, 0.0))
            xminpos = torch.minimum(xminpos, torch.where(p, vd, math.inf))
        safe_max = torch.where(xmax > 0, xmax, 1.0)
        safe_min = torch.where(torch.isfinite(xminpos), xminpos, 1.0)
        ref_d = torch.where(a >= 0, safe_max, safe_min)
        ref_n = torch.where(a + 1 >= 0, safe_max, safe_min)
    st.ref_d, st.ref_n = ref_d, ref_n
    lr_d, ed, en = [], [], []
    for v, p in zip(views, st.pos):
        vs = torch.where(p, v, 1.0)
        ld = log_ratio(vs, ref_d)
        lr_d.append(torch.where(p, ld, 0.0))
        ed.append(torch.where(p, power_ratio(vs, ref_d, a, log=ld), 0.0))
        en.append(torch.where(p, power_ratio(vs, ref_n, a + 1), 0.0))
    st.lr_d, st.ed = lr_d, ed
    S = _neumaier(ed)
    T = _neumaier(en)
    st.S = torch.where(S > 0, S, 1.0)
    same = ref_n == ref_d
    factor = torch.where(same, ref_d, torch.pow(ref_n, a + 1) * torch.pow(ref_d, -a))
    y_general = factor * (T / st.S)
    total = _neumaier([v if m is None else torch.where(m, v, 0.0)
                       for v, m in zip(views, valids)])
    y_mean = total / st.n_valid
    a_b = torch.broadcast_to(a, shape)
    st.alpha = a_b
    st.all_zero = n_pos == 0
    st.neg_with_zero = (a_b < 0) & (n_zero > 0)
    y = torch.where(a_b == 0, y_mean, y_general)
    y = torch.where(st.all_zero | st.neg_with_zero, 0.0, y)
    st.y = y
    st.sum_pos = _neumaier([torch.where(p, v, 0.0) for v, p in zip(views, st.pos)])
    return st


def grads(st: _State, gy: torch.Tensor, win: Windows, like: torch.Tensor):
    """Analytic input and per-window alpha gradients (differentiable torch ops).

    ``x_i - y`` is never formed from the rounded ``y`` (for large |alpha| that loses everything
    to cancellation, and for subnormal inputs ``y`` itself is imprecise): with the dominant
    element ``R``, ``rho_j = x_j / R - 1`` and ``D = sum_j w_j rho_j = y / R - 1`` (a sum of
    same-signed terms),  ``(x_i - y) / x_i = (rho_i - D) / (x_i / R)``.
    """
    a = st.alpha
    y = st.y
    n_valid = st.n_valid
    one = torch.ones((), dtype=y.dtype, device=y.device)
    zero_t = torch.zeros((), dtype=y.dtype, device=y.device)
    ref = st.ref_d
    # per-window gradient of a zero element
    g_zero_pos = torch.where(a == 1, -y / torch.where(st.sum_pos > 0, st.sum_pos, 1.0), zero_t)
    g_zero_neg = torch.where(st.n_zero == 1,
                             torch.where(a < -1, one, torch.where(a == -1, n_valid, zero_t)),
                             zero_t)
    g_allzero = torch.where(a > 0, one, torch.where(
        a == 0, 1.0 / n_valid, torch.where(n_valid == 1, one, zero_t)))
    inv_n = 1.0 / n_valid

    def terms(j):  # weight, rho and x/R of kernel offset j, recomputed to save memory
        p = st.pos[j]
        vs = torch.where(p, st.views[j], ref)
        w = torch.where(a == 0, torch.where(p, inv_n, zero_t), st.ed[j] / st.S)
        return w, (vs - ref) / ref, vs / ref

    def weighted_rho(j):
        w, rho, _ = terms(j)
        return w * rho

    D = _neumaier(weighted_rho(j) for j in range(len(st.views)))
    D_ok = torch.isfinite(D)
    dalpha = _Sum()

    def contributions():
        for j in range(len(st.views)):
            v, p, z, m, lr = st.views[j], st.pos[j], st.zero[j], st.valids[j], st.lr_d[j]
            w, rho, ratio = terms(j)
            vs = torch.where(p, v, 1.0)
            ok = D_ok & torch.isfinite(ratio) & torch.isfinite(rho)
            rel = torch.where(ok, (rho - torch.where(ok, D, 0.0)) / torch.where(ok, ratio, 1.0),
                              (vs - y) / vs)
            g_general = w * (1.0 + a * rel)
            g_general = torch.where(p, g_general, torch.where(z, g_zero_pos, zero_t))
            g_neg = torch.where(z, g_zero_neg, zero_t)
            g = torch.where(a == 0, inv_n, torch.where(st.neg_with_zero, g_neg, g_general))
            g = torch.where(st.all_zero, g_allzero, g)
            if m is not None:
                g = torch.where(m, g, zero_t)
            # (x - y) = R * rel * x / R: keep the factor R outside the sum (subnormal inputs)
            dalpha.add(torch.where(p, w * lr * (rel * ratio), zero_t))
            yield g * gy

    gx = win.scatter(contributions(), like)
    da = dalpha.value()
    jump = (a == 0) & (st.n_zero > 0)
    da = torch.where(jump | st.all_zero | st.neg_with_zero, zero_t, da)
    return gx, da * gy, ref


def scale_pow2(t: torch.Tensor, k: int) -> torch.Tensor:
    """``t * 2**k`` without overflowing the power of two (|k| up to ~2100)."""
    k1 = k // 2
    return t * (2.0 ** k1) * (2.0 ** (k - k1))


def reduce_dalpha(da_rel: torch.Tensor, ref: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """``sum(da_rel * ref)`` over windows (per channel: over all dims but 1), computed with
    ``ref`` scaled by a common power of two, so that subnormal windows do not each round."""
    ref = torch.broadcast_to(ref, da_rel.shape).detach()
    top = float(ref.max()) if ref.numel() else 1.0
    e = int(torch.frexp(torch.tensor(top, dtype=torch.float64)).exponent)
    terms = da_rel * scale_pow2(ref, -e)
    dims = [d for d in range(terms.dim()) if d != 1] if per_channel else None
    total = terms.sum(dim=dims) if dims is not None else terms.sum()
    return scale_pow2(total, e)
