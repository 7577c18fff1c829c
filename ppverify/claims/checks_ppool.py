"""Checks for Proposition 1 (supplement Sec. 1) and the toolkit's own P-pooling claims.

Each check receives a ``Proof`` (see ``proof.py``), records its steps and returns an
``Outcome``. ``sym.py`` explains the two ways every window size N is covered; ``lemmas.py``
holds the reductions shared with Proposition 2.
"""

from __future__ import annotations

import sympy as sp

from . import lemmas as Lm
from .model import CONDITIONAL, PROVED, REFUTED, Outcome
from .proof import Proof, checked
from .sym import (
    RATIO,
    X0,
    A,
    B,
    N,
    S,
    U,
    V,
    X,
    a,
    ap,
    c,
    d,
    i,
    j,
    k,
    lehmer,
    lehmer_grad_printed,
    m,
    xi,
    xk,
)

ALL_N_SUM = "SymPy Sum/IndexedBase over i=1..N, symbolic N (all N)"
ALL_N_RED = ("SymPy on a reduction covering all N: the other elements enter only through "
             "sums independent of x_i (A = sum_{j!=i} x_j^a, B = sum_{j!=i} x_j^(a+1))")
ALL_N_LIM = ("reduction to k tied maxima and n others at ratios <= rho < 1 (all N, ties and "
             "zeros); z3 and SymPy bound the sums by n rho^a, SymPy takes the limits of the "
             "bounds, squeeze theorem")
REDUCTION = "splitting a finite sum"


def _reduction(pf: Proof, what: str = "y") -> None:
    pf.rule(REDUCTION, f"{what}: sum_j f(x_j) = f(x_i) + sum_{{j != i}} f(x_j); the second sum "
            "does not depend on x_i (A, B)")


# ------------------------------------------------------------------ Proposition 1 (alpha = 0)


def _p1_forward(pf: Proof) -> None:
    y = S(X0[i] ** (a + 1)) / S(X0[i] ** a)
    mid = S(X0[i] ** 1) / S(X0[i] ** 0)
    pf.zero(y.subs(a, 0) - mid, "y|_{a=0} = sum x^1 / sum x^0 (0^0 = 1)")
    pf.zero(mid.doit() - S(X0[i]) / N, "sum x^1 / sum x^0 = (1/N) sum x")


@checked
def p1_overall(pf: Proof) -> Outcome:
    _p1_forward(pf)
    b1 = sp.Symbol("B_1", nonnegative=True)
    x0 = sp.Symbol("x_i", nonnegative=True)
    pf.rule(REDUCTION, "at a = 0, y = (x_i + B_1)/N with B_1 = sum_{j != i} x_j")
    pf.zero(sp.diff((x0 + b1) / N, x0) - 1 / N, "d/dx_i (x_i + B_1)/N = 1/N")
    return pf.outcome(PROVED, ALL_N_SUM + "; backward by reduction to (x_i + sum_{j!=i} x_j)/N",
                      "at a = 0 (0^0 = 1) y = (1/N) sum x and dy/dx_i = 1/N for all N, zeros "
                      "included")


@checked
def p1_fwd_subst(pf: Proof) -> Outcome:
    y = S(X0[i] ** (a + 1)) / S(X0[i] ** a)
    pf.zero(y.subs(a, 0) - S(X0[i] ** 1) / S(X0[i] ** 0), "substitution a = 0")
    return pf.outcome(PROVED, ALL_N_SUM, "substituting a = 0 gives sum x^1 / sum x^0 (0^0 = 1)")


@checked
def p1_fwd_mean(pf: Proof) -> Outcome:
    pf.zero((S(X0[i] ** 1) / S(X0[i] ** 0)).doit() - S(X0[i]) / N, "sum x / sum 1 = mean")
    return pf.outcome(PROVED, ALL_N_SUM, "sum x^0 = N, so sum x^1 / sum x^0 = (1/N) sum x")


