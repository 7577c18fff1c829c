"""Oracle values for the figures: every plotted number that is not itself under test.

The figures never re-implement an operator in floating point. They call the oracle's window
functions (``ppverify.oracle.operators``: python-flint ball arithmetic) inside a small Ziv
loop: evaluate at a working precision, and if any requested quantity is not yet *correctly
rounded* to ``bits`` significant bits (both ends of its ball round to the same ``bits``-bit
number), double the precision and evaluate again. Results are returned as ``mpmath.mpf``
holding that correctly rounded value (no overflow or underflow, so ``(3/4)**1000`` or
``4**100`` survive) and converted to floats for plotting only at the end, with ``to_float``
clamping to the float range. Because every plotted value is correctly rounded, it does not
depend on the machine, on the working precision that decided it, on the python-flint version
or on the global precision (``mpmath.mp.prec``) that the caller left set: the report's figure
data (``reports/data/<stem>.json``) is identical everywhere. The parameter grids, the analytic
asymptotes and the ratios drawn are correctly rounded floats for the same reason.

Quantities derived from several oracle outputs (``max - y``, the distance of a gradient from
one-hot) are formed in ball arithmetic *before* the accuracy test, so cancellation is paid for
with precision rather than hidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import mpmath
from flint import arb
from mpmath.libmp import from_rational, round_nearest

from ..oracle import operators
from ..oracle.reference import workprec

START_BITS = 64
MAX_BITS = 1 << 15

Ball = arb | Fraction


def as_ball(v) -> arb:
    """An exact ``Fraction``/int/float or an ``arb`` as an ``arb`` at the current precision."""
    if isinstance(v, arb):
        return v
    if isinstance(v, Fraction):
        return arb(v.numerator) / v.denominator
    return arb(v)


def correctly_rounded(v, bits: int) -> mpmath.mpf | None:
    """``v`` (a ball, ``Fraction``, int or float) rounded to nearest at ``bits`` significant
    bits, or ``None`` while the ball's two ends round to different numbers."""
    with mpmath.workprec(bits):
        if isinstance(v, Fraction):  # exact quotient, rounded once
            return mpmath.mpf(from_rational(v.numerator, v.denominator, bits, round_nearest))
        if isinstance(v, (int, float)):  # the only floats the oracle returns are infinities
            return +mpmath.mpf(v)
        if not v.is_finite():
            return None
        lower = +mpmath.mpf(v.lower()._mpf_)
        upper = +mpmath.mpf(v.upper()._mpf_)
        return lower if lower == upper else None


def certified(fn: Callable[[], Sequence[Ball]], bits: int = 30) -> list[mpmath.mpf]:
    """Evaluate ``fn()`` (a list of balls/Fractions) until each is correctly rounded to ``bits``
    significant bits; return those rounded values.

    Raises ``ArithmeticError`` if ``MAX_BITS`` of working precision is not enough (a quantity
    that is exactly zero, or exactly halfway between two ``bits``-bit numbers, but computed as
    a ball that is not exact: callers avoid asking that).
    """
    prec = START_BITS
    while True:
        with workprec(prec):
            values = [correctly_rounded(v, bits) for v in fn()]
        if all(v is not None for v in values):
            return values
        if prec >= MAX_BITS:
            raise ArithmeticError(f"could not round to {bits} bits at {MAX_BITS} bits")
        prec *= 2


def to_float(v) -> float:
    """An mpf as a float, clamped to +-1e300 so that matplotlib keeps off-scale points."""
    f = float(v)
    if math.isinf(f) or abs(f) > 1e300:
        return math.copysign(1e300, f)
    return f


# ------------------------------------------------------------------ one window, one operator


def ppool(xs: Sequence[float], alpha: float, bits: int = 30):
    """``(y, [dy/dx_i], dy/dalpha)`` of P-pooling from the oracle, as mpf."""
    def fn():
        r = operators.ppool_window(xs, alpha)
        return [r.value, *r.grad_inputs, r.grad_param]
    out = certified(fn, bits)
    return out[0], out[1:-1], out[-1]


