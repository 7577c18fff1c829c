"""Checks for the Lp-norm claims (supplement Sec. 2, Eq. 1 and 2) and the power mean (GeM)."""

from __future__ import annotations

import sympy as sp

from . import lemmas as Lm
from .model import CONDITIONAL, PROVED, REFUTED, Outcome
from .proof import Proof, checked
from .sym import RATIO, A, N, S, X, i, k, m, p, xi

RED = ("SymPy on a reduction covering all N: the other elements enter only through "
       "A = sum_{j!=i} x_j^p (independent of x_i)")
ALGEBRA = "algebra of limits"
pn = sp.Symbol("p", negative=True)


def _lp(x, A_, pp):
    return (x**pp + A_) ** (1 / pp)


def _correct_dx(x, A_, pp):
    return x ** (pp - 1) * (x**pp + A_) ** ((1 - pp) / pp)


def _reduction(pf: Proof) -> None:
    pf.rule("splitting a finite sum", "sum_j x_j^p = x_i^p + A, A = sum_{j != i} x_j^p "
            "independent of x_i")


@checked
def eq2_dx_printed(pf: Proof) -> Outcome:
    printed = sp.Integer(3) * sp.Integer(25) ** sp.Rational(2, 1 - 2)
    correct = sp.diff(_lp(xi, 16, sp.Integer(2)), xi).subs(xi, 3)
    pf.exact(printed == sp.Rational(3, 625) and correct == sp.Rational(3, 5),
             "x = (3,4), p = 2: printed 3/625, correct 3/5")
    return pf.outcome(REFUTED, "exact rational evaluation",
                      "exponent p/(1-p) should be (1-p)/p: x = (3,4), p = 2 gives 3/625 instead "
                      "of 3/5 for dy/dx_1",
                      {"x": [3.0, 4.0], "p": 2.0, "printed": "3/625", "correct": "3/5"})


@checked
def eq2_dx_correct(pf: Proof) -> Outcome:
    pr = sp.Symbol("p", real=True, nonzero=True)
    _reduction(pf)
    pf.zero(sp.diff(_lp(xi, A, pr), xi) - _correct_dx(xi, A, pr), "dy/dx_i = corrected Eq. 2")
    return pf.outcome(PROVED, RED, "dy/dx_i = x_i^(p-1) (sum x^p)^((1-p)/p) = y x_i^(p-1)/sum x^p "
                      "(x_i > 0, p != 0)")


@checked
def eq2_dp_printed(pf: Proof) -> Outcome:
    printed = (-sp.log(3) + sp.Rational(1, 3)) * 3
    y = (1 + 2**p) ** (1 / p)
    correct = sp.simplify(sp.diff(y, p).subs(p, 1))
    pf.zero(printed - correct - (1 - 2 * sp.log(2)), "x = (1,2), p = 1: printed - correct = "
            "1 - 2 ln 2")
    pf.sympy((1 - 2 * sp.log(2)).is_nonzero, "1 - 2 ln 2 != 0")
    pi2 = (-sp.log(5) / 4 + sp.Integer(1) / 5) * sp.sqrt(5)
    pi1 = (-sp.log(5) / 4 + sp.Integer(2) / 5) * sp.sqrt(5)
    pf.sympy(sp.simplify(pi1 - pi2) != 0, "x = (1,2), p = 2: the printed value differs between "
             "i = 1 and i = 2, which dy/dp cannot")
    return pf.outcome(REFUTED, "SymPy exact evaluation (logarithms), oracle ball check",
                      "x_i^(p-1) should be sum x^p ln x / p: x = (1,2), p = 1: printed "
                      "1 - 3 ln 3, correct 2 ln 2 - 3 ln 3; the printed value also depends on i",
                      {"x": [1.0, 2.0], "p": 1.0, "printed": "1 - 3*log(3)",
                       "correct": "2*log(2) - 3*log(3)"})