@checked
def p1_bwd_grad(pf: Proof) -> Outcome:
    _reduction(pf)
    y = lehmer(xi, A, B, a)
    pf.zero(sp.diff(y, xi) - lehmer_grad_printed(xi, A, B, a), "dy/dx_i = printed expression")
    return pf.outcome(PROVED, ALL_N_RED,
                      "the quotient rule gives exactly the printed numerator and (sum x^a)^2 "
                      "(x_i > 0); dE/dx_i = delta dy/dx_i for one window")


@checked
def p1_bwd_subst(pf: Proof) -> Outcome:
    a0 = sp.Symbol("A_0", nonnegative=True)  # number of other elements, sum_{j!=i} x_j^0
    b1 = sp.Symbol("B_1", nonnegative=True)
    _reduction(pf)
    printed = lehmer_grad_printed(xi, A, B, a).subs(a, 0).subs({A: a0, B: b1})
    pf.zero(printed - xi**0 * (1 + a0) / (1 + a0) ** 2,
            "printed expression at a = 0 = x_i^0 sum x^0 / (sum x^0)^2 (x_i > 0)")
    term = sp.Integer(0) * sp.Integer(0) ** (sp.Integer(0) - 1)
    pf.sympy(term is sp.nan, "at x_i = 0 the term a x_i^(a-1) is 0 * 0^(-1), undefined")
    return pf.outcome(CONDITIONAL, ALL_N_RED + "; exact evaluation at x_i = 0",
                      "valid for x_i > 0 (unstated); at x_i = 0 the term a x_i^(a-1) is "
                      "0*0^(-1), undefined (the conclusion 1/N still holds: see P1)",
                      {"x": [0.0, 1.0], "alpha": 0.0, "i": 0, "term": "0 * 0**(-1) = nan"})


@checked
def p1_bwd_value(pf: Proof) -> Outcome:
    s0 = S(X0[i] ** 0).doit()
    pf.sympy(s0 == N, "sum x^0 = N (0^0 = 1)")
    pf.zero(1 * s0 / s0**2 - 1 / N, "N/N^2 = 1/N")
    return pf.outcome(PROVED, ALL_N_SUM, "x_i^0 sum x^0 / (sum x^0)^2 = N/N^2 = 1/N (0^0 = 1)")


@checked
def p1_continuity(pf: Proof) -> Outcome:
    pf.limit(xi**a, a, 0, 1, "x^a -> 1 as a -> 0 for x > 0 (both sides)", "+-")
    _reduction(pf)
    pf.rule("algebra of limits", "for x > 0: y(a) = (x_i^(a+1) + B(a))/(x_i^a + A(a)) -> "
            "(x_i + B(0))/(1 + A(0)) = y(0), each of the finitely many terms converging and the "
            "denominator tending to N > 0")
    pf.zero(lehmer(xi, A, B, a).subs(a, 0) - (xi + B) / (1 + A), "y(0) has the same form")
    y = (sp.Integer(0) ** (a + 1) + 1) / (sp.Integer(0) ** a + 1)
    pf.limit(y.subs(a, ap), ap, 0, 1, "x = (0, 1): y(0+) = 1")
    pf.limit(y.subs(a, -ap), ap, 0, 0, "x = (0, 1): y(0-) = 0")
    pf.exact((sp.Integer(0) ** 1 + 1) / (sp.Integer(0) ** 0 + 1) == sp.Rational(1, 2),
             "x = (0, 1): y(0) = (0^1 + 1^1)/(0^0 + 1^0) = 1/2")
    return pf.outcome(CONDITIONAL, "SymPy limits; reduction for x > 0 (all N), exact limits for "
                      "x = (0, 1)",
                      "every x_i > 0 is sufficient for continuity at a = 0, not necessary (the "
                      "exact condition, no zero or all zeros, is Q.cont.exact); x = (0,1): "
                      "y(0-) = 0, y(0) = 1/2, y(0+) = 1",
                      {"x": [0.0, 1.0], "alpha": 0.0, "y(0-)": "0", "y(0)": "1/2",
                       "y(0+)": "1"})


