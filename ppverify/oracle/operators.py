"""The pooling operators over one window, in rigorous ball arithmetic (python-flint ``arb``).

This module is the single statement of each operator's mathematics and conventions in the
oracle layer. A window is the list ``x_1..x_N`` of the input elements it covers (padding is
handled by the caller, see ``count_include_pad`` in ``ppverify.oracle.reference``). Every
function returns the value ``y``, every partial derivative ``dy/dx_i`` and the derivative with
respect to the operator's parameter, as ``arb`` balls at the current ``flint.ctx.prec`` or as
exact ``Fraction``s. Inputs are exact binary floats, so every branch below decides on exact
values.

Derivatives
-----------
``dy/dx_i`` is the partial derivative, one-sided at ``x_i = 0`` because the domain of the
operators with a real exponent is ``x >= 0``. Where that derivative is infinite, the oracle
returns 0 and records a note (the "infinite derivative" convention). Where it does not exist at
all (ties of max/min), the convention is stated below.

P-pooling (Lehmer / counter-harmonic mean), parameter alpha
-----------------------------------------------------------
``y = sum x^(alpha+1) / sum x^alpha``; with ``w_i = x_i^alpha / sum x^alpha``::

    dy/dx_i   = w_i * ((alpha + 1) - alpha * y / x_i)
    dy/dalpha = sum_i w_i * ln(x_i) * (x_i - y)      (a w-weighted covariance of ln x and x)
              = sum_i w_i (x_i - y) (ln x_i - ln y)   >= 0   (as sum_i w_i (x_i - y) = 0)
              = sum_{i<j} w_i w_j (x_i - x_j) (ln x_i - ln x_j)

The oracle evaluates the second form, O(N) per window (the pairwise one is O(N^2): 4.9 M pair
terms for a 56x56 window). Its terms are all non-negative, whereas the first form cancels
catastrophically when one weight dominates (|alpha| large: with alpha = 1e6 on
``[1, 1e30, 3]``, ``x_max - y`` is about ``1e-29500000`` and would need ~1e8 bits). ``x_i - y``
and ``ln x_i - ln y`` are formed relative to the element of largest weight ``R`` (the max for
alpha >= 0, the min for alpha < 0): ``y = R (1 + D)`` with ``D = sum_j w_j (x_j - R) / R``, a
sum of same-signed terms with exact differences, so ``R - y = -R D`` and
``ln R - ln y = -log1p(D)`` keep their relative accuracy however close ``y`` is to ``R``; see
``_lehmer_dalpha`` for why the certification (Ziv's loop) needs no more precision than the
pairwise form.

Zeros (``x >= 0``; ``k`` zeros and ``n`` positive elements in a window of ``N``):

* ``alpha = 0``: ``0^0 = 1``, so ``y`` is the mean of all ``N`` elements and ``dy/dx_i = 1/N``.
  With zeros and positives, ``y(alpha)`` jumps at 0 (the left limit is 0, the right limit the
  mean of the positives), so ``dy/dalpha`` is infinite: returned as 0.
* ``alpha > 0``: zeros contribute nothing to either sum (``y`` is the Lehmer mean of the
  positives, the continuous extension). At a zero, ``dy/dx_z`` is 0 for ``alpha > 1``,
  ``-y / sum_{x>0} x`` for ``alpha = 1`` and ``-inf`` for ``0 < alpha < 1`` (returned as 0).
* ``alpha < 0``: one zero makes ``y = 0`` (the limit as that element tends to 0, which is the
  minimum). With two or more zeros every partial derivative is 0. With exactly one zero the
  positives get 0 and the zero gets ``1`` for ``alpha < -1``, ``N`` for ``alpha = -1``
  (harmonic mean) and ``+inf`` for ``-1 < alpha < 0`` (returned as 0). ``dy/dalpha = 0``.
* All-zero window: ``y = 0``; ``dy/dx_i`` is 1 for ``alpha > 0``, ``1/N`` for ``alpha = 0``,
  and for ``alpha < 0`` it is 1 if ``N = 1`` else 0; ``dy/dalpha = 0``.

Negative inputs are accepted only for an integer ``alpha`` (``x^alpha`` is then real); the
literal formula is evaluated exactly in rationals, a zero denominator or ``0^alpha`` with
``alpha < 0`` is an error, and ``dy/dalpha`` (which needs ``ln x``) is an error.

Lp norm (supplement Eq. 1), parameter p; power mean (GeM), parameter p
-----------------------------------------------------------------------
``y = (sum x^p)^(1/p)`` and ``y = ((1/N) sum x^p)^(1/p)``; with ``S`` the sum (or mean)::

    dy/dx_i = y * x_i^(p-1) / sum x^p
    dy/dp   = y * (-ln(S) / p^2 + sum(x^p ln x) / (p * sum x^p))
            = y / p^2 * (sum u_i ln u_i + ln D),   u_i = x_i^p / sum x^p, D = 1 or N

(evaluated in a form without cancellation, see ``_neg_entropy``).

``p = 0`` is an error for the Lp norm; for the power mean it is the geometric mean
``exp(mean ln x)``, with ``dy/dx_i = y / (N x_i)`` and ``dy/dp = y * Var(ln x) / 2``.
Zeros with ``p > 0`` add nothing to the sum (but count in the power mean's ``N``); at a zero
``dy/dx_z`` is 0 for ``p > 1``, ``y / sum x^p`` (1 for the Lp norm, ``1/N`` for the power mean)
for ``p = 1`` and ``+inf`` (returned as 0) for ``0 < p < 1``. An all-zero window has ``y = 0``
and ``dy/dx_i = N^(-1/p)`` for the power mean, 1 for the Lp norm (the one-sided partial
derivative), ``dy/dp = 0``. A zero with ``p < 0`` (and ``p = 0`` for the Lp norm) is an error
(``x^p`` is infinite). The geometric mean (``p = 0``) with zeros is 0; with exactly one zero
(``N > 1``) its derivative there is ``+inf`` (returned as 0), every other derivative is 0, and
``dy/dp = 0`` exactly (``M_p -> 0`` as ``p -> 0+`` faster than any power of ``p``: no jump).
A window of equal elements is exact (``y = c``, ``dy/dx_i = 1/N``, ``dy/dp = 0``). Negative
inputs need an integer ``p`` and a positive sum (``p = 1`` excepted); ``dy/dp`` is then an error.

Average, max, min
-----------------
Average: ``y = sum x / D`` with ``D`` the number of elements (plus padded positions when
``count_include_pad``), ``dy/dx_i = 1/D``. Max (min): the largest (smallest) element; at a tie
the whole derivative goes to the first extreme element in row-major kernel order, as torch's
``max_pool`` does (``ties="first"``). Any distribution of it over the tied elements is a
subgradient; two others are in use and can be asked for: ``ties="split"``, ``1/k`` to each of
``k`` tied elements (``torch.amax``'s backward, and the limit of the Lp norm's gradient as
``p -> +inf``), and ``ties="last"``, all of it to the last. An empty window (possible with
dilation and padding) has max ``-inf`` and min ``+inf`` with no derivative, as in torch; for
the other operators it is an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import gmpy2
from flint import arb

from .rationals import fraction, mpq_of

Number = arb | Fraction | float  # float only for the infinite value of an empty max/min


class OracleDomainError(ValueError):
    """An input outside an operator's domain. ``element`` indexes the window's elements."""

    def __init__(self, message: str, element: int | None = None, argument: str = "input"):
        super().__init__(message)
        self.element = element
        self.argument = argument


@dataclass
class WindowValues:
    """Value and derivatives of one window; ``notes`` names the conventions that were applied."""

    value: Number
    grad_inputs: list[Number]
    grad_param: Number | None
    notes: set[str] = field(default_factory=set)


INFINITE_DERIVATIVE = "infinite derivative returned as 0"
PARAM_JUMP = "dy/dparam infinite at a jump, returned as 0"

_ZERO = Fraction(0)
_ONE = Fraction(1)


def _is_integer(v: float) -> bool:
    return float(v).is_integer()


def _require_finite(xs: Sequence[float]) -> None:
    try:
        if all(map(math.isfinite, xs)):  # the common case, without a Python loop
            return
    except (TypeError, OverflowError):  # not floats: the loop below says which element
        pass
    for i, v in enumerate(xs):
        if v != v or v in (float("inf"), float("-inf")):
            raise OracleDomainError(
                f"input element is {v}; the oracle's domain is finite real numbers", element=i
            )


def _check_negatives(xs: Sequence[float], param: float, name: str) -> bool:
    """Return True if the window has negative elements; raise if ``param`` is not an integer."""
    if not xs or min(xs) >= 0:  # (finite elements: checked first by every caller)
        return False
    for i, v in enumerate(xs):
        if v < 0:
            if not _is_integer(param):
                raise OracleDomainError(
                    f"input element {v} is negative and {name} = {param!r} is not an integer, "
                    f"so x**{name} is not real",
                    element=i,
                )
            return True
    return False


# ---------------------------------------------------------------------------- P-pooling


def ppool_window(xs: Sequence[float], alpha: float, want_param_grad: bool = True) -> WindowValues:
    """P-pooling (Lehmer mean) of one window; see the module docstring for conventions."""
    _require_finite(xs)
    if not xs:
        raise OracleDomainError("the window contains no input element (only padding)")
    if _check_negatives(xs, alpha, "alpha"):
        return _ppool_integer_exact(xs, int(alpha), want_param_grad)
    n_total = len(xs)
    positive = [i for i, v in enumerate(xs) if v > 0]
    zeros = [i for i, v in enumerate(xs) if v == 0]
    k = len(zeros)
    if not positive:
        if alpha > 0:
            g = _ONE
        elif alpha == 0:
            g = Fraction(1, n_total)
        else:
            g = _ONE if n_total == 1 else _ZERO
        return WindowValues(_ZERO, [g] * n_total, _ZERO)
    if alpha == 0:
        y = sum(Fraction(v) for v in xs) / n_total
        grads: list[Number] = [Fraction(1, n_total)] * n_total
        if k:
            return WindowValues(y, grads, _ZERO, {PARAM_JUMP})
        if not want_param_grad:
            return WindowValues(y, grads, None)
        ax = [arb(v) for v in xs]
        weights = [arb(1) / n_total] * n_total
        return WindowValues(y, grads, _lehmer_dalpha(weights, ax, xs.index(max(xs))))
    if alpha < 0 and k:
        notes: set[str] = set()
        grads = [_ZERO] * n_total
        if k == 1:
            z = zeros[0]
            if alpha < -1:
                grads[z] = _ONE
            elif alpha == -1:
                grads[z] = Fraction(n_total)
            else:
                notes.add(INFINITE_DERIVATIVE)
        return WindowValues(_ZERO, grads, _ZERO, notes)
    # Every remaining case has positives and either alpha > 0 (zeros drop out) or no zeros.
    first = xs[positive[0]]
    if all(xs[i] == first for i in positive):
        return _ppool_equal_positives(xs, alpha, positive, zeros, first)
    a = arb(alpha)
    ax = [arb(xs[i]) for i in positive]
    logs = [v.log() for v in ax]
    powers = [(a * lv).exp() for lv in logs]
    s = sum(powers[1:], powers[0])
    t = sum((u * v for u, v in zip(powers[1:], ax[1:])), powers[0] * ax[0])
    y = t / s
    a1 = a + 1
    weights = [u / s for u in powers]
    grads = [_ZERO] * n_total
    for j, i in enumerate(positive):
        grads[i] = weights[j] * (a1 - a * y / ax[j])
    notes = set()
    if k:  # alpha > 0 here
        if alpha == 1:
            gz: Number = -y / sum(ax[1:], ax[0])
        else:
            gz = _ZERO
            if alpha < 1:
                notes.add(INFINITE_DERIVATIVE)
        for z in zeros:
            grads[z] = gz
    dominant = max(range(len(ax)), key=lambda j: xs[positive[j]] if alpha > 0
                   else -xs[positive[j]])
    dalpha = _lehmer_dalpha(weights, ax, dominant) if want_param_grad else None
    return WindowValues(y, grads, dalpha, notes)


def _lehmer_dalpha(weights: list[arb], ax: list[arb], r: int) -> arb:
    """``dy/dalpha = sum_i w_i (x_i - y)(ln x_i - ln y)`` (all terms >= 0), in O(N).

    ``ax[r]`` is the element of largest weight ``R``. With ``D = sum_j w_j (x_j - R) / R``
    (same-signed terms, ``x_j - R`` exact): ``x_i - y = (x_i - R) - R D`` and
    ``ln x_i - ln y = ln(x_i / R) - log1p(D)``, so the dominant element's term
    ``w_R (R D)(log1p D)`` is accurate to the working precision relative to itself, however
    small ``D`` is (alpha = 1e6 on ``[1, 1e30, 3]``: ``|D|`` about ``1e-29500000``).

    Why the ball stays tight (a sketch; ``tests/oracle/test_dalpha_form.py`` checks it): a
    term with ``x_i`` far from ``y`` has no cancellation. A term with ``x_i`` near ``y``
    (i != r) has ball radius about
    ``u w_i (|x_i - R| + R|D|)(|ln(x_i/R)| + |D|) <= 4 u w_i R D^2`` (u = 2^-prec), while the
    total is at least the dominant term ``w_R R |D| |log1p D| >= w_R R D^2 / 2`` (for
    ``|D| <= 1/2``; otherwise no cancellation is severe) with ``w_R >= w_i``: the radius stays
    within ``8 N u`` of the value, as for the pairwise form, whose ``(x_i - x_j)`` are exact
    but whose ``ln x_i - ln x_j`` cancel for near-ties in the same way. The sum is returned as
    an ``arb`` ball; ``reference`` raises the precision until the ball rounds correctly.
    """
    R = ax[r]
    D = sum((w * ((v - R) / R) for j, (w, v) in enumerate(zip(weights, ax)) if j != r),
            arb(0))
    log1p_d = D.log1p()
    RD = R * D
    total = weights[r] * RD * log1p_d  # (R - y)(ln R - ln y) = (-R D)(-log1p D)
    for j, (w, v) in enumerate(zip(weights, ax)):
        if j != r:
            total += w * ((v - R) - RD) * ((v / R).log() - log1p_d)
    return total


def _ppool_equal_positives(
    xs: Sequence[float], alpha: float, positive: list[int], zeros: list[int], c: float
) -> WindowValues:
    """Exact result when all positive elements equal ``c`` (alpha != 0, zeros only if alpha > 0)."""
    n = len(positive)
    grads: list[Number] = [_ZERO] * len(xs)
    for i in positive:
        grads[i] = Fraction(1, n)
    notes: set[str] = set()
    for z in zeros:
        if alpha == 1:
            grads[z] = Fraction(-1, n)  # -y / sum(x>0) = -c / (n c)
        elif alpha < 1:
            notes.add(INFINITE_DERIVATIVE)
    return WindowValues(Fraction(c), grads, _ZERO, notes)


def _ppool_exact_integer_power(xs: Sequence[float], m: int, notes) -> WindowValues:
    """``ppool_exact`` for an integer alpha ``m != 0`` (one class: y is rational): its
    single-class formulas::

        y = sum x^(m+1) / S,   S = sum x^m,   dy/dx_i = x_i^m / S ((m+1) - m y / x_i),
        dy/dx at a zero = -y / sum x  (m = 1; 0 for m > 1; no zero when m < 0)

    in GMP rationals (``rationals``): ``Fraction`` arithmetic on the million-bit powers of a
    wide window (alpha = +-1000 on float64 inputs spanning 600 decades) spent 27 s (alpha =
    1000) to 270 s (alpha = -1000) per window in Python's gcd; GMP's takes 3-7 s."""
    fx = [mpq_of(v) for v in xs]
    positives = [i for i, v in enumerate(fx) if v > 0]
    powers = {i: fx[i] ** m for i in positives}
    s = sum(powers.values())
    y = sum(powers[i] * fx[i] for i in positives) / s
    grads: list = [gmpy2.mpq(0)] * len(fx)
    for i in positives:
        grads[i] = powers[i] / s * ((m + 1) - m * y / fx[i])
    if m == 1:
        total = sum(fx[i] for i in positives)
        for i, v in enumerate(fx):
            if v == 0:
                grads[i] = -y / total
    return WindowValues(fraction(y), [fraction(g) for g in grads], None, notes)


def _ppool_integer_exact(xs: Sequence[float], m: int, want_param_grad: bool) -> WindowValues:
    """Literal formula in exact rationals, for an integer alpha and a window with negatives."""
    if want_param_grad:
        raise OracleDomainError(
            "dy/dalpha needs ln(x), which is not real for the negative input elements",
            element=next(i for i, v in enumerate(xs) if v < 0),
            argument="alpha",
        )
    fx = [Fraction(v) for v in xs]
    if m < 0:
        for i, v in enumerate(fx):
            if v == 0:
                raise OracleDomainError(
                    f"0**alpha is undefined for alpha = {m} in a window with negative inputs",
                    element=i,
                )
    s = sum(v**m for v in fx)
    if s == 0:
        raise OracleDomainError(f"the denominator sum(x**alpha) is zero for alpha = {m}")
    y = sum(v ** (m + 1) for v in fx) / s
    grads: list[Number] = []
    for v in fx:
        if m == 0:
            grads.append(_ONE / len(fx))
            continue
        low = v ** (m - 1) if (v != 0 or m > 1) else (_ONE if m == 1 else _ZERO)
        if v == 0 and m > 1:
            low = _ZERO
        grads.append(((m + 1) * v**m - m * y * low) / s)
    return WindowValues(y, grads, None)


def ppool_exact(
    xs: Sequence[float], alpha: float, max_abs_alpha: int = 4096, max_root: int = 64
) -> WindowValues | None:
    """Exact rational value (and input derivatives where rational) when they exist, else None.

    Used by the certifier when a result may lie exactly on a rounding boundary. Write
    ``alpha = m / q`` (``q`` a power of two, at most ``max_root``). Group the positive inputs
    into classes whose ratios are rational ``q``-th powers (``x_i = c r_i^q``); within a class
    ``x_i^alpha = c^alpha r_i^m``, so the class's Lehmer mean ``y_c = sum x r^m / sum r^m`` is
    rational. By Besicovitch's theorem the ``q``-th roots of the classes are linearly independent
    over Q, so ``y`` is rational exactly when every ``y_c`` is the same, and then ``y = y_c``
    (e.g. ``alpha = 1/2`` on ``[1, 2116]`` gives 2071; on ``[2, 8]`` gives 6). The input
    derivatives are exact for one class (always the case for an integer alpha) and are the
    ball values otherwise. ``grad_param`` is left ``None``: it is a combination of logarithms,
    which (Baker) is transcendental unless it is zero, and it is zero only when the window's
    positives are all equal, a case ``ppool_window`` already returns exactly.
    """
    if abs(alpha) > max_abs_alpha:
        return None
    a = Fraction(alpha)
    m, q = a.numerator, a.denominator
    if q > max_root:
        return None
    result = ppool_window(xs, alpha, want_param_grad=False)
    if all(isinstance(g, Fraction) for g in [result.value, *result.grad_inputs]):
        return result
    if q == 1:
        return _ppool_exact_integer_power(xs, m, result.notes)
    # The general case of ppool_window: positives present, alpha != 0, and alpha > 0 if any
    # zeros; zeros then drop out of both sums.
    fx = [Fraction(v) for v in xs]
    classes: list[tuple[Fraction, list[tuple[int, Fraction]]]] = []
    for i, v in enumerate(fx):
        if v <= 0:
            continue
        for rep, members in classes:
            r = _ONE if q == 1 else rational_root(v / rep, q)
            if r is not None:
                members.append((i, r if q > 1 else v))
                break
        else:
            classes.append((v, [(i, _ONE if q > 1 else v)]))
    means = []
    for _, members in classes:
        s = sum(r**m for _, r in members)
        means.append((sum(fx[i] * r**m for i, r in members) / s, s))
    y = means[0][0]
    if any(yc != y for yc, _ in means):
        return None  # y is irrational: never on a rounding boundary
    if len(classes) > 1:
        return WindowValues(y, result.grad_inputs, None, result.notes)
    s = means[0][1]
    positives = [fx[i] for i, _ in classes[0][1]]
    grads: list[Number] = [_ZERO] * len(fx)
    for i, r in classes[0][1]:
        grads[i] = r**m / s * ((a + 1) - a * y / fx[i])
    if a == 1:
        for i, v in enumerate(fx):
            if v == 0:
                grads[i] = -y / sum(positives)
    return WindowValues(y, grads, None, result.notes)


# ------------------------------------------------------------------ average / max / min


def avg_window(xs: Sequence[float], n_padding: int = 0) -> WindowValues:
    """Average of the elements plus ``n_padding`` zeros (exact)."""
    _require_finite(xs)
    d = len(xs) + n_padding
    if d == 0:
        raise OracleDomainError("the window contains no input element (only padding)")
    y = sum(Fraction(v) for v in xs) / d
    return WindowValues(y, [Fraction(1, d)] * len(xs), None)


TIE_CONVENTIONS = ("first", "last", "split")


def _extreme_window(xs: Sequence[float], pick: Callable[[float, float], bool], empty: float,
                    ties: str = "first"):
    _require_finite(xs)
    if ties not in TIE_CONVENTIONS:
        raise ValueError(f"ties must be one of {', '.join(TIE_CONVENTIONS)}, got {ties!r}")
    if not xs:
        return WindowValues(empty, [], None, {f"empty window: {empty}"}), empty
    best = 0
    for i in range(1, len(xs)):
        if pick(xs[i], xs[best]):
            best = i
    tied = [i for i, v in enumerate(xs) if v == xs[best]]  # -0.0 ties with 0.0
    grads: list[Number] = [_ZERO] * len(xs)
    if ties == "split":
        for i in tied:
            grads[i] = Fraction(1, len(tied))
    else:
        grads[tied[-1] if ties == "last" else best] = _ONE
    return WindowValues(float(xs[best]), grads, None), None  # the input itself, sign of 0 kept


def max_window(xs: Sequence[float], ties: str = "first") -> WindowValues:
    """Max; derivative 1 to the first maximal element in kernel order (see the module doc for
    ``ties``). Empty: see caller."""
    return _extreme_window(xs, lambda a, b: a > b, float("-inf"), ties)[0]


def min_window(xs: Sequence[float], ties: str = "first") -> WindowValues:
    """Min; derivative 1 to the first minimal element in kernel order (see the module doc for
    ``ties``). Empty: see caller."""
    return _extreme_window(xs, lambda a, b: a < b, float("inf"), ties)[0]


# --------------------------------------------------------------- Lp norm and power mean


def _power_sum_window(
    xs: Sequence[float], p: float, divisor: int | None, want_param_grad: bool, name: str
) -> WindowValues:
    """Shared body of the Lp norm (``divisor=None``) and the power mean (``divisor=N``)."""
    _require_finite(xs)
    if not xs:
        raise OracleDomainError("the window contains no input element (only padding)")
    n_total = len(xs)
    negative = _check_negatives(xs, p, "p")
    if p <= 0:
        for i, v in enumerate(xs):
            if v == 0:
                raise OracleDomainError(
                    f"input element 0 with p = {p!r} <= 0: 0**p is infinite", element=i
                )
    if negative:
        return _power_sum_integer_exact(xs, int(p), divisor, want_param_grad)
    zeros = [i for i, v in enumerate(xs) if v == 0]
    positive = [i for i, v in enumerate(xs) if v > 0]
    if not positive:  # p > 0 here
        g = _ONE if divisor is None else None
        grad = g if g is not None else _nth_root_reciprocal(divisor, p)
        return WindowValues(_ZERO, [grad] * n_total, _ZERO)
    pa = arb(p)
    ax = [arb(xs[i]) for i in positive]
    logs = [v.log() for v in ax]
    powers = [(pa * lv).exp() for lv in logs]
    total = sum(powers[1:], powers[0])
    mean = total if divisor is None else total / divisor
    y = (mean.log() / pa).exp()
    grads: list[Number] = [_ZERO] * n_total
    for j, i in enumerate(positive):
        grads[i] = y * powers[j] / ax[j] / total
    notes: set[str] = set()
    for z in zeros:
        if p == 1:
            grads[z] = y / total  # y * x^0 / sum
        elif p < 1:
            notes.add(INFINITE_DERIVATIVE)
    dparam = None
    if want_param_grad:
        dparam = y * _neg_entropy(pa, logs) / (pa * pa)
        if divisor is not None:
            dparam += y * arb(divisor).log() / (pa * pa)
    return WindowValues(y, grads, dparam, notes)


def _neg_entropy(pa: arb, logs: list[arb]) -> arb:
    """``sum u_i ln u_i`` with ``u_i = x_i^p / sum x^p``, without cancellation.

    With ``k`` the index maximising ``p ln x`` and ``e_j = (x_j / x_k)^p <= 1`` it equals
    ``-(sum_j u_j p (ln x_k - ln x_j) + log1p(sum_{j != k} e_j))``, a sum of non-positive
    terms; the textbook ``-ln S / p^2 + sum x^p ln x / (p S)`` cancels catastrophically when
    one element dominates (|p| large).
    """
    scaled = [pa * lv for lv in logs]
    k = max(range(len(logs)), key=lambda i: float(scaled[i].mid()))
    eps = [(scaled[j] - scaled[k]).exp() if j != k else arb(1) for j in range(len(logs))]
    rest = sum((e for j, e in enumerate(eps) if j != k), arb(0))
    denom = 1 + rest
    spread = sum(((eps[j] / denom) * (scaled[k] - scaled[j]) for j in range(len(logs)) if j != k),
                 arb(0))
    return -(spread + rest.log1p())


def _nth_root_reciprocal(n: int, p: float) -> arb:
    """``n^(-1/p)`` as a ball."""
    return (-(arb(n).log()) / arb(p)).exp()


def _power_sum_integer_exact(
    xs: Sequence[float], m: int, divisor: int | None, want_param_grad: bool
) -> WindowValues:
    if want_param_grad:
        raise OracleDomainError(
            "dy/dp needs ln(x), which is not real for the negative input elements",
            element=next(i for i, v in enumerate(xs) if v < 0),
            argument="p",
        )
    fx = [Fraction(v) for v in xs]
    total = sum(v**m for v in fx)
    mean = total if divisor is None else total / divisor
    if mean <= 0 and m != 1:
        raise OracleDomainError(
            f"sum(x**p) = {float(total)!r} is not positive, so its 1/p-th power is not real "
            f"for p = {m}"
        )
    if m == 1:
        y: Number = mean
    else:
        y = (arb(mean.numerator) / mean.denominator).root(m) if m > 0 else (
            arb(mean.denominator) / mean.numerator
        ).root(-m)
    grads: list[Number] = []
    for v in fx:
        if m == 1:
            grads.append(_ONE if divisor is None else Fraction(1, divisor))
        else:
            xpow = v ** (m - 1) if (v != 0 or m > 1) else _ZERO
            grads.append(y * (arb(xpow.numerator) / xpow.denominator)
                         / (arb(total.numerator) / total.denominator))
    return WindowValues(y, grads, None)


def lp_window(xs: Sequence[float], p: float, want_param_grad: bool = True) -> WindowValues:
    """Lp norm ``(sum x^p)^(1/p)`` of one window (supplement Eq. 1)."""
    if p == 0:
        raise OracleDomainError("the Lp norm is undefined at p = 0 (1/p)", argument="p")
    return _power_sum_window(xs, p, None, want_param_grad, "lp")


def powermean_window(
    xs: Sequence[float], p: float, n_padding: int = 0, want_param_grad: bool = True
) -> WindowValues:
    """Power mean ``((1/D) sum x^p)^(1/p)`` (GeM); ``p = 0`` is the geometric mean."""
    values = list(xs) + [0.0] * n_padding
    if p == 0:
        return _geometric_mean_window(values, len(xs), want_param_grad)
    result = _power_sum_window(values, p, len(values), want_param_grad, "powermean")
    result.grad_inputs = result.grad_inputs[: len(xs)]
    if n_padding and not any(v == 0 for v in xs):
        result.notes.discard(INFINITE_DERIVATIVE)  # only padded zeros: nobody's derivative
    return result


def _geometric_mean_window(xs: Sequence[float], n_inputs: int, want_param_grad: bool):
    _require_finite(xs)
    if not xs:
        raise OracleDomainError("the window contains no input element (only padding)")
    for i, v in enumerate(xs):
        if v < 0:
            raise OracleDomainError(
                f"input element {v} is negative: the geometric mean (p = 0) needs x >= 0",
                element=i,
            )
    n = len(xs)
    if any(v == 0 for v in xs):
        # y = 0 for p = 0 and, continuously, for p < 0 and p -> 0+ (M_p -> 0 faster than any
        # power of p), so dy/dp = 0 exactly: no jump. Inputs: y(h) = (h * prod others)^(1/n).
        zeros = [i for i, v in enumerate(xs) if v == 0]
        grads: list[Number] = [_ZERO] * n_inputs
        notes = set()
        if n == 1:
            if n_inputs:
                grads[0] = _ONE
        elif len(zeros) == 1 and zeros[0] < n_inputs:
            notes.add(INFINITE_DERIVATIVE)
        return WindowValues(_ZERO, grads, _ZERO, notes)
    if all(v == xs[0] for v in xs):  # equal elements: exact y = c, dy/dx_i = 1/n, dy/dp = 0
        return WindowValues(Fraction(xs[0]), [Fraction(1, n)] * n_inputs, _ZERO)
    ax = [arb(v) for v in xs]
    logs = [v.log() for v in ax]
    mean_log = sum(logs[1:], logs[0]) / n
    y = mean_log.exp()
    grads = [y / (n * v) for v in ax[:n_inputs]]
    dparam = None
    if want_param_grad:
        # (d * d), not d ** 2: arb's power of a ball containing 0 is nan
        var = sum(((lv - mean_log) * (lv - mean_log) for lv in logs), arb(0)) / n
        dparam = y * var / 2
    return WindowValues(y, grads, dparam)


# ------------------------------------------------------- exact results on rounding boundaries


def _integer_root(n: int, k: int) -> int | None:
    """The exact integer ``k``-th root of ``n >= 0``, or None if ``n`` is not a ``k``-th power
    (GMP's ``mpz_root``: a Newton iteration from an overestimate, each step a power of
    ``k - 1``, took about 200 linear steps for k = 300 on the 300,000-bit sums of float64
    subnormals to the 300th power: 74 s of one Lp check case at p = 300, 1.6 s a window)."""
    if n < 2:
        return n
    root, exact = gmpy2.iroot(gmpy2.mpz(n), k)
    return int(root) if exact else None


def rational_root(q: Fraction, k: int) -> Fraction | None:
    """``q^(1/k)`` for an integer ``k != 0`` when it is rational (and real), else None."""
    if k < 0:
        if q == 0:
            return None
        q, k = 1 / q, -k
    if q < 0:
        if k % 2 == 0:
            return None
        r = rational_root(-q, k)
        return None if r is None else -r
    num, den = _integer_root(q.numerator, k), _integer_root(q.denominator, k)
    if num is None or den is None:
        return None
    return Fraction(num, den)


def _equal_positives(fx: list[Fraction], p: float, divisor: int | None,
                     n_inputs: int) -> WindowValues | None:
    """Exact results when every positive element equals ``c`` and there are as many of them
    as the divisor (``D = N``, no zero, for the power mean; one positive element for the Lp
    norm): then ``y = ((k c^p) / D)^(1/p) = c`` for every ``p``, ``dy/dx_i = 1/k``,
    ``dy/dp = 0`` (a zero of the Lp norm gets ``1`` at ``p = 1``, else 0, as
    ``_power_sum_window`` says). Decided without evaluating a power, so that an exact midpoint
    such as ``c = 1 + 2^-24`` rounded to float32 is decided for any ``p`` (0.1 included)."""
    if p == 0 or any(v < 0 for v in fx):
        return None
    positives = [v for v in fx if v > 0]
    if not positives or any(v != positives[0] for v in positives):
        return None
    k = len(positives)
    if k != (1 if divisor is None else divisor):
        return None
    grads: list[Number] = [Fraction(1, k) if v > 0 else (_ONE if p == 1 else _ZERO)
                           for v in fx[:n_inputs]]
    return WindowValues(positives[0], grads, _ZERO)


def power_sum_exact(
    xs: Sequence[float], p: float, divisor: int | None, n_inputs: int | None = None,
    max_abs_p: int = 4096, max_root: int = 64,
) -> WindowValues | None:
    """Exact value and input derivatives of the Lp norm (``divisor=None``) or power mean
    (``divisor = N``) when they are rational, else None.

    For an integer ``p`` the value ``(S / D)^(1/p)`` is rational exactly when ``S / D`` is a
    ``p``-th power of a rational, and then so is every ``dy/dx_i = y x_i^(p-1) / S``. For a
    dyadic ``p = m / q`` (``q <= max_root``) and ``x >= 0``: if all positive ``x_i = c r_i^q``
    with rational ``r_i`` (one class), ``S = c^p R`` with ``R = sum r^m`` and
    ``y = c (R / D)^(q/m)``, rational iff ``(R/D)^q`` has a rational ``m``-th root, and then
    ``dy/dx_i = y r_i^m / (x_i R)``; with several classes ``S`` is a sum of Q-linearly
    independent radicals (Besicovitch) and ``y`` is irrational. For ``p = 0`` (geometric mean)
    ``y = (prod x)^(1/N)`` and ``dy/dx_i = y / (N x_i)``. Used by the certifier when a result
    may lie exactly on a rounding boundary (``p = 1``, where ``y`` is a sum; ``p = 1/2`` on
    equal inputs, ``y = N^2 x``). A window whose positive elements are all equal and as many
    as ``D`` is exact for every ``p`` (``_equal_positives``). Only call it on windows the ball
    evaluation accepted.
    """
    n_inputs = len(xs) if n_inputs is None else n_inputs
    if not xs:
        return None
    fx = [Fraction(v) for v in xs]
    same = _equal_positives(fx, p, divisor, n_inputs)
    if same is not None:
        return same
    if abs(p) > max_abs_p:
        return None
    if p == 0:
        if divisor is None or any(v <= 0 for v in fx):
            return None  # zeros are already exact in the ball evaluation
        prod = _ONE
        for v in fx:
            prod *= v
        y = rational_root(prod, len(fx))
        if y is None:
            return None
        return WindowValues(y, [y / (len(fx) * v) for v in fx[:n_inputs]], None)
    exponent = Fraction(p)
    m, q = exponent.numerator, exponent.denominator
    if q > max_root or (m < 0 and any(v == 0 for v in fx)):
        return None
    if q == 1:  # (the sum on GMP's rationals: see ``rationals``)
        total = fraction(sum((mpq_of(v) ** m for v in fx), mpq_of(0)))
        if total == 0:
            return None
        y = rational_root(total if divisor is None else total / divisor, m)
        if y is None:
            return None
        grads: list[Number] = []
        for v in fx[:n_inputs]:
            if v == 0:
                grads.append(y / total if m == 1 else _ZERO)
            else:
                grads.append(y * v ** (m - 1) / total)
        return WindowValues(y, grads, None)
    positives = [(i, v) for i, v in enumerate(fx) if v > 0]
    if not positives or any(v < 0 for v in fx):
        return None
    rep = positives[0][1]
    roots = {}
    for i, v in positives:
        r = rational_root(v / rep, q)
        if r is None:
            return None  # several classes: y is irrational
        roots[i] = r
    big_r = sum(r**m for r in roots.values())
    ratio = big_r if divisor is None else big_r / divisor
    scale = rational_root(ratio**q, m)
    if scale is None:
        return None
    y = rep * scale
    grads = [y * roots[i] ** m / (v * big_r) if i in roots else _ZERO
             for i, v in enumerate(fx[:n_inputs])]
    return WindowValues(y, grads, None)
