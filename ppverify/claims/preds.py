"""Oracle predicates: the claim's statement evaluated with the oracle at one point.

Each predicate takes a point (``{"x": [...], "alpha": a}`` or ``{"x": [...], "p": p}`` plus
claim-specific keys) and returns True (consistent), False (certainly false there) or None
(undecided). Printed expressions of the supplement are evaluated in ball arithmetic (or exact
``Fraction``s where they are rational) next to the oracle's values.
"""

from __future__ import annotations

from fractions import Fraction

from flint import arb

from .witness import A, avgpool, differ, far, lp, lt, maxpool, powermean, ppool

LIMIT_TOL = 1e-6


def _ab(v: float) -> arb:
    return arb(v)


def _pow(x, e) -> arb:
    x, e = A(x), A(e)
    if x == 0:
        return arb(0) if bool(e > 0) else arb(1) if e == 0 else arb("nan")
    return x**e


# ------------------------------------------------------------------ P-pooling


def avg_at_zero(pt):
    """P-pooling at alpha = 0 equals average pooling (value and every gradient)."""
    r, av = ppool(pt["x"], 0.0, False), avgpool(pt["x"])
    if differ(r.value, av.value):
        return False
    return not any(differ(g, h) for g, h in zip(r.grad_inputs, av.grad_inputs))


def value_is_mean_at_zero(pt):
    r = ppool(pt["x"], 0.0, False)
    return not differ(r.value, Fraction(sum(Fraction(v) for v in pt["x"]), len(pt["x"])))


def grads_one_over_n_at_zero(pt):
    r = ppool(pt["x"], 0.0, False)
    return all(not differ(g, Fraction(1, len(pt["x"]))) for g in r.grad_inputs)


def printed_grad_matches(pt):
    """The supplement's backward expression equals the oracle's dy/dx_i (x > 0)."""
    xs, al = pt["x"], pt["alpha"]
    r = ppool(xs, al, False)
    s = sum((_pow(v, al) for v in xs), arb(0))
    t = sum((_pow(v, al + 1) for v in xs), arb(0))
    for v, g in zip(xs, r.grad_inputs):
        printed = ((al + 1) * _pow(v, al) * s - al * _pow(v, al - 1) * t) / (s * s)
        if differ(printed, g):
            return False
    return True


def printed_subst_at_zero(pt):
    """Printed expression at alpha = 0, exactly: needs x_i^(alpha-1) = x_i^(-1)."""
    xs = [Fraction(v) for v in pt["x"]]
    n, t = len(xs), sum(xs)
    for idx in ([pt["i"]] if "i" in pt else range(n)):
        al = 0
        lhs = ((al + 1) * n - al * xs[idx] ** (al - 1) * t) / n**2  # raises at x_i = 0
        if lhs != Fraction(1, n):
            return False
    return True


def continuous_at_zero(pt):
    xs = pt["x"]
    y0 = ppool(xs, 0.0, False).value
    tol = 1e-6 * (1 + abs(float(A(y0).mid())))
    return all(not far(ppool(xs, eps, False).value, y0, tol) for eps in (1e-12, -1e-12))


def _expect_max_limit(xs, al, which="all", split_ties=False):
    r = ppool(xs, al, False)
    mx = max(xs)
    k = sum(1 for v in xs if v == mx)
    if which in ("all", "value") and far(r.value, mx, LIMIT_TOL * mx):
        return False
    if which == "value":
        return True
    for v, g in zip(xs, r.grad_inputs):
        if v == mx:
            expected = 1.0 / k if split_ties else 1.0
        elif which == "max":
            continue
        else:
            expected = 0.0
        if far(g, expected, LIMIT_TOL):
            return False
    return True


def maxpool_limit(pt):
    """alpha -> oo: y -> x_max, dy/dx -> 1 at every maximal element, 0 elsewhere."""
    return _expect_max_limit(pt["x"], pt["alpha"])


def value_limit_max(pt):
    return _expect_max_limit(pt["x"], pt["alpha"], "value")


def max_grad_limit_one(pt):
    return _expect_max_limit(pt["x"], pt["alpha"], "max")


def nonmax_grad_limit_zero(pt):
    xs, r = pt["x"], ppool(pt["x"], pt["alpha"], False)
    mx = max(xs)
    return not any(far(g, 0.0, LIMIT_TOL) for v, g in zip(xs, r.grad_inputs) if v != mx)


