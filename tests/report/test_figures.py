"""Every figure is drawn (PNG and SVG, each under 500 KB) and the document links them all."""

from __future__ import annotations

import importlib

import matplotlib.image as mpimg
import pytest

from ppverify.report.catalogue import FIGURES, get_figure
from ppverify.report.driver import missing_requirement
from ppverify.report.style import MAX_BYTES


def test_every_available_figure_is_drawn_in_png_and_svg(quick_report):
    result, _ = quick_report
    assert [f.spec.stem for f in result.figures] == [s.stem for s in FIGURES]
    for f in result.figures:
        if f.skipped:
            assert missing_requirement(f.spec.needs) is not None, f.skipped
            continue
        assert sorted(p.suffix for p in f.files) == [".png", ".svg"]
        for path in f.files:
            assert path.exists() and 1000 < path.stat().st_size < MAX_BYTES, path
        png = mpimg.imread(f.files[0])
        assert png.shape[0] > 300 and png.shape[1] > 300
        assert png[..., :3].std() > 0.05  # not a blank canvas


def test_figures_without_optional_requirements_are_never_skipped(quick_report):
    result, _ = quick_report
    for f in result.figures:
        if not f.spec.needs:
            assert f.skipped is None, f"{f.spec.stem}: {f.skipped}"


def test_svg_has_no_date_or_creator(quick_report):
    result, _ = quick_report
    for f in result.figures:
        for path in f.files:
            if path.suffix == ".svg":
                text = path.read_text()
                assert "<dc:date>" not in text and "Matplotlib v" not in text


def test_document_links_every_figure_and_claim(quick_report):
    result, _ = quick_report
    md = (result.out / "index.md").read_text()
    page = (result.out / "index.html").read_text()
    for f in result.figures:
        stem = f.spec.stem
        assert f'id="fig-{stem}"' in md and f'id="fig-{stem}"' in page
        if f.skipped:
            assert "Skipped:" in md and f.skipped in md
            continue
        for ext in ("png", "svg"):
            assert f"figures/{stem}.{ext}" in md
            assert f"figures/{stem}.{ext}" in page
        for cid in f.spec.claims:
            assert f"`{cid}`" in md and cid in page
    assert "prove not available" in md and "prove not available" in page


def test_progress_reports_every_step(quick_report):
    result, steps = quick_report
    total = len(FIGURES) + 1
    assert [k for _, k, _ in steps] == list(range(1, total + 1))
    assert all(n == total for _, _, n in steps)


def test_every_figure_module_has_a_builder():
    for spec in FIGURES:
        module = importlib.import_module(f"ppverify.report.{spec.module}")
        assert callable(module.build), spec.module
        assert module.__doc__ and len(module.__doc__) > 200, spec.module
    with pytest.raises(ValueError, match="no figure named"):
        get_figure("nope")
