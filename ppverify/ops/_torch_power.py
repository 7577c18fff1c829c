"""Pure-torch power mean (GeM) and Lp norm over gathered windows (see ``_torch_impl``).

Mathematics (conventions: ``ppverify.ops.power_mean``), over the ``n`` elements of a window::

    power mean  M_p = ((1/n) Σ x^p)^(1/p)      (p = 0: the geometric mean exp(mean ln x))
    Lp norm     L_p = (Σ x^p)^(1/p)

Stable formulation: with ``R`` the window's dominant element (its max for p > 0, its smallest
element for p < 0), ``l_i = ln(x_i / R) `` and ``e_i = exp(p l_i) <= 1`` (``e_k = 1`` at the
first dominant element ``k``), ``rest = Σ_{i != k} e_i`` and ``S = Σ e_i = 1 + rest``::

    y = R exp(G / p),   G = ln(S / D),   D = 1 (Lp) or n (power mean)

``G`` is ``log1p(rest)`` for the Lp norm; for the power mean it is ``log1p(m)`` with
``m = Σ (e_i - 1) / n`` (each ``e_i - 1 = expm1(p l_i)``, no cancellation near uniform windows)
while ``S / n >= 1/2``, and ``log1p(rest) - ln n`` below. Nothing overflows for any finite
input and p. Derivatives, with ``g = G / p = ln(y / R)``::

    dy/dx_i = (x_i / y)^(p-1) / D = exp((p - 1)(l_i - g)) / D
    dy/dp   = (y / p^2) (p Σ u_i l_i - log1p(rest))                     (Lp; two terms <= 0)
            = (y / p^2) (1/n) Σ_i φ(n u_i),  φ(q) = q ln q - q + 1 >= 0   (power mean)

with ``u_i = e_i / S``: sums of same-signed terms, without the cancellation of the textbook
``-ln S / p^2 + Σ x^p ln x / (p S)``; for p = 0, ``dy/dp = y Var(ln x) / 2``.
"""

from __future__ import annotations

import math

import torch

from ._numerics import (
    _log_ratio_dd,
    _with_derivative,
    csum_pair,
    div_pair,
    exp_dd,
    exp_pair,
    log_pair,
    log_ratio,
    log_ratio_pair,
    minus_log,
    phi,
    power_ratio,
    scaled_exp_pair,
    scaled_log,
    scaled_power_ratio,
    times_pow2,
    two_prod,
    two_sum,
)
from ._torch_impl import COMPUTE, ScaledTerms, Windows, _e, _may_hold


