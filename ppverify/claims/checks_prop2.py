"""Checks for Proposition 2 (supplement Sec. 1): every step of its displays, in both readings.

The proof is a sequence of displays 'lim_{a->+inf} E_0 = E_1 (rel) E_2 ... = L'; ``readings.py``
states how each is read (literal, asymptotic, end to end). The printed expressions are the
functions below, in x_k (an element below the maximum), x_max = m and alpha; delta is the
upstream gradient dE/dy_j, kept wherever the supplement prints it.
"""

from __future__ import annotations

import sympy as sp

from . import lemmas as Lm
from .model import CONDITIONAL, PROVED, REFUTED, Outcome
from .proof import Proof, checked
from .sym import RATIO, A, B, ap, k, lehmer, m, xi, xk, z

ALL_N_LIM = ("reduction to k tied maxima and n others at ratios <= rho < 1 (all N, ties and "
             "zeros); z3 and SymPy bound the sums by n rho^a, SymPy takes the limits of the "
             "bounds, squeeze theorem")
delta = sp.Symbol("delta", real=True)
dpos = sp.Symbol("delta", positive=True)


# ------------------------------------------------------------------ the printed expressions


def replaced(x):
    """Backward step 1: the gradient with the sums replaced by the maximum's terms."""
    return ((ap + 1) * x**ap * m**ap - ap * x ** (ap - 1) * m ** (ap + 1)) / m ** (2 * ap)


def other_lhs(x=xk):
    return ((ap + 1) * x**ap - ap * x ** (ap - 1) * m) / m**ap


def upper_rhs(x=xk):
    return ((ap + 1) * x**ap - ap * x**ap) / m**ap


def lower_rhs(x=xk):
    return ((ap + 1) * x ** (ap - 1) - ap * x ** (ap - 1) * m) / m**ap


def lower_val1(x=xk):
    return (x / m) ** (ap - 1) * ((ap + 1 - m) / m)


def lower_val2(x=xk):
    return (x / m) ** (ap - 1) * (ap / m)


def lhopital_second(x=xk):
    return (ap / m) / (x / m) ** (1 - ap)


def lhopital_third(x=xk, al=ap):
    return (1 / m) / (x / ((1 - al) * m)) ** (-al)


def _lim(pf: Proof, expr, want, text: str) -> None:
    """The limit as alpha -> +inf of an expression in x_k, x_max, with x_k = x_max/(1+t)."""
    e = expr.subs(xk, RATIO * m)
    e = sp.simplify(sp.expand(sp.expand_power_base(sp.expand_power_exp(e), force=True)))
    pf.limit(e, ap, sp.oo, want, text + " (x_k = x_max/(1+t), t > 0)")


def _true_grad(x, others_a, others_b):
    return sp.diff(lehmer(xi, others_a, others_b, ap), xi).subs(xi, x)


# ------------------------------------------------------------------ forward display


@checked
def p2_overall(pf: Proof) -> Outcome:
    pf.uses("P2.fwd.limit")
    pf.uses("P2.bwd.max.limit", "CONDITIONAL", "dy/dx_max -> 1/k for k tied maxima")
    pf.uses("P2.bwd.other.limit")
    gi = sp.diff(lehmer(xi, A, B, ap), xi).subs({A: 1, B: 1, xi: 1})
    pf.exact(sp.simplify(gi - sp.Rational(1, 2)) == 0, "x = (1,1): dy/dx_1 = 1/2 for every a")
    return pf.outcome(CONDITIONAL, "combines P2.fwd.limit, P2.bwd.max.limit and "
                      "P2.bwd.other.limit (all N); exact tie example",
                      "y -> x_max always; dy/dx -> one-hot only for a unique maximum: with k "
                      "tied maxima each gets 1/k (x = (1,1): 1/2 for every a)",
                      {"x": [1.0, 1.0], "alpha": 1e4, "dy/dx": ["1/2", "1/2"],
                       "max pooling": ["1", "0"]})


@checked
def p2_fwd_limit(pf: Proof) -> Outcome:
    Lm.forward_limit(pf)
    return pf.outcome(PROVED, ALL_N_LIM, "k/(k + n rho^a) <= y/x_max <= 1 and the bound -> 1, so "
                      "y -> x_max for x >= 0, ties and zeros included")


