"""Every figure is drawn (PNG and SVG, each under 500 KB) and the document links them all."""

from __future__ import annotations

import importlib

import matplotlib.image as mpimg
import pytest

from ppverify.report.catalogue import FIGURES, get_figure
from ppverify.report.document import _anchor as document_anchor
from ppverify.report.driver import missing_requirement
from ppverify.report.style import MAX_BYTES


def _files(report, stem):
    return [report.out / "figures" / f"{stem}.{ext}" for ext in ("png", "svg")]


def test_every_available_figure_is_drawn_in_png_and_svg(full_report):
    assert list(full_report.figures) == [s.stem for s in FIGURES]
    for spec in FIGURES:
        skipped = full_report.figures[spec.stem]
        if skipped:
            assert missing_requirement(spec.needs) is not None, skipped
            continue
        files = _files(full_report, spec.stem)
        for path in files:
            assert path.exists() and 1000 < path.stat().st_size < MAX_BYTES, path
        png = mpimg.imread(files[0])
        assert png.shape[0] > 300 and png.shape[1] > 300
        assert png[..., :3].std() > 0.05  # not a blank canvas


def test_figures_without_optional_requirements_are_never_skipped(full_report):
    for spec in FIGURES:
        if not spec.needs:
            assert full_report.figures[spec.stem] is None, spec.stem


def test_svg_has_no_date_or_creator(full_report):
    for stem, skipped in full_report.figures.items():
        if not skipped:
            text = _files(full_report, stem)[1].read_text()
            assert "<dc:date>" not in text and "Matplotlib v" not in text


def test_document_links_every_figure_and_claim(full_report):
    md = (full_report.out / "index.md").read_text()
    page = (full_report.out / "index.html").read_text()
    for spec in FIGURES:
        stem, skipped = spec.stem, full_report.figures[spec.stem]
        assert f'id="fig-{stem}"' in md and f'id="fig-{stem}"' in page
        if skipped:
            assert "Skipped:" in md and skipped in md
            continue
        for ext in ("png", "svg"):
            assert f"figures/{stem}.{ext}" in md
            assert f"figures/{stem}.{ext}" in page
        for cid in spec.claims:
            assert f"`{cid}`" in md and cid in page
            if full_report.claims_message is None:  # the audit table exists: link to its row
                anchor = document_anchor(cid)
                assert f"(#{anchor})" in md and f'id="{anchor}"' in md
                assert f'href="#{anchor}"' in page and f'id="{anchor}"' in page
    if full_report.claims_message is not None:
        assert "prove not available" in md and "prove not available" in page


def test_every_figure_claim_is_in_the_catalogue(full_report):
    if full_report.claims_message is not None:
        pytest.skip(f"no claims: {full_report.claims_message}")
    md = (full_report.out / "index.md").read_text()
    assert "not in the claims catalogue" not in md


def test_progress_reports_the_start_and_end_of_every_step(full_report):
    steps = full_report.steps
    total = len(FIGURES) + 2
    finished = [k for d, k, _ in steps if not d.endswith("...")]
    started = [k for d, k, _ in steps if d.endswith("...")]
    assert finished == list(range(1, total + 1))
    assert started == list(range(0, total))
    assert all(n == total for _, _, n in steps)


def test_every_figure_module_has_a_builder():
    for spec in FIGURES:
        module = importlib.import_module(f"ppverify.report.{spec.module}")
        assert callable(module.build), spec.module
        assert module.__doc__ and len(module.__doc__) > 200, spec.module
    with pytest.raises(ValueError, match="no figure named"):
        get_figure("nope")
