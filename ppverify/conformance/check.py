"""``check(target, op, dims)``: run a target on generated cases and judge it against the oracle.

The result is a ``CheckReport`` (a value with fields, also ``to_dict()`` for ``--json``):
cases run, cases passed, per category the number of failing cases and the worst one, shrunk to
a minimal example with a paste-able reproducer, the tolerances used, and notes (such as "the
parameter gradient was not checked: the target takes a float"). ``conforms`` is True only when
no category failed.

A default run (``thorough=False``) covers each dimension asked for with ~100 valid cases plus
the error inputs and takes well under a minute; ``thorough=True`` runs ~5x more cases with
larger kernels and windows.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..oracle import CertificationError, OracleDomainError
from .cases import DTYPES, LAYOUTS, VALUE_KINDS, Case, error_cases, generate_cases
from .compare import CATEGORIES, CATEGORY_TITLES, Finding, judge, judge_error_case
from .expected import expected_for
from .reproducer import reproducer
from .runner import IsolatedRunner, run_case
from .shrink import shrink
from .targets import Target, resolve
from .tolerances import Tolerances


@dataclass
class CaseResult:
    case: Case
    findings: list[Finding]
    skipped: str | None = None


@dataclass
class CategorySummary:
    category: str
    failed_cases: int = 0
    worst: Finding | None = None
    worst_case: Case | None = None
    minimal_case: Case | None = None
    minimal_finding: Finding | None = None
    reproducer: str = ""
    by_kind: Counter = field(default_factory=Counter)  # failing cases per value kind
    by_dtype: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {
            "category": self.category, "title": CATEGORY_TITLES[self.category],
            "failed_cases": self.failed_cases,
            "by_kind": dict(self.by_kind), "by_dtype": dict(self.by_dtype),
            "worst": None if self.worst is None else self.worst.to_dict(),
            "worst_case": None if self.worst_case is None else self.worst_case.describe(),
            "minimal_case": None if self.minimal_case is None else self.minimal_case.to_dict(),
            "minimal_finding": None if self.minimal_finding is None
            else self.minimal_finding.to_dict(),
            "reproducer": self.reproducer,
        }


@dataclass
class CheckReport:
    target: str
    op: str
    dims: tuple[int, ...]
    tolerances: Tolerances
    cases_run: int = 0
    cases_passed: int = 0
    cases_skipped: int = 0
    error_cases_run: int = 0
    categories: dict[str, CategorySummary] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    results: list[CaseResult] = field(default_factory=list)

    @property
    def conforms(self) -> bool:
        return self.cases_run > 0 and not any(s.failed_cases for s in self.categories.values())

    @property
    def failed_categories(self) -> list[str]:
        return [c for c in CATEGORIES if self.categories[c].failed_cases]

    def to_dict(self) -> dict:
        return {
            "target": self.target, "op": self.op, "dims": list(self.dims),
            "conforms": self.conforms, "cases_run": self.cases_run,
            "cases_passed": self.cases_passed, "cases_skipped": self.cases_skipped,
            "error_cases_run": self.error_cases_run,
            "tolerances_ulp": self.tolerances.to_dict(),
            "categories": {c: s.to_dict() for c, s in self.categories.items()},
            "notes": self.notes, "elapsed_seconds": round(self.elapsed, 3),
        }


def evaluate(target: Target, case: Case, tol: Tolerances, runner=None) -> CaseResult:
    """Run and judge one case (valid or error input).

    ``runner(case) -> Outcome`` runs the target (default: in this process, ``run_case``; see
    ``runner.IsolatedRunner`` for a crash-proof worker process).
    """
    run = runner if runner is not None else (lambda c: run_case(target, c))
    if case.expect_error is not None:
        return CaseResult(case, judge_error_case(case, run(case)))
    try:
        expected = expected_for(case)
    except (OracleDomainError, CertificationError, ValueError) as err:
        return CaseResult(case, [], skipped=f"oracle: {err}")
    outcome = run(case)
    conv = target.convention
    findings = judge(case, outcome, expected, tol, conv.param_trainable)
    result = CaseResult(case, findings)
    result.param_mode = outcome.param_mode  # type: ignore[attr-defined]
    result.param_grad_missing = outcome.param_grad_missing  # type: ignore[attr-defined]
    return result


def signature(finding: Finding) -> tuple:
    """What makes two failures "the same way" while shrinking (against slipping to another bug):
    the category, the quantity, what the wrong number is (NaN, Inf, zero or another finite
    value) and, for exceptions, the exception's type."""
    got = finding.got
    if got is None:
        kind = None
    elif math.isnan(got):
        kind = "nan"
    elif math.isinf(got):
        kind = "inf"
    else:
        kind = "zero" if got == 0 else "finite"
    head = None
    if finding.category == "exception":  # "raised in forward: TypeError: ..."
        parts = finding.message.split(": ")
        head = parts[1] if len(parts) > 2 else parts[0]
    return finding.category, finding.quantity, kind, head


def _still_fails(target: Target, tol: Tolerances, category: str, runner=None,
                 like: Finding | None = None):
    want = None if like is None else signature(like)

    def predicate(case: Case) -> bool:
        result = evaluate(target, case, tol, runner)
        return any(f.category == category and (want is None or signature(f) == want)
                   for f in result.findings)

    return predicate