@checked
def p2_fwd_step(pf: Proof) -> Outcome:
    y = lehmer(sp.Integer(2), sp.Integer(1), sp.Integer(1), sp.Integer(1))
    pf.exact(y == sp.Rational(5, 3), "x = (1,2), a = 1: sum x^(a+1)/sum x^a = 5/3")
    pf.exact(sp.Integer(2) ** 2 / sp.Integer(2) ** 1 == 2, "x_max^(a+1)/x_max^a = 2")
    x1, x2 = sp.symbols("x_1 x_2", positive=True)
    pf.counterexample("z3 finds a counterexample to the identity for N = 2, a = 1",
                      sp.Eq((x1**2 + x2**2) / (x1 + x2), x2), [x1 < x2])
    return pf.outcome(REFUTED, "exact rational evaluation; z3 counterexample search",
                      "as an identity it fails whenever an element is below x_max: x = (1,2), "
                      "a = 1: 5/3 != 2 (the asymptotic reading holds: P2.fwd.step.asym)",
                      {"x": [1.0, 2.0], "alpha": 1.0, "lhs": "5/3", "rhs": "2"})


@checked
def p2_fwd_step_asym(pf: Proof) -> Outcome:
    pf.uses("P2.fwd.limit", text="lim sum x^(a+1)/sum x^a = x_max")
    pf.limit(sp.powsimp(m ** (ap + 1) / m**ap), ap, sp.oo, m, "lim x_max^(a+1)/x_max^a = x_max")
    return pf.outcome(PROVED, "P2.fwd.limit and a SymPy limit",
                      "both sides tend to x_max: the step is right as a statement about limits")


# ------------------------------------------------------------------ backward, general element


@checked
def p2_bwd_step1(pf: Proof) -> Outcome:
    g = _true_grad(sp.Integer(2), sp.Integer(1), sp.Integer(1)).subs(ap, 1)
    rep = replaced(sp.Integer(2)).subs({m: 2, ap: 1})
    pf.exact(g == sp.Rational(7, 9) and rep == 1,
             "x = (1,2), a = 1: printed dy/dx_2 = 7/9, replaced expression = 1")
    return pf.outcome(REFUTED, "exact rational evaluation",
                      "dropping the other elements' sums changes the value at every finite a: "
                      "x = (1,2), a = 1: 7/9 != 1 (asymptotic reading: P2.bwd.step1.asym)",
                      {"x": [1.0, 2.0], "alpha": 1.0, "i": 1, "printed": "7/9",
                       "replaced": "1"})


@checked
def p2_bwd_step1_asym(pf: Proof) -> Outcome:
    lim = Lm.max_grad_limit(pf)
    pf.zero(replaced(m) - 1, "the replaced expression at x_i = x_max is 1 for every a")
    _lim(pf, replaced(xk), 0, "the replaced expression at x_k < x_max tends to 0")
    pf.uses("P2.bwd.other.limit", text="the true gradient at x_k < x_max tends to 0")
    pf.exact(lim.subs(k, 2) == sp.Rational(1, 2), "two tied maxima: the true limit is 1/2, the "
             "replaced one 1")
    return pf.outcome(CONDITIONAL, ALL_N_LIM,
                      "the limits agree for a unique maximum (1 at the max, 0 elsewhere); with k "
                      "tied maxima the true gradient tends to 1/k, the replaced one is 1",
                      {"x": [1.0, 1.0], "alpha": 10.0, "true": "1/2", "replaced": "1"})


# ------------------------------------------------------------------ backward, the maximum


@checked
def p2_bwd_max_algebra(pf: Proof) -> Outcome:
    lhs = ((ap + 1) * m ** (2 * ap) - ap * m ** (2 * ap)) / m ** (2 * ap)
    pf.zero(replaced(m) - lhs, "the replaced expression at x_i = x_max is the printed quotient")
    pf.zero(lhs * delta - delta, "((a+1) m^2a - a m^2a)/m^2a delta = delta")
    return pf.outcome(PROVED, "SymPy algebra (x_max > 0)",
                      "((a+1) - a) x_max^2a / x_max^2a delta = delta for every a")


