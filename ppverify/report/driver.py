"""Build the whole report: every figure, the claims audit and the document.

``build_report(out, quick=False, progress=None)`` is what ``ppverify report`` runs; it returns a
``ReportResult`` (one ``FigureOutcome`` per figure, the claim verdicts or the reason there are
none). Every file is written atomically.

What is reproducible where (``tests/report/test_reproducible.py`` checks exactly this):

* ``data/<stem>.json`` of an exact figure (every figure but the accuracy maps): what the figure
  shows, as data (``ppverify.report.content``). Identical on every machine, with any matplotlib.
* ``data/<stem>.json`` of a measured figure: the measurement record, labelled with the machine,
  torch version and date. It varies between machines; on one machine a rerun keeps the file
  (the date of an unchanged measurement is kept).
* ``data/versions.json``: the versions that decide bytes beyond the data: matplotlib and
  FreeType (``figures/*.svg`` are byte-identical, and ``figures/*.png`` equal up to
  anti-aliasing, whenever they are drawn from the same data by the same versions) and SymPy
  (which prints the expressions in the claims' evidence).
* ``index.md`` / ``index.html``: a function of the figure records, the claim verdicts and the
  measured labels; nothing else (no timings, no host, no sizes).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._files import staged_directory, write_atomic
from .catalogue import FIGURES, FigureSkipped, FigureSpec
from .content import dumps, figure_content
from .style import save_figure, styled

#: progress(description, steps_done, steps_total): called when a step starts (``steps_done``
#: unchanged, description ending in "...") and when it finishes (``steps_done`` + 1)
Progress = Callable[[str, int, int], None]
FIGURE_DIR = "figures"
DATA_DIR = "data"
VERSIONS_FILE = "versions.json"


@dataclass
class FigureOutcome:
    """One figure's files (PNG, SVG, data JSON), or why it was skipped.

    ``measured_on``: the label of a measured figure's record (machine, torch, date, command);
    ``kept``: not drawn in this run (``only=``) but present from an earlier run in ``out``.
    """

    spec: FigureSpec
    files: list[Path] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0
    measured_on: dict | None = None
    kept: bool = False


def renderer_versions() -> dict[str, str]:
    """The versions that decide the bytes of a drawn figure: matplotlib and FreeType."""
    import matplotlib
    from matplotlib import ft2font

    return {"matplotlib": matplotlib.__version__,
            "freetype": getattr(ft2font, "__freetype_version__", "unknown")}


def printer_versions() -> dict[str, str]:
    """The version that prints the expressions in the claims' evidence: SymPy."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return {"sympy": version("sympy")}
    except PackageNotFoundError:
        return {"sympy": "not installed"}