@checked
def p1_overlap(pf: Proof) -> Outcome:
    """Prop. 1 with overlapping windows: the gradient is a sum over the windows of x_i."""
    x1, x2, x3 = sp.symbols("x1 x2 x3", positive=True)
    d1, d2 = sp.symbols("delta1 delta2", real=True)

    def ppool(xs, al):
        return sum(v ** (al + 1) for v in xs) / sum(v**al for v in xs)

    pf.rule("multivariable chain rule", "dE/dx_i = sum over the windows j containing x_i of "
            "(dE/dy_j)(dy_j/dx_i); windows not containing x_i contribute 0")
    g = (sp.diff(ppool((x1, x2), a), x2).subs(a, 0) * d1
         + sp.diff(ppool((x2, x3), a), x2).subs(a, 0) * d2)
    avg = sp.diff((x1 + x2) / 2, x2) * d1 + sp.diff((x2 + x3) / 2, x2) * d2
    pf.zero(g - avg, "windows (x1, x2), (x2, x3) at a = 0: x2 gets delta1/2 + delta2/2, as "
            "under average pooling")
    pf.uses("P1", text="per window, dy_j/dx_i = 1/N at a = 0 (all N)")
    pf.rule("linearity of the chain rule's sum", "with any overlap, dE/dx_i at a = 0 is "
            "sum_{j containing x_i} delta_j/N, exactly average pooling's gradient")
    return pf.outcome(PROVED, "multivariable chain rule; P1 per window; SymPy for two "
                      "overlapping windows",
                      "Prop. 1's one-window view loses nothing: with overlapping windows both "
                      "P-pooling at a = 0 and average pooling give sum_{j containing x_i} "
                      "delta_j/N")


# ------------------------------------------------------------------ toolkit claims


@checked
def t_bounds(pf: Proof) -> Outcome:
    lhs = S(X[i] ** a * (X[i] - c))
    pf.zero(lhs - (S(X[i] ** (a + 1)) - c * S(X[i] ** a)),
            "y - c = sum x^a (x - c) / sum x^a (Sum, all N)")
    lo, hi, xv = sp.symbols("x_min x_max x", positive=True)
    pf.inequality("x^a (x - x_min) >= 0 for x >= x_min", xv**a * (xv - lo) >= 0, [xv >= lo],
                  sympy_form=((lo + d) ** a * d), sympy_sign_of=">=0")
    pf.inequality("x^a (x_max - x) >= 0 for x <= x_max", xv**a * (hi - xv) >= 0, [xv <= hi],
                  sympy_form=(xi**a * d), sympy_sign_of=">=0")
    pf.sympy(S(X[i] ** a * sp.Symbol("q", nonnegative=True)).is_nonnegative,
             "a Sum of non-negative terms is non-negative")
    pf.sympy(S(X[i] ** a).is_positive, "sum x^a > 0")
    return pf.outcome(PROVED, ALL_N_SUM + ": y - c = sum x^a (x - c) / sum x^a, termwise signs "
                      "(SymPy and z3)",
                      "y - min x and max x - y are sums of non-negative terms over a positive "
                      "denominator, so min x <= y <= max x (x > 0)")


@checked
def t_dalpha_cov(pf: Proof) -> Outcome:
    y = S(X[i] ** (a + 1)) / S(X[i] ** a)
    cov = (S(X[i] ** a * sp.log(X[i]) * X[i]) - y * S(X[i] ** a * sp.log(X[i]))) / S(X[i] ** a)
    pf.zero(sp.powsimp(sp.diff(y, a) - cov), "dy/da = sum w ln x (x - y) (Sum, all N)")
    return pf.outcome(PROVED, ALL_N_SUM + " (SymPy differentiates the Sums termwise)",
                      "dy/da = sum w_i ln(x_i)(x_i - y) = Cov_w(ln x, x), w_i = x_i^a / sum x^a")