@checked
def p2_bwd_max_limit(pf: Proof) -> Outcome:
    lim = Lm.max_grad_limit(pf)
    pf.exact(lim.subs(k, 2) == sp.Rational(1, 2), "k = 2: 1/2 each")
    return pf.outcome(CONDITIONAL, ALL_N_LIM,
                      "dE/dx_max -> delta/k for k tied maxima: = delta only for a unique maximum "
                      "(x = (2,1,2): delta/2 each)",
                      {"x": [2.0, 1.0, 2.0], "alpha": 1e4, "limit": ["1/2", "0", "1/2"]})


# ------------------------------------------------------------------ backward, other elements: upper


@checked
def p2_bwd_other_eq(pf: Proof) -> Outcome:
    pf.zero(replaced(xk) * delta - other_lhs() * delta, "divide by x_max^a (times delta)")
    return pf.outcome(PROVED, "SymPy algebra (x_k, x_max > 0)",
                      "dividing numerator and denominator by x_max^a is exact")


@checked
def p2_bwd_other_upper(pf: Proof) -> Outcome:
    lhs, rhs = other_lhs(), upper_rhs()
    d = sp.Symbol("d", positive=True)
    diff = sp.factor(sp.simplify((lhs - rhs).subs(m, xk + d)))
    pf.inequality("without delta: lhs < rhs for a > 0, 0 < x_k < x_max", lhs < rhs, [xk < m],
                  sympy_form=diff, sympy_sign_of="<0")
    cex = pf.counterexample("as printed, with delta != 0: z3 finds delta < 0 (a = 1)",
                            lhs * delta < rhs * delta, [xk < m, sp.Ne(delta, 0)],
                            fix={ap: [1]})
    pf.inequality("with delta > 0 (unstated): lhs delta < rhs delta",
                  lhs * dpos < rhs * dpos, [xk < m],
                  sympy_form=diff * dpos, sympy_sign_of="<0")
    return pf.outcome(CONDITIONAL, "SymPy sign with x_max = x_k + d and z3 (powers abstracted as "
                      "positive atoms); z3 counterexample search",
                      f"lhs - rhs = {diff} < 0, so the printed 'lhs delta < rhs delta' holds iff "
                      f"delta > 0, never stated; z3: x_k = {cex['x_k']}, x_max = {cex['x_max']}, "
                      f"a = 1, delta = {cex['delta']} fails",
                      {"x": [float(sp.Rational(cex["x_k"])), float(sp.Rational(cex["x_max"]))],
                       "alpha": 1.0, "k": 0, "delta": float(sp.Rational(cex["delta"]))})


@checked
def p2_bwd_other_upper_asym(pf: Proof) -> Outcome:
    _lim(pf, other_lhs() * delta, 0, "lim lhs delta = 0")
    _lim(pf, upper_rhs() * delta, 0, "lim rhs delta = 0")
    pf.rule("limits keep non-strict inequalities", "0 <= 0: the step holds between the limits, "
            "for every delta")
    return pf.outcome(PROVED, "SymPy limits", "both sides tend to 0 (for any delta): the "
                      "asymptotic reading holds, and says nothing more than 0 <= 0")


@checked
def p2_bwd_other_upper_eq(pf: Proof) -> Outcome:
    pf.zero(upper_rhs() * delta - (xk / m) ** ap * delta,
            "((a+1) x_k^a - a x_k^a)/x_max^a delta = (x_k/x_max)^a delta")
    return pf.outcome(PROVED, "SymPy algebra (x_k, x_max > 0)",
                      "(a+1-a) x_k^a / x_max^a = (x_k/x_max)^a")


@checked
def p2_bwd_other_upper_lim(pf: Proof) -> Outcome:
    val = (sp.Integer(1) / 2) ** 1
    pf.exact(val == sp.Rational(1, 2), "x_k = 1, x_max = 2, a = 1, delta = 1: (x_k/x_max)^a "
             "delta = 1/2 != 0")
    pf.inequality("(x_k/x_max)^a > 0 for every a when x_k > 0", (xk / m) ** ap > 0)
    return pf.outcome(REFUTED, "exact evaluation; sign by SymPy and z3",
                      "read literally, (x_k/x_max)^a delta is positive at every finite a "
                      "(x_k > 0, delta > 0); only its limit is 0 (P2.bwd.other.upper_lim.asym)",
                      {"x": [1.0, 2.0], "alpha": 1.0, "k": 0, "delta": 1.0, "value": "1/2"})


