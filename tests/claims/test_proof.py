"""Verdict labels never say more than was checked: Outcome's rules, the ARGUED verdict and its
path through the engine, the JSON records, the audit document and the exit status."""

from __future__ import annotations

import json

import pytest
import sympy as sp

import ppverify.claims as claims_pkg
import ppverify.claims.catalogue as catalogue_mod
import ppverify.claims.proof as proof_mod
from ppverify.claims import (
    ARGUED,
    PROVED,
    REFUTED,
    UNKNOWN,
    Claim,
    Outcome,
    Step,
    all_ok,
    check_claims,
    render_markdown,
)
from ppverify.claims.command import run
from ppverify.claims.proof import Proof, Undecided, checked
from ppverify.claims.render import reader_summary

x = sp.Symbol("x", positive=True)
ARGUED_STEP = Step(text="a continuity argument", kind="argued")
CHECKED_STEP = Step(text="x + 1 > 0", kind="SymPy")


def test_a_proved_outcome_cannot_rest_on_an_argued_step():
    with pytest.raises(ValueError, match="may not rest on argued steps"):
        Outcome(PROVED, "m", "e", steps=(CHECKED_STEP, ARGUED_STEP))
    with pytest.raises(ValueError, match="may not rest on argued steps"):
        Outcome(REFUTED, "m", "e", {"x": [1.0]}, steps=(ARGUED_STEP,))
    with pytest.raises(ValueError, match="must record its steps"):
        Outcome(PROVED, "m", "e")
    with pytest.raises(ValueError, match="must list its argued steps"):
        Outcome(ARGUED, "m", "e", steps=(CHECKED_STEP,))
    assert Outcome(ARGUED, "m", "e", steps=(CHECKED_STEP, ARGUED_STEP)).verdict == ARGUED
    with pytest.raises(ValueError, match="step kind"):
        Step(text="t", kind="intuition")


@checked
def _argued_check(pf: Proof) -> Outcome:
    pf.zero(x + 1 - (1 + x), "x + 1 = 1 + x")
    pf.argued("y is continuous in alpha (not checked here)")
    return pf.outcome(ARGUED, "test", "holds if the argued step does")


@checked
def _undecided_check(pf: Proof) -> Outcome:
    pf.zero(x - x, "x - x = 0")
    raise Undecided("the second step")


ARGUED_CLAIM = Claim(id="argued", source="Sec. 9, test", statement="an argued claim",
                     hypotheses=("x > 0",), relation="r", strategy="s", check=_argued_check,
                     takeaway="a claim resting on an argument")
UNDECIDED_CLAIM = Claim(id="undecided", source="test", statement="s", hypotheses=("h",),
                        relation="r", strategy="s", check=_undecided_check)


def test_argued_verdict_through_engine_json_markdown_and_summary(monkeypatch, capsys):
    (v,) = check_claims(catalogue=[ARGUED_CLAIM], jobs=1)
    assert v.verdict == ARGUED and v.ok
    assert v.argued_steps == ["y is continuous in alpha (not checked here)"]
    assert v.deciders == ["SymPy"]
    rec = v.to_json()
    assert rec["verdict"] == ARGUED and rec["steps"][1]["kind"] == "argued"
    text = render_markdown([v])
    assert "**Argued, not checked:** y is continuous" in text and "[argued]" in text
    summary = "\n".join(reader_summary([v]))
    assert "Not decided, or argued rather than checked" in summary
    monkeypatch.setattr(claims_pkg, "CATALOGUE", [ARGUED_CLAIM])

    class Args:
        only, json, markdown, jobs, list, readme = None, True, None, None, False, None

    assert run(Args()) == 0  # ARGUED is a verdict, not a failure of the run
    data = json.loads(capsys.readouterr().out)
    assert data["summary"][ARGUED] == 1 and data["claims"][0]["deciders"] == ["SymPy"]


def test_an_undecided_step_gives_unknown_with_the_steps_so_far():
    out = _undecided_check()
    assert out.verdict == UNKNOWN and "the second step" in out.evidence
    assert [s.text for s in out.steps] == ["x - x = 0"]


def test_a_claim_using_an_argued_claim_is_argued_too(monkeypatch):
    @checked
    def user(pf: Proof) -> Outcome:
        pf.uses("argued")
        return pf.outcome(PROVED, "m", "e")

    monkeypatch.setattr(catalogue_mod, "BY_ID", {"argued": ARGUED_CLAIM})
    proof_mod._outcome_of.cache_clear()
    try:
        out = user()  # a PROVED cannot be built on an ARGUED dependency
        assert out.verdict == UNKNOWN and "argued gives ARGUED, not PROVED" in out.evidence

        @checked
        def honest(pf: Proof) -> Outcome:
            pf.uses("argued", ARGUED)
            return pf.outcome(ARGUED, "m", "e")

        out = honest()
        assert out.verdict == ARGUED and out.steps[0].kind == "argued"
    finally:
        proof_mod._outcome_of.cache_clear()


def test_a_check_that_breaks_the_rules_is_an_error(monkeypatch):
    @checked
    def cheat(pf: Proof) -> Outcome:
        pf.argued("the hard part")
        return pf.outcome(PROVED, "m", "e")

    claim = Claim(id="cheat", source="test", statement="s", hypotheses=("h",), relation="r",
                  strategy="s", check=cheat)
    (v,) = check_claims(catalogue=[claim], jobs=1)
    assert v.error and "may not rest on argued steps" in v.error
    assert not all_ok([v])
