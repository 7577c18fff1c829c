"""The reviewer's questions, as claims: exact conditions, thresholds, suprema and rates.

Each answers a question a careful reader of Sec. 1-2 asks and the supplement does not:
continuity at alpha = 0, where the non-max gradient is negative and how often it changes sign,
how far the max's gradient overshoots 1, whether P-pooling has the zero-input pathology Sec. 2
holds against Lp, how fast the limits are reached (pointwise and uniformly), the alpha < 0 side,
the Lp norm against the power mean, and bounds on dy/dalpha.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import sympy as sp
from flint import arb

from . import lemmas as Lm
from .checks_ppool import chebyshev_pairs, nonmax_sign_factor
from .intervals import enclose_max
from .model import PROVED, PROVED_UP_TO_N, Outcome
from .proof import Proof, Undecided, checked
from .sym import RATIO, A, B, N, S, U, V, X, ap, i, k, lehmer, lehmer_grad_printed, xi, xk

ALL_N_RED = ("reduction covering all N (the other elements enter through sums independent of "
             "the element at hand)")
s_pos = sp.Symbol("s", positive=True)
Vs = sp.Symbol("V", positive=True)
nn = sp.Symbol("n", integer=True, positive=True)  # elements below the max (>= 1)


# ------------------------------------------------------------------ continuity at alpha = 0


@checked
def q_cont_exact(pf: Proof) -> Outcome:
    pf.uses("P1.cont", "CONDITIONAL", "a window without zeros: y is continuous at a = 0")
    pf.uses("P1", text="y(0) = (1/N) sum x = s/N, s the sum of the n positive elements")
    pf.sympy(sp.Integer(0) ** ap == 0, "for a > 0 a zero has weight 0^a = 0: y(a) is the "
             "P-pooling of the n positive elements alone")
    pf.uses("P1.cont", "CONDITIONAL", "so y(0+) = s/n (continuity for positive windows)")
    hh = sp.Symbol("h", positive=True)
    Ap, Bp = sp.symbols("A B", positive=True)
    pf.limit(lehmer(hh, Ap, Bp, -s_pos), hh, 0, 0, "for a < 0 the value with a zero input "
             "(its limit x_z -> 0+) is 0: y(0-) = 0")
    z_, n_ = sp.symbols("z n", integer=True)
    sv = sp.Symbol("s", positive=True)
    zp, np_ = sp.symbols("z n", integer=True, positive=True)
    pf.inequality("z >= 1 zeros and n >= 1 positives: s/n != s/N and 0 != s/N (N = n + z)",
                  sp.And(sp.Ne(sv / n_, sv / (n_ + z_)), sp.Ne(0, sv / (n_ + z_))),
                  [z_ >= 1, n_ >= 1], sympy_form=(sv / np_ - sv / (np_ + zp)) * sv / (np_ + zp),
                  sympy_sign_of=">0")
    pf.rule("the stated convention", "n = 0 (all zeros): y = 0 for every a, a constant, so "
            "continuous")
    return pf.outcome(PROVED, "P1, P1.cont and one-sided limits (SymPy); the case split by z3",
                      "y is continuous at a = 0 iff the window has no zero or only zeros; with "
                      "z >= 1 zeros and n >= 1 positives (sum s): y(0-) = 0, y(0) = s/N, "
                      "y(0+) = s/n, three different values")


# ------------------------------------------------------------------ the non-max gradient's sign


@checked
def q_nonmax_threshold(pf: Proof) -> Outcome:
    phi = xi ** (ap + 1) + (ap + 1) * A * xi - ap * B
    pf.rule("splitting a finite sum", "A = sum_{j != k} x_j^a, B = sum_{j != k} x_j^(a+1) do "
            "not depend on x_k")
    g = lehmer_grad_printed(xi, A, B, ap)
    pf.zero(g - xi ** (ap - 1) * phi / (xi**ap + A) ** 2,
            "dy/dx_k = x_k^(a-1) phi(x_k) / (sum x^a)^2, phi(x) = x^(a+1) + (a+1) A x - a B")
    Ap, Bp = sp.symbols("A B", positive=True)
    gp = xi ** (ap - 1) * phi.subs({A: Ap, B: Bp}) / (xi**ap + Ap) ** 2
    php = phi.subs({A: Ap, B: Bp})
    pf.inequality("dy/dx_k < 0 iff phi(x_k) < 0", sp.And(sp.Implies(php < 0, gp < 0),
                                                        sp.Implies(gp < 0, php < 0)))
    dphi = sp.diff(php, xi)
    pf.zero(dphi - (ap + 1) * (xi**ap + Ap), "phi'(x) = (a+1)(x^a + A)")
    pf.inequality("phi'(x) > 0 for x > 0: phi increases", dphi > 0)
    pf.limit(php, xi, 0, -ap * Bp, "phi(0+) = -a B < 0 (another element is positive)")
    pf.limit(php, xi, sp.oo, sp.oo, "phi(x) -> +oo")
    pf.rule("intermediate value theorem and strict monotonicity", "phi has exactly one positive "
            "root theta, and dy/dx_k < 0 iff x_k < theta")
    th = sp.sqrt(Ap**2 + Bp) - Ap
    pf.zero(php.subs(ap, 1).subs(xi, th), "a = 1: theta = sqrt(A^2 + B) - A is the root")
    pf.inequality("a = 1: theta > 0", th > 0)
    return pf.outcome(PROVED, ALL_N_RED + "; identity (SymPy), signs (SymPy and z3), IVT",
                      "for a > 0 and another positive element: dy/dx_k < 0 iff x_k < theta, the "
                      "unique positive root of x^(a+1) + (a+1) A x = a B (A = sum_{j!=k} x_j^a, "
                      "B = sum_{j!=k} x_j^(a+1)); a = 1: theta = sqrt(A^2 + B) - A")


@checked
def q_nonmax_sign_changes(pf: Proof) -> Outcome:
    nonmax_sign_factor(pf)
    av = sp.Symbol("alpha", real=True)
    yf = sp.Function("y")(av)
    h = (av + 1) * xk - av * yf
    pf.zero(sp.diff(h, av) - (xk - yf - av * sp.diff(yf, av)), "h(a) = (a+1) x_k - a y(a) has "
            "h'(a) = x_k - y - a y'")
    pf.uses("T.monotone", text="y'(a) >= 0")
    yv, dy = sp.symbols("y dy", real=True)
    hz = (av + 1) * xk - av * yv
    hd = xk - yv - av * dy
    pf.inequality("at a zero of h with a > 0: h' < 0 (crossing downward)", hd < 0,
                  [sp.Eq(hz, 0), av > 0, dy >= 0])
    pf.inequality("at a zero of h with a < 0 (y > 0): h' > 0 (crossing upward)", hd > 0,
                  [sp.Eq(hz, 0), av < 0, dy >= 0, yv > 0])
    pf.rule("a C^1 function whose zeros in an interval all cross in one direction has at most "
            "one zero there", "h has at most one zero on (0, oo) and at most one on (-oo, 0)")
    pf.uses("T.grad.nonmax.sign", text="h(0) = x_k > 0 and h < 0 for all large a")
    pf.rule("intermediate value theorem", "exactly one sign change on (0, oo), from + to -")
    pf.uses("T.minus_inf", text="y -> x_min as a -> -inf")
    pf.rule("algebra of limits", "h(a) = x_k - a (y - x_k) -> -oo as a -> -inf when "
            "x_min < x_k, so by the IVT exactly one sign change on (-oo, 0), from - to +")
    pf.uses("T.bounds", text="y >= x_min")
    pf.inequality("if x_k = x_min, h > 0 for every a < 0", hz > 0,
                  [av < 0, yv >= xk])
    return pf.outcome(PROVED, "sign factor (SymPy), crossing directions (z3 and SymPy), "
                      "T.monotone, "
                      "T.grad.nonmax.sign, T.minus_inf, IVT",
                      "for 0 < x_k < x_max, dy/dx_k changes sign exactly once for a > 0 (+ to -), "
                      "and once more for a < 0 (- to +) iff x_k > x_min: twice in all for a "
                      "middle element, once for the minimum")


# ------------------------------------------------------------------ the max's overshoot


def _overshoot_bound(pf: Proof) -> sp.Expr:
    """dy/dx_max <= Ghat_n(V) = (1 + V ln(n/V)/(1+V))/(1+V), the sup of the right side over V
    being G(n); returns Ghat_n(V)."""
    Lm.max_grad_limit(pf)  # records dy/dx_max = (1 + a(V - U)/(k+V))/(k+V) and the reduction
    r, v = sp.symbols("r v", positive=True)
    pf.inequality("1 - r <= -ln r for 0 < r < 1 (z3, with the fact ln r <= r - 1)",
                  1 - r <= -sp.log(r), [r < 1])
    tt = Lm.t
    f = sp.log(1 + tt) - tt / (1 + tt)
    pf.zero(sp.diff(f, tt) - tt / (1 + tt) ** 2, "SymPy: f(t) = ln(1+t) - t/(1+t) has "
            "f' = t/(1+t)^2 > 0 and f(0) = 0, so 1 - r <= -ln r for r = 1/(1+t)")
    pf.rule("mean value theorem", "f(t) >= f(0) = 0 for t > 0")
    pf.rule("multiplying by a r^a > 0", "a r_j^a (1 - r_j) <= v_j ln(1/v_j), v_j = r_j^a; summed: "
            "a (V - U) <= sum v_j ln(1/v_j)")
    phi = -v * sp.log(v)
    pf.zero(sp.diff(phi, v, 2) + 1 / v, "-v ln v has second derivative -1/v < 0: concave")
    pf.zero(nn * phi.subs(v, Vs / nn) - Vs * sp.log(nn / Vs), "n (-(V/n) ln(V/n)) = V ln(n/V)")
    pf.rule("Jensen's inequality", "sum_j v_j ln(1/v_j) <= V ln(n/V)")
    E_, J_ = sp.symbols("E J", nonnegative=True)
    g_k = (1 + E_ / (k + Vs)) / (k + Vs)
    pf.inequality("(1 + E/(k+V))/(k+V) <= (1 + J/(1+V))/(1+V) for 0 <= E <= J, k >= 1",
                  g_k <= (1 + J_ / (1 + Vs)) / (1 + Vs), [E_ <= J_])
    return (1 + Vs * sp.log(nn / Vs) / (1 + Vs)) / (1 + Vs)


@checked
def q_overshoot_sup(pf: Proof) -> Outcome:
    ghat = _overshoot_bound(pf)
    pf.inequality("V ln(n/V) increases with n (so n <= N - 1 may be taken = N - 1)",
                  sp.log((nn + 1) / Vs) > sp.log(nn / Vs))
    w = sp.Symbol("w", positive=True)
    pf.limit(ap * (1 - (1 / (1 + w)) ** (1 / ap)), ap, sp.oo, sp.log(1 + w),
             "all others equal to r with r^a = v = 1/(1+w) fixed: a(1 - r) -> ln(1/v) as "
             "a -> oo (near-ties)")
    pf.rule("algebra of limits", "so dy/dx_max -> Ghat_n(V) along that family: the bound is the "
            "supremum, G(n) = max over 0 < V < n of Ghat_n(V)")
    pf.inequality("1 - r < -ln r strictly (0 < r < 1): the supremum is not attained",
                  1 - sp.Symbol("r", positive=True) < -sp.log(sp.Symbol("r", positive=True)),
                  [sp.Symbol("r", positive=True) < 1])
    low = ghat.subs(Vs, 1)
    pf.zero(low - (1 + sp.log(nn) / 2) / 2, "G(n) >= Ghat_n(1) = (1 + ln(n)/2)/2")
    pf.limit(low, nn, sp.oo, sp.oo, "(1 + ln(n)/2)/2 -> oo")
    _entropy_bound(pf)
    L1, L2 = sp.symbols("L_n L_V", real=True)  # ln n >= 0 and V ln(1/V) <= 1/e
    pf.inequality("Ghat_n(V) = (1 + (V ln n + V ln(1/V))/(1+V))/(1+V) <= 1 + 1/e + ln(n)/4",
                  (1 + (Vs * L1 + L2) / (1 + Vs)) / (1 + Vs) <= 1 + sp.exp(-1) + L1 / 4,
                  [L1 >= 0, sp.exp(-1) >= L2])
    return pf.outcome(PROVED, "reduction (all N); 1 - r <= -ln r (z3 and SymPy), Jensen, a limit "
                      "along near-ties (SymPy)",
                      "sup over a >= 0 and windows of N positive elements of dy/dx_max is "
                      "G(N-1), G(n) = max_{0<V<n} (1 + V ln(n/V)/(1+V))/(1+V), approached as "
                      "a -> oo with near-ties, never attained; (1 + ln(n)/2)/2 <= G(n) <= "
                      "1 + 1/e + ln(n)/4: unbounded in N, growing like ln(N)/4")


OVERSHOOT_N = (2, 3, 4, 5, 9)
TAIL = Fraction(1, 2**20)


@functools.cache
def overshoot_values() -> dict[int, tuple[Fraction, Fraction, int, Fraction]]:
    """Certified enclosures (lower, upper, pieces, argmax V) of G(N-1) for N in OVERSHOOT_N."""
    out = {}
    for nw in OVERSHOOT_N:
        n = nw - 1

        def ghat(v, n=n):
            return (1 + v * (arb(n) / v).log() / (1 + v)) / (1 + v)

        enc = enclose_max(ghat, TAIL, Fraction(n), tol=Fraction(1, 10**5))
        out[nw] = (enc.lower, enc.upper, enc.pieces, enc.argmax)
    return out


@checked
def q_overshoot_values(pf: Proof) -> Outcome:
    pf.uses("Q.overshoot.sup", text="sup dy/dx_max = G(N-1) = max over 0 < V < N-1 of Ghat")
    vals = overshoot_values()
    tv = sp.Symbol("v", positive=True)
    pf.zero(sp.diff(tv * sp.log(nn / tv), tv) - (sp.log(nn / tv) - 1),
            "d/dV V ln(n/V) = ln(n/V) - 1 > 0 for V < n/e: V ln(n/V) increases on (0, n/e)")
    E_ = sp.Symbol("E", nonnegative=True)
    pf.inequality("Ghat = (1 + E/(1+V))/(1+V) <= 1 + E for E = V ln(n/V) >= 0",
                  (1 + E_ / (1 + Vs)) / (1 + Vs) <= 1 + E_)
    parts = []
    for nw, (lo, hi, pieces, _) in vals.items():
        n = nw - 1
        tail = 1 + arb(TAIL.numerator) / TAIL.denominator * (arb(n) * TAIL.denominator).log()
        if not bool(tail < arb(lo.numerator) / lo.denominator):
            raise Undecided(f"N = {nw}: the tail bound {tail} does not stay below {float(lo)}")
        pf.add(f"N = {nw}: on 0 < V <= 2^-20 < n/e, Ghat <= 1 + V ln(n/V) <= "
               f"{float(tail.upper()):.8f} < {float(lo):.6f}", "flint",
               "a ball evaluation of 1 + 2^-20 ln(n 2^20)")
        pf.add(f"N = {nw}: {float(lo):.6f} <= G({n}) <= {float(hi):.6f}", "flint",
               f"branch-and-bound on the box V in [2^-20, {n}], {pieces} pieces, 128-bit balls")
        parts.append(f"N = {nw}: [{float(lo):.5f}, {float(hi):.5f}]")
    return pf.outcome(PROVED_UP_TO_N, "python-flint interval branch-and-bound on V in "
                      "[2^-20, N-1] plus a tail bound (SymPy), for N = "
                      + ", ".join(map(str, OVERSHOOT_N)),
                      "sup dy/dx_max over a >= 0 and windows of N elements: " + "; ".join(parts))


# ------------------------------------------------------------------ zero inputs


@checked
def q_zero_unbounded(pf: Proof) -> Outcome:
    pf.uses("T.zero.grad", text="P-pooling, a > 0: dy/dx_z -> -oo at a zero input for "
            "0 < a < 1, finite for a >= 1")
    Ap, Bp = sp.symbols("A B", positive=True)
    h, P, Qv, u = sp.symbols("h P Q u", positive=True)
    av = sp.Symbol("alpha", real=True)
    g = ((av + 1) * P * (P + Ap) - av * (P / h) * (h * P + Bp)) / (P + Ap) ** 2
    pf.zero(sp.expand_power_exp(g.subs(P, h**av) - lehmer_grad_printed(h, Ap, Bp, av)),
            "with P = h^a: dy/dx_z = ((a+1) P (P + A) - a (P/h)(h P + B)) / (P + A)^2")
    gq = ((av + 1) * (1 + Ap * Qv) - av * (1 + Bp * Qv / h)) / (1 + Ap * Qv) ** 2
    pf.zero(g.subs(P, 1 / Qv) - gq, "= ((a+1)(1 + A Q) - a(1 + B Q/h)) / (1 + A Q)^2, Q = 1/P")
    sv = 1 / (1 + u)  # a = -s, 0 < s < 1
    pf.limit(h**sv, h, 0, 0, "-1 < a < 0 (a = -s): Q = h^s -> 0")
    pf.limit(h ** (sv - 1), h, 0, sp.oo, "and Q/h = h^(s-1) -> +oo")
    pf.rule("algebra of limits", "so dy/dx_z -> +oo for -1 < a < 0: unbounded")
    pf.limit(sp.expand(gq.subs(av, -1).subs(Qv, h)), h, 0, 1 + Bp,
             "a = -1: dy/dx_z -> 1 + B (bounded)")
    pf.limit(sp.expand_power_exp(sp.expand(gq.subs(av, -1 - u).subs(Qv, h ** (1 + u)))), h, 0,
             1, "a < -1: dy/dx_z -> 1 (bounded)")
    pf.uses("P1", text="a = 0: dy/dx_i = 1/N")
    below = 1 / (1 + s_pos)  # 0 < p < 1
    pf.limit(xi ** (below - 1) * (xi**below + Ap) ** ((1 - below) / below), xi, 0, sp.oo,
             "Lp norm, 0 < p = 1/(1+s) < 1: dy/dx_i = x_i^(p-1) S^((1-p)/p) -> +oo as "
             "x_i -> 0+")
    Nn = sp.Symbol("N", positive=True)
    M = ((xi**below + Ap) / Nn) ** (1 / below)
    pf.limit(xi ** (below - 1) * M ** (1 - below) / Nn, xi, 0, sp.oo,
             "power mean, 0 < p < 1: dM/dx_i = (1/N) x_i^(p-1) M^(1-p) -> +oo as x_i -> 0+")
    return pf.outcome(PROVED, "T.zero.grad and SymPy one-sided limits (reductions, all N)",
                      "P-pooling's input gradient is unbounded near a zero input exactly for "
                      "0 < |a| < 1 (-> -oo for 0 < a < 1, -> +oo for -1 < a < 0), bounded for "
                      "a = 0 and |a| >= 1: the pathology of the Lp norm and the power mean for "
                      "0 < p < 1 (-> +oo)")


# ------------------------------------------------------------------ rates of convergence


def _entropy_bound(pf: Proof) -> None:
    v = sp.Symbol("v", positive=True)
    pf.zero(sp.diff(-v * sp.log(v), v) - (-sp.log(v) - 1), "d/dv (-v ln v) = -ln v - 1, zero "
            "at v = 1/e; concave (second derivative -1/v)")
    pf.zero((-v * sp.log(v)).subs(v, sp.exp(-1)) - sp.exp(-1), "its value there is 1/e")
    pf.rule("a critical point of a concave function is its global maximum",
            "-v ln v <= 1/e for every v > 0")


@checked
def q_rate_forward(pf: Proof) -> Outcome:
    Lm.max_reduction(pf)
    pf.zero(1 - (k + U) / (k + V) - (V - U) / (k + V),
            "(x_max - y)/x_max = (V - U)/(k + V)")
    _overshoot_bound(pf)  # a (V - U) <= V ln(n/V) (and its steps)
    _entropy_bound(pf)
    E_ = sp.Symbol("E", nonnegative=True)
    n1, nw1 = sp.symbols("n N_1", integer=True, positive=True)  # N_1 = N - 1
    pf.inequality("ln n <= ln(N - 1) for the n <= N - 1 elements below the max (n >= 1)",
                  sp.log(n1) <= sp.log(nw1), [n1 <= nw1])
    L1, L2 = sp.symbols("L_n L_V", real=True)  # ln n >= 0, V ln(1/V) <= 1/e
    pf.inequality("(V - U)/(k+V) <= (V ln n + V ln(1/V))/(a (1+V)) <= (ln n + 1/e)/a",
                  E_ / (ap * (k + Vs)) <= (L1 + sp.exp(-1)) / ap,
                  [Vs * L1 + L2 >= E_, L1 >= 0, sp.exp(-1) >= L2])
    pf.inequality("pointwise: (V - U)/(k+V) <= V/k <= n rho^a", (Vs - U) / (k + Vs) <= Lm.n *
                  Lm.R, [Vs >= U, Vs <= Lm.n * Lm.R])
    rr = ap / (ap + 1)
    val = rr**ap * (1 - rr) / (1 + rr**ap)
    pf.inequality("N = 2, x = (a/(a+1), 1): (x_max - y)/x_max >= r^a (1 - r)/2",
                  val >= rr**ap * (1 - rr) / 2)
    u = sp.Symbol("u", positive=True)
    pf.inequality("(1 + 1/a)^(-a) >= 1/e, i.e. a ln(1 + 1/a) <= 1 (ln(1+u) <= u)",
                  sp.log(1 + u) <= u)
    return pf.outcome(PROVED, "reduction (all N); z3 and SymPy bounds; the per-term and Jensen "
                      "steps of Q.overshoot.sup",
                      "uniformly over windows of N >= 2 positive elements, 0 <= (x_max - y)/x_max "
                      "<= (ln(N-1) + 1/e)/a: O(1/a), and no faster (N = 2: >= 1/(2e(a+1)) at "
                      "x = (a/(a+1), 1)); for a fixed window it is <= n rho^a, exponential")


@checked
def q_rate_backward(pf: Proof) -> Outcome:
    Lm.max_reduction(pf)
    g = (1 + ap * (Vs - U) / (1 + Vs)) / (1 + Vs)
    pf.inequality("unique max: |dy/dx_max - 1| <= (a + 1) V <= (a+1) n rho^a",
                  sp.And(g - 1 <= (ap + 1) * Lm.n * Lm.R, 1 - g <= (ap + 1) * Lm.n * Lm.R),
                  [Vs >= U, Vs <= Lm.n * Lm.R])
    Lm.nonmax_grad_limit(pf)
    rr, bb = Lm.r, sp.Symbol("b", nonnegative=True)  # b = a - 1 >= 0
    pf.inequality("below the max: r^a ((a+1) + a/r) <= (a+1) rho^a + a rho^(a-1) for r <= rho "
                  "and a = 1 + b >= 1",
                  rr ** (bb + 1) * ((bb + 2) + (bb + 1) / rr)
                  <= (bb + 2) * Lm.rho ** (bb + 1) + (bb + 1) * Lm.rho**bb,
                  [rr <= Lm.rho, Lm.rho < 1])
    eps = sp.Symbol("epsilon", positive=True)
    gmax = sp.diff(lehmer(xi, (1 - eps) ** ap, (1 - eps) ** (ap + 1), ap), xi).subs(xi, 1)
    pf.limit(gmax, eps, 0, sp.Rational(1, 2), "x = (1 - eps, 1): dy/dx_max -> 1/2 as eps -> 0, "
             "for every a > 0")
    pf.rule("definition of uniform convergence", "sup over windows of |dy/dx_max - 1| >= 1/2 "
            "for every a: the backward pass does not converge uniformly")
    return pf.outcome(PROVED, "reduction (all N); z3 bounds; SymPy limit along near-ties",
                      "for a fixed window with a unique max the gradient's L1 distance to "
                      "one-hot is <= (a+1) n rho^a + n((a+1) rho^a + a rho^(a-1)) (a >= 1): "
                      "exponential; but sup over windows of |dy/dx_max - 1| >= 1/2 for every a "
                      "(near-ties), so it is not uniform")


# ------------------------------------------------------------------ alpha < 0


@checked
def q_duality(pf: Proof) -> Outcome:
    av = sp.Symbol("alpha", real=True)
    y_neg = S(X[i] ** (-av)) / S(X[i] ** (-av - 1))
    y_dual = 1 / (S((1 / X[i]) ** (av + 1)) / S((1 / X[i]) ** av))
    pf.zero(sp.powsimp(sp.expand_power_base(y_neg - y_dual, force=True), force=True),
            "y_{-a-1}(x) = 1 / y_a(1/x) (Sum, all N)")
    zi = sp.Symbol("z_i", positive=True)
    Az, Bz = sp.symbols("A_z B_z", positive=True)  # the other reciprocals' sums
    ya = lehmer(zi, Az, Bz, av)
    lhs = sp.diff(1 / ya.subs(zi, 1 / xi), xi)
    rhs = (zi / ya) ** 2 * sp.diff(ya, zi)
    pf.zero(sp.simplify(lhs - rhs.subs(zi, 1 / xi)),
            "d/dx_i y_{-a-1}(x) = (z_i / y_a(z))^2 dy_a/dz_i at z = 1/x (reduction)")
    pf.zero(sp.Rational(-1, 2) - (-sp.Rational(-1, 2) - 1), "a = -1/2 is its own dual")
    return pf.outcome(PROVED, ALL_N_RED + "; Sum with symbolic N for the value",
                      "y_{-a-1}(x) = 1/y_a(1/x) for x > 0, with gradients related by "
                      "(z_i/y)^2: every alpha < -1/2 fact is an alpha > -1/2 fact on 1/x "
                      "(0 <-> -1: mean <-> harmonic; +inf <-> -inf: max <-> min)")


# ------------------------------------------------------------------ Lp norm against power mean


@checked
def q_lp_powermean(pf: Proof) -> Outcome:
    pr = sp.Symbol("p", real=True, nonzero=True)
    lp = S(X[i] ** pr) ** (1 / pr)
    M = (S(X[i] ** pr) / N) ** (1 / pr)
    pf.zero(sp.powsimp(sp.expand_power_base(M - N ** (-1 / pr) * lp, force=True), force=True),
            "M_p = N^(-1/p) ||x||_p (Sum, all N)")
    pf.uses("E2.avg", text="p = 1: the Lp gradient is 1, not 1/N")
    pf.uses("PM.p1", text="p = 1: the power mean's gradient is 1/N: removed")
    pf.uses("E2.intro.p0", "CONDITIONAL", "p -> 0+: the Lp input gradient blows up")
    pf.uses("E2.a.p0", "CONDITIONAL", "p -> 0+: the Lp dE/dp blows up")
    pf.uses("PM.p0", text="p -> 0: the power mean and dM/dp stay finite: removed")
    Nn = sp.Symbol("N", integer=True, nonnegative=True)
    pf.limit((2 + Nn) ** (1 / sp.Symbol("p", positive=True)), sp.Symbol("p", positive=True), 0,
             sp.oo, "||x||_p = N^(1/p) M_p: N^(1/p) -> +oo as p -> 0+ (N >= 2)")
    pf.uses("Q.zero.unbounded", text="near a zero input for 0 < p < 1 both gradients blow up "
            "(the factor N^(-1/p) is a positive constant): kept")
    pf.uses("E2.b.p1", "REFUTED", "no singularity at p = 1 for either")
    pf.uses("E2.b.pinf", "REFUTED", "no explosion as p -> oo for either")
    return pf.outcome(PROVED, "Sum identity (SymPy, all N) and the claims it combines",
                      "M_p = N^(-1/p) ||x||_p; the normalisation removes the p = 1 mismatch with "
                      "average pooling and the p -> 0+ blow-ups (value, input gradient, dE/dp); "
                      "it keeps the unbounded input gradient at zero inputs for 0 < p < 1, which "
                      "P-pooling shares for 0 < a < 1; Sec. 2's p = 1 and p -> oo pathologies "
                      "exist for neither")


# ------------------------------------------------------------------ dy/dalpha


@checked
def q_dalpha_bounds(pf: Proof) -> Outcome:
    pf.uses("T.dalpha.cov", text="dy/da = Cov_w(ln x, x) with weights w = x^a / sum x^a")
    chebyshev_pairs(pf)
    xa, xb, lo, hi = sp.symbols("x_a x_b x_min x_max", positive=True)
    pf.inequality("0 <= (ln x_a - ln x_b)(x_a - x_b) <= ln(x_max/x_min)(x_max - x_min) for x_a, "
                  "x_b in [x_min, x_max]",
                  sp.And((sp.log(xa) - sp.log(xb)) * (xa - xb) >= 0,
                         (sp.log(xa) - sp.log(xb)) * (xa - xb)
                         <= (sp.log(hi) - sp.log(lo)) * (hi - lo)),
                  [xa >= lo, xa <= hi, xb >= lo, xb <= hi])
    W = sp.IndexedBase("w", nonnegative=True)
    pf.zero(sp.expand(S((W[i] - 1 / N) ** 2)).doit().expand()
            - (S(W[i] ** 2).doit() - 2 * S(W[i]).doit() / N + 1 / N).expand(),
            "sum (w_i - 1/N)^2 = sum w_i^2 - 2 sum w_i / N + 1/N (Sum, all N)")
    pf.rule("sum_i w_i = 1 and a sum of squares is >= 0", "sum w_i^2 >= 1/N, so the weight of "
            "the pairs i != j, 1 - sum w_i^2, is <= 1 - 1/N")
    pf.rule("summing termwise bounds", "0 <= dy/da <= ((1 - 1/N)/2) ln(x_max/x_min)(x_max - "
            "x_min)")
    Lm.max_reduction(pf)
    mx = sp.Symbol("x_max", positive=True)
    pf.zero((sp.log(mx) - sp.log(mx)) * (mx - mx), "a pair of two maxima contributes "
            "(ln x_max - ln x_max)(x_max - x_max) = 0")
    pf.rule("summing termwise bounds", "dy/da <= ln(x_max/x_min)(x_max - x_min) times the weight "
            "of the pairs with an element below the max, <= that elements' weight "
            "V/(k+V) <= n rho^a / k")
    pf.limit(Lm.n * RATIO**ap / k, ap, sp.oo, 0, "n rho^a / k -> 0: dy/da -> 0 exponentially "
             "as a -> +inf")
    pf.uses("Q.duality", text="y_a(x) = 1/y_b(1/x), b = -a-1, so dy_a/da = (dy_b/db)/y_b^2: the "
            "same exponential decay as a -> -inf")
    return pf.outcome(PROVED, "covariance pair form (Sum, all N); z3 for the pair bound; "
                      "reduction and SymPy limit for the decay; duality for a -> -inf",
                      "0 <= dy/da <= ((1 - 1/N)/2) ln(x_max/x_min)(x_max - x_min) for every a, "
                      "and dy/da -> 0 exponentially as a -> +-inf: a learned alpha gets a bounded "
                      "gradient that vanishes once |alpha| is large (it stalls there)")