@checked
def p2_bwd_other_upper_lim_asym(pf: Proof) -> Outcome:
    _lim(pf, (xk / m) ** ap * delta, 0, "(x_k/x_max)^a delta -> 0")
    pf.sympy(sp.Integer(0) ** ap == 0, "x_k = 0: 0^a = 0 for a > 0")
    return pf.outcome(PROVED, "SymPy limit with x_k/x_max = 1/(1+t), t > 0",
                      "(x_k/x_max)^a delta -> 0 for 0 <= x_k < x_max")


@checked
def p2_bwd_other_upper_chain(pf: Proof) -> Outcome:
    """Does the upper chain's final bound hold against the true dE/dx_k?"""
    Lm.grad_as_weight(pf)
    from .checks_ppool import nonmax_sign_factor

    nonmax_sign_factor(pf)
    yv = sp.Symbol("y", positive=True)
    Ao = sp.Symbol("A_o", nonnegative=True)  # the elements other than x_k and the maximum
    g = xk ** (ap - 1) * ((ap + 1) * xk - ap * yv) / (xk**ap + m**ap + Ao)
    pf.inequality("if y >= x_k: dy/dx_k < (x_k/x_max)^a (a > 0, 0 < x_k < x_max)",
                  g < (xk / m) ** ap, [yv >= xk, xk < m])
    pf.uses("T.bounds", text="for N = 2, y >= min x = x_k, so the bound holds")
    xs = [sp.Integer(1), sp.Rational(999, 1000)] + [sp.Rational(47, 50)] * 400
    al = 100
    s0 = sum(v**al for v in xs)
    s1 = sum(v ** (al + 1) for v in xs)
    y = s1 / s0
    gk = xs[1] ** (al - 1) * ((al + 1) * xs[1] - al * y) / s0
    bound = xs[1] ** al
    pf.exact(gk > bound, "N = 402: x = (1, 999/1000, 400 x 47/50), a = 100: dy/dx_k = "
             f"{float(gk):.6f} > (x_k/x_max)^a = {float(bound):.6f}")
    return pf.outcome(CONDITIONAL, "z3 (powers as positive atoms) for y >= x_k; exact rational "
                      "evaluation for the counterexample",
                      "end to end the upper chain gives dE/dx_k < (x_k/x_max)^a delta; against the "
                      "true derivative this holds when y >= x_k (always for N = 2) but not in "
                      f"general: N = 402, a = 100 gives {float(gk):.4f} > {float(bound):.4f}",
                      {"x": [1.0, 0.999] + [0.94] * 400, "alpha": 100.0, "k": 1, "delta": 1.0,
                       "dy/dx_k": str(sp.Float(gk, 12)), "bound": str(sp.Float(bound, 12))})


# ------------------------------------------------------------------ other elements: lower


