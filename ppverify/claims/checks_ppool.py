"""SymPy checks for the P-pooling claims (supplement Sec. 1 and the toolkit's own claims).

Each function returns an ``Outcome``; the claim records in ``catalogue.py`` say which
function checks which claim. See ``sym.py`` for the two ways of covering every window size.
"""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .model import CONDITIONAL, PROVED, REFUTED, Outcome
from .sym import (
    X0,
    A,
    B,
    E,
    N,
    S,
    U,
    V,
    X,
    a,
    ap,
    atomic_limits,
    c,
    d,
    depends,
    i,
    k,
    lehmer,
    lehmer_grad_printed,
    m,
    require,
    t,
    undecided_to_unknown,
    xi,
    xk,
    z,
    zero,
)

ALL_N_SUM = "SymPy Sum/IndexedBase over i=1..N, symbolic N (all N)"
ALL_N_RED = ("SymPy on a reduction covering all N: the other elements enter only through "
             "sums independent of x_i (A = sum_{j!=i} x_j^a, B = sum_{j!=i} x_j^(a+1))")
ALL_N_LIM = ("SymPy on a reduction covering all N: y/x_max = (k+U)/(k+V) with k tied maxima, "
             "U = sum r_j^(a+1), V = sum r_j^a, r_j = x_j/x_max < 1; each term -> 0 by the "
             "atomic limits r^a, a r^a -> 0 (SymPy), finitely many terms")


def F(v) -> Fraction:
    return Fraction(v)


# ------------------------------------------------------------------ Proposition 1 (alpha = 0)


def _p1_forward() -> None:
    y = S(X0[i] ** (a + 1)) / S(X0[i] ** a)
    mid = S(X0[i] ** 1) / S(X0[i] ** 0)
    zero(y.subs(a, 0) - mid, "y|_{a=0} - sum x^1 / sum x^0")
    zero(mid.doit() - S(X0[i]) / N, "sum x^1 / sum x^0 - (1/N) sum x")


@undecided_to_unknown
def p1_overall() -> Outcome:
    _p1_forward()
    # backward: at alpha = 0 exactly, y = (x_i + B1)/N with B1 = sum_{j != i} x_j (independent)
    b1 = sp.Symbol("B_1", nonnegative=True)
    x0 = sp.Symbol("x_i", nonnegative=True)
    zero(sp.diff((x0 + b1) / N, x0) - 1 / N, "d/dx_i of (x_i + B1)/N - 1/N")
    return Outcome(PROVED, ALL_N_SUM + "; backward by reduction to (x_i + sum_{j!=i} x_j)/N",
                   "at a = 0 (0^0 = 1) y = (1/N) sum x and dy/dx_i = 1/N for all N, zeros "
                   "included")


@undecided_to_unknown
def p1_fwd_subst() -> Outcome:
    y = S(X0[i] ** (a + 1)) / S(X0[i] ** a)
    zero(y.subs(a, 0) - S(X0[i] ** 1) / S(X0[i] ** 0), "substitution a = 0")
    return Outcome(PROVED, ALL_N_SUM, "substituting a = 0 gives sum x^1 / sum x^0 (0^0 = 1)")


@undecided_to_unknown
def p1_fwd_mean() -> Outcome:
    zero((S(X0[i] ** 1) / S(X0[i] ** 0)).doit() - S(X0[i]) / N, "sum x / sum 1 - mean")
    return Outcome(PROVED, ALL_N_SUM, "sum x^0 = N, so sum x^1 / sum x^0 = (1/N) sum x")


@undecided_to_unknown
def p1_bwd_grad() -> Outcome:
    y = lehmer(xi, A, B, a)
    zero(sp.diff(y, xi) - lehmer_grad_printed(xi, A, B, a), "dy/dx_i - printed expression")
    return Outcome(PROVED, ALL_N_RED,
                   "the quotient rule gives exactly the printed numerator and (sum x^a)^2 "
                   "(x_i > 0)")


