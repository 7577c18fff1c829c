"""The README's audit block is what a run produces (regenerate: ppverify prove --readme
README.md), and the generator only ever rewrites its own block."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppverify.claims import CATALOGUE
from ppverify.claims.readme import (
    BEGIN,
    END,
    current_block,
    printed_by,
    render_block,
    replace_block,
    sympy_version,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def _verdict_rows(block: str) -> dict[str, str]:
    """claim id -> verdict, from the block's table (| id | source | verdict | ...)."""
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.split(" | ")]
        if line.startswith("| ") and len(cells) > 3 and cells[2].isupper():
            rows[cells[0].removeprefix("| ")] = cells[2]
    return rows


def test_readme_block_equals_a_fresh_run(all_verdicts):
    verdicts = [all_verdicts[c.id] for c in CATALOGUE]
    want = render_block(verdicts).strip("\n")
    got = current_block(README.read_text())
    if printed_by(got) != sympy_version():
        # another SymPy may print the same expression differently; the claims and their
        # verdicts must still be the ones the README states
        assert _verdict_rows(got) == _verdict_rows(want), (
            "regenerate with: ppverify prove --readme README.md")
        pytest.skip(f"README printed by SymPy {printed_by(got)}, this is {sympy_version()}: "
                    "verdicts compared, evidence text not")
    assert got == want, "regenerate with: ppverify prove --readme README.md"


def test_verdict_rows_see_every_claim_and_a_changed_verdict(all_verdicts):
    block = render_block([all_verdicts[c.id] for c in CATALOGUE])
    rows = _verdict_rows(block)
    assert len(rows) == len(CATALOGUE) and rows["P2.fwd.step"] == "REFUTED"
    assert _verdict_rows(block.replace("| REFUTED |", "| PROVED |", 1)) != rows
    assert printed_by(block) == sympy_version()


def test_block_lists_every_claim_and_the_counts(all_verdicts):
    verdicts = [all_verdicts[c.id] for c in CATALOGUE]
    block = render_block(verdicts)
    assert f"{len(verdicts)} claims: PROVED " in block
    for v in verdicts:
        assert f"| {v.id} |" in block
    assert "### What a reader should take from this" in block


def test_replace_block_keeps_everything_else():
    text = f"intro\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_block(text, "new") == f"intro\n{BEGIN}\nnew\n{END}\ntail\n"
    with pytest.raises(ValueError, match="no generated audit block"):
        replace_block("no markers here", "new")