@checked
def p2_bwd_other_lower(pf: Proof) -> Outcome:
    lhs, rhs = other_lhs(), lower_rhs()
    diff = sp.factor(sp.simplify(lhs - rhs))
    target = (ap + 1) * xk ** (ap - 1) * (xk - 1) / m**ap
    pf.zero(diff - target, "lhs - rhs = (a+1) x_k^(a-1) (x_k - 1) / x_max^a")
    half = {xk: sp.Rational(1, 2), m: 1, ap: 2}
    pf.exact(lhs.subs(half) == sp.Rational(-1, 4) and rhs.subs(half) == sp.Rational(1, 2),
             "x_k = 1/2, x_max = 1, a = 2, delta = 1: -1/4 > 1/2 is false")
    e = sp.Symbol("e", positive=True)
    pf.inequality("with x_k > 1 and delta > 0 (both unstated): lhs delta > rhs delta",
                  lhs * dpos > rhs * dpos, [xk > 1, xk < m],
                  sympy_form=target.subs(xk, 1 + e) * dpos, sympy_sign_of=">0")
    pf.counterexample("with x_k > 1 but delta < 0 it fails too (z3, a = 2)",
                      lhs * delta > rhs * delta, [xk > 1, xk < m, sp.Ne(delta, 0)],
                      fix={ap: [2]})
    return pf.outcome(CONDITIONAL, "SymPy factorisation, SymPy and z3 signs, exact and z3 "
                      "counterexamples",
                      "the first term's exponent a became a-1, so lhs - rhs = (a+1) x_k^(a-1) "
                      "(x_k - 1)/x_max^a: the printed inequality needs x_k > 1 (scale-dependent) "
                      "and delta > 0; x_k = 1/2, x_max = 1, a = 2: -1/4 > 1/2 is false",
                      {"x": [0.5, 1.0], "alpha": 2.0, "k": 0, "delta": 1.0, "lhs": "-1/4",
                       "rhs": "1/2"})


@checked
def p2_bwd_other_lower_asym(pf: Proof) -> Outcome:
    _lim(pf, other_lhs() * delta, 0, "lim lhs delta = 0")
    _lim(pf, lower_rhs() * delta, 0, "lim rhs delta = 0")
    pf.rule("limits keep non-strict inequalities", "0 >= 0 between the limits, for every delta")
    return pf.outcome(PROVED, "SymPy limits", "both sides tend to 0: the asymptotic reading "
                      "holds (0 >= 0) whatever x_k, x_max and delta")


@checked
def p2_bwd_other_lower_eq(pf: Proof) -> Outcome:
    lhs, rhs = lower_rhs(), lower_val1()
    diff = sp.factor(sp.simplify(sp.expand_power_base(lhs - rhs)))
    pt = {xk: sp.Rational(1, 2), m: 1, ap: 2}
    pf.exact(lhs.subs(pt) == sp.Rational(1, 2) and rhs.subs(pt) == 1,
             "x_k = 1/2, x_max = 1, a = 2: 1/2 != 1")
    return pf.outcome(REFUTED, "SymPy algebra, exact rational counterexample",
                      f"lhs - rhs = {diff}, zero only at a = 1; x_k = 1/2, x_max = 1, a = 2: "
                      "1/2 != 1",
                      {"x": [0.5, 1.0], "alpha": 2.0, "k": 0, "lhs": "1/2", "rhs": "1"})


@checked
def p2_bwd_other_lower_eq_asym(pf: Proof) -> Outcome:
    _lim(pf, lower_rhs() * delta, 0, "lim lhs delta = 0")
    _lim(pf, lower_val1() * delta, 0, "lim rhs delta = 0")
    return pf.outcome(PROVED, "SymPy limits", "both sides tend to 0: equal as limits, though not "
                      "as functions of a")


@checked
def p2_bwd_other_lower_eq2(pf: Proof) -> Outcome:
    pf.zero((ap + 1 - m) / m - ap / m - (1 - m) / m,
            "(a+1-x_max)/x_max - a/x_max = (1 - x_max)/x_max")
    pt = {m: 2, ap: 3}
    pf.exact(((ap + 1 - m) / m).subs(pt) == 1 and (ap / m).subs(pt) == sp.Rational(3, 2),
             "x_max = 2, a = 3: 1 vs 3/2")
    return pf.outcome(REFUTED, "SymPy algebra, exact rational counterexample",
                      "a + 1 - x_max = a only when x_max = 1; x_max = 2, a = 3: 1 != 3/2",
                      {"x": [1.0, 2.0], "alpha": 3.0, "lhs": "1", "rhs": "3/2"})


@checked
def p2_bwd_other_lower_eq2_asym(pf: Proof) -> Outcome:
    _lim(pf, lower_val1() * delta, 0, "lim (x_k/x_max)^(a-1) ((a+1-x_max)/x_max) delta = 0")
    _lim(pf, lower_val2() * delta, 0, "lim (x_k/x_max)^(a-1) (a/x_max) delta = 0")
    return pf.outcome(PROVED, "SymPy limits", "both sides tend to 0: equal as limits")