@undecided_to_unknown
def p1_bwd_subst() -> Outcome:
    a0 = sp.Symbol("A_0", nonnegative=True)  # number of other elements, sum_{j!=i} x_j^0
    b1 = sp.Symbol("B_1", nonnegative=True)
    printed = lehmer_grad_printed(xi, A, B, a).subs(a, 0).subs({A: a0, B: b1})
    target = xi**0 * (1 + a0) / (1 + a0) ** 2
    zero(printed - target, "printed expression at a = 0 - x_i^0 sum x^0 / (sum x^0)^2")
    # at x_i = 0 the dropped term is a x_i^(a-1) = 0 * 0^(-1)
    term = sp.Integer(0) * sp.Integer(0) ** (sp.Integer(0) - 1)
    require(term is sp.nan, "0 * 0^(-1) is undefined")
    return Outcome(CONDITIONAL, ALL_N_RED + "; exact evaluation at x_i = 0",
                   "valid for x_i > 0 (unstated); at x_i = 0 the term a x_i^(a-1) is 0*0^(-1), "
                   "undefined (the conclusion 1/N still holds: see P1)",
                   {"x": [0.0, 1.0], "alpha": 0.0, "i": 0, "term": "0 * 0**(-1) = nan"})


@undecided_to_unknown
def p1_bwd_value() -> Outcome:
    s0 = S(X0[i] ** 0).doit()
    require(s0 == N, "sum x^0 = N")
    zero(1 * s0 / s0**2 - 1 / N, "N/N^2 - 1/N")
    return Outcome(PROVED, ALL_N_SUM, "x_i^0 sum x^0 / (sum x^0)^2 = N/N^2 = 1/N (0^0 = 1)")


@undecided_to_unknown
def p1_continuity() -> Outcome:
    # positives: y(a) = T(a)/S(a), finite sums of exp(a ln x_j), S(0) = N > 0
    require(sp.limit(xi**a, a, 0) == 1, "lim x^a = 1 (x > 0)")
    zero(lehmer(xi, A, B, a).subs(a, 0) - (xi + B) / (1 + A), "y continuous at 0 (reduction)")
    # with a zero: x = (0, 1)
    y = (sp.Integer(0) ** (a + 1) + 1) / (sp.Integer(0) ** a + 1)
    right = sp.limit(y.subs(a, ap), ap, 0, "+")
    left = sp.limit(y.subs(a, -ap), ap, 0, "+")
    at0 = sp.Rational(1, 2)  # 0^0 = 1: (0 + 1)/(1 + 1)
    require(right == 1, "y(0+) = 1 for x = (0, 1)")
    require(left == 0, "y(0-) = 0 for x = (0, 1)")
    return Outcome(CONDITIONAL, "SymPy limits; reduction for x > 0 (all N), exact limits for "
                   "x = (0, 1)",
                   "continuous at a = 0 only if every x_i > 0; x = (0,1): y(0-) = 0, "
                   "y(0) = 1/2, y(0+) = 1 (mean of the positives)",
                   {"x": [0.0, 1.0], "alpha": 0.0, "y(0-)": str(left), "y(0)": str(at0),
                    "y(0+)": str(right)})


# ------------------------------------------------------------------ Proposition 2 (alpha -> oo)


def _ratio_limits() -> tuple:
    """y/x_max and the max element's gradient in the reduced symbols, with their limits."""
    atomic_limits()
    # k maxima equal to x_max = m, others x_j = r_j m: sum x^a = m^a (k + V), sum x^(a+1) =
    # m^(a+1) (k + U), U = sum r_j^(a+1) <= V = sum r_j^a
    y = (k * m ** (ap + 1) + m ** (ap + 1) * U) / (k * m**ap + m**ap * V)
    zero(y - m * (k + U) / (k + V), "y = x_max (k + U)/(k + V)")
    y_over_m = (k + U) / (k + V)
    g_max = (1 / (k + V)) * ((ap + 1) - ap * y_over_m)
    zero(g_max - (1 / (k + V)) * (1 + E / (k + V)) .subs(E, ap * (V - U)),
         "g_max = (1 + a(V - U)/(k+V)) / (k+V)")
    lim_y = y_over_m.subs({U: 0, V: 0})
    lim_g = ((1 / (k + V)) * (1 + E / (k + V))).subs({V: 0, E: 0})
    return lim_y, lim_g