def sums_equal_max_terms(pt):
    """The printed identity sum x^(a+1)/sum x^a = x_max^(a+1)/x_max^a = x_max."""
    return not differ(ppool(pt["x"], pt["alpha"], False).value, max(pt["x"]))


def replaced_grad_asymptotic(pt):
    """At large alpha the oracle's gradient is close to the printed replaced expression."""
    xs, al = pt["x"], pt["alpha"]
    r = ppool(xs, al, False)
    mx = max(xs)
    for v, g in zip(xs, r.grad_inputs):
        if v == 0:
            replaced = arb(0)
        else:
            replaced = ((al + 1) * _pow(v, al) * _pow(mx, al)
                        - al * _pow(v, al - 1) * _pow(mx, al + 1)) / _pow(mx, 2 * al)
        if far(g, replaced, LIMIT_TOL):
            return False
    return True


def _pairs(pt):
    """(x_k, x_max, alpha) for the positive non-maximal elements of the point."""
    xs = pt["x"]
    mx = max(xs)
    if "k" in pt:
        return [(xs[pt["k"]], mx, pt["alpha"])]
    return [(v, mx, pt["alpha"]) for v in xs if 0 < v < mx]


def max_algebra(pt):
    mx, al = max(pt["x"]), pt["alpha"]
    lhs = ((al + 1) * _pow(mx, 2 * al) - al * _pow(mx, 2 * al)) / _pow(mx, 2 * al)
    return not differ(lhs, 1)


def other_eq(pt):
    for v, mx, al in _pairs(pt):
        lhs = ((al + 1) * _pow(v, al) * _pow(mx, al) - al * _pow(v, al - 1) * _pow(mx, al + 1)) \
            / _pow(mx, 2 * al)
        rhs = ((al + 1) * _pow(v, al) - al * _pow(v, al - 1) * mx) / _pow(mx, al)
        if differ(lhs, rhs):
            return False
    return True


def _upper(v, mx, al):
    lhs = ((al + 1) * _pow(v, al) - al * _pow(v, al - 1) * mx) / _pow(mx, al)
    rhs = ((al + 1) * _pow(v, al) - al * _pow(v, al)) / _pow(mx, al)
    return lhs, rhs


def other_upper(pt):
    """The printed 'lhs delta < rhs delta' (delta from the point, default 1)."""
    dl = A(pt.get("delta", 1.0))
    for v, mx, al in _pairs(pt):
        lhs, rhs = _upper(v, mx, al)
        if bool(lhs * dl >= rhs * dl):
            return False
    return True


def other_upper_eq(pt):
    for v, mx, al in _pairs(pt):
        _, rhs = _upper(v, mx, al)
        if differ(rhs, _pow(A(v) / mx, al)):
            return False
    return True


def ratio_power_small(pt):
    return not any(far(_pow(A(v) / mx, al), 0.0, LIMIT_TOL) for v, mx, al in _pairs(pt))


def other_lower(pt):
    """Under the named hypothesis x_k > 1 (the counterexample names its own x_k)."""
    dl = A(pt.get("delta", 1.0))
    for v, mx, al in _pairs(pt):
        if v <= 1 and "k" not in pt:
            continue
        lhs, _ = _upper(v, mx, al)
        rhs = ((al + 1) * _pow(v, al - 1) - al * _pow(v, al - 1) * mx) / _pow(mx, al)
        if bool(lhs * dl <= rhs * dl):
            return False
    return True


def other_lower_eq(pt):
    for v, mx, al in _pairs(pt):
        lhs = ((al + 1) * _pow(v, al - 1) - al * _pow(v, al - 1) * mx) / _pow(mx, al)
        rhs = _pow(A(v) / mx, al - 1) * ((al + 1 - A(mx)) / mx)
        if differ(lhs, rhs):
            return False
    return True


def other_lower_eq2(pt):
    mx, al = max(pt["x"]), pt["alpha"]
    return not differ((al + 1 - A(mx)) / mx, A(al) / mx)


def lhopital_step(pt):
    for v, mx, al in _pairs(pt):
        fv, fm, fa = Fraction(v), Fraction(mx), Fraction(al)
        if fa.denominator != 1:
            return None
        ia = int(fa)
        lhs = (fa / fm) / (fv / fm) ** (1 - ia)
        rhs = (1 / fm) / (fv / ((1 - fa) * fm)) ** (-ia)
        if lhs != rhs:
            return False
    return True