def chebyshev_pairs(pf: Proof) -> None:
    """W sum u f g - (sum u f)(sum u g) = (1/2) sum_ij u_i u_j (f_i - f_j)(g_i - g_j)."""
    W = sp.IndexedBase("u", positive=True)
    F_ = sp.IndexedBase("f", real=True)
    G_ = sp.IndexedBase("g", real=True)
    summand = sp.expand(W[i] * W[j] * (F_[i] - F_[j]) * (G_[i] - G_[j]))
    total = 0
    for term in sp.Add.make_args(summand):
        ipart = sp.Mul(*[f for f in sp.Mul.make_args(term) if j not in f.free_symbols])
        jpart = sp.Mul(*[f for f in sp.Mul.make_args(term) if j in f.free_symbols])
        total += S(ipart, i) * S(jpart.subs(j, i), i)
    target = 2 * S(W[i]) * S(W[i] * F_[i] * G_[i]) - 2 * S(W[i] * F_[i]) * S(W[i] * G_[i])
    pf.rule("distributivity of finite sums", "sum_i sum_j a_i b_j = (sum_i a_i)(sum_j b_j) for "
            "each of the four products in u_i u_j (f_i - f_j)(g_i - g_j)")
    pf.zero(total - target, "sum_ij u_i u_j (f_i - f_j)(g_i - g_j) = 2 (W sum u f g - sum u f "
            "sum u g) (Sum, all N)")


@checked
def t_monotone(pf: Proof) -> Outcome:
    pf.uses("T.dalpha.cov")
    y = S(X[i] ** (a + 1)) / S(X[i] ** a)
    cov = (S(X[i] ** a * sp.log(X[i]) * X[i]) - y * S(X[i] ** a * sp.log(X[i]))) / S(X[i] ** a)
    wsum = S(X[i] ** a)
    pf.zero(cov - (wsum * S(X[i] ** a * sp.log(X[i]) * X[i])
                   - S(X[i] ** a * sp.log(X[i])) * S(X[i] ** a * X[i])) / wsum**2,
            "Cov_w = (W sum u f g - sum u f sum u g)/W^2 with u = x^a, f = ln x, g = x")
    chebyshev_pairs(pf)
    xa, xb = sp.symbols("x_a x_b", positive=True)
    pf.inequality("(ln x_a - ln x_b)(x_a - x_b) >= 0 (ln is increasing)",
                  (sp.log(xa) - sp.log(xb)) * (xa - xb) >= 0,
                  sympy_form=d * sp.log(1 + d / xa), sympy_sign_of=">=0")
    pf.sympy(S(X[i] ** a * sp.Symbol("q", nonnegative=True)).is_nonnegative,
             "a Sum of non-negative terms (u_i u_j >= 0 times a non-negative pair term) is "
             "non-negative")
    return pf.outcome(PROVED, ALL_N_SUM + " for dy/da and the Chebyshev pair identity; pair "
                      "sign by SymPy and z3",
                      "dy/da = (1/(2 W^2)) sum_ij u_i u_j (ln x_i - ln x_j)(x_i - x_j) >= 0, "
                      "u = x^a, W = sum u: y is non-decreasing in a")


@checked
def t_minus_inf(pf: Proof) -> Outcome:
    pf.uses("Q.duality", text="y_a(x) = 1 / y_{-a-1}(1/x) for x > 0")
    pf.uses("P2.fwd.limit", text="y_b(z) -> max z as b -> +inf")
    pf.rule("limit of a composition and of a reciprocal", "as a -> -inf, b = -a - 1 -> +inf, "
            "y_b(1/x) -> max(1/x) = 1/min x > 0, so y_a(x) -> min x")
    return pf.outcome(PROVED, "duality y_a(x) = 1/y_{-a-1}(1/x) (Q.duality) and the limit to "
                      "the max (P2.fwd.limit), all N",
                      "y -> min x as a -> -inf (x > 0)")


