"""The claim catalogue: one record per claim, as data (keyword arguments throughout).

Sources: "Sec. 1, Prop. 1, ...", "Sec. 2, Eq. 2, ..." and "Sec. 3, Table 1" refer to the
paper's supplement; "ppverify" marks the toolkit's own claims and "reviewer" the questions a
careful reader asks that the supplement does not answer. ``expected`` is the verdict this
catalogue currently obtains; the tests pin it. ``reading`` says how a printed statement is read
(``readings.py``: the lim-display and delta policies); ``takeaway`` is the sentence the audit's
summary gives a reader.

Witness samples are drawn by ``ppverify.claims.witness`` (fixed seed): the windows include ties,
zeros, a single element, near-ties, and inputs from 2^-1000 to 2^1000; alpha runs from -1e4 to
1e6.
"""

from __future__ import annotations

from . import checks_lp as L
from . import checks_ppool as P
from . import checks_prop2 as P2
from . import checks_reviewer as Q
from . import checks_tables as T3
from . import preds as W
from .model import ARGUED, CONDITIONAL, PROVED, PROVED_UP_TO_N, REFUTED, Claim
from .readings import ABOUT, ASYMPTOTIC, CHAIN, CONCLUSION, IDENTITY, LITERAL, WITH_DELTA
from .witness import (
    make,
    param_points,
    positive,
    ppool_points,
    separated_max,
    ties_separated,
    unique_max,
)

H_POS = "x_i > 0 for every element"
H_NONNEG = "x_i >= 0 (0^0 = 1)"
H_APOS = "alpha > 0"
H_UNIQUE = "a unique maximum (unstated)"
H_NONMAX = "0 < x_k < x_max"
H_DELTA = "delta > 0 (unstated)"
H_TRIVIAL_N = "N >= 2 (trivial: a one-element window is the identity for every pooling)"
BIG = [1e4]
TABLE_WITNESS = "decimal recomputation"
HUGE = [1e3, 1e4]


def _has_nonmax(xs):
    mx = max(xs)
    return any(0 < v < mx for v in xs)


def _pos(xs, _a):
    return positive(xs)


def _pos_some(alphas):
    return lambda: ppool_points(_pos, alphas)


def _sep(xs, _a):
    return separated_max(xs)


def _tsep(xs, _a):
    return ties_separated(xs)


def _nonmax_sep(xs, _a):
    return ties_separated(xs) and _has_nonmax(xs) and positive(xs)


def _none():
    return []


def _pairs_separated(xs):
    return len(xs) >= 2 and all(separated_max(xs[j:j + 2]) for j in range(len(xs) - 1))


def _overshoot_points():
    """Windows near the supremum: one max 1 and N-1 equal others at r with (N-1) r^a = V*."""
    pts = []
    for nw, (lo, hi, _, v_star) in Q.overshoot_values().items():
        if nw <= 5:
            al = 1e4
            r = (float(v_star) / (nw - 1)) ** (1 / al)
            pts.append({"x": [1.0] + [r] * (nw - 1), "alpha": al, "G": (float(lo), float(hi))})
    return pts