def read_record(path: Path) -> dict | None:
    """A data record written by the report, or None if missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def keep_date_if_unchanged(record: dict, previous: dict | None) -> dict:
    """``record`` with the previous record's date when nothing else changed (a rerun on the
    same machine rewrites the file identically)."""
    if previous is None or "measured_on" not in previous:
        return record
    old = dict(previous, measured_on=dict(previous["measured_on"], date=None))
    new = dict(record, measured_on=dict(record["measured_on"], date=None))
    if old == new:
        return dict(record, measured_on=dict(record["measured_on"],
                                             date=previous["measured_on"]["date"]))
    return record


@dataclass
class ClaimsOutcome:
    """The verdicts of ``ppverify.claims.check_claims`` or why there are none."""

    verdicts: list | None
    message: str | None
    seconds: float = 0.0


@dataclass
class ReportResult:
    out: Path
    figures: list[FigureOutcome]
    claims: ClaimsOutcome
    documents: list[Path]
    seconds: float

    def to_json(self) -> dict:
        """The same record as plain data (for ``ppverify report --json``)."""
        verdicts = self.claims.verdicts
        counts: dict[str, int] = {}
        for v in verdicts or []:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        return {
            "out": str(self.out),
            "figures": [{
                "number": f.spec.number, "stem": f.spec.stem, "title": f.spec.title,
                "claims": list(f.spec.claims), "skipped": f.skipped, "kept": f.kept,
                "files": {p.suffix[1:]: {"path": str(p), "bytes": p.stat().st_size}
                          for p in f.files},
                "seconds": round(f.seconds, 3)} for f in self.figures],
            "claims": {"available": verdicts is not None, "message": self.claims.message,
                       "count": len(verdicts) if verdicts is not None else 0,
                       "verdicts": counts, "seconds": round(self.claims.seconds, 3)},
            "documents": [str(p) for p in self.documents],
            "seconds": round(self.seconds, 3),
        }


def missing_requirement(needs: tuple[str, ...]) -> str | None:
    """The first requirement that cannot be imported, with the reason, or None."""
    for name in needs:
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            return f"{name} is not available ({err})"
        if name == "ppverify.ops" and not hasattr(module, "p_pool2d"):
            return "ppverify.ops has no p_pool2d yet"
    return None


def kept_figure(spec: FigureSpec, out: Path) -> FigureOutcome | None:
    """The outcome of a figure drawn by an earlier run into ``out``, if all its files are there."""
    files = [out / FIGURE_DIR / f"{spec.stem}.png", out / FIGURE_DIR / f"{spec.stem}.svg",
             out / DATA_DIR / f"{spec.stem}.json"]
    record = read_record(files[-1])
    if record is None or not all(p.is_file() for p in files):
        return None
    return FigureOutcome(spec, files=files, measured_on=record.get("measured_on"), kept=True)


def draw_measured(spec: FigureSpec, record: dict, out: Path) -> list[Path]:
    """Draw a measured figure from its record alone (no measuring) into ``out/figures``."""
    module = importlib.import_module(f"{__package__}.{spec.module}")
    with styled():
        return save_figure(module.draw(record), Path(out) / FIGURE_DIR, spec.stem)


def draw_figure(spec: FigureSpec, out: Path, quick: bool = False) -> FigureOutcome:
    """Draw one figure into ``out/figures``; a missing requirement gives a skipped outcome."""
    t0 = time.perf_counter()
    reason = missing_requirement(spec.needs)
    if reason is not None:
        return FigureOutcome(spec, skipped=reason, seconds=time.perf_counter() - t0)
    module = importlib.import_module(f"{__package__}.{spec.module}")
    data_path = out / DATA_DIR / f"{spec.stem}.json"
    measured_on = None
    try:
        if spec.measured:
            record = module.measure(quick=quick)
            record = keep_date_if_unchanged(record, read_record(data_path))
            measured_on = record["measured_on"]
            files = draw_measured(spec, record, out)
        else:
            with styled():
                fig = module.build(quick=quick)
                record = {"figure": spec.stem, "kind": "exact", "quick": quick,
                          "content": figure_content(fig)}
                files = save_figure(fig, out / FIGURE_DIR, spec.stem)
    except FigureSkipped as err:
        return FigureOutcome(spec, skipped=str(err), seconds=time.perf_counter() - t0)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(data_path, dumps(record).encode("utf-8"))
    files.append(data_path)
    return FigureOutcome(spec, files=files, seconds=time.perf_counter() - t0,
                         measured_on=measured_on)


def run_claims() -> ClaimsOutcome:
    """``ppverify.claims.check_claims()``, or the reason it cannot run."""
    t0 = time.perf_counter()
    try:
        claims = importlib.import_module("ppverify.claims")
    except ImportError as err:
        return ClaimsOutcome(None, f"ppverify.claims cannot be imported ({err})")
    check = getattr(claims, "check_claims", None)
    if check is None:
        return ClaimsOutcome(None, "ppverify.claims has no check_claims yet")
    try:
        verdicts = list(check())
    except Exception as err:  # noqa: BLE001 - the report records any failure of prove
        return ClaimsOutcome(None, f"check_claims failed: {type(err).__name__}: {err}",
                             time.perf_counter() - t0)
    return ClaimsOutcome(verdicts, None, time.perf_counter() - t0)


def build_report(out: str | Path = "reports", *, quick: bool = False, claims: bool = True,
                 only: tuple[str, ...] | None = None,
                 progress: Progress | None = None) -> ReportResult:
    """Draw the figures (all, or the stems in ``only``), run the claims, write the document.

    The whole directory is built as a set (``ppverify._files.staged_directory``): a run that
    fails or is killed leaves ``out`` as it was, never new figures beside an old document.
    ``quick`` draws every figure at a reduced resolution (for tests); ``claims=False`` leaves
    the audit table out with a line saying so. With ``only``, a figure that is not drawn keeps
    its files from an earlier run in ``out`` and stays in the document (``kept``). Raises
    ``ValueError`` for an unknown figure in ``only`` or an ``out`` that exists and is not a
    directory.
    """
    from .document import write_documents

    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a directory, but {str(out)!r} is a file")
    if only is not None:
        if isinstance(only, str):
            raise TypeError(f"only must be a sequence of figure names, got the string {only!r}")
        unknown = [stem for stem in only if stem not in {s.stem for s in FIGURES}]
        if unknown:
            raise ValueError(f"unknown figure(s) {unknown} in only; "
                             f"known: {[s.stem for s in FIGURES]}")
    specs = [s for s in FIGURES if only is None or s.stem in only]
    total = len(specs) + (1 if claims else 0) + 1
    done = 0

    def step(description: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(description, done, total)

    def starting(description: str) -> None:
        if progress is not None:
            progress(description + " ...", done, total)

    if claims:
        starting("claims: running ppverify prove")
        outcome = run_claims()
        step("claims: " + (f"{len(outcome.verdicts)} verdicts" if outcome.verdicts is not None
                           else outcome.message or ""))
    else:
        outcome = ClaimsOutcome(None, "prove not run (ppverify report --no-claims)")
    with staged_directory(out) as stage:
        figures = []
        for spec in FIGURES:
            if spec not in specs:
                kept = kept_figure(spec, stage)
                if kept is not None:
                    figures.append(kept)
                continue
            starting(f"figure {spec.number} {spec.stem}")
            result = draw_figure(spec, stage, quick)
            figures.append(result)
            step(f"figure {spec.number} {spec.stem}: "
                 + (f"skipped ({result.skipped})" if result.skipped
                    else f"{result.seconds:.1f} s"))
        if any(f.files and not f.kept for f in figures) or outcome.verdicts is not None:
            write_atomic(stage / DATA_DIR / VERSIONS_FILE,
                         dumps({**renderer_versions(), **printer_versions()}).encode("utf-8"))
        starting("document")
        documents = write_documents(stage, figures, outcome)
        step("document: " + ", ".join(p.name for p in documents))
    final = out.resolve() if out.is_symlink() else out
    for figure in figures:
        figure.files = [final / p.relative_to(stage) for p in figure.files]
    documents = [final / p.relative_to(stage) for p in documents]
    return ReportResult(out, figures, outcome, documents, time.perf_counter() - t0)