def lhopital_limit(pt):
    return not any(far(_pow(A(v) / mx, al - 1) * al / mx, 0.0, LIMIT_TOL)
                   for v, mx, al in _pairs(pt))


def squeeze_printed(pt):
    r = ppool(pt["x"], pt["alpha"], False)
    g = A(r.grad_inputs[pt.get("k", 0)])
    return bool(g > 0) and bool(g < 0)


def bounds(pt):
    xs = pt["x"]
    y = ppool(xs, pt["alpha"], False).value
    return not (lt(y, min(xs)) or lt(max(xs), y))


def monotone(pt):
    r = ppool(pt["x"], pt["alpha"])
    return not bool(A(r.grad_param) < 0)


def dalpha_cov(pt):
    xs, al = pt["x"], pt["alpha"]
    r = ppool(xs, al)
    w = [_pow(v, al) for v in xs]
    s = sum(w, arb(0))
    y = sum((wi * v for wi, v in zip(w, xs)), arb(0)) / s
    cov = sum((wi / s * arb(v).log() * (v - y) for wi, v in zip(w, xs)), arb(0))
    return not differ(cov, r.grad_param)


def min_limit(pt):
    xs = pt["x"]
    return not far(ppool(xs, pt["alpha"], False).value, min(xs), LIMIT_TOL * min(xs))


def harmonic(pt):
    xs = [Fraction(v) for v in pt["x"]]
    return not differ(ppool(pt["x"], -1.0, False).value, len(xs) / sum(1 / v for v in xs))


def homogeneity(pt):
    xs, al, s = pt["x"], pt["alpha"], 128.0
    return not differ(ppool([s * v for v in xs], al, False).value,
                      A(ppool(xs, al, False).value) * s)


def euler(pt):
    """Euler's relation, and the gradient unchanged by scaling the window by 128."""
    xs = pt["x"]
    r = ppool(xs, pt["alpha"], False)
    total = sum((A(g) * v for g, v in zip(r.grad_inputs, xs)), arb(0))
    if differ(total, r.value):
        return False
    if max(xs) < 1e305 and abs(pt["alpha"]) < 1e5:
        r2 = ppool([128.0 * v for v in xs], pt["alpha"], False)
        return not any(differ(g, h) for g, h in zip(r.grad_inputs, r2.grad_inputs))
    return True


def max_grad_positive(pt):
    xs = pt["x"]
    r = ppool(xs, pt["alpha"], False)
    return not bool(A(r.grad_inputs[xs.index(max(xs))]) <= 0)


def max_grad_le1(pt):
    xs = pt["x"]
    r = ppool(xs, pt["alpha"], False)
    return not bool(A(r.grad_inputs[xs.index(max(xs))]) > 1)


def nonmax_negative(pt):
    xs = pt["x"]
    r = ppool(xs, pt["alpha"], False)
    mx = max(xs)
    return not any(bool(A(g) >= 0) for v, g in zip(xs, r.grad_inputs) if 0 < v < mx)


PEAK_GRID = [0.0] + [0.25 * j for j in range(1, 41)] + [12.0, 16.0, 24.0, 32.0, 64.0, 128.0,
                                                        256.0, 512.0]


def nonmax_peak(pt):
    """dy/dx_k > 0 at 0, negative somewhere, and smaller in size at the end than at the peak."""
    xs = pt["x"]
    mx = max(xs)
    kk = next(j for j, v in enumerate(xs) if 0 < v < mx)
    gs = [A(ppool(xs, al, False).grad_inputs[kk]) for al in PEAK_GRID]
    if not bool(gs[0] > 0):
        return False
    low = min(range(len(gs)), key=lambda j: float(gs[j].mid()))
    if not bool(gs[low] < 0):
        return False
    return not (low == len(gs) - 1 or bool(abs(gs[-1]) >= abs(gs[low])))


def ties_match_torch(pt):
    xs = pt["x"]
    r, mp = ppool(xs, pt["alpha"], False), maxpool(xs)
    return not any(far(g, h, LIMIT_TOL) for g, h in zip(r.grad_inputs, mp.grad_inputs))


def equal_window(pt):
    xs = pt["x"]
    r = ppool(xs, pt["alpha"], False)
    n = len(xs)
    return (not differ(r.value, xs[0])) and all(not differ(g, Fraction(1, n))
                                                for g in r.grad_inputs)


