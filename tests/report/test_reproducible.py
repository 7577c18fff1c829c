"""The committed reports/ is what `ppverify report` produces now, and rerunning changes nothing.

Text files (index.md, index.html, every SVG) must be byte-identical; PNGs may differ by at most
a few anti-aliased pixels. The full render (with the claims audit, 20-30 s) is shared with
the other tests (conftest.py).
When it fails after a change to the oracle, ops, claims or report code: run `ppverify report`
and commit reports/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "reports"
#: a PNG may differ from the committed one in at most this fraction of its pixels ...
MAX_CHANGED_FRACTION = 0.002
#: ... and by at most this mean absolute difference over all channels (values in [0, 1])
MAX_MEAN_DIFFERENCE = 1e-3
HINT = "regenerate with `ppverify report` and commit reports/"


def png_difference(a: Path, b: Path) -> tuple[float, float]:
    """``(fraction of pixels that differ, mean absolute difference)`` of two PNGs."""
    x, y = mpimg.imread(a), mpimg.imread(b)
    if x.shape != y.shape:
        return 1.0, 1.0
    d = np.abs(x.astype(np.float64) - y.astype(np.float64))
    return float(np.mean(d.max(axis=-1) > 1 / 255)), float(d.mean())


@pytest.mark.slow
def test_committed_report_matches_a_fresh_run(full_report):
    assert COMMITTED.is_dir(), f"reports/ is missing: {HINT}"
    fresh = full_report.out
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    for rel in fresh_files:
        committed = COMMITTED / rel
        assert committed.exists(), f"{rel} is not in reports/: {HINT}"
        if rel.suffix == ".png":
            changed, mean = png_difference(fresh / rel, committed)
            assert changed <= MAX_CHANGED_FRACTION and mean <= MAX_MEAN_DIFFERENCE, (
                f"{rel}: {changed:.2%} of pixels differ (mean {mean:.2e}): {HINT}")
        elif rel.name.startswith("index.") and full_report.timeouts:
            # a claim that hit its time limit on a loaded machine is UNKNOWN in this run only;
            # the audit text then legitimately differs, so only its figure links are checked
            text = (fresh / rel).read_text()
            for stem in full_report.figures:
                assert f"fig-{stem}" in text
        else:
            assert (fresh / rel).read_bytes() == committed.read_bytes(), f"{rel} differs: {HINT}"


@pytest.mark.slow
def test_rerunning_changes_no_file(full_report, tmp_path):
    """A second run into the same directory rewrites every file identically."""
    from ppverify.report.driver import build_report

    out = tmp_path / "copy"
    shutil.copytree(full_report.out, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    build_report(out, claims=False, only=("detail", "convergence"))
    for p in (out / "figures").glob("*"):
        assert p.read_bytes() == before[p], p
    # the document differs only because --no-claims was used; everything else is unchanged
    assert set(p for p in out.rglob("*") if p.is_file()) == set(before)


def test_png_difference_detects_changes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    a = np.zeros((20, 20, 3))
    b = a.copy()
    b[0, 0] = 1.0
    mpimg.imsave(tmp_path / "a.png", a)
    mpimg.imsave(tmp_path / "b.png", b)
    assert png_difference(tmp_path / "a.png", tmp_path / "a.png") == (0.0, 0.0)
    changed, mean = png_difference(tmp_path / "a.png", tmp_path / "b.png")
    assert changed == pytest.approx(1 / 400) and mean > 0
