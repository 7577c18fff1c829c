"""The oracle's O(N) dy/dalpha (``_lehmer_dalpha``) against the O(N^2) pairwise form it replaced.

``sum_i w_i (x_i - y)(ln x_i - ln y)`` and ``sum_{i<j} w_i w_j (x_i - x_j)(ln x_i - ln x_j)``
are equal (expand the pairs; ``sum_i w_i (x_i - y) = 0``). The pairwise form is written again
here, independently, and both are evaluated as arb balls at the oracle's first working
precision: the balls must overlap (same value) and the O(N) ball must be no wider, relative to
its value, than 4 times the pairwise ball plus 8 N u (u = 2^-prec): the certification
(Ziv's loop) then needs no more precision than before. mpmath at 1000 digits, with the
direct covariance form sum_i w_i ln(x_i)(x_i - y), checks the value where |alpha| < 100.
"""

from __future__ import annotations

import time

import mpmath as mp
import numpy as np
import pytest
from flint import arb, ctx

from ppverify.oracle import operators as ops

WINDOWS = [
    ([1.0, 2.0, 3.0], 2.0),
    ([1.0, 1e30, 3.0], 1e6),          # y within ~1e-29500000 of the max
    ([1.0, 1e30, 3.0], -1e6),
    ([1.0, 1e30, 3.0], 0.0),
    ([0.5, 0.5 + 2**-52, 0.25, 7.0], 3.5),   # a near-tie
    ([2.0**-1074, 1.0, 2.0**1000], -0.5),     # 600 decades
    ([3.0, 3.0, 5.0, 1e-300], -2.0),
    ([7.0, 3.0, 2.0**-20, 4.0, 4.0 + 2**-50], 0.25),
    ([float(k) for k in range(1, 40)], 0.75),  # y among the elements: x_i near y
]


def _pairwise(weights, ax):
    logs = [v.log() for v in ax]
    total = arb(0)
    for i in range(len(ax)):
        for j in range(i + 1, len(ax)):
            total += weights[i] * weights[j] * (ax[i] - ax[j]) * (logs[i] - logs[j])
    return total


def _weights(xs, alpha):
    ax = [arb(v) for v in xs]
    powers = [(arb(alpha) * v.log()).exp() for v in ax]
    s = sum(powers[1:], powers[0])
    return [p / s for p in powers], ax


@pytest.mark.parametrize("prec", [77, 200, 1000])
@pytest.mark.parametrize("xs, alpha", WINDOWS)
def test_linear_form_equals_the_pairwise_form_and_is_as_tight(xs, alpha, prec):
    saved = ctx.prec
    ctx.prec = prec
    try:
        weights, ax = _weights(xs, alpha)
        r = max(range(len(xs)), key=lambda i: xs[i] if alpha >= 0 else -xs[i])
        linear = ops._lehmer_dalpha(weights, ax, r)
        pairwise = _pairwise(weights, ax)
    finally:
        ctx.prec = saved
    assert linear.overlaps(pairwise), (linear, pairwise)
    assert linear > 0 or linear.contains(0) and pairwise.contains(0)
    if linear > 0:
        # relative radius: within 4x the pairwise form's (so Ziv's loop needs at most ~2 more
        # bits) plus 8 N u for the sums
        # (in arb: the values reach 1e-29500000)
        rel = arb(linear.rad()) / arb(linear.mid())
        rel_pairwise = arb(pairwise.rad()) / arb(pairwise.mid())
        assert rel <= 4 * rel_pairwise + 8 * len(xs) * arb(2) ** -prec, (linear, pairwise)


@pytest.mark.parametrize("xs, alpha", [w for w in WINDOWS if abs(w[1]) < 100])
def test_linear_form_matches_mpmath(xs, alpha):
    with mp.workdps(1000):  # the direct form cancels: 600 decades need 600+ digits
        xm = [mp.mpf(v) for v in xs]
        ws = [v ** alpha for v in xm]
        s = mp.fsum(ws)
        y = mp.fsum(w * v for w, v in zip(ws, xm)) / s
        expected = mp.fsum(w / s * mp.log(v) * (v - y) for w, v in zip(ws, xm))
    saved = ctx.prec
    ctx.prec = 300
    try:
        got = ops.ppool_window(xs, alpha).grad_param
    finally:
        ctx.prec = saved
    with mp.workdps(1000):  # the direct form cancels: 600 decades need 600+ digits
        assert abs(mp.mpf(got.mid().str(80, radius=False)) - expected) <= \
            abs(expected) * mp.mpf(10) ** -60


def test_a_wrong_dominant_element_is_caught():
    # the check above must be able to fail: R taken as the smallest element at alpha = 1e6
    # (not the one of largest weight) loses the value in the ball
    saved = ctx.prec
    ctx.prec = 77
    try:
        weights, ax = _weights([1.0, 1e30, 3.0], 1e6)
        wrong = ops._lehmer_dalpha(weights, ax, 0)
        right = ops._lehmer_dalpha(weights, ax, 1)
    finally:
        ctx.prec = saved
    assert right > 0
    assert arb(wrong.rad()) > 10**6 * arb(right.mid())  # the wrong ball says nothing


def test_a_56x56_window_takes_linear_time():
    xs = [1.0 + (k * 7919 % 3136) / 3136 for k in range(56 * 56)]
    t0 = time.perf_counter()
    value = ops.ppool_window(xs, 2.5).grad_param
    elapsed = time.perf_counter() - t0
    assert value > 0
    # the pairwise form: 4.9 M pair terms, 2.8 s for dy/dalpha alone here (load 2.5); the
    # linear one 4 ms, so a return to O(N^2) fails this bound
    assert elapsed < 0.5


def test_parameter_gradients_alone_are_solved_from_a_first_pass(monkeypatch):
    """The rare route of the chunked solver (a total left undecided at the starting precision
    is redone by ``solve(values=False)``) evaluated no window in its first pass and raised
    KeyError: ``ppverify bench-oracle --alpha 1e6`` crashed on it. Solved alone, the parameter
    gradient must equal the one the full solve certifies."""
    import importlib

    ref = importlib.import_module("ppverify.oracle.reference")
    captured = []
    init = ref._Solver.__init__

    def spy(self, *args, **kwargs):
        captured.append((args, kwargs))
        init(self, *args, **kwargs)

    monkeypatch.setattr(ref._Solver, "__init__", spy)
    x = np.random.default_rng(3).uniform(0.01, 10.0, (1, 3, 4, 4))
    for alpha in (2.5, 1e6):
        captured.clear()
        want = ref.reference("ppool", x, alpha, 2, dims=2, dtype="float64")
        args, kwargs = captured[0]
        _, _, gpar = ref._Solver(*args, **kwargs).solve(values=False)
        assert float(gpar[0]) == float(want.grad_param)