@checked
def eq2_dp_correct(pf: Proof) -> Outcome:
    s_, sd = sp.symbols("S S'", positive=True)
    pr = sp.Symbol("p", real=True, nonzero=True)
    ff = sp.Function("S")(pr)
    dy = sp.diff(ff ** (1 / pr), pr).subs(sp.Derivative(ff, pr), sd).subs(ff, s_)
    pf.zero(dy - s_ ** (1 / pr) * (-sp.log(s_) / pr**2 + sd / (pr * s_)),
            "d/dp S(p)^(1/p) = y (-ln S / p^2 + S'/(p S)) (chain rule)")
    pf.zero(sp.diff(S(X[i] ** pr), pr) - S(X[i] ** pr * sp.log(X[i])),
            "S'(p) = sum x^p ln x (Sum, all N)")
    return pf.outcome(PROVED, "SymPy chain rule with S(p) = sum x^p; S'(p) with Sum (all N)",
                      "dy/dp = y (-ln S / p^2 + sum x^p ln x / (p S))")


@checked
def eq2_dp_sum(pf: Proof) -> Outcome:
    pf.rule("multivariable chain rule", "p enters every window's y_j, so dE/dp = sum_j "
            "(dE/dy_j)(dy_j/dp) over all windows")
    y = lambda xs: sum(v**p for v in xs) ** (1 / p)  # noqa: E731
    second = sp.simplify(sp.diff(y((3, 4)), p).subs(p, 1))
    pf.zero(second - (3 * sp.log(3) + 4 * sp.log(4) - 7 * sp.log(7)),
            "window (3,4), p = 1: dy_2/dp = 3 ln 3 + 4 ln 4 - 7 ln 7")
    pf.sympy(second.is_negative, "it is non-zero (negative)")
    return pf.outcome(CONDITIONAL, "SymPy chain rule and exact evaluation (logarithms)",
                      "the printed dE/dp has no sum over windows although p is shared by them; "
                      "as printed it is dE/dp only when p belongs to a single window: windows "
                      "(1,2), (3,4), delta = (1,1), p = 1 add 3 ln 3 + 4 ln 4 - 7 ln 7 != 0",
                      {"x": [1.0, 2.0, 3.0, 4.0], "p": 1.0, "windows": "kernel 2, stride 2",
                       "missing term": "3*log(3) + 4*log(4) - 7*log(7)"})


def _p0_positive_part(pf: Proof) -> None:
    pf.limit(xi**p, p, 0, 1, "x^p -> 1 as p -> 0+ for x > 0")
    pf.sympy(sp.Integer(0) ** p == 0, "a zero element contributes 0^p = 0 for p > 0")
    pf.rule(ALGEBRA, "S(p) = sum x^p -> n (the number of positive elements) and x_i^p/S -> 1/n")


@checked
def eq2_dx_p0(pf: Proof) -> Outcome:
    pp = sp.Symbol("p", positive=True)
    base = xi**pp / (xi**pp + A)
    pf.zero(sp.expand_power_base(_correct_dx(xi, A, pp) - base ** ((pp - 1) / pp), force=True),
            "dy/dx_i = (x_i^p/S)^((p-1)/p)")
    _p0_positive_part(pf)
    nn = sp.Symbol("n", integer=True, positive=True)
    jj = sp.Symbol("j", integer=True, nonnegative=True)
    pf.inequality("ln(1/n) < 0 for n >= 2", sp.log(1 / nn) < 0, [nn >= 2],
                  sympy_form=-sp.log(2 + jj), sympy_sign_of="<0")
    pf.limit((pp - 1) / pp, pp, 0, -sp.oo, "(p-1)/p -> -oo as p -> 0+")
    pf.rule(ALGEBRA, "ln dy/dx_i = ((p-1)/p) ln(x_i^p/S) -> (-oo)(ln(1/n) < 0) = +oo")
    pf.limit((1 / (1 + 2**pp)) ** ((pp - 1) / pp), pp, 0, sp.oo, "x = (1,2): dy/dx_1 -> +oo "
             "as p -> 0+")
    pf.limit((1 / (1 + 2**pn)) ** ((pn - 1) / pn), pn, 0, 0, "x = (1,2): dy/dx_1 -> 0 as "
             "p -> 0- (the other side)", "-")
    pf.zero(_correct_dx(xi, 0, pp) - 1, "one element: dy/dx = 1 for every p")
    return pf.outcome(CONDITIONAL, "reduction dy/dx_i = (x_i^p/S)^(1-1/p) (all N); SymPy limits "
                      "and algebra of limits",
                      "one-sided: dy/dx_i -> +oo as p -> 0+ when the window has n >= 2 positive "
                      "elements, but -> 0 as p -> 0- (x = (1,2)); with one positive element "
                      "dy/dx = 1 for every p",
                      {"x": [1.0, 2.0], "p": -1e-3, "dy/dx": "-> 0 as p -> 0-"})