@checked
def t_harmonic(pf: Proof) -> Outcome:
    y = (S(X[i] ** (a + 1)) / S(X[i] ** a)).subs(a, -1).doit()
    pf.zero(y - N / S(1 / X[i]), "y(-1) = N / sum 1/x (Sum, all N)")
    return pf.outcome(PROVED, ALL_N_SUM, "y(-1) = N / sum(1/x): the harmonic mean (x > 0)")


@checked
def t_homogeneity(pf: Proof) -> Outcome:
    y = S(X[i] ** (a + 1)) / S(X[i] ** a)
    ys = S((c * X[i]) ** (a + 1)) / S((c * X[i]) ** a)
    pf.zero(sp.simplify(sp.expand_power_base(ys)) - c * y, "y(c x) = c y(x) (Sum, all N)")
    return pf.outcome(PROVED, ALL_N_SUM, "y(c x) = c y(x) for c > 0")


@checked
def t_euler(pf: Proof) -> Outcome:
    _reduction(pf)
    y = lehmer(xi, A, B, a)
    per_term = sp.simplify(xi * sp.diff(y, xi))
    term = ((a + 1) * xi ** (a + 1) - a * y * xi**a) / (xi**a + A)
    pf.zero(per_term - term, "x_i dy/dx_i = ((a+1) x_i^(a+1) - a y x_i^a) / sum x^a")
    yy = sp.Symbol("y", positive=True)
    ssum = S(X[i] ** a)
    pf.zero(S((a + 1) * X[i] ** (a + 1) - a * yy * X[i] ** a).doit().expand()
            - ((a + 1) * S(X[i] ** (a + 1)) - a * yy * ssum).expand(),
            "sum_i ((a+1) x_i^(a+1) - a y x_i^a) = (a+1) T - a y S (Sum linearity, all N)")
    s_, t_ = sp.symbols("S T", positive=True)
    pf.zero(((a + 1) * t_ - a * (t_ / s_) * s_) / s_ - t_ / s_, "((a+1)T - a y S)/S = y "
            "for y = T/S")
    cpos = sp.Symbol("c", positive=True)
    scaled = lehmer_grad_printed(cpos * xi, cpos**a * A, cpos ** (a + 1) * B, a)
    pf.zero(sp.powsimp(sp.expand_power_base(scaled, force=True), force=True)
            - lehmer_grad_printed(xi, A, B, a), "dy/dx_i(c x) = dy/dx_i(x)")
    return pf.outcome(PROVED, ALL_N_RED + "; the sum over i with Sum (all N)",
                      "sum_i x_i dy/dx_i = y (Euler, degree 1) and dy/dx_i(c x) = dy/dx_i(x) "
                      "(degree 0)")


@checked
def t_grad_max_positive(pf: Proof) -> Outcome:
    Lm.grad_as_weight(pf)
    pf.uses("T.bounds", text="y <= x_max")
    yv = sp.Symbol("y", positive=True)
    a0 = sp.Symbol("alpha", nonnegative=True)
    pf.inequality("(a+1) - a y/x_max >= 1 for a >= 0, y <= x_max",
                  (a0 + 1) - a0 * yv / m >= 1, [yv <= m],
                  sympy_form=sp.simplify((a0 + 1) - a0 * (m - d) / m - 1), sympy_sign_of=">=0")
    pf.inequality("w_max = x_max^a / sum x^a > 0", m**a0 / (m**a0 + A) > 0)
    return pf.outcome(PROVED, ALL_N_RED + "; y <= x_max (T.bounds); signs by SymPy and z3",
                      "dy/dx_max = w_max (1 + a (x_max - y)/x_max) >= w_max > 0 for a >= 0")


