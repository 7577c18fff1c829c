"""Every verdict of the catalogue is pinned, both witnesses agree on each claim, no checked
verdict rests on an argued step, and the reading policies are applied to every record."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path

import pytest

from ppverify.claims import (
    ARGUED,
    BY_ID,
    CATALOGUE,
    CONDITIONAL,
    PROVED,
    PROVED_UP_TO_N,
    REFUTED,
)
from ppverify.claims import catalogue as catalogue_module
from ppverify.claims.model import STEP_KINDS
from ppverify.claims.preds import printed_grad_matches
from ppverify.claims.readings import ASYMPTOTIC, LITERAL
from ppverify.claims.render import GROUPS, anchor, reader_summary
from ppverify.oracle.operators import lp_window, max_window, ppool_window

# The verdict each claim must get; a change here is a change in what ppverify asserts.
EXPECTED = {
    "P1": PROVED,
    "P1.fwd.subst": PROVED,
    "P1.fwd.mean": PROVED,
    "P1.bwd.grad": PROVED,
    "P1.bwd.subst": CONDITIONAL,
    "P1.bwd.value": PROVED,
    "P1.cont": CONDITIONAL,
    "P1.overlap": PROVED,
    "P2": CONDITIONAL,
    "P2.fwd.limit": PROVED,
    "P2.fwd.step": REFUTED,
    "P2.fwd.step.asym": PROVED,
    "P2.bwd.step1": REFUTED,
    "P2.bwd.step1.asym": CONDITIONAL,
    "P2.bwd.max.algebra": PROVED,
    "P2.bwd.max.limit": CONDITIONAL,
    "P2.bwd.other.eq": PROVED,
    "P2.bwd.other.upper": CONDITIONAL,
    "P2.bwd.other.upper.asym": PROVED,
    "P2.bwd.other.upper_eq": PROVED,
    "P2.bwd.other.upper_lim": REFUTED,
    "P2.bwd.other.upper_lim.asym": PROVED,
    "P2.bwd.other.upper.chain": CONDITIONAL,
    "P2.bwd.other.lower": CONDITIONAL,
    "P2.bwd.other.lower.asym": PROVED,
    "P2.bwd.other.lower_eq": REFUTED,
    "P2.bwd.other.lower_eq.asym": PROVED,
    "P2.bwd.other.lower_eq2": REFUTED,
    "P2.bwd.other.lower_eq2.asym": PROVED,
    "P2.bwd.other.lower.chain": REFUTED,
    "P2.lhopital.first": PROVED,
    "P2.lhopital.form": PROVED,
    "P2.lhopital.step": REFUTED,
    "P2.lhopital.real": CONDITIONAL,
    "P2.lhopital.step.asym": CONDITIONAL,
    "P2.lhopital.zero": REFUTED,
    "P2.lhopital.zero.asym": CONDITIONAL,
    "P2.lhopital.limit": PROVED,
    "P2.squeeze": REFUTED,
    "P2.squeeze.asym": REFUTED,
    "P2.bwd.other.limit": PROVED,
    "P2.overlap": CONDITIONAL,
    "T.bounds": PROVED,
    "T.dalpha.cov": PROVED,
    "T.monotone": PROVED,
    "T.minus_inf": PROVED,
    "T.harmonic": PROVED,
    "T.homogeneity": PROVED,
    "T.euler": PROVED,
    "T.grad.max.positive": PROVED,
    "T.grad.max.le1": REFUTED,
    "T.grad.nonmax.sign": PROVED,
    "T.grad.nonmax.peak": PROVED,
    "T.ties.torch": CONDITIONAL,
    "T.ties.equal": PROVED,
    "T.zero.grad": PROVED,
    "E1.limit": PROVED,
    "E2.chain": PROVED,
    "E2.intro.p0": CONDITIONAL,
    "E2.dx": REFUTED,
    "E2.dx.correct": PROVED,
    "E2.dp": REFUTED,
    "E2.dp.correct": PROVED,
    "E2.dp.sum": CONDITIONAL,
    "E2.a.p0": CONDITIONAL,
    "E2.a.pinf": REFUTED,
    "E2.b.p1": REFUTED,
    "E2.b.pinf": REFUTED,
    "E2.avg": PROVED,
    "E2.max": REFUTED,
    "E2.conclusion": REFUTED,
    "PM.grad": PROVED,
    "PM.p1": PROVED,
    "PM.p0": PROVED,
    "PM.pinf": PROVED,
    "S3.T1.mean": PROVED,
    "S3.T2.mean": PROVED,
    "S3.T1.bold": PROVED,
    "S3.T2.bold": PROVED,
    "Q.cont.exact": PROVED,
    "Q.nonmax.threshold": PROVED,
    "Q.nonmax.sign_changes": PROVED,
    "Q.overshoot.sup": PROVED,
    "Q.overshoot.values": PROVED_UP_TO_N,
    "Q.zero.unbounded": PROVED,
    "Q.rate.forward": PROVED,
    "Q.rate.backward": PROVED,
    "Q.duality": PROVED,
    "Q.lp.powermean": PROVED,
    "Q.dalpha.bounds": PROVED,
}


def test_catalogue_is_pinned_completely():
    assert set(EXPECTED) == set(BY_ID)
    assert len(CATALOGUE) == len(BY_ID)
    for c in CATALOGUE:
        assert c.expected == EXPECTED[c.id], c.id
        assert c.source and c.statement and c.hypotheses and c.relation and c.strategy


def test_records_are_written_with_keyword_arguments():
    tree = ast.parse(Path(catalogue_module.__file__).read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "Claim"]
    assert len(calls) == len(CATALOGUE)
    for call in calls:
        assert not call.args, f"positional arguments in Claim(...) at line {call.lineno}"


def test_every_supplement_section_is_covered():
    sources = " ".join(c.source for c in CATALOGUE)
    for part in ("Prop. 1", "Prop. 2", "Eq. 2", "claim (a)", "claim (b)", "L'Hospital",
                 "Sec. 3, Table 1", "Sec. 3, Table 2", "one pooling region", "reviewer"):
        assert part in sources, part


@pytest.mark.parametrize("claim_id", sorted(EXPECTED))
def test_verdict_is_pinned_and_witnessed(claim_id, all_verdicts):
    v = all_verdicts[claim_id]
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


def test_no_checked_verdict_rests_on_an_argued_step(all_verdicts):
    """The rule of issue 14, enforced on the records of a full run: every PROVED,
    PROVED_UP_TO_N, REFUTED or CONDITIONAL verdict lists its steps, each decided by an engine,
    a rule, another claim or exact arithmetic, none argued; ARGUED lists its argued steps."""
    for v in all_verdicts.values():
        kinds = [s["kind"] for s in v.steps]
        assert all(k in STEP_KINDS for k in kinds), (v.id, kinds)
        if v.verdict in (PROVED, PROVED_UP_TO_N, REFUTED, CONDITIONAL):
            assert kinds, f"{v.id} records no steps"
            assert "argued" not in kinds, (v.id, v.argued_steps)
            assert v.deciders or all(k in ("claim", "rule") for k in kinds), v.id
        if v.verdict == ARGUED:
            assert v.argued_steps, v.id


def test_sympy_and_z3_both_decided_the_inequality_steps(all_verdicts):
    """z3 ran beside SymPy: many steps were decided by both (they agree: a disagreement is an
    error, and no record has one), and every claim that names z3 in its method has a z3 step."""
    both = [s for v in all_verdicts.values() for s in v.steps if s["kind"] == "SymPy+z3"]
    z3_only = [s for v in all_verdicts.values() for s in v.steps if s["kind"] == "z3"]
    assert len(both) >= 25 and len(z3_only) >= 15, (len(both), len(z3_only))
    for v in all_verdicts.values():
        assert v.error is None, v.id
        if "z3" in v.method:
            assert "z3" in v.deciders, v.id


def test_every_lim_display_step_has_both_readings():
    """The lim-display policy applied everywhere: each '.asym' record has its literal sibling,
    every Prop. 2 step record says how it is read, and a literal record whose verdict depends on
    the reading has an '.asym' sibling."""
    ids = set(BY_ID)
    for c in CATALOGUE:
        if c.id.endswith(".asym"):
            literal = BY_ID[c.id[: -len(".asym")]]
            assert c.reading == ASYMPTOTIC and literal.reading.startswith(LITERAL), c.id
        if c.source.startswith("Sec. 1, Prop. 2,"):
            assert c.reading, f"{c.id} does not say how the display is read"
        if c.reading.startswith(LITERAL) and c.expected != PROVED:
            assert c.id + ".asym" in ids, c.id
    assert "P2.bwd.other.upper.asym" in ids


def test_printed_inequalities_are_checked_with_delta(all_verdicts):
    """Prop. 2's 'A delta < B delta' fails for delta < 0: the counterexample recomputes."""
    v = all_verdicts["P2.bwd.other.upper"]
    assert "delta > 0 (unstated)" in v.hypotheses
    cex = v.counterexample
    xk, xm, a, delta = (Fraction(cex["x"][0]), Fraction(cex["x"][1]), int(cex["alpha"]),
                        Fraction(cex["delta"]))
    assert delta < 0
    lhs = ((a + 1) * xk**a - a * xk ** (a - 1) * xm) / xm**a
    rhs = ((a + 1) * xk**a - a * xk**a) / xm**a
    assert lhs < rhs and not lhs * delta < rhs * delta