@checked
def eq2_p0(pf: Proof) -> Outcome:
    s_, sd = sp.symbols("S S'", positive=True)
    pp = sp.Symbol("p", positive=True)
    pf.uses("E2.dp.correct", text="dy/dp = y (p S' - S ln S)/(p^2 S)")
    _p0_positive_part(pf)
    nn = sp.Symbol("n", integer=True, positive=True)
    jj = sp.Symbol("j", integer=True, nonnegative=True)
    pf.inequality("p S' - S ln S -> -n ln n < 0 for n >= 2 (S' -> sum ln x_j, finite)",
                  -nn * sp.log(nn) < 0, [nn >= 2],
                  sympy_form=-(2 + jj) * sp.log(2 + jj), sympy_sign_of="<0")
    pf.rule(ALGEBRA, "y = S^(1/p) = exp(ln S / p) -> +oo (ln S -> ln n > 0) and p^2 S -> 0+, so "
            "dy/dp -> -oo")
    pf.limit(sp.diff((1 + 2**pp) ** (1 / pp), pp), pp, 0, -sp.oo,
             "x = (1,2): dy/dp -> -oo as p -> 0+")
    pf.limit(sp.diff((1 + 2**pn) ** (1 / pn), pn), pn, 0, 0,
             "x = (1,2): dy/dp -> 0 as p -> 0- (the other side)", "-")
    single = sp.simplify(sp.diff((sp.Integer(3) ** pp) ** (1 / pp), pp))
    pf.sympy(single == 0, "x = (3,): dy/dp = 0 (one positive element)")
    return pf.outcome(CONDITIONAL,
                      "reduction to S(p), S'(p) (all N) with the algebra of limits; SymPy limits "
                      "for x = (1,2) on both sides",
                      "one-sided: dy/dp -> -oo as p -> 0+ when the window has n >= 2 positive "
                      "elements, but -> 0 as p -> 0- (x = (1,2)); with one positive element "
                      "dy/dp = 0",
                      {"x": [1.0, 2.0], "p": -1e-3, "dy/dp": "-> 0 as p -> 0-"})


@checked
def eq2_dp_pinf(pf: Proof) -> Outcome:
    pf.limit(sp.diff((1 + 2**p) ** (1 / p), p), p, sp.oo, 0, "x = (1,2): dy/dp -> 0 as p -> oo")
    return pf.outcome(REFUTED, "SymPy limit of the corrected dE/dp",
                      "dy/dp -> 0 as p -> oo (x = (1,2)); the printed formula does not explode "
                      "either", {"x": [1.0, 2.0], "p": 1e3, "limit": "0"})


@checked
def eq2_dx_p1(pf: Proof) -> Outcome:
    pr = sp.Symbol("p", positive=True)
    g = _correct_dx(xi, A, pr)
    _reduction(pf)
    pf.sympy(sp.simplify(g.subs(pr, 1)) == 1, "dy/dx_i = 1 at p = 1")
    pf.limit(g, pr, 1, 1, "dy/dx_i -> 1 as p -> 1 (continuous)", "+-")
    return pf.outcome(REFUTED, RED + "; substitution and limit at p = 1",
                      "at p = 1 dy/dx_i = x^0 S^0 = 1 exactly and is continuous in p; the "
                      "1/(1-p) singularity comes only from the misprinted exponent",
                      {"x": [1.0, 2.0], "p": 1.0, "dy/dx": ["1", "1"]})


