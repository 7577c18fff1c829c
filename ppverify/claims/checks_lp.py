"""SymPy checks for the Lp-norm claims (supplement Sec. 2, Eq. 1 and 2) and the power mean."""

from __future__ import annotations

import sympy as sp

from .model import CONDITIONAL, PROVED, REFUTED, Outcome
from .sym import A, atomic_limits, depends, p, require, t, undecided_to_unknown, xi, zero

RED = ("SymPy on a reduction covering all N: the other elements enter only through "
       "A = sum_{j!=i} x_j^p (independent of x_i)")
p1 = sp.Symbol("p", positive=True)


def _lp(x, A_, pp):
    return (x**pp + A_) ** (1 / pp)


def _correct_dx(x, A_, pp):
    return x ** (pp - 1) * (x**pp + A_) ** ((1 - pp) / pp)


@undecided_to_unknown
def eq2_dx_printed() -> Outcome:
    pt = {"x": [3.0, 4.0], "p": 2.0}
    printed = sp.Integer(3) * sp.Integer(25) ** sp.Rational(2, 1 - 2)
    correct = sp.diff(_lp(xi, 16, sp.Integer(2)), xi).subs(xi, 3)
    require(printed == sp.Rational(3, 625) and correct == sp.Rational(3, 5),
            "x = (3,4), p = 2: printed 3/625, correct 3/5")
    return Outcome(REFUTED, "exact rational evaluation",
                   "exponent p/(1-p) should be (1-p)/p: x = (3,4), p = 2 gives 3/625 instead of "
                   "3/5 for dy/dx_1", dict(pt, printed="3/625", correct="3/5"))


@undecided_to_unknown
def eq2_dx_correct() -> Outcome:
    pr = sp.Symbol("p", real=True, nonzero=True)
    zero(sp.diff(_lp(xi, A, pr), xi) - _correct_dx(xi, A, pr), "dy/dx_i - corrected Eq. 2")
    return Outcome(PROVED, RED, "dy/dx_i = x_i^(p-1) (sum x^p)^((1-p)/p) = y x_i^(p-1)/sum x^p "
                   "(x_i > 0, p != 0)")


@undecided_to_unknown
def eq2_dp_printed() -> Outcome:
    # x = (1,2), p = 1: printed = (-ln 3 + x_i^0/3) * 3 = 1 - 3 ln 3 (same for both i);
    # correct = (-ln 3 + (2 ln 2)/3) * 3 = 2 ln 2 - 3 ln 3
    printed = (-sp.log(3) + sp.Rational(1, 3)) * 3
    y = (1 + 2**p) ** (1 / p)
    correct = sp.simplify(sp.diff(y, p).subs(p, 1))
    diff = sp.simplify(printed - correct)
    require(sp.simplify(diff - (1 - 2 * sp.log(2))) == 0, "printed - correct = 1 - 2 ln 2")
    require((1 - 2 * sp.log(2)).is_nonzero, "1 - 2 ln 2 != 0")
    # the printed dE/dp depends on the element index i, a derivative wrt p cannot
    pi2 = (-sp.log(5) / 4 + sp.Integer(1) / 5) * sp.sqrt(5)
    pi1 = (-sp.log(5) / 4 + sp.Integer(2) / 5) * sp.sqrt(5)
    require(sp.simplify(pi1 - pi2) != 0, "printed depends on i")
    return Outcome(REFUTED, "SymPy exact evaluation (logarithms), oracle ball check",
                   "x_i^(p-1) should be sum x^p ln x / p: x = (1,2), p = 1: printed "
                   "1 - 3 ln 3, correct 2 ln 2 - 3 ln 3; the printed value also depends on i",
                   {"x": [1.0, 2.0], "p": 1.0, "printed": "1 - 3*log(3)",
                    "correct": "2*log(2) - 3*log(3)"})


