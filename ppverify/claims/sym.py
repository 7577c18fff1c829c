"""SymPy vocabulary shared by the checks: symbols, reductions and small deciders.

Two ways of covering every window size N appear in the checks:

* ``Sum``/``IndexedBase`` over ``i = 1..N`` with a symbolic ``N``;
* reduction: a claim about element ``x_i`` (or about a max/min group of ``k`` tied elements)
  involves the other elements only through sums that do not depend on ``x_i``, named ``A``
  (= sum of x_j^alpha, j != i), ``B`` (= sum of x_j^(alpha+1)) and so on; any window of any
  size is an instance, so a proof over these symbols covers all N. Limits as alpha -> +inf
  reduce in the same way to the atomic limits ``r^alpha -> 0`` and ``alpha r^alpha -> 0`` for
  ``0 <= r < 1`` (proved once, by ``atomic_limits``), because a finite sum of terms tending to
  0 tends to 0.
"""

from __future__ import annotations

import functools

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


class Undecided(Exception):
    """SymPy could not decide a step; the check reports UNKNOWN with this message."""


def require(condition, what: str) -> None:
    """``condition`` must be SymPy-true (``True``, not ``None``); otherwise Undecided."""
    if condition is not True and condition != sp.true:
        raise Undecided(f"SymPy could not establish: {what} (got {condition})")


def zero(expr, what: str) -> None:
    """``expr`` simplifies to 0."""
    require(sp.simplify(expr) == 0, f"{what} == 0")


def nonzero_exact(expr, what: str) -> None:
    require(sp.simplify(expr) != 0 and sp.nsimplify(expr) != 0, f"{what} != 0")


def S(e, idx=i):
    return sp.Sum(e, (idx, 1, N))


def undecided_to_unknown(fn):
    """Decorator: a check that raises ``Undecided`` returns an UNKNOWN outcome."""

    @functools.wraps(fn)
    def wrapper() -> Outcome:
        try:
            return fn()
        except Undecided as err:
            return Outcome(UNKNOWN, "SymPy (undecided)", str(err))

    return wrapper


@functools.cache
def atomic_limits() -> bool:
    """For 0 < r = 1/(1+t) < 1: r^a -> 0, a r^a -> 0, a r^(a-1) -> 0 as a -> +inf."""
    r = 1 / (1 + t)
    for e in (r**ap, ap * r**ap, ap * r ** (ap - 1), (ap + 1) * r**ap):
        require(sp.limit(e, ap, sp.oo) == 0, f"lim {e} = 0")
    return True


def lehmer(x, A_, B_, alpha):
    """y for a window ``{x} + others`` where the others contribute ``A_ = sum x_j^alpha`` and
    ``B_ = sum x_j^(alpha+1)``."""
    return (x ** (alpha + 1) + B_) / (x**alpha + A_)


def lehmer_grad_printed(x, A_, B_, alpha):
    """The supplement's backward expression (Prop. 1/2) for element x."""
    s = x**alpha + A_
    tt = x ** (alpha + 1) + B_
    return ((alpha + 1) * x**alpha * s - alpha * x ** (alpha - 1) * tt) / s**2


def depends(*checks) -> None:
    """Require other claims' checks (functions returning an ``Outcome``) to give ``verdict``.

    Each item is ``check`` (PROVED expected) or ``(check, verdict)``.
    """
    from .model import PROVED

    for item in checks:
        fn, want = item if isinstance(item, tuple) else (item, PROVED)
        got = fn()
        require(got.verdict == want, f"{fn.__name__} gives {want} (got {got.verdict})")


def decide_identity(lhs, rhs, points=(), up_to: int | None = None) -> Outcome:
    """Generic strategy: PROVED if ``lhs - rhs`` simplifies to 0, REFUTED at the first point of
    ``points`` (dicts symbol -> exact rational) where the two sides differ exactly, else
    UNKNOWN. ``up_to`` (a window size) makes a proof PROVED_UP_TO_N instead of PROVED."""
    from .model import PROVED, PROVED_UP_TO_N, REFUTED

    if sp.simplify(lhs - rhs) == 0:
        if up_to is None:
            return Outcome(PROVED, "SymPy simplify (all N)", f"{lhs} = {rhs}")
        return Outcome(PROVED_UP_TO_N, f"SymPy simplify for N <= {up_to}", f"{lhs} = {rhs}")
    for pt in points:
        lv, rv = sp.nsimplify(lhs.subs(pt)), sp.nsimplify(rhs.subs(pt))
        if lv.is_Rational and rv.is_Rational and lv != rv:
            cex = {str(s): str(v) for s, v in pt.items()}
            cex.update(lhs=str(lv), rhs=str(rv))
            return Outcome(REFUTED, "SymPy exact rational evaluation",
                           f"counterexample {pt}: {lv} != {rv}", cex)
    return Outcome(UNKNOWN, "SymPy could not decide", "no simplification to 0 and no "
                   "exact counterexample among the given points")


def decide_sign(expr, what: str) -> Outcome:
    """Generic strategy: PROVED if SymPy's assumptions show ``expr >= 0``, REFUTED never (a
    sign claim needs a counterexample search), UNKNOWN when the assumptions say nothing."""
    from .model import PROVED

    s = sp.simplify(expr)
    if s.is_nonnegative is True:
        return Outcome(PROVED, "SymPy assumptions", f"{what}: {s} >= 0")
    return Outcome(UNKNOWN, "SymPy assumptions undecided", f"{what}: sign of {s} unknown")
