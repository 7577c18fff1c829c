"""SymPy vocabulary shared by the checks: symbols, reductions and small deciders.

Two ways of covering every window size N appear in the checks:

* ``Sum``/``IndexedBase`` over ``i = 1..N`` with a symbolic ``N``;
* reduction: a claim about element ``x_i`` (or about a max/min group of ``k`` tied elements)
  involves the other elements only through sums that do not depend on ``x_i``, named ``A``
  (= sum of x_j^alpha, j != i), ``B`` (= sum of x_j^(alpha+1)) and so on; any window of any
  size is an instance, so a proof over these symbols covers all N. Limits as alpha -> +inf
  are taken of explicit bounds: with k tied maxima and the other n = N - k elements at ratios
  r_j = x_j/x_max <= rho < 1, the sums U = sum r_j^(alpha+1) <= V = sum r_j^alpha <= n rho^alpha
  (checked by z3 and SymPy), and SymPy takes the limits of the bounds with rho = 1/(1+t), t > 0
  (``RATIO``); the squeeze theorem then gives the limit. Nothing is set to 0 before a limit.
"""

from __future__ import annotations

import sympy as sp

from .model import UNKNOWN, Outcome

i, j, N = sp.symbols("i j N", integer=True, positive=True)
X = sp.IndexedBase("x", positive=True)
X0 = sp.IndexedBase("x", nonnegative=True)
a = sp.Symbol("alpha", real=True)
ap = sp.Symbol("alpha", positive=True)
p = sp.Symbol("p", positive=True)
pr = sp.Symbol("p", real=True)
xi, xk, m, d, t, c = sp.symbols("x_i x_k x_max d t c", positive=True)
A, B = sp.symbols("A B", nonnegative=True)  # sums over the other elements
U, V, E = sp.symbols("U V E", nonnegative=True)
k = sp.Symbol("k", integer=True, positive=True)  # number of tied maxima
z = sp.Symbol("z", real=True)


def S(e, idx=i):
    return sp.Sum(e, (idx, 1, N))


RATIO = 1 / (1 + t)  # any ratio 0 < r < 1, with t > 0


def lehmer(x, A_, B_, alpha):
    """y for a window ``{x} + others`` where the others contribute ``A_ = sum x_j^alpha`` and
    ``B_ = sum x_j^(alpha+1)``."""
    return (x ** (alpha + 1) + B_) / (x**alpha + A_)


def lehmer_grad_printed(x, A_, B_, alpha):
    """The supplement's backward expression (Prop. 1/2) for element x."""
    s = x**alpha + A_
    tt = x ** (alpha + 1) + B_
    return ((alpha + 1) * x**alpha * s - alpha * x ** (alpha - 1) * tt) / s**2


def decide_identity(lhs, rhs, points=(), up_to: int | None = None) -> Outcome:
    """Generic strategy: PROVED if ``lhs - rhs`` simplifies to 0, REFUTED at the first point of
    ``points`` (dicts symbol -> exact rational) where the two sides differ exactly, else
    UNKNOWN. ``up_to`` (a window size) makes a proof PROVED_UP_TO_N instead of PROVED."""
    from .model import PROVED, PROVED_UP_TO_N, REFUTED, Step

    if sp.simplify(lhs - rhs) == 0:
        step = (Step(text=f"{lhs} = {rhs}", kind="SymPy", detail="simplifies to 0"),)
        if up_to is None:
            return Outcome(PROVED, "SymPy simplify (all N)", f"{lhs} = {rhs}", steps=step)
        return Outcome(PROVED_UP_TO_N, f"SymPy simplify for N <= {up_to}", f"{lhs} = {rhs}",
                       steps=step)
    for pt in points:
        lv, rv = sp.nsimplify(lhs.subs(pt)), sp.nsimplify(rhs.subs(pt))
        if lv.is_Rational and rv.is_Rational and lv != rv:
            cex = {str(s): str(v) for s, v in pt.items()}
            cex.update(lhs=str(lv), rhs=str(rv))
            return Outcome(REFUTED, "SymPy exact rational evaluation",
                           f"counterexample {pt}: {lv} != {rv}", cex,
                           steps=(Step(text=f"{lv} != {rv} at {pt}", kind="exact"),))
    return Outcome(UNKNOWN, "SymPy could not decide", "no simplification to 0 and no "
                   "exact counterexample among the given points")


def decide_sign(expr, what: str) -> Outcome:
    """Generic strategy: PROVED if SymPy's assumptions show ``expr >= 0``, REFUTED never (a
    sign claim needs a counterexample search), UNKNOWN when the assumptions say nothing."""
    from .model import PROVED, Step

    s = sp.simplify(expr)
    if s.is_nonnegative is True:
        return Outcome(PROVED, "SymPy assumptions", f"{what}: {s} >= 0",
                       steps=(Step(text=f"{what} >= 0", kind="SymPy"),))
    return Outcome(UNKNOWN, "SymPy assumptions undecided", f"{what}: sign of {s} unknown")
