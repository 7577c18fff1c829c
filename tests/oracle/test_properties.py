"""Property-based tests of the oracle (hypothesis), on single 1-D windows.

Every property is stated on correctly rounded float64 results, where it holds exactly: rounding
is monotone, so order relations survive it, and scaling by a power of two commutes with it.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ppverify.oracle import reference

SETTINGS = settings(max_examples=100, deadline=None)

positive = st.floats(min_value=1e-30, max_value=1e30, allow_nan=False, allow_infinity=False)
windows = st.lists(positive, min_size=1, max_size=6)
alphas = st.one_of(st.floats(min_value=-60, max_value=60), st.integers(-5, 5).map(float))
powers = st.floats(min_value=-8, max_value=8)


def ev(op, xs, param=None, gradients=False, **kw):
    return reference(op, np.array([[xs]], dtype=np.float64), param, len(xs), dims=1,
                     gradients=gradients, **kw)


def value(op, xs, param=None):
    return ev(op, xs, param).output.item()


@SETTINGS
@given(windows, alphas)
def test_ppool_lies_between_min_and_max(xs, alpha):
    assert min(xs) <= value("ppool", xs, alpha) <= max(xs)


@SETTINGS
@given(windows, powers)
def test_powermean_lies_between_min_and_max(xs, p):
    assert min(xs) <= value("powermean", xs, p) <= max(xs)


@SETTINGS
@given(st.lists(st.floats(min_value=0, max_value=1e30), min_size=1, max_size=6),
       st.floats(min_value=0, max_value=60))
def test_ppool_with_zeros_lies_between_min_and_max(xs, alpha):
    assert min(xs) <= value("ppool", xs, alpha) <= max(xs)


@SETTINGS
@given(windows, st.floats(min_value=0.5, max_value=8))
def test_lp_norm_between_max_and_n_root_max(xs, p):
    y = value("lp", xs, p)
    assert max(xs) <= y <= len(xs) ** (1 / p) * max(xs) * (1 + 2**-50)


bounded = st.lists(st.floats(min_value=1e-100, max_value=1e100), min_size=1, max_size=5)


@SETTINGS
@given(bounded, alphas, st.integers(-100, 100))
def test_ppool_homogeneous_of_degree_one(xs, alpha, k):
    c = 2.0**k
    r = ev("ppool", xs, alpha, gradients=True)
    rc = ev("ppool", [c * v for v in xs], alpha, gradients=True)
    assert rc.output.item() == c * r.output.item()
    # dy/dx is homogeneous of degree 0 and dy/dalpha of degree 1 (sum w (x - y) = 0)
    np.testing.assert_array_equal(rc.grad_input, r.grad_input)
    g, gc = r.grad_param.item(), rc.grad_param.item()
    if min(abs(g), abs(gc)) >= 2.0**-1022:  # scaling commutes with rounding for normals only
        assert gc == c * g


@SETTINGS
@given(bounded, st.sampled_from(["avg", "max", "powermean", "lp"]), powers,
       st.integers(-100, 100))
def test_other_ops_homogeneous_of_degree_one(xs, op, p, k):
    param = None if op in ("avg", "max") else p
    if op == "lp":
        assume(abs(p) > 0.1)
    c = 2.0**k
    assert value(op, [c * v for v in xs], param) == c * value(op, xs, param)


@SETTINGS
@given(windows, alphas, alphas)
def test_ppool_monotone_non_decreasing_in_alpha(xs, a1, a2):
    lo, hi = sorted((a1, a2))
    assert value("ppool", xs, lo) <= value("ppool", xs, hi)
    assert ev("ppool", xs, lo, gradients=True).grad_param.item() >= 0


@SETTINGS
@given(windows, powers, powers)
def test_powermean_monotone_non_decreasing_in_p(xs, p1, p2):
    lo, hi = sorted((p1, p2))
    assert value("powermean", xs, lo) <= value("powermean", xs, hi)


@SETTINGS
@given(st.lists(st.floats(min_value=-1e30, max_value=1e30), min_size=1, max_size=6))
def test_alpha_zero_is_the_average(xs):
    # negative inputs are allowed for the integer alpha = 0
    assert value("ppool", xs, 0.0) == value("avg", xs)


@SETTINGS
@given(st.lists(st.floats(min_value=1.0, max_value=2.0), min_size=1, max_size=6),
       st.floats(min_value=100, max_value=1e6))
def test_large_alpha_approaches_the_max(xs, alpha):
    y = value("ppool", xs, alpha)
    top = max(xs)
    # max - y = sum x^a (max - x) / sum x^a <= sum_{x < max} (x / max)^a (max - x)
    with mp.workdps(30):
        bound = mp.fsum((mp.mpf(v) / top) ** alpha * (top - v) for v in xs if v < top)
        bound = float(bound) + math.ulp(top)
    assert top - bound <= y <= top


@SETTINGS
@given(st.lists(st.floats(min_value=1e-10, max_value=1e10), min_size=2, max_size=6),
       alphas, st.randoms(use_true_random=False))
def test_ppool_invariant_under_permutation(xs, alpha, rnd):
    order = list(range(len(xs)))
    rnd.shuffle(order)
    r = ev("ppool", xs, alpha, gradients=True)
    rp = ev("ppool", [xs[i] for i in order], alpha, gradients=True)
    assert rp.output.item() == r.output.item()
    assert rp.grad_param.item() == r.grad_param.item()
    np.testing.assert_array_equal(rp.grad_input.ravel(), r.grad_input.ravel()[order])


@SETTINGS
@given(st.lists(st.floats(min_value=1e-10, max_value=1e10), min_size=2, max_size=6), powers,
       st.randoms(use_true_random=False))
def test_powermean_invariant_under_permutation(xs, p, rnd):
    order = list(range(len(xs)))
    rnd.shuffle(order)
    assert value("powermean", [xs[i] for i in order], p) == value("powermean", xs, p)