def ppool_weights(xs: Sequence[float], alpha: float, bits: int = 30) -> list[mpmath.mpf]:
    """The weights ``w_i = x_i^alpha / sum x^alpha`` (positive inputs), in ball arithmetic.

    These are the weights of the oracle's statement ``y = sum w_i x_i`` (module docstring of
    ``ppverify.oracle.operators``); they are not an oracle output, so they are computed here
    from their definition, in balls, with the same accuracy loop.
    """
    if any(v <= 0 for v in xs):
        raise ValueError("ppool_weights needs positive inputs")

    def fn():
        a = arb(alpha)
        powers = [(a * arb(v).log()).exp() for v in xs]
        total = sum(powers[1:], powers[0])
        return [u / total for u in powers]
    return certified(fn, bits)


def ppool_distance_from_max(xs: Sequence[float], alpha: float, bits: int = 20):
    """``(max - y, sum_i |dy/dx_i - e_i|)`` with ``e`` one-hot at the (unique) maximum."""
    top = max(xs)
    k = xs.index(top)

    def fn():
        r = operators.ppool_window(xs, alpha, want_param_grad=False)
        gap = as_ball(Fraction(top)) - as_ball(r.value)
        dist = arb(0)
        for i, g in enumerate(r.grad_inputs):
            dist += abs(as_ball(g) - (1 if i == k else 0))
        return [gap, dist]
    gap, dist = certified(fn, bits)
    return gap, dist


def lp(xs: Sequence[float], p: float, bits: int = 30):
    """``(y, [dy/dx_i], dy/dp)`` of the Lp norm ``(sum x^p)^(1/p)`` from the oracle."""
    def fn():
        r = operators.lp_window(xs, p)
        return [r.value, *r.grad_inputs, r.grad_param]
    out = certified(fn, bits)
    return out[0], out[1:-1], out[-1]


def powermean(xs: Sequence[float], p: float, bits: int = 30):
    """``(y, [dy/dx_i], dy/dp)`` of the power mean ``((1/N) sum x^p)^(1/p)`` from the oracle."""
    def fn():
        r = operators.powermean_window(xs, p)
        return [r.value, *r.grad_inputs, r.grad_param]
    out = certified(fn, bits)
    return out[0], out[1:-1], out[-1]


def means(xs: Sequence[float]) -> dict[str, Fraction | float]:
    """Exact min, harmonic, average and max of a window (harmonic is 0 if a zero is present)."""
    fx = [Fraction(v) for v in xs]
    harmonic = Fraction(0) if any(v == 0 for v in fx) else len(fx) / sum(1 / v for v in fx)
    return {"min": min(fx), "harmonic": harmonic, "average": sum(fx) / len(fx), "max": max(fx)}


# ------------------------------------------------------------------ grids of parameters


def _rounded_floats(fn: Callable[[], Sequence[Ball]]) -> list[float]:
    """The balls of ``fn()`` correctly rounded to float64 (53 bits; finite, normal values)."""
    return [float(v) for v in certified(fn, 53)]


def quotient(a: mpmath.mpf, b: mpmath.mpf) -> float:
    """``a / b`` correctly rounded to a float, whatever ``mpmath.mp.prec`` the caller left set
    (a quotient at a higher global precision, rounded again to 53 bits, could differ)."""
    with mpmath.workprec(53):
        return to_float(a / b)


def symmetric_grid(limit: float, n_log: int, n_lin: int = 21) -> list[float]:
    """Parameters for an asinh (signed log) axis: ``n_lin`` points in [-1, 1] and ``n_log`` per
    side, log-spaced from 1 to ``limit`` (``limit ** (k / n_log)``, correctly rounded); sorted,
    without 0 (0 is a special point)."""
    inner = [float(Fraction(2 * i, n_lin - 1) - 1) for i in range(n_lin)]
    outer = _rounded_floats(
        lambda: [arb(limit) ** (arb(i + 1) / n_log) for i in range(n_log)])
    values = set(inner) | set(outer) | {-v for v in outer}
    values.discard(0.0)
    return sorted(values)


def log_grid(lo: float, hi: float, n: int) -> list[float]:
    """``n`` log-spaced points from ``lo`` to ``hi`` (both > 0): ``lo (hi/lo) ** (i/(n-1))``,
    each correctly rounded, so the same floats on every machine (``10 ** x`` in the platform's
    libm can differ in the last bit) and whatever mpmath precision the caller has set."""
    return _rounded_floats(
        lambda: [arb(lo) * (arb(hi) / lo) ** (arb(i) / (n - 1)) for i in range(n)])
