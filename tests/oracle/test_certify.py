"""certify.py: the fast float64 test and the exact ball test must agree, ties must not pass."""

import math
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


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_answer_of_the_fast_path_is_the_exact_tests(name):
    # balls of every width against the spacing of the format's values where they lie (an
    # exact zero, balls around zero down to far below the smallest subnormal, balls of
    # 0.01-3 spacings anywhere): certify_many's answer, value or undecided, is certify_ball's
    fmt = FORMATS[name]
    rng = random.Random(7)
    balls = [arb(0), _ball(Fraction(0), Fraction(0))]
    sub = Fraction(fmt.min_subnormal)
    for scale in (Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(3), Fraction(2) ** -30):
        for _ in range(20):
            mid = sub * scale * Fraction(rng.randrange(-2**20, 2**20), 2**20)
            balls.append(_ball(mid, sub * scale * Fraction(rng.randrange(1, 2**10), 2**12)))
    for _ in range(600):
        exp = rng.randrange(fmt.emin - fmt.precision, fmt.emax - 2)
        mant = rng.choice((-1, 1)) * rng.randrange(2**60, 2**61)
        mid = Fraction(mant) * Fraction(2) ** (exp - 60)
        spacing = Fraction(fmt.ulp(float(abs(mid))))
        width = rng.choice((Fraction(1, 100), Fraction(1, 3), Fraction(1, 2), Fraction(9, 10),
                            Fraction(1), Fraction(11, 10), Fraction(2), Fraction(3)))
        balls.append(_ball(mid, spacing * width / 2))
    got = certify_many(balls, fmt)
    exact = [certify_ball(b, fmt) for b in balls]
    signed = [None if g is None else (g, math.copysign(1.0, g)) for g in got]
    assert signed == [None if g is None else (g, math.copysign(1.0, g)) for g in exact]
    # each kind of answer occurs (the fast path's three shortcuts are exercised)
    assert got[0] == 0.0 and None in got and sum(g == 0.0 for g in got) > 20


@pytest.mark.parametrize(("name", "exponent"), [("float16", -25), ("float32", -150),
                                                ("bfloat16", -134)])
def test_a_value_just_above_half_the_smallest_subnormal_rounds_up(name, exponent):
    # the zero candidate's rounding interval is (-min_subnormal / 2, min_subnormal / 2)
    fmt = FORMATS[name]
    assert fmt.min_subnormal == 2.0 ** (exponent + 1)
    just_above = Fraction(2) ** exponent + Fraction(2) ** (exponent - 55)
    assert certify_many([_ball(just_above, Fraction(0))], fmt) == [fmt.min_subnormal]
    assert certify_many([_ball(-just_above, Fraction(0))], fmt) == [-fmt.min_subnormal]
    just_below = Fraction(2) ** exponent - Fraction(2) ** (exponent - 55)
    assert certify_many([_ball(just_below, Fraction(0))], fmt) == [0.0]