def test_upper_chain_counterexample_recomputes_exactly(all_verdicts):
    """End to end, the upper chain's bound fails for the true derivative of a large window."""
    v = all_verdicts["P2.bwd.other.upper.chain"]
    xs = [Fraction(1), Fraction(999, 1000)] + [Fraction(47, 50)] * 400
    assert len(v.counterexample["x"]) == len(xs)
    a = 100
    s0 = sum(x**a for x in xs)
    y = sum(x ** (a + 1) for x in xs) / s0
    g = xs[1] ** (a - 1) * ((a + 1) * xs[1] - a * y) / s0  # dy/dx_k, quotient rule
    assert g > xs[1] ** a
    # and for N = 2 (y >= x_k) the bound holds at sampled points
    for xk, a2 in ((Fraction(1, 2), 3), (Fraction(9, 10), 50), (Fraction(1, 3), 1)):
        s = xk**a2 + 1
        yy = (xk ** (a2 + 1) + 1) / s
        assert xk ** (a2 - 1) * ((a2 + 1) * xk - a2 * yy) / s < xk**a2


def test_overshoot_numbers_in_the_takeaway_are_the_enclosures():
    from ppverify.claims.checks_reviewer import overshoot_values

    vals = overshoot_values()
    text = BY_ID["Q.overshoot.sup"].takeaway
    for n_window, shown in ((2, "0.10"), (9, "0.35")):
        lo, hi = vals[n_window][0], vals[n_window][1]
        assert f"{shown} for N = {n_window}" in text
        assert round(float(lo) - 1, 2) == round(float(hi) - 1, 2) == float(shown)


def test_reader_summary_lists_every_takeaway_with_a_link(all_verdicts):
    lines = reader_summary(list(all_verdicts.values()))
    text = "\n".join(lines)
    for v in all_verdicts.values():
        if v.takeaway:
            assert f"[{v.id}](#{anchor(v.id)})" in text, v.id
    for _, title in GROUPS[:3]:
        assert f"**{title}**" in text


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