def _nonmax_bound_limit() -> None:
    """|dy/dx_k| <= r^a ((a+1) + a/r) -> 0 for r = x_k/x_max = 1/(1+t) < 1."""
    atomic_limits()
    zero(lehmer_grad_printed(xi, A, B, ap)
         - xi**ap / (xi**ap + A) * ((ap + 1) - ap * lehmer(xi, A, B, ap) / xi),
         "dy/dx_k = w_k ((a+1) - a y/x_k)")
    r = 1 / (1 + t)
    bound = r**ap * ((ap + 1) + ap / r)
    require(sp.limit(bound, ap, sp.oo) == 0, "lim r^a((a+1) + a/r) = 0")
    # the bound: w_k = r^a/(k+V) <= r^a, |(a+1) - a (y/x_max)/r| <= (a+1) + a/r as 0 < y <= x_max
    w = r**ap / (k + V)
    gap = sp.factor(sp.simplify(r**ap - w))
    zero(gap - r**ap * ((k - 1) + V) / (k + V), "r^a - w_k = r^a (k - 1 + V)/(k + V)")
    k0 = sp.Symbol("k_0", integer=True, nonnegative=True)  # k = 1 + k_0 >= 1
    require(((k - 1) + V).subs(k, 1 + k0).is_nonnegative, "k - 1 + V >= 0, so w_k <= r^a")


@undecided_to_unknown
def p2_overall() -> Outcome:
    lim_y, lim_g = _ratio_limits()
    require(lim_y == 1, "y/x_max -> 1")
    _nonmax_bound_limit()
    require(sp.simplify(lim_g - 1 / k) == 0, "dy/dx_max -> 1/k")
    g2 = sp.Rational(1, 2)  # x = (1, 1): y = 1, dy/dx_i = 1/2 for every alpha
    gi = sp.diff(lehmer(xi, A, B, ap), xi).subs({A: 1, B: 1, xi: 1})
    require(sp.simplify(gi - g2) == 0, "x = (1,1): dy/dx_1 = 1/2")
    return Outcome(CONDITIONAL, ALL_N_LIM,
                   "y -> x_max always; dy/dx -> one-hot only for a unique maximum: with k tied "
                   "maxima each gets 1/k (x = (1,1): 1/2 for every a)",
                   {"x": [1.0, 1.0], "alpha": 1e4, "dy/dx": ["1/2", "1/2"],
                    "max pooling": ["1", "0"]})


@undecided_to_unknown
def p2_fwd_limit() -> Outcome:
    lim_y, _ = _ratio_limits()
    require(lim_y == 1, "y/x_max -> 1")
    return Outcome(PROVED, ALL_N_LIM, "y = x_max (k+U)/(k+V) -> x_max for x >= 0, ties and "
                   "zeros included")


@undecided_to_unknown
def p2_fwd_step() -> Outcome:
    y = lehmer(sp.Integer(2), sp.Integer(1), sp.Integer(1), sp.Integer(1))
    require(y == sp.Rational(5, 3), "x = (1,2), a = 1: y = 5/3")
    require(sp.Integer(2) ** 2 / sp.Integer(2) ** 1 == 2, "x_max^(a+1)/x_max^a = 2")
    return Outcome(REFUTED, "exact rational evaluation",
                   "as an identity it fails whenever an element is below x_max: x = (1,2), a = 1:"
                   " 5/3 != 2 (only the limits agree, see P2.fwd.limit)",
                   {"x": [1.0, 2.0], "alpha": 1.0, "lhs": "5/3", "rhs": "2"})


@undecided_to_unknown
def p2_bwd_step1() -> Outcome:
    lim_y, lim_g = _ratio_limits()
    require(sp.simplify(lim_g - 1 / k) == 0, "dy/dx_max -> 1/k")
    replaced = ((ap + 1) * m**ap * m**ap - ap * m ** (ap - 1) * m ** (ap + 1)) / m ** (2 * ap)
    require(sp.simplify(replaced) == 1, "replaced expression at x_i = x_max is 1")
    return Outcome(CONDITIONAL, ALL_N_LIM,
                   "dropping the other elements' sums is asymptotically right only for a unique "
                   "maximum: with k ties the true gradient tends to 1/k, the replaced one is 1",
                   {"x": [1.0, 1.0], "alpha": 10.0, "true": "1/2", "replaced": "1"})