def zero_grad(pt):
    """Gradient at the zero input: -oo (0 < a < 1), -y/sum x (a = 1), 0 (a > 1)."""
    xs, al = pt["x"], pt["alpha"]
    z = xs.index(0.0)
    r = ppool(xs, al, False)
    if 0 < al < 1:
        tiny = list(xs)
        tiny[z] = 2.0**-600
        g = A(ppool(tiny, al, False).grad_inputs[z])
        return bool(g < -1e10) and "infinite derivative returned as 0" in r.notes
    if al == 1:
        return not differ(r.grad_inputs[z], -A(r.value) / sum(xs))
    return not differ(r.grad_inputs[z], 0)


# ------------------------------------------------------------------ Lp norm and power mean


def lp_printed_dx(pt):
    xs, p = pt["x"], pt["p"]
    r = lp(xs, p, False)
    s = sum((_pow(v, p) for v in xs), arb(0))
    for v, g in zip(xs, r.grad_inputs):
        if differ(_pow(v, p - 1) * _pow(s, A(p) / (1 - A(p))), g):
            return False
    return True


def lp_correct_dx(pt):
    xs, p = pt["x"], pt["p"]
    r = lp(xs, p, False)
    s = sum((_pow(v, p) for v in xs), arb(0))
    return not any(differ(_pow(v, p - 1) * _pow(s, (1 - A(p)) / p), g)
                   for v, g in zip(xs, r.grad_inputs))


def lp_printed_dp(pt):
    xs, p = pt["x"], pt["p"]
    r = lp(xs, p)
    s = sum((_pow(v, p) for v in xs), arb(0))
    for v in xs:
        printed = (-s.log() / (A(p) * p) + _pow(v, p - 1) / s) * _pow(s, 1 / A(p))
        if differ(printed, r.grad_param):
            return False
    return True


def lp_correct_dp(pt):
    xs, p = pt["x"], pt["p"]
    r = lp(xs, p)
    s = sum((_pow(v, p) for v in xs), arb(0))
    sd = sum((_pow(v, p) * arb(v).log() for v in xs), arb(0))
    y = _pow(s, 1 / A(p))
    return not differ(y * (-s.log() / (A(p) * p) + sd / (p * s)), r.grad_param)


def lp_dp_blows_up_near_0(pt):
    r = lp(pt["x"], pt["p"])
    return bool(A(r.grad_param) < -1e3)


def lp_dp_explodes(pt):
    r = lp(pt["x"], pt["p"])
    return bool(abs(A(r.grad_param)) > 1)


def lp_dx_issue_at_1(pt):
    """'Numerical issues at p = 1': the claim holds if dy/dx at p = 1 is not the smooth 1."""
    xs = pt["x"]
    for p in (1.0, 1.0 - 1e-12, 1.0 + 1e-12):
        r = lp(xs, p, False)
        if any(far(g, 1.0, 1e-6) for v, g in zip(xs, r.grad_inputs) if v > 0):
            return True
    return False


def lp_dx_explodes(pt):
    r = lp(pt["x"], pt["p"], False)
    return any(bool(abs(A(g)) > 1 + 1e-9) for g in r.grad_inputs)


def lp_differs_from_avg_at_1(pt):
    r, av = lp(pt["x"], 1.0, False), avgpool(pt["x"])
    return any(differ(g, h) for g, h in zip(r.grad_inputs, av.grad_inputs))


def lp_differs_from_max(pt):
    r, mp = lp(pt["x"], pt["p"], False), maxpool(pt["x"])
    return any(far(g, h, LIMIT_TOL) for g, h in zip(r.grad_inputs, mp.grad_inputs))


def lp_not_computable(pt):
    xs = pt["x"]
    r1 = lp(xs, 1.0, False)
    rinf = lp(xs, 1e4, False)
    ok1 = all(not differ(g, 1) for g in r1.grad_inputs)
    okinf = all(not bool(abs(A(g)) > 1 + 1e-9) for g in rinf.grad_inputs)
    return not (ok1 and okinf)


def pm_grad(pt):
    xs, p = pt["x"], pt["p"]
    r = powermean(xs, p, False)
    n = len(xs)
    return not any(differ(_pow(A(v) / A(r.value), p - 1) / n, g)
                   for v, g in zip(xs, r.grad_inputs))


