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
* ``ARGUED``: holds by an argument in which the steps listed as ``argued`` in the record are
  asserted, not machine-checked (every other step is checked). Never counted as PROVED.
* ``REFUTED``: an explicit counterexample, confirmed in exact rational arithmetic (or, for
  transcendental values, in ball arithmetic by the oracle). An identity that holds only on a
  set of measure zero (say only at ``x_max = 1``) is REFUTED.
* ``CONDITIONAL``: true on an open region described by hypotheses the source does not state;
  ``hypotheses`` names them and ``counterexample`` shows a failure without them.
* ``UNKNOWN``: SymPy did not decide (or did not finish within the claim's time limit). It is
  never counted as passed.
A numerical check is never reported as a proof: the oracle only ever witnesses.

Every verdict carries its ``steps`` (``Step``: what it establishes, which engine or rule
decided it; see ``ppverify.claims.proof``). A verdict other than ARGUED or UNKNOWN whose
steps include an argued one is refused when the ``Outcome`` is made, so a PROVED, REFUTED or
CONDITIONAL label always rests on checked steps only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

PROVED = "PROVED"
PROVED_UP_TO_N = "PROVED_UP_TO_N"
ARGUED = "ARGUED"
REFUTED = "REFUTED"
CONDITIONAL = "CONDITIONAL"
UNKNOWN = "UNKNOWN"
VERDICTS = (PROVED, PROVED_UP_TO_N, ARGUED, REFUTED, CONDITIONAL, UNKNOWN)

#: what can decide a step; every kind but "argued" is a check (see ppverify.claims.proof)
STEP_KINDS = ("SymPy", "z3", "SymPy+z3", "exact", "flint", "claim", "rule", "argued")


@dataclass(frozen=True)
class Step:
    """One step of a check: ``text`` (what it establishes), ``kind`` (the engine that decided
    it, ``claim``, ``rule`` or ``argued``) and ``detail`` (the relation, the rule's name, the
    claim id, the box)."""

    text: str
    kind: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise ValueError(f"step kind must be one of {STEP_KINDS}, got {self.kind!r}")

    @property
    def checked(self) -> bool:
        return self.kind != "argued"


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
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.verdict in (REFUTED, CONDITIONAL) and not self.counterexample:
            raise ValueError(f"a {self.verdict} outcome needs a counterexample")
        argued = [s.text for s in self.steps if not s.checked]
        if self.verdict == ARGUED and not argued:
            raise ValueError("an ARGUED outcome must list its argued steps")
        if self.verdict not in (ARGUED, UNKNOWN) and argued:
            raise ValueError(f"a {self.verdict} outcome may not rest on argued steps: {argued}")
        if self.verdict not in (UNKNOWN,) and not self.steps:
            raise ValueError(f"a {self.verdict} outcome must record its steps")


@dataclass(frozen=True)
class WitnessReport:
    """The oracle's second opinion. ``agrees`` is False only on a certain contradiction."""

    agrees: bool
    detail: str
    points: int = 0


@dataclass(frozen=True)
class Claim:
    """One checkable claim. ``source`` is "Sec. 1, Prop. 2, step 3"-style; toolkit claims say
    "ppverify", the reviewer's questions "reviewer". ``statement`` is the claim as printed (or
    as the toolkit states it). ``reading`` says how a printed statement was read when not
    literally, and why (empty: literally as printed). ``takeaway`` is the one sentence a reader
    should take from it (empty: not a headline); the audit's summary lists these by verdict."""

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
    reading: str = ""
    takeaway: str = ""


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
    steps: list[dict[str, str]] = field(default_factory=list)
    reading: str = ""
    takeaway: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def deciders(self) -> list[str]:
        """The engines that decided at least one step (SymPy, z3, exact, flint)."""
        found = set()
        for s in self.steps:
            for name in s["kind"].split("+"):
                if name in ("SymPy", "z3", "exact", "flint"):
                    found.add(name)
        return [n for n in ("SymPy", "z3", "exact", "flint") if n in found]

    @property
    def argued_steps(self) -> list[str]:
        return [s["text"] for s in self.steps if s["kind"] == "argued"]

    @property
    def ok(self) -> bool:
        """Checked without a crash and without a disagreement between the witnesses."""
        return self.error is None and self.witness_agrees

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["deciders"] = self.deciders
        return d