def _lp_bound(pf: Proof) -> None:
    """0 <= dy/dx_i = (x_i^p / S)^((p-1)/p) <= 1 for p >= 1."""
    q = sp.Symbol("q", nonnegative=True)  # p = 1 + q
    pp = 1 + q
    g = _correct_dx(xi, A, pp)
    base = xi**pp / (xi**pp + A)
    pf.zero(sp.simplify(sp.expand_power_base(g, force=True)
                        - sp.expand_power_base(base ** (q / pp), force=True)),
            "dy/dx_i = (x_i^p/S)^((p-1)/p)")
    b = sp.Symbol("b", positive=True)
    pf.inequality("0 < b^((p-1)/p) <= 1 for 0 < b = x_i^p/S <= 1 and p >= 1",
                  sp.And(b ** (q / (1 + q)) <= 1, b ** (q / (1 + q)) > 0), [b <= 1])
    pf.inequality("x_i^p / S <= 1", base <= 1)


@checked
def eq2_dx_pinf(pf: Proof) -> Outcome:
    _reduction(pf)
    _lp_bound(pf)
    r = RATIO
    pf.limit((1 / (1 + r**p)) ** ((p - 1) / p), p, sp.oo, 1, "x = (x_k, x_max): the max's "
             "gradient -> 1")
    pf.limit((r**p / (1 + r**p)) ** ((p - 1) / p), p, sp.oo, 0, "the other's -> 0")
    return pf.outcome(REFUTED, RED + "; SymPy limits for N = 2 with x_k/x_max = 1/(1+t)",
                      "dy/dx_i = (x_i^p/S)^((p-1)/p) in [0, 1] for p >= 1; it tends to the "
                      "max-pooling gradient, no explosion",
                      {"x": [1.0, 2.0], "p": 1e3, "limit": ["0", "1"]})


@checked
def sec2_avg(pf: Proof) -> Outcome:
    _reduction(pf)
    pf.sympy(sp.simplify(_correct_dx(xi, A, 1)) == 1, "the Lp gradient at p = 1 is 1")
    nn = sp.Symbol("N", integer=True, positive=True)
    jj = sp.Symbol("j", integer=True, nonnegative=True)  # N = 2 + j
    pf.inequality("1 != 1/N for N >= 2", sp.Ne(1, 1 / nn), [nn >= 2],
                  sympy_form=1 - 1 / (2 + jj), sympy_sign_of=">0")
    return pf.outcome(PROVED, RED + "; SymPy and z3",
                      "at p = 1 the Lp gradient is 1, average pooling's 1/N: they differ for "
                      "every window of N >= 2 elements (Lp at p = 1 is sum pooling; the power "
                      "mean gives 1/N exactly, PM.p1)")


@checked
def sec2_max(pf: Proof) -> Outcome:
    pf.uses("E2.b.pinf", REFUTED, "the Lp gradient tends to the max-pooling gradient")
    return pf.outcome(REFUTED, RED + "; SymPy limits (N = 2)",
                      "for a unique maximum the Lp gradient tends to one-hot, max pooling's "
                      "gradient (with k ties it tends to 1/k each, torch gives 1 to one)",
                      {"x": [1.0, 2.0], "p": 1e4, "limit": ["0", "1"], "max pool": ["0", "1"]})


@checked
def sec2_conclusion(pf: Proof) -> Outcome:
    pf.uses("E2.b.p1", REFUTED, "dy/dx_i = 1 at p = 1, continuous")
    pf.uses("E2.b.pinf", REFUTED, "dy/dx_i is bounded by 1 and converges as p -> oo")
    return pf.outcome(REFUTED, RED + "; see E2.b.p1 and E2.b.pinf",
                      "dy/dx_i is exactly 1 at p = 1 and bounded by 1, converging as p -> oo; it "
                      "can be computed at both boundaries",
                      {"x": [1.0, 2.0], "p": 1.0, "dy/dx": ["1", "1"]})


# ------------------------------------------------------------------ power mean (GeM)


@checked
def pm_grad(pf: Proof) -> Outcome:
    pr = sp.Symbol("p", real=True, nonzero=True)
    n = sp.Symbol("N", positive=True)
    M = ((xi**pr + A) / n) ** (1 / pr)
    _reduction(pf)
    pf.zero(sp.diff(M, xi) - (xi / M) ** (pr - 1) / n, "dM/dx_i = (1/N)(x_i/M)^(p-1)")
    return pf.outcome(PROVED, RED, "dM/dx_i = (1/N) (x_i/M)^(p-1)")


