"""Machine-checked claims about P-pooling, Lp-norm pooling and the power mean (SymPy).

* ``CATALOGUE``: one ``Claim`` record per claim (supplement Sec. 1 and 2, and the toolkit's
  own claims), see ``catalogue.py``.
* ``check_claims(ids=None, progress=None) -> list[Verdict]``: checks them with SymPy and z3
  (each step records which engine decided it), in worker processes under a per-claim time
  limit, and cross-checks every verdict with the oracle.
* ``render_markdown(verdicts) -> str``: the audit document.

This layer imports no torch; the oracle (``ppverify.oracle``) is its numerical second witness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .catalogue import BY_ID, CATALOGUE
from .engine import Progress, all_ok, run_claims
from .model import (
    ARGUED,
    CONDITIONAL,
    PROVED,
    PROVED_UP_TO_N,
    REFUTED,
    UNKNOWN,
    VERDICTS,
    Claim,
    Outcome,
    Step,
    Verdict,
    WitnessReport,
)
from .render import render_markdown, summary_counts


def select(ids: Iterable[str] | None = None, catalogue: Sequence[Claim] | None = None
           ) -> list[Claim]:
    """The claims named by ``ids`` (all when None), in catalogue order; unknown ids raise."""
    claims = list(CATALOGUE if catalogue is None else catalogue)
    if ids is None:
        return claims
    wanted = list(ids)
    known = {c.id for c in claims}
    missing = [i for i in wanted if i not in known]
    if missing:
        raise ValueError(f"unknown claim id(s) {missing}; known: {sorted(known)}")
    return [c for c in claims if c.id in set(wanted)]


def check_claims(ids: Iterable[str] | None = None, progress: Progress | None = None,
                 *, catalogue: Sequence[Claim] | None = None, jobs: int | None = None
                 ) -> list[Verdict]:
    """Check the claims ``ids`` (default: all) and return one ``Verdict`` each.

    ``progress(verdict, done, total)`` is called as each claim finishes. ``catalogue`` replaces
    the built-in catalogue (tests use it to check the engine itself); ``jobs`` is the number of
    worker processes (default: up to 2); anything but a positive integer or None raises
    ``ValueError``.
    """
    return run_claims(select(ids, catalogue), progress=progress, jobs=jobs)


__all__ = [
    "ARGUED",
    "BY_ID",
    "CATALOGUE",
    "CONDITIONAL",
    "PROVED",
    "PROVED_UP_TO_N",
    "REFUTED",
    "UNKNOWN",
    "VERDICTS",
    "Claim",
    "Outcome",
    "Step",
    "Verdict",
    "WitnessReport",
    "all_ok",
    "check_claims",
    "render_markdown",
    "select",
    "summary_counts",
]
