"""z3 as the second decider: sound abstraction, verified counterexamples, and a disagreement
with SymPy is caught (an error, never a verdict)."""

from __future__ import annotations

import pytest
import sympy as sp

import ppverify.claims.proof as proof_mod
from ppverify.claims import Claim, all_ok, check_claims, smt
from ppverify.claims.proof import EngineDisagreement, Proof, checked

a = sp.Symbol("alpha", positive=True)
x, y, m = sp.symbols("x y m", positive=True)
b, c = sp.symbols("b c", real=True)
delta = sp.Symbol("delta", real=True)


def test_proves_true_inequalities_with_powers_as_atoms():
    assert smt.decide(x ** (a + 1) <= x**a, [x < 1]).status == smt.PROVED_Z3
    assert smt.decide((x / m) ** a < 1, [x < m]).status == smt.PROVED_Z3
    assert smt.decide((sp.log(x) - sp.log(y)) * (x - y) >= 0).status == smt.PROVED_Z3
    assert smt.decide(sp.Not(sp.And(b > 0, b < 0))).status == smt.PROVED_Z3


def test_refutes_with_a_counterexample_sympy_confirms():
    lhs = ((a + 1) * x**a - a * x ** (a - 1) * m) / m**a
    rhs = ((a + 1) * x**a - a * x**a) / m**a
    ans = smt.find_counterexample(lhs * delta < rhs * delta, [x < m, sp.Ne(delta, 0)],
                                  fix={a: [1]})
    assert ans.status == smt.REFUTED_Z3
    pt = {s: sp.Rational(ans.counterexample[str(s)]) for s in (x, m, delta)}
    pt[a] = 1
    assert sp.Rational(ans.counterexample["delta"]) < 0
    assert not bool((lhs * delta < rhs * delta).subs(pt))


def test_abstraction_never_reports_a_spurious_counterexample():
    # true (x >= 1, b <= c gives x^b <= x^c) but the atoms x^b, x^c are unrelated to z3:
    # its model must be rejected by SymPy, so the answer is "undecided", not "refuted"
    ans = smt.decide(x**b <= x**c, [x >= 1, b <= c])
    assert ans.status == smt.UNDECIDED_Z3
    assert "not confirmed" in ans.reason


def test_a_denominator_that_may_vanish_is_not_assumed_away():
    ans = smt.decide(1 / b > 0, [b >= 0])  # b = 0 allowed: z3 must not give 1/0 a value
    assert ans.status == smt.UNDECIDED_Z3 and "denominator" in ans.reason
    assert smt.decide(1 / b > 0, [b > 0]).status == smt.PROVED_Z3


def test_false_goal_without_atoms_is_refuted():
    ans = smt.decide(b**2 > 1)
    assert ans.status == smt.REFUTED_Z3 and abs(sp.Rational(ans.counterexample["b"])) <= 1


def _lying_decide(goal, hypotheses=(), **kw):
    return smt.Answer(smt.REFUTED_Z3, "a deliberately broken decider", {"x": "1"})


def test_disagreement_between_sympy_and_z3_raises(monkeypatch):
    monkeypatch.setattr(proof_mod.smt, "decide", _lying_decide)
    pf = Proof()
    with pytest.raises(EngineDisagreement, match="SymPy says True, z3 says False"):
        pf.inequality("x^2 + 1 > 0", x**2 + 1 > 0)


@checked
def _check_with_inequality(pf):
    pf.inequality("(x - y)^2 >= 0", (x - y) ** 2 >= 0)
    return pf.outcome("PROVED", "test", "test")


def test_disagreement_is_an_error_of_the_run_not_a_verdict(monkeypatch):
    monkeypatch.setattr(smt, "decide", _lying_decide)
    claim = Claim(id="disagree", source="test", statement="(x-y)^2 >= 0", hypotheses=("x",),
                  relation="r", strategy="s", check=_check_with_inequality)
    (v,) = check_claims(catalogue=[claim], jobs=1)
    assert v.error and "EngineDisagreement" in v.error
    assert not all_ok([v])


def test_both_engines_are_named_when_both_decide():
    pf = Proof()
    pf.inequality("(x - y)^2 >= 0", (x - y) ** 2 >= 0)
    pf.inequality("x^a < 1 for x < 1", x**a < 1, [x < 1])
    assert [s.kind for s in pf.steps] == ["SymPy+z3", "z3"]