@checked
def pm_p1(pf: Proof) -> Outcome:
    n = sp.Symbol("N", positive=True)
    b1 = sp.Symbol("B_1", nonnegative=True)
    _reduction(pf)
    pf.zero(sp.diff(((xi + b1) / n) ** 1, xi) - 1 / n, "dM/dx_i at p = 1 is 1/N")
    return pf.outcome(PROVED, RED, "at p = 1 the power mean is the average, dM/dx_i = 1/N")


@checked
def pm_p0(pf: Proof) -> Outcome:
    Lx = sp.IndexedBase("L", real=True)  # L_i = ln x_i
    pr = sp.Symbol("p", real=True)
    f = S(sp.exp(pr * Lx[i])) / N  # mean x^p
    h = sp.log(f)  # h(p) = p ln M_p
    m1 = S(Lx[i]) / N
    m2 = S(Lx[i] ** 2) / N
    pf.zero(h.subs(pr, 0).doit(), "h(p) = ln(mean x^p) has h(0) = 0 (Sum, all N)")
    pf.zero(sp.diff(h, pr).subs(pr, 0).doit() - m1, "h'(0) = mean ln x")
    pf.zero(sp.diff(h, pr, 2).subs(pr, 0).doit() - (m2 - m1**2), "h''(0) = Var(ln x)")
    pf.rule("smoothness of elementary functions", "h is C^2 near p = 0: the logarithm of a "
            "positive finite sum of exponentials")
    pf.rule("definition of the derivative", "ln M_p = h(p)/p -> h'(0) = mean ln x, so "
            "M_p -> exp(mean ln x), the geometric mean")
    hf = sp.Function("h")
    num = pr * sp.diff(hf(pr), pr) - hf(pr)
    pf.zero(sp.diff(num, pr) - pr * sp.diff(hf(pr), pr, 2), "(p h' - h)' = p h''")
    pf.zero(sp.diff(hf(pr) / pr, pr) - num / pr**2, "d/dp (h/p) = (p h' - h)/p^2")
    pf.rule("L'Hospital's rule (0/0)", "(p h' - h)/p^2 -> lim p h''/(2p) = h''(0)/2 "
            "(numerator and denominator -> 0, h'' continuous)")
    pf.rule("chain rule", "dM/dp = M d/dp ln M_p -> M_0 Var(ln x)/2")
    return pf.outcome(PROVED, "SymPy derivatives of ln(mean x^p) with Sum (all N); the "
                      "derivative definition and L'Hospital's rule",
                      "M_p -> geometric mean and dM/dp -> M_0 Var(ln x)/2 as p -> 0: finite, "
                      "no singularity for the power mean")


@checked
def pm_pinf(pf: Proof) -> Outcome:
    nn = sp.Symbol("n", integer=True, nonnegative=True)
    R = Lm.R
    Vv = sp.Symbol("V", nonnegative=True)
    Nn = k + nn
    pf.rule("splitting a finite sum", "with k tied maxima m and n = N - k others at ratios "
            "r_j <= rho < 1: sum x^p = m^p (k + V), 0 <= V <= n rho^p, M/m = ((k+V)/N)^(1/p)")
    Lm.max_reduction(pf)
    g = (1 / (k + Vv)) * ((k + Vv) / Nn) ** (1 / p)
    pf.zero(sp.powsimp(sp.expand_power_base((1 / Nn) * ((k + Vv) / Nn) ** ((1 - p) / p) - g,
                                            force=True), force=True),
            "dM/dx_max = (1/N)(M/m)^(1-p) = (1/(k+V)) ((k+V)/N)^(1/p)")
    pf.inequality("(1/(k + n rho^p)) (k/N)^(1/p) <= dM/dx_max <= 1/k (t -> t^(1/p) increases)",
                  sp.And((1 / (k + nn * R)) * (k / Nn) ** (1 / p) <= g, g <= 1 / k),
                  [Vv <= nn * R, R <= 1])
    pf.limit((1 / (k + nn * RATIO**p)) * (k / Nn) ** (1 / p), p, sp.oo, 1 / k,
             "(1/(k + n rho^p)) (k/N)^(1/p) -> 1/k")
    pf.rule(Lm.SQUEEZE, "dM/dx_max -> 1/k")
    rr, Mm = sp.symbols("r M", positive=True)
    pf.zero(sp.powsimp(sp.expand_power_base(((rr * m / Mm) ** (p - 1)) / ((m / Mm) ** (p - 1))
                                            - rr ** (p - 1), force=True), force=True),
            "below the max, x_j = r x_max: dM/dx_j = r^(p-1) dM/dx_max (PM.grad's formula)")
    pf.inequality("so 0 <= dM/dx_j <= r^(p-1)/k", sp.And(rr ** (p - 1) * Mm <= rr ** (p - 1) / k,
                                                         rr ** (p - 1) * Mm >= 0),
                  [Mm <= 1 / k])
    pf.limit(RATIO ** (p - 1) / k, p, sp.oo, 0, "r^(p-1)/k -> 0")
    pf.rule(Lm.SQUEEZE, "dM/dx_j -> 0 below the max")
    return pf.outcome(PROVED, "reduction with k tied maxima (all N); z3 bounds, SymPy limits of "
                      "the bounds, squeeze theorem",
                      "M_p -> max and dM/dx_i -> 1/k for each of k tied maxima, 0 otherwise")


