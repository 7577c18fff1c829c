"""The reviewer's questions, re-checked independently with the oracle (ball arithmetic) and
exact fractions: never with the claims' own formulas."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from flint import arb

from ppverify.claims.checks_reviewer import overshoot_values
from ppverify.oracle.operators import ppool_window


def _g(xs, alpha, k):
    v = ppool_window([float(t) for t in xs], float(alpha), False).grad_inputs[k]
    return v if isinstance(v, arb) else arb(v.numerator) / v.denominator


def test_overshoot_never_exceeds_the_enclosure_and_near_ties_approach_it():
    vals = overshoot_values()
    rng = random.Random(14)
    for n_window in (2, 3):
        lo, hi = float(vals[n_window][0]), float(vals[n_window][1])
        best = 0.0
        for _ in range(300):
            al = 10 ** rng.uniform(-1, 4)
            xs = [1.0] + [1 - 10 ** rng.uniform(-7, 0) for _ in range(n_window - 1)]
            g = _g(xs, al, 0)
            assert not bool(g > hi), (xs, al)
            best = max(best, float(g.mid()))
        assert best > 1.0 and best <= hi
    # the family of the proof: others at r with (N-1) r^a = V*, a large, gets within 1e-3
    lo, hi, _, vstar = vals[2]
    al = 1e5
    g = _g([1.0, (float(vstar)) ** (1 / al)], al, 0)
    assert float(lo) - 1e-3 < float(g.mid()) <= float(hi)


def test_overshoot_grows_without_bound():
    vals = overshoot_values()
    uppers = [float(vals[n][1]) for n in sorted(vals)]
    assert uppers == sorted(uppers)
    for n_window, (lo, _, _, _) in vals.items():
        n = n_window - 1
        assert (1 + math.log(n) / 2) / 2 <= float(lo) <= 1 + 1 / math.e + math.log(n) / 4


@pytest.mark.parametrize("xs", [[0.5, 2.0, 1.0], [3.0, 1.0, 0.25, 2.0], [1.0, 4.0]])
def test_threshold_at_alpha_one(xs):
    """dy/dx_k < 0 iff x_k < sqrt(A^2 + B) - A (A, B: sums of the others' x and x^2)."""
    for k, xk in enumerate(xs):
        others = [v for j, v in enumerate(xs) if j != k]
        aa, bb = sum(others), sum(v * v for v in others)
        theta = math.sqrt(aa * aa + bb) - aa
        g = _g(xs, 1.0, k)
        if xk < theta - 1e-12:
            assert bool(g < 0), (xs, k)
        elif xk > theta + 1e-12:
            assert bool(g > 0), (xs, k)


def _sign_changes(xs, k, lo, hi, steps=400):
    grid = [lo + (hi - lo) * j / steps for j in range(steps + 1)]
    signs = [1 if bool(g > 0) else -1 for g in (_g(xs, a, k) for a in grid)]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


def test_sign_changes_of_a_middle_element_and_of_the_minimum():
    xs = [1.0, 2.0, 3.0]
    assert _sign_changes(xs, 1, 0.01, 40.0) == 1   # middle element, alpha > 0
    assert _sign_changes(xs, 1, -40.0, -0.01) == 1  # and once for alpha < 0
    assert _sign_changes([1.0, 3.0, 2.0], 0, -40.0, -0.01) == 0  # the minimum: never


@pytest.mark.parametrize("alpha, unbounded", [(-2.0, False), (-1.0, False), (-0.5, True),
                                               (0.5, True), (1.0, False), (2.0, False)])
def test_zero_input_gradient(alpha, unbounded):
    g = abs(float(_g([2.0**-800, 1.0, 2.0], alpha, 0).mid()))
    assert (g > 1e20) == unbounded, g


def test_forward_rate_bound_and_lower_bound_exactly():
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(2, 7)
        xs = [rng.uniform(0.01, 10) for _ in range(n)]
        al = 10 ** rng.uniform(-1, 3)
        y = ppool_window(xs, al, False).value
        y = y if isinstance(y, arb) else arb(y.numerator) / y.denominator
        gap = (max(xs) - y) / max(xs)
        assert not bool(gap > (math.log(n - 1) + 1 / math.e) / al), (xs, al)
    for a in (1, 5, 40):  # x = (a/(a+1), 1): (max - y)/max >= 1/(2 e (a+1)), exactly
        r = Fraction(a, a + 1)
        gap = 1 - (r ** (a + 1) + 1) / (r**a + 1)
        assert gap >= 1 / (2 * Fraction(math.e).limit_denominator(10**9) * (a + 1))


def test_backward_does_not_converge_uniformly():
    for al in (10.0, 1e3, 1e5):
        assert abs(float(_g([1 - 1e-12, 1.0], al, 1).mid()) - 0.5) < 1e-3


def test_duality_on_exact_reciprocals():
    xs = [0.5, 2.0, 4.0, 0.25]
    for al in (-3.0, 0.5, 2.0):
        y1 = ppool_window(xs, -al - 1, False)
        y2 = ppool_window([1 / v for v in xs], al, False)
        assert abs(float(y1.value.mid()) - 1 / float(y2.value.mid())) < 1e-13


def test_dalpha_bound():
    rng = random.Random(7)
    for _ in range(100):
        n = rng.randint(2, 6)
        xs = [rng.uniform(0.1, 10) for _ in range(n)]
        al = rng.uniform(-20, 20)
        g = ppool_window(xs, al).grad_param
        bound = (1 - 1 / n) / 2 * math.log(max(xs) / min(xs)) * (max(xs) - min(xs))
        assert -1e-12 <= float(g.mid()) <= bound + 1e-12
