"""The oracle's exact path for an integer alpha runs on GMP integers (``rationals``,
``operators._ppool_exact_integer_power``): the same rationals as the textbook single-class
formulas in ``Fraction``s, in lowest terms, and plain ``Fraction``s to the rest of the oracle.
(Why: with alpha = +-1000 on float64 inputs spanning 600 decades the ``Fraction`` form spent
160-270 s in gcds on one window; measured, not asserted here.)"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np

from ppverify.oracle import reference
from ppverify.oracle.certify import Accumulator
from ppverify.oracle.operators import _ppool_exact_integer_power, ppool_exact
from ppverify.oracle.rationals import fraction, from_coprime, mpq_of


def _textbook(xs, m):
    fx = [Fraction(v) for v in xs]
    pos = [(i, v) for i, v in enumerate(fx) if v > 0]
    s = sum(v**m for _, v in pos)
    y = sum(v ** (m + 1) for _, v in pos) / s
    grads = [Fraction(0)] * len(fx)
    for i, v in pos:
        grads[i] = v**m / s * ((m + 1) - m * y / v)
    if m == 1:
        for i, v in enumerate(fx):
            if v == 0:
                grads[i] = -y / sum(v for _, v in pos)
    return y, grads


def test_integer_power_path_equals_the_textbook_rationals():
    rng = random.Random(7)
    for _ in range(1500):
        n = rng.randint(1, 6)
        kind = rng.choice(["uniform", "wide", "integers", "zeros"])
        xs = [{"uniform": lambda: rng.uniform(0, 4),
               "wide": lambda: math.ldexp(rng.random(), rng.randint(-80, 80)),
               "integers": lambda: float(rng.randint(0, 9)),
               "zeros": lambda: rng.choice([0.0, 0.5, 3.25, 1e-3])}[kind]()
              for _ in range(n)]
        if not any(v > 0 for v in xs):
            xs[0] = 1.5
        m = rng.choice([1, 2, 3, 7, 40, -1, -3, -40])
        if m < 0 and 0.0 in xs:  # (no zero with a negative alpha: outside the domain)
            xs = [v if v > 0 else 0.75 for v in xs]
        got = _ppool_exact_integer_power(xs, m, set())
        y, grads = _textbook(xs, m)
        assert got.value == y and list(got.grad_inputs) == grads, (xs, m)
        for v in (got.value, *got.grad_inputs):
            assert type(v) is Fraction and math.gcd(v.numerator, v.denominator) == 1


def test_the_exact_path_serves_ppool_exact_and_the_accumulator_sums_exactly():
    xs = [3.0, 1e-300, 2.5e300, 0.0]
    for m in (1, 5):
        assert ppool_exact(xs, float(m)).value == _textbook(xs, m)[0]
    acc = Accumulator()
    for term in (Fraction(1, 3), 0.25, Fraction(-1, 12), 2):
        acc.add(term)
    assert acc.total() == Fraction(5, 2) and type(acc.total()) is Fraction
    assert fraction(mpq_of(Fraction(6, -4))) == Fraction(-3, 2) and mpq_of(0.375) == mpq_of(
        Fraction(3, 8)) and from_coprime(3, 4) == Fraction(3, 4)


def test_ppool_exact_takes_the_integer_path_for_an_integer_alpha(monkeypatch):
    # (the certifier calls ppool_exact when a ball cannot decide a rounding; here directly)
    from ppverify.oracle import operators

    calls = []
    real = operators._ppool_exact_integer_power
    monkeypatch.setattr(operators, "_ppool_exact_integer_power",
                        lambda *a: calls.append(a[1]) or real(*a))
    xs = [1.0, 2.0**-100, 2.0**100, 3.0, 0.0]
    got = operators.ppool_exact(xs, 200.0)
    y, grads = _textbook(xs, 200)
    assert calls == [200] and got.value == y and list(got.grad_inputs) == grads
    got = operators.ppool_exact(xs[:4], -200.0)
    y_neg, grads_neg = _textbook(xs[:4], -200)
    assert calls == [200, -200] and got.value == y_neg and list(got.grad_inputs) == grads_neg
    operators.ppool_exact(xs, 0.5)  # not an integer: not this path
    assert len(calls) == 2
    # and the oracle's results through it are the rounded textbook values
    x = np.array([[xs]])
    r = reference("ppool", x, 200.0, (5,), dims=1, dtype="float64")
    assert float(r.output.ravel()[0]) == float(y)
