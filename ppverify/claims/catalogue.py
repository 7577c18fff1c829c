"""The claim catalogue: one record per claim, as data.

Sources: "Sec. 1, Prop. 1, ..." and "Sec. 2, Eq. 2, ..." refer to the paper's supplement
(Sections 1 and 2), "ppverify" marks the toolkit's own claims. ``expected`` is the verdict this
catalogue currently obtains; the tests pin it.

Witness samples are drawn by ``ppverify.claims.witness`` (fixed seed): the windows include ties,
zeros, a single element, near-ties, and inputs from 2^-1000 to 2^1000; alpha runs from -1e4 to
1e6.
"""

from __future__ import annotations

from . import checks_lp as L
from . import checks_ppool as P
from . import preds as W
from .model import CONDITIONAL, PROVED, REFUTED, Claim
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
BIG = [1e4]


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


def _none():
    return []


CATALOGUE: list[Claim] = [
    # ---------------------------------------------------------------- Proposition 1
    Claim("P1", "Sec. 1, Prop. 1 (statement)",
          "P-pooling is equivalent to average pooling when alpha = 0 (forward and backward)",
          (H_NONNEG, "alpha = 0 exactly"),
          "y|_{a=0} = (1/N) sum x  and  dy/dx_i|_{a=0} = 1/N",
          "Sum over i=1..N with symbolic N; backward by reduction",
          P.p1_overall, make(W.avg_at_zero, lambda: ppool_points(None, [0.0])), expected=PROVED),
    Claim("P1.fwd.subst", "Sec. 1, Prop. 1, forward step 1",
          "sum x_i^(a+1) / sum x_i^a = sum x_i^1 / sum x_i^0  (at a = 0)", (H_NONNEG,),
          "Eq(y.subs(a, 0), Sum(x**1)/Sum(x**0))", "Sum with symbolic N",
          P.p1_fwd_subst, make(W.value_is_mean_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED),
    Claim("P1.fwd.mean", "Sec. 1, Prop. 1, forward step 2",
          "sum x_i^1 / sum x_i^0 = (1/N) sum x_i", (H_NONNEG,),
          "Eq(Sum(x)/Sum(1), Sum(x)/N)", "Sum with symbolic N, doit",
          P.p1_fwd_mean, make(W.value_is_mean_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED),
    Claim("P1.bwd.grad", "Sec. 1, Prop. 1, backward step 1",
          "dE/dx_i = ((a+1) x_i^a sum x^a - a x_i^(a-1) sum x^(a+1)) / (sum x^a)^2 delta",
          (H_POS,), "Eq(diff((x_i^(a+1)+B)/(x_i^a+A), x_i), printed)",
          "reduction: the other elements enter through A, B only",
          P.p1_bwd_grad, make(W.printed_grad_matches, lambda: ppool_points(_pos)),
          expected=PROVED),
    Claim("P1.bwd.subst", "Sec. 1, Prop. 1, backward step 2",
          "(at a = 0) ... = x_i^0 sum x^0 / (sum x^0)^2 delta", (H_NONNEG,),
          "Eq(printed.subs(a, 0), x_i^0 S0/S0^2); the term a x_i^(a-1) at x_i = 0",
          "reduction and exact evaluation at x_i = 0",
          P.p1_bwd_subst, make(W.printed_subst_at_zero, lambda: ppool_points(_pos, [0.0])),
          expected=CONDITIONAL),
    Claim("P1.bwd.value", "Sec. 1, Prop. 1, backward step 3",
          "x_i^0 sum x^0 / (sum x^0)^2 delta = N/N^2 delta = (1/N) delta", (H_NONNEG,),
          "Eq(Sum(1)/Sum(1)**2, 1/N)", "Sum with symbolic N",
          P.p1_bwd_value, make(W.grads_one_over_n_at_zero, lambda: ppool_points(None, [0.0])),
          expected=PROVED),
    Claim("P1.cont", "ppverify (Prop. 1 read with zeros)",
          "y(alpha) is continuous at alpha = 0, so P-pooling with alpha near 0 behaves like "
          "average pooling", (H_POS + " (unstated)",),
          "Eq(Limit(y, a, 0, '+-'), y(0))", "limits; exact example with a zero",
          P.p1_continuity,
          make(W.continuous_at_zero, lambda: ppool_points(
              lambda xs, a: positive(xs) and max(xs) / min(xs) < 1e40, [0.0])),
          expected=CONDITIONAL),
    # ---------------------------------------------------------------- Proposition 2
    Claim("P2", "Sec. 1, Prop. 2 (statement)",
          "P-pooling performs as max pooling when alpha -> +inf (forward and backward)",
          ("x_i >= 0, x_max > 0", H_UNIQUE),
          "lim y = x_max and lim dy/dx_i = [x_i = x_max]",
          "reduction to k tied maxima and ratios r_j < 1; atomic limits",
          P.p2_overall, make(W.maxpool_limit, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    Claim("P2.fwd.limit", "Sec. 1, Prop. 2, forward (conclusion)",
          "lim_{a->+inf} sum x^(a+1) / sum x^a = x_max", ("x_i >= 0, x_max > 0",),
          "Eq(Limit(y, a, oo), x_max)", "reduction y = x_max (k+U)/(k+V)",
          P.p2_fwd_limit, make(W.value_limit_max, lambda: ppool_points(_tsep, BIG)),
          expected=PROVED),
    Claim("P2.fwd.step", "Sec. 1, Prop. 2, forward step 1",
          "sum x^(a+1) / sum x^a = x_max^(a+1) / x_max^a  (the other elements dropped)",
          ("x_i >= 0",), "Eq(sum x^(a+1)/sum x^a, x_max)", "exact counterexample",
          P.p2_fwd_step, make(W.sums_equal_max_terms, lambda: ppool_points(
              lambda xs, a: positive(xs) and abs(a) <= 10)), expected=REFUTED),
    Claim("P2.bwd.step1", "Sec. 1, Prop. 2, backward step 1",
          "lim dE/dx_i = ((a+1) x_i^a x_max^a - a x_i^(a-1) x_max^(a+1)) / x_max^(2a) delta",
          (H_POS, H_UNIQUE), "dy/dx_i ~ replaced expression as a -> oo",
          "reduction to k tied maxima; exact tie counterexample",
          P.p2_bwd_step1, make(W.replaced_grad_asymptotic, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    Claim("P2.bwd.max.algebra", "Sec. 1, Prop. 2, backward step 2 (algebra)",
          "((a+1) x_max^(2a) - a x_max^(2a)) / x_max^(2a) = 1", ("x_max > 0",),
          "Eq(((a+1) m^2a - a m^2a)/m^2a, 1)", "algebra",
          P.p2_bwd_max_algebra, make(W.max_algebra, lambda: ppool_points(_pos)),
          expected=PROVED),
    Claim("P2.bwd.max.limit", "Sec. 1, Prop. 2, backward step 2 (conclusion)",
          "lim_{a->+inf} dE/dx_max = delta", ("x_max > 0", H_UNIQUE),
          "Eq(Limit(dy/dx_max, a, oo), 1)", "reduction to k tied maxima",
          P.p2_bwd_max_limit, make(W.max_grad_limit_one, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    Claim("P2.bwd.other.eq", "Sec. 1, Prop. 2, backward step 3 (first equality)",
          "... = ((a+1) x_k^a - a x_k^(a-1) x_max) / x_max^a delta", (H_POS,),
          "Eq(lhs, rhs) after dividing by x_max^a", "algebra",
          P.p2_bwd_other_eq, make(W.other_eq, lambda: ppool_points(
              lambda xs, a: positive(xs) and _has_nonmax(xs) and a < 1e3)), expected=PROVED),
    Claim("P2.bwd.other.upper", "Sec. 1, Prop. 2, backward step 3 (upper bound)",
          "((a+1) x_k^a - a x_k^(a-1) x_max)/x_max^a < ((a+1) x_k^a - a x_k^a)/x_max^a",
          (H_APOS, H_NONMAX), "lhs - rhs < 0", "sign with x_max = x_k + d",
          P.p2_bwd_other_upper, make(W.other_upper, lambda: ppool_points(
              lambda xs, a: _has_nonmax(xs) and a > 0 and a < 1e3)), expected=PROVED),
    Claim("P2.bwd.other.upper_eq", "Sec. 1, Prop. 2, backward step 3 (upper bound value)",
          "((a+1) x_k^a - a x_k^a)/x_max^a = (x_k/x_max)^a", (H_POS,),
          "Eq(lhs, (x_k/x_max)^a)", "algebra",
          P.p2_bwd_other_upper_eq, make(W.other_upper_eq, lambda: ppool_points(
              lambda xs, a: _has_nonmax(xs) and a < 1e3)), expected=PROVED),
    Claim("P2.bwd.other.upper_lim", "Sec. 1, Prop. 2, backward step 3 (upper bound limit)",
          "(x_k/x_max)^a delta = 0  (as a -> +inf)", ("0 <= x_k < x_max",),
          "Eq(Limit((x_k/x_max)**a, a, oo), 0)", "limit with x_k/x_max = 1/(1+t)",
          P.p2_bwd_other_upper_lim, make(W.ratio_power_small, lambda: ppool_points(_tsep, BIG)),
          expected=PROVED),
    Claim("P2.bwd.other.lower", "Sec. 1, Prop. 2, backward step 4 (lower bound)",
          "((a+1) x_k^a - a x_k^(a-1) x_max)/x_max^a > ((a+1) x_k^(a-1) - a x_k^(a-1) x_max)"
          "/x_max^a", (H_APOS, H_NONMAX, "x_k > 1 (unstated)"),
          "lhs - rhs > 0", "factorisation, exact counterexample",
          P.p2_bwd_other_lower, make(W.other_lower, lambda: ppool_points(
              lambda xs, a: any(1 < v < max(xs) for v in xs) and 0 < a < 1e3)),
          expected=CONDITIONAL),
    Claim("P2.bwd.other.lower_eq", "Sec. 1, Prop. 2, backward step 4 (first equality)",
          "((a+1) x_k^(a-1) - a x_k^(a-1) x_max)/x_max^a = (x_k/x_max)^(a-1) ((a+1-x_max)"
          "/x_max)", (H_POS,), "Eq(lhs, rhs)", "algebra, exact counterexample",
          P.p2_bwd_other_lower_eq, make(W.other_lower_eq, lambda: ppool_points(
              lambda xs, a: positive(xs) and _has_nonmax(xs) and 0 < a <= 10)),
          expected=REFUTED),
    Claim("P2.bwd.other.lower_eq2", "Sec. 1, Prop. 2, backward step 4 (second equality)",
          "(x_k/x_max)^(a-1) ((a+1-x_max)/x_max) = (x_k/x_max)^(a-1) (a/x_max)", (H_POS,),
          "Eq(a + 1 - x_max, a)", "algebra, exact counterexample",
          P.p2_bwd_other_lower_eq2, make(W.other_lower_eq2, _none), expected=REFUTED),
    Claim("P2.lhopital.step", "Sec. 1, Prop. 2, L'Hospital step",
          "(x_k/x_max)^(a-1) (a/x_max) = (a/x_max)/(x_k/x_max)^(1-a) = (1/x_max)/(x_k/((1-a) "
          "x_max))^(-a)", (H_NONMAX,), "Eq(second, third)", "exact counterexample",
          P.p2_lhopital_step, make(W.lhopital_step, _none), expected=REFUTED),
    Claim("P2.lhopital.limit", "Sec. 1, Prop. 2, L'Hospital step (limit)",
          "lim_{a->+inf} (x_k/x_max)^(a-1) (a/x_max) delta = 0", (H_NONMAX,),
          "Eq(Limit(r**(a-1)*a/x_max, a, oo), 0)", "limit with r = 1/(1+t)",
          P.p2_lhopital_limit, make(W.lhopital_limit, lambda: ppool_points(_tsep, BIG)),
          expected=PROVED),
    Claim("P2.squeeze", "Sec. 1, Prop. 2, last line",
          "As 0 < dE/dx_k < 0, so dE/dx_k = 0", (H_NONMAX,),
          "reduce_inequalities([0 < z, z < 0])", "satisfiability",
          P.p2_squeeze_printed, make(W.squeeze_printed, _none), expected=REFUTED),
    Claim("P2.bwd.other.limit", "Sec. 1, Prop. 2, backward (conclusion)",
          "lim_{a->+inf} dE/dx_k = 0 for every non-maximal x_k", ("0 <= x_k < x_max",),
          "Eq(Limit(dy/dx_k, a, oo), 0)", "reduction with a bound r^a((a+1) + a/r)",
          P.p2_bwd_other_limit, make(W.nonmax_grad_limit_zero, lambda: ppool_points(_tsep, BIG)),
          expected=PROVED),
    # ---------------------------------------------------------------- toolkit: P-pooling
    Claim("T.bounds", "ppverify", "min x <= y <= max x for every alpha", (H_POS,),
          "y - c = Sum(x^a (x - c))/Sum(x^a)", "Sum with symbolic N; termwise sign",
          P.t_bounds, make(W.bounds, lambda: ppool_points()), expected=PROVED),
    Claim("T.dalpha.cov", "ppverify",
          "dy/dalpha = sum_i w_i ln(x_i) (x_i - y), w_i = x_i^a / sum x^a (a weighted "
          "covariance of ln x and x)", (H_POS,), "Eq(diff(y, a), Cov_w(ln x, x))",
          "Sum with symbolic N",
          P.t_dalpha_cov, make(W.dalpha_cov, _pos_some([-3.0, -0.5, 0.0, 0.5, 1.0, 3.0, 10.0])),
          expected=PROVED),
    Claim("T.monotone", "ppverify", "y is non-decreasing in alpha (dy/dalpha >= 0)", (H_POS,),
          "Cov_w(ln x, x) = (1/2) sum_ij w_i w_j (ln x_i - ln x_j)(x_i - x_j) >= 0",
          "covariance form (Sum) + Chebyshev pair expansion",
          P.t_monotone, make(W.monotone, lambda: ppool_points()), expected=PROVED),
    Claim("T.minus_inf", "ppverify", "lim_{alpha -> -inf} y = min x", (H_POS,),
          "Eq(Limit(y, a, -oo), x_min)", "reduction to k tied minima",
          P.t_minus_inf, make(W.min_limit, lambda: ppool_points(
              lambda xs, a: positive(xs) and all(v == min(xs) or v >= min(xs) / 0.9
                                                 for v in xs), [-1e4])), expected=PROVED),
    Claim("T.harmonic", "ppverify", "alpha = -1 gives the harmonic mean N / sum(1/x_i)",
          (H_POS,), "Eq(y.subs(a, -1), N/Sum(1/x))", "Sum with symbolic N",
          P.t_harmonic, make(W.harmonic, _pos_some([-1.0])), expected=PROVED),
    Claim("T.homogeneity", "ppverify", "y(c x) = c y(x) for c > 0 (homogeneous of degree 1)",
          (H_POS, "c > 0"), "Eq(y(c x), c y(x))", "Sum with symbolic N",
          P.t_homogeneity, make(W.homogeneity, lambda: ppool_points(
              lambda xs, a: max(xs) < 1e305 and abs(a) < 1e5)), expected=PROVED),
    Claim("T.euler", "ppverify",
          "sum_i x_i dy/dx_i = y (Euler's relation) and dy/dx_i(c x) = dy/dx_i(x) (the "
          "gradient is homogeneous of degree 0)",
          (H_POS,), "Eq(Sum(x_i dy/dx_i), y); Eq(g(c x), g(x))",
          "reduction + linearity; homogeneity",
          P.t_euler, make(W.euler, lambda: ppool_points()), expected=PROVED),
    Claim("T.grad.max.positive", "ppverify", "dy/dx_max > 0 for alpha >= 0", (H_POS,
          "alpha >= 0"), "w_max (1 + a (x_max - y)/x_max) > 0", "reduction; y <= x_max",
          P.t_grad_max_positive, make(W.max_grad_positive, lambda: ppool_points(
              lambda xs, a: positive(xs) and a >= 0)), expected=PROVED),
    Claim("T.grad.max.le1", "ppverify (a natural reading of Prop. 2)",
          "0 < dy/dx_max <= 1: the max never gets more gradient than max pooling gives it",
          (H_POS, "alpha >= 0"), "dy/dx_max <= 1", "exact counterexample",
          P.t_grad_max_le1, make(W.max_grad_le1, lambda: ppool_points(
              lambda xs, a: positive(xs), [2.0, 3.0, 10.0])), expected=REFUTED),
    Claim("T.grad.nonmax.sign", "ppverify",
          "a non-maximal element's gradient is 1/N > 0 at alpha = 0 and negative for all "
          "large alpha", (H_NONMAX,), "sign(dy/dx_k) = sign((a+1) x_k - a y)",
          "reduction; y -> x_max",
          P.t_grad_nonmax_sign, make(W.nonmax_negative, lambda: ppool_points(
              lambda xs, a: separated_max(xs) and _has_nonmax(xs), [1e3, 1e4])),
          expected=PROVED),
    Claim("T.grad.nonmax.peak", "ppverify",
          "|dy/dx_k| for a non-maximal x_k is not monotone in alpha: it crosses 0, peaks at a "
          "finite alpha and decays to 0", (H_NONMAX,), "g(0) > 0, g < 0 eventually, g -> 0",
          "argument from other claims + continuity; exact values",
          P.t_grad_nonmax_peak, make(W.nonmax_peak, lambda: [
              {"x": xs, "alpha": None} for xs in ([1.0, 2.0], [3.0, 4.0], [0.5, 0.25, 2.0],
                                                  [0.0, 3.0, 5.0])]), expected=PROVED),
    Claim("T.ties.torch", "ppverify",
          "as alpha -> +inf the P-pooling backward equals torch's max-pooling backward",
          (H_UNIQUE,), "lim dy/dx = max_pool grad (first maximum gets 1)",
          "reduction to k tied maxima",
          P.t_ties_torch, make(W.ties_match_torch, lambda: ppool_points(_sep, BIG)),
          expected=CONDITIONAL),
    Claim("T.ties.equal", "ppverify",
          "a window of N equal elements has y = c and dy/dx_i = 1/N for every alpha",
          ("x_i = c > 0 for all i",), "Eq(dy/dx_i, 1/N)", "reduction with equal others",
          P.t_ties_equal, make(W.equal_window, lambda: ppool_points(
              lambda xs, a: positive(xs) and len(set(xs)) == 1)), expected=PROVED),
    Claim("T.zero.grad", "ppverify",
          "at a zero input dy/dx_z = -inf for 0 < alpha < 1 (-y/sum x at alpha = 1, 0 above)",
          ("x_z = 0, at least one positive element",),
          "Limit(dy/dx_z, x_z, 0, '+')", "reduction; one-sided limits",
          P.t_zero_grad, make(W.zero_grad, lambda: ppool_points(
              lambda xs, a: 0.0 in xs and max(xs) > 0, [0.25, 0.5, 0.75, 1.0, 2.0, 3.0])),
          expected=PROVED),
    # ---------------------------------------------------------------- Sec. 2: Lp norm
    Claim("E1.limit", "Sec. 2, Eq. 1 and text (p -> +inf is max pooling)",
          "f_Lp(R) = (sum x^p)^(1/p) tends to max pooling as p -> +inf",
          ("x_i >= 0, x_max > 0",), "Eq(Limit((sum x^p)^(1/p), p, oo), x_max)",
          "reduction to k tied maxima",
          L.e1_limit, make(W.lp_value_limit_max, lambda: param_points(
              lambda xs, p: max(xs) > 0, [1e4])), expected=PROVED),
    Claim("E2.chain", "Sec. 2, Eq. 2 (first equality)",
          "dE/dx_i = sum_j dE/dy_j dy_j/dx_i", ("E differentiable",),
          "Eq(diff(E(y1(x), y2(x)), x), sum_j E_j y_j')", "SymPy chain rule",
          L.eq2_chain, make(W.chain_rule_reference, lambda: [
              {"x": xs, "alpha": al} for xs in ([1.0, 2.0, 3.0], [0.5, 4.0, 0.25, 2.0],
                                                [2.0, 2.0, 1.0]) for al in (-2.0, 0.5, 3.0)]),
          expected=PROVED),
    Claim("E2.intro.p0", "Sec. 2, introduction (gradient explodes at p = 0)",
          "the gradient will explode when p = 0", ("x_i > 0",
          "at least two positive elements (unstated)"),
          "Limit(dy/dx_i, p, 0, '+') = oo", "reduction dy/dx_i = (x_i^p/S)^(1-1/p)",
          L.eq2_dx_p0, make(W.lp_dx_blows_up_near_0, lambda: param_points(
              lambda xs, p: sum(1 for v in xs if v > 0) >= 2 and max(xs) < 1e100
              and max(xs) / min(v for v in xs if v > 0) < 1e6, [1e-3])),
          expected=CONDITIONAL),
    Claim("E2.dx", "Sec. 2, Eq. 2 (dE/dx_i)",
          "dE/dx_i = x_i^(p-1) (sum x^p)^(p/(1-p)) delta", ("x_i > 0",),
          "Eq(diff((sum x^p)^(1/p), x_i), printed)", "exact counterexample",
          L.eq2_dx_printed, make(W.lp_printed_dx, lambda: param_points(
              lambda xs, p: positive(xs) and len(xs) >= 2 and p != 1.0 and abs(p) <= 10)),
          expected=REFUTED),
    Claim("E2.dx.correct", "ppverify (corrected Eq. 2)",
          "dy/dx_i = x_i^(p-1) (sum x^p)^((1-p)/p) = y x_i^(p-1) / sum x^p", ("x_i > 0",
          "p != 0"), "Eq(diff(y, x_i), corrected)", "reduction",
          L.eq2_dx_correct, make(W.lp_correct_dx, lambda: param_points(
              lambda xs, p: positive(xs))), expected=PROVED),
    Claim("E2.dp", "Sec. 2, Eq. 2 (dE/dp)",
          "dE/dp = (-ln(sum x^p)/p^2 + x_i^(p-1)/sum x^p) (sum x^p)^(1/p) delta", ("x_i > 0",),
          "Eq(diff(y, p), printed)", "exact counterexample (logarithms)",
          L.eq2_dp_printed, make(W.lp_printed_dp, lambda: param_points(
              lambda xs, p: positive(xs) and len(xs) >= 2 and abs(p) <= 10)),
          expected=REFUTED),
    Claim("E2.dp.correct", "ppverify (corrected Eq. 2)",
          "dy/dp = y (-ln S / p^2 + sum x^p ln x / (p S)), S = sum x^p", ("x_i > 0", "p != 0"),
          "Eq(diff(S(p)**(1/p), p), corrected)", "chain rule on S(p)",
          L.eq2_dp_correct, make(W.lp_correct_dp, lambda: param_points(
              lambda xs, p: positive(xs))), expected=PROVED),
    Claim("E2.a.p0", "Sec. 2, claim (a), p = 0",
          "numerical issues will occur in dE/dp when p = 0", ("x_i > 0",
          "at least two positive elements (unstated)"),
          "Limit(dy/dp, p, 0, '+') = -oo", "reduction to S(p), S'(p); limits",
          L.eq2_p0, make(W.lp_dp_blows_up_near_0, lambda: param_points(
              lambda xs, p: sum(1 for v in xs if v > 0) >= 2 and max(xs) < 1e100
              and min(v for v in xs if v > 0) > 1e-100, [1e-6])),
          expected=CONDITIONAL),
    Claim("E2.a.pinf", "Sec. 2, claim (a), p -> +inf",
          "dE/dp will explode when p -> +inf", ("x_i > 0",), "Limit(dy/dp, p, oo)",
          "SymPy limit", L.eq2_dp_pinf, make(W.lp_dp_explodes, lambda: param_points(
              lambda xs, p: positive(xs) and max(xs) < 1e100, [1e3])), expected=REFUTED),
    Claim("E2.b.p1", "Sec. 2, claim (b), p = 1",
          "numerical issues will occur in dE/dx_i when p = 1", ("x_i > 0",),
          "dy/dx_i at and near p = 1", "substitution and limit",
          L.eq2_dx_p1, make(W.lp_dx_issue_at_1, lambda: param_points(
              lambda xs, p: positive(xs), [1.0])), expected=REFUTED),
    Claim("E2.b.pinf", "Sec. 2, claim (b), p -> +inf",
          "dE/dx_i will explode when p -> +inf", ("x_i > 0",),
          "0 <= dy/dx_i = (x_i^p/S)^((p-1)/p) <= 1 for p >= 1", "bound + limits",
          L.eq2_dx_pinf, make(W.lp_dx_explodes, lambda: param_points(
              lambda xs, p: positive(xs), [10.0, 1e3, 1e6])), expected=REFUTED),
    Claim("E2.avg", "Sec. 2, first reason (p = 1)",
          "the Lp gradient w.r.t. the input is not equal to the gradient of average pooling "
          "(p = 1)", ("x_i > 0", "N >= 2 (unstated)"), "Ne(1, 1/N)", "substitution, solve",
          L.sec2_avg, make(W.lp_differs_from_avg_at_1, lambda: param_points(
              lambda xs, p: len(xs) >= 2, [1.0])), expected=CONDITIONAL),
    Claim("E2.max", "Sec. 2, first reason (p -> +inf)",
          "the Lp gradient w.r.t. the input is not equal to the gradient of max pooling "
          "(p -> +inf)", ("x_i > 0",), "lim dy/dx_i vs one-hot", "limits",
          L.sec2_max, make(W.lp_differs_from_max, _none), expected=REFUTED),
    Claim("E2.conclusion", "Sec. 2, conclusion",
          "dE/dx_i cannot be calculated in the boundary conditions of the Lp norm (p = 1, "
          "p -> +inf)", ("x_i > 0",), "see E2.b.p1, E2.b.pinf", "combination",
          L.sec2_conclusion, make(W.lp_not_computable, _none), expected=REFUTED),
    # ---------------------------------------------------------------- toolkit: power mean
    Claim("PM.grad", "ppverify (power mean / GeM)",
          "dM/dx_i = (1/N) (x_i / M)^(p-1), M = ((1/N) sum x^p)^(1/p)", ("x_i > 0", "p != 0"),
          "Eq(diff(M, x_i), (x_i/M)**(p-1)/N)", "reduction",
          L.pm_grad, make(W.pm_grad, lambda: param_points(lambda xs, p: positive(xs))),
          expected=PROVED),
    Claim("PM.p1", "ppverify (power mean / GeM)",
          "at p = 1 the power mean is average pooling, dM/dx_i = 1/N", ("x_i >= 0",),
          "Eq(diff(M.subs(p, 1), x_i), 1/N)", "reduction",
          L.pm_p1, make(W.pm_is_avg_at_1, lambda: param_points(None, [1.0])),
          expected=PROVED),
    Claim("PM.p0", "ppverify (power mean / GeM)",
          "as p -> 0 the power mean tends to the geometric mean and dM/dp to M_0 Var(ln x)/2 "
          "(no singularity)", ("x_i > 0",), "series of ln M_p at p = 0", "moment reduction",
          L.pm_p0, make(W.pm_p0_limit, lambda: param_points(
              lambda xs, p: positive(xs) and max(xs) / min(xs) < 1e40, [0.0])),
          expected=PROVED),
    Claim("PM.pinf", "ppverify (power mean / GeM)",
          "as p -> +inf the power mean tends to max, dM/dx_i to 1/k for each of k tied maxima",
          ("x_i >= 0, x_max > 0",), "Limit(dM/dx_max, p, oo) = 1/k", "reduction",
          L.pm_pinf, make(W.pm_pinf_limit, lambda: param_points(
              lambda xs, p: ties_separated(xs), [1e6])), expected=PROVED),
]

BY_ID: dict[str, Claim] = {c.id: c for c in CATALOGUE}
assert len(BY_ID) == len(CATALOGUE), "claim ids must be unique"

__all__ = ["BY_ID", "CATALOGUE", "unique_max"]