def pm_is_avg_at_1(pt):
    r, av = powermean(pt["x"], 1.0, False), avgpool(pt["x"])
    return not (differ(r.value, av.value)
                or any(differ(g, h) for g, h in zip(r.grad_inputs, av.grad_inputs)))


def pm_p0_limit(pt):
    xs = pt["x"]
    r0, rp = powermean(xs, 0.0), powermean(xs, 1e-12)
    y0 = abs(float(A(r0.value).mid()))
    return not (far(rp.value, r0.value, 1e-6 * y0)
                or far(rp.grad_param, r0.grad_param, 1e-4 * (y0 + abs(float(A(r0.grad_param)
                                                                              .mid())))))


def pm_pinf_limit(pt):
    xs, p = pt["x"], pt["p"]
    r = powermean(xs, p, False)
    mx = max(xs)
    k = sum(1 for v in xs if v == mx)
    if far(r.value, mx, 1e-4 * mx):
        return False
    return not any(far(g, (1.0 / k if v == mx else 0.0), 1e-4) for v, g in zip(xs, r.grad_inputs))


def _mpf_to_arb(v) -> arb:
    """An mpmath number as an exact ball (its binary value, whatever mpmath's print precision)."""
    sign, man, exp, _ = v._mpf_
    return arb(int(man) * (-1 if sign else 1)) * arb(2) ** exp


def lp_value_limit_max(pt):
    xs = pt["x"]
    return not far(lp(xs, pt["p"], False).value, max(xs), 1e-3 * max(xs))


def lp_dx_blows_up_near_0(pt):
    r = lp(pt["x"], pt["p"], False)
    return any(bool(A(g) > 1e3) for v, g in zip(pt["x"], r.grad_inputs) if v > 0)


def chain_rule_reference(pt):
    """The array oracle's gradient of an element shared by overlapping windows equals the
    upstream-weighted sum of the per-window derivatives."""
    import numpy as np

    from ppverify.oracle import reference

    xs, al = pt["x"], pt["alpha"]
    n = len(xs)
    gout = [1.5 + j for j in range(n - 1)]
    res = reference("ppool", np.array(xs).reshape(1, 1, n), al, 2, stride=1, dims=1,
                    grad_output=np.array(gout).reshape(1, 1, n - 1), digits=30)
    got = [_mpf_to_arb(v) for v in res.grad_input.ravel()]  # 30 correct digits
    want = [arb(0)] * n
    for j in range(n - 1):
        w = ppool(xs[j:j + 2], al, False)
        want[j] += A(w.grad_inputs[0]) * gout[j]
        want[j + 1] += A(w.grad_inputs[1]) * gout[j]
    return not any(far(g, h, 1e-25 * (1 + abs(float(h.mid())))) for g, h in zip(got, want))


# ------------------------------------------------------------------ Prop. 2, both readings


def _small(v, tol=LIMIT_TOL) -> bool:
    return not far(v, 0.0, tol)


def replaced_grad_literal(pt):
    """The printed gradient equals the replaced expression (literal reading) at element i."""
    xs, al = pt["x"], pt["alpha"]
    r = ppool(xs, al, False)
    mx = max(xs)
    idx = pt.get("i", xs.index(mx))
    v = xs[idx]
    replaced = ((al + 1) * _pow(v, al) * _pow(mx, al)
                - al * _pow(v, al - 1) * _pow(mx, al + 1)) / _pow(mx, 2 * al)
    return not differ(r.grad_inputs[idx], replaced)


def upper_sides_vanish(pt):
    """At large alpha both sides of the upper bound (times delta) are near 0."""
    return all(_small(lhs) and _small(rhs) for lhs, rhs in
               (_upper(v, mx, al) for v, mx, al in _pairs(pt)))


def lower_sides_vanish(pt):
    for v, mx, al in _pairs(pt):
        lhs, _ = _upper(v, mx, al)
        rhs = ((al + 1) * _pow(v, al - 1) - al * _pow(v, al - 1) * mx) / _pow(mx, al)
        if not (_small(lhs) and _small(rhs)):
            return False
    return True


def lower_eq_sides_vanish(pt):
    for v, mx, al in _pairs(pt):
        lhs = ((al + 1) * _pow(v, al - 1) - al * _pow(v, al - 1) * mx) / _pow(mx, al)
        rhs = _pow(A(v) / mx, al - 1) * ((al + 1 - A(mx)) / mx)
        if not (_small(lhs) and _small(rhs)):
            return False
    return True


