"""certify.py: the fast float64 test and the exact ball test must agree, ties must not pass."""

import random
from fractions import Fraction

import pytest
from flint import arb, ctx

from ppverify.oracle.certify import Accumulator, certify_ball, certify_many
from ppverify.oracle.formats import FORMATS, round_fraction


def _ball(value: Fraction, radius: Fraction, prec: int = 200) -> arb:
    saved = ctx.prec
    ctx.prec = prec
    try:
        mid = arb(value.numerator) / value.denominator
        return arb(mid.mid(), arb(radius.numerator) / radius.denominator)
    finally:
        ctx.prec = saved


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_fast_path_agrees_with_exact_rounding(name):
    fmt = FORMATS[name]
    rng = random.Random(1)
    exacts = []
    for _ in range(400):
        mant = rng.randrange(1, 2**80)
        exp = rng.randrange(fmt.emin - fmt.precision - 5, fmt.emax + 2) - 80
        sign = -1 if rng.random() < 0.5 else 1
        exacts.append(Fraction(sign * mant) * Fraction(2) ** exp)
    balls = [_ball(v, Fraction(0)) for v in exacts]
    got = certify_many(balls, fmt)
    for v, g, b in zip(exacts, got, balls):
        # an exact ball that is not a midpoint is always decided, by either path
        assert g is not None, (v, name)
        assert g == round_fraction(v, fmt), (v, name)
        assert certify_ball(b, fmt) == g, (v, name)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_ball_straddling_a_midpoint_is_undecided(name):
    fmt = FORMATS[name]
    one_ulp = Fraction(2) ** (1 - fmt.precision)
    midpoint = 1 + one_ulp / 2
    ball = _ball(midpoint, Fraction(2) ** -150)
    assert certify_many([ball], fmt) == [None]
    assert certify_ball(ball, fmt) is None


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_exact_midpoint_rounds_to_even(name):
    fmt = FORMATS[name]
    one_ulp = Fraction(2) ** (1 - fmt.precision)
    assert certify_many([1 + one_ulp / 2], fmt) == [1.0]
    assert certify_many([1 + 3 * one_ulp / 2], fmt) == [float(1 + 2 * one_ulp)]


def test_ball_around_zero_certifies_to_zero_once_tiny():
    fmt = FORMATS["float32"]
    assert certify_many([_ball(Fraction(0), Fraction(2) ** -200)], fmt) == [0.0]
    assert certify_many([_ball(Fraction(0), Fraction(2) ** -140)], fmt) == [None]


def test_overflow_threshold():
    fmt = FORMATS["float16"]
    big = Fraction(65504) + 16  # exactly max + ulp/2: rounds to inf
    assert certify_many([_ball(big + Fraction(1, 1000), Fraction(0))], fmt) == [float("inf")]
    assert certify_many([_ball(big - Fraction(1, 1000), Fraction(0))], fmt) == [65504.0]


def test_accumulator_keeps_exact_terms_exact():
    acc = Accumulator()
    acc.add(Fraction(1, 3))
    acc.add(Fraction(2, 3))
    assert acc.is_exact and acc.total() == 1
    acc.add(arb(0.5))
    assert not acc.is_exact
    assert certify_many([acc.total()], FORMATS["float64"]) == [1.5]
