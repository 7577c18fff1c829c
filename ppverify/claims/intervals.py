"""python-flint interval branch-and-bound: certified enclosures of a maximum on a box.

``enclose_max(f, lo, hi)`` encloses ``max_{lo <= v <= hi} f(v)`` for a function ``f`` that maps
an ``arb`` ball to a ball containing every value of ``f`` on it (an interval extension: any
expression written with arb arithmetic is one). The box is cut in halves; a piece whose upper
bound is below the best value found at a point is discarded, the others are split until every
remaining piece is narrower than ``tol`` or its bound is within ``tol`` of the best point value.
The result ``(lower, upper)`` is rigorous: ``lower`` is f at a point (a value attained),
``upper`` bounds f on every piece of the box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from flint import arb, ctx

PREC = 128


@dataclass(frozen=True)
class Enclosure:
    lower: Fraction  # f(argmax) rounded down: a value attained on the box
    upper: Fraction  # f <= upper everywhere on the box
    argmax: Fraction
    pieces: int      # boxes evaluated

    def contains(self, v: float) -> bool:
        return self.lower <= Fraction(v) <= self.upper


def _exact(b: arb, up: bool) -> Fraction:
    """An exact rational bound of ball ``b``: its upper end when ``up``, else its lower end."""
    end = b.upper() if up else b.lower()
    man, exp = end.mid().man_exp()
    return Fraction(int(man)) * Fraction(2) ** int(exp)


def _ball(lo: Fraction, hi: Fraction) -> arb:
    a = arb(lo.numerator) / lo.denominator
    b = arb(hi.numerator) / hi.denominator
    return a.union(b)


def enclose_max(f: Callable[[arb], arb], lo: Fraction, hi: Fraction, *,
                tol: Fraction = Fraction(1, 10**6), max_pieces: int = 20000) -> Enclosure:
    """Rigorous enclosure of ``max f`` on ``[lo, hi]`` (see the module docstring)."""
    saved = ctx.prec
    ctx.prec = PREC
    try:
        best_arg = (lo + hi) / 2
        best = _exact(f(_ball(best_arg, best_arg)), up=False)
        stack = [(lo, hi)]
        pieces = 0
        done_upper: list[Fraction] = []
        while stack:
            a, b = stack.pop()
            pieces += 1
            if pieces > max_pieces:
                raise RuntimeError(f"branch-and-bound exceeded {max_pieces} pieces")
            mid = (a + b) / 2
            val = _exact(f(_ball(mid, mid)), up=False)
            if val > best:
                best, best_arg = val, mid
            whole = f(_ball(a, b))
            if not whole.is_finite():  # no finite enclosure on this piece yet: split it
                if b - a <= tol * tol:
                    raise RuntimeError(f"f has no finite enclosure on [{a}, {b}]")
                stack += [(a, mid), (mid, b)]
                continue
            ub = _exact(whole, up=True)
            if ub <= best:
                continue
            if ub - best <= tol or b - a <= tol * tol:
                done_upper.append(ub)
                continue
            stack += [(a, mid), (mid, b)]
        upper = max(done_upper) if done_upper else best
        return Enclosure(lower=best, upper=max(upper, best), argmax=best_arg, pieces=pieces)
    finally:
        ctx.prec = saved