@checked
def p2_bwd_other_lower_chain(pf: Proof) -> Outcome:
    g = _true_grad(sp.Integer(1), sp.Integer(2) ** ap, sp.Integer(2) ** (ap + 1)).subs(ap, 3)
    bound = lower_val2(sp.Integer(1)).subs({m: 2, ap: 3})
    pf.exact(sp.nsimplify(g) == sp.Rational(-5, 27) and bound == sp.Rational(3, 8),
             "x = (1,2), a = 3, delta = 1: dy/dx_1 = -5/27, the bound (1/2)^2 (3/2) = 3/8")
    pf.uses("T.grad.nonmax.sign", text="dy/dx_k < 0 for all large a, while the bound is > 0")
    return pf.outcome(REFUTED, "exact rational evaluation; T.grad.nonmax.sign",
                      "end to end the lower chain gives dE/dx_k > (x_k/x_max)^(a-1)(a/x_max) "
                      "delta; the true derivative is below it (x = (1,2), a = 3: -5/27 < 3/8), "
                      "and for every window at all large a, where dy/dx_k < 0 < bound",
                      {"x": [1.0, 2.0], "alpha": 3.0, "k": 0, "delta": 1.0,
                       "dy/dx_k": "-5/27", "bound": "3/8"})


# ------------------------------------------------------------------ the L'Hospital display


@checked
def p2_lhopital_first(pf: Proof) -> Outcome:
    pf.zero(sp.powsimp(sp.expand_power_base((lower_val2() - lhopital_second()) * delta,
                                            force=True), force=True),
            "(x_k/x_max)^(a-1) (a/x_max) delta = (a/x_max) delta / (x_k/x_max)^(1-a)")
    return pf.outcome(PROVED, "SymPy algebra (x_k, x_max > 0)",
                      "r^(a-1) = 1/r^(1-a): the first rewriting is exact")


@checked
def p2_lhopital_form(pf: Proof) -> Outcome:
    num = ap / m
    den = (xk / m) ** (1 - ap)
    _lim(pf, num, sp.oo, "the numerator a/x_max -> +oo")
    _lim(pf, den, sp.oo, "the denominator (x_k/x_max)^(1-a) -> +oo")
    rr = sp.Symbol("r", positive=True)
    dden = sp.diff(rr ** (1 - ap), ap)
    pf.zero(dden - (-sp.log(rr) * rr ** (1 - ap)), "d/da r^(1-a) = -ln(r) r^(1-a)")
    pf.inequality("-ln(r) r^(1-a) > 0 for 0 < r < 1 (the denominator's derivative is non-zero)",
                  -sp.log(rr) * rr ** (1 - ap) > 0, [rr < 1],
                  sympy_form=sp.log(1 + Lm.t) * (1 + Lm.t) ** (ap - 1), sympy_sign_of=">0")
    quotient = (1 / m) / (-sp.log(xk / m) * (xk / m) ** (1 - ap))
    _lim(pf, quotient, 0, "the quotient of derivatives (1/x_max)/(-ln(x_k/x_max) "
         "(x_k/x_max)^(1-a)) -> 0")
    pf.rule("L'Hospital's rule (inf/inf)", "lim (a/x_max)/(x_k/x_max)^(1-a) = 0")
    return pf.outcome(PROVED, "SymPy limits and derivative; sign by SymPy and z3; L'Hospital's "
                      "rule",
                      "the quotient is an inf/inf form, so L'Hospital's rule applies; the "
                      "derivative quotient is (1/x_max)/(-ln(x_k/x_max)(x_k/x_max)^(1-a)) -> 0, "
                      "not the printed third expression (0 < x_k < x_max)")


@checked
def p2_lhopital_step(pf: Proof) -> Outcome:
    pt = {xk: sp.Rational(1, 2), m: 1, ap: 2}
    l, rr = sp.nsimplify(lhopital_second().subs(pt)), sp.nsimplify(lhopital_third().subs(pt))
    pf.exact(l == 1 and rr == sp.Rational(1, 4), "x_k = 1/2, x_max = 1, a = 2: 1 vs 1/4")
    return pf.outcome(REFUTED, "exact rational counterexample",
                      "the printed third expression is not the second, nor the derivative "
                      "quotient (P2.lhopital.form); x_k = 1/2, x_max = 1, a = 2: 1 != 1/4",
                      {"x": [0.5, 1.0], "alpha": 2.0, "lhs": "1", "rhs": "1/4"})


