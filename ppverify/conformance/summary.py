"""The checker's report for people: tolerances, counts, the failures grouped by cause (ordinary
values first) with a minimal reproducer each, or the one calling-convention diagnosis. The CLI,
the pytest plugin and the vectors scoring print this; ``--json`` carries the same record."""

from __future__ import annotations

from .tolerances import DTYPES, QUANTITIES

DETAILED_GROUPS = 6  # groups printed in full (worst, minimal case, reproducer); all are in JSON
LISTED_GROUPS = 40  # groups listed in the table; all are in JSON


def format_tolerances(tol) -> list[str]:
    lines = ["tolerances (ULP of the error scale)" + "".join(f"{d:>10}" for d in DTYPES)]
    for q in QUANTITIES:
        lines.append(f"  {q:<33}" + "".join(f"{tol.get(q, d):>10g}" for d in DTYPES))
    changed = tol.changed()
    if changed:
        lines.append("  overridden: " + ", ".join(changed))
    return lines


def _ulp(v) -> str:
    from .driver import format_ulp

    return format_ulp(v)


def _abs(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}"


def format_groups(groups, detailed: int = DETAILED_GROUPS, heading: str = "") -> list[str]:
    """The table of groups and the detail (worst, minimal case, reproducer) of the first few."""
    if not groups:
        return []
    total = sum(g.count for g in groups)
    out = [heading or f"failures by cause: {len(groups)} group(s), {total} failing case(s), "
           f"ordinary values first", ""]
    out += _overview(groups)
    out.append(f"  {'#':>3}  {'cases':>5}  {'worst ULP':>10}  {'abs error':>10}  group")
    for i, g in enumerate(groups[:LISTED_GROUPS], 1):
        ulp = _ulp(g.worst.ulp) if g.worst is not None and g.worst.ulp is not None else "-"
        out.append(f"  {i:>3}  {g.count:>5}  {ulp:>10}  {_abs(g.worst_abs):>10}  "
                   f"{g.signature.title()}")
    if len(groups) > LISTED_GROUPS:
        out.append(f"  ... {len(groups) - LISTED_GROUPS} more group(s) in --json")
    for i, g in enumerate(groups[:detailed], 1):
        out.append("")
        out.append(f"== group {i}: {g.signature.title()}: {g.count} case(s)")
        out.append(f"worst:   {g.worst.message}")
        out.append(f"   in:   {g.worst_case.describe()}")
        if g.also:
            out.append("also:    " + ", ".join(f"{k} ({n})" for k, n in g.also.most_common()))
        if g.minimal_case is not None:
            label = "minimal:" if g.shrunk else "case:   "
            out.append(f"{label} {g.minimal_finding.message}")
            out.append(f"   in:   {g.minimal_case.describe()}")
            if g.unshrunk_reason:
                out.append(f"   (not shrunk: {g.unshrunk_reason})")
        if g.reproducer:
            out.append("reproducer:")
            out += ["    " + line for line in g.reproducer.splitlines()]
    if len(groups) > detailed:
        out.append("")
        out.append(f"groups {detailed + 1}-{len(groups)}: worst case, minimal case and "
                   f"reproducer in --json")
    return out


def _overview(groups) -> list[str]:
    """One line per symptom (category, quantity, what the wrong number is) across the groups,
    with the value kinds, pooling features and dtypes it spans: where a cause shows itself
    (a ceil_mode defect is "pooling: ceil_mode, mixed" in every dtype and kind)."""
    from collections import Counter

    from .compare import CATEGORY_TITLES

    rows: dict[tuple, dict] = {}
    for g in groups:
        s = g.signature
        if s.category == "accepted-invalid":
            continue
        key = (s.category, s.quantity, s.symptom)
        row = rows.setdefault(key, {"cases": 0, "groups": 0, "kind": Counter(),
                                    "feature": Counter(), "dtype": Counter()})
        row["cases"] += g.count
        row["groups"] += 1
        for f in ("kind", "feature", "dtype"):
            row[f][getattr(s, f)] += g.count
    if len(rows) < 2 and len(groups) < 4:
        return []
    out = ["  by symptom:"]
    for (category, quantity, symptom), row in rows.items():
        what = CATEGORY_TITLES[category] + (f" in {quantity}" if quantity else "") + \
            (f" ({symptom})" if symptom else "")
        spans = "; ".join(", ".join(f"{k} {n}" for k, n in row[f].most_common(4))
                          for f in ("feature", "kind", "dtype"))
        out.append(f"    {row['cases']:>4} case(s), {row['groups']:>3} group(s): {what}")
        out.append(f"         {spans}")
    out.append("")
    return out


def _short(failure: str) -> str:
    """A failure of the target in a few words, for the verdict line."""
    return failure.split(" (")[0].split(": ")[0] if len(failure) > 60 else failure


def format_report(report, coverage: bool = False) -> str:
    """The whole text report of a ``CheckReport``."""
    from .coverage import format_coverage

    dims = ",".join(str(d) for d in report.dims)
    pooling = "" if report.pooling == "windowed" else f" --pooling {report.pooling}"
    out = [f"ppverify check {report.target} --op {report.op} --dim {dims}{pooling}", ""]
    out += format_tolerances(report.tolerances)
    out.append("")
    out.append(f"cases: {report.cases_run} valid run, {report.cases_passed} passed; "
               f"{report.error_cases_run} error inputs, {report.error_cases_passed} rejected "
               f"as they should be; {report.cases_skipped} skipped; {report.elapsed:.1f} s")
    for reason, n in report.skipped_reasons.most_common():
        out.append(f"  skipped {n}: {reason}")
    for d, table in report.coverage.items():
        if coverage:
            out += format_coverage(table, f" ({d}-D)")
        elif not table.complete:
            out.append(f"coverage ({d}-D): {len(table.missing)} required pair(s) of factor "
                       f"levels not covered (more --count, or --coverage for the table)")
    for note in report.notes:
        out.append(f"note: {note}")
    for failure in report.failures:
        out.append(f"FAILURE of the target: {failure}")
    out.append("")
    if report.convention is not None:
        out.append(report.convention.message())
        out.append("")
        out.append("DOES NOT CONFORM: calling convention")
        return "\n".join(out)
    out += format_groups(report.groups)
    out.append("")
    if report.conforms:
        out.append("CONFORMS")
    else:
        cats = []
        for g in report.groups:
            if g.signature.category not in cats:
                cats.append(g.signature.category)
        from .compare import CATEGORY_TITLES

        reasons = [CATEGORY_TITLES[c] for c in cats] + [_short(f) for f in report.failures]
        if not reasons and report.cases_run == 0:
            reasons = ["no valid case was run"]
        out.append("DOES NOT CONFORM: " + ", ".join(reasons))
    return "\n".join(out)
