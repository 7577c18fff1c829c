"""Pure-torch backend: P-pooling, the power mean and the Lp norm over any layout, on any device.

The portable implementation and the reference of the fast paths (``ppverify.ops._native``).
Every window of the layout is gathered into a last axis (``ppverify.ops._gather``), so the
windowed, adaptive and global forms share one formulation. Arithmetic is float64 whatever the
input dtype; for float64 inputs (``precise``) sums are compensated and ``x^a`` is formed with
``a ln(x/R)`` in double-double (``ppverify.ops._numerics``); for the narrower dtypes plain
float64 already carries ~29 spare bits. Everything is made of differentiable torch ops without
host synchronisation, so the analytic derivatives below can themselves be differentiated
(double backward, ``torch.func.hessian``) and vmapped.

P-pooling, stable formulation (mathematics and conventions: ``ppverify.ops.functional``)::

    y = Σ x^(α+1) / Σ x^α = R_n^(α+1) / R_d^α · Σ exp((α+1) ln(x/R_n)) / Σ exp(α ln(x/R_d))

with ``R_d`` (``R_n``) the element where ``α ln x`` (``(α+1) ln x``) is largest: the window's
max for a positive exponent, its smallest positive element for a negative one. Every exponent
is then <= 0, so nothing overflows, and the largest term is exactly 1.

Entry points (``op`` is ``"ppool"``, ``"powermean"`` or ``"lp"``; ``param`` is float64 of shape
``()``, ``(C,)`` or ``(N, C)``): ``forward``, ``backward`` (input gradient and the parameter's
gradient, of its shape) and ``jvp`` (forward-mode derivative).
"""

from __future__ import annotations

import math

import torch

from ._gather import window_index
from ._layout import Layout
from ._numerics import (
    _log_ratio_dd,
    _with_derivative,
    csum,
    log_ratio,
    pow2,
    power_ratio,
    scaled_power_ratio,
    scaled_sum,
    times_pow2_exact,
    two_prod,
    two_sum,
)

COMPUTE = torch.float64