@undecided_to_unknown
def eq2_dp_correct() -> Outcome:
    s_, sd = sp.symbols("S S'", positive=True)
    pr = sp.Symbol("p", real=True, nonzero=True)
    ff = sp.Function("S")(pr)
    y = ff ** (1 / pr)
    dy = sp.diff(y, pr).subs(sp.Derivative(ff, pr), sd).subs(ff, s_)
    zero(dy - s_ ** (1 / pr) * (-sp.log(s_) / pr**2 + sd / (pr * s_)), "dy/dp - corrected Eq. 2")
    return Outcome(PROVED, "SymPy chain rule with S(p) = sum x^p, S'(p) = sum x^p ln x (all N)",
                   "dy/dp = y (-ln S / p^2 + sum x^p ln x / (p S))")


@undecided_to_unknown
def eq2_p0() -> Outcome:
    n = sp.Symbol("n", integer=True, nonnegative=True)  # n + 2 positives
    require((-(n + 2) * sp.log(n + 2)).is_negative, "-n ln n < 0 for n >= 2")
    # p dy/dp / y = (p S' - S ln S)/(p S): numerator -> -n ln n, S -> n, y = S^(1/p) -> oo
    require(sp.limit(sp.diff((1 + 2**p) ** (1 / p), p), p, 0, "+") == -sp.oo,
            "x = (1,2): dy/dp -> -oo as p -> 0+")
    single = sp.simplify(sp.diff((sp.Integer(3) ** p) ** (1 / p), p))
    require(single == 0, "x = (3,): dy/dp = 0")
    return Outcome(CONDITIONAL,
                   "reduction to S(p), S'(p) (S(0) = n positives, all N) with SymPy signs; "
                   "SymPy limit for x = (1,2)",
                   "dy/dp = y (p S' - S ln S)/(p^2 S) -> -oo as p -> 0+ when the window has n >= "
                   "2 positives (y = S^(1/p) -> oo too); with one positive y = x and dy/dp = 0",
                   {"x": [3.0], "p": 1e-6, "dy/dp": "0"})


@undecided_to_unknown
def eq2_dp_pinf() -> Outcome:
    lim = sp.limit(sp.diff((1 + 2**p) ** (1 / p), p), p, sp.oo)
    require(lim == 0, "x = (1,2): dy/dp -> 0 as p -> oo")
    return Outcome(REFUTED, "SymPy limit of the corrected dE/dp",
                   "dy/dp -> 0 as p -> oo (x = (1,2)); the printed formula does not explode "
                   "either", {"x": [1.0, 2.0], "p": 1e3, "limit": "0"})


@undecided_to_unknown
def eq2_dx_p1() -> Outcome:
    pr = sp.Symbol("p", positive=True)
    g = _correct_dx(xi, A, pr)
    require(sp.simplify(g.subs(pr, 1)) == 1, "dy/dx_i = 1 at p = 1")
    require(sp.limit(g, pr, 1) == 1, "continuous at p = 1")
    return Outcome(REFUTED, RED + "; substitution and limit at p = 1",
                   "at p = 1 dy/dx_i = x^0 S^0 = 1 exactly and is continuous in p; the 1/(1-p) "
                   "singularity comes only from the misprinted exponent",
                   {"x": [1.0, 2.0], "p": 1.0, "dy/dx": ["1", "1"]})


def _lp_bound() -> str:
    """0 <= dy/dx_i = (x_i^p / S)^((p-1)/p) <= 1 for p >= 1."""
    q = sp.Symbol("q", nonnegative=True)  # p = 1 + q
    pp = 1 + q
    g = _correct_dx(xi, A, pp)
    base = xi**pp / (xi**pp + A)
    zero(sp.simplify(sp.expand_power_base(g, force=True) -
                     sp.expand_power_base(base ** (q / pp), force=True)),
         "dy/dx_i = (x_i^p/S)^((p-1)/p)")
    require((1 - base).is_nonnegative or sp.simplify(1 - base - A / (xi**pp + A)) == 0,
            "x_i^p / S <= 1")
    return "dy/dx_i = (x_i^p/S)^((p-1)/p) in [0, 1] for p >= 1"