def lower_eq2_sides_vanish(pt):
    for v, mx, al in _pairs(pt):
        r = _pow(A(v) / mx, al - 1)
        if not (_small(r * (al + 1 - A(mx)) / mx) and _small(r * al / mx)):
            return False
    return True


def upper_lim_literal(pt):
    """(x_k/x_max)^alpha delta = 0 at this alpha (literal reading)."""
    dl = A(pt.get("delta", 1.0))
    return not any(differ(_pow(A(v) / mx, al) * dl, 0) for v, mx, al in _pairs(pt))


def _true_grad(pt):
    xs = pt["x"]
    kk = pt["k"] if "k" in pt else next(j for j, v in enumerate(xs) if 0 < v < max(xs))
    return xs[kk], max(xs), pt["alpha"], A(ppool(xs, pt["alpha"], False).grad_inputs[kk])


def upper_chain(pt):
    """End to end: the true dE/dx_k < (x_k/x_max)^alpha delta (delta > 0)."""
    v, mx, al, g = _true_grad(pt)
    return not bool(g >= _pow(A(v) / mx, al))


def lower_chain(pt):
    """End to end: the true dE/dx_k > (x_k/x_max)^(alpha-1) alpha / x_max."""
    v, mx, al, g = _true_grad(pt)
    return not bool(g <= _pow(A(v) / mx, al - 1) * al / mx)


def squeeze_lower_premise(pt):
    """The squeeze's premise: the printed lower bound is below the true dE/dx_k."""
    return lower_chain(pt)


def lhopital_first(pt):
    for v, mx, al in _pairs(pt):
        if differ(_pow(A(v) / mx, al - 1) * al / mx, (A(al) / mx) / _pow(A(v) / mx, 1 - A(al))):
            return False
    return True


def _third(v, mx, al):
    """The printed third expression, in mpmath's principal branch (complex when not real)."""
    import mpmath

    with mpmath.workdps(50):
        base = mpmath.mpf(v) / ((1 - mpmath.mpf(al)) * mpmath.mpf(mx))
        return (1 / mpmath.mpf(mx)) / mpmath.power(base, -mpmath.mpf(al))


def lhopital_third_real(pt):
    """The third expression is real (its imaginary part vanishes)."""
    import mpmath

    for v, mx, al in _pairs(pt):
        if al == 1:
            return None
        val = _third(v, mx, al)
        if abs(mpmath.im(val)) > mpmath.mpf(10) ** -40 * (1 + abs(val)):
            return False
    return True


def lhopital_third_small(pt):
    """At this (large) alpha the third expression is real and near 0."""
    if lhopital_third_real(pt) is False:
        return False
    return all(abs(_third(v, mx, al)) < LIMIT_TOL for v, mx, al in _pairs(pt))


def lhopital_third_zero(pt):
    """Literal: the third expression is 0 at this alpha."""
    import mpmath

    return all(abs(_third(v, mx, al)) < mpmath.mpf(10) ** -40 for v, mx, al in _pairs(pt))


def overlap_limit_is_maxpool(pt):
    """Windows of 2, stride 1, alpha large: the summed gradient equals max pooling's."""
    import numpy as np

    from ppverify.oracle import reference

    xs, al = pt["x"], pt["alpha"]
    n = len(xs)
    res = reference("ppool", np.array(xs).reshape(1, 1, n), al, 2, stride=1, dims=1,
                    grad_output=np.ones((1, 1, n - 1)), digits=30)
    got = [_mpf_to_arb(v) for v in res.grad_input.ravel()]
    want = [0.0] * n
    for j in range(n - 1):
        w = xs[j:j + 2]
        want[j + w.index(max(w))] += 1.0  # max pooling: the first maximum gets it
    return not any(far(g, h, LIMIT_TOL) for g, h in zip(got, want))


def overlap_at_zero_is_avg(pt):
    """Windows of 2, stride 1, alpha = 0: the summed gradient equals average pooling's."""
    import numpy as np

    from ppverify.oracle import reference

    xs = pt["x"]
    n = len(xs)
    gout = [1.5 + j for j in range(n - 1)]
    res = reference("ppool", np.array(xs).reshape(1, 1, n), 0.0, 2, stride=1, dims=1,
                    grad_output=np.array(gout).reshape(1, 1, n - 1), digits=30)
    got = [_mpf_to_arb(v) for v in res.grad_input.ravel()]
    want = [Fraction(0)] * n
    for j in range(n - 1):
        want[j] += Fraction(gout[j]) / 2
        want[j + 1] += Fraction(gout[j]) / 2
    return not any(far(g, h, 1e-25) for g, h in zip(got, want))