def check(target: str | Callable | Target, op: str, dims: int | Iterable[int] = 2, *,
          thorough: bool = False, seed: int = 0, tolerances: Tolerances | None = None,
          count: int | None = None, dtypes=DTYPES, kinds=VALUE_KINDS, layouts=LAYOUTS,
          params=None,
          include_errors: bool = True, shrink_failures: bool = True, isolate: bool = True,
          progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Check ``target`` (``"module:callable"``, a callable or a ``Target``) for ``op``.

    ``dims`` is one dimension or several (the target must then accept each, e.g. a generic
    function; ``{d}`` in a string target is replaced per dimension). ``count`` valid cases are
    generated per dimension (default 100, 500 with ``thorough``), restricted to ``dtypes``,
    value ``kinds``, memory ``layouts`` and parameter values ``params`` (for a target that only
    supports some alpha or p) if given. ``progress(done, total)`` is called after
    every case. With ``isolate`` (the default) the target runs in a forked worker process, so
    that a crash or a hang is reported as an exception on that case instead of ending the check.
    """
    start = time.monotonic()
    tol = tolerances or Tolerances()
    dims_list = (dims,) if isinstance(dims, (int, str)) else tuple(dims)
    if not dims_list or any(isinstance(d, bool) or d not in (1, 2, 3) for d in dims_list):
        raise ValueError(f"dims must be 1, 2 or 3 or a non-empty sequence of them, got {dims!r}")
    per_dim = count if count is not None else (500 if thorough else 100)
    if isinstance(per_dim, bool) or not isinstance(per_dim, int) or per_dim < 1:
        raise ValueError(f"count must be a positive integer, got {per_dim!r}")
    plans: list[tuple[Target, Case]] = []
    for d in dims_list:
        tgt = target if isinstance(target, Target) else resolve(target, op, d)
        cases = list(generate_cases(
            op, d, tgt.accepts, count=per_dim, seed=seed + d, dtypes=tuple(dtypes),
            kinds=tuple(kinds), layouts=tuple(layouts), max_kernel=5 if thorough else 4,
            max_windows=150 if thorough else 60, params=params))
        if include_errors:
            cases += error_cases(op, d, tgt.accepts, seed=seed)
        plans += [(tgt, c) for c in cases]
    name = plans[0][0].name if plans else str(target)
    report = CheckReport(name.replace(f"{dims_list[0]}d", "{d}d") if len(dims_list) > 1
                         else name, op, dims_list, tol)
    report.categories = {c: CategorySummary(c) for c in CATEGORIES}
    first_failure: dict[str, tuple[Target, CaseResult, Finding]] = {}
    param_modes: set[str] = set()
    runners: dict[int, IsolatedRunner] = {}

    def runner_for(tgt: Target):
        if not isolate:
            return None
        if id(tgt) not in runners:
            runners[id(tgt)] = IsolatedRunner(tgt)
        return runners[id(tgt)]

    try:
        param_unused = _run_all(report, plans, tol, runner_for, first_failure, param_modes,
                                progress)
        _summarise(report, plans, tol, runner_for, first_failure, param_modes, param_unused,
                   thorough, shrink_failures)
    finally:
        for r in runners.values():
            r.close()
    crashes = sum(r.crashes for r in runners.values())
    if crashes:
        report.notes.append(f"the target crashed the worker process {crashes} time(s)")
    for r in runners.values():
        report.notes += r.incidents[:5]
    report.elapsed = time.monotonic() - start
    return report


def _run_all(report, plans, tol, runner_for, first_failure, param_modes, progress) -> int:
    """Evaluate every case into ``report``; returns how many left the parameter gradless."""
    param_unused = 0
    for i, (tgt, case) in enumerate(plans):
        result = evaluate(tgt, case, tol, runner_for(tgt))
        report.results.append(result)
        if case.expect_error is not None:
            report.error_cases_run += 1
        elif result.skipped:
            report.cases_skipped += 1
        else:
            report.cases_run += 1
            param_modes.add(getattr(result, "param_mode", "none"))
            param_unused += bool(getattr(result, "param_grad_missing", False))
        if not result.findings and not result.skipped:
            report.cases_passed += 1
        for f in result.findings:
            summary = report.categories[f.category]
            summary.failed_cases += 1
            summary.by_kind[case.kind.split(",")[0]] += 1
            summary.by_dtype[case.dtype] += 1
            if summary.worst is None or f.severity > summary.worst.severity:
                summary.worst, summary.worst_case = f, case
                first_failure[f.category] = (tgt, result, f)
        if progress is not None:
            progress(i + 1, len(plans))
    return param_unused


def _summarise(report, plans, tol, runner_for, first_failure, param_modes, param_unused,
               thorough, shrink_failures):
    """Notes, and per failing category the minimal case and its reproducer."""
    conv = plans[0][0].convention if plans else None
    if conv is not None and conv.has_param and not conv.param_trainable:
        if "float" in param_modes:
            report.notes.append(f"parameter gradient not checked: the target takes "
                                f"{conv.op}'s parameter as a Python number only")
        elif param_unused:
            report.notes.append("parameter gradient not checked: the parameter tensor "
                                "receives no gradient (not required for this operator)")
    if report.cases_skipped:
        report.notes.append(f"{report.cases_skipped} generated cases skipped: outside the "
                            f"oracle's domain or not certifiable")
    for category, (tgt, result, finding) in first_failure.items():
        summary = report.categories[category]
        minimal = result.case
        if shrink_failures and result.case.expect_error is None:
            budget = 10.0 if thorough else 4.0
            minimal = shrink(result.case,
                             _still_fails(tgt, tol, category, runner_for(tgt), finding),
                             index=finding.index, time_budget=budget)
        final = evaluate(tgt, minimal, tol, runner_for(tgt))
        summary.minimal_case = minimal
        summary.minimal_finding = next(
            (f for f in final.findings if signature(f) == signature(finding)),
            next((f for f in final.findings if f.category == category), finding))
        summary.reproducer = reproducer(tgt.name, minimal)


def format_ulp(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:.3g}" if v < 1e6 else f"{v:.2e}"
