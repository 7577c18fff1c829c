"""Claim records and verdict values (plain dataclasses, no SymPy at import time).

A ``Claim`` is data: where it comes from, what it says, what it needs, the SymPy relation that
formalises it and the strategy used to decide it. Its ``check`` callable returns an ``Outcome``
(the symbolic verdict); its ``witness`` is the oracle's numerical second opinion on the same
mathematical statement (``ppverify.claims.witness``). The engine turns both into a ``Verdict``.

Verdict meanings
----------------
* ``PROVED``: SymPy proved it for every window size N, either with ``Sum``/``IndexedBase`` or
  through a reduction stated in ``method`` (linearity, or the other elements entering only
  through a few sums that do not depend on the element at hand).
* ``PROVED_UP_TO_N``: proved for the concrete window sizes listed in ``method`` only.
* ``REFUTED``: an explicit counterexample, confirmed in exact rational arithmetic (or, for
  transcendental values, in ball arithmetic by the oracle). An identity that holds only on a
  set of measure zero (say only at ``x_max = 1``) is REFUTED.
* ``CONDITIONAL``: true on an open region described by hypotheses the source does not state;
  ``hypotheses`` names them and ``counterexample`` shows a failure without them.
* ``UNKNOWN``: SymPy did not decide (or did not finish within the claim's time limit). It is
  never counted as passed.
A numerical check is never reported as a proof: the oracle only ever witnesses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

PROVED = "PROVED"
PROVED_UP_TO_N = "PROVED_UP_TO_N"
REFUTED = "REFUTED"
CONDITIONAL = "CONDITIONAL"
UNKNOWN = "UNKNOWN"
VERDICTS = (PROVED, PROVED_UP_TO_N, REFUTED, CONDITIONAL, UNKNOWN)


@dataclass(frozen=True)
class Outcome:
    """What the symbolic check decided.

    ``counterexample`` is a point in the witness's vocabulary (``{"x": [...], "alpha": a}``,
    ``{"x": [...], "p": p}`` plus any claim-specific keys) with the values that show the failure.
    """

    verdict: str
    method: str
    evidence: str
    counterexample: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict in (REFUTED, CONDITIONAL) and not self.counterexample:
            raise ValueError(f"a {self.verdict} outcome needs a counterexample")


@dataclass(frozen=True)
class WitnessReport:
    """The oracle's second opinion. ``agrees`` is False only on a certain contradiction."""

    agrees: bool
    detail: str
    points: int = 0


@dataclass(frozen=True)
class Claim:
    """One checkable claim. ``source`` is "Sec. 1, Prop. 2, step 3"-style; toolkit claims say
    "ppverify". ``statement`` is the claim as printed (or as the toolkit states it)."""

    id: str
    source: str
    statement: str
    hypotheses: tuple[str, ...]
    relation: str
    strategy: str
    check: Callable[[], Outcome]
    witness: Callable[[Outcome], WitnessReport] | None = None
    timeout: float = 20.0
    expected: str | None = None  # the verdict this catalogue expects (pinned by the tests)


@dataclass
class Verdict:
    """The engine's result for one claim: the same record feeds the table, JSON and Markdown."""

    id: str
    source: str
    statement: str
    hypotheses: list[str]
    verdict: str
    method: str
    evidence: str
    counterexample: dict[str, Any] | None
    seconds: float
    witness_agrees: bool
    witness: str = ""
    error: str | None = None
    relation: str = ""
    strategy: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Checked without a crash and without a disagreement between the witnesses."""
        return self.error is None and self.witness_agrees

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        return d
