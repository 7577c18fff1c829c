"""The flint branch-and-bound encloses the true maximum, and excludes a wrong one."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
from flint import arb

from ppverify.claims.intervals import enclose_max


def test_encloses_a_known_maximum():
    enc = enclose_max(lambda v: v * (1 - v), Fraction(0), Fraction(1))
    assert enc.lower <= Fraction(1, 4) <= enc.upper
    assert enc.upper - enc.lower < Fraction(1, 10**5)


def test_finds_a_narrow_peak_and_excludes_a_wrong_bound():
    def peaked(v):  # maximum 2 at v = 0.3141, width ~ 1e-3
        d = (v - arb(3141) / 10000) * 1000
        return 2 / (1 + d * d)

    enc = enclose_max(peaked, Fraction(0), Fraction(1))
    assert enc.lower <= 2 <= enc.upper
    assert enc.lower > Fraction(199, 100)  # a bound of 1.99 would be rejected
    assert abs(float(enc.argmax) - 0.3141) < 1e-3


def test_overshoot_enclosure_against_an_independent_maximiser():
    """G(1) from the branch-and-bound against mpmath's maximiser of the same function."""
    enc = enclose_max(lambda v: (1 + v * (arb(1) / v).log() / (1 + v)) / (1 + v),
                      Fraction(1, 2**20), Fraction(1))

    def f(v):
        return (1 + v * mpmath.log(1 / v) / (1 + v)) / (1 + v)

    with mpmath.workdps(30):
        vstar = mpmath.findroot(lambda v: mpmath.diff(f, v), 0.09)
        best = f(vstar)
    assert enc.lower <= Fraction(str(best)) + Fraction(1, 10**20)
    assert Fraction(str(best)) <= enc.upper
    assert float(best) == pytest.approx(1.09983932, abs=1e-8)
