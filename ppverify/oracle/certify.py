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

from flint import arb

from .formats import Format, round_fraction

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
    for c in _candidates(ball, fmt):
        lower, upper = _neighbour_midpoints(c, fmt)
        if (lower is None or ball > lower) and (upper is None or ball < upper):
            return 0.0 if c == 0 else c
    return None


def round_term(value: Term, fmt: Format) -> float | None:
    """Round an exact ``Fraction``/``float`` or a ball; ``None`` when a ball is undecided."""
    if isinstance(value, Fraction):
        return round_fraction(value, fmt)
    if isinstance(value, float):
        if math.isinf(value):
            return value
        return round_fraction(Fraction(value), fmt)
    return certify_ball(value, fmt)


class Accumulator:
    """A sum of exact terms (kept as one ``Fraction``) and ball terms (kept as one ``arb``)."""

    __slots__ = ("exact", "ball", "infinite")

    def __init__(self) -> None:
        self.exact = Fraction(0)
        self.ball: arb | None = None
        self.infinite: float | None = None

    def add(self, term: Term) -> None:
        if isinstance(term, arb):
            self.ball = term if self.ball is None else self.ball + term
        elif isinstance(term, float) and math.isinf(term):
            self.infinite = term
        else:
            self.exact += term

    def total(self) -> Term:
        if self.infinite is not None:
            return self.infinite
        if self.ball is None:
            return self.exact
        if self.exact == 0:
            return self.ball
        return self.ball + arb(self.exact.numerator) / self.exact.denominator

    @property
    def is_exact(self) -> bool:
        return self.ball is None
