"""Diagnoses by cause: failing cases grouped by signature, and the calling-convention diagnosis.

Each failing case is filed under its *primary* finding (an exception or a wrong shape first,
then the output before the input gradient before the parameter gradient: a wrong output
usually drags its gradients along, and those are listed as "also" in the group). The group is
the primary finding's ``Signature``: category, quantity, symptom (NaN, Inf, zero or another
finite value; the exception's type; the shape's pattern), dtype, value kind, parameter class
and pooling feature. Groups are listed ordinary values first (ordinary value kinds with an
ordinary parameter, then with a negative or huge parameter, then the hard kinds in the same
order, then error inputs), and within that by category and number of cases.

A *calling-convention problem* is declared when 80% or more of the valid cases fail the same
way before any value can be judged (the same exception, or the same wrong output shape): then
the values of the rest mean nothing either, and the report says it once, with the target's
signature beside the call that was made, instead of a pile of failures.

Hints name the declaration a layer may need, in the convention verdict or as notes: every
unbatched input failing before judging while no batched one does (``--batched-only``), global
pooling outputs of shape ``(N, C)`` (``--flat-output``), and one way of raising that takes every
case whose parameter lies below (above) all the others' (``--param-min``, ``--param-max``).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from .cases import Case
from .compare import CATEGORIES, CATEGORY_TITLES, Finding
from .values import HARD_KINDS

MAX_CASE_IDS = 1000  # case ids kept per group (the count is exact; JSON shows the first 50)
QUANTITY_ORDER = {"output": 0, "grad_input": 1, "grad_param": 2, None: 3}
CATEGORY_ORDER = {c: i for i, c in enumerate(
    ("exception", "wrong-shape", "nonfinite", "wrong-value", "wrong-gradient",
     "missing-gradient", "accepted-invalid"))}


def primary(findings: list[Finding]) -> Finding | None:
    """The finding that files a case: exception or shape first, then output, grad_input,
    grad_param (see the module doc)."""
    if not findings:
        return None

    def rank(f: Finding):
        first = 0 if f.category in ("exception", "wrong-shape") else 1
        return first, QUANTITY_ORDER.get(f.quantity, 3), CATEGORY_ORDER[f.category]

    return min(findings, key=rank)


def shape_pattern(case: Case, got: tuple[int, ...] | None) -> str:
    """A wrong output shape, described by what it looks like."""
    if got is None:
        return "no output"
    lead = tuple(case.input.shape[: case.input.ndim - case.dims])
    expected = case.expected_shape()
    if tuple(got) == lead + (1,) * case.dims and expected != tuple(got):
        return "one value per plane (global pooling)"
    if tuple(got) == lead:
        return "one value per plane, spatial axes dropped"
    if len(got) != len(expected):
        return f"a {len(got)}-D output where a {len(expected)}-D one is expected"
    if tuple(got) == tuple(case.input.shape):
        return "the input's shape"
    return "another shape than torch's pooling gives"


def exception_head(message: str) -> str:
    """``raised in forward: TypeError: bad thing`` -> ``TypeError``."""
    parts = message.split(": ")
    return parts[1] if len(parts) > 2 else parts[0]


@dataclass(frozen=True)
class Signature:
    """What makes failures "the same": the group key (see the module doc)."""

    category: str
    quantity: str | None
    symptom: str | None
    dtype: str
    kind: str
    param: str
    feature: str

    def title(self) -> str:
        what = CATEGORY_TITLES[self.category]
        if self.category == "accepted-invalid":
            return f"{what}: {self.kind}"
        bits = [what + (f" in {self.quantity}" if self.quantity else "")]
        if self.symptom and self.category not in ("missing-gradient",):
            bits[0] += f" ({self.symptom})"
        bits += [self.dtype, f"{self.kind} values"]
        if self.param != "none":
            bits.append(f"{self.param} parameter")
        bits.append(f"{self.feature} pooling" if self.feature in ("global",) else
                    f"pooling: {self.feature}")
        return ", ".join(bits)

    def to_dict(self) -> dict:
        return dict(category=self.category, quantity=self.quantity, symptom=self.symptom,
                    dtype=self.dtype, kind=self.kind, param=self.param, feature=self.feature)


def signature_of(case: Case, finding: Finding, outcome_shape=None) -> Signature:
    """The signature of a failing case filed under ``finding``."""
    if case.expect_error is not None:
        return Signature(finding.category, None, None, case.dtype, case.expect_error, "-", "-")
    if finding.category == "exception":
        symptom = finding.message.removesuffix(" running the target") \
            if finding.phase == "crash" else exception_head(finding.message)
    elif finding.category == "wrong-shape":
        symptom = "dtype" if "dtype" in finding.message else shape_pattern(case, outcome_shape)
    else:
        symptom = finding.symptom
    return Signature(finding.category, finding.quantity, symptom, case.dtype, case.kind,
                     case.param_class, case.feature)


@dataclass
class Group:
    """Failing cases of one signature: count, worst (ULP and absolute), a minimal reproducer."""

    signature: Signature
    count: int = 0
    worst: Finding | None = None
    worst_case: Case | None = None
    worst_abs: float | None = None
    also: Counter = field(default_factory=Counter)
    case_ids: list[str] = field(default_factory=list)
    minimal_case: Case | None = None
    minimal_finding: Finding | None = None
    reproducer: str = ""
    shrunk: bool = False
    unshrunk_reason: str = ""

    def add(self, case: Case, finding: Finding, others: list[Finding]) -> None:
        self.count += 1
        if len(self.case_ids) < MAX_CASE_IDS:
            self.case_ids.append(case.id)
        if self.worst is None or finding.severity > self.worst.severity:
            self.worst, self.worst_case = finding, case
        a = finding.abs_error
        if a is not None and (self.worst_abs is None or a > self.worst_abs):
            self.worst_abs = a
        for f in others:
            if f is not finding:
                self.also[f"{CATEGORY_TITLES[f.category]} in {f.quantity}"
                          if f.quantity else CATEGORY_TITLES[f.category]] += 1

    def sort_key(self):
        s = self.signature
        if s.category == "accepted-invalid":
            tier = 4
        else:
            tier = 2 * (s.kind in HARD_KINDS) + (s.param not in ("ordinary", "none"))
        return tier, CATEGORY_ORDER[s.category], -self.count, s.dtype

    def to_dict(self) -> dict:
        from .jsonio import encode_float

        return {
            "title": self.signature.title(), "signature": self.signature.to_dict(),
            "cases": self.count, "case_ids": self.case_ids[:50],
            "worst": None if self.worst is None else self.worst.to_dict(),
            "worst_ulp": None if self.worst is None or self.worst.ulp is None
            else encode_float(self.worst.ulp),
            "worst_abs_error": None if self.worst_abs is None else encode_float(self.worst_abs),
            "worst_case": None if self.worst_case is None else self.worst_case.describe(),
            "also": dict(self.also),
            "minimal_case": None if self.minimal_case is None else self.minimal_case.to_dict(),
            "minimal_finding": None if self.minimal_finding is None
            else self.minimal_finding.to_dict(),
            "shrunk": self.shrunk, "reproducer": self.reproducer,
        }


class FailureLog:
    """Everything the diagnoses need, accumulated one judged case at a time.

    Its memory grows with the number of groups and of distinct ways to fail before judging,
    not with the number of cases: a long run keeps no passing case. ``add(result)`` takes a
    ``check.CaseResult``; ``groups()``, ``category_counts()`` and ``convention(target)`` are
    the diagnoses (``group_failures``, ``category_counts`` and ``convention_problem`` compute
    them from a list of results).
    """

    def __init__(self):
        self._groups: dict[Signature, Group] = {}
        self._categories = dict.fromkeys(CATEGORIES, 0)
        self._before_judging: Counter = Counter()
        self._examples: dict[str, Case] = {}
        self.valid = 0  # valid cases judged (not skipped)
        # valid cases, and those failing before judging, by batched / unbatched input
        self._by_batching = {True: [0, 0], False: [0, 0]}
        # how often each parameter occurred in valid cases, overall and per way of raising
        self._params: Counter = Counter()
        self._params_raising: dict[str, Counter] = {}

    def add(self, result) -> None:
        if result.skipped:
            return
        if result.case.expect_error is None:
            self.valid += 1
            key = _before_judging(result)
            counts = self._by_batching[result.case.batched]
            counts[0] += 1
            # (per-channel cases mix exponents: they are left out of the range hint)
            p = None if result.case.per_channel else result.case.param
            if p is not None and math.isfinite(p):
                self._params[p] += 1
                if key is not None and key.startswith("raised"):
                    self._params_raising.setdefault(key, Counter())[p] += 1
            if key is not None:
                counts[1] += 1
                self._before_judging[key] += 1
                self._examples.setdefault(key, result.case)
        if not result.findings:
            return
        for c in {f.category for f in result.findings}:
            self._categories[c] += 1
        lead = primary(result.findings)
        sig = signature_of(result.case, lead, getattr(result, "output_shape", None))
        self._groups.setdefault(sig, Group(sig)).add(result.case, lead, result.findings)

    def groups(self) -> list[Group]:
        """The groups, in report order (module doc)."""
        return sorted(self._groups.values(), key=Group.sort_key)

    def category_counts(self) -> dict[str, int]:
        """Failing cases per category (a case counts once per category it fails)."""
        return dict(self._categories)

    def convention(self, target) -> ConventionProblem | None:
        """A ``ConventionProblem`` when 80% or more of the valid cases failed before their
        values could be judged: an exception or a wrong output shape (module doc)."""
        if self.valid < 5:
            return None
        kinds = self._before_judging
        n = sum(kinds.values())
        if n < 0.8 * self.valid:
            return None
        shown = kinds.most_common(3)
        what = "; ".join(f"{k} ({c})" if len(kinds) > 1 else k for k, c in shown)
        if len(kinds) > 3:
            what += f"; {len(kinds) - 3} other ways ({n - sum(c for _, c in shown)})"
        if len(kinds) > 1:
            what = f"failed before their values could be judged: {what}"
        hint = _hint(" ".join(kinds), target)
        for extra in (self.batching_hint(target), _flat_hint(" ".join(kinds), target),
                      self.param_range_hint()):
            if extra:
                hint = f"{extra}\n  {hint}"
        return ConventionProblem(what, n, self.valid, target.signature or target.name,
                                 target.call_text(), hint, self._examples[shown[0][0]])

    def param_range_hint(self) -> str:
        """A suggestion to declare the exponents a target supports when one way of raising
        took every case with a parameter on one side of all the others; else ''."""
        for key, raising in self._params_raising.items():
            others = [p for p, n in self._params.items() if n > raising[p]]
            if not others or sum(raising.values()) < 2:
                continue
            if max(raising) < min(others):
                below, above = f"<= {max(raising):g}", f">= {min(others):g}"
                flag = f"--param-min {min(others):g}"
            elif min(raising) > max(others):
                below, above = f">= {min(raising):g}", f"<= {max(others):g}"
                flag = f"--param-max {max(others):g}"
            else:
                continue
            return (f"every case with a parameter {below} {key[:100]}, and no case with one "
                    f"{above} did: if it supports only some exponents, declare them ({flag}, or "
                    f"the bound it documents)")
        return ""

    def batching_hint(self, target) -> str:
        """A suggestion to declare ``--batched-only`` when every unbatched valid case (three
        or more) failed before judging and no batched one did; else ''."""
        unbatched, batched = self._by_batching[False], self._by_batching[True]
        if target.batched_only or unbatched[0] < 3 or unbatched[1] < unbatched[0] \
                or batched[0] == 0 or batched[1] > 0:
            return ""
        return (f"all {unbatched[0]} unbatched (C, *spatial) inputs failed before their values "
                f"could be judged, and no batched one did: if the target takes only batched "
                f"input, declare --batched-only")


def _before_judging(result) -> str | None:
    """How a valid case failed before its values could be judged, or None."""
    lead = primary(result.findings)
    if lead is not None and lead.category == "exception" and lead.phase == "crash":
        return None  # the process died or hung: not a matter of calling convention
    if lead is not None and lead.category == "exception":
        return "raised " + lead.message.partition(": ")[2][:160]
    if lead is not None and lead.category == "wrong-shape" and "dtype" not in lead.message:
        return "returned " + shape_pattern(result.case, result.output_shape)
    return None


def _log_of(results) -> FailureLog:
    log = FailureLog()
    for r in results:
        log.add(r)
    return log


def group_failures(results) -> list[Group]:
    """Groups of the failing results (``check.CaseResult``), in report order."""
    return _log_of(results).groups()


@dataclass
class ConventionProblem:
    """Almost every case failed the same way before its values could be judged."""

    what: str  # "raised TypeError: ..." or "returned one value per plane ..."
    cases: int
    total: int
    signature: str
    call: str
    hint: str = ""
    example: Case | None = None

    def message(self) -> str:
        lines = [f"calling convention: {self.cases} of {self.total} valid cases {self.what}.",
                 f"  the target's signature:  {self.signature}",
                 f"  ppverify called it as:   {self.call}"]
        if self.hint:
            lines.append(f"  {self.hint}")
        lines.append("  (no value was judged: with a wrong calling convention they mean "
                     "nothing; error inputs are not counted as passed either)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"what": self.what, "cases": self.cases, "total": self.total,
                "signature": self.signature, "call": self.call, "hint": self.hint,
                "message": self.message()}


def convention_problem(results, target) -> ConventionProblem | None:
    """A ``ConventionProblem`` when 80% or more of the valid cases fail before their values can
    be judged: an exception or a wrong output shape (module doc)."""
    return _log_of(results).convention(target)


def _hint(what: str, target) -> str:
    sig = target.signature or ""
    if target.pooling == "windowed" and "kernel_size" not in sig and (
            "global" in what or "per plane" in what or "kernel" not in sig):
        if "output_size" in sig:
            return "it takes output_size: is it adaptive pooling? try --pooling adaptive"
        return "it takes no kernel_size: is it global pooling? try --pooling global"
    if target.form == "module":
        return "check the constructor arguments (module:Class(arg=value)) and --param-attr"
    if target.passes_param and "shape" in what and target.param_shape is None:
        return ("if its parameter is not a 0-d (or, --per-channel, a (C,)) tensor, declare "
                "the shape it takes, e.g. --param-shape broadcast for (1, C, 1, 1); else "
                "check the order of its arguments against the call above")
    return "check the order of its arguments against the call above (see --help for --op)"


def _flat_hint(what: str, target) -> str:
    if target.pooling != "global" or target.flat_output or "spatial axes dropped" not in what:
        return ""
    return ("it returns (N, C), one value per plane without the spatial axes: if that is its "
            "convention, declare --flat-output")


def category_counts(results) -> dict[str, int]:
    """Failing cases per category (a case counts once per category it fails)."""
    return _log_of(results).category_counts()
