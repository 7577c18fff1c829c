"""The checker's report for people: the tolerance table, the summary, the worst and minimal
failing case of each category with a paste-able reproducer. The CLI and the pytest plugin both
print this."""

from __future__ import annotations

from .tolerances import DTYPES, QUANTITIES


def format_tolerances(tol) -> list[str]:
    lines = ["tolerances (ULP)  " + "".join(f"{d:>10}" for d in DTYPES)]
    for q in QUANTITIES:
        lines.append(f"  {q:<16}" + "".join(f"{tol.get(q, d):>10g}" for d in DTYPES))
    return lines


def format_report(report) -> str:
    """The summary table and, per failing category, the worst and the minimal case."""
    from .check import format_ulp
    from .compare import CATEGORIES, CATEGORY_TITLES

    dims = ",".join(str(d) for d in report.dims)
    out = [f"ppverify check {report.target} --op {report.op} --dim {dims}", ""]
    out += format_tolerances(report.tolerances)
    out.append("")
    out.append(f"cases: {report.cases_run} valid + {report.error_cases_run} error inputs run, "
               f"{report.cases_passed} passed, {report.cases_skipped} skipped; "
               f"{report.elapsed:.1f} s")
    out.append("")
    out.append(f"  {'category':<42}{'result':<8}{'failing':>8}  worst")
    for c in CATEGORIES:
        s = report.categories[c]
        result = "FAIL" if s.failed_cases else "pass"
        worst = "" if s.worst is None else (
            f"{format_ulp(s.worst.ulp)} ULP" if s.worst.ulp is not None else "")
        out.append(f"  {CATEGORY_TITLES[c]:<42}{result:<8}{s.failed_cases:>8}  {worst}")
    for note in report.notes:
        out.append(f"note: {note}")
    for c in CATEGORIES:
        s = report.categories[c]
        if not s.failed_cases:
            continue
        out.append("")
        out.append(f"== {CATEGORY_TITLES[c]}: {s.failed_cases} failing case(s)")
        kinds = ", ".join(f"{k} {n}" for k, n in s.by_kind.most_common())
        dtypes = ", ".join(f"{k} {n}" for k, n in s.by_dtype.most_common())
        out.append(f"by values: {kinds}; by dtype: {dtypes}")
        out.append(f"worst:   {s.worst.message}")
        out.append(f"   in:   {s.worst_case.describe()}")
        if s.minimal_case is not None:
            out.append(f"minimal: {s.minimal_finding.message}")
            out.append(f"   in:   {s.minimal_case.describe()}")
            out.append("reproducer:")
            out += ["    " + line for line in s.reproducer.splitlines()]
    out.append("")
    verdict = "CONFORMS" if report.conforms else (
        "DOES NOT CONFORM: " + ", ".join(CATEGORY_TITLES[c] for c in report.failed_categories))
    out.append(verdict)
    return "\n".join(out)
