"""Checks for Section 3 of the supplement (Tables 1 and 2), in exact rational arithmetic."""

from __future__ import annotations

from fractions import Fraction

from .model import PROVED, REFUTED, Outcome
from .proof import Proof, checked
from .tables import HALF_ULP, HEADER, TABLES, parse, round_half_even_tenth


def mean_findings(number: int) -> tuple[list[str], list[str]]:
    """Per row: does the printed mean equal the mean of the 21 printed classes, rounded?"""
    _, text = TABLES[number]
    good, bad = [], []
    for row in parse(text):
        mean = sum(row.classes, Fraction(0)) / 21
        line = f"{row.method.split(' ')[0]}: mean of the classes {float(mean):.4f}, printed " \
               f"{float(row.mean):.1f}"
        (good if round_half_even_tenth(mean) == row.mean else bad).append(line)
    return good, bad


def bold_findings(number: int) -> tuple[list[str], list[str], list[tuple[Fraction, str]]]:
    """Per column: is the bold cell the strict maximum? Returns (good, bad, margins)."""
    _, text = TABLES[number]
    rows = parse(text)
    good, bad, margins = [], [], []
    for c, name in enumerate(HEADER):
        col = sorted(((r.values[c], r.method.split(" ")[0], r.bold[c]) for r in rows),
                     reverse=True)
        bold = [x for x in col if x[2]]
        top, second = col[0], col[1]
        margin = top[0] - second[0]
        margins.append((margin, name))
        if len(bold) == 1 and bold[0] is top and margin > 0:
            good.append(f"{name}: {top[1]} {float(top[0]):.1f} by {float(margin):.1f}")
        else:
            bad.append(f"{name}: bold {[b[1] for b in bold]}, max {top[1]} {float(top[0]):.1f}")
    return good, bad, margins


def _means(pf: Proof, number: int) -> Outcome:
    good, bad = mean_findings(number)
    for line in good + bad:
        pf.add(line, "exact", "Fraction arithmetic on the printed values")
    if bad:
        return pf.outcome(REFUTED, "exact rational arithmetic on the printed cells",
                          f"{len(bad)} of {len(good) + len(bad)} printed means are not the "
                          f"rounded mean of their classes: {bad[0]}",
                          {"table": number, "row": bad[0]})
    return pf.outcome(PROVED, "exact rational arithmetic on the printed cells (6 rows)",
                      f"Table {number}: every printed mean is the mean of its 21 printed class "
                      "values rounded to one decimal")


def _bold(pf: Proof, number: int) -> Outcome:
    good, bad, margins = bold_findings(number)
    for line in good + bad:
        pf.add(line, "exact", "Fraction comparison of the printed values")
    smallest = min(margins)
    if bad:
        return pf.outcome(REFUTED, "exact comparison of the printed cells",
                          f"{len(bad)} columns whose bold cell is not the strict maximum: {bad[0]}",
                          {"table": number, "column": bad[0]})
    pf.exact(smallest[0] >= 2 * HALF_ULP,
             f"the smallest margin, {float(smallest[0]):.1f} ({smallest[1]}), is at least one "
             "printed unit, so the order survives the rounding of the printed values")
    _, text = TABLES[number]
    rows = parse(text)
    ours = rows[-1]  # the P-pooling row
    carried = sum(1 for c in range(len(HEADER)) if all(ours.values[c] > r.values[c]
                                                         for r in rows[:-1]))
    return pf.outcome(PROVED, "exact comparison of the printed cells (22 columns)",
                      f"Table {number}: every bold cell is its column's strict maximum; P-pooling "
                      f"leads {carried} of 22 columns (Max leads car); margins from "
                      f"{float(smallest[0]):.1f} ({smallest[1]}) to "
                      f"{float(max(margins)[0]):.1f} ({max(margins)[1]})")


@checked
def table1_means(pf: Proof) -> Outcome:
    return _means(pf, 1)


@checked
def table2_means(pf: Proof) -> Outcome:
    return _means(pf, 2)


@checked
def table1_bold(pf: Proof) -> Outcome:
    return _bold(pf, 1)


@checked
def table2_bold(pf: Proof) -> Outcome:
    return _bold(pf, 2)
