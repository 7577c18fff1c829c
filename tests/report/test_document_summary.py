"""The report's index opens with what a reader should take from the audit, each item linked to
its row of the claims table (fast: two hand-made verdicts, no figures)."""

from __future__ import annotations

from ppverify.claims import Verdict
from ppverify.report.document import render_html, render_markdown
from ppverify.report.driver import ClaimsOutcome


def _verdict(cid, source, verdict, takeaway):
    return Verdict(id=cid, source=source, statement=f"statement of {cid}", hypotheses=["h"],
                   verdict=verdict, method="m", evidence="e", counterexample=None, seconds=0.1,
                   witness_agrees=True, witness="w",
                   steps=[{"text": "t", "kind": "SymPy+z3", "detail": ""}], takeaway=takeaway)


VERDICTS = [_verdict("P1", "Sec. 1, Prop. 1 (statement)", "PROVED", "Prop. 1 stands."),
            _verdict("Q.new", "reviewer (a question)", "PROVED", "A new fact."),
            _verdict("P2.x", "Sec. 1, Prop. 2, step", "REFUTED", "")]


def test_markdown_and_html_open_with_the_reader_summary():
    claims = ClaimsOutcome(VERDICTS, None)
    md = render_markdown([], claims)
    page = render_html([], claims)
    head = md.index("## What a reader should take from this")
    assert head < md.index("## Contents") < md.index('<a id="claim-P1"></a>')
    assert "- Prop. 1 stands. ([P1](#claim-P1): PROVED)" in md
    assert "A new fact. ([Q.new](#claim-Q-new): PROVED)" in md
    assert "P2.x](#" not in md[:md.index("## Contents")]  # no takeaway, not a headline
    assert '<a href="#claim-P1"><code>P1</code></a>' in page and 'id="claim-P1"' in page
    assert "decided by" in md and "SymPy, z3" in md


def test_without_claims_there_is_no_summary():
    md = render_markdown([], ClaimsOutcome(None, "prove not run (--no-claims)"))
    assert "What a reader should take" not in md and "prove not available" in md