class PowerMean:
    """Value and derivatives of the power mean (or, with ``lp``, the Lp norm) of a batch of
    windows; ``R`` is each window's dominant element, ``ref`` the unit of the returned dy/dp
    (R, or a power of two near y where y / R is beyond float64's normal range:
    ``out_of_range``)."""

    def __init__(self, w: Windows, lp: bool):
        self.w, self.lp = w, lp
        X, valid = w.X, w.valid
        p = torch.broadcast_to(w.param, w.out_shape)
        self.p = p
        pos, zero = X > 0, X == 0
        if valid is not None:
            pos, zero = pos & valid, zero & valid
        self.pos, self.zero = pos, zero
        n = torch.broadcast_to(w.n_valid, w.out_shape)
        self.n = n
        self.D = torch.ones_like(n) if lp else n
        self.n_pos = pos.sum(-1, dtype=COMPUTE)
        self.n_zero = zero.sum(-1, dtype=COMPUTE)
        with torch.no_grad():
            Xd = X.detach()
            xmax = w.mask(Xd).amax(-1)
            xmin = torch.where(pos, Xd, math.inf).amin(-1)
            ref = torch.where(p < 0, xmin, xmax)
            ref = torch.where((ref > 0) & torch.isfinite(ref), ref, 1.0)
        self.R = ref
        pe, re = _e(p), _e(ref)
        xs = torch.where(pos, X, re)
        if w.precise:
            with torch.no_grad():  # ln(x/R) and p ln(x/R) in double-double, once each
                self.parts = _log_ratio_dd(xs, re)
                self.t = scaled_log(xs, re, pe, parts=self.parts)[:2]
            lr = log_ratio(xs, re, parts=self.parts)
            e = power_ratio(xs, re, pe, log=lr, t=self.t)
            em1 = power_ratio(xs, re, pe, log=lr, minus_one=True, t=self.t)
        else:
            lr = torch.log(xs / re)
            t = pe * lr
            e, em1 = torch.exp(t), torch.expm1(t)  # (1 + em1 loses a tiny e's digits)
        self.l = torch.where(pos, lr, 0.0)
        # zeros (p > 0) have e = 0; entries that are not elements contribute nothing
        self.e = torch.where(pos, e, 0.0)
        em1 = torch.where(pos, em1, -1.0)
        self.em1 = w.mask(em1)
        if w.precise or lp:  # rest = S - 1 without cancellation (Lp's dy/dp is ~ rest when
            # rest is tiny): leave out the first dominant element
            with torch.no_grad():  # (e = 1 exactly there)
                k = self.e.detach().argmax(-1, keepdim=True)
                first = torch.arange(X.shape[-1], device=X.device) == k
            # e_k = 1 exactly, but its derivative must stay: add e_k - 1 (= 0, with derivative)
            self.rest = w.sum(torch.where(first, 0.0, self.e)) + torch.where(
                first, self.em1, 0.0).sum(-1)
        else:  # the power mean with a narrower dtype: float64 has ~29 bits to spare
            self.rest = self.e.sum(-1) - 1.0
        self.S = 1.0 + self.rest
        if lp:
            G = torch.log1p(self.rest)
        else:
            m = w.sum(self.em1) / n
            G = torch.where(m >= -0.5, torch.log1p(torch.where(m >= -0.5, m, 0.0)),
                            torch.log1p(self.rest) - torch.log(n))
        p_safe = torch.where(p == 0, 1.0, p)
        self.g_pair = self._g_pair(first, p_safe, pe) if w.precise else None
        self.geometric = _may_hold(p == 0)
        if self.geometric:
            # p = 0: ln(geometric mean / R) = mean(l), written as the start of its Taylor
            # series K(p)/p = k1 + k2 p / 2 + k3 p^2 / 6 (cumulants of l) so that derivatives
            # in p are right up to the second (hessian) at exactly p = 0
            lbar = w.sum(self.l) / n
            dev = w.mask(torch.where(pos, self.l - _e(lbar), 0.0))
            self.k2 = w.sum(dev * dev) / n
            self.k3 = w.sum(dev * dev * dev) / n
            p0 = torch.where(p == 0, p, 0.0)
            geo = lbar + p0 * (self.k2 / 2 + p0 * self.k3 / 6)
            self.g = torch.where(p == 0, geo, G / p_safe)  # ln(y / R)
        else:
            self.g = G / p_safe
        self.y_rel = torch.exp(self.g)
        if w.precise:  # exp(g) with g in double-double (see _g_pair)
            self.y_rel = _with_derivative(exp_pair(*self.g_pair), lambda: torch.exp(self.g),
                                          self.g)
        if w.precise and self.geometric:  # exp(mean l) in double-double (|mean l| ~ 700)
            geo_pair = self._geometric_pair(xs, re, n)
            self.y_rel = torch.where(p == 0, _with_derivative(
                exp_pair(*geo_pair), lambda: torch.exp(geo), geo), self.y_rel)
        self.all_zero = self.n_pos == 0
        self.zero_kills = (p == 0) & (self.n_zero > 0)  # the geometric mean is 0
        y = ref * self.y_rel
        # y / R beyond float64's normal range where y is not (a small |p| on a window spanning
        # more than 308 decades: the geometric mean of [3e37, 2e-233, 4e-300, 3e263] is 1.7e-58
        # R-relative 5e-322, subnormal, 0.4% off; with p < 0, y / R overflowed to inf): y from
        # ln(y / R) as m 2^k, R's exponent added to k (values; derivatives through g)
        self.out_of_range = torch.zeros_like(self.all_zero)
        self.y_scaled = None  # (m, k): y = m 2^k, m in [1/2, 1), where out_of_range
        # (float64, and the Lp norm in every dtype: its y / R ~ n^(1/p) overflows float64 for
        # p below about ln(n) / 709, and its derivatives with it; the narrow dtypes' power
        # mean stays within 1e83 of R, and needs no look, nor its host synchronisation)
        rel = self.y_rel.detach()
        self.beyond_possible = w.precise or lp
        if self.beyond_possible:
            self.out_of_range = ~((rel.abs() >= torch.finfo(rel.dtype).tiny)
                                  & torch.isfinite(rel))
        self._geo_pair = geo_pair if w.precise and self.geometric else None
        self._y_mk = None  # scaled_y()'s, once made
        self.dp_scaled = None  # set by derivatives()
        if self.beyond_possible and _may_hold(self.out_of_range):
            self.y_scaled = self.scaled_y()
            value = times_pow2(*self.y_scaled)
            g = self.g
            scaled = _with_derivative(value, lambda: value * torch.exp(g - g.detach()), g)
            y = torch.where(self.out_of_range, scaled, y)
        self.y = torch.where(self.all_zero | self.zero_kills, 0.0, y)

    def scaled_y(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every window's ``y = m 2^k`` (values; ``m`` in [1/2, 1), ``k`` an integer-valued
        float64 of any size) from ``ln(y / R)`` (a pair in float64) and R's exponent: finite
        where y is beyond float64's range."""
        if self._y_mk is None:
            with torch.no_grad():
                p = self.p
                g_hi, g_lo = (self.g_pair if self.w.precise else
                              (self.g.detach(), torch.zeros_like(self.g)))
                if self._geo_pair is not None:
                    g_hi = torch.where(p == 0, self._geo_pair[0], g_hi)
                    g_lo = torch.where(p == 0, self._geo_pair[1], g_lo)
                ym, yk = scaled_exp_pair(g_hi, g_lo)
                rm, rk = torch.frexp(self.R)
                mm, mk = torch.frexp(rm * ym)
                self._y_mk = (mm, yk + (rk + mk).to(yk.dtype))
        return self._y_mk

    def _g_pair(self, first, p_safe, pe):
        """``g = G / p = ln(y / R)`` as a double-double (values only; float64 inputs).

        ``y / R = exp(g)``, and a ``g`` rounded to one double costs ``|g|`` eps relative in y;
        ``|g| = |ln(S / D)| / |p|`` reaches hundreds for small ``|p|`` (p = 0.05 and a window
        spanning 30 decades: 154 ULP in the power mean, 218 in the Lp norm, where one double
        was used). And a relative error of ``S`` moves ``g`` by itself over ``|p|``: each
        ``e = (x/R)^p`` rounded once (equal elements share the error) cost up to 18 ULP at
        p = 0.02 on 3 x 3 windows. So the terms are pairs (``exp_dd`` where |p| < 1/4), their
        sums too (``csum_pair``), ``G`` = the logarithm of ``1 + m`` (power mean, ``S / n >= 1/2``:
        ``m = sum (e - 1) / n``) or of ``S / D`` (``S = 1 + rest``, ``rest`` without the first
        dominant element, whose ``e`` is 1) is taken by ``log_pair`` and divided by ``p`` with
        its remainder."""
        with torch.no_grad():
            w, n, pos = self.w, self.n, self.pos
            t_hi, t_lo = self.t
            # exp's own rounding (about one per term, shared by equal elements) moves g by it
            # over |p|: carried where |p| < 1/4; above, at most 4 roundings of y
            if _may_hold(pe.detach().abs() < 0.25):
                e_hi, e_lo = exp_dd(t_hi, t_lo)
            else:
                e_hi = torch.exp(t_hi)
                e_lo = torch.where(torch.isfinite(e_hi), e_hi * t_lo, 0.0)
            keep = pos & ~first
            r_hi, r_lo = csum_pair(torch.where(keep, e_hi, 0.0))
            r_lo = r_lo + torch.where(keep, e_lo, 0.0).sum(-1)
            s_hi, s_err = two_sum(torch.ones_like(r_hi), r_hi)
            G_hi, G_lo = log_pair(s_hi, s_err + r_lo, self.D)
            if not self.lp:
                m1_hi, m1_err = two_sum(e_hi, -torch.ones_like(e_hi))
                m1_hi = w.mask(torch.where(pos, m1_hi, -1.0))  # zeros: e - 1 = -1
                m1_lo = w.mask(torch.where(pos, m1_err + e_lo, 0.0))
                c_hi, c_lo = csum_pair(m1_hi)
                m_hi, m_lo = div_pair(c_hi, c_lo + m1_lo.sum(-1), n)
                a_hi, a_err = two_sum(torch.ones_like(m_hi), m_hi)
                near = m_hi >= -0.5
                u_hi, u_lo = log_pair(torch.where(near, a_hi, 1.0),
                                      torch.where(near, a_err + m_lo, 0.0),
                                      torch.ones_like(a_hi))
                G_hi, G_lo = torch.where(near, u_hi, G_hi), torch.where(near, u_lo, G_lo)
            return div_pair(G_hi, G_lo, p_safe.detach())

    def _geometric_pair(self, xs, re, n):
        """``mean ln(x / R)`` as a double-double (values only): the logarithms and their sum in
        double-double, so that ``exp`` of it is off by about one rounding."""
        with torch.no_grad():
            hi, lo = log_ratio_pair(xs, re, parts=self.parts)
            hi, lo = torch.where(self.pos, hi, 0.0), torch.where(self.pos, lo, 0.0)
            s_hi, s_lo = csum_pair(hi)
            return div_pair(s_hi, s_lo + lo.sum(-1), n)

    def outside_domain(self) -> torch.Tensor:
        """Windows where ``x^p`` is infinite: a zero with p < 0 (or any p = 0 for Lp)."""
        bad = (self.p < 0) & (self.n_zero > 0)
        return bad | (self.p == 0) if self.lp else bad

    def derivatives(self):
        """``(G, dP)``: dy/dx per window element (0 at padding) and dy/dp / R per window."""
        w, p, pe = self.w, self.p, _e(self.p)
        pos, zero = self.pos, self.zero
        self.big = None
        D = _e(self.D)
        g = torch.exp((pe - 1.0) * (self.l - _e(self.g))) / D
        if w.precise:  # (x/R)^(p-1) in double-double times (y/R)^(1-p): |l| reaches 1400
            xs = torch.where(pos, w.X, _e(self.R))
            # 1 - p and p - 1 as exact pairs: rounding them costs |ln| times the rounding
            g_hi, g_lo = self.g_pair
            pd = p.detach()
            om_hi, om_lo = two_sum(torch.ones_like(pd), -pd)  # 1 - p
            t_hi, t_err = two_prod(om_hi, g_hi)
            c_hi, c_lo = two_sum(t_hi, t_err + (om_hi * g_lo + om_lo * g_hi))  # (1 - p) g
            # (1/D) (x/R)^(p-1) (y/R)^(1-p) in one double-double exponent scaled by 2^k: the
            # two powers alone may overflow where the product does not (wide windows, small p:
            # they overflowed, and the fallback exp((p-1)(l - g)) / D, one rounded exponent
            # near 707, was 200 ULP off)
            with torch.no_grad():  # (p - 1) ln(x/R) = p ln(x/R) - ln(x/R): exact pairs
                tm = two_sum(*minus_log(*self.t, self.parts))
            em, ek = scaled_power_ratio(1.0 / D, xs, _e(self.R), pe - 1.0, _e(c_hi),
                                        c_lo=_e(c_lo), t=tm, split=True)
            exact = times_pow2(em, ek)
            if self.geometric:  # p = 0: y / (x D), from the output y = m_y 2^k_y as
                # (m_y / (m_x D)) 2^(k_y - k_x): R / x and y / x may overflow where the term
                # does not, and y / R be subnormal (out_of_range)
                with torch.no_grad():
                    ym, yk = self.scaled_output()
                    xm, xk = torch.frexp(xs)
                    gm = _e(ym) / xm / D
                    gk = (_e(yk) - xk.to(yk.dtype)).to(ek.dtype)
                exact = torch.where(pe == 0, times_pow2(gm, gk), exact)
                em, ek = torch.where(pe == 0, gm, em), torch.where(pe == 0, gk, ek)
            # beyond float64's range: m 2^k for the backward's scaled sum (ScaledTerms), m as
            # a pair (terms of windows a few ULP apart differ by less than m's rounding)
            beyond = ~torch.isfinite(exact)
            em_lo = None
            if _may_hold(beyond):
                pm, pk, em_lo = scaled_power_ratio(1.0 / D, xs, _e(self.R), pe - 1.0,
                                                   _e(c_hi), c_lo=_e(c_lo), t=tm, split=True,
                                                   low=True)
                keep = pe == 0 if self.geometric else torch.zeros_like(beyond)
                em, ek = torch.where(keep, em, pm), torch.where(keep, ek, pk)
                em_lo = torch.where(keep, 0.0, em_lo)
            self.big = ScaledTerms(beyond, em, ek, em_lo)
            plain = g
            g = _with_derivative(exact, lambda: plain, w.X, p, self.g)
            g = torch.where(torch.isfinite(exact), g, plain)
        elif self.lp and _may_hold(~torch.isfinite(g)):  # beyond float64 (a tiny p): m 2^k
            with torch.no_grad():
                em, ek = scaled_exp_pair((pe - 1.0) * (self.l - _e(self.g)) - torch.log(D),
                                         torch.zeros_like(g))
            self.big = ScaledTerms(~torch.isfinite(g), em, ek)
        # zeros with p > 0: 0 for p > 1, 1/D at p = 1, +inf (returned as 0) for p < 1
        g_zero = torch.where(pe == 1, 1.0 / D, 0.0)
        g = torch.where(pos, g, torch.where(zero, g_zero, 0.0))
        # an all-zero window: dy/dx = D^(-1/p) (1 for the Lp norm)
        p_safe = torch.where(p == 0, 1.0, p)
        g_allzero = torch.exp(-torch.log(self.D) / p_safe)
        g = torch.where(_e(self.all_zero), _e(g_allzero), g)
        # the geometric mean of a window with a zero: 0, but of one element (y = x): 1
        g = torch.where(_e(self.zero_kills & (self.n > 1)), 0.0, g)
        g = w.mask(g)
        if self.big is not None:  # only the entries the lines above did not replace
            self.big = self.big.where(pos & _e(~self.all_zero & ~self.zero_kills))
        # dy/dp / R
        u = self.e / _e(self.S)
        if self.lp:
            core = w.sum(pe * u * self.l) - torch.log1p(self.rest)
        else:
            m = w.sum(self.em1) / self.n
            d = (self.em1 - _e(m)) / _e(1.0 + m)  # n u - 1
            core = w.sum(w.mask(phi(torch.where(pos | zero, d, 0.0), w.precise))) / self.n
        # dy/dp = y core / p^2, in units of R; where y / R is out of float64's normal range,
        # m_y core / p^2 in units of 2^k_y (y = m_y 2^k_y before rounding: ``ref``)
        factor = core / (p_safe * p_safe)
        if self.geometric:  # p = 0: y Var(ln x) / 2 (+ p k3 / 3, see __init__)
            p0 = torch.where(p == 0, p, 0.0)
            factor = torch.where(p == 0, self.k2 / 2 + p0 * self.k3 / 3, factor)
        # (also where y / R is not out of range but y or dy/dp is: the Lp norm at p = 1e-3
        # on a window spanning the range, y / R ~ 1e301, R ~ 1e300; inf - inf made NaN)
        dp = self.y_rel * factor
        self.dp_scaled = None  # (where, k_y): dy/dp in units of 2^k_y
        wide = self.out_of_range | ~torch.isfinite(dp)
        if self.beyond_possible and _may_hold(wide):
            ym, yk = self.scaled_y()
            dp = torch.where(wide, ym * factor, dp)
            self.dp_scaled = (wide, yk)
        dp = torch.where(self.all_zero | self.zero_kills, 0.0, dp)
        return g, dp

    def scaled_output(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``y = m 2^k`` per window (values; ``m`` in [1/2, 1), k float): before its rounding
        to a subnormal where y / R was out of range, else ``frexp(y)``."""
        m, k = torch.frexp(self.y.detach())
        k = k.to(torch.float64)
        if self.y_scaled is not None:
            m = torch.where(self.out_of_range, self.y_scaled[0], m)
            k = torch.where(self.out_of_range, self.y_scaled[1], k)
        return m, k

    @property
    def ref(self) -> torch.Tensor:
        """The unit of ``derivatives()``'s dy/dp (set by it): R, or ``2^k_y`` where y / R is
        out of range or y dy/dp overflowed (``scaled_y``; 0 below float64's smallest
        subnormal, inf above its largest: ``ref_parts`` keeps those)."""
        r, k = self.ref_parts()
        return r if k is None else torch.where(self.dp_scaled[0], times_pow2(r, k), r)

    def ref_parts(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``ref`` as ``(r, k)``, ref = r 2^k, for sums over windows: ``2^k_y`` lies beyond
        float64's range where y does (the Lp norm at a tiny p; ``ref`` is inf there)."""
        if self.dp_scaled is None:
            return self.R, None
        wide, k = self.dp_scaled
        return torch.where(wide, 1.0, self.R), torch.where(wide, k, 0.0)
