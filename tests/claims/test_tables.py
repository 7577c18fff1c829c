"""Section 3's tables: the transcription is the supplement's text, and the checks catch a
table whose mean or bold cell is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from ppverify.claims import PROVED, REFUTED
from ppverify.claims import tables as tables_mod
from ppverify.claims.checks_tables import table1_bold, table1_means, table2_means

SUPPLEMENT = Path("/work/shared/seed/000_0c4249cacf4dd584.txt")


@pytest.mark.skipif(not SUPPLEMENT.exists(), reason="the supplement's text is not on this machine")
def test_transcription_is_the_supplement_verbatim():
    rows = [line for line in SUPPLEMENT.read_text().splitlines() if "\t" in line]
    header1, body1, header2, body2 = rows[0], rows[1:7], rows[7], rows[8:14]
    assert header1.split("\t")[1:] == tables_mod.HEADER == header2.split("\t")[1:]
    assert "\n".join(body1) + "\n" == tables_mod.TABLE_1
    assert "\n".join(body2) + "\n" == tables_mod.TABLE_2


def test_the_printed_tables_pass():
    assert table1_means().verdict == PROVED and table2_means().verdict == PROVED
    out = table1_bold()
    assert out.verdict == PROVED and "leads 21 of 22 columns" in out.evidence


def _patched(monkeypatch, old: str, new: str) -> None:
    label, text = tables_mod.TABLES[1]
    assert old in text
    monkeypatch.setitem(tables_mod.TABLES, 1, (label, text.replace(old, new, 1)))


def test_a_wrong_mean_is_refuted(monkeypatch):
    # the Max row's printed mean 53.8 changed to 53.9: the classes average 53.805
    _patched(monkeypatch, "48.2\t53.8", "48.2\t53.9")
    out = table1_means()
    assert out.verdict == REFUTED and "Max" in out.evidence


def test_a_bold_cell_that_is_not_the_maximum_is_refuted(monkeypatch):
    # P-pooling's car cell (66.0, not bold) bolded while Max's 66.1 stays bold
    _patched(monkeypatch, "\t66.0\t", "\t<b>66.0</b>\t")
    assert table1_bold().verdict == REFUTED
