"""Deciding the correctly rounded value of a ball, and sums of exact and ball terms.

A result is *certified* when the whole ball lies strictly inside the rounding interval of one
representable value ``c``: the open interval between the midpoints to ``c``'s neighbours (for
``c = ±max`` the outer end is the overflow threshold ``max + ulp/2``; for ``c = ±inf`` it is
unbounded). A ball that touches a midpoint is not certified: the caller raises the working
precision (Ziv's strategy) or falls back to an exact rational evaluation, which is rounded
exactly by ``formats.round_fraction``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from flint import arb, ctx

from .formats import Format, round_fraction
from .rationals import fraction, mpq_of

Term = arb | Fraction | float


def _neighbour_midpoints(c: float, fmt: Format) -> tuple[arb | None, arb | None]:
    """Exact arb midpoints between ``c`` and its lower/upper neighbours in ``fmt``.

    ``None`` stands for an unbounded side (beyond ``±inf``).
    """
    if math.isinf(c):
        threshold = arb(fmt.max_finite) + arb(fmt.ulp(fmt.max_finite)) / 2
        return (threshold, None) if c > 0 else (None, -threshold)
    a = abs(c)
    up = fmt.ulp(a)
    if a == 0:
        half = arb(fmt.min_subnormal) / 2
        return -half, half
    # spacing below a: halves at a power of two in the normal range
    mant = math.frexp(a)[0]
    down = up / 2 if (mant == 0.5 and a > fmt.min_normal) else up
    ac = arb(a)
    upper = ac + arb(up) / 2
    lower = ac - arb(down) / 2
    if c > 0:
        return lower, upper
    return -upper, -lower


def _candidates(ball: arb, fmt: Format) -> list[float]:
    mid = float(ball.mid())
    if math.isnan(mid):
        return []
    from .formats import round_float_array  # local import: keeps the hot path lean

    c = mid if fmt.name == "float64" else float(round_float_array(mid, fmt))
    out = [c]
    if math.isfinite(c):
        step = fmt.ulp(c)
        out += [c + step, c - step]
    return out


def certify_ball(ball: arb, fmt: Format) -> float | None:
    """The correctly rounded value of the number enclosed by ``ball``, or ``None`` if undecided."""
    if not ball.is_finite():
        return None
    saved = ctx.prec
    ctx.prec = max(saved, 64)  # the midpoints need precision + 1 bits to be exact
    try:
        for c in _candidates(ball, fmt):
            lower, upper = _neighbour_midpoints(c, fmt)
            if (lower is None or ball > lower) and (upper is None or ball < upper):
                return 0.0 if c == 0 else c
        return None
    finally:
        ctx.prec = saved


def round_term(value: Term, fmt: Format) -> float | None:
    """Round an exact ``Fraction``/``float`` or a ball; ``None`` when a ball is undecided."""
    if isinstance(value, Fraction):
        return round_fraction(value, fmt)
    if isinstance(value, float):
        if math.isinf(value) or value == 0:
            return value  # keeps the sign of a zero input (max/min return an input as is)
        return round_fraction(Fraction(value), fmt)
    return certify_ball(value, fmt)


class Accumulator:
    """A sum of exact terms (kept as one rational, by GMP: ``rationals``) and ball terms
    (kept as one ``arb``)."""

    __slots__ = ("exact", "ball", "infinite")

    def __init__(self) -> None:
        self.exact = mpq_of(0)
        self.ball: arb | None = None
        self.infinite: float | None = None

    def add(self, term: Term) -> None:
        if isinstance(term, arb):
            self.ball = term if self.ball is None else self.ball + term
        elif isinstance(term, float) and math.isinf(term):
            self.infinite = term
        else:
            self.exact += mpq_of(term)  # a finite float is exact: keep the sum rational

    def total(self) -> Term:
        if self.infinite is not None:
            return self.infinite
        if self.ball is None:
            return fraction(self.exact)
        if self.exact == 0:
            return self.ball
        return self.ball + arb(int(self.exact.numerator)) / int(self.exact.denominator)

    @property
    def is_exact(self) -> bool:
        return self.ball is None


_SAFE_TINY = 2.0**-900  # below this, float64 bookkeeping could underflow: use exact checks
_MARGIN = 2.0**-45


def _round_candidates(values: np.ndarray, fmt: Format) -> np.ndarray:
    """Nearest values of ``fmt`` to float64 ``values`` (a candidate only: it is verified)."""
    if fmt.name == "float64":
        return values
    with np.errstate(over="ignore", invalid="ignore"):
        if fmt.name in ("float16", "float32"):
            return values.astype(fmt.numpy_dtype).astype(np.float64)
        bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def _half_gaps(c: np.ndarray, fmt: Format) -> np.ndarray:
    """Half the distance from ``c`` to its nearer neighbour in ``fmt`` (a lower bound).

    At ``c = 0`` the neighbours are the smallest subnormals: half of ``min_subnormal``. (Until
    2026-12-08 ``frexp(0)``'s exponent 0 made it ``2**-(precision + 1)``, so a ball rounding
    to a zero candidate was accepted up to about ``2**-25`` in float32 and ``2**-12`` in
    float16: a float16 value of ``2**-25 + 2**-80``, which rounds to ``2**-24``, came out 0.)
    """
    ulp = _spacing_at(np.abs(c), fmt)
    power_of_two = (np.frexp(np.abs(c))[0] == 0.5) & (np.abs(c) > fmt.min_normal)
    return np.where(power_of_two, ulp / 4, ulp / 2)


def _spacing_at(top: np.ndarray, fmt: Format) -> np.ndarray:
    """``Format.ulp`` of each magnitude ``top`` (the spacing of ``fmt``'s values in its binade;
    the smallest subnormal at 0 and below the normal range): the largest spacing of values of
    magnitude ``top`` or less, so the rounding midpoints in ``[-top, top]`` are no farther
    apart. (Finite ``top``; the callers mask the others.)"""
    _, exp = np.frexp(top)
    e = np.where(top == 0, fmt.emin, np.maximum(exp - 1, fmt.emin))
    return np.ldexp(1.0, e - fmt.precision + 1)


def certify_many(values: list[Term], fmt: Format) -> list[float | None]:
    """Correctly rounded values of many terms at once; ``None`` where undecided.

    Fast path, for each ball with midpoint ``m`` and radius ``r``: split ``m`` into
    ``c_hi + c_lo`` (``c_hi = float(m)``, ``c_lo = float(m - c_hi)``, the subtraction being exact
    in ball arithmetic), take the candidate ``c`` nearest to ``c_hi + c_lo`` and accept it when
    ``|m - c| + r`` is below half the gap to ``c``'s nearer neighbour with a relative margin of
    ``2**-45``, which dominates every float64 rounding made in this test. Three more answers
    need no exact comparison, each ``certify_ball``'s own: an exact zero ball is ``0.0``; a
    ball within half the smallest subnormal of zero (with the same margin; not for float64,
    whose such balls are beyond float64's own precision) is ``0.0``; a ball wider than the
    spacing of the format's values at its largest magnitude (and far from overflow) holds a
    rounding midpoint, so it is undecided at this precision (``None``). (In the four k14 cases
    of ``tests/ops/test_saved_backward.py::test_saved_backward_runs_match_oracle`` about
    300,000 exact zeros and 70,000 undecided balls had gone through the exact comparisons one
    by one; those cases took 26.1-26.3 s before, 24.1-25.0 s after.) The other balls near zero
    or overflow, or that fail, go to ``certify_ball``'s exact comparisons; exact terms are
    rounded exactly.
    """
    out: list[float | None] = [None] * len(values)
    ball_pos, his, los, rads = [], [], [], []
    for k, v in enumerate(values):
        if isinstance(v, arb):
            if not v.is_finite():
                continue
            if v.is_zero():  # an exact zero (certify_ball's 0.0)
                out[k] = 0.0
                continue
            m = v.mid()
            hi = float(m)
            ball_pos.append(k)
            his.append(hi)
            los.append(float(m - hi) if math.isfinite(hi) else 0.0)
            rads.append(float(v.rad()))
        else:
            out[k] = round_term(v, fmt)
    if not ball_pos:
        return out
    hi = np.array(his)
    lo = np.array(los)
    rad = np.array(rads)
    with np.errstate(over="ignore", invalid="ignore"):
        c = _round_candidates(hi + lo, fmt)
        delta = (hi - c) + lo
        gap = _half_gaps(c, fmt)
        ok = (
            np.isfinite(c)
            & np.isfinite(hi)
            & (np.abs(c) <= fmt.max_finite)
            & (np.abs(hi) >= _SAFE_TINY)
            & ((np.abs(delta) + rad) * (1 + _MARGIN) < gap * (1 - _MARGIN))
        )
        top = (np.abs(hi) + np.abs(lo) + rad) * (1 + _MARGIN)  # |every number in the ball|
        below_half_tiny = (top < fmt.min_subnormal / 2 * (1 - _MARGIN)) & (fmt.name != "float64")
        wider_than_spacing = (
            np.isfinite(top) & (top < fmt.max_finite / 4)
            & (2 * rad * (1 - _MARGIN) > _spacing_at(top, fmt) * (1 + _MARGIN))
        )
    for idx, k in enumerate(ball_pos):
        if ok[idx]:
            out[k] = float(c[idx]) + 0.0  # (a zero as certify_ball gives it: +0.0)
        elif below_half_tiny[idx]:
            out[k] = 0.0
        elif not wider_than_spacing[idx]:
            out[k] = certify_ball(values[k], fmt)
    return out