@undecided_to_unknown
def p2_bwd_max_algebra() -> Outcome:
    lhs = ((ap + 1) * m ** (2 * ap) - ap * m ** (2 * ap)) / m ** (2 * ap)
    zero(lhs - 1, "((a+1) m^2a - a m^2a)/m^2a - 1")
    return Outcome(PROVED, "SymPy algebra (x_max > 0)", "((a+1) - a) x_max^2a / x_max^2a = 1")


@undecided_to_unknown
def p2_bwd_max_limit() -> Outcome:
    _, lim_g = _ratio_limits()
    require(sp.simplify(lim_g - 1 / k) == 0, "dy/dx_max -> 1/k")
    return Outcome(CONDITIONAL, ALL_N_LIM,
                   "dy/dx_max -> 1/k for k tied maxima: = 1 only for a unique maximum "
                   "(x = (2,1,2): 1/2 each)",
                   {"x": [2.0, 1.0, 2.0], "alpha": 1e4, "limit": ["1/2", "0", "1/2"]})


@undecided_to_unknown
def p2_bwd_other_eq() -> Outcome:
    lhs = ((ap + 1) * xk**ap * m**ap - ap * xk ** (ap - 1) * m ** (ap + 1)) / m ** (2 * ap)
    rhs = ((ap + 1) * xk**ap - ap * xk ** (ap - 1) * m) / m**ap
    zero(lhs - rhs, "divide numerator and denominator by x_max^a")
    return Outcome(PROVED, "SymPy algebra (x_k, x_max > 0)", "dividing by x_max^a is exact")


def _upper_sides(mm):
    lhs = ((ap + 1) * xk**ap - ap * xk ** (ap - 1) * mm) / mm**ap
    rhs = ((ap + 1) * xk**ap - ap * xk**ap) / mm**ap
    return lhs, rhs


@undecided_to_unknown
def p2_bwd_other_upper() -> Outcome:
    lhs, rhs = _upper_sides(xk + d)  # x_max = x_k + d, d > 0
    diff = sp.factor(sp.simplify(lhs - rhs))
    require(diff.is_negative, f"lhs - rhs = {diff} < 0")
    return Outcome(PROVED, "SymPy sign with x_max = x_k + d, d > 0 (a > 0)",
                   f"lhs - rhs = {diff} < 0")


@undecided_to_unknown
def p2_bwd_other_upper_eq() -> Outcome:
    _, rhs = _upper_sides(m)
    zero(rhs - (xk / m) ** ap, "((a+1)x_k^a - a x_k^a)/x_max^a - (x_k/x_max)^a")
    return Outcome(PROVED, "SymPy algebra (x_k, x_max > 0)", "(a+1-a) x_k^a / x_max^a = "
                   "(x_k/x_max)^a")


@undecided_to_unknown
def p2_bwd_other_upper_lim() -> Outcome:
    atomic_limits()
    require(sp.limit((1 / (1 + t)) ** ap, ap, sp.oo) == 0, "r^a -> 0")
    return Outcome(PROVED, "SymPy limit with x_k/x_max = 1/(1+t), t > 0",
                   "(x_k/x_max)^a -> 0 for 0 <= x_k < x_max (read as a limit; at finite a it "
                   "is positive)")


@undecided_to_unknown
def p2_bwd_other_lower() -> Outcome:
    lhs, _ = _upper_sides(m)
    rhs = ((ap + 1) * xk ** (ap - 1) - ap * xk ** (ap - 1) * m) / m**ap
    diff = sp.factor(sp.simplify(lhs - rhs))
    target = (ap + 1) * xk ** (ap - 1) * (xk - 1) / m**ap
    zero(diff - target, "lhs - rhs = (a+1) x_k^(a-1) (x_k - 1) / x_max^a")
    half = {xk: sp.Rational(1, 2), m: 1, ap: 2}
    l, r = lhs.subs(half), rhs.subs(half)
    require(l == sp.Rational(-1, 4) and r == sp.Rational(1, 2), "x_k = 1/2: -1/4 vs 1/2")
    return Outcome(CONDITIONAL, "SymPy factorisation of lhs - rhs, exact counterexample",
                   "the first term's exponent a became a-1, so lhs - rhs = (a+1) x_k^(a-1) "
                   "(x_k - 1)/x_max^a: true only for x_k > 1 (scale-dependent); x_k = 1/2, "
                   "x_max = 1, a = 2: -1/4 > 1/2 is false",
                   {"x": [0.5, 1.0], "alpha": 2.0, "k": 0, "lhs": "-1/4", "rhs": "1/2"})


