"""Exact rationals of huge size for the oracle's exact paths: GMP does the gcds.

``Fraction`` normalises every result with Python's ``math.gcd``, quadratic in the size of its
operands: with an integer alpha of 1000 on float64 inputs spanning 600 decades, ``x^alpha`` has
about a million bits, each gcd took 0.3 s and one window's exact check 27 s (a ``--thorough``
check case 160 s; alpha = -1000, 270 s per window). Here the sums and products run on
``gmpy2.mpq`` (subquadratic gcd) and the results come back as ordinary ``Fraction``s built from
coprime parts, without normalising them again."""

from __future__ import annotations

from fractions import Fraction

import gmpy2


def from_coprime(numerator: int, denominator: int) -> Fraction:
    """``numerator / denominator`` (coprime, ``denominator > 0``) as a ``Fraction``, without
    the gcd that ``Fraction(n, d)`` would compute again."""
    make = getattr(Fraction, "_from_coprime_ints", None)  # Python 3.12+
    if make is not None:
        return make(numerator, denominator)
    return Fraction(numerator, denominator, _normalize=False)  # Python 3.10, 3.11


def fraction(q) -> Fraction:
    """A ``gmpy2.mpq`` (always in lowest terms) as a ``Fraction``."""
    return from_coprime(int(q.numerator), int(q.denominator))


def mpq_of(value) -> gmpy2.mpq:
    """A ``Fraction``, an integer or a finite float as an exact ``mpq``."""
    if isinstance(value, float):
        value = Fraction(*value.as_integer_ratio())
    if isinstance(value, Fraction):
        return gmpy2.mpq(value.numerator, value.denominator)
    return gmpy2.mpq(value)