@undecided_to_unknown
def eq2_dx_pinf() -> Outcome:
    bound = _lp_bound()
    atomic_limits()
    r = 1 / (1 + t)
    require(sp.limit((1 / (1 + r**p)) ** ((p - 1) / p), p, sp.oo) == 1, "max: -> 1")
    require(sp.limit((r**p / (1 + r**p)) ** ((p - 1) / p), p, sp.oo) == 0, "other: -> 0")
    return Outcome(REFUTED, RED + "; SymPy limits for N = 2 with x_k/x_max = 1/(1+t)",
                   bound + "; it tends to the max-pooling gradient (1/k for k ties), no explosion",
                   {"x": [1.0, 2.0], "p": 1e3, "limit": ["0", "1"]})


@undecided_to_unknown
def sec2_avg() -> Outcome:
    n = sp.Symbol("n", integer=True, positive=True)
    require(sp.simplify(_correct_dx(xi, A, 1)) == 1, "Lp gradient at p = 1 is 1")
    require(sp.Eq(1, 1 / n).subs(n, 1) == sp.true and sp.solve(sp.Eq(1, 1 / n), n) == [1],
            "1 = 1/N only for N = 1")
    return Outcome(CONDITIONAL, RED + "; SymPy solve",
                   "at p = 1 the Lp gradient is 1, average pooling's 1/N: they differ iff N >= 2 "
                   "(Lp at p = 1 is sum pooling; the power mean gives 1/N exactly)",
                   {"x": [5.0], "p": 1.0, "lp": "1", "avg": "1"})


@undecided_to_unknown
def sec2_max() -> Outcome:
    depends((eq2_dx_pinf, REFUTED))
    return Outcome(REFUTED, RED + "; SymPy limits (N = 2)",
                   "for a unique maximum the Lp gradient tends to one-hot, max pooling's gradient "
                   "(with k ties it tends to 1/k each, torch gives 1 to one)",
                   {"x": [1.0, 2.0], "p": 1e4, "limit": ["0", "1"], "max pool": ["0", "1"]})


@undecided_to_unknown
def sec2_conclusion() -> Outcome:
    depends((eq2_dx_p1, REFUTED), (eq2_dx_pinf, REFUTED))
    return Outcome(REFUTED, RED + "; see E2.b.p1 and E2.b.pinf",
                   "dy/dx_i is exactly 1 at p = 1 and bounded by 1, converging as p -> oo; it "
                   "can be computed at both boundaries",
                   {"x": [1.0, 2.0], "p": 1.0, "dy/dx": ["1", "1"]})


# ------------------------------------------------------------------ power mean (GeM)


@undecided_to_unknown
def pm_grad() -> Outcome:
    pr = sp.Symbol("p", real=True, nonzero=True)
    n = sp.Symbol("N", positive=True)
    M = ((xi**pr + A) / n) ** (1 / pr)
    zero(sp.diff(M, xi) - (xi / M) ** (pr - 1) / n, "dM/dx_i - (1/N)(x_i/M)^(p-1)")
    return Outcome(PROVED, RED, "dM/dx_i = (1/N) (x_i/M)^(p-1)")


@undecided_to_unknown
def pm_p1() -> Outcome:
    n = sp.Symbol("N", positive=True)
    b1 = sp.Symbol("B_1", nonnegative=True)
    M1 = ((xi + b1) / n) ** 1
    zero(sp.diff(M1, xi) - 1 / n, "dM/dx_i at p = 1 - 1/N")
    return Outcome(PROVED, RED, "at p = 1 the power mean is the average, dM/dx_i = 1/N")


@undecided_to_unknown
def pm_p0() -> Outcome:
    m1, m2, R = sp.symbols("m1 m2 R", real=True)
    ser = sp.series((1 / p) * sp.log(1 + p * m1 + p**2 * m2 / 2 + p**3 * R), p, 0, 2).removeO()
    zero(ser - (m1 + p * (m2 - m1**2) / 2), "ln M_p = mean ln x + p Var(ln x)/2 + O(p^2)")
    return Outcome(PROVED, "SymPy series on the moment reduction mean x^p = 1 + p m1 + p^2 m2/2 "
                   "+ O(p^3), m_k = mean (ln x)^k (all N)",
                   "M_p -> geometric mean and dM/dp -> M_0 Var(ln x)/2 as p -> 0: finite, "
                   "no singularity for the power mean")


