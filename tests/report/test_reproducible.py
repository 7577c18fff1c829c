"""reports/ is reproducible on any machine, in exactly the sense ``ppverify.report.driver`` states.

* What each exact figure shows (``data/<stem>.json``: oracle values, correctly rounded, and the
  text) must equal a fresh run's, byte for byte, on every machine and with any matplotlib.
* A measured figure (the accuracy maps) may differ between machines; its committed record and a
  fresh measurement on this machine must both hold the bounds that the op's tests state.
* The documents are a function of the figure records, the verdicts and the measured label, so a
  fresh render with the committed label must equal the committed documents, when this
  machine's SymPy is the one that printed the evidence (``data/versions.json``); with another
  SymPy the id and verdict of every claim must still match.
* SVG/PNG bytes depend on the renderer: they are compared when this machine's matplotlib and
  FreeType are the ones that drew reports/ (``data/versions.json``), and otherwise reported as
  not compared.

A failure names the file and the first difference; it means the code behind reports/ changed
since reports/ was generated, never that the machine is a different one.
The full render (with the claims audit) is shared with the other tests (conftest.py).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from ppverify.report.catalogue import FIGURES
from ppverify.report.driver import DATA_DIR, VERSIONS_FILE, printer_versions, renderer_versions

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "reports"
#: a PNG may differ from the committed one in at most this fraction of its pixels ...
MAX_CHANGED_FRACTION = 0.002
#: ... and by at most this mean absolute difference over all channels (values in [0, 1])
MAX_MEAN_DIFFERENCE = 1e-3
HINT = ("the code behind reports/ changed since it was generated: regenerate with "
        "`ppverify report` and commit reports/")
EXACT = [spec for spec in FIGURES if not spec.measured]
MEASURED = [spec for spec in FIGURES if spec.measured]


def png_difference(a: Path, b: Path) -> tuple[float, float]:
    """``(fraction of pixels that differ, mean absolute difference)`` of two PNGs."""
    x, y = mpimg.imread(a), mpimg.imread(b)
    if x.shape != y.shape:
        return 1.0, 1.0
    d = np.abs(x.astype(np.float64) - y.astype(np.float64))
    return float(np.mean(d.max(axis=-1) > 1 / 255)), float(d.mean())


def first_difference(a, b, path: str = "") -> str | None:
    """Where two JSON values first differ (``content.axes[2].lines[0].y[17]: 0.5 != 0.25``)."""
    if type(a) is not type(b):
        return f"{path or '<top>'}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'the fresh run' if key in a else 'reports/'}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} entries != {len(b)}"
        for i, (u, v) in enumerate(zip(a, b)):
            found = first_difference(u, v, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def _record(root: Path, stem: str) -> dict:
    path = root / DATA_DIR / f"{stem}.json"
    assert path.exists(), f"{path.relative_to(root.parent)} is missing: {HINT}"
    return json.loads(path.read_text(encoding="utf-8"))


def _committed_versions() -> dict:
    path = COMMITTED / DATA_DIR / VERSIONS_FILE
    assert path.exists(), f"reports/{DATA_DIR}/{VERSIONS_FILE} is missing: {HINT}"
    return json.loads(path.read_text(encoding="utf-8"))


def _verdict_rows(markdown: str) -> dict[str, str]:
    """claim id -> verdict, from the audit table of an index.md."""
    import re

    rows = re.findall(r'^\| <a id="claim-[^"]*"></a>`([^`]+)` \|(.*)$', markdown, re.M)
    verdicts = ("PROVED_UP_TO_N", "PROVED", "REFUTED", "CONDITIONAL", "UNKNOWN")
    out = {}
    for claim, rest in rows:
        cells = [c.strip() for c in rest.split(" | ")]
        out[claim] = next((c for c in cells if c in verdicts), "?")
    return out


def _drawn(full_report, stem: str) -> bool:
    return full_report.figures.get(stem, "missing") is None


@pytest.mark.slow
@pytest.mark.parametrize("spec", EXACT, ids=[s.stem for s in EXACT])
def test_what_each_exact_figure_shows_matches_a_fresh_run(full_report, spec):
    fresh_path = full_report.out / DATA_DIR / f"{spec.stem}.json"
    committed_path = COMMITTED / DATA_DIR / f"{spec.stem}.json"
    assert committed_path.exists(), f"reports/{DATA_DIR}/{spec.stem}.json is missing: {HINT}"
    if fresh_path.read_bytes() == committed_path.read_bytes():
        return
    where = first_difference(json.loads(fresh_path.read_text(encoding="utf-8")),
                             json.loads(committed_path.read_text(encoding="utf-8")))
    pytest.fail(f"reports/{DATA_DIR}/{spec.stem}.json: figure {spec.number} shows something "
                f"else in a fresh run (first difference: {where or 'formatting'}); {HINT}")


def _stated_bounds():
    """The op's tested accuracy bounds (tests/ops/_compare.py), in the figure's units."""
    pytest.importorskip("torch")
    from tests.ops._compare import FORWARD_ULP, GRAD_ROUNDOFF, GRAD_ULP, HALF_ULP

    forward = {"float16": HALF_ULP, "bfloat16": HALF_ULP, "float32": FORWARD_ULP,
               "float64": FORWARD_ULP}
    # within GRAD_ULP ULP of the value (<= that many ULP of the window's largest gradient) or
    # GRAD_ROUNDOFF unit roundoffs of the window's largest gradient s (u s < ulp(s))
    grad = max(GRAD_ULP, GRAD_ROUNDOFF)
    return forward, grad


def _assert_within_bounds(record: dict, where: str) -> None:
    from ppverify.report.accuracy import cells

    forward, grad = _stated_bounds()
    for dtype in record["dtypes"]:
        for key, bound in (("ops", forward[dtype]), ("ops grad", grad)):
            data = cells(record, dtype, key)
            assert np.isfinite(data).all(), f"{where}: {key} {dtype} has NaN/inf cells"
            assert data.max() <= bound, (
                f"{where}: {key} {dtype} reaches {data.max():g} ULP, over the op's tested "
                f"bound {bound}")


@pytest.mark.slow
@pytest.mark.parametrize("spec", MEASURED, ids=[s.stem for s in MEASURED])
def test_measured_figures_hold_the_stated_bounds_here_and_as_committed(full_report, spec):
    committed = _record(COMMITTED, spec.stem)
    label = committed["measured_on"]
    for field in ("machine", "cpu_capability", "torch", "date", "command"):
        assert label.get(field), f"reports/{DATA_DIR}/{spec.stem}.json: no {field} in its label"
    _assert_within_bounds(committed, f"reports/{DATA_DIR}/{spec.stem}.json")
    if _drawn(full_report, spec.stem):
        _assert_within_bounds(_record(full_report.out, spec.stem), "a fresh measurement here")


def test_the_bounds_check_catches_a_measurement_over_the_bound():
    pytest.importorskip("torch")
    record = _record(COMMITTED, "accuracy")
    _assert_within_bounds(record, "committed")
    broken = json.loads(json.dumps(record))
    broken["dtypes"]["float32"]["ops"][0][0] = 9.0
    with pytest.raises(AssertionError, match="ops float32 reaches 9 ULP"):
        _assert_within_bounds(broken, "broken")
    broken["dtypes"]["float32"]["ops"][0][0] = "inf"
    with pytest.raises(AssertionError, match="NaN/inf"):
        _assert_within_bounds(broken, "broken")


@pytest.mark.slow
def test_documents_match_a_fresh_render_with_the_committed_measurement_label(full_report):
    committed_sympy = _committed_versions().get("sympy")
    if committed_sympy != printer_versions()["sympy"]:
        # another SymPy may print the same expression differently: the claims and their
        # verdicts must still match
        fresh = (full_report.documents_with_committed_labels / "index.md").read_text("utf-8")
        committed = (COMMITTED / "index.md").read_text("utf-8")
        assert _verdict_rows(fresh) == _verdict_rows(committed), f"claim verdicts differ: {HINT}"
        warnings.warn(f"audit text not compared: reports/ was printed by SymPy {committed_sympy}, "
                      f"this machine has {printer_versions()['sympy']}", stacklevel=1)
        return
    for name in ("index.md", "index.html"):
        text = (full_report.documents_with_committed_labels / name).read_text(encoding="utf-8")
        committed = (COMMITTED / name).read_text(encoding="utf-8")
        if text != committed and full_report.timeouts:
            # a claim that hit its time limit on a loaded machine is UNKNOWN in this run only;
            # the audit text then legitimately differs, so only the figure links are checked
            for stem in full_report.figures:
                assert f"fig-{stem}" in text
            continue
        if text != committed:
            line = next(i for i, (a, b) in enumerate(zip(text.splitlines() + [""],
                                                         committed.splitlines() + [""]))
                        if a != b)
            pytest.fail(f"reports/{name} differs from a fresh render at line {line + 1}: "
                        f"{committed.splitlines()[line:line + 1]} vs "
                        f"{text.splitlines()[line:line + 1]}; {HINT}")


@pytest.mark.slow
def test_figure_files_match_when_drawn_by_the_same_renderer(full_report, tmp_path):
    from ppverify.report.driver import draw_measured

    committed_renderer = {key: _committed_versions().get(key) for key in renderer_versions()}
    same = committed_renderer == renderer_versions()
    # a measured figure is redrawn from the committed record: its drawing code is checked
    # without re-measuring
    for spec in MEASURED:
        draw_measured(spec, _record(COMMITTED, spec.stem), tmp_path)
    if not same:
        warnings.warn(f"figure files not compared: reports/ was drawn by {committed_renderer}, "
                      f"this machine has {renderer_versions()} (what the figures show is "
                      "compared by the data tests)", stacklevel=1)
        return
    for spec in FIGURES:
        source = tmp_path if spec.measured else full_report.out
        if not spec.measured and not _drawn(full_report, spec.stem):
            continue
        for suffix in ("svg", "png"):
            rel = Path("figures") / f"{spec.stem}.{suffix}"
            committed = COMMITTED / rel
            assert committed.exists(), f"reports/{rel} is missing: {HINT}"
            if suffix == "png":
                changed, mean = png_difference(source / rel, committed)
                assert changed <= MAX_CHANGED_FRACTION and mean <= MAX_MEAN_DIFFERENCE, (
                    f"reports/{rel}: {changed:.2%} of pixels differ (mean {mean:.2e}): {HINT}")
            else:
                assert (source / rel).read_bytes() == committed.read_bytes(), (
                    f"reports/{rel} differs from the same data drawn by the same renderer: "
                    f"{HINT}")


@pytest.mark.slow
def test_rerunning_changes_no_file(full_report, tmp_path):
    """A second run into the same directory rewrites every file identically (the measured
    record keeps its date when the measurement is unchanged)."""
    from ppverify.report.driver import build_report

    out = tmp_path / "copy"
    shutil.copytree(full_report.out, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    build_report(out, claims=False, only=("detail", "convergence", "accuracy"))
    for p in [*(out / "figures").glob("*"), *(out / DATA_DIR).glob("*")]:
        assert p.read_bytes() == before[p], p
    # the document differs only because --no-claims was used; everything else is unchanged
    assert set(p for p in out.rglob("*") if p.is_file()) == set(before)


def test_first_difference_names_the_place():
    a = {"content": {"axes": [{"lines": [{"y": [1.0, 2.0]}]}]}}
    b = {"content": {"axes": [{"lines": [{"y": [1.0, 2.5]}]}]}}
    assert first_difference(a, a) is None
    assert first_difference(a, b) == ".content.axes[0].lines[0].y[1]: 2.0 != 2.5"
    assert "only in" in first_difference({"x": 1}, {})


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


def test_verdict_rows_read_every_claim_and_see_a_changed_verdict():
    text = (COMMITTED / "index.md").read_text(encoding="utf-8")
    rows = _verdict_rows(text)
    assert len(rows) == text.count('<a id="claim-') and rows["P2.fwd.step"] == "REFUTED"
    changed = text.replace("| REFUTED |", "| PROVED |", 1)
    assert _verdict_rows(changed) != rows
