"""The oracle as the second, numerical witness of every symbolic verdict.

A witness evaluates the claim's mathematical statement with the oracle
(``ppverify.oracle.operators``: rigorous python-flint balls or exact ``Fraction``s) at sampled
and adversarial points (ties, zeros, huge alpha, wide dynamic range). A predicate returns
``True`` (consistent with the claim), ``False`` (the claim certainly fails at this point: the
balls exclude it) or ``None`` (undecided here, e.g. a convention of the oracle applies).

How the opinions are compared (``judge``):

* PROVED / PROVED_UP_TO_N / ARGUED: no sampled point satisfying the hypotheses may give
  ``False``.
* REFUTED: the counterexample must give ``False``.
* CONDITIONAL: both of the above (samples under the named hypotheses hold, the counterexample
  fails).
* UNKNOWN: nothing to contradict; failures found are reported as information only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from flint import arb, ctx, fmpq

# The oracle modules are imported here (not lazily) so that forked workers inherit them.
from ppverify.oracle import operators as _oracle_operators  # noqa: F401
from ppverify.oracle import reference as _oracle_reference  # noqa: F401

from .model import ARGUED, CONDITIONAL, PROVED, PROVED_UP_TO_N, REFUTED, Outcome, WitnessReport

PREC = 256

Point = dict[str, Any]
Pred = Callable[[Point], "bool | None"]


def A(v) -> arb:
    """Any oracle number (arb ball, Fraction, int, float) as a ball."""
    if isinstance(v, arb):
        return v
    if isinstance(v, Fraction):
        return arb(fmpq(v.numerator, v.denominator))
    return arb(v)


def lt(a, b) -> bool:
    """``a < b`` certainly."""
    return bool(A(a) < A(b))


def differ(a, b) -> bool:
    """``a != b`` certainly (the balls are disjoint)."""
    return not A(a).overlaps(A(b))


def far(a, b, tol: float) -> bool:
    """``|a - b| > tol`` certainly."""
    return bool(abs(A(a) - A(b)) > tol)


def ppool(xs, alpha, want_param_grad=True):
    from ppverify.oracle.operators import ppool_window

    with _prec():
        return ppool_window([float(v) for v in xs], float(alpha), want_param_grad)


def lp(xs, p, want_param_grad=True):
    from ppverify.oracle.operators import lp_window

    with _prec():
        return lp_window([float(v) for v in xs], float(p), want_param_grad)


def powermean(xs, p, want_param_grad=True):
    from ppverify.oracle.operators import powermean_window

    with _prec():
        return powermean_window([float(v) for v in xs], float(p), 0, want_param_grad)


def maxpool(xs):
    from ppverify.oracle.operators import max_window

    return max_window([float(v) for v in xs])


def avgpool(xs):
    from ppverify.oracle.operators import avg_window

    return avg_window([float(v) for v in xs])


class _prec:
    def __enter__(self):
        self.saved = ctx.prec
        ctx.prec = max(ctx.prec, PREC)

    def __exit__(self, *exc):
        ctx.prec = self.saved


# ----------------------------------------------------------------------- sample points

WINDOWS: list[list[float]] = [
    [5.0], [1.0, 2.0], [3.0, 4.0], [0.5, 0.25, 2.0], [2.0, 2.0], [3.0, 1.0, 3.0],
    [1.0, 1.0, 1.0, 1.0], [1.0, 1.0 + 2.0**-52], [0.0, 1.0], [0.0, 0.0, 2.0], [0.0, 3.0, 5.0],
    [1e-30, 1.0, 1e30], [1e-300, 1e300], [7.0, 7.0, 0.0, 7.0], [0.0, 0.0],
    [1.5, 0.75, 3.25, 2.5, 0.125, 6.0], [1e-8, 1e-8, 2e-8], [2.0**-1000, 2.0**1000, 1.0],
]

ALPHAS: list[float] = [-1e4, -50.0, -3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 10.0,
                       1e3, 1e6]
PS: list[float] = [-3.0, -1.0, 0.25, 0.5, 1.0, 2.0, 3.0, 10.0, 1e3]


def random_windows(n: int = 12, seed: int = 20260524) -> list[list[float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        size = rng.randint(1, 6)
        out.append([float(2.0 ** rng.uniform(-40, 40)) if rng.random() < 0.3
                    else round(rng.uniform(0.01, 10.0), 3) for _ in range(size)])
    return out


def all_windows() -> list[list[float]]:
    return WINDOWS + random_windows()


def ppool_points(where: Callable[[list[float], float], bool] | None = None,
                 alphas: Iterable[float] = ALPHAS) -> list[Point]:
    alphas = list(alphas)
    return [{"x": xs, "alpha": a} for xs in all_windows() for a in alphas
            if where is None or where(xs, a)]


def param_points(where: Callable[[list[float], float], bool] | None = None,
                 ps: Iterable[float] = PS) -> list[Point]:
    ps = list(ps)
    return [{"x": xs, "p": p} for xs in all_windows() for p in ps
            if where is None or where(xs, p)]


def positive(xs) -> bool:
    return all(v > 0 for v in xs)


def unique_max(xs) -> bool:
    m = max(xs)
    return sum(1 for v in xs if v == m) == 1


def separated_max(xs, ratio: float = 0.9) -> bool:
    """A unique maximum with every other element at most ``ratio`` times it (fast limits)."""
    m = max(xs)
    return m > 0 and unique_max(xs) and all(v <= ratio * m for v in xs if v != m)


def ties_separated(xs, ratio: float = 0.9) -> bool:
    m = max(xs)
    return m > 0 and all(v == m or v <= ratio * m for v in xs)


# ----------------------------------------------------------------------- judging


def judge(outcome: Outcome, pred: Pred, samples: list[Point], who: str = "oracle"
          ) -> WitnessReport:
    """Compare the oracle's opinion with the symbolic outcome (see the module docstring).

    The predicates run at ``PREC`` bits, so their own ball arithmetic (printed formulas,
    sums of oracle values) stays tight enough to decide."""
    with _prec():
        return _judge(outcome, pred, samples, who)


def _judge(outcome: Outcome, pred: Pred, samples: list[Point], who: str) -> WitnessReport:
    verdict = outcome.verdict
    failures: list[Point] = []
    checked = 0
    for pt in samples:
        r = _safe(pred, pt)
        if r is None:
            continue
        checked += 1
        if r is False:
            failures.append(pt)
    cex_ok = None
    if outcome.counterexample is not None:
        cex_ok = _safe(pred, outcome.counterexample)
    notes = f"{checked}/{len(samples)} oracle points decided"
    if verdict in (PROVED, PROVED_UP_TO_N, ARGUED, CONDITIONAL) and failures:
        return WitnessReport(False, f"DISAGREE: {who} finds the claim false at {failures[0]} "
                                    f"({len(failures)} points); {notes}", len(samples))
    if verdict in (REFUTED, CONDITIONAL):
        if cex_ok is not False:
            return WitnessReport(False, f"DISAGREE: the {who} does not confirm the "
                                        f"counterexample {outcome.counterexample} "
                                        f"(predicate gave {cex_ok}); {notes}", len(samples))
        if verdict == REFUTED:
            extra = (f"; the claim also fails at {len(failures)} of {checked} further "
                     "sampled points" if checked else "")
        else:
            extra = (f"; no failure at the {checked} sampled points under the hypotheses"
                     if checked else "")
        return WitnessReport(True, f"{who} confirms the counterexample{extra}", len(samples))
    if failures:  # UNKNOWN: information only
        return WitnessReport(True, f"{who} finds the claim false at {failures[0]} (not a "
                                   f"proof either way); {notes}", len(samples))
    return WitnessReport(True, f"{who} agrees at {checked} sampled points "
                               f"({len(samples) - checked} undecided)", len(samples))


def _safe(pred: Pred, pt: Point):
    try:
        return pred(pt)
    except ZeroDivisionError:
        return False  # the printed expression is undefined at this point


def make(pred: Pred, samples: Callable[[], list[Point]], who: str = "oracle"):
    """A witness function for a claim: ``outcome -> WitnessReport``. ``who`` names the second
    opinion in the report (the oracle, or another independent route to the same facts)."""

    def witness(outcome: Outcome) -> WitnessReport:
        return judge(outcome, pred, samples(), who)

    return witness