class Windows:
    """One batch of gathered windows: ``X`` (N, C, *out, K) float64, the validity mask, the
    element counts and the parameter broadcast to the windows."""

    def __init__(self, x: torch.Tensor, param: torch.Tensor, layout: Layout):
        dims = layout.dims
        spatial = tuple(int(s) for s in x.shape[2:])
        self.index = window_index(layout, spatial, x.device)
        self.X = self.index.gather(x.to(COMPUTE))
        self.valid = self.index.valid
        self.n_valid = self.index.counts
        self.precise = x.dtype == torch.float64
        lead = {0: (1, 1), 1: (1, -1), 2: tuple(param.shape)}[param.dim()]
        self.param = param.to(COMPUTE).reshape(*lead, *[1] * dims)  # broadcasts to windows
        self.out_shape = tuple(self.X.shape[:-1])

    def mask(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` with the entries that are not input elements set to 0."""
        return t if self.valid is None else torch.where(self.valid, t, 0.0)

    def invalid_windows(self) -> torch.Tensor:
        """Windows holding a negative, NaN or infinite element (they give NaN when
        validation is off)."""
        bad = ~(self.X >= 0) | torch.isinf(self.X)
        if self.valid is not None:
            bad = bad & self.valid
        return bad.any(-1)

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        return csum(t, self.precise)


def _e(t: torch.Tensor) -> torch.Tensor:
    """A per-window tensor broadcast over the window's elements."""
    return t.unsqueeze(-1)


class ScaledTerms:
    """The window elements' derivatives ``g`` where they exceed float64's range, as
    ``m 2**k`` (``m`` and ``k`` float64, ``k`` integer-valued) at the entries of ``mask``.

    Beyond the range a derivative is still a finite contribution: a window's dy/dx of 1e400
    times a grad_output of 1e-100, or two such terms of opposite signs from two windows,
    make an input gradient that float64 holds. ``scatter`` sums the terms ``g gy`` of every
    element with one common scale per element (the largest ``k`` of its terms), so that
    nothing overflows before the sum is scaled back once (inf only where the sum itself is
    beyond the range; 0 where equal terms cancel, whatever the scale). The sums are
    compensated (``csum``): beyond the range a sum's sign is its value, right unless its
    terms cancel to below about n^2 2^-106 of their size."""

    def __init__(self, mask: torch.Tensor, m: torch.Tensor, k: torch.Tensor,
                 lo: torch.Tensor | None = None):
        self.mask, self.m, self.k, self.lo = mask, m, k, lo  # lo: m's low part, if any

    def where(self, keep: torch.Tensor) -> ScaledTerms:
        """Only the entries also in ``keep``."""
        return ScaledTerms(self.mask & keep, self.m, self.k, self.lo)

    def _terms(self, g: torch.Tensor, v: torch.Tensor):
        """The products ``g v`` (``g`` the derivatives where not ``mask``) as ``(m, k)``, ``v``
        split by ``frexp`` (exactly); ``m`` with one more axis: its exact product and its
        low part (the product's error and ``lo v``), for the compensated sums."""
        vm, ve = torch.frexp(v)
        m_hi, m_err = two_prod(torch.where(self.mask, self.m, g.detach()), vm)
        if self.lo is not None:
            m_err = m_err + torch.where(self.mask, self.lo, 0.0) * vm
        k = torch.where(self.mask, self.k, 0.0) + ve.to(COMPUTE)
        return torch.stack([m_hi, m_err], -1), k.unsqueeze(-1)

    def window_sum(self, g: torch.Tensor, t: torch.Tensor,
                   extra: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Each window's ``sum(g * t)`` over its elements (``t`` per element, as ``g``),
        with one scale per window as in ``scatter`` (forward-mode derivatives), plus
        ``extra = (m, k)``, one more term ``m 2^k`` per window (the parameter's)."""
        with torch.no_grad():
            m, k = self._terms(g, t)
            m, k = m.flatten(-2), k.expand_as(m).flatten(-2)  # (hi, lo) pairs side by side
            if extra is not None:
                m, k = torch.cat([m, _e(extra[0])], -1), torch.cat([k, _e(extra[1])], -1)
            top = _scale_of(torch.where(m != 0, k, -math.inf).amax(-1, keepdim=True))
            d1, d2 = pow2((k - top).clamp(-2100.0, 0.0).to(torch.int64))
            return times_pow2_exact(csum(m * d1 * d2), top[..., 0])

    def scatter(self, index, g: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
        """``index.scatter(g * gy)`` (``g`` the derivatives elsewhere, ``gy`` per window)
        summed as described above."""
        with torch.no_grad():
            m, k = self._terms(g, _e(gy))
            m_hi, m_lo, k = m[..., 0], m[..., 1], k[..., 0]
            top = _scale_of(index.scatter_amax(torch.where(m_hi != 0, k, -math.inf)))
            shift = (k - index.gather(top)).clamp(-2100.0, 0.0)  # 0 at padding: m is 0 there
            d1, d2 = pow2(shift.to(torch.int64))
            # compensated: beyond the range a sum's sign is its value (-d9 + d9 + d6 with
            # d6 = 1e-176 d9, added in that order, lost d6 and gave 0, or -inf for +inf)
            parts = torch.cat([index.scatter_apart(m_hi * d1 * d2),
                               index.scatter_apart(m_lo * d1 * d2)], -1)
            return times_pow2_exact(csum(parts), top)


def _scale_of(top: torch.Tensor) -> torch.Tensor:
    """A sum's common exponent: the largest ``k`` of its terms (0 where it has none). It may
    lie far beyond float64's exponents (the Lp norm's terms near 2^(1e8) at p = 1e-8): the
    terms are scaled by 2^(k - top) and the sum by 2^top with exact steps that keep an exact
    cancellation 0 (it was 0 x 2^2100, NaN)."""
    return torch.where(torch.isfinite(top), top, 0.0)


# ------------------------------------------------------------------------------- P-pooling


class _PPool:
    """Everything P-pooling's value and derivatives share about one batch of windows."""

    def __init__(self, w: Windows):
        self.w = w
        X, valid = w.X, w.valid
        a = torch.broadcast_to(w.param, w.out_shape)
        self.a = a
        pos, zero = X > 0, X == 0
        if valid is not None:
            pos, zero = pos & valid, zero & valid
        self.pos, self.zero = pos, zero
        self.n_valid = torch.broadcast_to(w.n_valid, w.out_shape)
        self.n_pos = pos.sum(-1, dtype=COMPUTE)
        self.n_zero = zero.sum(-1, dtype=COMPUTE)
        with torch.no_grad():
            Xd = X.detach()
            xmax = w.mask(Xd).amax(-1)
            self.xmax = xmax
            xminpos = torch.where(pos, Xd, math.inf).amin(-1)
            safe_max = torch.where(xmax > 0, xmax, 1.0)
            safe_min = torch.where(torch.isfinite(xminpos), xminpos, 1.0)
            ref_d = torch.where(a >= 0, safe_max, safe_min)
            ref_n = torch.where(a + 1 >= 0, safe_max, safe_min)
        self.ref_d, self.ref_n = ref_d, ref_n
        ae = _e(a)
        xs = torch.where(pos, X, 1.0)
        if w.precise:
            with torch.no_grad():  # ln(x/R) in double-double: once where R_n = R_d
                parts_d = _log_ratio_dd(xs, _e(ref_d))
                parts_n = (_log_ratio_dd(xs, _e(ref_n)) if _may_hold(ref_n != ref_d)
                           else parts_d)
            ld = log_ratio(xs, _e(ref_d), parts=parts_d)
            ed = power_ratio(xs, _e(ref_d), ae, log=ld, parts=parts_d)
            # alpha + 1 as an exact pair (its rounding would cost |ln(x/R)| times it)
            en = power_ratio(xs, _e(ref_n), ae + 1, a_lo=two_sum(ae.detach(), 1.0)[1],
                             parts=parts_n)
        else:
            ld = torch.log(xs / _e(ref_d))
            ed = torch.exp(ae * ld)
            en = torch.exp((ae + 1) * torch.log(xs / _e(ref_n)))
        self.lr = torch.where(pos, ld, 0.0)
        self.ed = torch.where(pos, ed, 0.0)
        en = torch.where(pos, en, 0.0)
        S = w.sum(self.ed)
        T = w.sum(en)
        self.S = torch.where(S > 0, S, 1.0)
        self.T = torch.where(T > 0, T, 1.0)
        same = ref_n == ref_d
        self.same = same
        # R_n^(a+1) R_d^(-a) = R_n (R_n/R_d)^a: no inexact a + 1 in an exponent (for a tiny
        # alpha, 1 + alpha rounds by up to 2^-53, which a power of 1e240 turns into 150 ULP)
        if w.precise:
            power = power_ratio(_e(ref_n), _e(ref_d), ae)[..., 0]
            general = ref_n * power
            # the power alone beyond float64's normal range where the product is not (alpha =
            # -1 on [1, 4e-287, 1.8e194]: (R_n / R_d)^-1 = 2e-481 underflowed, and y = 1.2e-286
            # was 0): R_n (R_n / R_d)^alpha with no intermediate rounding to 0, a subnormal or
            # inf
            lost = ~(power >= 2.2250738585072014e-308) | torch.isinf(power)  # 0, subnormal
            if _may_hold(lost):
                with torch.no_grad():
                    whole = scaled_power_ratio(ref_n, ref_n, ref_d, a, torch.zeros_like(a))
                general = torch.where(lost, _with_derivative(whole, lambda: general, a),
                                      general)
        else:
            general = torch.pow(ref_n, a + 1) * torch.pow(ref_d, -a)
        factor = torch.where(same, ref_d, general)
        y_general = factor * (T / self.S)
        y_mean = _mean(w, X, xmax)
        self.all_zero = self.n_pos == 0
        self.neg_with_zero = (a < 0) & (self.n_zero > 0)
        y = torch.where(a == 0, y_mean, y_general)
        self.y = torch.where(self.all_zero | self.neg_with_zero, 0.0, y)
        self.sum_pos = w.sum(torch.where(pos, X, 0.0))

    def derivatives(self):
        """``(G, dA)``: ``G`` (N, C, *out, K) the partial derivatives dy/dx of every window
        element (0 at padding), ``dA`` (N, C, *out) dy/dα divided by ``self.ref`` (the
        window's ``R_d``, or its largest element where dy/dα / R_d would overflow).

        ``x_i - y`` is never formed from the rounded ``y`` (for large |α| that loses everything
        to cancellation, and for subnormal inputs ``y`` itself is imprecise): with the dominant
        element ``R``, ``rho_j = x_j / R - 1`` and ``D = Σ_j w_j rho_j = y / R - 1`` (a sum of
        same-signed terms), ``(x_i - y) / x_i = (rho_i - D) / (x_i / R)``.
        """
        w, a, y = self.w, self.a, self.y
        X, pos, zero = w.X, self.pos, self.zero
        n_valid = self.n_valid
        self.big = None
        ae, ref = _e(a), _e(self.ref_d)
        # per-window derivative of a zero element
        g_zero_pos = torch.where(a == 1, -y / torch.where(self.sum_pos > 0, self.sum_pos, 1.0),
                                 0.0)
        g_zero_neg = torch.where(self.n_zero == 1, torch.where(
            a < -1, 1.0, torch.where(a == -1, n_valid, 0.0)), 0.0)
        g_allzero = torch.where(a > 0, 1.0, torch.where(
            a == 0, 1.0 / n_valid, torch.where(n_valid == 1, 1.0, 0.0)))
        inv_n = _e(1.0 / n_valid)
        xv = torch.where(pos, X, ref)
        wt = torch.where(ae == 0, torch.where(pos, inv_n, 0.0), self.ed / _e(self.S))
        rho = (xv - ref) / ref
        ratio = xv / ref
        D = w.sum(wt * rho)
        ok = _e(torch.isfinite(D)) & torch.isfinite(ratio) & torch.isfinite(rho)
        xs = torch.where(pos, X, 1.0)
        rel = torch.where(ok, (rho - torch.where(ok, _e(D), 0.0)) / torch.where(ok, ratio, 1.0),
                          (xs - _e(y)) / xs)
        # w (1 + α (x - y)/x) = w ((1 + α) - α y/x): the first form while x is near y (no
        # cancellation in x - y for large |α|), the second when y/x is far from 1, where
        # 1 + α (1 - y/x) would lose y/x (α = -1, y << x: the harmonic mean's tiny weights)
        spread = torch.where(self.same, 0.0, log_ratio(self.ref_n, self.ref_d))  # ln(R_n/R_d)
        log_y_rel = torch.log(self.T / self.S) + (a + 1) * spread  # ln(y / R)
        if w.precise:
            # (R_n/R_d)^(a+1) as (R_n/R_d) (R_n/R_d)^a: a + 1 is inexact for a tiny alpha
            # (2^-53 absolute, times ln(R_n/R_d) up to 1400 in the exponent); the plain form
            # where R_n/R_d overflows
            split = (self.ref_n / self.ref_d) * power_ratio(self.ref_n, self.ref_d, a)
            fac = torch.where(torch.isfinite(split), split,
                              power_ratio(self.ref_n, self.ref_d, a + 1))
        else:
            fac = torch.exp((a + 1) * spread)
        y_rel = torch.where(self.same, 1.0, fac) * (self.T / self.S)  # y / R
        y_over_x = _e(y_rel) / ratio
        normal = torch.isfinite(y_over_x) & (ratio >= 2.2250738585072014e-308) & \
            torch.isfinite(ratio)
        y_over_x = torch.where(normal, y_over_x, torch.exp(_e(log_y_rel) - self.lr))
        far = wt * ((1.0 + ae) - ae * y_over_x)
        g = torch.where(rel.abs() < 0.5, wt * (1.0 + ae * rel), far)
        # where x_i / R is subnormal (imprecise, or 0), w_i underflowed, or w_i (1 + α rel)
        # over- or underflowed in between (w_i -> 0, rel -> -inf): w_i (1 + α) - α w_i y / x_i
        # with w_i y / x_i = (x_i/R)^(α-1) (y/R) / S, the power in double-double (float64) or
        # everything in logarithms
        redo = pos & ((ratio < 2.2250738585072014e-308) | (wt == 0) | ~torch.isfinite(g))
        if _may_hold(redo):
            scale = _e(log_y_rel - torch.log(self.S))
            second = ae * torch.exp((ae - 1.0) * self.lr + scale)  # α w y / x
            if w.precise:
                # α (x/R)^(α-1) e^scale in one double-double exponent: w y / x may overflow
                # where α w y / x does not (a tiny α), and e^(t) rounded at |t| near 710
                # costs 150+ ulp
                sm, sk = scaled_power_ratio(ae, xs, ref, ae - 1.0, scale,
                                            b_lo=two_sum(ae.detach(), -1.0)[1], split=True)
                up1, up2 = pow2(sk.to(torch.int64))
                exact = _with_derivative(sm * up1 * up2, lambda: second, xs, ae, scale)
                second = torch.where(torch.isfinite(exact), exact, second)
                # beyond float64's range (a tiny x, alpha just above 0): g = m 2^k for the
                # backward's scaled sum (ScaledTerms), wt (1 + alpha) scaled down with it
                with torch.no_grad():
                    down1, down2 = pow2(-sk.to(torch.int64))
                    self.big = ScaledTerms(redo & ~torch.isfinite(exact),
                                           (wt * (1.0 + ae)).detach() * down1 * down2 - sm, sk)
            g = torch.where(redo, wt * (1.0 + ae) - second, g)
        g = torch.where(pos, g, torch.where(zero, _e(g_zero_pos), 0.0))
        g_neg = torch.where(zero, _e(g_zero_neg), 0.0)
        g = torch.where(ae == 0, inv_n, torch.where(_e(self.neg_with_zero), g_neg, g))
        g = torch.where(_e(self.all_zero), _e(g_allzero), g)
        g = w.mask(g)
        if self.big is not None:  # only the entries g's last lines did not replace
            self.big = self.big.where(pos & _e(~self.all_zero & ~self.neg_with_zero) & (ae != 0))
        # w (x - y) / R = w (rho - D): keep the factor R outside the sum (subnormal inputs);
        # where x / R overflows (α < 0, R the smallest element), the same as
        # exp((α + 1) ln(x/R) - ln S) (1 - y/x), in logarithms
        da_terms = wt * self.lr * (rho - torch.where(ok, _e(D), 0.0))
        redo_da = pos & ~(ok & torch.isfinite(da_terms))
        if _may_hold(redo_da):
            far = self.lr * rel * torch.exp((ae + 1.0) * self.lr - _e(torch.log(self.S)))
            da_terms = torch.where(redo_da, far, da_terms)
        da = w.sum(torch.where(pos, da_terms, 0.0))
        # dy/dα / R_d overflows where R_d is the window's tiny minimum (α < 0) and the window
        # spans the float64 range: there, dy/dα / M with M the window's largest element,
        # each term w ln(x/R) (x/M - y/M), y/M in logarithms
        self.ref_da = self.ref_d
        over = ~torch.isfinite(da) & ~(self.all_zero | self.neg_with_zero)
        if _may_hold(over):
            with torch.no_grad():
                M = torch.where(self.xmax > 0, self.xmax, 1.0)
            # y / M from y itself where that is a normal number (the logarithms' sum,
            # ln(y / R_d) + ln(R_d / M), cancels: 966.9 - 970.7 for a window [2^583, 2^-812],
            # alpha = -1/256, lost 9 ulp of dy/dalpha); in logarithms where it is not
            y_direct = y / M
            y_m = torch.where((y_direct >= 2.2250738585072014e-308) & torch.isfinite(y_direct),
                              y_direct, torch.exp(log_y_rel + log_ratio(self.ref_d, M)))
            terms = wt * self.lr * (torch.where(pos, X, 0.0) / _e(M) - _e(y_m))
            da = torch.where(over, w.sum(torch.where(pos, terms, 0.0)), da)
            self.ref_da = torch.where(over, M, self.ref_d)
        jump = (a == 0) & (self.n_zero > 0)
        da = torch.where(jump | self.all_zero | self.neg_with_zero, 0.0, da)
        return g, da

    @property
    def ref(self):
        """The unit of ``derivatives()``'s dy/dα (set by it; R_d unless that overflowed)."""
        return getattr(self, "ref_da", self.ref_d)

    def ref_parts(self) -> tuple[torch.Tensor, None]:
        """``ref`` as ``scaled_sum``'s ``(ref, ref_exp)``: always within float64's range."""
        return self.ref, None

    def outside_domain(self) -> torch.Tensor:
        return torch.zeros_like(self.y, dtype=torch.bool)


def _mean(w: Windows, X: torch.Tensor, xmax: torch.Tensor) -> torch.Tensor:
    """The mean of each window's elements, scaled by a power of two near its largest element
    first, so that a window of huge values cannot overflow the sum (exact scaling)."""
    with torch.no_grad():
        e = torch.frexp(torch.where(xmax > 0, xmax, 1.0)).exponent
        down1, down2 = pow2(-e)
        up1, up2 = pow2(e)
    scaled = w.mask(X) * _e(down1) * _e(down2)
    return (w.sum(scaled) / torch.broadcast_to(w.n_valid, xmax.shape)) * up1 * up2


def _may_hold(mask: torch.Tensor) -> bool:
    """Whether some entry of ``mask`` may be True (always True under a torch.func transform,
    whose tensors cannot be read)."""
    if torch._C._functorch.is_functorch_wrapped_tensor(mask):
        return True
    return bool(mask.any())


def _analysis(op: str, w: Windows):
    if op == "ppool":
        return _PPool(w)
    from ._torch_power import PowerMean

    return PowerMean(w, lp=op == "lp")


# ------------------------------------------------------------------------------ entry points


def forward(op: str, x: torch.Tensor, param: torch.Tensor, layout: Layout) -> torch.Tensor:
    """The pooled output in ``x``'s dtype; windows with a negative, NaN or infinite element
    and planes with a non-finite parameter give NaN (the caller validates first)."""
    w = Windows(x, param, layout)
    st = _analysis(op, w)
    bad = w.invalid_windows() | st.outside_domain()
    bad = bad | ~torch.isfinite(torch.broadcast_to(w.param, w.out_shape))
    y = torch.where(bad, math.nan, st.y)
    return y.to(x.dtype)


def backward(op: str, x: torch.Tensor, param: torch.Tensor, layout: Layout,
             grad_output: torch.Tensor, need_param: bool = True):
    """``(grad_input in x's dtype, parameter gradient of param's shape, float64)``."""
    w = Windows(x, param, layout)
    st = _analysis(op, w)
    g, da = st.derivatives()
    gy = grad_output.to(COMPUTE)
    gx = w.index.scatter(g * _e(gy))
    if st.big is not None and _may_hold(~torch.isfinite(gx)):
        # a term of the sum overflowed (or the sum did on the way): the terms as m 2^k
        exact = st.big.scatter(w.index, g, gy)
        gx = torch.where(torch.isfinite(gx), gx, exact)
    gx = gx.to(x.dtype)
    if need_param:  # the unit of da as r 2^k (the power mean's may be beyond float64's range)
        ref, ref_exp = st.ref_parts()
        gp = scaled_sum(da * gy, ref, param.dim(), ref_exp)
    else:
        gp = None
    return gx, gp


def jvp(op: str, x: torch.Tensor, param: torch.Tensor, layout: Layout,
        x_tangent: torch.Tensor | None, param_tangent: torch.Tensor | None) -> torch.Tensor:
    """The directional derivative of the output along ``(x_tangent, param_tangent)``."""
    w = Windows(x, param, layout)
    st = _analysis(op, w)
    g, da = st.derivatives()
    out = torch.zeros(w.out_shape, dtype=COMPUTE, device=x.device)
    t = None if x_tangent is None else w.index.gather(x_tangent.to(COMPUTE))
    if t is not None:
        out = out + w.sum(g * t)
    along_p = None  # the parameter's term in units of st.ref
    if param_tangent is not None:
        along_p = da * param_tangent.to(COMPUTE).reshape(w.param.shape)
        out = out + along_p * st.ref
    ref, ref_exp = st.ref_parts()
    if (st.big is not None or ref_exp is not None) and _may_hold(~torch.isfinite(out)):
        # a term beyond float64's range (a dy/dx, or the power mean's unit 2^k_y): each
        # window's terms as m 2^k with one scale (inf - inf was NaN, 0 x 2^k_y too)
        big = st.big or ScaledTerms(torch.zeros_like(g, dtype=torch.bool), g, g)
        extra = None
        if along_p is not None:
            pm, pk = torch.frexp(along_p.detach())
            rm, rk = torch.frexp(ref)
            k = (pk + rk).to(COMPUTE) + (0.0 if ref_exp is None else ref_exp)
            extra = (pm * rm, k)
        exact = big.window_sum(g, torch.zeros_like(g) if t is None else t, extra)
        out = torch.where(torch.isfinite(out), out, exact)
    return out.to(x.dtype)