@checked
def p2_lhopital_real(pf: Proof) -> Outcome:
    e = sp.Symbol("e", positive=True)
    pf.inequality("for a > 1 the base x_k/((1-a) x_max) is negative",
                  xk / ((1 - ap) * m) < 0, [ap > 1],
                  sympy_form=xk / (-e * m), sympy_sign_of="<0")
    val = lhopital_third(sp.Rational(1, 2), sp.Rational(5, 2)).subs(m, 1)
    pf.sympy(val.is_real is False, f"x_k = 1/2, x_max = 1, a = 5/2: the third expression is "
             f"{val}, not real")
    nn = sp.Symbol("n", integer=True)
    neg = sp.Symbol("b", negative=True)
    pf.sympy(((neg) ** nn).is_real is True, "a negative base to an integer power is real")
    pf.inequality("for 0 < a < 1 the base is positive", xk / ((1 - ap) * m) > 0, [ap < 1])
    return pf.outcome(CONDITIONAL, "SymPy and z3 signs, SymPy evaluation",
                      "(1/x_max)/(x_k/((1-a) x_max))^(-a) is real only for 0 < a < 1 or integer "
                      "a >= 2 (undefined at a = 1): a negative base to a non-integer power; so "
                      "its limit as a -> +inf over the reals is not defined",
                      {"x": [0.5, 1.0], "alpha": 2.5, "third": str(val)})


@checked
def p2_lhopital_step_asym(pf: Proof) -> Outcome:
    pf.uses("P2.lhopital.form", text="the second expression tends to 0")
    nn = sp.Symbol("n", integer=True, positive=True)
    mag = (xk / ((nn - 1) * m)) ** nn / m
    pf.limit(mag.subs(xk, RATIO * m), nn, sp.oo, 0,
             "along integers a = n, |third| = (x_k/((n-1) x_max))^n / x_max -> 0")
    pf.uses("P2.lhopital.real", "CONDITIONAL", "for non-integer a > 1 the third expression is "
            "not real")
    return pf.outcome(CONDITIONAL, "SymPy limits along integers; P2.lhopital.real",
                      "both tend to 0 along integer a; over real a the third expression is not "
                      "real for non-integer a > 1, so its limit is undefined",
                      {"x": [0.5, 1.0], "alpha": 2.5, "third": "not real"})


@checked
def p2_lhopital_zero(pf: Proof) -> Outcome:
    val = lhopital_third(sp.Rational(1, 2), sp.Integer(2)).subs(m, 1)
    pf.exact(val == sp.Rational(1, 4), "x_k = 1/2, x_max = 1, a = 2, delta = 1: the third "
             "expression is 1/4, not 0")
    return pf.outcome(REFUTED, "exact rational evaluation",
                      "read literally, '(1/x_max) delta / (x_k/((1-a) x_max))^(-a) = 0' fails: "
                      "1/4 at x_k = 1/2, x_max = 1, a = 2",
                      {"x": [0.5, 1.0], "alpha": 2.0, "delta": 1.0, "third": "1/4"})


@checked
def p2_lhopital_zero_asym(pf: Proof) -> Outcome:
    nn = sp.Symbol("n", integer=True, positive=True)
    mag = (xk / ((nn - 1) * m)) ** nn / m
    pf.limit(mag.subs(xk, RATIO * m), nn, sp.oo, 0, "along integers a = n the third expression "
             "tends to 0")
    pf.uses("P2.lhopital.real", "CONDITIONAL", "over real a it is not real for non-integer a > 1")
    return pf.outcome(CONDITIONAL, "SymPy limit along integers; P2.lhopital.real",
                      "the third expression tends to 0 along integer a only (not real for "
                      "non-integer a > 1)",
                      {"x": [0.5, 1.0], "alpha": 2.5, "third": "not real"})