@checked
def t_grad_max_le1(pf: Proof) -> Outcome:
    g = sp.diff(lehmer(xi, A, B, a), xi).subs({xi: 2, A: 1, B: 1, a: 3})
    pf.exact(sp.nsimplify(g) == sp.Rational(28, 27), "x = (1,2), a = 3: dy/dx_2 = 28/27 > 1")
    return pf.outcome(REFUTED, "exact rational evaluation",
                      "x = (1,2), a = 3: dy/dx_max = 28/27 > 1 (it overshoots 1 before tending "
                      "to 1; how far: Q.overshoot.sup)",
                      {"x": [1.0, 2.0], "alpha": 3.0, "dy/dx_max": "28/27"})


def nonmax_sign_factor(pf: Proof) -> None:
    """dy/dx_k = x_k^(a-1) ((a+1) x_k - a y) / sum x^a: the sign of the bracket."""
    yv = sp.Symbol("y", positive=True)
    g = (xk**ap / (xk**ap + A)) * ((ap + 1) - ap * yv / xk)
    pf.zero(sp.factor(g) - xk ** (ap - 1) * ((ap + 1) * xk - ap * yv) / (xk**ap + A),
            "w_k ((a+1) - a y/x_k) = x_k^(a-1) ((a+1) x_k - a y) / sum x^a")


@checked
def t_grad_nonmax_sign(pf: Proof) -> Outcome:
    Lm.grad_as_weight(pf)
    nonmax_sign_factor(pf)
    pf.uses("P1.bwd.value", text="dy/dx_k = 1/N > 0 at a = 0")
    Lm.max_reduction(pf)
    yv = sp.Symbol("y", positive=True)
    pf.inequality("y >= x_max k/(k + n rho^a) (from y/x_max = (k+U)/(k+V), 0 <= U, "
                  "V <= n rho^a)", yv >= m * k / (k + Lm.n * Lm.R),
                  [sp.Eq(yv, m * (k + U) / (k + V)), Lm.n * Lm.R >= V])
    pf.inequality("so (a+1) x_k - a y <= (a+1) x_k - a x_max k/(k + n rho^a) (a > 0)",
                  (ap + 1) * xk - ap * yv <= (ap + 1) * xk - ap * m * k / (k + Lm.n * Lm.R),
                  [yv >= m * k / (k + Lm.n * Lm.R)])
    s = sp.Symbol("s", positive=True)
    pf.limit((ap + 1) * m * RATIO.subs(Lm.t, s) - ap * m * k / (k + Lm.n * RATIO**ap), ap, sp.oo,
             -sp.oo, "the bound -> -oo for x_k = x_max/(1+s) < x_max")
    pf.rule("definition of a limit -oo", "the bracket, and so dy/dx_k, is negative for all large "
            "a")
    return pf.outcome(PROVED, ALL_N_RED + "; an explicit lower bound on y (z3) whose limit SymPy "
                      "takes",
                      "for 0 < x_k < x_max: dy/dx_k = 1/N > 0 at a = 0 and < 0 for all large a "
                      "(where it changes sign: Q.nonmax.sign_changes)")


