"""Verdicts for people: the summary table, the reader's summary and the Markdown audit.

Everything here is built from the ``Verdict`` records of a run (the same records ``--json``
prints), so the document, the README block (``readme.py``) and the report's index say the
same thing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence

from .model import ARGUED, CONDITIONAL, PROVED, PROVED_UP_TO_N, REFUTED, VERDICTS, Verdict
from .readings import DELTA_POLICY, LIM_POLICY

TITLE = "ppverify prove: audit of the P-pooling supplement (Sections 1 to 3)"

VERDICT_MEANINGS = {
    PROVED: "every step checked, for every window size N",
    PROVED_UP_TO_N: "every step checked, for the window sizes named in the method only",
    ARGUED: "holds by an argument whose listed steps are asserted, not checked",
    REFUTED: "false, with a counterexample confirmed exactly or in ball arithmetic",
    CONDITIONAL: "true only under a hypothesis the source does not state (named), with a "
                 "counterexample without it",
    "UNKNOWN": "not decided within the time limit; never counted as passed",
}

STEP_KINDS_TEXT = (
    "Each record lists its steps and what decided each: SymPy, z3 (the second decider of "
    "every sign and inequality step; powers with a symbolic exponent become positive atoms), "
    "SymPy+z3 (both, and they agree: a disagreement is an error), exact (rational arithmetic), "
    "flint (interval arithmetic on a stated box), claim (another record's verdict), rule (a "
    "named standard theorem applied to checked premises) or argued (asserted, not checked). "
    "No PROVED, PROVED_UP_TO_N, REFUTED or CONDITIONAL verdict rests on an argued step."
)


def anchor(claim_id: str) -> str:
    """The HTML anchor of a claim (the same in the audit and in the report's index)."""
    return "claim-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in claim_id)


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


def render_table(verdicts: Sequence[Verdict], link: bool = False) -> str:
    """The summary as a Markdown table (id, source, verdict, evidence)."""
    lines = ["| id | source | verdict | evidence |", "|---|---|---|---|"]
    for v in verdicts:
        flag = "" if status(v) == "ok" else f" **{status(v)}**"
        cid = f"[{_cell(v.id)}](#{anchor(v.id)})" if link else _cell(v.id)
        lines.append(f"| {cid} | {_cell(v.source)} | {v.verdict}{flag} | "
                     f"{_cell(v.evidence)} |")
    return "\n".join(lines)


# ------------------------------------------------------------------ what a reader should take

GROUPS = (
    ("stands", "The supplement's conclusions that stand"),
    ("fails", "Steps that fail, or hold only under a hypothesis the supplement does not state"),
    ("new", "New facts (ppverify's own claims and the reviewer's questions)"),
    ("open", "Not decided, or argued rather than checked"),
)


def group_of(v: Verdict) -> str:
    """Which part of the reader's summary a verdict belongs to."""
    if v.verdict not in (PROVED, PROVED_UP_TO_N, REFUTED, CONDITIONAL) or v.error:
        return "open"
    if v.source.startswith("Sec."):
        return "stands" if v.verdict in (PROVED, PROVED_UP_TO_N) else "fails"
    return "new"


def reader_summary(verdicts: Sequence[Verdict],
                   link: Callable[[str], str] | None = None) -> list[str]:
    """Markdown lines: the takeaway of every headline claim, grouped, each linked to its
    record (``link(claim_id)`` gives the target; default ``#claim-...``)."""
    link = link or (lambda cid: f"#{anchor(cid)}")
    lines = ["## What a reader should take from this", ""]
    for key, title in GROUPS:
        items = [v for v in verdicts if v.takeaway and group_of(v) == key]
        if key == "open":
            items = [v for v in verdicts if group_of(v) == "open"]
        if not items:
            continue
        lines += [f"**{title}**", ""]
        for v in items:
            text = v.takeaway or v.statement
            lines.append(f"- {text} ([{v.id}]({link(v.id)}): {v.verdict})")
        lines.append("")
    return lines


# ------------------------------------------------------------------ the audit document


def _steps(v: Verdict) -> list[str]:
    out = []
    for s in v.steps:
        detail = f" ({s['detail']})" if s.get("detail") else ""
        out.append(f"  - [{s['kind']}] {s['text']}{detail}")
    return out


def render_markdown(verdicts: Sequence[Verdict]) -> str:
    """The audit document: the reader's summary, how to read it, the table, every record."""
    counts = summary_counts(verdicts)
    total_s = sum(v.seconds for v in verdicts)
    bad = [v for v in verdicts if status(v) != "ok"]
    out = [f"# {TITLE}", ""]
    out += reader_summary(verdicts)
    out += ["## How this audit was made", "",
            "Each claim was checked with SymPy and z3 (in worker processes, each claim under a "
            "time limit) and cross-checked by the oracle (`ppverify.oracle`) on sampled and "
            "adversarial points. A numerical check is never reported as a proof.", "",
            "Verdicts: " + "; ".join(f"**{k}**: {m}" for k, m in VERDICT_MEANINGS.items())
            + ".", "", STEP_KINDS_TEXT, "",
            f"Reading the notation: {LIM_POLICY}", "", DELTA_POLICY, "",
            "Counts: " + ", ".join(f"{k} {n}" for k, n in counts.items()) +
            f"; {len(verdicts)} claims, {total_s:.1f} s of checking.", ""]
    if bad:
        out += ["**Problems:** " + ", ".join(f"{v.id} ({status(v)})" for v in bad), ""]
    else:
        out += ["Every check ran, SymPy and z3 agree wherever both decided, and the oracle "
                "agrees on every claim.", ""]
    out += ["## Summary", "", render_table(verdicts, link=True), "", "## Claims", ""]
    for v in verdicts:
        out += [f'<a id="{anchor(v.id)}"></a>', "", f"### {v.id}: {v.verdict}", "",
                f"- **Source:** {v.source}",
                f"- **Statement:** {v.statement}",
                f"- **Hypotheses:** {'; '.join(v.hypotheses) or 'none'}"]
        if v.reading:
            out.append(f"- **Reading:** {v.reading}")
        if v.relation:
            out.append(f"- **Relation checked:** `{v.relation}`")
        out += [f"- **Method:** {v.method}", f"- **Evidence:** {v.evidence}",
                f"- **Decided by:** {', '.join(v.deciders) or 'no engine'}"]
        if v.argued_steps:
            out.append(f"- **Argued, not checked:** {'; '.join(v.argued_steps)}")
        if v.counterexample:
            out.append(f"- **Counterexample:** `{json.dumps(v.counterexample)}`")
        if v.steps:
            out += ["- **Steps:**", *_steps(v)]
        out += [f"- **Oracle witness:** {v.witness}", f"- **Time:** {v.seconds:.2f} s"]
        if v.error:
            out.append(f"- **Error:** `{v.error.splitlines()[0]}`")
        out.append("")
    return "\n".join(out) + "\n"