@undecided_to_unknown
def pm_pinf() -> Outcome:
    atomic_limits()
    kk, nn = sp.symbols("k N", positive=True)
    # max element: (1/N)(M/x_max)^(1-p), M/x_max = ((k + V)/N)^(1/p), V -> 0
    g = (1 / nn) * ((kk / nn) ** (1 / p)) ** (1 - p)
    require(sp.simplify(sp.limit(g, p, sp.oo) - 1 / kk) == 0, "max elements -> 1/k")
    return Outcome(PROVED, "reduction with k tied maxima (V -> 0 as in P2), SymPy limit",
                   "M_p -> max and dM/dx_i -> 1/k for each of k tied maxima, 0 otherwise")


# ------------------------------------------------------------------ Eq. 1 and the chain rule


@undecided_to_unknown
def e1_limit() -> Outcome:
    atomic_limits()
    kk = sp.Symbol("k", integer=True, positive=True)
    vv = sp.Symbol("V", nonnegative=True)
    # (sum x^p)^(1/p) = x_max (k + V)^(1/p), V = sum_{x_j < x_max} (x_j/x_max)^p -> 0
    require(sp.limit(kk ** (1 / p), p, sp.oo) == 1, "k^(1/p) -> 1")
    require(sp.limit((kk + vv) ** (1 / p), p, sp.oo) == 1, "(k + V)^(1/p) -> 1, V bounded")
    return Outcome(PROVED, "reduction x_max (k + V)^(1/p) with k tied maxima (all N); SymPy "
                   "limits", "(sum x^p)^(1/p) -> x_max as p -> oo (x >= 0, x_max > 0)")


@undecided_to_unknown
def eq2_chain() -> Outcome:
    x = sp.Symbol("x")
    y1, y2 = sp.Function("y1")(x), sp.Function("y2")(x)
    Y1, Y2 = sp.symbols("Y1 Y2")
    Ef = sp.Function("E")
    lhs = sp.diff(Ef(y1, y2), x)
    rhs = sum(sp.diff(Ef(Y1, Y2), Yj).subs({Y1: y1, Y2: y2}, simultaneous=True)
              * sp.diff(yj, x) for Yj, yj in ((Y1, y1), (Y2, y2)))
    zero((lhs - rhs).doit(), "dE/dx - sum_j dE/dy_j dy_j/dx")
    return Outcome(PROVED, "SymPy chain rule for an element shared by two windows (windows not "
                   "containing x_i contribute 0; more windows by induction)",
                   "dE/dx_i = sum_j dE/dy_j dy_j/dx_i over the windows j containing x_i")


@undecided_to_unknown
def eq2_dx_p0() -> Outcome:
    jj = sp.Symbol("j", integer=True, nonnegative=True)
    base = 1 / (2 + jj)  # x_i^p / S -> 1/n, n = 2 + j >= 2 positives (x_i > 0)
    require(sp.limit(base ** (1 - 1 / p), p, 0, "+") == sp.oo, "(1/n)^(1 - 1/p) -> oo")
    require(sp.limit((1 / (1 + 2**p)) ** (1 - 1 / p), p, 0, "+") == sp.oo,
            "x = (1,2): dy/dx_1 -> oo")
    require(sp.simplify(_correct_dx(xi, 0, p)) == 1, "one element: dy/dx = 1 for every p")
    return Outcome(CONDITIONAL, "reduction dy/dx_i = (x_i^p/S)^(1-1/p) with x_i^p/S -> 1/n "
                   "(all N); SymPy limits",
                   "dy/dx_i -> +oo as p -> 0+ when the window has n >= 2 positives; with one "
                   "positive element dy/dx = 1 for every p",
                   {"x": [3.0], "p": 1e-3, "dy/dx": "1"})
