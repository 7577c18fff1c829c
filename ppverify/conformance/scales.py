r"""Error scales: how much rounding error a careful float implementation cannot avoid.

A result ``c`` of a quantity with correctly rounded value ``r`` is judged by (``compare``)::

    error = min(ulp_distance(c, r), |c - r| / ulp(T))        [in ULP of the case's dtype]

and passes when ``error <= tolerance``. ``T`` is the quantity's *error scale*: a first-order
bound, divided by the unit roundoff ``u``, on the error of a careful implementation that works
in the case's precision. "Careful" means the stable evaluation every good implementation uses:
the window normalised by its largest element (smallest for a negative exponent), powers as
``exp(param * ln(x / m))``, autograd for the derivatives. Each elementary operation rounds once
(relative error ``u``); ``T`` adds up, over the terms of the formula, each term's magnitude
times how much a relative error ``u`` in it moves the result. So ``T`` is never smaller than
the result itself (``T >= |r|``, the plain ULP), and it grows where the quantity is small only
because its terms cancel, or where the formula amplifies rounding (large ``|param ln x|``).

Notation, per window: ``x_i`` its positive elements, ``m`` the normaliser, ``l_i = ln(x_i /
m)``, weights ``w_i`` (``sum w_i = 1``), ``d_i = 1 + |a| (1 + 2 |l_i|)`` the relative error (in
units of ``u``) of the computed ``exp(a l_i)`` (``1 + 2 |a l_i|`` for the normaliser itself,
whose ratio ``x / m = 1`` is exact), ``dbar = sum w_i d_i``.

P-pooling, ``y = sum x^(a+1) / sum x^a = sum w_i x_i`` with ``w_i = x_i^a / sum x^a``::

    T_y      = |y| + sum_i w_i (d_i + dbar) |x_i - y| + |dy/da| (|a| + 1)
    T_dx_i   = w_i [(1 + d_i + dbar)(|a + 1| + |a| y / x_i) + |a| T_y / x_i]
               (+ (|y| + sum_k |x_k dy/dx_k|) / m for the normalising element)
    T_da     = sum_i w_i (x_i + y) (|l_i| (1 + d_i + dbar) + 1) + T_y sum_i w_i |l_i|

Power mean and Lp norm, ``y = m exp(L / p)``, ``L = ln(sum_i exp(p l_i) / D)`` (``D`` the
window size for the power mean, 1 for the Lp norm), ``w_i = x_i^p / sum x^p``::

    T_y      = |y| (2 + (1 + 2 |L| + dbar) / |p|)                     (d_i with a = p)
    T_dx_i   = (|y| w_i / x_i) (T_y / |y| + 2 + d_i + dbar)  (+ 2 |y| / m, normaliser)
    T_dp     = |y| [(|L| (2 + T_y / |y|) + 1 + dbar) / p^2
                    + sum_i w_i (|l_i| (2 + d_i + T_y / |y|) + 1) / |p|]

(the ``+ 1`` terms are the absolute error ``u`` of ``ln`` of a number rounded to relative ``u``:
why a near-tie window, whose exact ``dy/dp`` is 1e-31, may come out as 1e-17 from any float64
implementation). Underflow: a weight ``w_i`` below the smallest normal number ``tiny`` is
rounded with an absolute error up to ``tiny * u``, which the factor it is multiplied by then
amplifies; so each derivative's scale also holds ``tiny`` times that factor
(``tiny (|a + 1| + |a| y / x_i)`` for P-pooling's ``dy/dx_i``, ``tiny y / x_i`` for the power
mean's, ``tiny sum_i (x_i + y)(|l_i| + 1)`` and ``tiny y sum_i (|l_i| + 1) / |p|`` for the
parameter derivatives): a weight of 1e-436 times a factor of 1e200 is 0 in any float64
implementation that forms the weight first. Likewise every value's scale holds ``tiny`` (a result
formed as ``m * z`` below the smallest normal number is rounded to an absolute ``tiny * u``),
which the input derivatives then divide by ``x_i``. Average: ``T_y = sum |x_i| / D`` (signed
inputs cancel), ``T_dx = 1/D``. Max, min: ``T_y = |y|``, ``T_dx = 1``. Exact special cases
(zeros, all-zero windows, equal elements) have ``T`` equal to the exact value's magnitude.
Over windows: the input gradient's scale is ``sum_j |g_j| T_dx(j, i)`` over the windows ``j``
that contain ``x_i``, the parameter gradient's ``sum_j |g_j| T_dp(j)``.

The tolerances (``tolerances``) are multiples of ``ulp(T)`` that absorb sums of up to a few
hundred terms and the constant factors dropped above. Scales are computed in ``numpy.longdouble``
so that huge float64 results do not overflow them, and where even those overflow (beyond about
1e4932: the Lp norm at p = 1e-8, whose results are 1e100000000), in mpmath numbers
(``EXACT_ARITH``, the same formulas), for the results judged against an exact value
(``compare.beyond_range_errors``). This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

from ..oracle.formats import Format

LONG = np.longdouble


@dataclass(frozen=True)
class _Arith:
    """The number type that a scale is computed in: ``numpy.longdouble`` arrays (``LONG_ARITH``,
    the default), or object arrays of mpmath numbers (``EXACT_ARITH``), whose exponent range
    has no limit, for the windows whose scales lie beyond the long doubles' (about 1e4932)."""

    num: type
    dtype: object
    log: object
    exp: object