# ------------------------------------------------------------------ Eq. 1 and the chain rule


@checked
def e1_limit(pf: Proof) -> Outcome:
    nn = sp.Symbol("n", integer=True, nonnegative=True)
    Vv = sp.Symbol("V", nonnegative=True)
    pf.rule("splitting a finite sum", "k tied maxima m and n = N - k others at ratios r_j < 1: "
            "sum x^p = m^p (k + V), V = sum r_j^p")
    pf.zero(sp.powdenest(sp.expand_power_base((m**p * (k + Vv)) ** (1 / p), force=True),
                         force=True) - m * (k + Vv) ** (1 / p),
            "(sum x^p)^(1/p) = x_max (k + V)^(1/p) (x_max, k + V > 0)")
    rr = sp.Symbol("r", positive=True)
    pf.inequality("0 < r^p <= 1 for 0 < r <= 1, p > 0", sp.And(rr**p <= 1, rr**p > 0),
                  [rr <= 1])
    pf.sympy(sp.Integer(0) ** p == 0, "a zero element contributes 0^p = 0")
    pf.rule("summing termwise bounds over finitely many terms", "0 <= V <= n")
    pf.inequality("k^(1/p) <= (k + V)^(1/p) <= (k + n)^(1/p) (t -> t^(1/p) increases)",
                  sp.And(k ** (1 / p) <= (k + Vv) ** (1 / p), (k + Vv) ** (1 / p) <=
                         (k + nn) ** (1 / p)), [Vv <= nn])
    pf.limit(k ** (1 / p), p, sp.oo, 1, "k^(1/p) -> 1")
    pf.limit((k + nn) ** (1 / p), p, sp.oo, 1, "N^(1/p) -> 1")
    pf.rule(Lm.SQUEEZE, "(sum x^p)^(1/p) -> x_max")
    return pf.outcome(PROVED, "reduction x_max (k + V)^(1/p) with k tied maxima (all N); z3 and "
                      "SymPy bounds, SymPy limits, squeeze theorem",
                      "x_max k^(1/p) <= (sum x^p)^(1/p) <= x_max N^(1/p), both -> x_max as "
                      "p -> oo (x >= 0, x_max > 0)")


@checked
def eq2_chain(pf: Proof) -> Outcome:
    x = sp.Symbol("x")
    y1, y2 = sp.Function("y1")(x), sp.Function("y2")(x)
    Y1, Y2 = sp.symbols("Y1 Y2")
    Ef = sp.Function("E")
    lhs = sp.diff(Ef(y1, y2), x)
    rhs = sum(sp.diff(Ef(Y1, Y2), Yj).subs({Y1: y1, Y2: y2}, simultaneous=True)
              * sp.diff(yj, x) for Yj, yj in ((Y1, y1), (Y2, y2)))
    pf.rule("multivariable chain rule", "dE/dx_i = sum_j (dE/dy_j)(dy_j/dx_i) for E "
            "differentiable in y_1..y_J")
    pf.zero((lhs - rhs).doit(), "SymPy's chain rule for an element shared by two windows")
    return pf.outcome(PROVED, "the multivariable chain rule; SymPy for two windows",
                      "dE/dx_i = sum_j dE/dy_j dy_j/dx_i over the windows j containing x_i")
