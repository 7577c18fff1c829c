"""Verdicts for people: the summary table rows and the Markdown audit document."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from .model import VERDICTS, Verdict


def summary_counts(verdicts: Sequence[Verdict]) -> dict[str, int]:
    counts = Counter(v.verdict for v in verdicts)
    return {name: counts.get(name, 0) for name in VERDICTS}


def status(v: Verdict) -> str:
    if v.error is not None:
        return "ERROR"
    if not v.witness_agrees:
        return "WITNESS DISAGREES"
    return "ok"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_table(verdicts: Sequence[Verdict]) -> str:
    """The summary as a Markdown table (id, source, verdict, evidence)."""
    lines = ["| id | source | verdict | evidence |", "|---|---|---|---|"]
    for v in verdicts:
        flag = "" if status(v) == "ok" else f" **{status(v)}**"
        lines.append(f"| {_cell(v.id)} | {_cell(v.source)} | {v.verdict}{flag} | "
                     f"{_cell(v.evidence)} |")
    return "\n".join(lines)


def render_markdown(verdicts: Sequence[Verdict]) -> str:
    """The audit document: summary counts, the table, then one section per claim."""
    counts = summary_counts(verdicts)
    total_s = sum(v.seconds for v in verdicts)
    bad = [v for v in verdicts if status(v) != "ok"]
    out = ["# ppverify prove: audit of the P-pooling supplement (Sections 1 and 2)", "",
           "Each claim was checked with SymPy (each in a worker process with a time limit) and "
           "cross-checked by the oracle (`ppverify.oracle`) on sampled and adversarial points. "
           "A numerical check is never reported as a proof.", "",
           "Verdicts: " + ", ".join(f"{k} {n}" for k, n in counts.items()) +
           f"; {len(verdicts)} claims, {total_s:.1f} s of checking.", ""]
    if bad:
        out += ["**Problems:** " + ", ".join(f"{v.id} ({status(v)})" for v in bad), ""]
    else:
        out += ["Every check ran and the two witnesses agree on every claim.", ""]
    out += ["## Summary", "", render_table(verdicts), "", "## Claims", ""]
    for v in verdicts:
        out += [f"### {v.id}: {v.verdict}", "",
                f"- **Source:** {v.source}",
                f"- **Statement:** {v.statement}",
                f"- **Hypotheses:** {'; '.join(v.hypotheses) or 'none'}"]
        if v.relation:
            out.append(f"- **Relation checked:** `{v.relation}`")
        out += [f"- **Method:** {v.method}", f"- **Evidence:** {v.evidence}"]
        if v.counterexample:
            out.append(f"- **Counterexample:** `{json.dumps(v.counterexample)}`")
        out += [f"- **Oracle witness:** {v.witness}", f"- **Time:** {v.seconds:.2f} s"]
        if v.error:
            out.append(f"- **Error:** `{v.error.splitlines()[0]}`")
        out.append("")
    return "\n".join(out) + "\n"