@undecided_to_unknown
def p2_bwd_other_lower_eq() -> Outcome:
    lhs = ((ap + 1) * xk ** (ap - 1) - ap * xk ** (ap - 1) * m) / m**ap
    rhs = (xk / m) ** (ap - 1) * ((ap + 1 - m) / m)
    diff = sp.factor(sp.simplify(sp.expand_power_base(lhs - rhs)))
    pt = {xk: sp.Rational(1, 2), m: 1, ap: 2}
    l, r = lhs.subs(pt), rhs.subs(pt)
    require(l == sp.Rational(1, 2) and r == 1, "x_k = 1/2, x_max = 1, a = 2: 1/2 vs 1")
    return Outcome(REFUTED, "SymPy algebra, exact rational counterexample",
                   f"lhs - rhs = {diff}, zero only at a = 1; x_k = 1/2, x_max = 1, a = 2: 1/2 != 1",
                   {"x": [0.5, 1.0], "alpha": 2.0, "k": 0, "lhs": "1/2", "rhs": "1"})


@undecided_to_unknown
def p2_bwd_other_lower_eq2() -> Outcome:
    diff = sp.simplify((ap + 1 - m) / m - ap / m)
    zero(diff - (1 - m) / m, "(a+1-x_max)/x_max - a/x_max = (1 - x_max)/x_max")
    pt = {m: 2, ap: 3}
    require(((ap + 1 - m) / m).subs(pt) == 1 and (ap / m).subs(pt) == sp.Rational(3, 2),
            "x_max = 2, a = 3: 1 vs 3/2")
    return Outcome(REFUTED, "SymPy algebra, exact rational counterexample",
                   "a + 1 - x_max = a only when x_max = 1; x_max = 2, a = 3: 1 != 3/2",
                   {"x": [1.0, 2.0], "alpha": 3.0, "lhs": "1", "rhs": "3/2"})


@undecided_to_unknown
def p2_lhopital_step() -> Outcome:
    r = xk / m
    lhs = (ap / m) / r ** (1 - ap)
    rhs = (1 / m) / (xk / ((1 - ap) * m)) ** (-ap)
    pt = {xk: sp.Rational(1, 2), m: 1, ap: 2}
    l, rr = sp.nsimplify(lhs.subs(pt)), sp.nsimplify(rhs.subs(pt))
    require(l == 1 and rr == sp.Rational(1, 4), "x_k = 1/2, x_max = 1, a = 2: 1 vs 1/4")
    return Outcome(REFUTED, "exact rational counterexample",
                   "the printed L'Hospital quotient is not the derivative quotient "
                   "(1/x_max)/(-ln(x_k/x_max) (x_k/x_max)^(1-a)); x_k = 1/2, x_max = 1, a = 2: "
                   "1 != 1/4", {"x": [0.5, 1.0], "alpha": 2.0, "lhs": "1", "rhs": "1/4"})


@undecided_to_unknown
def p2_lhopital_limit() -> Outcome:
    atomic_limits()
    r = 1 / (1 + t)
    require(sp.limit(r ** (ap - 1) * ap / m, ap, sp.oo) == 0, "(x_k/x_max)^(a-1) a/x_max -> 0")
    return Outcome(PROVED, "SymPy limit with x_k/x_max = 1/(1+t), t > 0",
                   "(x_k/x_max)^(a-1) (a/x_max) -> 0 (the limit is right, its derivation is not)")


@undecided_to_unknown
def p2_squeeze_printed() -> Outcome:
    sol = sp.reduce_inequalities([z > 0, z < 0], [z])
    require(sol == sp.false, "0 < z < 0 is unsatisfiable")
    return Outcome(REFUTED, "SymPy reduce_inequalities",
                   "0 < dE/dx_k < 0 is unsatisfiable for every real value (and the lower bound it "
                   "squeezes with needs x_k > 1, see P2.bwd.other.lower)",
                   {"x": [1.0, 2.0], "alpha": 10.0, "k": 0, "relation": "0 < z < 0: False"})


