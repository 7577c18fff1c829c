"""Float64 building blocks of the pure-torch backend: compensated sums, ratios of powers in
double-double, and sums over windows that survive subnormal scales.

All functions are made of differentiable torch ops with no host synchronisation, so they work
under autograd (also double backward), forward-mode AD and ``torch.func.vmap``. Values that
need more than double precision are computed under ``no_grad`` and carry the derivative of a
plain formula (``value + (approx - approx.detach())``): exact derivatives, accurate values.
"""

from __future__ import annotations

import math

import torch

LN2 = math.log(2.0)
# ln 2 split so that k * LN2_HI is exact for |k| < 2**21 (fdlibm's constants)
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
_SPLITTER = 134217729.0  # 2**27 + 1, Dekker's split of a float64
_SQRT2 = math.sqrt(2.0)


def _mantissas(v: torch.Tensor, ref: torch.Tensor):
    """``v / ref = 2**k (mv / mr)`` with ``mv / mr`` in [1/sqrt2, sqrt2] (values only):
    ``(mv, mr, k)``, ``k`` float64.

    The mantissas of ``frexp`` are in [1/2, 1), so their ratio alone is in (1/2, 2); ``mr`` is
    doubled or halved (exactly) to bring it into [1/sqrt2, sqrt2]. Then ``mv - mr`` is exact
    (Sterbenz) and ``|ln(mv / mr)| <= ln(2)/2``: when ``k = 0`` the logarithm is accurate
    relative to itself, and when ``k != 0``, ``|ln(v / ref)| >= ln(2)/2`` outweighs it. Without
    the step, ``v = 0.918``, ``ref = 1`` gave ``k = -1`` and ``ln(mv / mr) = 0.608`` for
    ``ln(v / ref) = -0.085``: 7 times the rounding error, which ``alpha`` then multiplies."""
    mv, ev = torch.frexp(v.detach())
    mr, er = torch.frexp(ref.detach())
    up = mv > mr * _SQRT2
    down = mv * _SQRT2 < mr
    mr = torch.where(up, mr * 2.0, torch.where(down, mr * 0.5, mr))
    k = (ev - er + up.to(ev.dtype) - down.to(ev.dtype)).to(v.dtype)
    return mv, mr, k


# 1/(2j+1), j = 1..12: 2 atanh(s) = 2s (1 + s^2/3 + ... + s^24/25 + O(s^26)); |s| <= 0.1716
# (mv/mr in [1/sqrt2, sqrt2]) makes the truncation below 2^-126 relative
_ATANH_COEFFS = [1.0 / (2 * j + 1) for j in range(12, 0, -1)]


def _log_ratio_dd(v: torch.Tensor, ref: torch.Tensor):
    """``ln(v / ref) = k LN2_HI + hi + lo`` for positive float64 ``v``, ``ref`` (values only):
    ``(k LN2_HI, hi, lo)``, the first exact, ``hi + lo`` to about 2^-60 relative.

    ``ln(mv / mr) = 2 atanh(s)`` with ``s = (mv - mr) / (mv + mr)`` (``_mantissas``): the
    difference exact, the sum by TwoSum, ``s`` as ``s_hi + s_lo`` (the remainder of the
    division by Dekker's exact product), ``hi = 2 s_hi`` and ``lo = k LN2_LO + 2 s_lo`` plus
    the series' tail, which is below 2^-6.6 of ``2 s``. A logarithm good to one double only
    (``log1p``, about 1 eps relative) moves ``alpha ln(v/ref)`` by ``|alpha ln(v/ref)|`` eps and
    the weight ``(v/ref)^alpha`` by as much relative: 11 eps at ``|alpha ln| = 9``, 9 ULP in
    a P-pooling output over a window of 12544 elements (``tests/ops/test_torch_impl.py``)."""
    mv, mr, k = _mantissas(v, ref)
    d = mv - mr  # exact
    sum_hi, sum_lo = two_sum(mv, mr)
    s_hi = d / sum_hi
    p, e = _dekker(s_hi, sum_hi)
    s_lo = (((d - p) - e) - s_hi * sum_lo) / sum_hi
    s2 = s_hi * s_hi
    poly = torch.full_like(s2, _ATANH_COEFFS[0])
    for c in _ATANH_COEFFS[1:]:
        poly = poly * s2 + c
    tail = (2.0 * s_hi) * s2 * poly
    return k * LN2_HI, 2.0 * s_hi, k * LN2_LO + (2.0 * s_lo + tail)