# ------------------------------------------------------------------ Sec. 2 additions


def dp_without_window_sum(pt):
    """dE/dp of a layer whose windows share p equals the first window's term alone."""
    xs, p = pt["x"], pt["p"]
    size = 2
    terms = [A(lp(xs[j:j + size], p).grad_param) for j in range(0, len(xs), size)]
    return not differ(sum(terms, arb(0)), terms[0])


# ------------------------------------------------------------------ reviewer's questions


def continuity_matches_zeros(pt):
    """y is continuous at alpha = 0 (to 1e-6 at alpha = +-1e-12) exactly when the window has
    no zero or only zeros."""
    xs = pt["x"]
    predicted = (0.0 not in xs) or all(v == 0 for v in xs)
    if predicted and max(xs) / max(min(xs), 1e-300) > 1e40:
        return None  # the 1e-12 probe is not close enough to 0 for such a range
    return continuous_at_zero(pt) == predicted


def threshold_sign(pt):
    """sign(dy/dx_k) = sign(x_k^(a+1) + (a+1) A x_k - a B) for alpha > 0, x_k > 0."""
    xs, al = pt["x"], pt["alpha"]
    r = ppool(xs, al, False)
    for kk, v in enumerate(xs):
        others = [w for j, w in enumerate(xs) if j != kk]
        if v <= 0 or not any(w > 0 for w in others):
            continue
        aa = sum((_pow(w, al) for w in others), arb(0))
        bb = sum((_pow(w, al + 1) for w in others), arb(0))
        phi = _pow(v, al + 1) + (al + 1) * aa * v - al * bb
        g = A(r.grad_inputs[kk])
        if (bool(phi < 0) and bool(g >= 0)) or (bool(phi > 0) and bool(g <= 0)):
            return False
    return True


SIGN_GRID = [-512.0, -128.0, -32.0, -8.0, -4.0, -2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5,
             1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 16.0, 32.0, 128.0, 512.0]


def sign_changes_at_most_predicted(pt):
    """On a grid, dy/dx_k changes sign at most once for alpha > 0 and at most once (only if
    x_k > x_min) for alpha < 0."""
    xs = pt["x"]
    mx, mn = max(xs), min(xs)
    for kk, v in enumerate(xs):
        if not (0 < v < mx):
            continue
        signs = []
        for al in SIGN_GRID:
            g = A(ppool(xs, al, False).grad_inputs[kk])
            signs.append(1 if bool(g > 0) else -1 if bool(g < 0) else 0)
        neg = [s_ for s_, al in zip(signs, SIGN_GRID) if al < 0 and s_ != 0]
        pos = [s_ for s_, al in zip(signs, SIGN_GRID) if al > 0 and s_ != 0]
        changes_pos = sum(1 for a_, b_ in zip(pos, pos[1:]) if a_ != b_)
        changes_neg = sum(1 for a_, b_ in zip(neg, neg[1:]) if a_ != b_)
        if changes_pos > 1 or changes_neg > (1 if v > mn else 0):
            return False
    return True


def _g_max(xs, al):
    r = ppool(xs, al, False)
    return A(r.grad_inputs[xs.index(max(xs))])


_G_CACHE: dict[int, float] = {}


def overshoot_upper(n: int) -> float:
    """An upper enclosure of G(n) (flint branch-and-bound, cached)."""
    if n not in _G_CACHE:
        from .intervals import enclose_max

        def ghat(v):
            return (1 + v * (arb(n) / v).log() / (1 + v)) / (1 + v)

        _G_CACHE[n] = float(enclose_max(ghat, Fraction(1, 2**20), Fraction(n),
                                        tol=Fraction(1, 10**5)).upper) + 1e-9
    return _G_CACHE[n]


def overshoot_below_sup(pt):
    xs, al = pt["x"], pt["alpha"]
    if len(xs) < 2 or al < 0 or min(xs) <= 0:
        return None
    return not bool(_g_max(xs, al) > overshoot_upper(len(xs) - 1))


def overshoot_near_value(pt):
    """A near-optimal window reaches within 1e-3 of the enclosure and never exceeds it."""
    xs, al = pt["x"], pt["alpha"]
    g = _g_max(xs, al)
    lo, hi = pt["G"]
    return not bool(g > hi) and not bool(g < lo - 1e-3)