@undecided_to_unknown
def p2_bwd_other_limit() -> Outcome:
    _nonmax_bound_limit()
    return Outcome(PROVED, ALL_N_LIM + "; |dy/dx_k| <= r^a((a+1) + a/r) using 0 < y <= x_max",
                   "dy/dx_k -> 0 for every x_k < x_max, with or without tied maxima")


# ------------------------------------------------------------------ toolkit claims


@undecided_to_unknown
def t_bounds() -> Outcome:
    lhs = S(X[i] ** a * (X[i] - c))
    zero(lhs - (S(X[i] ** (a + 1)) - c * S(X[i] ** a)), "sum x^a (x - c) = T - c S")
    lo, dd = sp.Symbol("lo", positive=True), sp.Symbol("d", nonnegative=True)
    term_lo = (lo + dd) ** a * ((lo + dd) - lo)  # x = lo + d >= lo = min x
    hi = xi + dd
    term_hi = xi**a * (hi - xi)  # x = x_i <= hi = x_i + d = max x
    require(sp.simplify(term_lo).is_nonnegative, "x^a (x - min x) >= 0")
    require(sp.simplify(term_hi).is_nonnegative, "x^a (max x - x) >= 0")
    return Outcome(PROVED, ALL_N_SUM + ": y - c = sum x^a (x - c) / sum x^a, termwise sign",
                   "y - min and max - y are sums of non-negative terms over a positive "
                   "denominator (x > 0; zeros follow by the continuous-extension conventions)")


@undecided_to_unknown
def t_dalpha_cov() -> Outcome:
    y = S(X[i] ** (a + 1)) / S(X[i] ** a)
    cov = (S(X[i] ** a * sp.log(X[i]) * X[i]) - y * S(X[i] ** a * sp.log(X[i]))) / S(X[i] ** a)
    zero(sp.powsimp(sp.diff(y, a) - cov), "dy/da - sum w ln x (x - y)")
    return Outcome(PROVED, ALL_N_SUM + " (SymPy differentiates the Sums termwise)",
                   "dy/da = sum w_i ln(x_i)(x_i - y) = Cov_w(ln x, x), w_i = x_i^a / sum x^a")


@undecided_to_unknown
def t_monotone() -> Outcome:
    depends(t_dalpha_cov)  # the covariance form, all N
    fi, fj, gi, gj, wi, wj = sp.symbols("f_i f_j g_i g_j w_i w_j", real=True)
    # Chebyshev: sum_ij w_i w_j (f_i - f_j)(g_i - g_j) expands into four products of single
    # sums (the summand factors into an i-part and a j-part), = 2(W C - F G) = 2 Cov when W = 1
    summand = sp.expand(wi * wj * (fi - fj) * (gi - gj))
    parts = sp.expand(wi * fi * gi * wj + wj * fj * gj * wi - wi * fi * wj * gj - wj * fj * wi * gi)
    zero(summand - parts, "Chebyshev expansion of the pair term")
    xa = sp.Symbol("x_a", positive=True)
    pair = d * sp.log(1 + d / xa)  # (ln(x_a+d) - ln x_a)((x_a+d) - x_a) with d > 0
    zero(sp.expand_log((sp.log(xa + d) - sp.log(xa)) * d - pair, force=True),
         "pair term = d ln(1 + d/x_a)")
    require(pair.is_positive, "(ln x_b - ln x_a)(x_b - x_a) > 0 for x_b = x_a + d != x_a")
    return Outcome(PROVED, ALL_N_SUM + " for dy/da; Chebyshev pair expansion (all N)",
                   "dy/da = (1/2) sum_ij w_i w_j (ln x_i - ln x_j)(x_i - x_j) >= 0, = 0 iff the "
                   "positive x_i are equal")


@undecided_to_unknown
def t_minus_inf() -> Outcome:
    atomic_limits()
    beta = ap  # alpha = -beta
    # y/x_min = (k + sum rho_j^(beta-1)) / (k + sum rho_j^beta), rho_j = x_min/x_j < 1
    r = 1 / (1 + t)
    require(sp.limit(r ** (beta - 1), beta, sp.oo) == 0, "rho^(b-1) -> 0")
    require(((k + U) / (k + V)).subs({U: 0, V: 0}) == 1, "ratio -> 1")
    return Outcome(PROVED, ALL_N_LIM.replace("x_max", "x_min").replace("r_j = x_j/x_min",
                                                                     "r_j = x_min/x_j"),
                   "y -> min x as a -> -inf (x > 0)")