LONG_ARITH = _Arith(LONG, LONG, np.log, np.exp)
EXACT_ARITH = _Arith(mpmath.mpf, object, np.frompyfunc(mpmath.log, 1, 1),
                     np.frompyfunc(mpmath.exp, 1, 1))


@dataclass
class WindowScale:
    """Error scales of one window: value, each input derivative, the parameter derivative
    (``numpy.longdouble``)."""

    value: np.longdouble
    grad_inputs: np.ndarray
    grad_param: np.longdouble


def window_scale(op: str, xs: Sequence[float], param: float | None, n_padding: int,
                 count_include_pad: bool, tiny: float = 0.0,
                 arith: _Arith = LONG_ARITH) -> WindowScale:
    """The error scales of one window (see the module doc); ``tiny`` is the format's smallest
    normal number (the underflow floor, see the module doc). ``arith``: the number type
    (``LONG_ARITH``; ``EXACT_ARITH`` gives mpmath numbers, for a window whose scales overflow
    the long doubles)."""
    k = arith
    x = np.array([k.num(v) for v in xs], dtype=k.dtype) if k.dtype is object else \
        np.asarray(xs, dtype=k.dtype)
    n_in = x.size
    if op == "avg":
        d = n_in + (n_padding if count_include_pad else 0)
        return WindowScale(np.abs(x).sum() / d if d else k.num(0),
                           np.full(n_in, k.num(1) / d, dtype=k.dtype), k.num(0))
    if op in ("max", "min"):
        top = np.abs(x).max() if n_in else k.num(0)
        return WindowScale(top, np.full(n_in, k.num(1), dtype=k.dtype), k.num(0))
    if count_include_pad and n_padding:
        x = np.concatenate([x, np.full(n_padding, k.num(0), dtype=k.dtype)])
    if np.any(x < 0):
        scale = _signed(x, param, k)
    elif op == "ppool":
        scale = _ppool(x, k.num(param), k.num(tiny), k)
    elif op == "powermean" and param == 0:
        scale = _geometric(x, k)
    else:
        scale = _power_mean(x, k.num(param), x.size if op == "powermean" else None,
                            k.num(tiny), k)
    scale.grad_inputs = scale.grad_inputs[:n_in]
    return scale


def _weights(xs: np.ndarray, a, k: _Arith):
    """Normaliser, logs, weights, per-element error factors d_i and their mean, sum."""
    m = xs.max() if a >= 0 else xs.min()
    logs = k.log(xs / m)
    e = k.exp(a * logs)
    s = e.sum()
    w = e / s
    d = 1 + abs(a) * ((xs != m) + 2 * np.abs(logs))  # x / m is exact for the normaliser
    return m, logs, w, d, (w * d).sum(), s


def _ppool(x: np.ndarray, a, tiny, k: _Arith) -> WindowScale:
    n = x.size
    pos = x > 0
    grads = np.full(n, k.num(0), dtype=k.dtype)
    if not pos.any():  # all zero: exact
        return WindowScale(k.num(0), grads + 1, k.num(0))
    if a == 0:  # the mean of all elements
        return WindowScale(x.max(), grads + k.num(1) / n, _spread(x, k))
    if a < 0 and not pos.all():  # a zero makes y = 0 exactly
        return WindowScale(k.num(0), grads + n, k.num(0))
    xs = x[pos]
    m, logs, w, d, dbar, _ = _weights(xs, a, k)
    y = (w * xs).sum()
    dyda = (w * logs * (xs - y)).sum()
    t_y = y + (w * (d + dbar) * np.abs(xs - y)).sum() + abs(dyda) * (abs(a) + 1) + tiny
    dx = w * ((a + 1) - a * y / xs)
    conditioned = y + np.abs(xs * dx).sum()
    factor = abs(a + 1) + abs(a) * y / xs
    t = w * ((1 + d + dbar) * factor + abs(a) * t_y / xs) + tiny * factor
    t = t + np.where(xs == m, conditioned / m, 0)
    grads[pos] = t
    # zeros (a > 0): exact 0 (a > 1), -y / sum x (a = 1), not compared (a < 1)
    grads[~pos] = 2 * y / xs.sum()
    t_a = (w * (xs + y) * (np.abs(logs) * (1 + d + dbar) + 1)).sum() \
        + t_y * (w * np.abs(logs)).sum() + tiny * ((xs + y) * (np.abs(logs) + 1)).sum()
    return WindowScale(t_y, grads, t_a)


