"""Which combinations a run covers: the factors of a case, the covering array that plans a run,
and the table of covered pairs.

Six factors describe what a case exercises (``cases.Case.labels``): ``dtype``, value ``kind``,
parameter class ``param`` (ordinary / negative / huge, or none), pooling ``feature`` (plain,
stride, padding, dilation, ceil_mode, mixed; divisible / overlapping / upsampling for adaptive
pooling; global), memory ``layout`` and ``batched``. Their levels depend on the operator, the
pooling mode, the arguments the target accepts and the user's selection (``factor_levels``).

A run is planned by a *pairwise covering array* (``plan_rows``): a list of factor-level rows in
which every pair of levels of every two factors occurs at least once, except the pairs outside
the operator's domain (``Factors.excluded``: a negative exponent with zeros, ``0**p`` infinite).
For the 11 value kinds x 6 features of a windowed target that is about 66 rows. One triple is
also required: every (dtype, value kind) pair with an *ordinary* parameter (a defect such as
``x**3`` overflowing float16 on ordinary activations needs all three at once, and must not
hide behind a huge parameter); the rows missing such a triple are added after the array
(about 20). The default 100 cases hold both and the start of a second array, generated with
another salt.
The arrays come from ``covertable`` (a maintained pairwise generator with constraints, seeded by
its ``salt``: ``--seed`` changes the rows as well as the values drawn for them).

``tally`` counts, over the cases actually run, how often each required pair occurred; the
labels are derived from the cases (not from the plan), so the table is evidence, not intent.
This module imports no torch.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

FACTORS = ("dtype", "kind", "param", "feature", "layout", "batched")
FACTOR_TITLES = {"dtype": "dtype", "kind": "values", "param": "parameter", "feature": "pooling",
                 "layout": "layout", "batched": "batch"}
ADAPTIVE_FEATURES = ("divisible", "overlapping", "upsampling")


@dataclass(frozen=True)
class Factors:
    """Levels of each factor for one run, and the pairs left out (with the reason)."""

    levels: dict[str, tuple[str, ...]]
    excluded: dict[tuple[tuple[str, str], tuple[str, str]], str] = field(default_factory=dict)

    def required_pairs(self) -> list[tuple[tuple[str, str], tuple[str, str]]]:
        pairs = []
        for f1, f2 in itertools.combinations(FACTORS, 2):
            for a in self.levels[f1]:
                for b in self.levels[f2]:
                    key = ((f1, a), (f2, b))
                    if key not in self.excluded:
                        pairs.append(key)
        return pairs

    @property
    def base_param(self) -> str | None:
        """The parameter class every (dtype, value kind) pair must also meet: ``ordinary``."""
        levels = self.levels["param"]
        return "ordinary" if "ordinary" in levels and len(levels) > 1 else None

    def required_triples(self) -> list[tuple[tuple[str, str], ...]]:
        """(dtype, kind, ordinary parameter) for every dtype and kind (see the module doc)."""
        base = self.base_param
        if base is None:
            return []
        return [(("dtype", d), ("kind", k), ("param", base))
                for d in self.levels["dtype"] for k in self.levels["kind"]
                if (("kind", k), ("param", base)) not in self.excluded]

    def allows(self, row: dict) -> bool:
        return not any(row.get(f1) == a and row.get(f2) == b
                       for (f1, a), (f2, b) in self.excluded)


def feature_levels(pooling: str, accepts) -> tuple[str, ...]:
    """``plain``, each accepted windowed feature, and ``mixed`` when two or more are accepted."""
    if pooling == "global":
        return ("global",)
    if pooling == "adaptive":
        return ADAPTIVE_FEATURES
    from .cases import WINDOW_FEATURES

    features = [f for f in WINDOW_FEATURES if f in accepts]
    return ("plain", *features) + (("mixed",) if len(features) >= 2 else ())


def factor_levels(op: str, pooling: str, accepts, *, dtypes, kinds, layouts,
                  param_classes: tuple[str, ...], classes_without_zeros: tuple[str, ...] = (),
                  batched_only: bool = False) -> Factors:
    """The levels of every factor for one run (see the module doc); a parameter class in
    ``classes_without_zeros`` (every value negative, and zeros outside the domain) never meets
    the ``zeros`` value kind; ``batched_only`` leaves ``batched`` one level."""
    levels = {
        "dtype": tuple(dtypes), "kind": tuple(kinds), "param": tuple(param_classes),
        "feature": feature_levels(pooling, accepts), "layout": tuple(layouts),
        "batched": ("batched",) if batched_only else ("batched", "unbatched"),
    }
    excluded = {}
    for c in classes_without_zeros:
        if c in param_classes and "zeros" in kinds:
            excluded[(("kind", "zeros"), ("param", c))] = \
                "a zero with a negative exponent is outside the domain (0**p is infinite)"
    return Factors(levels, excluded)


def plan_rows(factors: Factors, count: int, seed: int) -> list[dict]:
    """``count`` factor-level rows: whole covering arrays one after another (new salt each)."""
    return list(itertools.islice(iter_plan_rows(factors, seed), count))


def iter_plan_rows(factors: Factors, seed: int):
    """The rows of ``plan_rows`` one at a time, without end (or none when no row is allowed):
    a covering array is made only when the previous one is used up."""
    from covertable import make

    constraints = [_not_both(a, b) for a, b in factors.excluded]
    seen: list[dict] = []
    salt = 0
    while True:
        if salt == 1 and seen is not None:
            yield from _triple_rows(factors, seen)
            seen = None  # the first array's rows are no longer needed
        array = make(dict(factors.levels), salt=f"ppverify-{seed}-{salt}",
                     constraints=constraints or None)
        array = [{f: r[f] for f in FACTORS} for r in array if factors.allows(r)]
        if not array:  # pragma: no cover - every factor has a level
            return
        if seen is not None:
            seen += array
        yield from array
        salt += 1


def _triple_rows(factors: Factors, rows: list[dict]) -> list[dict]:
    """Rows for the required triples the covering array missed; other factors cycle."""
    have = {(r["dtype"], r["kind"], r["param"]) for r in rows}
    extra = []
    for (_, d), (_, k), (_, p) in factors.required_triples():
        if (d, k, p) in have:
            continue
        i = len(extra)
        row = {"dtype": d, "kind": k, "param": p}
        for f in ("feature", "layout", "batched"):
            levels = factors.levels[f]
            row[f] = levels[i % len(levels)]
        extra.append(row)
    return extra


def _not_both(a: tuple[str, str], b: tuple[str, str]) -> dict:
    return {"operator": "not", "condition": {"operator": "and", "conditions": [
        {"operator": "eq", "left": a[0], "value": a[1]},
        {"operator": "eq", "left": b[0], "value": b[1]}]}}


@dataclass
class CoverageTable:
    """How often each required pair of levels occurred in the cases run."""

    factors: Factors
    counts: Counter
    cases: int

    @property
    def missing(self) -> list[tuple]:
        return [p for p in self.factors.required_pairs() + self.factors.required_triples()
                if not self.counts[p]]

    @property
    def complete(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict:
        required = self.factors.required_pairs()
        triples = self.factors.required_triples()
        return {
            "factors": {f: list(v) for f, v in self.factors.levels.items()},
            "cases": self.cases, "pairs_required": len(required),
            "pairs_covered": sum(1 for p in required if self.counts[p]),
            "triples_required": len(triples),
            "triples_covered": sum(1 for t in triples if self.counts[t]),
            "missing": [" with ".join(f"{f}={v}" for f, v in key) for key in self.missing],
            "excluded": [f"{a[0]}={a[1]} with {b[0]}={b[1]}: {why}"
                         for (a, b), why in self.factors.excluded.items()],
        }


def tally(labels: list[dict], factors: Factors) -> CoverageTable:
    """Count the required pairs among the label dicts of the cases run."""
    return tally_counts(Counter(tuple(row[f] for f in FACTORS) for row in labels), factors)


def tally_counts(rows: Counter, factors: Factors) -> CoverageTable:
    """``tally`` from counted label rows: ``{(level of each of FACTORS, in order): cases}``
    (or ``{tuple(labels.items()): cases}``), so that a long run keeps one count per distinct
    row instead of one dict per case."""
    counts: Counter = Counter()
    for key, n in rows.items():
        row = dict(key) if key and isinstance(key[0], tuple) else dict(zip(FACTORS, key))
        for f1, f2 in itertools.combinations(FACTORS, 2):
            counts[((f1, row[f1]), (f2, row[f2]))] += n
        counts[(("dtype", row["dtype"]), ("kind", row["kind"]), ("param", row["param"]))] += n
    return CoverageTable(factors, counts, sum(rows.values()))


def format_coverage(table: CoverageTable, title: str = "") -> list[str]:
    """The coverage table for people: pairs per factor pair, and values x dtype in full."""
    f = table.factors
    required = f.required_pairs()
    covered = sum(1 for p in required if table.counts[p])
    lines = [f"coverage{title}: {covered} of {len(required)} required pairs of levels in "
             f"{table.cases} cases"]
    for f1, f2 in itertools.combinations(FACTORS, 2):
        need = [p for p in required if p[0][0] == f1 and p[1][0] == f2]
        have = [p for p in need if table.counts[p]]
        lines.append(f"  {FACTOR_TITLES[f1]} x {FACTOR_TITLES[f2]}:".ljust(26)
                     + f"{len(have):>4} of {len(need):<4}"
                     + ("" if len(have) == len(need) else "  MISSING: " + ", ".join(
                         f"{a[1]}/{b[1]}" for a, b in need if not table.counts[(a, b)])))
    triples = f.required_triples()
    if triples:
        have = [t for t in triples if table.counts[t]]
        lines.append("  dtype x values, ordinary parameter:".ljust(26) + f"{len(have):>4} of "
                     f"{len(triples):<4}" + ("" if len(have) == len(triples) else "  MISSING: "
                     + ", ".join(f"{t[0][1]}/{t[1][1]}" for t in triples if not table.counts[t])))
    dtypes = f.levels["dtype"]
    lines.append("  cases per value kind and dtype:")
    lines.append("    " + "".ljust(13) + "".join(f"{d:>10}" for d in dtypes))
    for kind in f.levels["kind"]:
        cells = "".join(f"{table.counts[(('dtype', d), ('kind', kind))]:>10}" for d in dtypes)
        lines.append(f"    {kind:<13}{cells}")
    lines.append("  cases per value kind and parameter / pooling feature:")
    cols = [("param", p) for p in f.levels["param"]] + \
        [("feature", x) for x in f.levels["feature"]]
    lines.append("    " + "".ljust(13) + "".join(f"{c[1][:10]:>11}" for c in cols))
    for kind in f.levels["kind"]:
        cells = []
        for col in cols:
            key = (("kind", kind), col)
            cells.append("n/a" if key in f.excluded else str(table.counts[key]))
        lines.append(f"    {kind:<13}" + "".join(f"{c:>11}" for c in cells))
    for (a, b), why in f.excluded.items():
        lines.append(f"  n/a: {a[1]} {FACTOR_TITLES[a[0]]} with {b[1]} "
                     f"{FACTOR_TITLES[b[0]]}: {why}")
    return lines