@undecided_to_unknown
def t_harmonic() -> Outcome:
    y = (S(X[i] ** (a + 1)) / S(X[i] ** a)).subs(a, -1).doit()
    zero(y - N / S(1 / X[i]), "y(-1) - N / sum 1/x")
    return Outcome(PROVED, ALL_N_SUM, "y(-1) = N / sum(1/x): the harmonic mean (x > 0)")


@undecided_to_unknown
def t_homogeneity() -> Outcome:
    y = S(X[i] ** (a + 1)) / S(X[i] ** a)
    ys = S((c * X[i]) ** (a + 1)) / S((c * X[i]) ** a)
    zero(sp.simplify(sp.expand_power_base(ys)) - c * y, "y(c x) - c y(x)")
    return Outcome(PROVED, ALL_N_SUM, "y(c x) = c y(x) for c > 0")


@undecided_to_unknown
def t_euler() -> Outcome:
    y = lehmer(xi, A, B, a)
    per_term = sp.simplify(xi * sp.diff(y, xi))
    s_, t_ = sp.symbols("S T", positive=True)
    term = ((a + 1) * xi ** (a + 1) - a * y * xi**a) / (xi**a + A)
    zero(per_term - term, "x_i dy/dx_i = ((a+1) x_i^(a+1) - a y x_i^a) / sum x^a")
    zero(((a + 1) * t_ - a * (t_ / s_) * s_) / s_ - t_ / s_, "sum over i: ((a+1)T - a y S)/S = y")
    cc = sp.Symbol("s", positive=True)
    yy = S((cc * X[i]) ** (a + 1)) / S((cc * X[i]) ** a)
    zero(sp.diff(sp.simplify(sp.expand_power_base(yy)), cc) - S(X[i] ** (a + 1)) /
         S(X[i] ** a), "d/ds y(s x) at any s = y(x) (homogeneity)")
    cpos = sp.Symbol("c", positive=True)
    scaled = lehmer_grad_printed(cpos * xi, cpos**a * A, cpos ** (a + 1) * B, a)
    zero(sp.powsimp(sp.expand_power_base(scaled, force=True), force=True)
         - lehmer_grad_printed(xi, A, B, a), "dy/dx_i(c x) - dy/dx_i(x)")
    return Outcome(PROVED, ALL_N_RED + "; summed by linearity",
                   "sum_i x_i dy/dx_i = y (Euler, degree 1) and dy/dx_i(c x) = dy/dx_i(x) "
                   "(degree 0)")


@undecided_to_unknown
def t_grad_max_positive() -> Outcome:
    # g_max = w_max ((a+1) - a y/x_max) with 0 < y <= x_max: write y = x_max - d, d >= 0
    dd = sp.Symbol("d", nonnegative=True)
    a0 = sp.Symbol("alpha", nonnegative=True)
    factor = sp.simplify((a0 + 1) - a0 * (m - dd) / m)
    require(sp.simplify(factor - 1).is_nonnegative, f"(a+1) - a y/x_max = {factor} >= 1")
    return Outcome(PROVED, ALL_N_RED + "; uses y <= x_max (T.bounds)",
                   "dy/dx_max = w_max (1 + a (x_max - y)/x_max) >= w_max > 0 for a >= 0")


@undecided_to_unknown
def t_grad_max_le1() -> Outcome:
    g = sp.diff(lehmer(xi, A, B, a), xi).subs({xi: 2, A: 1, B: 1, a: 3})
    require(sp.nsimplify(g) == sp.Rational(28, 27), "x = (1,2), a = 3: dy/dx_2 = 28/27")
    return Outcome(REFUTED, "exact rational evaluation",
                   "x = (1,2), a = 3: dy/dx_max = 28/27 > 1 (it overshoots 1 before tending to 1)",
                   {"x": [1.0, 2.0], "alpha": 3.0, "dy/dx_max": "28/27"})