CATALOGUE: list[Claim] = [
    # ---------------------------------------------------------------- Proposition 1
    Claim(id="P1", source="Sec. 1, Prop. 1 (statement)",
          statement="P-pooling is equivalent to average pooling when alpha = 0 (forward and "
          "backward)",
          hypotheses=(H_NONNEG, "alpha = 0 exactly"),
          relation="y|_{a=0} = (1/N) sum x  and  dy/dx_i|_{a=0} = 1/N",
          strategy="Sum over i=1..N with symbolic N; backward by reduction",
          check=P.p1_overall, witness=make(W.avg_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED,
          takeaway="Proposition 1 holds: at alpha = 0 P-pooling is average pooling, value and "
          "gradient, for every window size, zeros included."),
    Claim(id="P1.fwd.subst", source="Sec. 1, Prop. 1, forward step 1",
          statement="sum x_i^(a+1) / sum x_i^a = sum x_i^1 / sum x_i^0  (at a = 0)",
          hypotheses=(H_NONNEG,), relation="Eq(y.subs(a, 0), Sum(x**1)/Sum(x**0))",
          strategy="Sum with symbolic N", check=P.p1_fwd_subst,
          witness=make(W.value_is_mean_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED),
    Claim(id="P1.fwd.mean", source="Sec. 1, Prop. 1, forward step 2",
          statement="sum x_i^1 / sum x_i^0 = (1/N) sum x_i", hypotheses=(H_NONNEG,),
          relation="Eq(Sum(x)/Sum(1), Sum(x)/N)", strategy="Sum with symbolic N, doit",
          check=P.p1_fwd_mean,
          witness=make(W.value_is_mean_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED),
    Claim(id="P1.bwd.grad", source="Sec. 1, Prop. 1, backward step 1",
          statement="dE/dx_i = ((a+1) x_i^a sum x^a - a x_i^(a-1) sum x^(a+1)) / (sum x^a)^2 "
          "delta", hypotheses=(H_POS,),
          relation="Eq(diff((x_i^(a+1)+B)/(x_i^a+A), x_i), printed)",
          strategy="reduction: the other elements enter through A, B only",
          check=P.p1_bwd_grad, witness=make(W.printed_grad_matches, lambda: ppool_points(_pos)),
          expected=PROVED),
    Claim(id="P1.bwd.subst", source="Sec. 1, Prop. 1, backward step 2",
          statement="(at a = 0) ... = x_i^0 sum x^0 / (sum x^0)^2 delta", hypotheses=(H_NONNEG,),
          relation="Eq(printed.subs(a, 0), x_i^0 S0/S0^2); the term a x_i^(a-1) at x_i = 0",
          strategy="reduction and exact evaluation at x_i = 0", check=P.p1_bwd_subst,
          witness=make(W.printed_subst_at_zero, lambda: ppool_points(_pos, [0.0])),
          expected=CONDITIONAL),
    Claim(id="P1.bwd.value", source="Sec. 1, Prop. 1, backward step 3",
          statement="x_i^0 sum x^0 / (sum x^0)^2 delta = N/N^2 delta = (1/N) delta",
          hypotheses=(H_NONNEG,), relation="Eq(Sum(1)/Sum(1)**2, 1/N)",
          strategy="Sum with symbolic N", check=P.p1_bwd_value,
          witness=make(W.grads_one_over_n_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED),
    Claim(id="P1.cont", source="ppverify (Prop. 1 read with zeros)",
          statement="y(alpha) is continuous at alpha = 0, so P-pooling with alpha near 0 "
          "behaves like average pooling",
          hypotheses=(H_POS + " (unstated; sufficient, not necessary: see Q.cont.exact)",),
          relation="Eq(Limit(y, a, 0, '+-'), y(0))", strategy="limits; exact example with a zero",
          check=P.p1_continuity,
          witness=make(W.continuous_at_zero, lambda: ppool_points(
              lambda xs, a: positive(xs) and max(xs) / min(xs) < 1e40, [0.0])),
          expected=CONDITIONAL,
          takeaway="With a zero in the window (common after a ReLU), y jumps at alpha = 0: "
          "left limit 0, value the mean of all, right limit the mean of the positives."),
    Claim(id="P1.overlap", source="Sec. 1, Prop. 1 (one pooling region)",
          statement="considering the gradient flow in one pooling region loses nothing: with "
          "overlapping windows P-pooling at alpha = 0 still has average pooling's gradient",
          hypotheses=(H_NONNEG, "windows may overlap (stride < kernel)"),
          relation="dE/dx_i = sum_{j containing x_i} delta_j dy_j/dx_i = sum_j delta_j / N",
          strategy="chain rule; P1 per window; SymPy for two overlapping windows",
          check=P.p1_overlap, witness=make(W.overlap_at_zero_is_avg, lambda: [
              {"x": xs, "alpha": 0.0} for xs in ([1.0, 2.0, 3.0], [0.5, 4.0, 0.25, 2.0],
                                                 [0.0, 1.0, 0.0], [2.0, 2.0, 1.0])]),
          expected=PROVED),
    # ---------------------------------------------------------------- Proposition 2: forward
    Claim(id="P2", source="Sec. 1, Prop. 2 (statement)",
          statement="P-pooling performs as max pooling when alpha -> +inf (forward and backward)",
          hypotheses=("x_i >= 0, x_max > 0", H_UNIQUE),
          relation="lim y = x_max and lim dy/dx_i = [x_i = x_max]",
          strategy="from P2.fwd.limit, P2.bwd.max.limit, P2.bwd.other.limit",
          check=P2.p2_overall, witness=make(W.maxpool_limit, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL,
          takeaway="Proposition 2 holds for a unique maximum; with k tied maxima each gets 1/k "
          "of the gradient, where max pooling (torch) gives all of it to one."),
    Claim(id="P2.fwd.limit", source="Sec. 1, Prop. 2, forward (conclusion)",
          statement="lim_{a->+inf} sum x^(a+1) / sum x^a = x_max", hypotheses=("x_i >= 0, "
                                                                            "x_max > 0",),
          relation="Eq(Limit(y, a, oo), x_max)",
          strategy="reduction y = x_max (k+U)/(k+V), squeeze with 0 <= U <= V <= n rho^a",
          check=P2.p2_fwd_limit, reading=CONCLUSION,
          witness=make(W.value_limit_max, lambda: ppool_points(_tsep, BIG)), expected=PROVED,
          takeaway="The forward half of Proposition 2 holds: y -> max x as alpha -> +inf, ties "
          "and zeros included."),
    Claim(id="P2.fwd.step", source="Sec. 1, Prop. 2, forward step 1",
          statement="sum x^(a+1) / sum x^a = x_max^(a+1) / x_max^a  (the other elements dropped)",
          hypotheses=("x_i >= 0",), relation="Eq(sum x^(a+1)/sum x^a, x_max)",
          strategy="exact counterexample; z3 counterexample search", check=P2.p2_fwd_step,
          reading=LITERAL,
          witness=make(W.sums_equal_max_terms, lambda: ppool_points(
              lambda xs, a: positive(xs) and abs(a) <= 10)), expected=REFUTED),
    Claim(id="P2.fwd.step.asym", source="Sec. 1, Prop. 2, forward step 1",
          statement="lim sum x^(a+1) / sum x^a = lim x_max^(a+1) / x_max^a",
          hypotheses=("x_i >= 0, x_max > 0",), relation="both limits equal x_max",
          strategy="P2.fwd.limit; SymPy limit", check=P2.p2_fwd_step_asym, reading=ASYMPTOTIC,
          witness=make(W.value_limit_max, lambda: ppool_points(_tsep, BIG)), expected=PROVED),
    # -------------------------------------------------------- Prop. 2: backward, any element
    Claim(id="P2.bwd.step1", source="Sec. 1, Prop. 2, backward step 1",
          statement="dE/dx_i = ((a+1) x_i^a x_max^a - a x_i^(a-1) x_max^(a+1)) / x_max^(2a) "
          "delta  (the sums replaced by the maximum's terms)", hypotheses=(H_POS,),
          relation="Eq(printed gradient, replaced expression)", strategy="exact counterexample",
          check=P2.p2_bwd_step1, reading=LITERAL,
          witness=make(W.replaced_grad_literal, _none), expected=REFUTED),
    Claim(id="P2.bwd.step1.asym", source="Sec. 1, Prop. 2, backward step 1",
          statement="lim dE/dx_i = lim ((a+1) x_i^a x_max^a - a x_i^(a-1) x_max^(a+1)) / "
          "x_max^(2a) delta", hypotheses=(H_POS, H_UNIQUE),
          relation="both limits equal", strategy="reduction to k tied maxima; exact tie "
          "counterexample", check=P2.p2_bwd_step1_asym, reading=ASYMPTOTIC,
          witness=make(W.replaced_grad_asymptotic, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    # ---------------------------------------------------------------- Prop. 2: the maximum
    Claim(id="P2.bwd.max.algebra", source="Sec. 1, Prop. 2, backward step 2 (algebra)",
          statement="((a+1) x_max^(2a) - a x_max^(2a)) / x_max^(2a) delta = delta",
          hypotheses=("x_max > 0",), relation="Eq(((a+1) m^2a - a m^2a)/m^2a delta, delta)",
          strategy="algebra", check=P2.p2_bwd_max_algebra, reading=IDENTITY + WITH_DELTA,
          witness=make(W.max_algebra, lambda: ppool_points(_pos)), expected=PROVED),
    Claim(id="P2.bwd.max.limit", source="Sec. 1, Prop. 2, backward step 2 (conclusion)",
          statement="lim_{a->+inf} dE/dx_max = delta", hypotheses=("x_max > 0", H_UNIQUE),
          relation="Eq(Limit(dy/dx_max, a, oo), 1)",
          strategy="reduction to k tied maxima, squeeze", check=P2.p2_bwd_max_limit,
          reading=CONCLUSION,
          witness=make(W.max_grad_limit_one, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    # -------------------------------------------------------- Prop. 2: other elements, upper
    Claim(id="P2.bwd.other.eq", source="Sec. 1, Prop. 2, backward step 3 (first equality)",
          statement="... = ((a+1) x_k^a - a x_k^(a-1) x_max) / x_max^a delta", hypotheses=(H_POS,),
          relation="Eq(lhs, rhs) after dividing by x_max^a", strategy="algebra",
          check=P2.p2_bwd_other_eq, reading=IDENTITY + WITH_DELTA,
          witness=make(W.other_eq, lambda: ppool_points(
              lambda xs, a: positive(xs) and _has_nonmax(xs) and a < 1e3)), expected=PROVED),
    Claim(id="P2.bwd.other.upper", source="Sec. 1, Prop. 2, backward step 3 (upper bound)",
          statement="((a+1) x_k^a - a x_k^(a-1) x_max)/x_max^a delta < ((a+1) x_k^a - a x_k^a)"
          "/x_max^a delta", hypotheses=(H_APOS, H_NONMAX, H_DELTA),
          relation="lhs delta - rhs delta < 0 for every real delta",
          strategy="SymPy sign with x_max = x_k + d; z3 with powers as positive atoms; z3 "
          "counterexample for delta", check=P2.p2_bwd_other_upper, reading=LITERAL + WITH_DELTA,
          witness=make(W.other_upper, lambda: ppool_points(
              lambda xs, a: _has_nonmax(xs) and a > 0 and a < 1e3)), expected=CONDITIONAL,
          takeaway="Every inequality of Proposition 2 is printed times the upstream gradient "
          "delta and holds only for delta > 0, which the supplement never states (z3 finds a "
          "counterexample with delta < 0 at once)."),
    Claim(id="P2.bwd.other.upper.asym", source="Sec. 1, Prop. 2, backward step 3 (upper bound)",
          statement="lim ((a+1) x_k^a - a x_k^(a-1) x_max)/x_max^a delta <= lim ((a+1) x_k^a - "
          "a x_k^a)/x_max^a delta", hypotheses=(H_NONMAX,), relation="both limits are 0",
          strategy="SymPy limits", check=P2.p2_bwd_other_upper_asym, reading=ASYMPTOTIC,
          witness=make(W.upper_sides_vanish, lambda: ppool_points(_nonmax_sep, BIG)),
          expected=PROVED),
    Claim(id="P2.bwd.other.upper_eq", source="Sec. 1, Prop. 2, backward step 3 (upper bound "
          "value)", statement="((a+1) x_k^a - a x_k^a)/x_max^a delta = (x_k/x_max)^a delta",
          hypotheses=(H_POS,), relation="Eq(lhs, (x_k/x_max)^a delta)", strategy="algebra",
          check=P2.p2_bwd_other_upper_eq, reading=IDENTITY + WITH_DELTA,
          witness=make(W.other_upper_eq, lambda: ppool_points(
              lambda xs, a: _has_nonmax(xs) and a < 1e3)), expected=PROVED),
    Claim(id="P2.bwd.other.upper_lim", source="Sec. 1, Prop. 2, backward step 3 (upper bound "
          "limit)", statement="(x_k/x_max)^a delta = 0", hypotheses=("0 < x_k < x_max",),
          relation="Eq((x_k/x_max)**a delta, 0) at every a", strategy="exact evaluation",
          check=P2.p2_bwd_other_upper_lim, reading=LITERAL,
          witness=make(W.upper_lim_literal, _none), expected=REFUTED),
    Claim(id="P2.bwd.other.upper_lim.asym", source="Sec. 1, Prop. 2, backward step 3 (upper "
          "bound limit)", statement="lim (x_k/x_max)^a delta = 0", hypotheses=("0 <= x_k < "
                                                                               "x_max",),
          relation="Eq(Limit((x_k/x_max)**a, a, oo), 0)", strategy="limit with x_k/x_max = "
          "1/(1+t)", check=P2.p2_bwd_other_upper_lim_asym, reading=ASYMPTOTIC,
          witness=make(W.ratio_power_small, lambda: ppool_points(_tsep, BIG)), expected=PROVED),
    Claim(id="P2.bwd.other.upper.chain", source="Sec. 1, Prop. 2, backward step 3 (end to end)",
          statement="dE/dx_k < (x_k/x_max)^a delta: the upper chain's final bound holds for "
          "the true derivative", hypotheses=(H_APOS, H_NONMAX, H_DELTA, "y >= x_k (true for "
                                                                         "N = 2)"),
          relation="delta dy/dx_k < (x_k/x_max)^a delta", strategy="z3 under y >= x_k; exact "
          "counterexample with N = 402", check=P2.p2_bwd_other_upper_chain, reading=CHAIN,
          witness=make(W.upper_chain, lambda: ppool_points(
              lambda xs, a: len(xs) == 2 and positive(xs) and _has_nonmax(xs) and 0 < a < 1e3)),
          expected=CONDITIONAL, timeout=30.0),
    # -------------------------------------------------------- Prop. 2: other elements, lower
    Claim(id="P2.bwd.other.lower", source="Sec. 1, Prop. 2, backward step 4 (lower bound)",
          statement="((a+1) x_k^a - a x_k^(a-1) x_max)/x_max^a delta > ((a+1) x_k^(a-1) - a "
          "x_k^(a-1) x_max)/x_max^a delta", hypotheses=(H_APOS, H_NONMAX, "x_k > 1 (unstated)",
                                                          H_DELTA),
          relation="lhs delta - rhs delta > 0", strategy="factorisation, SymPy and z3 signs, "
          "exact and z3 counterexamples", check=P2.p2_bwd_other_lower,
          reading=LITERAL + WITH_DELTA,
          witness=make(W.other_lower, lambda: ppool_points(
              lambda xs, a: any(1 < v < max(xs) for v in xs) and 0 < a < 1e3)),
          expected=CONDITIONAL,
          takeaway="Proposition 2's lower bound has a wrong exponent (a-1 for a): it holds only "
          "for x_k > 1, so it depends on the scale of the input."),
    Claim(id="P2.bwd.other.lower.asym", source="Sec. 1, Prop. 2, backward step 4 (lower bound)",
          statement="lim ((a+1) x_k^a - a x_k^(a-1) x_max)/x_max^a delta >= lim ((a+1) "
          "x_k^(a-1) - a x_k^(a-1) x_max)/x_max^a delta", hypotheses=(H_NONMAX,),
          relation="both limits are 0", strategy="SymPy limits",
          check=P2.p2_bwd_other_lower_asym, reading=ASYMPTOTIC,
          witness=make(W.lower_sides_vanish, lambda: ppool_points(_nonmax_sep, BIG)),
          expected=PROVED),
    Claim(id="P2.bwd.other.lower_eq", source="Sec. 1, Prop. 2, backward step 4 (first equality)",
          statement="((a+1) x_k^(a-1) - a x_k^(a-1) x_max)/x_max^a delta = (x_k/x_max)^(a-1) "
          "((a+1-x_max)/x_max) delta", hypotheses=(H_POS,), relation="Eq(lhs, rhs)",
          strategy="algebra, exact counterexample", check=P2.p2_bwd_other_lower_eq,
          reading=LITERAL,
          witness=make(W.other_lower_eq, lambda: ppool_points(
              lambda xs, a: positive(xs) and _has_nonmax(xs) and 0 < a <= 10)),
          expected=REFUTED),
    Claim(id="P2.bwd.other.lower_eq.asym", source="Sec. 1, Prop. 2, backward step 4 (first "
          "equality)", statement="lim ((a+1) x_k^(a-1) - a x_k^(a-1) x_max)/x_max^a delta = "
          "lim (x_k/x_max)^(a-1) ((a+1-x_max)/x_max) delta", hypotheses=(H_NONMAX,),
          relation="both limits are 0", strategy="SymPy limits",
          check=P2.p2_bwd_other_lower_eq_asym, reading=ASYMPTOTIC,
          witness=make(W.lower_eq_sides_vanish, lambda: ppool_points(_nonmax_sep, BIG)),
          expected=PROVED),
    Claim(id="P2.bwd.other.lower_eq2", source="Sec. 1, Prop. 2, backward step 4 (second "
          "equality)", statement="(x_k/x_max)^(a-1) ((a+1-x_max)/x_max) delta = "
          "(x_k/x_max)^(a-1) (a/x_max) delta", hypotheses=(H_POS,),
          relation="Eq(a + 1 - x_max, a)", strategy="algebra, exact counterexample",
          check=P2.p2_bwd_other_lower_eq2, reading=LITERAL,
          witness=make(W.other_lower_eq2, _none), expected=REFUTED),
    Claim(id="P2.bwd.other.lower_eq2.asym", source="Sec. 1, Prop. 2, backward step 4 (second "
          "equality)", statement="lim (x_k/x_max)^(a-1) ((a+1-x_max)/x_max) delta = "
          "lim (x_k/x_max)^(a-1) (a/x_max) delta", hypotheses=(H_NONMAX,),
          relation="both limits are 0", strategy="SymPy limits",
          check=P2.p2_bwd_other_lower_eq2_asym, reading=ASYMPTOTIC,
          witness=make(W.lower_eq2_sides_vanish, lambda: ppool_points(_nonmax_sep, BIG)),
          expected=PROVED),
    Claim(id="P2.bwd.other.lower.chain", source="Sec. 1, Prop. 2, backward step 4 (end to end)",
          statement="dE/dx_k > (x_k/x_max)^(a-1) (a/x_max) delta: the lower chain's final bound "
          "holds for the true derivative", hypotheses=(H_APOS, H_NONMAX, "delta > 0"),
          relation="delta dy/dx_k > (x_k/x_max)^(a-1) (a/x_max) delta",
          strategy="exact counterexample; T.grad.nonmax.sign",
          check=P2.p2_bwd_other_lower_chain, reading=CHAIN,
          witness=make(W.lower_chain, _none), expected=REFUTED),
    # ---------------------------------------------------------------- Prop. 2: L'Hospital display
    Claim(id="P2.lhopital.first", source="Sec. 1, Prop. 2, L'Hospital step (first equality)",
          statement="(x_k/x_max)^(a-1) (a/x_max) delta = (a/x_max) delta / (x_k/x_max)^(1-a)",
          hypotheses=(H_POS,), relation="Eq(first, second)", strategy="algebra",
          check=P2.p2_lhopital_first, reading=IDENTITY + WITH_DELTA,
          witness=make(W.lhopital_first, lambda: ppool_points(
              lambda xs, a: positive(xs) and _has_nonmax(xs) and 0 < a <= 10)),
          expected=PROVED),
    Claim(id="P2.lhopital.form", source="Sec. 1, Prop. 2, L'Hospital step (applicability)",
          statement="L'Hospital's rule applies to (a/x_max)/(x_k/x_max)^(1-a) as a -> +inf",
          hypotheses=(H_NONMAX,), relation="inf/inf form; lim of the derivative quotient = 0",
          strategy="SymPy limits and derivative, SymPy and z3 sign, L'Hospital's rule",
          check=P2.p2_lhopital_form, reading=ABOUT,
          witness=make(W.lhopital_limit, lambda: ppool_points(_nonmax_sep, BIG)),
          expected=PROVED),
    Claim(id="P2.lhopital.step", source="Sec. 1, Prop. 2, L'Hospital step",
          statement="(a/x_max) delta / (x_k/x_max)^(1-a) = (1/x_max) delta / (x_k/((1-a) "
          "x_max))^(-a)", hypotheses=(H_NONMAX,), relation="Eq(second, third)",
          strategy="exact counterexample", check=P2.p2_lhopital_step, reading=LITERAL,
          witness=make(W.lhopital_step, _none), expected=REFUTED,
          takeaway="The L'Hospital step is garbled: its third expression is neither the "
          "derivative quotient nor even real for non-integer alpha > 1."),
    Claim(id="P2.lhopital.real", source="Sec. 1, Prop. 2, L'Hospital step (third expression)",
          statement="(1/x_max) delta / (x_k/((1-a) x_max))^(-a) is a real number for a > 0",
          hypotheses=(H_NONMAX, "0 < a < 1 or a an integer >= 2 (unstated)"),
          relation="the base x_k/((1-a) x_max) is negative for a > 1",
          strategy="SymPy and z3 signs; SymPy evaluation", check=P2.p2_lhopital_real,
          reading=ABOUT,
          witness=make(W.lhopital_third_real, lambda: ppool_points(
              lambda xs, a: positive(xs) and _has_nonmax(xs) and a in (0.25, 0.5, 2.0, 3.0,
                                                                       10.0))),
          expected=CONDITIONAL),
    Claim(id="P2.lhopital.step.asym", source="Sec. 1, Prop. 2, L'Hospital step",
          statement="lim (a/x_max) delta / (x_k/x_max)^(1-a) = lim (1/x_max) delta / "
          "(x_k/((1-a) x_max))^(-a)", hypotheses=(H_NONMAX, "a -> +inf along the integers "
                                                  "(unstated)"),
          relation="both limits are 0 along integers", strategy="SymPy limits; "
          "P2.lhopital.real", check=P2.p2_lhopital_step_asym, reading=ASYMPTOTIC,
          witness=make(W.lhopital_third_small, lambda: ppool_points(_nonmax_sep, HUGE)),
          expected=CONDITIONAL),
    Claim(id="P2.lhopital.zero", source="Sec. 1, Prop. 2, L'Hospital step (last equality)",
          statement="(1/x_max) delta / (x_k/((1-a) x_max))^(-a) = 0", hypotheses=(H_NONMAX,),
          relation="Eq(third, 0) at every a", strategy="exact evaluation",
          check=P2.p2_lhopital_zero, reading=LITERAL,
          witness=make(W.lhopital_third_zero, _none), expected=REFUTED),
    Claim(id="P2.lhopital.zero.asym", source="Sec. 1, Prop. 2, L'Hospital step (last equality)",
          statement="lim (1/x_max) delta / (x_k/((1-a) x_max))^(-a) = 0",
          hypotheses=(H_NONMAX, "a -> +inf along the integers (unstated)"),
          relation="limit along integers", strategy="SymPy limit; P2.lhopital.real",
          check=P2.p2_lhopital_zero_asym, reading=ASYMPTOTIC,
          witness=make(W.lhopital_third_small, lambda: ppool_points(_nonmax_sep, HUGE)),
          expected=CONDITIONAL),
    Claim(id="P2.lhopital.limit", source="Sec. 1, Prop. 2, L'Hospital step (conclusion)",
          statement="lim_{a->+inf} (x_k/x_max)^(a-1) (a/x_max) delta = 0", hypotheses=(H_NONMAX,),
          relation="Eq(Limit(r**(a-1)*a/x_max, a, oo), 0)", strategy="limit with r = 1/(1+t)",
          check=P2.p2_lhopital_limit, reading=CONCLUSION,
          witness=make(W.lhopital_limit, lambda: ppool_points(_tsep, BIG)), expected=PROVED),
    # ---------------------------------------------------------------- Prop. 2: squeeze, conclusion
    Claim(id="P2.squeeze", source="Sec. 1, Prop. 2, last line",
          statement="As 0 < dE/dx_k < 0, so dE/dx_k = 0", hypotheses=(H_NONMAX,),
          relation="not (0 < z < 0)", strategy="SymPy reduce_inequalities and z3",
          check=P2.p2_squeeze_printed, reading=LITERAL,
          witness=make(W.squeeze_printed, _none), expected=REFUTED),
    Claim(id="P2.squeeze.asym", source="Sec. 1, Prop. 2, last line",
          statement="the printed bounds squeeze dE/dx_k: lower bound <= dE/dx_k <= upper bound, "
          "both -> 0, so dE/dx_k -> 0", hypotheses=(H_NONMAX, "delta > 0"),
          relation="lower bound <= delta dy/dx_k for all large a",
          strategy="T.grad.nonmax.sign, P2.bwd.other.lower.chain", check=P2.p2_squeeze_asym,
          reading=ASYMPTOTIC, witness=make(W.squeeze_lower_premise, _none), expected=REFUTED,
          takeaway="Proposition 2's closing squeeze fails in every reading ('0 < dE/dx_k < 0'; "
          "the printed lower bound is above the true gradient for large alpha); its conclusion "
          "is nevertheless true (P2.bwd.other.limit)."),
    Claim(id="P2.bwd.other.limit", source="Sec. 1, Prop. 2, backward (conclusion)",
          statement="lim_{a->+inf} dE/dx_k = 0 for every non-maximal x_k",
          hypotheses=("0 <= x_k < x_max",), relation="Eq(Limit(dy/dx_k, a, oo), 0)",
          strategy="reduction with a bound r^a((a+1) + a/r); x_k = 0 by the one-sided "
          "derivative", check=P2.p2_bwd_other_limit, reading=CONCLUSION,
          witness=make(W.nonmax_grad_limit_zero, lambda: ppool_points(_tsep, BIG)),
          expected=PROVED,
          takeaway="The backward half of Proposition 2 holds for the elements below the max: "
          "their gradients tend to 0, ties and zeros included."),
    Claim(id="P2.overlap", source="Sec. 1, Prop. 2 (one pooling region)",
          statement="with overlapping windows, as alpha -> +inf the gradient tends to max "
          "pooling's (summed over the windows containing each element)",
          hypotheses=("x_i >= 0", "every window has a unique maximum (unstated)"),
          relation="lim dE/dx_i = sum_j delta_j [x_i is window j's max]",
          strategy="chain rule; P2.bwd.max.limit and P2.bwd.other.limit per window",
          check=P2.p2_overlap, witness=make(W.overlap_limit_is_maxpool, lambda: [
              {"x": xs, "alpha": 1e4} for xs in ([1.0, 2.0, 0.5, 3.0], [0.5, 4.0, 0.25, 2.0],
                                                 [3.0, 1.0, 0.0])]),
          expected=CONDITIONAL),
    # ---------------------------------------------------------------- toolkit: P-pooling
    Claim(id="T.bounds", source="ppverify", statement="min x <= y <= max x for every alpha",
          hypotheses=(H_POS,), relation="y - c = Sum(x^a (x - c))/Sum(x^a)",
          strategy="Sum with symbolic N; termwise sign by SymPy and z3", check=P.t_bounds,
          witness=make(W.bounds, lambda: ppool_points()), expected=PROVED),
    Claim(id="T.dalpha.cov", source="ppverify",
          statement="dy/dalpha = sum_i w_i ln(x_i) (x_i - y), w_i = x_i^a / sum x^a (a weighted "
          "covariance of ln x and x)", hypotheses=(H_POS,),
          relation="Eq(diff(y, a), Cov_w(ln x, x))", strategy="Sum with symbolic N",
          check=P.t_dalpha_cov,
          witness=make(W.dalpha_cov, _pos_some([-3.0, -0.5, 0.0, 0.5, 1.0, 3.0, 10.0])),
          expected=PROVED),
    Claim(id="T.monotone", source="ppverify", statement="y is non-decreasing in alpha "
          "(dy/dalpha >= 0)", hypotheses=(H_POS,),
          relation="Cov_w(ln x, x) = (1/(2W^2)) sum_ij u_i u_j (ln x_i - ln x_j)(x_i - x_j) >= 0",
          strategy="covariance form and Chebyshev pair identity with Sum (all N); pair sign by "
          "SymPy and z3", check=P.t_monotone, witness=make(W.monotone, lambda: ppool_points()),
          expected=PROVED),
    Claim(id="T.minus_inf", source="ppverify", statement="lim_{alpha -> -inf} y = min x",
          hypotheses=(H_POS,), relation="Eq(Limit(y, a, -oo), x_min)",
          strategy="duality y_a(x) = 1/y_{-a-1}(1/x) and P2.fwd.limit", check=P.t_minus_inf,
          witness=make(W.min_limit, lambda: ppool_points(
              lambda xs, a: positive(xs) and all(v == min(xs) or v >= min(xs) / 0.9
                                                 for v in xs), [-1e4])), expected=PROVED),
    Claim(id="T.harmonic", source="ppverify",
          statement="alpha = -1 gives the harmonic mean N / sum(1/x_i)", hypotheses=(H_POS,),
          relation="Eq(y.subs(a, -1), N/Sum(1/x))", strategy="Sum with symbolic N",
          check=P.t_harmonic, witness=make(W.harmonic, _pos_some([-1.0])), expected=PROVED),
    Claim(id="T.homogeneity", source="ppverify",
          statement="y(c x) = c y(x) for c > 0 (homogeneous of degree 1)",
          hypotheses=(H_POS, "c > 0"), relation="Eq(y(c x), c y(x))",
          strategy="Sum with symbolic N", check=P.t_homogeneity,
          witness=make(W.homogeneity, lambda: ppool_points(
              lambda xs, a: max(xs) < 1e305 and abs(a) < 1e5)), expected=PROVED),
    Claim(id="T.euler", source="ppverify",
          statement="sum_i x_i dy/dx_i = y (Euler's relation) and dy/dx_i(c x) = dy/dx_i(x) "
          "(the gradient is homogeneous of degree 0)", hypotheses=(H_POS,),
          relation="Eq(Sum(x_i dy/dx_i), y); Eq(g(c x), g(x))",
          strategy="reduction; Sum linearity; homogeneity", check=P.t_euler,
          witness=make(W.euler, lambda: ppool_points()), expected=PROVED),
    Claim(id="T.grad.max.positive", source="ppverify", statement="dy/dx_max > 0 for alpha >= 0",
          hypotheses=(H_POS, "alpha >= 0"), relation="w_max (1 + a (x_max - y)/x_max) > 0",
          strategy="reduction; y <= x_max (T.bounds); SymPy and z3 signs",
          check=P.t_grad_max_positive, witness=make(W.max_grad_positive, lambda: ppool_points(
              lambda xs, a: positive(xs) and a >= 0)), expected=PROVED),
    Claim(id="T.grad.max.le1", source="ppverify (a natural reading of Prop. 2)",
          statement="0 < dy/dx_max <= 1: the max never gets more gradient than max pooling "
          "gives it", hypotheses=(H_POS, "alpha >= 0"), relation="dy/dx_max <= 1",
          strategy="exact counterexample", check=P.t_grad_max_le1,
          witness=make(W.max_grad_le1, lambda: ppool_points(
              lambda xs, a: positive(xs), [2.0, 3.0, 10.0])), expected=REFUTED),
    Claim(id="T.grad.nonmax.sign", source="ppverify",
          statement="a non-maximal element's gradient is 1/N > 0 at alpha = 0 and negative for "
          "all large alpha", hypotheses=(H_NONMAX,),
          relation="sign(dy/dx_k) = sign((a+1) x_k - a y); explicit bound on y",
          strategy="reduction; y >= x_max k/(k + n rho^a) (z3); SymPy limit",
          check=P.t_grad_nonmax_sign, witness=make(W.nonmax_negative, lambda: ppool_points(
              lambda xs, a: separated_max(xs) and _has_nonmax(xs), [1e3, 1e4])),
          expected=PROVED),
    Claim(id="T.grad.nonmax.peak", source="ppverify",
          statement="|dy/dx_k| for a non-maximal x_k is not monotone in alpha: it crosses 0, "
          "peaks at a finite alpha and decays to 0", hypotheses=(H_NONMAX,),
          relation="g(0) > 0, g < 0 eventually, g -> 0, g continuous",
          strategy="other claims; continuity (SymPy); IVT and EVT; exact values",
          check=P.t_grad_nonmax_peak, witness=make(W.nonmax_peak, lambda: [
              {"x": xs, "alpha": None} for xs in ([1.0, 2.0], [3.0, 4.0], [0.5, 0.25, 2.0],
                                                  [0.0, 3.0, 5.0])]), expected=PROVED),
    Claim(id="T.ties.torch", source="ppverify",
          statement="as alpha -> +inf the P-pooling backward equals torch's max-pooling backward",
          hypotheses=(H_UNIQUE,), relation="lim dy/dx = max_pool grad (first maximum gets 1)",
          strategy="reduction to k tied maxima", check=P.t_ties_torch,
          witness=make(W.ties_match_torch, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    Claim(id="T.ties.equal", source="ppverify",
          statement="a window of N equal elements has y = c and dy/dx_i = 1/N for every alpha",
          hypotheses=("x_i = c > 0 for all i",), relation="Eq(dy/dx_i, 1/N)",
          strategy="reduction with equal others", check=P.t_ties_equal,
          witness=make(W.equal_window, lambda: ppool_points(
              lambda xs, a: positive(xs) and len(set(xs)) == 1)), expected=PROVED),
    Claim(id="T.zero.grad", source="ppverify",
          statement="at a zero input dy/dx_z = -inf for 0 < alpha < 1 (-y/sum x at alpha = 1, "
          "0 above)", hypotheses=("x_z = 0, at least one positive element",),
          relation="lim (y(h) - y(0))/h and Limit(dy/dx_z, x_z, 0, '+')",
          strategy="reduction; one-sided difference quotients and limits", check=P.t_zero_grad,
          witness=make(W.zero_grad, lambda: ppool_points(
              lambda xs, a: 0.0 in xs and max(xs) > 0, [0.25, 0.5, 0.75, 1.0, 2.0, 3.0])),
          expected=PROVED),
    # ---------------------------------------------------------------- Sec. 2: Lp norm
    Claim(id="E1.limit", source="Sec. 2, Eq. 1 and text (p -> +inf is max pooling)",
          statement="f_Lp(R) = (sum x^p)^(1/p) tends to max pooling as p -> +inf",
          hypotheses=("x_i >= 0, x_max > 0",), relation="x_max k^(1/p) <= f <= x_max N^(1/p)",
          strategy="reduction to k tied maxima; z3 bounds; SymPy limits; squeeze",
          check=L.e1_limit, witness=make(W.lp_value_limit_max, lambda: param_points(
              lambda xs, p: max(xs) > 0, [1e4])), expected=PROVED),
    Claim(id="E2.chain", source="Sec. 2, Eq. 2 (first equality)",
          statement="dE/dx_i = sum_j dE/dy_j dy_j/dx_i", hypotheses=("E differentiable",),
          relation="Eq(diff(E(y1(x), y2(x)), x), sum_j E_j y_j')",
          strategy="the multivariable chain rule; SymPy for two windows", check=L.eq2_chain,
          witness=make(W.chain_rule_reference, lambda: [
              {"x": xs, "alpha": al} for xs in ([1.0, 2.0, 3.0], [0.5, 4.0, 0.25, 2.0],
                                                [2.0, 2.0, 1.0]) for al in (-2.0, 0.5, 3.0)]),
          expected=PROVED),
    Claim(id="E2.intro.p0", source="Sec. 2, introduction (gradient explodes at p = 0)",
          statement="the gradient will explode when p = 0",
          hypotheses=("x_i > 0", "p -> 0 from above only (one-sided; as p -> 0- it tends to 0)",
                      "at least two positive elements (with one, dy/dx = 1)"),
          relation="Limit(dy/dx_i, p, 0, '+') = oo, Limit(dy/dx_i, p, 0, '-') = 0",
          strategy="reduction dy/dx_i = (x_i^p/S)^(1-1/p); algebra of limits; SymPy limits",
          check=L.eq2_dx_p0, witness=make(W.lp_dx_blows_up_near_0, lambda: param_points(
              lambda xs, p: sum(1 for v in xs if v > 0) >= 2 and max(xs) < 1e100
              and max(xs) / min(v for v in xs if v > 0) < 1e6, [1e-3])),
          expected=CONDITIONAL),
    Claim(id="E2.dx", source="Sec. 2, Eq. 2 (dE/dx_i)",
          statement="dE/dx_i = x_i^(p-1) (sum x^p)^(p/(1-p)) delta", hypotheses=("x_i > 0",),
          relation="Eq(diff((sum x^p)^(1/p), x_i), printed)", strategy="exact counterexample",
          check=L.eq2_dx_printed, witness=make(W.lp_printed_dx, lambda: param_points(
              lambda xs, p: positive(xs) and len(xs) >= 2 and p != 1.0 and abs(p) <= 10)),
          expected=REFUTED,
          takeaway="Eq. 2 is misprinted: the exponent p/(1-p) should be (1-p)/p, and dE/dp has "
          "x_i^(p-1) where sum x^p ln x / p belongs (and lacks the sum over windows)."),
    Claim(id="E2.dx.correct", source="ppverify (corrected Eq. 2)",
          statement="dy/dx_i = x_i^(p-1) (sum x^p)^((1-p)/p) = y x_i^(p-1) / sum x^p",
          hypotheses=("x_i > 0", "p != 0"), relation="Eq(diff(y, x_i), corrected)",
          strategy="reduction", check=L.eq2_dx_correct,
          witness=make(W.lp_correct_dx, lambda: param_points(lambda xs, p: positive(xs))),
          expected=PROVED),
    Claim(id="E2.dp", source="Sec. 2, Eq. 2 (dE/dp)",
          statement="dE/dp = (-ln(sum x^p)/p^2 + x_i^(p-1)/sum x^p) (sum x^p)^(1/p) delta",
          hypotheses=("x_i > 0",), relation="Eq(diff(y, p), printed)",
          strategy="exact counterexample (logarithms)", check=L.eq2_dp_printed,
          witness=make(W.lp_printed_dp, lambda: param_points(
              lambda xs, p: positive(xs) and len(xs) >= 2 and abs(p) <= 10)),
          expected=REFUTED),
    Claim(id="E2.dp.correct", source="ppverify (corrected Eq. 2)",
          statement="dy/dp = y (-ln S / p^2 + sum x^p ln x / (p S)), S = sum x^p",
          hypotheses=("x_i > 0", "p != 0"), relation="Eq(diff(S(p)**(1/p), p), corrected)",
          strategy="chain rule on S(p); S'(p) with Sum", check=L.eq2_dp_correct,
          witness=make(W.lp_correct_dp, lambda: param_points(lambda xs, p: positive(xs))),
          expected=PROVED),
    Claim(id="E2.dp.sum", source="Sec. 2, Eq. 2 (dE/dp, no sum over windows)",
          statement="dE/dp is one window's term (delta_j^{l+1} with no sum over j)",
          hypotheses=("x_i > 0", "p is used by a single window (unstated)"),
          relation="dE/dp = sum_j delta_j dy_j/dp", strategy="chain rule; SymPy evaluation",
          check=L.eq2_dp_sum, witness=make(W.dp_without_window_sum, lambda: param_points(
              lambda xs, p: positive(xs) and len(xs) == 2)),
          expected=CONDITIONAL),
    Claim(id="E2.a.p0", source="Sec. 2, claim (a), p = 0",
          statement="numerical issues will occur in dE/dp when p = 0",
          hypotheses=("x_i > 0", "p -> 0 from above only (one-sided; as p -> 0- dy/dp -> 0)",
                      "at least two positive elements (with one, dy/dp = 0)"),
          relation="Limit(dy/dp, p, 0, '+') = -oo, Limit(dy/dp, p, 0, '-') = 0",
          strategy="reduction to S(p), S'(p); algebra of limits; SymPy limits",
          check=L.eq2_p0, witness=make(W.lp_dp_blows_up_near_0, lambda: param_points(
              lambda xs, p: sum(1 for v in xs if v > 0) >= 2 and max(xs) < 1e100
              and min(v for v in xs if v > 0) > 1e-100, [1e-6])),
          expected=CONDITIONAL),
    Claim(id="E2.a.pinf", source="Sec. 2, claim (a), p -> +inf",
          statement="dE/dp will explode when p -> +inf", hypotheses=("x_i > 0",),
          relation="Limit(dy/dp, p, oo)", strategy="SymPy limit", check=L.eq2_dp_pinf,
          witness=make(W.lp_dp_explodes, lambda: param_points(
              lambda xs, p: positive(xs) and max(xs) < 1e100, [1e3])), expected=REFUTED),
    Claim(id="E2.b.p1", source="Sec. 2, claim (b), p = 1",
          statement="numerical issues will occur in dE/dx_i when p = 1", hypotheses=("x_i > 0",),
          relation="dy/dx_i at and near p = 1", strategy="substitution and limit",
          check=L.eq2_dx_p1, witness=make(W.lp_dx_issue_at_1, lambda: param_points(
              lambda xs, p: positive(xs), [1.0])), expected=REFUTED,
          takeaway="Sec. 2's pathologies at p = 1 and p -> +inf come from the misprints: with "
          "the correct Eq. 2 the input gradient is exactly 1 at p = 1 and stays in [0, 1] as "
          "p -> +inf, and dE/dp tends to 0."),
    Claim(id="E2.b.pinf", source="Sec. 2, claim (b), p -> +inf",
          statement="dE/dx_i will explode when p -> +inf", hypotheses=("x_i > 0",),
          relation="0 <= dy/dx_i = (x_i^p/S)^((p-1)/p) <= 1 for p >= 1",
          strategy="bound (SymPy and z3) and limits", check=L.eq2_dx_pinf,
          witness=make(W.lp_dx_explodes, lambda: param_points(
              lambda xs, p: positive(xs), [10.0, 1e3, 1e6])), expected=REFUTED),
    Claim(id="E2.avg", source="Sec. 2, first reason (p = 1)",
          statement="the Lp gradient w.r.t. the input is not equal to the gradient of average "
          "pooling (p = 1)", hypotheses=("x_i > 0", H_TRIVIAL_N),
          relation="Ne(1, 1/N) for N >= 2", strategy="substitution; SymPy and z3",
          check=L.sec2_avg, reading="for windows of N >= 2 elements: a one-element window is "
          "the identity under every pooling, so the condition is trivial, not a missing "
          "hypothesis", witness=make(W.lp_differs_from_avg_at_1, lambda: param_points(
              lambda xs, p: len(xs) >= 2, [1.0])), expected=PROVED,
          takeaway="Sec. 2's first reason holds at p = 1: the Lp norm's input gradient is 1 "
          "(sum pooling's), not average pooling's 1/N; the power mean fixes it."),
    Claim(id="E2.max", source="Sec. 2, first reason (p -> +inf)",
          statement="the Lp gradient w.r.t. the input is not equal to the gradient of max "
          "pooling (p -> +inf)", hypotheses=("x_i > 0",), relation="lim dy/dx_i vs one-hot",
          strategy="limits", check=L.sec2_max, witness=make(W.lp_differs_from_max, _none),
          expected=REFUTED),
    Claim(id="E2.conclusion", source="Sec. 2, conclusion",
          statement="dE/dx_i cannot be calculated in the boundary conditions of the Lp norm "
          "(p = 1, p -> +inf)", hypotheses=("x_i > 0",), relation="see E2.b.p1, E2.b.pinf",
          strategy="combination", check=L.sec2_conclusion,
          witness=make(W.lp_not_computable, _none), expected=REFUTED),
    # ---------------------------------------------------------------- toolkit: power mean
    Claim(id="PM.grad", source="ppverify (power mean / GeM)",
          statement="dM/dx_i = (1/N) (x_i / M)^(p-1), M = ((1/N) sum x^p)^(1/p)",
          hypotheses=("x_i > 0", "p != 0"), relation="Eq(diff(M, x_i), (x_i/M)**(p-1)/N)",
          strategy="reduction", check=L.pm_grad,
          witness=make(W.pm_grad, lambda: param_points(lambda xs, p: positive(xs))),
          expected=PROVED),
    Claim(id="PM.p1", source="ppverify (power mean / GeM)",
          statement="at p = 1 the power mean is average pooling, dM/dx_i = 1/N",
          hypotheses=("x_i >= 0",), relation="Eq(diff(M.subs(p, 1), x_i), 1/N)",
          strategy="reduction", check=L.pm_p1,
          witness=make(W.pm_is_avg_at_1, lambda: param_points(None, [1.0])), expected=PROVED),
    Claim(id="PM.p0", source="ppverify (power mean / GeM)",
          statement="as p -> 0 the power mean tends to the geometric mean and dM/dp to "
          "M_0 Var(ln x)/2 (no singularity)", hypotheses=("x_i > 0",),
          relation="h(p) = ln(mean x^p): ln M_p = h/p, h(0) = 0, h'(0) = mean ln x, h''(0) = "
          "Var ln x", strategy="Sum derivatives (all N); derivative definition; L'Hospital",
          check=L.pm_p0, witness=make(W.pm_p0_limit, lambda: param_points(
              lambda xs, p: positive(xs) and max(xs) / min(xs) < 1e40, [0.0])),
          expected=PROVED),
    Claim(id="PM.pinf", source="ppverify (power mean / GeM)",
          statement="as p -> +inf the power mean tends to max, dM/dx_i to 1/k for each of k tied "
          "maxima (0 for the others)", hypotheses=("x_i >= 0, x_max > 0",),
          relation="squeeze of dM/dx_max between its values at V = 0 and V = n rho^p",
          strategy="reduction; z3 bounds; SymPy limits; squeeze", check=L.pm_pinf,
          witness=make(W.pm_pinf_limit, lambda: param_points(
              lambda xs, p: ties_separated(xs), [1e6])), expected=PROVED),
    # ---------------------------------------------------------------- Sec. 3: Tables 1 and 2
    Claim(id="S3.T1.mean", source="Sec. 3, Table 1 (VGG-based, VOC 2012 val)",
          statement="each row's 'mean' is the mean of its 21 class columns (to the printed "
          "rounding)", hypotheses=("the printed values, one decimal",),
          relation="round(sum(classes)/21, 1) == mean", strategy="exact rational arithmetic",
          check=T3.table1_means,
          witness=make(W.table_check, lambda: [{"table": 1, "what": "mean"}],
                       TABLE_WITNESS),
          expected=PROVED,
          takeaway="Tables 1 and 2 are internally consistent: every mean is the rounded mean of "
          "its 21 classes, every bold cell is its column's maximum (P-pooling leads 21 of 22 "
          "columns; margins down to 0.1)."),
    Claim(id="S3.T2.mean", source="Sec. 3, Table 2 (ResNet-based, VOC 2012 val)",
          statement="each row's 'mean' is the mean of its 21 class columns (to the printed "
          "rounding)", hypotheses=("the printed values, one decimal",),
          relation="round(sum(classes)/21, 1) == mean", strategy="exact rational arithmetic",
          check=T3.table2_means,
          witness=make(W.table_check, lambda: [{"table": 2, "what": "mean"}],
                       TABLE_WITNESS),
          expected=PROVED),
    Claim(id="S3.T1.bold", source="Sec. 3, Table 1 (VGG-based, VOC 2012 val)",
          statement="every bold cell is its column's maximum", hypotheses=("the printed values",),
          relation="bold == (value == column max), unique", strategy="exact comparison",
          check=T3.table1_bold,
          witness=make(W.table_check, lambda: [{"table": 1, "what": "bold"}],
                       TABLE_WITNESS),
          expected=PROVED),
    Claim(id="S3.T2.bold", source="Sec. 3, Table 2 (ResNet-based, VOC 2012 val)",
          statement="every bold cell is its column's maximum", hypotheses=("the printed values",),
          relation="bold == (value == column max), unique", strategy="exact comparison",
          check=T3.table2_bold,
          witness=make(W.table_check, lambda: [{"table": 2, "what": "bold"}],
                       TABLE_WITNESS),
          expected=PROVED),
    # ---------------------------------------------------------------- the reviewer's questions
    Claim(id="Q.cont.exact", source="reviewer (continuity at alpha = 0)",
          statement="y(alpha) is continuous at alpha = 0 exactly when the window has no zero or "
          "only zeros", hypotheses=(H_NONNEG, "0^0 = 1; a window of zeros has y = 0"),
          relation="y(0-) = 0, y(0) = s/N, y(0+) = s/n with z zeros and n positives",
          strategy="P1, P1.cont, one-sided limits (SymPy), case split (z3)",
          check=Q.q_cont_exact, witness=make(W.continuity_matches_zeros,
                                             lambda: ppool_points(None, [0.0])),
          expected=PROVED,
          takeaway="The exact condition for continuity at alpha = 0: no zero in the window (or "
          "only zeros)."),
    Claim(id="Q.nonmax.threshold", source="reviewer (where the non-max gradient is negative)",
          statement="for alpha > 0, dy/dx_k < 0 exactly when x_k < theta, the unique positive "
          "root of x^(a+1) + (a+1) A x = a B (A, B: sums over the other elements)",
          hypotheses=(H_APOS, "x_k > 0", "another element is positive"),
          relation="dy/dx_k = x_k^(a-1) phi(x_k)/S^2, phi increasing",
          strategy="reduction; identity (SymPy); signs (SymPy and z3); IVT",
          check=Q.q_nonmax_threshold, witness=make(W.threshold_sign, lambda: ppool_points(
              lambda xs, a: a > 0 and a < 1e3)), expected=PROVED,
          takeaway="An element's gradient is negative exactly when it lies below a threshold "
          "theta (alpha = 1: theta = sqrt(A^2 + B) - A); it changes sign once for alpha > 0 "
          "and once more for alpha < 0 unless it is the minimum."),
    Claim(id="Q.nonmax.sign_changes", source="reviewer (how often the non-max gradient changes "
          "sign)", statement="for 0 < x_k < x_max, alpha -> dy/dx_k changes sign exactly once on "
          "alpha > 0 and, if x_k > x_min, exactly once on alpha < 0",
          hypotheses=(H_POS, H_NONMAX), relation="h(a) = (a+1) x_k - a y(a) crosses 0 in one "
          "direction only on each side", strategy="crossing directions (z3), T.monotone, IVT",
          check=Q.q_nonmax_sign_changes,
          witness=make(W.sign_changes_at_most_predicted, lambda: [
              {"x": xs, "alpha": None} for xs in ([1.0, 2.0], [1.0, 2.0, 3.0], [0.5, 0.25, 2.0],
                                                  [3.0, 1.0, 3.0], [1.5, 0.75, 3.25, 2.5])]),
          expected=PROVED),
    Claim(id="Q.overshoot.sup", source="reviewer (how far the max's gradient overshoots 1)",
          statement="sup over alpha >= 0 and windows of N elements of dy/dx_max is G(N-1), "
          "G(n) = max_{0<V<n} (1 + V ln(n/V)/(1+V))/(1+V), with (1 + ln(n)/2)/2 <= G(n) <= "
          "1 + 1/e + ln(n)/4: unbounded in N",
          hypotheses=(H_POS, "alpha >= 0", "N >= 2"),
          relation="a(1 - r) <= ln(1/r^a); Jensen; near-tie limit",
          strategy="reduction; z3 and SymPy bounds; Jensen; SymPy limits",
          check=Q.q_overshoot_sup, witness=make(W.overshoot_below_sup, lambda: ppool_points(
              lambda xs, a: positive(xs) and len(xs) >= 2 and 0 <= a <= 1e3)),
          expected=PROVED,
          takeaway="The max's gradient overshoots 1 by up to G(N-1) - 1 (about 0.10 for N = 2, "
          "0.35 for N = 9), approached at near-ties and large alpha; it grows like ln(N)/4, "
          "without bound."),
    Claim(id="Q.overshoot.values", source="reviewer (the overshoot for small windows)",
          statement="G(N-1), the supremum of dy/dx_max, for N = 2, 3, 4, 5 and 9 (a 3x3 window)",
          hypotheses=(H_POS, "alpha >= 0"), relation="enclosure of max_V Ghat on a box",
          strategy="python-flint branch-and-bound; tail bound (SymPy)",
          check=Q.q_overshoot_values, witness=make(W.overshoot_near_value, _overshoot_points),
          expected=PROVED_UP_TO_N, timeout=40.0),
    Claim(id="Q.zero.unbounded", source="reviewer (P-pooling's input gradient near zero inputs)",
          statement="P-pooling's input gradient is unbounded near a zero input exactly when "
          "0 < |alpha| < 1 (in particular for 0 < alpha < 1), as the Lp norm's and the power "
          "mean's are for 0 < p < 1", hypotheses=("x_z -> 0+", "another element is positive"),
          relation="one-sided limits at x_z -> 0+", strategy="T.zero.grad; SymPy limits",
          check=Q.q_zero_unbounded, witness=make(W.zero_gradient_boundedness, lambda:
                                                 ppool_points(lambda xs, a: 0.0 in xs and
                                                              max(xs) > 0 and len(xs) >= 2,
                                                              [-2.0, -0.5, 0.25, 0.5, 0.75,
                                                               1.0, 2.0])),
          expected=PROVED,
          takeaway="P-pooling has the zero-input pathology Sec. 2 holds against the Lp norm: for "
          "0 < |alpha| < 1 its gradient at an input near 0 is unbounded (-inf above 0, +inf "
          "below)."),
    Claim(id="Q.rate.forward", source="reviewer (how fast y reaches the max)",
          statement="uniformly over windows of N >= 2 positive elements, (x_max - y)/x_max <= "
          "(ln(N-1) + 1/e)/alpha, and no better than order 1/alpha; for a fixed window it is "
          "<= n rho^alpha", hypotheses=(H_POS, H_APOS, "N >= 2"),
          relation="(V - U)/(k + V) bounds", strategy="reduction; z3 and SymPy bounds",
          check=Q.q_rate_forward, witness=make(W.rate_forward, lambda: ppool_points(
              lambda xs, a: positive(xs) and a > 0)), expected=PROVED,
          takeaway="Convergence to max pooling is exponential for a fixed window but only "
          "O(ln N / alpha) uniformly, and the backward pass does not converge uniformly at all "
          "(near-ties keep the max's gradient near 1/2)."),
    Claim(id="Q.rate.backward", source="reviewer (how fast the gradient reaches max pooling's)",
          statement="for a fixed window with a unique max the gradient's L1 distance to one-hot "
          "decays exponentially in alpha, but not uniformly: sup over windows of "
          "|dy/dx_max - 1| >= 1/2 for every alpha", hypotheses=(H_POS, H_APOS),
          relation="explicit bounds; near-tie limit", strategy="reduction; z3 bounds; SymPy "
          "limit", check=Q.q_rate_backward,
          witness=make(W.rate_backward, lambda: ppool_points(
              lambda xs, a: positive(xs) and a >= 1)), expected=PROVED),
    Claim(id="Q.duality", source="reviewer (the alpha < 0 side)",
          statement="y_{-alpha-1}(x) = 1 / y_alpha(1/x), with gradients related by "
          "(z_i/y_alpha(z))^2 at z = 1/x", hypotheses=(H_POS,),
          relation="Sum identity; reduction for the gradient",
          strategy="Sum with symbolic N; reduction", check=Q.q_duality,
          witness=make(W.duality, lambda: ppool_points(
              lambda xs, a: positive(xs) and abs(a) <= 50)), expected=PROVED,
          takeaway="The alpha < 0 side mirrors alpha > 0: y at -alpha-1 is 1/y at alpha on the "
          "reciprocals (mean <-> harmonic mean, max <-> min)."),
    Claim(id="Q.lp.powermean", source="reviewer (Lp norm against the power mean)",
          statement="M_p = N^(-1/p) ||x||_p, and the normalisation removes exactly the p = 1 "
          "mismatch and the p -> 0+ blow-ups of Sec. 2, not the zero-input one",
          hypotheses=("x_i > 0", "p != 0"), relation="Sum identity and the claims it combines",
          strategy="Sum with symbolic N; other claims", check=Q.q_lp_powermean,
          witness=make(W.lp_is_scaled_powermean, lambda: param_points(
              lambda xs, p: positive(xs) and max(xs) < 1e100 and min(xs) > 1e-100)),
          expected=PROVED,
          takeaway="The power mean M_p = N^(-1/p) ||x||_p removes Sec. 2's p = 1 mismatch and "
          "the p -> 0+ blow-ups; nothing removes the zero-input blow-up for 0 < p < 1."),
    Claim(id="Q.dalpha.bounds", source="reviewer (dy/dalpha and a learned alpha)",
          statement="0 <= dy/dalpha <= ((1 - 1/N)/2) ln(x_max/x_min)(x_max - x_min) for every "
          "alpha, and dy/dalpha -> 0 exponentially as alpha -> +-inf",
          hypotheses=(H_POS,), relation="covariance pair form; pair bound; decay",
          strategy="Sum (all N); z3 pair bound; reduction; duality", check=Q.q_dalpha_bounds,
          witness=make(W.dalpha_bounded, lambda: ppool_points(
              lambda xs, a: positive(xs) and max(xs) / min(xs) < 1e100)),
          expected=PROVED,
          takeaway="dy/dalpha is bounded by the window's spread and vanishes exponentially as "
          "|alpha| grows: a learned alpha cannot explode, but it stalls once large."),
]

BY_ID: dict[str, Claim] = {c.id: c for c in CATALOGUE}
assert len(BY_ID) == len(CATALOGUE), "claim ids must be unique"

__all__ = ["ARGUED", "BY_ID", "CATALOGUE", "unique_max"]
