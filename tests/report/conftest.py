"""One full render of the report per test session, shared by every xdist worker.

The first worker to ask renders ``ppverify report`` (figures and claims) into a directory of
the session's temporary root, under an exclusive file lock; the others wait for it and reuse
the files, so a ``-n 2`` run pays for one render. Tests must not modify the shared directory
(copy it first).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

COMMITTED = Path(__file__).resolve().parents[2] / "reports"


@dataclass
class RenderedReport:
    out: Path
    figures: dict[str, str | None]  # stem -> skip reason (None when drawn)
    steps: list[list]               # progress calls: [description, done, total]
    claims_message: str | None
    timeouts: list[str]             # claims that hit their time limit (verdict UNKNOWN)
    #: index.md / index.html of this run rendered with the committed measured labels
    documents_with_committed_labels: Path


def _documents_with_committed_labels(result, directory: Path) -> None:
    """The fresh run's documents, with each measured figure's label taken from reports/."""
    from ppverify.report.document import write_documents
    from ppverify.report.driver import DATA_DIR, read_record

    for figure in result.figures:
        committed = read_record(COMMITTED / DATA_DIR / f"{figure.spec.stem}.json")
        if figure.measured_on is not None and committed and "measured_on" in committed:
            figure.measured_on = committed["measured_on"]
    write_documents(directory, result.figures, result.claims)


def _render(out: Path) -> None:
    from ppverify.report.driver import build_report

    steps: list = []
    result = build_report(out, progress=lambda d, k, n: steps.append([d, k, n]))
    _documents_with_committed_labels(result, out.parent / f"{out.name}_committed_labels")
    timeouts = [v.id for v in result.claims.verdicts or [] if "time limit" in v.evidence]
    summary = {"figures": {f.spec.stem: f.skipped for f in result.figures}, "steps": steps,
               "claims_message": result.claims.message, "timeouts": timeouts}
    (out.parent / f"{out.name}.json").write_text(json.dumps(summary))


@pytest.fixture(scope="session")
def full_report(tmp_path_factory) -> RenderedReport:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent  # the session's root, shared by workers
    else:
        root = tmp_path_factory.mktemp("shared")
    out = root / "ppverify_full_report"
    with open(root / "ppverify_full_report.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        summary_path = root / "ppverify_full_report.json"
        if not summary_path.exists():
            _render(out)
        summary = json.loads(summary_path.read_text())
    return RenderedReport(out, summary["figures"], summary["steps"], summary["claims_message"],
                          summary["timeouts"], root / f"{out.name}_committed_labels")