def zero_gradient_boundedness(pt):
    """dy/dx_z at x_z = 2^-600 is huge iff 0 < |alpha| < 1 (negative above 0, positive below)."""
    xs, al = list(pt["x"]), pt["alpha"]
    z = xs.index(0.0)
    xs[z] = 2.0**-600
    if sum(1 for v in xs if v == 0) > 0:
        return None  # another zero: the window's own convention applies
    g = A(ppool(xs, al, False).grad_inputs[z])
    if 0 < al < 1:
        return bool(g < -1e10)
    if -1 < al < 0:
        return bool(g > 1e10)
    return bool(abs(g) < 1e3)


def rate_forward(pt):
    import math

    xs, al = pt["x"], pt["alpha"]
    if len(xs) < 2 or al <= 0 or min(xs) <= 0:
        return None
    mx = max(xs)
    y = A(ppool(xs, al, False).value)
    gap = (mx - y) / mx
    return not bool(gap > (math.log(len(xs) - 1) + math.exp(-1)) / al + 1e-12)


def rate_backward(pt):
    xs, al = pt["x"], pt["alpha"]
    mx = max(xs)
    if al < 1 or min(xs) <= 0 or sum(1 for v in xs if v == mx) != 1 or len(xs) < 2:
        return None
    rho = max(v for v in xs if v != mx) / mx
    n = len(xs) - 1
    r = ppool(xs, al, False)
    dist = sum((abs(A(g) - (1 if v == mx else 0)) for v, g in zip(xs, r.grad_inputs)), arb(0))
    bound = (al + 1) * n * A(rho) ** al + n * ((al + 1) * A(rho) ** al + al * A(rho) ** (al - 1))
    return not bool(dist > bound)


def near_tie_half(pt):
    """x = (1 - eps, 1): dy/dx_max is near 1/2 at any alpha (not uniform)."""
    return not far(_g_max(pt["x"], pt["alpha"]), 0.5, 1e-3)


def duality(pt):
    xs, al = pt["x"], pt["alpha"]
    if min(xs) <= 0 or max(xs) / min(xs) > 1e100 or abs(al) > 1e3:
        return None
    r1 = ppool(xs, -al - 1, False)
    inv = [1.0 / v for v in xs]
    if any(Fraction(w) != 1 / Fraction(v) for w, v in zip(inv, xs)):
        return None  # 1/x not exact in floats
    r2 = ppool(inv, al, False)
    if differ(r1.value, 1 / A(r2.value)):
        return False
    for v, g1, g2 in zip(xs, r1.grad_inputs, r2.grad_inputs):
        if differ(g1, (A(1 / Fraction(v)) / A(r2.value)) ** 2 * A(g2)):
            return False
    return True


def lp_is_scaled_powermean(pt):
    xs, p = pt["x"], pt["p"]
    if min(xs) <= 0 or p == 0:
        return None
    return not differ(powermean(xs, p, False).value,
                      A(lp(xs, p, False).value) * A(len(xs)) ** (-1 / A(p)))


def dalpha_bounded(pt):
    xs, al = pt["x"], pt["alpha"]
    if min(xs) <= 0:
        return None
    g = A(ppool(xs, al).grad_param)
    n = len(xs)
    mx, mn = max(xs), min(xs)
    bound = (1 - A(1) / n) / 2 * (A(mx) / mn).log() * (A(mx) - mn)
    return not (bool(g < 0) or bool(g > bound))


def table_check(pt):
    """Recompute a table claim with decimal arithmetic (a second route to the same facts)."""
    from decimal import Decimal

    from .tables import HEADER, TABLES

    _, text = TABLES[pt["table"]]
    rows = []
    for line in text.strip().splitlines():
        cells = line.split("\t")
        rows.append([(Decimal(c.replace("<b>", "").replace("</b>", "")), c.startswith("<b>"))
                     for c in cells[1:]])
    if pt["what"] == "mean":
        return all((sum(v for v, _ in r[:21]) / 21).quantize(Decimal("0.1")) == r[21][0]
                   for r in rows)
    for c in range(len(HEADER)):
        col = [r[c] for r in rows]
        top = max(v for v, _ in col)
        if [b for v, b in col] != [v == top for v, _ in col] or \
                sum(1 for v, _ in col if v == top) != 1:
            return False
    return True
