"""The oracle helpers and the mathematics the figures state (asymptotes, Eq. 2 as printed)."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import pytest

from ppverify.report import convergence, lpnorm, values
from ppverify.report.detail import retained_contrast


def test_certified_reaches_requested_accuracy_through_cancellation():
    gap, dist = values.ppool_distance_from_max([1.0, 2.0, 3.0, 4.0], 400.0)
    expected = (Fraction(3, 4) ** 400) * 1  # leading term, C = 1
    assert float(gap / (mpmath.mpf(expected.numerator) / expected.denominator)) == pytest.approx(
        1.0, rel=1e-2)
    assert dist > 0


def test_weights_sum_to_one_and_match_the_oracle_gradient():
    # values come back correctly rounded to `bits` bits; at 60 bits the identities hold to
    # far better than the float comparison below
    xs = [0.5, 1.0, 1.5, 2.0]
    for alpha in (-7.5, -1.0, 0.5, 3.0, 40.0):
        w = values.ppool_weights(xs, alpha, bits=60)
        assert float(sum(w)) == pytest.approx(1.0, abs=len(xs) * 2.0**-60)
        y, grads, _ = values.ppool(xs, alpha, bits=60)
        for wi, xi, gi in zip(w, xs, grads):
            assert float(wi * ((alpha + 1) - alpha * y / xi)) == pytest.approx(float(gi),
                                                                              rel=1e-8, abs=1e-15)


@pytest.mark.parametrize("xs", convergence.WINDOWS)
def test_analytic_rates_match_the_oracle_at_large_alpha(xs):
    alpha = 2000.0
    gap, dist = values.ppool_distance_from_max(list(xs), alpha)
    value_asym, grad_asym = convergence.asymptotes(xs, alpha)
    assert float(gap / value_asym) == pytest.approx(1.0, rel=0.02)
    assert float(dist / grad_asym) == pytest.approx(1.0, rel=0.02)


def test_rate_constants_of_a_tied_second_value():
    r, m1, m2, c, d = convergence.rate_constants((2.0, 3.0, 3.0, 5.0))
    assert (r, m1, m2, c) == (Fraction(3, 5), 1, 2, Fraction(4))
    assert d == 2 * Fraction(25 - 9, 15)


def test_eq2_as_printed_has_a_pole_at_p_1_that_the_correct_gradient_lacks():
    xs = lpnorm.WINDOW
    below, _ = lpnorm.eq2_as_printed(xs, 1 - 1e-6, 3)
    above, _ = lpnorm.eq2_as_printed(xs, 1 + 1e-6, 3)
    assert abs(below) > 1e100 and abs(above) < 1e-100
    _, grads, _ = values.lp(xs, 1.0)
    assert [float(g) for g in grads] == [1.0] * len(xs)


def test_values_are_correctly_rounded_whatever_the_working_precision():
    # the plotted value must not depend on the precision (or library version) that decided it
    from flint import arb, ctx

    from ppverify.oracle.reference import workprec

    decided = []
    for prec in (64, 128, 512):
        with workprec(prec):
            ball = arb(2).sqrt()
            assert ctx.prec == prec
            decided.append(values.correctly_rounded(ball, 30))
    assert decided[0] == decided[1] == decided[2]
    with mpmath.workprec(30):
        assert decided[0] == +mpmath.sqrt(2)
    # a ball whose ends round differently is not decided yet
    assert values.correctly_rounded(arb(1, 2.0**-20), 30) is None
    # exact quotients are rounded once
    assert values.correctly_rounded(Fraction(1, 3), 30) == mpmath.mpf(
        mpmath.libmp.from_rational(1, 3, 30, "n"))


def test_grids_are_exact_functions_of_their_arguments():
    grid = values.symmetric_grid(1000.0, 3, 5)
    assert grid == [-1000.0, -100.0, -10.0, -1.0, -0.5, 0.5, 1.0, 10.0, 100.0, 1000.0]
    assert values.log_grid(1.0, 1000.0, 4) == [1.0, 10.0, 100.0, 1000.0]


def test_to_float_clamps_instead_of_overflowing():
    assert values.to_float(mpmath.mpf(10) ** 400) == 1e300
    assert values.to_float(-mpmath.mpf(10) ** 400) == -1e300
    assert math.isfinite(values.to_float(mpmath.mpf(2) ** -5000))


def test_detail_contrast_limits():
    assert retained_contrast("line", 0.0) == pytest.approx(0.25)
    assert retained_contrast("line", 200.0) == pytest.approx(1.0)
    assert retained_contrast("dark line", -200.0) == pytest.approx(1.0)


@pytest.mark.parametrize("figure", [convergence, lpnorm], ids=["convergence", "lpnorm"])
def test_figure_data_does_not_depend_on_the_global_mpmath_precision(figure):
    # mpmath's precision is global to the process: a test (or a user's script) that leaves it
    # at 128 bits must not change one plotted float (reports/data/*.json is compared byte for
    # byte with a fresh run)
    import matplotlib.pyplot as plt

    from ppverify.report.content import figure_content

    records = []
    for prec in (53, 128, 300):
        with mpmath.workprec(prec):
            fig = figure.build(quick=True)
        records.append(figure_content(fig))
        plt.close(fig)
    assert records[0] == records[1] == records[2]


def test_grids_and_quotients_are_correctly_rounded():
    grid = values.log_grid(1.0, 1000.0, 7)
    assert grid[0] == 1.0 and grid[-1] == 1000.0 and grid[2] == 10.0 and grid[4] == 100.0
    for i, v in enumerate(grid):
        with mpmath.workprec(300):
            exact = mpmath.power(10, mpmath.mpf(i) / 2)
            assert v == float(exact)  # one rounding from 300 bits
    assert values.symmetric_grid(100.0, 2, 3) == [-100.0, -10.0, -1.0, 1.0, 10.0, 100.0]
    with mpmath.workprec(300):
        a, b = mpmath.mpf(1) / 3, mpmath.mpf(7)
        assert values.quotient(a, b) == float(Fraction(1, 21))