@undecided_to_unknown
def t_grad_nonmax_sign() -> Outcome:
    # sign(g_k) = sign((a+1) x_k - a y) since w_k > 0; y -> x_max > x_k so a(y - x_k) - x_k -> oo
    yv = sp.Symbol("y", positive=True)
    g = (xk**ap / (xk**ap + A)) * ((ap + 1) - ap * yv / xk)
    zero(sp.factor(g) - xk ** (ap - 1) * ((ap + 1) * xk - ap * yv) / (xk**ap + A),
         "g_k = x_k^(a-1) ((a+1) x_k - a y) / sum x^a")
    require(sp.limit((ap + 1) * xk - ap * (xk + d), ap, sp.oo) == -sp.oo,
            "(a+1) x_k - a y -> -oo when y -> x_k + d, d > 0")
    depends(p1_bwd_value, p2_fwd_limit)  # 1/N > 0 at a = 0; y -> x_max
    return Outcome(PROVED, ALL_N_RED + "; y -> x_max (P2.fwd.limit)",
                   "for 0 < x_k < x_max: dy/dx_k = 1/N > 0 at a = 0 and < 0 for all large a")


@undecided_to_unknown
def t_grad_nonmax_peak() -> Outcome:
    depends(t_grad_nonmax_sign, p2_bwd_other_limit)
    g = sp.diff(lehmer(xi, sp.Integer(1) * 2**ap, 2 ** (ap + 1), ap), xi).subs(xi, 1)
    require(g.subs(ap, 0) == sp.Rational(1, 2), "x = (1,2): dy/dx_1 = 1/2 at a = 0")
    require(sp.nsimplify(g.subs(ap, 3)) == sp.Rational(-5, 27), "x = (1,2): -5/27 at a = 3")
    return Outcome(PROVED, "argument covering all N from T.grad.nonmax.sign, P2.bwd.other.limit "
                   "and continuity in a; exact values for x = (1,2)",
                   "dy/dx_k > 0 at a = 0, < 0 for large a, -> 0: a continuous negative function "
                   "tending to 0 has a finite peak magnitude (e.g. x = (1,2): 1/2 at a = 0, "
                   "-5/27 at a = 3)")


@undecided_to_unknown
def t_ties_torch() -> Outcome:
    _, lim_g = _ratio_limits()
    require(sp.simplify(lim_g.subs(k, 2) - sp.Rational(1, 2)) == 0, "k = 2: 1/2 each")
    return Outcome(CONDITIONAL, ALL_N_LIM,
                   "matches torch's max_pool backward only for a unique maximum: with k ties the "
                   "limit gives 1/k to each, torch all of it to the first",
                   {"x": [2.0, 1.0, 2.0], "alpha": 1e4, "P-pooling limit": ["1/2", "0", "1/2"],
                    "torch max_pool": ["1", "0", "0"]})


@undecided_to_unknown
def t_ties_equal() -> Outcome:
    n1 = sp.Symbol("n", positive=True)  # N - 1 other elements equal to c
    g = lehmer_grad_printed(xi, n1 * xi**a, n1 * xi ** (a + 1), a)
    zero(g - 1 / (n1 + 1), "equal window: dy/dx_i = 1/N")
    zero(lehmer(xi, n1 * xi**a, n1 * xi ** (a + 1), a) - xi, "equal window: y = c")
    return Outcome(PROVED, ALL_N_RED + " with every other element equal to x_i",
                   "N equal elements: y = c and dy/dx_i = 1/N for every a")


@undecided_to_unknown
def t_zero_grad() -> Outcome:
    s = sp.Symbol("s", positive=True)
    Ap, Bp = sp.symbols("A B", positive=True)  # at least one positive element besides x_z
    below = 1 / (1 + s)  # 0 < a < 1
    above = 1 + s  # a > 1
    require(sp.limit(lehmer_grad_printed(xi, Ap, Bp, below), xi, 0, "+") == -sp.oo,
            "0 < a < 1: dy/dx_z -> -oo")
    require(sp.limit(lehmer_grad_printed(xi, Ap, Bp, above), xi, 0, "+") == 0,
            "a > 1: dy/dx_z -> 0")
    one = sp.limit(lehmer_grad_printed(xi, Ap, Bp, 1), xi, 0, "+")
    zero(one + (Bp / Ap) / Ap, "a = 1: dy/dx_z -> -y / sum x")
    return Outcome(PROVED, ALL_N_RED + "; one-sided limits x_z -> 0+",
                   "at a zero input dy/dx_z = -inf for 0 < a < 1, -y/sum x at a = 1, 0 for a > 1")
