"""The README's audit block is what a run produces (regenerate: ppverify prove --readme
README.md), and the generator only ever rewrites its own block."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppverify.claims import CATALOGUE
from ppverify.claims.readme import BEGIN, END, current_block, render_block, replace_block

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_block_equals_a_fresh_run(all_verdicts):
    verdicts = [all_verdicts[c.id] for c in CATALOGUE]
    want = render_block(verdicts).strip("\n")
    got = current_block(README.read_text())
    assert got == want, "regenerate with: ppverify prove --readme README.md"


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