@checked
def p2_lhopital_limit(pf: Proof) -> Outcome:
    _lim(pf, lower_val2() * delta, 0, "(x_k/x_max)^(a-1) (a/x_max) delta -> 0")
    return pf.outcome(PROVED, "SymPy limit with x_k/x_max = 1/(1+t), t > 0",
                      "(x_k/x_max)^(a-1) (a/x_max) delta -> 0 (the limit is right, its "
                      "derivation is not)")


# ------------------------------------------------------------------ the squeeze and the conclusion


@checked
def p2_squeeze_printed(pf: Proof) -> Outcome:
    pf.sympy(sp.reduce_inequalities([z > 0, z < 0], [z]) == sp.false,
             "SymPy: 0 < z < 0 has no real solution")
    pf.inequality("z3: no real z has 0 < z < 0", sp.Not(sp.And(z > 0, z < 0)))
    return pf.outcome(REFUTED, "SymPy reduce_inequalities and z3",
                      "0 < dE/dx_k < 0 is unsatisfiable for every real value (and the lower "
                      "bound it squeezes with needs x_k > 1, see P2.bwd.other.lower)",
                      {"x": [1.0, 2.0], "alpha": 10.0, "k": 0, "relation": "0 < z < 0: False"})


@checked
def p2_squeeze_asym(pf: Proof) -> Outcome:
    pf.uses("P2.bwd.other.lower.chain", "REFUTED",
            "the printed lower bound is not a lower bound of the true dE/dx_k")
    pf.uses("T.grad.nonmax.sign", text="dy/dx_k < 0 for all large a")
    pf.inequality("the lower bound (x_k/x_max)^(a-1) a/x_max is > 0 for a > 0",
                  lower_val2() > 0)
    return pf.outcome(REFUTED, "T.grad.nonmax.sign, P2.bwd.other.lower.chain; sign by SymPy and "
                      "z3",
                      "read as 'lower bound <= dE/dx_k <= upper bound, both -> 0', the squeeze "
                      "fails: for all large a, dy/dx_k < 0 < the printed lower bound. The "
                      "conclusion is right (P2.bwd.other.limit) by another squeeze",
                      {"x": [1.0, 2.0], "alpha": 3.0, "k": 0, "delta": 1.0,
                       "dy/dx_k": "-5/27", "bound": "3/8"})


@checked
def p2_bwd_other_limit(pf: Proof) -> Outcome:
    Lm.nonmax_grad_limit(pf)
    return pf.outcome(PROVED, ALL_N_LIM + "; |dy/dx_k| <= r^a((a+1) + a/r) using 0 < y <= x_max; "
                      "x_k = 0 by the one-sided derivative",
                      "dE/dx_k -> 0 for every 0 <= x_k < x_max, with or without tied maxima")


@checked
def p2_overlap(pf: Proof) -> Outcome:
    pf.rule("multivariable chain rule", "with overlapping windows dE/dx_i = sum over the windows "
            "j containing x_i of delta_j dy_j/dx_i")
    pf.uses("P2.bwd.max.limit", "CONDITIONAL", "per window, dy_j/dx_i -> 1 at the window's "
            "unique maximum (1/k for k ties)")
    pf.uses("P2.bwd.other.limit", text="per window, dy_j/dx_i -> 0 below the window's maximum")
    pf.rule("algebra of limits (finite sum)", "dE/dx_i -> sum of delta_j over the windows where "
            "x_i is the maximum: max pooling's gradient with the same windows")
    return pf.outcome(CONDITIONAL, "multivariable chain rule; P2.bwd.max.limit and "
                      "P2.bwd.other.limit per window",
                      "with overlapping windows the limit is max pooling's summed gradient when "
                      "every window has a unique maximum; a tie in any window splits it (1/k)",
                      {"x": [2.0, 2.0, 1.0], "alpha": 1e4, "windows": "kernel 2, stride 1",
                       "limit": ["1/2", "3/2", "0"], "max pooling": ["1", "1", "0"]})


__all__ = [name for name in dir() if name.startswith("p2_")] + [
    "lhopital_second", "lhopital_third", "lower_rhs", "lower_val1", "lower_val2", "other_lhs",
    "replaced", "upper_rhs"]