@checked
def t_grad_nonmax_peak(pf: Proof) -> Outcome:
    pf.uses("P1.bwd.value", text="g(0) = dy/dx_k(0) = 1/N > 0")
    pf.uses("T.grad.nonmax.sign", text="g(a) < 0 for all large a")
    pf.uses("P2.bwd.other.limit", text="g(a) -> 0 as a -> +inf")
    av = sp.Symbol("a", real=True)
    pf.sympy(sp.calculus.util.continuous_domain(xk**av, av, sp.S.Reals) == sp.S.Reals,
             "x^a is continuous in a on the reals (x > 0)")
    pf.inequality("sum x^a > 0", xk**ap + A > 0)
    pf.rule("continuity of sums, products and quotients", "g(a) is continuous in a (a quotient "
            "of finite sums of products of x_j^a with a positive denominator)")
    pf.rule("intermediate value theorem", "g has a zero a_0 > 0: |g| falls from 1/N to 0")
    pf.rule("extreme value theorem", "|g| is continuous, positive somewhere beyond a_0 and tends "
            "to 0, so it attains a maximum there: a finite peak after the zero")
    g = sp.diff(lehmer(xi, sp.Integer(1) * 2**ap, 2 ** (ap + 1), ap), xi).subs(xi, 1)
    pf.exact(g.subs(ap, 0) == sp.Rational(1, 2) and
             sp.nsimplify(g.subs(ap, 3)) == sp.Rational(-5, 27),
             "x = (1,2): dy/dx_1 = 1/2 at a = 0 and -5/27 at a = 3")
    return pf.outcome(PROVED, "from P1.bwd.value, T.grad.nonmax.sign and P2.bwd.other.limit, with "
                      "continuity (SymPy) and the intermediate and extreme value theorems",
                      "|dy/dx_k| falls from 1/N to 0 at some a_0 > 0, rises again and decays to "
                      "0: not monotone, with a finite peak after a_0 (x = (1,2): 1/2 at a = 0, "
                      "-5/27 at a = 3)")


@checked
def t_ties_torch(pf: Proof) -> Outcome:
    lim = Lm.max_grad_limit(pf)
    pf.exact(lim.subs(k, 2) == sp.Rational(1, 2), "k = 2: each tied maximum gets 1/2")
    return pf.outcome(CONDITIONAL, ALL_N_LIM,
                      "matches torch's max_pool backward only for a unique maximum: with k ties "
                      "the limit gives 1/k to each, torch all of it to the first",
                      {"x": [2.0, 1.0, 2.0], "alpha": 1e4, "P-pooling limit": ["1/2", "0", "1/2"],
                       "torch max_pool": ["1", "0", "0"]})


@checked
def t_ties_equal(pf: Proof) -> Outcome:
    n1 = sp.Symbol("n", positive=True)  # N - 1 other elements equal to c
    _reduction(pf)
    g = lehmer_grad_printed(xi, n1 * xi**a, n1 * xi ** (a + 1), a)
    pf.zero(g - 1 / (n1 + 1), "equal window: dy/dx_i = 1/N")
    pf.zero(lehmer(xi, n1 * xi**a, n1 * xi ** (a + 1), a) - xi, "equal window: y = c")
    return pf.outcome(PROVED, ALL_N_RED + " with every other element equal to x_i",
                      "N equal elements: y = c and dy/dx_i = 1/N for every a")


@checked
def t_zero_grad(pf: Proof) -> Outcome:
    s = sp.Symbol("s", positive=True)
    Ap, Bp = sp.symbols("A B", positive=True)
    below, above = 1 / (1 + s), 1 + s  # 0 < a < 1, a > 1
    _reduction(pf)
    Lm.zero_input_derivative(pf, below, -sp.oo, "0 < a < 1: the one-sided derivative at the "
                             "zero, lim (y(h) - y(0))/h, is -oo")
    Lm.zero_input_derivative(pf, 1, -(Bp / Ap) / Ap, "a = 1: it is -y/sum x = -B/A^2")
    Lm.zero_input_derivative(pf, above, 0, "a > 1: it is 0")
    pf.limit(lehmer_grad_printed(xi, Ap, Bp, below), xi, 0, -sp.oo,
             "0 < a < 1: dy/dx_z -> -oo as x_z -> 0+ as well")
    pf.limit(lehmer_grad_printed(xi, Ap, Bp, above), xi, 0, 0, "a > 1: dy/dx_z -> 0")
    return pf.outcome(PROVED, ALL_N_RED + "; one-sided difference quotients and limits x_z -> 0+",
                      "at a zero input dy/dx_z = -inf for 0 < a < 1, -y/sum x at a = 1, 0 for "
                      "a > 1 (one-sided derivative, and the limit of the derivative)")
