"""Every verdict of the catalogue is pinned, and both witnesses must agree on each claim."""

from __future__ import annotations

from fractions import Fraction

import pytest

from ppverify.claims import (
    BY_ID,
    CATALOGUE,
    CONDITIONAL,
    PROVED,
    REFUTED,
    check_claims,
)
from ppverify.claims.preds import printed_grad_matches
from ppverify.oracle.operators import lp_window, max_window, ppool_window

# The verdict each claim must get; a change here is a change in what ppverify asserts.
EXPECTED = {
    "P1": PROVED, "P1.fwd.subst": PROVED, "P1.fwd.mean": PROVED, "P1.bwd.grad": PROVED,
    "P1.bwd.subst": CONDITIONAL, "P1.bwd.value": PROVED, "P1.cont": CONDITIONAL,
    "P2": CONDITIONAL, "P2.fwd.limit": PROVED, "P2.fwd.step": REFUTED,
    "P2.bwd.step1": CONDITIONAL, "P2.bwd.max.algebra": PROVED, "P2.bwd.max.limit": CONDITIONAL,
    "P2.bwd.other.eq": PROVED, "P2.bwd.other.upper": PROVED, "P2.bwd.other.upper_eq": PROVED,
    "P2.bwd.other.upper_lim": PROVED, "P2.bwd.other.lower": CONDITIONAL,
    "P2.bwd.other.lower_eq": REFUTED, "P2.bwd.other.lower_eq2": REFUTED,
    "P2.lhopital.step": REFUTED, "P2.lhopital.limit": PROVED, "P2.squeeze": REFUTED,
    "P2.bwd.other.limit": PROVED,
    "T.bounds": PROVED, "T.dalpha.cov": PROVED, "T.monotone": PROVED, "T.minus_inf": PROVED,
    "T.harmonic": PROVED, "T.homogeneity": PROVED, "T.euler": PROVED,
    "T.grad.max.positive": PROVED, "T.grad.max.le1": REFUTED, "T.grad.nonmax.sign": PROVED,
    "T.grad.nonmax.peak": PROVED, "T.ties.torch": CONDITIONAL, "T.ties.equal": PROVED,
    "T.zero.grad": PROVED,
    "E1.limit": PROVED, "E2.chain": PROVED, "E2.intro.p0": CONDITIONAL,
    "E2.dx": REFUTED, "E2.dx.correct": PROVED, "E2.dp": REFUTED, "E2.dp.correct": PROVED,
    "E2.a.p0": CONDITIONAL, "E2.a.pinf": REFUTED, "E2.b.p1": REFUTED, "E2.b.pinf": REFUTED,
    "E2.avg": CONDITIONAL, "E2.max": REFUTED, "E2.conclusion": REFUTED,
    "PM.grad": PROVED, "PM.p1": PROVED, "PM.p0": PROVED, "PM.pinf": PROVED,
}


def test_catalogue_is_pinned_completely():
    assert set(EXPECTED) == set(BY_ID)
    assert len(CATALOGUE) == len(BY_ID)
    for c in CATALOGUE:
        assert c.expected == EXPECTED[c.id], c.id
        assert c.source and c.statement and c.hypotheses and c.relation and c.strategy


def test_every_supplement_section_is_covered():
    sources = " ".join(c.source for c in CATALOGUE)
    for part in ("Prop. 1", "Prop. 2", "Eq. 2", "claim (a)", "claim (b)", "L'Hospital"):
        assert part in sources


@pytest.mark.parametrize("claim_id", sorted(EXPECTED))
def test_verdict_is_pinned_and_witnessed(claim_id):
    (v,) = check_claims([claim_id], jobs=1)
    assert v.error is None, v.error
    assert v.verdict == EXPECTED[claim_id], (v.verdict, v.evidence)
    assert v.witness_agrees, v.witness
    assert v.evidence and "\n" not in v.evidence
    if v.verdict in (REFUTED, CONDITIONAL):
        assert v.counterexample
        assert "confirms the counterexample" in v.witness
    else:
        assert v.counterexample is None
    assert v.seconds < 20


# Independent re-checks of the counterexamples in exact arithmetic / with the oracle directly.


def _lehmer(xs, a):
    xs = [Fraction(v) for v in xs]
    return sum(v ** (a + 1) for v in xs) / sum(v**a for v in xs)


def test_counterexample_grad_max_exceeds_one_exactly():
    xs, a = [Fraction(1), Fraction(2)], 3
    s = sum(v**a for v in xs)
    y = _lehmer(xs, a)
    g = xs[1] ** a / s * ((a + 1) - a * y / xs[1])
    assert g == Fraction(28, 27)
    assert ppool_window([1.0, 2.0], 3.0, False).grad_inputs[1] == Fraction(28, 27) or \
        abs(float(ppool_window([1.0, 2.0], 3.0, False).grad_inputs[1].mid()) - 28 / 27) < 1e-15


def test_counterexample_forward_step_exactly():
    assert _lehmer([1, 2], 1) == Fraction(5, 3) != 2


def test_counterexample_ties_vs_torch():
    r = ppool_window([2.0, 1.0, 2.0], 1e4, False)
    g = [float(v.mid()) if hasattr(v, "mid") else float(v) for v in r.grad_inputs]
    assert g == pytest.approx([0.5, 0.0, 0.5], abs=1e-12)
    assert [float(v) for v in max_window([2.0, 1.0, 2.0]).grad_inputs] == [1.0, 0.0, 0.0]


def test_counterexample_eq2_dx_exactly():
    # printed x_i^(p-1) (sum x^p)^(p/(1-p)) at x = (3,4), p = 2 vs the oracle's 3/5
    printed = Fraction(3) * Fraction(25) ** -2
    assert printed == Fraction(3, 625)
    g = lp_window([3.0, 4.0], 2.0, False).grad_inputs[0]
    assert abs(float(g.mid()) - 0.6) < 1e-15


def test_printed_prop1_gradient_is_the_oracle_gradient(monkeypatch):
    assert printed_grad_matches({"x": [0.5, 1.5, 4.0], "alpha": 2.5})
    assert printed_grad_matches({"x": [1e-30, 1.0, 1e30], "alpha": -3.0})
    # the predicate can say no: against a gradient off by one part in 1e12 it must
    import dataclasses

    import ppverify.claims.preds as preds

    original = preds.ppool

    def off(xs, alpha, *args):
        r = original(xs, alpha, *args)
        return dataclasses.replace(r, grad_inputs=[g * (1 + 1e-12) for g in r.grad_inputs])

    monkeypatch.setattr(preds, "ppool", off)
    assert not printed_grad_matches({"x": [0.5, 1.5, 4.0], "alpha": 2.5})