def _power_mean(x: np.ndarray, p, divisor: int | None, tiny, k: _Arith) -> WindowScale:
    n = x.size
    pos = x > 0
    grads = np.full(n, k.num(0), dtype=k.dtype)
    if not pos.any():  # all zero (p > 0): y = 0, exact derivatives N^(-1/p) or 1
        g = k.num(1) if divisor is None else k.num(divisor) ** (-1 / p)
        return WindowScale(k.num(0), grads + g, k.num(0))
    xs = x[pos]
    m, logs, w, d, dbar, s = _weights(xs, p, k)
    big_l = k.log(s / (divisor or 1))
    ratio = 2 + (1 + 2 * abs(big_l) + dbar) / abs(p)
    y = m * k.exp(big_l / p)
    t = y * w / xs * (ratio + 2 + d + dbar) + tiny * (y / xs + 1 / xs)
    grads[pos] = t + np.where(xs == m, 2 * y / m, 0)
    grads[~pos] = 2 * y / (m * s)  # p > 0: exact 0 (p > 1), y / sum x^p (p = 1), or not compared
    t_p = y * ((abs(big_l) * (2 + ratio) + 1 + dbar) / (p * p)
               + (w * (np.abs(logs) * (2 + d + ratio) + 1)).sum() / abs(p)) \
        + tiny * y * (np.abs(logs) + 1).sum() / abs(p)
    return WindowScale(y * ratio + tiny, grads, t_p)


def _geometric(x: np.ndarray, k: _Arith) -> WindowScale:
    n = x.size
    if np.any(x == 0):
        return WindowScale(k.num(0), np.full(n, k.num(1), dtype=k.dtype), k.num(0))
    m = x.max()
    logs = k.log(x / m)
    y = m * k.exp(logs.mean())
    spread = np.abs(logs).mean()
    ratio = 3 + 2 * spread
    t_p = y * ((logs * logs).mean() * (2 + ratio) + 2 * spread + 1)
    return WindowScale(y * ratio, y / (n * x) * (ratio + 3), t_p)


def _signed(x: np.ndarray, param, k: _Arith) -> WindowScale:
    """Integer exponent with negative inputs (rare, literal formula): a generous scale."""
    f = k.num(abs(param or 1.0) + 1) * x.size
    return WindowScale(np.abs(x).max() * f, np.full(x.size, f, dtype=k.dtype), k.num(0))


def _spread(x: np.ndarray, k: _Arith):
    """Scale of dy/dalpha at alpha = 0 (a covariance of x and ln x over the window)."""
    if not np.all(x > 0):
        return k.num(0)
    m = x.max()
    return ((x + m) * (np.abs(k.log(x / m)) * 2 + 1)).mean()


def ulp_units(scale: np.ndarray, fmt: Format) -> np.ndarray:
    """``ulp(T)`` in ``fmt`` for an array of (long double) scales; no overflow."""
    s = np.abs(np.asarray(scale, dtype=LONG))
    _, e = np.frexp(s)
    e = np.maximum(e.astype(np.int64) - 1, 1 - fmt.emax)  # emin of a normal = 1 - emax
    unit = np.ldexp(LONG(1), e - fmt.precision + 1)
    return np.where(s == 0, LONG(fmt.min_subnormal), unit)


def exact_ulp(scale, fmt: Format):
    """``ulp(T)`` in ``fmt`` of one scale of any size (an mpmath number, as ``EXACT_ARITH``
    gives beyond the long doubles' range), as an mpmath number: ``ulp_units`` for one value."""
    t = abs(mpmath.mpf(scale))
    if t == 0:
        return mpmath.mpf(fmt.min_subnormal)
    _, e = mpmath.frexp(t)  # t = f 2^e with f in [0.5, 1)
    e = max(int(e) - 1, 1 - fmt.emax)  # emin of a normal = 1 - emax
    return mpmath.ldexp(mpmath.mpf(1), e - fmt.precision + 1)
