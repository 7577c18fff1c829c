"""``check(target, op, dims)``: run a target on generated cases and judge it against the oracle.

The result is a ``CheckReport`` (a value with fields, also ``to_dict()`` for ``--json``):
cases run and passed, skipped cases with the reason, the coverage table of the cases run,
the failures grouped by cause (``diagnosis``: count, worst in ULP and absolute error, a minimal
case shrunk inside its group with a paste-able reproducer), or, when almost every case failed
alike, one calling-convention diagnosis instead; the tolerances used, and notes (such as "the
parameter gradient was not checked: the target takes a float"). ``conforms`` is True only when
nothing failed.

A default run (``thorough=False``) covers each dimension asked for with 100 valid cases (every
pair of factor levels, see ``coverage``) plus the error inputs and takes seconds;
``thorough=True`` runs 500 cases with larger kernels and windows. Cases are generated, run and
judged one at a time, and only what the diagnoses need is kept (``diagnosis.FailureLog``), so
the memory of a long run does not grow with its number of cases.

By default the target is imported, constructed and called only in a worker process
(``isolation``): this process computes the oracle's values and the verdict and never runs the
target's code, so nothing the target does can change them; a crash, a hang past the time
limit, an exit or a process left running is a named failure (``CheckReport.failures``, or an
exception on the case), never a pass.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ..oracle import CertificationError, OracleDomainError
from .cases import DTYPES, LAYOUTS, Case
from .compare import CATEGORIES, CATEGORY_TITLES, Finding, judge, judge_error_case
from .coverage import CoverageTable, tally_counts
from .diagnosis import ConventionProblem, FailureLog, Group, primary, signature_of
from .expected import expected_for, judged_under_other_ties, tie_conventions
from .generate import error_cases, iter_cases, make_plan
from .isolation import DEFAULT_TIMEOUT, TargetProcess, TargetStopped, WorkerFailure
from .reproducer import reproducer
from .runner import Outcome, run_prepared
from .shrink import shrink
from .targets import (
    TIE_TITLES,
    TIES,
    Target,
    get_convention,
    parse_param_shape,
    per_channel_hint,
)
from .tolerances import Tolerances
from .values import VALUE_KINDS, kind_holds
from .worker import IN_PROCESS_COMPILED_NOTE, RaisedRecompileLimits, TargetSource

MAX_KEPT_RESULTS = 2000  # failing results kept in CheckReport.results (the counts are exact)


@dataclass
class CaseResult:
    case: Case
    findings: list[Finding]
    skipped: str | None = None
    output_shape: tuple[int, ...] | None = None
    param_mode: str = "none"
    param_grad_missing: bool = False
    ties: str | None = None  # max/min: the tie convention under which it passed, if not first


@dataclass
class CategorySummary:
    """Failing cases of one category, and the first group filed under it (compatibility view
    of the groups, one line per category in the summary table)."""

    category: str
    failed_cases: int = 0
    worst: Finding | None = None
    worst_case: Case | None = None
    minimal_case: Case | None = None
    minimal_finding: Finding | None = None
    reproducer: str = ""

    def to_dict(self) -> dict:
        return {
            "category": self.category, "title": CATEGORY_TITLES[self.category],
            "failed_cases": self.failed_cases,
            "worst": None if self.worst is None else self.worst.to_dict(),
            "minimal_case": None if self.minimal_case is None else self.minimal_case.to_dict(),
        }


@dataclass
class CheckReport:
    target: str
    op: str
    dims: tuple[int, ...]
    tolerances: Tolerances
    pooling: str = "windowed"
    cases_run: int = 0
    cases_passed: int = 0
    cases_skipped: int = 0
    skipped_reasons: Counter = field(default_factory=Counter)
    error_cases_run: int = 0
    error_cases_passed: int = 0
    groups: list[Group] = field(default_factory=list)
    convention: ConventionProblem | None = None
    coverage: dict[int, CoverageTable] = field(default_factory=dict)
    categories: dict[str, CategorySummary] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # of the target as a whole (isolation)
    elapsed: float = 0.0
    # the failing cases' results, at most MAX_KEPT_RESULTS (passing cases are counted, not kept)
    results: list[CaseResult] = field(default_factory=list)
    param_modes: Counter = field(default_factory=Counter)
    param_grads_missing: int = 0
    tie_conventions: Counter = field(default_factory=Counter)  # cases passed per other one

    @property
    def conforms(self) -> bool:
        return (self.cases_run > 0 and not self.groups and self.convention is None
                and not self.failures)

    @property
    def failed_categories(self) -> list[str]:
        return [c for c in CATEGORIES if self.categories[c].failed_cases]

    def to_dict(self) -> dict:
        return {
            "target": self.target, "op": self.op, "dims": list(self.dims),
            "pooling": self.pooling, "conforms": self.conforms,
            "cases_run": self.cases_run, "cases_passed": self.cases_passed,
            "cases_skipped": self.cases_skipped, "skipped_reasons": dict(self.skipped_reasons),
            "error_cases_run": self.error_cases_run,
            "error_cases_passed": self.error_cases_passed,
            "tolerances_ulp": self.tolerances.to_dict(),
            "tolerance_overrides": self.tolerances.changed(),
            "convention": None if self.convention is None else self.convention.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
            "categories": {c: s.to_dict() for c, s in self.categories.items()},
            "coverage": {str(d): t.to_dict() for d, t in self.coverage.items()},
            "notes": self.notes, "failures": self.failures,
            "tie_conventions": dict(self.tie_conventions),
            "elapsed_seconds": round(self.elapsed, 3),
        }


def evaluate(target: Target, case: Case, tol: Tolerances, runner=None) -> CaseResult:
    """Run and judge one case (valid or error input).

    ``runner(case) -> Outcome`` runs the target (default: in this process, ``run_prepared``;
    see ``isolation.TargetProcess`` for a worker process, whose ``submit`` lets the case run
    there while the oracle's values are computed here). A module with a declared parameter
    map runs first and is judged at the parameter its map gave (``Outcome.prepared``, which
    updates ``case``); other cases ask the oracle first and do not run what it cannot judge.
    """
    run = runner if runner is not None else (lambda c: run_here(target, c))
    if case.expect_error is not None:
        return CaseResult(case, judge_error_case(case, run(case)))
    outcome = None
    if target.has_param_map and case.param is not None and case.param_raw is None:
        outcome = run(case)
        problem = _apply_preparation(case, outcome)
        if problem is not None:
            return CaseResult(case, [Finding("exception", problem)])
    # a worker runs the case while this process asks the oracle (runner.submit)
    submit = getattr(runner, "submit", None)
    pending = submit(case) if outcome is None and submit is not None else None
    ties = tie_conventions(case, target.ties)
    try:
        expected = expected_for(case, ties=ties[0])
    except (OracleDomainError, CertificationError, ValueError) as err:
        if pending is not None:
            pending()  # collected, not judged
        return CaseResult(case, [], skipped=_skip_reason(err))
    if outcome is None:
        outcome = pending() if pending is not None else run(case)
    findings, passed_as = judged_under_other_ties(
        case, _judged(target, case, outcome, expected, tol), ties,
        lambda other: _judged(target, case, outcome, other, tol))
    return CaseResult(case, findings, None, outcome.output_shape, outcome.param_mode,
                      outcome.param_grad_missing, passed_as)


def _judged(target: Target, case: Case, outcome: Outcome, expected, tol: Tolerances):
    findings = judge(case, outcome, expected, tol, target.param_required, target.flat_output)
    if target.param_fixed:
        findings = [f for f in findings if f.quantity != "grad_param"]
    return findings


def run_here(target: Target, case: Case) -> Outcome:
    """Run the target in this process (``isolate=False``); its prints go to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        return run_prepared(target, case)


class _InProcess:
    """The runner of a check in this process (``isolate=False``): each case on its
    dimension's target (``run_here``), with dynamo's recompile limits raised until
    ``close()`` puts them back (``worker.RaisedRecompileLimits``)."""

    def __init__(self, targets: dict) -> None:
        self.targets = targets
        self.limits = RaisedRecompileLimits()
        self.compiled = False

    def __call__(self, case: Case) -> Outcome:
        self.compiled = self.limits.apply() or self.compiled
        return run_here(self.targets[case.dims], case)

    def close(self) -> None:
        self.limits.restore()


def _apply_preparation(case: Case, outcome: Outcome) -> str | None:
    """Take the parameter a declared map gave (reported by the worker) into ``case``; a
    message when it is not a finite number near the one asked for (a map cannot move it by
    more than the rounding of its raw value)."""
    if not outcome.prepared:
        return None
    case.notes += outcome.case_notes
    pairs = [(case.param, outcome.case_param)]
    if case.per_channel:
        got_all = outcome.case_channel_params or ()
        pairs = list(zip(case.channel_params, got_all)) if len(got_all) == len(
            case.channel_params) else [(case.param, None)]
    for asked, got in pairs:
        if got is None or not math.isfinite(got) or abs(got - asked) > 0.5 * abs(asked) + 1.0:
            return (f"raised in setting the parameter: the declared map gives {got!r} for "
                    f"the parameter {asked!r}")
    case.param, case.param_raw = outcome.case_param, outcome.case_param_raw
    if case.per_channel:
        case.channel_params = outcome.case_channel_params
        case.channel_params_raw = outcome.case_channel_params_raw
    return None


def _skip_reason(err: Exception) -> str:
    text = str(err).split(" [")[0]
    if isinstance(err, CertificationError):
        return "the oracle could not certify a result (a value on a rounding boundary)"
    return f"outside the oracle's domain: {text}"


def _check_param_shape(text: str, target: Target) -> None:
    """``param_shape`` is for a function target that is given its parameter as a tensor."""
    if target.form == "module":
        raise ValueError(f"--param-shape {text!r} is for function targets: a module's "
                         f"parameter keeps the shape of its attribute {target.param_attr!r} "
                         f"(with --per-channel it is given one value per channel in place)")
    if not target.passes_param:
        raise ValueError(f"--param-shape {text!r}: the target is given no parameter (op "
                         f"{target.op!r}, or a fixed one)")


def check(target: str | Callable | Target, op: str, dims: int | Iterable[int] = 2, *,
          thorough: bool = False, seed: int = 0, tolerances: Tolerances | None = None,
          count: int | None = None, dtypes=DTYPES, kinds=VALUE_KINDS, layouts=LAYOUTS,
          params=None, pooling: str = "windowed", input_min: float | None = None,
          param_range=None, param_attr: str | None = None, param_map=None,
          param_fixed: bool = False, batched_only: bool = False, flat_output: bool = False,
          per_channel: bool = False, forward_only: bool = False, ties: str = "any",
          param_shape: str | None = None, include_errors: bool = True,
          shrink_failures: bool = True, shrink_seconds: float | None = None,
          isolate: bool = True, timeout: float = DEFAULT_TIMEOUT,
          progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Check ``target`` for ``op`` (see ``targets`` for the forms a target may take).

    ``dims`` is one dimension or several (``{d}`` in a string target is replaced per
    dimension). ``count`` valid cases are generated per dimension (default 100, 500 with
    ``thorough``), restricted to ``dtypes``, value ``kinds``, memory ``layouts`` and parameter
    values ``params`` if given. ``pooling`` is ``windowed``, ``adaptive`` or ``global``.
    ``input_min`` declares that the target clamps its input below that value (the oracle then
    evaluates the clamped operator); ``param_range=(low, high)`` that it supports only those
    parameters. ``param_attr``, ``param_map`` and ``param_fixed`` describe an ``nn.Module``
    target's parameter (see ``targets``). ``batched_only`` declares that the target takes only
    batched input (no unbatched case is run); ``flat_output`` (global pooling only) that it
    returns one value per plane with the spatial axes dropped, ``(N, C)``; ``per_channel`` that
    its exponent has one value per channel (each case draws one per channel from the pool of
    its parameter class; a function gets a tensor of shape ``(C,)``, a module's attribute is
    given ``C`` values, see ``runner.store_channel_params``); ``param_shape`` (a function
    target) the shape its parameter tensor is given instead: ``"1,C,1,1"`` (1s and at most one
    ``C``, the channel count) or ``"broadcast"`` (``(1, C, 1, ...)``, one 1 per spatial axis),
    with or without ``per_channel`` (without it the case's one exponent fills every entry and
    the entries' gradients are added); ``forward_only`` that it has
    no backward (an inference engine, an exported program): only its outputs are computed and
    judged (the oracle computes no gradient either). ``ties`` (max and
    min) is the tie convention the target may follow: ``"any"`` (default: torch's max_pool's,
    the even split of ``torch.amax`` or the last element; the report counts the cases passed
    under each other than torch's), or one of ``"first"``, ``"split"``, ``"last"``. Failing
    groups are shrunk for at most ``shrink_seconds`` in all (default 10, 30 with ``thorough``),
    in report order. ``progress(done, total)`` is called after every case.

    With ``isolate`` (the default) the target is imported (a ``"module:callable"`` string),
    constructed and called only in a worker process (``isolation``), ``timeout`` seconds per
    case (five times that to import it and for its first call); a crash, a hang or an exit is
    reported, never a pass. ``isolate=False`` runs it in this process (faster to start; for
    trusted code). Raises ``ValueError`` for bad arguments and a target that cannot be
    resolved (no such module or attribute, no parameter found).
    """
    start = time.monotonic()
    tol = tolerances or Tolerances()
    get_convention(op)  # ValueError naming an unknown op
    dims_list = (dims,) if isinstance(dims, (int, str)) else tuple(dims)
    if not dims_list or any(isinstance(d, bool) or d not in (1, 2, 3) for d in dims_list):
        raise ValueError(f"dims must be 1, 2 or 3 or a non-empty sequence of them, got {dims!r}")
    dims_list = tuple(dict.fromkeys(dims_list))
    per_dim = count if count is not None else (500 if thorough else 100)
    if isinstance(per_dim, bool) or not isinstance(per_dim, int) or per_dim < 1:
        raise ValueError(f"count must be a positive integer, got {per_dim!r}")
    if input_min is not None and not (isinstance(input_min, (int, float))
                                      and math.isfinite(input_min)):
        raise ValueError(f"input_min must be a finite number, got {input_min!r}")
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")
    shape_spec = parse_param_shape(param_shape)  # ValueError naming the bad token
    if flat_output and pooling != "global":
        raise ValueError(f"flat_output (--flat-output) is for global pooling, where one value "
                         f"per plane is (N, C) with the spatial axes dropped; pooling is "
                         f"{pooling!r}")
    # every selection is checked before a process starts (the plan is made again per target)
    from .generate import selection

    dtypes, layouts = selection("dtypes", dtypes, DTYPES), selection("layouts", layouts, LAYOUTS)
    kinds = selection("kinds", kinds, VALUE_KINDS)
    make_plan(op, pooling, frozenset(), dtypes=dtypes, kinds=kinds, layouts=layouts,
              params=params, param_range=param_range, input_min=input_min,
              batched_only=batched_only, per_channel=per_channel)
    source = TargetSource(target, op, dims_list, pooling, param_attr, param_map, param_fixed,
                          None if params is None else tuple(params), param_shape=shape_spec,
                          sys_path=list(sys.path), cwd=os.getcwd(), env=dict(os.environ))
    report = CheckReport(_spec_name(target), op, dims_list, tol, pooling)
    process = TargetProcess(source, timeout=timeout) if isolate else None
    in_process = None
    try:
        if process is not None:
            try:
                targets = process.start()
            except WorkerFailure as err:
                report.failures.append(str(err))
                return report
            run = process
        else:
            targets = source.resolve()
        targets = {d: replace(t, batched_only=bool(batched_only), flat_output=bool(flat_output),
                              per_channel=bool(per_channel), ties=ties, param_shape=shape_spec)
                   for d, t in targets.items()}
        if shape_spec is not None:
            _check_param_shape(param_shape, next(iter(targets.values())))
        if process is None:
            run = in_process = _InProcess(targets)
        streams, factors, total = _case_streams(
            targets, op, per_dim, thorough=thorough, seed=seed, dtypes=dtypes, kinds=kinds,
            layouts=layouts, params=params, param_range=param_range, pooling=pooling,
            input_min=input_min, include_errors=include_errors)
        if forward_only:
            streams = [(d, map(_forward_only, cases)) for d, cases in streams]
        report.target = targets[dims_list[-1]].name
        report.notes += list(dict.fromkeys(n for t in targets.values() for n in t.notes))
        report.notes += list(dict.fromkeys(filter(None, map(per_channel_hint,
                                                            targets.values()))))
        if len(dims_list) > 1:
            report.target = report.target.replace(f"{dims_list[-1]}d", "{d}d")
        log = FailureLog()
        labels = {d: Counter() for d in dims_list}
        try:
            _run_all(report, targets, streams, tol, run, progress, total, log, labels)
        except TargetStopped as err:
            report.failures.append(f"stopped: {err}")
        for d in dims_list:
            report.coverage[d] = tally_counts(labels[d], factors[d])
        budget = shrink_seconds if shrink_seconds is not None else (30.0 if thorough else 10.0)
        _diagnose(report, targets, log, tol, run, budget if shrink_failures else 0.0)
    finally:
        if in_process is not None:
            in_process.close()
            if in_process.compiled:
                report.notes.append(IN_PROCESS_COMPILED_NOTE)
        if process is not None:
            process.close()
            report.failures += process.failures
            if process.crashes:
                report.notes.append(f"the target crashed or was killed in the worker process "
                                    f"{process.crashes} time(s)")
            report.notes += process.incidents[:5]
        report.elapsed = time.monotonic() - start
    if forward_only:
        report.notes.append(
            "declared: forward only: the target's outputs were judged; no gradient was "
            "computed or judged (a conforming forward says nothing of a backward)")
    if per_channel:
        report.notes.append(
            "declared: one exponent per channel: each case's channels have their own, drawn "
            "from its parameter class, and the parameter gradient is judged per channel")
    if input_min is not None:
        report.notes.append(
            f"declared domain: the target clamps its input below {input_min:g}; the oracle "
            f"evaluated the clamped operator (max(x, {input_min:g}), zero gradient below it), "
            f"and negative inputs are not error inputs")
    for convention, n in report.tie_conventions.items():
        report.notes.append(
            f"ties: {n} case(s) passed with the derivative at a tie {TIE_TITLES[convention]}: "
            f"as valid a subgradient as the oracle's default (all given to the first tied "
            f"element, torch's max_pool); --ties first requires torch's")
    if ties not in ("any", "first"):
        report.notes.append(f"declared: at a tie the target gives the derivative "
                            f"{TIE_TITLES[ties]}; the oracle followed it")
    if batched_only:
        report.notes.append("declared: the target takes only batched input (N, C, *spatial); "
                            "no unbatched case was run")
    if flat_output:
        report.notes.append("declared: the target returns one value per plane with the spatial "
                            "axes dropped, (N, C); such outputs were judged as (N, C, 1, ...)")
    report.elapsed = time.monotonic() - start
    return report


def _spec_name(target) -> str:
    if isinstance(target, str):
        return target
    if isinstance(target, Target):
        return target.name
    return f"{getattr(target, '__module__', '?')}:" \
        f"{getattr(target, '__qualname__', type(target).__name__)}"


def _case_streams(targets: dict[int, Target], op, per_dim, *, thorough, seed, dtypes, kinds,
                  layouts, params, param_range, pooling, input_min, include_errors):
    """Per dimension: the target's plan (its factors) and its cases as an iterator (valid
    cases generated as they are taken, then the error inputs); and the number of cases."""
    streams, factors, total = [], {}, 0
    for d, tgt in targets.items():
        run_params, run_range = params, param_range
        if tgt.fixed_value is not None:
            run_params = (tgt.fixed_value,)
        if tgt.has_param_map:
            run_range = _map_range(tgt, param_range)
        plan = make_plan(op, tgt.pooling, tgt.accepts, dtypes=tuple(dtypes), kinds=tuple(kinds),
                         layouts=tuple(layouts), params=run_params, param_range=run_range,
                         input_min=input_min, batched_only=tgt.batched_only,
                         per_channel=tgt.per_channel)
        factors[d] = plan.factors
        valid = iter_cases(op, d, tgt.accepts, count=per_dim, seed=seed,
                           max_kernel=5 if thorough else 4,
                           max_windows=150 if thorough else 60, pooling=tgt.pooling,
                           input_min=input_min, plan=plan)
        errors = error_cases(op, d, tgt.accepts, seed=seed, pooling=tgt.pooling,
                             input_min=input_min, params=run_params,
                             param_range=run_range) if include_errors else []
        streams.append((d, itertools.chain(valid, errors)))
        total += per_dim + len(errors)
    return streams, factors, total


def _forward_only(case: Case) -> Case:
    case.gradients = False
    return case


def _map_range(tgt: Target, param_range):
    low, high = tgt.param_map_range
    low, high = math.nextafter(low, math.inf), math.nextafter(high, -math.inf)
    if param_range is not None:
        low, high = max(low, float(param_range[0])), min(high, float(param_range[1]))
    return low, high


def _run_all(report: CheckReport, targets, streams, tol, run, progress, total, log,
             labels) -> None:
    done = 0
    for d, cases in streams:
        tgt = targets[d]
        for case in cases:
            result = evaluate(tgt, case, tol, run)
            log.add(result)
            if result.findings and len(report.results) < MAX_KEPT_RESULTS:
                report.results.append(result)
            if case.expect_error is not None:
                report.error_cases_run += 1
                report.error_cases_passed += not result.findings
            elif result.skipped:
                report.cases_skipped += 1
                report.skipped_reasons[result.skipped] += 1
            else:
                report.cases_run += 1
                report.cases_passed += not result.findings
                labels[d][tuple(case.labels().items())] += 1
                report.param_modes[result.param_mode] += 1
                report.param_grads_missing += result.param_grad_missing
                if result.ties is not None:
                    report.tie_conventions[result.ties] += 1
            done += 1
            if progress is not None:
                progress(done, total)


def _diagnose(report: CheckReport, targets, log: FailureLog, tol, run, budget: float) -> None:
    """Convention problem or groups; notes; minimal cases and reproducers."""
    tgt = next(iter(targets.values()))
    report.categories = {c: CategorySummary(c) for c in CATEGORIES}
    for c, n in log.category_counts().items():
        report.categories[c].failed_cases = n
    report.convention = log.convention(tgt)
    if report.convention is not None:
        report.error_cases_passed = 0
        report.cases_passed = 0  # nothing was judged: the values mean nothing
        return
    report.notes += [hint for hint in (log.batching_hint(tgt), log.param_range_hint()) if hint]
    _parameter_notes(report, tgt)
    report.groups = log.groups()
    deadline = time.monotonic() + budget
    for group in report.groups:
        case = group.worst_case
        target = targets.get(case.dims, tgt)
        minimal = case
        left = deadline - time.monotonic()
        try:
            if case.expect_error is None and left > 0.5:
                minimal = shrink(case, _same_group(target, tol, run, group),
                                 index=group.worst.index, time_budget=min(4.0, left))
                group.shrunk = True
            elif case.expect_error is None:
                group.unshrunk_reason = ("shrinking is off (--no-shrink)" if budget <= 0 else
                                         "the shrinking time was spent on earlier groups")
            final = evaluate(target, minimal, tol, run)
            lead = primary(final.findings)
        except TargetStopped:  # the target is no longer run: the worst case stands for it
            minimal, lead = case, None
            group.shrunk = False
            group.unshrunk_reason = "the checker stopped running the target"
        group.minimal_case = minimal
        group.minimal_finding = lead if lead is not None else group.worst
        group.reproducer = reproducer(target, minimal)
    for group in report.groups:
        summary = report.categories[group.signature.category]
        if summary.worst is None or group.worst.severity > summary.worst.severity:
            summary.worst, summary.worst_case = group.worst, group.worst_case
        if summary.minimal_case is None:
            summary.minimal_case = group.minimal_case
            summary.minimal_finding = group.minimal_finding
            summary.reproducer = group.reproducer


def _same_group(target: Target, tol: Tolerances, runner, group: Group):
    """Shrinking predicate: the candidate's primary failure has the group's signature (so the
    minimal case fails in the same group, not with another bug), its values keep their kind."""
    want = group.signature

    def predicate(case: Case) -> bool:
        if not kind_holds(case.kind, case.input, case.dtype):
            return False
        result = evaluate(target, case, tol, runner)
        lead = primary(result.findings)
        return lead is not None and signature_of(case, lead, result.output_shape) == want

    return predicate


def _parameter_notes(report: CheckReport, tgt: Target) -> None:
    conv = tgt.convention
    if not conv.has_param:
        return
    modes = set(report.param_modes)
    unused = report.param_grads_missing
    if tgt.param_fixed:
        why = {"number": f"{tgt.param_attr} is a plain number", "ctor": "it is a constructor "
               "argument", "fixed": "its value is fixed"}.get(tgt.param_kind, "--param-fixed")
        report.notes.append(f"parameter gradient not checked: the parameter is fixed ({why})")
    elif "float" in modes and not conv.param_trainable:
        report.notes.append(f"parameter gradient not checked: the target takes {conv.op}'s "
                            f"parameter as a Python number only")
    elif unused and not conv.param_trainable:
        report.notes.append("parameter gradient not checked: the parameter tensor receives no "
                            "gradient (not required for this operator)")
    if tgt.has_param_map:
        report.notes.append(f"the module stores its parameter as v with p = "
                            f"{tgt.param_map_text}: cases set v, are judged at the p it gives "
                            f"in their dtype, and dy/dp = v.grad / (dp/dv)")
    if tgt.fixed_value is not None:
        report.notes.append(f"every case uses the target's fixed parameter {tgt.fixed_value:g}")


def format_ulp(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:.3g}" if v < 1e6 else f"{v:.2e}"