def csum(t: torch.Tensor, precise: bool = True) -> torch.Tensor:
    """Sum over the last axis; with ``precise``, compensated (pairwise, each addition's exact
    error by TwoSum, the errors added at the end): about one rounding for the whole sum."""
    if not precise or t.shape[-1] == 1:
        return t.sum(-1)
    err = None
    while t.shape[-1] > 1:
        if t.shape[-1] % 2:
            t = torch.nn.functional.pad(t, (0, 1))
        a, b = t[..., 0::2], t[..., 1::2]
        s = a + b
        bb = s - a
        e = (a - (s - bb)) + (b - bb)
        e = e.sum(-1)
        err = e if err is None else err + e
        t = s
    return t[..., 0] + err


def csum_pair(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The compensated sum over the last axis as an unevaluated pair ``(hi, lo)``."""
    err = torch.zeros_like(t[..., 0])
    while t.shape[-1] > 1:
        if t.shape[-1] % 2:
            t = torch.nn.functional.pad(t, (0, 1))
        a, b = t[..., 0::2], t[..., 1::2]
        s = a + b
        bb = s - a
        err = err + ((a - (s - bb)) + (b - bb)).sum(-1)
        t = s
    return t[..., 0], err


def log_ratio_pair(v: torch.Tensor, ref: torch.Tensor,
                   parts=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``ln(v / ref)`` as an unevaluated double-double ``(hi, lo)`` (values only): the binary
    exponents' part ``k ln 2`` carried exactly (``k LN2_HI``), so a sum of many logarithms of
    widely spread values loses nothing to rounding ``k ln 2`` (``_log_ratio_dd``, or its
    ``parts`` when the caller has them); renormalised, ``|lo| <= ulp(hi) / 2``."""
    with torch.no_grad():
        big, hi, lo = _log_ratio_dd(v, ref) if parts is None else parts
        total, err = two_sum(big, hi)
        return two_sum(total, err + lo)


def two_sum(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a + b = s + e`` exactly (Knuth's TwoSum, any order of magnitudes; values only)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def div_pair(hi: torch.Tensor, lo: torch.Tensor, d: torch.Tensor):
    """``(hi + lo) / d`` as a pair (values only): the quotient's remainder by Dekker's exact
    product."""
    q = hi / d
    prod, err = two_prod(q, d)
    return q, (((hi - prod) - err) + lo) / d


def log_pair(a_hi: torch.Tensor, a_lo: torch.Tensor, ref: torch.Tensor):
    """``ln((a_hi + a_lo) / ref)`` as a pair for a positive double-double ``a`` and positive
    ``ref`` (values only): ``log_ratio_pair(a_hi, ref)`` plus ``a_lo / a_hi`` (``ln(1 + t)``
    = t to 2^-106 for |t| <= 2^-53)."""
    hi, lo = log_ratio_pair(a_hi, ref)
    return two_sum(hi, lo + a_lo / a_hi)


def exp_pair(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """``exp(hi + lo)`` for a pair with ``|lo| <= ulp(hi)``: ``exp(hi) (1 + lo)``, so the
    result's error is exp's own (about one rounding) whatever the size of ``hi``; rounding
    ``hi + lo`` first would cost ``|hi|`` eps relative."""
    e = torch.exp(hi)
    return torch.where(torch.isinf(e), e, e + e * lo)  # (inf * lo may be -inf: NaN)


def reduce_ln2(s: torch.Tensor, lo: torch.Tensor, pair: bool = False):
    """``exp(s + lo) = exp(r) 2^k`` with ``k = round(s / ln 2)`` (an integer-valued float64 of
    any size: the Lp norm's terms reach 2^(1e8) at p = 1e-8, beyond every format but summed
    with others of their size) and ``|r| <= ln(2) / 2`` for small ``lo``: ``k ln 2`` subtracted
    in two parts, ``k LN2_HI`` as an exact pair (a single product for ``|k| < 2^21``, where
    its low part is 0): the terms of a norm at p = 1e-8 differ by 1e-8 relative for inputs a
    few ULP apart, and their sum's sign is right only if ``m`` is that accurate beyond 2^(1e8).
    ``k`` is kept within +-2^60 (finite: inf - inf is NaN) and ``r`` within +-1, so that for
    ``|s|`` beyond 2^53, where ``s`` itself is not known to a unit, ``exp(r)`` stays a finite
    mantissa (such values are 0 or inf in every format: only their signs and exact
    cancellations between equal terms remain to be right). With ``pair``, ``(r_hi, r_lo,
    k)``: ``r`` unrounded, ``s - k_hi`` (exact: Sterbenz) plus the rest, renormalised."""
    k = torch.round(s / LN2).clamp(-(2.0**60), 2.0**60)
    k_hi, k_lo = two_prod(k, torch.full_like(k, LN2_HI))
    if pair:  # (renormalised: exp_dd's pair is first-order in its low part)
        r_hi, r_lo = two_sum(s - k_hi, (lo - k_lo) - k * LN2_LO)
        return r_hi.clamp(-1.0, 1.0), torch.where(r_hi.abs() <= 1.0, r_lo, 0.0), k
    return (((s - k_hi) - k_lo) - k * LN2_LO + lo).clamp(-1.0, 1.0), k


def scaled_exp_pair(hi: torch.Tensor, lo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(hi + lo) = m 2^k`` (values only; ``reduce_ln2``): ``m`` about in [0.7, 1.42] and
    rounded once where ``exp(hi)`` itself would be subnormal, zero or infinite (0 or inf where
    the value is beyond any scale)."""
    r, k = reduce_ln2(hi, lo)
    return torch.exp(r), k


def times_pow2(m: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``m 2^k`` for an integer-valued ``k`` of any size (clamped to +-2046, beyond which ``m``
    near 1 overflows or underflows anyway; both halves of ``2^k`` stay finite there, so that a
    zero ``m`` gives 0, not 0 x inf), rounded once (only where the result is subnormal)."""
    up1, up2 = pow2(k.clamp(-2046, 2046).to(torch.int64))
    return m * up1 * up2


def minus_log(t_hi: torch.Tensor, t_lo: torch.Tensor, parts) -> tuple[torch.Tensor, torch.Tensor]:
    """``(t_hi + t_lo) - (big + hi + lo)`` for ``parts = (big, hi, lo)`` of ``_log_ratio_dd``,
    as an unnormalised pair (values only): two TwoSums, exact but for the last addition."""
    big, hi, lo = parts
    s1, e1 = two_sum(t_hi, -big)
    s2, e2 = two_sum(s1, -hi)
    return s2, (e1 + e2) + (t_lo - lo)


def exp_dd(t_hi: torch.Tensor, t_lo: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``exp(t_hi + t_lo)`` as a pair ``(e, e d)`` (values only): ``e = exp(t_hi)`` as torch
    rounds it and ``d = (t_hi + t_lo) - ln(e)`` in double-double (``_log_ratio_dd``), so the
    pair also carries exp's own rounding error: about 2^-59 |t| relative instead of one
    rounding. For sums whose result is then raised to a large power (the power mean's
    ``(mean e)^(1/p)`` multiplies a relative error of the mean by ``1/|p|``)."""
    e = torch.exp(t_hi)
    ok = (e > 0) & torch.isfinite(e)
    es = torch.where(ok, e, 1.0)
    d_hi, d_lo = minus_log(t_hi, t_lo, _log_ratio_dd(es, torch.ones_like(es)))
    return e, torch.where(ok, e * (d_hi + d_lo), 0.0)


def log_ratio(v: torch.Tensor, ref: torch.Tensor, parts=None) -> torch.Tensor:
    """``ln(v / ref)`` for positive float64 ``v`` and ``ref``, accurate to a few ulp absolute
    (relative to ``max(1, |ln(v/ref)|)``) even when ``v / ref`` is outside the float64 range,
    with the derivative of ``ln v`` (``ref`` is a constant); from ``parts``
    (``_log_ratio_dd(v, ref)``, correctly rounded then) when the caller has them."""
    with torch.no_grad():
        if parts is not None:
            big, hi, lo = parts
            value = big + (hi + lo)
        else:
            mv, mr, k = _mantissas(v, ref)
            value = torch.log1p((mv - mr) / mr) + k * LN2
    return _with_derivative(value, lambda: torch.log(v), v)


def _with_derivative(value, approx, *inputs):
    """``value``, carrying the derivatives of ``approx()`` when some input needs them."""
    if not any(_tracks_derivatives(t) for t in inputs):
        return value
    a = approx()
    return value + (a - a.detach())


def _tracks_derivatives(t: torch.Tensor) -> bool:
    """True when autograd, forward-mode AD or a torch.func transform (which wraps tensors and
    tracks their derivatives at another level) may need derivatives of ``t``."""
    if t.requires_grad and torch.is_grad_enabled():
        return True
    if torch._C._functorch.is_functorch_wrapped_tensor(t):
        return True
    return torch.autograd.forward_ad.unpack_dual(t).tangent is not None


#: above this magnitude Dekker's split ``_SPLITTER * a`` overflows: such factors are split
#: scaled by ``2**-_SPLIT_SHIFT`` and the product scaled back (exact: powers of two)
_SPLIT_LIMIT = 2.0**995
_SPLIT_SHIFT = 28


def two_prod(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a * b = p + e`` exactly (Dekker), for finite float64 (factors above 2**995, whose
    split would overflow, are scaled down by a power of two first and the parts scaled back;
    ``e`` is then exact unless it underflows or ``p`` overflows)."""
    # branch-free (no host synchronisation: this runs under torch.func transforms too)
    a_big, b_big = a.abs() > _SPLIT_LIMIT, b.abs() > _SPLIT_LIMIT
    shrink, grow = 2.0**-_SPLIT_SHIFT, 2.0**_SPLIT_SHIFT
    _, e = _dekker(torch.where(a_big, a * shrink, a), torch.where(b_big, b * shrink, b))
    scale = torch.where(a_big, grow, 1.0) * torch.where(b_big, grow, 1.0)
    return a * b, e * scale


def _dekker(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p = a * b
    ca = _SPLITTER * a
    a_hi = ca - (ca - a)
    a_lo = a - a_hi
    cb = _SPLITTER * b
    b_hi = cb - (cb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def scaled_log(v, ref, a, a_lo=None, parts=None):
    """``(a + a_lo) ln(v / ref)`` as an unevaluated double-double ``(t_hi, t_lo)``, and
    ``ln(v / ref)`` rounded (values only): ``ln(v / ref) = big + hi + lo``
    (``_log_ratio_dd``), ``big + hi`` by TwoSum (exact) and ``a`` times its high part by
    Dekker's exact product. ``a_lo``: the low part of an exponent that is itself a pair
    (``p - 1 = a + a_lo`` exactly, by ``two_sum``): rounding ``p - 1`` to one double costs
    ``|ln(v / ref)|`` times its rounding error (15 ULP in an Lp norm's gradient at p = 0.05,
    ``|ln| = 43``).
    ``parts``: ``_log_ratio_dd(v, ref)`` when the caller already has it (it is most of the
    cost)."""
    ad = a.detach()
    big, hi, lo = _log_ratio_dd(v, ref) if parts is None else parts
    ad = torch.broadcast_to(ad, big.shape)
    l_hi, l_err = two_sum(big, hi)
    p, e = two_prod(ad, l_hi)
    q = e + ad * (l_err + lo)
    if a_lo is not None:
        q = q + a_lo.detach() * l_hi
    t_hi = p + q
    # an overflowed t_hi (|a| near the float64 maximum) has no low part (inf - inf is NaN)
    t_lo = torch.where(torch.isinf(t_hi), 0.0, q - (t_hi - p))
    return t_hi, t_lo, big + (hi + lo)


def power_ratio(v: torch.Tensor, ref: torch.Tensor, a: torch.Tensor,
                log: torch.Tensor | None = None, minus_one: bool = False,
                a_lo: torch.Tensor | None = None, parts=None, t=None) -> torch.Tensor:
    """``(v / ref) ** a`` (or, with ``minus_one``, ``(v / ref) ** a - 1`` without cancellation)
    for positive float64 ``v``, ``ref``, as ``exp(a ln(v / ref))`` with the product
    ``a ln(v / ref)`` carried in double-double.

    Rounding ``t = a ln(v/ref)`` to one double would cost ``|t| eps`` of relative error (35 eps
    for a 1e30 range); here ``ln(v/ref) = k LN2_HI + (k LN2_LO + ln(mv/mr))`` with the first term
    exact, ``a k LN2_HI`` is split exactly by Dekker's product, and ``exp(t_hi + t_lo)`` is
    ``exp(t_hi) + exp(t_hi) t_lo``. Derivatives are those of ``exp(a ln v)`` (``ref`` constant);
    ``log`` is ``log_ratio(v, ref)`` when the caller already has it; ``a_lo`` the exponent's
    low part when it is a pair, ``parts`` the double-double logarithm (``scaled_log``); ``t``
    the pair ``(t_hi, t_lo)`` itself when the caller has it (then ``log`` is required).
    """
    with torch.no_grad():
        if t is None:
            t_hi, t_lo, lr = scaled_log(v, ref, a, a_lo, parts)
        else:
            (t_hi, t_lo), lr = t, log.detach()
        e_hi = torch.exp(t_hi)
        # exp(t_hi) (1 + t_lo) without rounding 1 + t_lo
        value = (torch.expm1(t_hi) if minus_one else e_hi) + e_hi * t_lo
        plain = a.detach() * lr
        fallback = torch.expm1(plain) if minus_one else torch.exp(plain)
        # the plain product where the double-double one failed: a finite t whose exp
        # overflows, or t_hi = inf - inf (|a| near the float64 maximum, a ln(v/ref) split
        # into two overflowing halves of opposite signs)
        value = torch.where(torch.isfinite(value) | torch.isinf(t_hi), value, fallback)

    def approx():
        e = torch.exp(a * (log_ratio(v, ref) if log is None else log))
        return e - 1 if minus_one else e

    return _with_derivative(value, approx, v, a)


def scaled_power_ratio(f: torch.Tensor, v: torch.Tensor, ref: torch.Tensor, b: torch.Tensor,
                       c: torch.Tensor, b_lo: torch.Tensor | None = None,
                       c_lo: torch.Tensor | None = None, t=None, split: bool = False,
                       low: bool = False):
    """``f (v / ref)**b exp(c)`` for positive float64 ``v``, ``ref`` with no intermediate
    overflow or underflow: finite whenever the product is, though ``(v / ref)**b`` alone may
    not be (values only). With ``split``, the pair ``(m, k)`` with the value ``m 2**k``
    (``m = f e**r``, ``|r| <= ln(2) / 2``; ``k`` an integer-valued float64, ``|k| <= 2100``):
    finite even where the value overflows (``ScaledTerms``).

    The exponent ``t = b ln(v/ref) + c`` is carried as a double-double (``b ln(v/ref)`` as in
    ``power_ratio``, ``c`` added by TwoSum), then ``exp(t) = 2^k exp(t - k ln 2)`` with
    ``k = round(t / ln 2)``, ``k ln 2`` subtracted exactly in two parts, and ``2^k`` applied
    to ``f exp(r)`` as two exact factors. Rounding ``t`` (hundreds in magnitude) to one double
    first would cost ``|t| eps`` relative (150+ ulp near the float64 maximum). ``b_lo`` and
    ``c_lo``: low parts of ``b`` and ``c`` when they are pairs; ``t`` the pair
    ``b ln(v/ref)`` itself when the caller has it. With ``split`` and ``low``, ``(m, k, m_lo)``:
    ``m + m_lo`` within about 2^-59 relative (``r`` kept as a pair and ``exp_dd``), for sums
    beyond the range whose terms differ by less than one rounding of ``m`` (the Lp norm's at
    p = 1e-8 on windows a few ULP apart: 1e-17 relative, and their sum's sign is its value).
    """
    with torch.no_grad():
        t_hi, t_lo = scaled_log(v, ref, b, b_lo)[:2] if t is None else t
        c = c.detach()
        s = t_hi + c
        bb = s - t_hi
        err = (t_hi - (s - bb)) + (c - bb)
        lo = err + t_lo
        if c_lo is not None:
            lo = lo + c_lo.detach()
        if low:
            r_hi, r_lo, k = reduce_ln2(s, lo, pair=True)
            e, e_lo = exp_dd(r_hi, r_lo)
            m, m_err = two_prod(f.detach(), e)
            return m, k, m_err + f.detach() * e_lo
        r, k = reduce_ln2(s, lo)
        m = f.detach() * torch.exp(r)
        if split:
            return m, k
        return times_pow2(m, k)


def pow2(e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``2**e`` for an integer tensor ``|e| <= 2100`` as two exact float64 factors.

    The base is a Python number (``aten::pow.Scalar``), not a tensor made with
    ``torch.tensor(2.0, device=e.device)``: on a GPU that is a copy from pageable host memory,
    which synchronises the host with the device at every call (on an H200 the Triton
    backward's host waited for the device in ``cudaStreamSynchronize``, once per ``pow2`` call
    of its alpha gradient, until this changed; ``python -m tests.gpu_profile``)."""
    e1 = torch.div(e, 2, rounding_mode="floor")
    return torch.pow(2.0, e1.to(torch.float64)), torch.pow(2.0, (e - e1).to(torch.float64))


def scaled_sum(rel: torch.Tensor, ref: torch.Tensor, keep: int,
               ref_exp: torch.Tensor | None = None) -> torch.Tensor:
    """``sum(rel * ref 2^ref_exp)`` over the windows of a ``(N, C, *out)`` tensor, to a
    parameter's shape: ``keep`` = 0 (one value), 1 (per channel) or 2 (per plane);
    ``ref_exp`` (integer-valued float64, any size) holds the part of each window's unit that
    float64 cannot: the Lp norm's y ~ 5^1000 at p = 1e-3.

    Each product is formed as (mantissa of rel) (mantissa of ref) 2^(e - E), with ``e`` its
    binary exponent and ``E`` the largest in its sum: exact scalings, so that a product of a
    huge ``rel`` and a tiny ``ref`` (or of two subnormal-scale factors) neither overflows nor
    underflows before the sum, and partial sums of huge magnitude do not overflow before
    they cancel; with ``ref_exp`` the sum is compensated (``csum``), so that beyond the range,
    where a sum's sign is its value, it is right unless the terms cancel to below about
    n^2 2^-106 of their size. The result is ``2^E`` times the scaled sum (overflowing only if
    it must)."""
    ref = torch.broadcast_to(ref, rel.shape)
    dims = {0: tuple(range(rel.dim())), 1: (0, *range(2, rel.dim())),
            2: tuple(range(2, rel.dim()))}[keep]
    if not dims:
        return rel * ref if ref_exp is None else times_pow2_exact(rel * ref, ref_exp)
    if rel.numel() == 0:  # an empty batch: zeros of the parameter's shape
        return (rel * ref).sum(dim=dims)
    with torch.no_grad():
        er = torch.frexp(rel.detach()).exponent
        ef = torch.frexp(ref.detach()).exponent
        # a zero product's exponent (frexp(0) gives 0) must not set the scale: a sum of one
        # term 2^-1030 and a zero scaled to 2^2 lost the term's digits in a subnormal
        live = (rel.detach() != 0) & (ref.detach() != 0)
        e = (er + ef).to(torch.float64)
        if ref_exp is not None:
            e = e + torch.broadcast_to(ref_exp, rel.shape)
        e = torch.where(live, e, 0.0)
        top = torch.where(live, e, -math.inf).amax(dim=dims, keepdim=True)
        top = torch.where(torch.isfinite(top), top, 0.0)  # no live term: any scale
        a1, a2 = pow2(-er)
        b1, b2 = pow2(-ef)
        c1, c2 = pow2(torch.where(live, e - top, 0.0).clamp(-2100, 0).to(torch.int64))
    terms = (rel * a1 * a2) * (ref.detach() * b1 * b2) * c1 * c2
    if ref_exp is None:  # units within float64's range: a plain sum (a finite result's
        # rounding is the tolerance's business)
        return times_pow2_exact(terms.sum(dim=dims), top.amax(dim=dims))
    # compensated (csum): where 2^top is beyond the range the sum's sign is its value, and
    # a plain sum loses terms 1e-176 below others before those cancel
    lead = {0: (), 1: (terms.shape[1],), 2: tuple(terms.shape[:2])}[keep]
    flat = terms.transpose(0, 1) if keep == 1 else terms
    return times_pow2_exact(csum(flat.reshape(*lead, -1)), top.amax(dim=dims))


def times_pow2_exact(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``v 2^k`` for an integer-valued float64 ``k`` of any size (the Lp norm's scales reach
    2^(1e8) at p = 1e-8): ``v``'s mantissa (an exact scaling) times 2^(its exponent + k),
    rounded once; 0 where ``v`` is, whatever ``k``."""
    with torch.no_grad():
        vk = torch.frexp(v.detach()).exponent
        d1, d2 = pow2(-vk)
    return times_pow2(v * d1 * d2, vk.to(torch.float64) + k)


def phi(d: torch.Tensor, precise: bool = True) -> torch.Tensor:
    """``q ln q - q + 1`` at ``q = 1 + d`` (>= 0; 1 at q = 0), without cancellation near q = 1.

    With ``s = d / (2 + d)``, ``ln q = 2 atanh(s)`` and, exactly,
    ``q ln q - q + 1 = d s + 2 (1 + d) s^3 (1/3 + s^2/5 + s^4/7 + ...)``: two terms of which the
    second is at most a fifth of the first, so no cancellation. Used for ``|d| < 1/2``
    (``s^2 <= 1/9``: 18 terms reach float64 roundoff) or, without ``precise``, ``|d| < 1/4``
    (``s^2 < 0.0205``: 6 terms, far below float32's); the formula elsewhere.
    """
    small = d.abs() < (0.5 if precise else 0.25)
    ds = torch.where(small, d, 0.0)
    s = ds / (2.0 + ds)
    t = s * s
    series = torch.zeros_like(d)
    for k in reversed(range(18 if precise else 6)):
        series = series * t + 1.0 / (2 * k + 3)
    near = ds * s + 2.0 * (1.0 + ds) * (s * t) * series
    q = 1.0 + d
    qs = torch.where(small | (q <= 0), 1.0, q)
    direct = qs * torch.log(qs) - qs + 1.0
    return torch.where(small, near, torch.where(q <= 0, 1.0, direct))
