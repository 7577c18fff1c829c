"""ppverify.oracle.operators: gradients against mpmath.diff, and every documented convention.

The reference implementations here are the plain formulas written again in mpmath (they share
no code with the oracle). Derivatives are taken numerically with ``mpmath.diff`` at 60 digits,
in relative coordinates (``x_i (1 + t)``) so that tiny and huge inputs are handled alike.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import pytest
from flint import arb, ctx

from ppverify.oracle import operators as ops
from ppverify.oracle.operators import INFINITE_DERIVATIVE, PARAM_JUMP, OracleDomainError
from ppverify.oracle.reference import reference

DPS = 60
TIGHT = mp.mpf(10) ** -40
LOOSE = mp.mpf(10) ** -30
TINY = mp.mpf(10) ** -5000


@pytest.fixture(autouse=True)
def _precision():
    saved_prec, saved_dps = ctx.prec, mp.mp.dps
    ctx.prec = 320
    mp.mp.dps = DPS
    yield
    ctx.prec, mp.mp.dps = saved_prec, saved_dps


def to_mpf(v) -> mp.mpf:
    if isinstance(v, Fraction):
        return mp.mpf(v.numerator) / v.denominator
    if isinstance(v, (int, float)):
        return mp.mpf(v)
    assert isinstance(v, arb)
    return mp.mpf(v.mid()._mpf_)


def assert_close(got, expected, rel=TIGHT, abs_tol=TIGHT, what=""):
    g, e = to_mpf(got), mp.mpf(expected)
    assert abs(g - e) <= max(rel * abs(e), abs_tol), f"{what}: oracle {g} vs mpmath {e}"


# ----------------------------------------------------------- independent mpmath formulas


def lehmer(xs, a):
    xs = [mp.mpf(v) for v in xs]
    a = mp.mpf(a)
    return mp.fsum(v ** (a + 1) for v in xs) / mp.fsum(v**a for v in xs)


def lp_norm(xs, p):
    p = mp.mpf(p)
    return mp.fsum(mp.mpf(v) ** p for v in xs) ** (1 / p)


def power_mean(xs, p):
    # extra digits: near p = 0 (where mpmath.diff samples) the formula cancels catastrophically
    with mp.extradps(150):
        xs = [mp.mpf(v) for v in xs]
        if p == 0:
            y = mp.exp(mp.fsum(mp.log(v) for v in xs) / len(xs))
        else:
            p = mp.mpf(p)
            y = (mp.fsum(v**p for v in xs) / len(xs)) ** (1 / p)
    return +y


FORMULAS = {"ppool": lehmer, "lp": lp_norm, "powermean": power_mean}
WINDOWS = {"ppool": ops.ppool_window, "lp": ops.lp_window, "powermean": ops.powermean_window}


def d_input(f, xs, param, i):
    """dy/dx_i by mpmath.diff in relative coordinates (x_i != 0)."""
    xi = mp.mpf(xs[i])

    def g(t):
        ys = [mp.mpf(v) for v in xs]
        ys[i] = xi * (1 + t)
        return f(ys, param)

    return mp.diff(g, 0) / xi


def d_param(f, xs, param):
    return mp.diff(lambda a: f(xs, a), mp.mpf(param))


def check_against_mpmath(op, xs, param, rel=LOOSE):
    f = FORMULAS[op]
    r = WINDOWS[op](xs, param)
    y = f(xs, param)
    assert_close(r.value, y, rel, mp.mpf(0), f"{op} value")
    for i in range(len(xs)):
        expected = d_input(f, xs, param, i)
        assert_close(r.grad_inputs[i], expected, rel, rel * abs(y / xs[i]), f"{op} dy/dx[{i}]")
    expected = d_param(f, xs, param)
    assert_close(r.grad_param, expected, rel, rel * abs(y), f"{op} dy/dparam")
    return r


# ------------------------------------------------------------------- gradient cross-checks

PPOOL_CASES = [
    ([0.5, 1.25, 3.0, 2.0], 2.0),
    ([0.5, 1.25, 3.0, 2.0], 1.0),
    ([0.5, 1.25, 3.0, 2.0], 0.5),
    ([0.5, 1.25, 3.0, 2.0], 0.0),
    ([0.5, 1.25, 3.0, 2.0], -0.7),
    ([0.5, 1.25, 3.0, 2.0], -1.0),
    ([0.5, 1.25, 3.0, 2.0], -3.0),
    ([0.5, 1.25, 3.0, 2.0], 37.25),
    ([1.0, 1.0000001, 0.9999999], 1e6),
    ([1.0, 1.0000001, 0.9999999], -1e6),
    ([0.5, 0.75, 1.0, 0.9], 1e4),
    ([7.0], 3.5),
    ([1e-300, 1.0, 1e300], 1.0),
    ([1e-300, 1.0, 1e300], -1.0),
    ([1e-300, 3e-200, 1e300, 2.5e299], 0.25),
    ([2.0**-1074, 1.5, 2.0**1000], 2.0),
]


@pytest.mark.parametrize("xs, alpha", PPOOL_CASES)
def test_ppool_gradients_match_mpmath_diff(xs, alpha):
    check_against_mpmath("ppool", xs, alpha)


@pytest.mark.parametrize(
    "xs, p",
    [
        ([0.5, 1.25, 3.0, 2.0], 1.0),
        ([0.5, 1.25, 3.0, 2.0], 2.0),
        ([0.5, 1.25, 3.0, 2.0], 3.5),
        ([0.5, 1.25, 3.0, 2.0], 0.5),
        ([0.5, 1.25, 3.0, 2.0], -1.5),
        ([1e-300, 1.0, 1e300], 2.0),
        ([0.25, 4.0], 1e3),
    ],
)
def test_lp_gradients_match_mpmath_diff(xs, p):
    check_against_mpmath("lp", xs, p)


@pytest.mark.parametrize(
    "xs, p",
    [
        ([0.5, 1.25, 3.0, 2.0], 0.0),
        ([0.5, 1.25, 3.0, 2.0], 1.0),
        ([0.5, 1.25, 3.0, 2.0], 3.0),
        ([0.5, 1.25, 3.0, 2.0], 0.3),
        ([0.5, 1.25, 3.0, 2.0], -2.0),
        ([1e-300, 1e300], 0.0),
        ([2.0, 2.0, 2.0], 0.0),
    ],
)
def test_powermean_gradients_match_mpmath_diff(xs, p):
    check_against_mpmath("powermean", xs, p)


def test_balls_are_tight():
    r = ops.ppool_window([0.5, 1.25, 3.0], 0.37)
    for v in [r.value, *r.grad_inputs, r.grad_param]:
        assert v.rel_accuracy_bits() > 280


def test_ppool_exact_agrees_with_balls():
    xs = [0.5, 1.25, 3.0, 2.0, 0.0]
    for alpha in (1.0, 2.0, 3.0, -2.0):
        data = [v for v in xs if v or alpha > 0]
        exact = ops.ppool_exact(data, alpha)
        ball = ops.ppool_window(data, alpha)
        assert exact is not None and isinstance(exact.value, Fraction)
        assert_close(ball.value, to_mpf(exact.value), what="value")
        for g, e in zip(ball.grad_inputs, exact.grad_inputs):
            assert isinstance(e, Fraction)
            assert_close(g, to_mpf(e), what="grad")
    assert ops.ppool_exact(xs, 0.5) is None
    assert ops.ppool_exact(xs, 1e5) is None


# ------------------------------------------------------------------ conventions at zeros

H = mp.mpf(10) ** -40  # a tiny positive perturbation for one-sided derivatives


def one_sided(f, xs, param, i, y0, h=H):
    """(f(x with x_i = h) - y0) / h, the right difference quotient at a zero x_i."""
    ys = [mp.mpf(v) for v in xs]
    ys[i] = h
    return (f(ys, param) - y0) / h


def lehmer_limit(xs, a, tiny=TINY):
    """The Lehmer mean with exact zeros replaced by ``tiny`` (mpmath cannot divide by 0**a<0)."""
    return lehmer([v if v != 0 else tiny for v in xs], a)


def test_zero_to_the_zero_is_one_at_alpha_zero():
    r = ops.ppool_window([0.0, 0.0, 3.0], 0.0)
    assert r.value == 1 and r.grad_inputs == [Fraction(1, 3)] * 3
    assert PARAM_JUMP in r.notes and r.grad_param == 0
    # the jump is real: right limit = mean of the positives, left limit = 0
    assert abs(lehmer([0, 0, 3], mp.mpf("1e-30")) - 3) < 1e-20
    assert abs(lehmer_limit([0, 0, 3], mp.mpf("-1e-30"), tiny=mp.mpf(2) ** -(10**45))) < 1e-20


@pytest.mark.parametrize("alpha", [2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.5])
@pytest.mark.parametrize("n", [1, 3])
def test_all_zero_window(alpha, n):
    r = ops.ppool_window([0.0] * n, alpha)
    assert r.value == 0 and r.grad_param == 0
    expected = {True: 1, False: 0}
    if alpha > 0:
        g = 1
    elif alpha == 0:
        g = Fraction(1, n)
    else:
        g = expected[n == 1]
    assert r.grad_inputs == [g] * n
    # the one-sided derivative, numerically: raise x_0 to h, the others stay zero
    q = one_sided(lambda ys, a: lehmer_limit(ys, a), [0.0] * n, alpha, 0, 0)
    assert abs(q - g) < 1e-15, (alpha, n, q)


def test_zero_with_alpha_between_zero_and_one_has_infinite_derivative():
    xs, alpha = [0.0, 1.0, 2.0], 0.5
    r = ops.ppool_window(xs, alpha)
    assert r.grad_inputs[0] == 0 and INFINITE_DERIVATIVE in r.notes
    assert_close(r.value, lehmer([1, 2], alpha), what="zeros drop out")
    q = one_sided(lehmer, xs, alpha, 0, to_mpf(r.value))
    assert q < -1e15  # the true one-sided derivative is -inf
    # the positives' derivatives are those of the window without the zero
    check = ops.ppool_window([1.0, 2.0], alpha)
    assert_close(r.grad_inputs[1], to_mpf(check.grad_inputs[0]))


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0, 7.0])
def test_zero_with_alpha_at_least_one(alpha):
    xs = [0.0, 1.0, 2.0, 0.0]
    r = ops.ppool_window(xs, alpha)
    y = lehmer([1, 2], alpha)
    assert_close(r.value, y)
    expected = -y / 3 if alpha == 1 else mp.mpf(0)
    for z in (0, 3):
        assert_close(r.grad_inputs[z], expected, what="dy/dx at zero")
        q = one_sided(lehmer, xs, alpha, z, y)
        assert abs(q - expected) < 1e-15, (alpha, q)
    assert not r.notes
    assert_close(r.grad_param, d_param(lehmer, [1.0, 2.0], alpha), mp.mpf(10) ** -30)


def test_alpha_one_zero_with_equal_positives_is_exact():
    r = ops.ppool_window([0.0, 3.0, 3.0], 1.0)
    assert r.value == 3 and r.grad_inputs == [Fraction(-1, 2), Fraction(1, 2), Fraction(1, 2)]


@pytest.mark.parametrize(
    "alpha, expected_zero_grad, note",
    [(-2.5, 1, False), (-1.0, 4, False), (-0.5, 0, True)],
)
def test_negative_alpha_one_zero(alpha, expected_zero_grad, note):
    xs = [1.0, 0.0, 2.0, 3.0]
    r = ops.ppool_window(xs, alpha)
    assert r.value == 0 and r.grad_param == 0
    assert r.grad_inputs == [0, expected_zero_grad, 0, 0]
    assert (INFINITE_DERIVATIVE in r.notes) == note
    # numerically: the limit value is 0 and the right derivative at the zero is as stated
    q = one_sided(lehmer, xs, alpha, 1, 0)
    if note:
        assert q > 1e15
    else:
        assert abs(q - expected_zero_grad) < 1e-15, q
    # positives: moving one of them does not move y away from 0 (the zero dominates)
    for i in (0, 2, 3):
        moved = list(xs)
        moved[i] *= 1.5
        assert abs(lehmer_limit(moved, alpha)) < mp.mpf(10) ** -1000


def test_harmonic_mean_alpha_minus_one():
    xs = [1.0, 2.0, 4.0]
    r = ops.ppool_window(xs, -1.0)
    assert_close(r.value, 3 / mp.fsum(1 / mp.mpf(v) for v in xs))
    # single zero: gradient N at the zero, and y(h) = N h / (1 + h S) exactly
    r0 = ops.ppool_window([0.0, 1.0, 2.0], -1.0)
    assert r0.grad_inputs == [3, 0, 0]


@pytest.mark.parametrize("alpha", [-0.5, -1.0, -3.0])
def test_negative_alpha_two_zeros(alpha):
    xs = [0.0, 1.0, 0.0]
    r = ops.ppool_window(xs, alpha)
    assert r.value == 0 and r.grad_inputs == [0, 0, 0] and r.grad_param == 0
    assert not r.notes
    # raising one zero to h leaves the other zero: y stays 0
    ys = [H, mp.mpf(1), mp.mpf(10) ** -5000]
    assert abs(lehmer(ys, alpha)) / H < 1e-100


def test_equal_positives_are_exact():
    for alpha in (-3.0, 0.5, 2.0, 1e6):
        r = ops.ppool_window([1.5, 1.5, 1.5], alpha)
        assert r.value == Fraction(3, 2) and r.grad_inputs == [Fraction(1, 3)] * 3
        assert r.grad_param == 0


# -------------------------------------------------------------------- other operators

def test_max_min_ties_go_to_first_in_kernel_order():
    r = ops.max_window([1.0, 3.0, 3.0, 2.0])
    assert r.value == 3 and r.grad_inputs == [0, 1, 0, 0]
    r = ops.min_window([2.0, 1.0, 3.0, 1.0])
    assert r.value == 1 and r.grad_inputs == [0, 1, 0, 0]
    r = ops.max_window([0.0, -0.0])
    assert r.grad_inputs == [1, 0]


def test_ties_in_two_d_match_torch_max_pool():
    torch = pytest.importorskip("torch")
    x = [[3.0, 1.0, 2.0], [3.0, 3.0, 2.0]]
    res = reference("max", [[x]], None, (2, 3), dims=2)
    assert res.grad_input[0, 0].tolist() == [[1, 0, 0], [0, 0, 0]]
    xt = torch.tensor([[x]], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, (2, 3)).sum().backward()
    assert xt.grad[0, 0].tolist() == [[1, 0, 0], [0, 0, 0]]


def test_split_ties_match_torch_amax():
    torch = pytest.importorskip("torch")
    x = [[3.0, 1.0, 3.0], [3.0, 2.0, 2.0]]
    res = reference("max", [[x]], None, output_size=1, dims=2, ties="split")
    xt = torch.tensor([[x]], dtype=torch.float64, requires_grad=True)
    torch.amax(xt, dim=(-2, -1)).sum().backward()
    assert xt.grad[0, 0].tolist() == res.grad_input[0, 0].tolist()
    assert res.grad_input[0, 0].tolist() == [[1 / 3, 0, 1 / 3], [1 / 3, 0, 0]]


def test_other_tie_conventions_on_request():
    # "split": 1/k to each of k tied elements (torch.amax); "last": all to the last
    r = ops.max_window([1.0, 3.0, 3.0, 2.0, 3.0], ties="split")
    assert r.value == 3 and r.grad_inputs == [0, Fraction(1, 3), Fraction(1, 3), 0,
                                              Fraction(1, 3)]
    r = ops.min_window([2.0, 1.0, 3.0, 1.0], ties="last")
    assert r.value == 1 and r.grad_inputs == [0, 0, 0, 1]
    assert ops.max_window([0.0, -0.0], ties="split").grad_inputs == [Fraction(1, 2)] * 2
    assert ops.max_window([1.0, 2.0], ties="last").grad_inputs == [0, 1]  # no tie: no change
    with pytest.raises(ValueError, match="ties must be one of first, last, split"):
        ops.max_window([1.0], ties="even")


def test_tie_conventions_through_reference_sum_over_overlapping_windows():
    # windows [3, 3] and [3, 1] (kernel 2, stride 1): split gives 1/2 + 1/2 and 1/2
    x = [[[3.0, 3.0, 1.0]]]
    r = reference("max", x, None, 2, 1, dims=1, ties="split", dtype="float32")
    assert r.grad_input[0, 0].tolist() == [0.5, 1.5, 0.0]
    r = reference("max", x, None, 2, 1, dims=1, ties="last")
    assert r.grad_input[0, 0].tolist() == [0.0, 2.0, 0.0]
    r = reference("max", x, None, 2, 1, dims=1, ties="split", dtype="float16", jobs=2)
    assert r.grad_input[0, 0].tolist() == [0.5, 1.5, 0.0]
    r = reference("min", [[[1.0, 2.0, 1.0, 1.0]]], None, output_size=1, dims=1, ties="split",
                  dtype="float64")
    assert r.grad_input[0, 0].tolist() == [1 / 3, 0.0, 1 / 3, 1 / 3]  # correctly rounded
    with pytest.raises(ValueError, match="is for max and min"):
        reference("avg", x, None, 2, dims=1, ties="split")
    with pytest.raises(ValueError, match="ties must be one of"):
        reference("max", x, None, 2, dims=1, ties="random")


def test_empty_windows():
    assert ops.max_window([]).value == float("-inf") and ops.max_window([]).grad_inputs == []
    assert ops.min_window([]).value == float("inf")
    for call in (
        lambda: ops.avg_window([], 0),
        lambda: ops.ppool_window([], 2.0),
        lambda: ops.lp_window([], 2.0),
        lambda: ops.powermean_window([], 2.0),
        lambda: ops.powermean_window([], 0.0),
    ):
        with pytest.raises(OracleDomainError, match="no input element"):
            call()
    # with count_include_pad the padded positions are zeros, so the window is not empty
    assert ops.avg_window([], 2).value == 0


def _empty_window_reference(op, param=None, **kw):
    # L=1, kernel 2, stride 2, padding 1, dilation 3, ceil_mode: positions -1 (pad), 2 (overhang)
    return reference(op, [[[5.0]]], param, 2, 2, 1, 3, True, dims=1, **kw)


def test_empty_window_max_is_minus_infinity_like_torch():
    torch = pytest.importorskip("torch")
    r = _empty_window_reference("max")
    assert r.output.tolist() == [[[float("-inf")]]] and r.grad_input.tolist() == [[[0.0]]]
    xt = torch.tensor([[[5.0]]], dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.max_pool1d(xt, 2, 2, 1, 3, True)
    assert y.item() == float("-inf")
    assert _empty_window_reference("min").output.tolist() == [[[float("inf")]]]


@pytest.mark.parametrize("op, param", [("avg", None), ("ppool", 2.0), ("lp", 2.0),
                                       ("powermean", 2.0), ("powermean", 0.0)])
def test_empty_window_other_ops_raise(op, param):
    with pytest.raises(OracleDomainError, match=r"no input element.*window at output index"):
        _empty_window_reference(op, param)


@pytest.mark.parametrize("op, param", [("avg", None), ("ppool", 2.0), ("ppool", -1.0),
                                       ("powermean", 2.0), ("powermean", 0.0)])
def test_padding_only_window_with_count_include_pad_is_zero(op, param):
    r = _empty_window_reference(op, param, count_include_pad=True)
    assert r.output.tolist() == [[[0.0]]] and r.grad_input.tolist() == [[[0.0]]]


def test_lp_conventions_at_zeros():
    r = ops.lp_window([0.0, 3.0, 4.0], 2.0)
    assert_close(r.value, 5)
    assert r.grad_inputs[0] == 0 and not r.notes
    r = ops.lp_window([0.0, 3.0, 4.0], 1.0)
    assert_close(r.grad_inputs[0], 1)  # p = 1: the sum, derivative 1 everywhere
    q = one_sided(lp_norm, [0.0, 3.0, 4.0], 1.0, 0, mp.mpf(7))
    assert abs(q - 1) < 1e-15
    r = ops.lp_window([0.0, 3.0, 4.0], 0.5)
    assert r.grad_inputs[0] == 0 and INFINITE_DERIVATIVE in r.notes
    assert one_sided(lp_norm, [0.0, 3.0, 4.0], 0.5, 0, to_mpf(r.value)) > 1e15
    # all-zero window: y = 0, one-sided partial derivative 1 (y = h when one element is h)
    r = ops.lp_window([0.0, 0.0], 3.0)
    assert r.value == 0 and r.grad_inputs == [1, 1] and r.grad_param == 0
    assert abs(one_sided(lp_norm, [0.0, 0.0], 3.0, 0, 0) - 1) < 1e-15
    with pytest.raises(OracleDomainError, match="p = 0"):
        ops.lp_window([1.0], 0.0)
    with pytest.raises(OracleDomainError, match=r"0\*\*p is infinite") as err:
        ops.lp_window([1.0, 0.0], -1.0)
    assert err.value.element == 1


def test_powermean_conventions_at_zeros():
    r = ops.powermean_window([0.0, 0.0, 0.0, 0.0], 2.0)
    assert r.value == 0 and r.grad_param == 0
    for g in r.grad_inputs:
        assert_close(g, mp.mpf(4) ** -0.5)
    assert abs(one_sided(power_mean, [0.0] * 4, 2.0, 0, 0) - mp.mpf(0.5)) < 1e-15
    # p = 1 with a zero: the mean, derivative 1/N
    r = ops.powermean_window([0.0, 2.0], 1.0)
    assert_close(r.value, 1) and assert_close(r.grad_inputs[0], mp.mpf(0.5))
    # geometric mean (p = 0) with one zero: y = 0, infinite derivative at the zero
    r = ops.powermean_window([0.0, 2.0, 3.0], 0.0)
    assert r.value == 0 and r.grad_inputs == [0, 0, 0] and INFINITE_DERIVATIVE in r.notes
    assert one_sided(power_mean, [0.0, 2.0, 3.0], 0.0, 0, 0) > 1e10
    # y(p) is continuous at p = 0 here (M_p -> 0 from both sides, faster than any power of p),
    # so dy/dp is truly 0: no jump.
    assert r.grad_param == 0 and PARAM_JUMP not in r.notes
    assert abs(power_mean([0, 2, 3], mp.mpf("1e-3"))) / mp.mpf("1e-3") < 1e-100
    # two zeros: every derivative 0, no note
    r = ops.powermean_window([0.0, 2.0, 0.0], 0.0)
    assert r.grad_inputs == [0, 0, 0] and INFINITE_DERIVATIVE not in r.notes
    # a single zero element: y = x
    r = ops.powermean_window([0.0], 0.0)
    assert r.value == 0 and r.grad_inputs == [1]


def test_powermean_count_include_pad():
    # two padded zeros join the mean of [2, 4] at p = 2: sqrt((4 + 16) / 4)
    r = ops.powermean_window([2.0, 4.0], 2.0, n_padding=2)
    assert_close(r.value, mp.sqrt(5)) and len(r.grad_inputs) == 2
    assert_close(r.grad_inputs[1], d_input(lambda xs, p: power_mean(xs + [0, 0], p),
                                           [2.0, 4.0], 2.0, 1), mp.mpf(10) ** -30)


# ------------------------------------------------------------------- magnitudes, alpha range


def test_huge_dynamic_range_in_one_window():
    xs = [1e-300, 1.0, 1e300]
    for alpha in (2.0, 0.5, -0.5, -2.0):
        r = ops.ppool_window(xs, alpha)
        assert_close(r.value, lehmer(xs, alpha), mp.mpf(10) ** -40)
    assert ops.ppool_window(xs, 1.0).value.rel_accuracy_bits() > 200


@pytest.mark.parametrize("alpha, expected", [(1e6, 2.0), (-1e6, 0.5)])
def test_alpha_up_to_a_million_approaches_max_and_min(alpha, expected):
    xs = [0.5, 1.0, 2.0, 1.999]
    r = ops.ppool_window(xs, alpha)
    assert_close(r.value, lehmer(xs, alpha))
    # y's distance from the max (about 6e-221 at alpha = 1e6: (1.999/2)^1e6 / 1000) and from
    # the min (about 2^-1e6) is far below the 60 digits of the fixture, where every y within
    # 1e-60 of the limit would compare equal to it: decide it at 1200 bits / 400 digits
    ctx.prec = 1200
    r = ops.ppool_window(xs, alpha)
    k = xs.index(expected)
    with mp.workdps(400):
        gap = abs(to_mpf(r.value) - expected)
        assert gap <= mp.mpf(10) ** -200
        if alpha > 0:  # resolvable here: it must be the true distance, not a rounded zero
            exact = expected - lehmer(xs, alpha)
            assert abs(gap - exact) <= exact * mp.mpf(10) ** -50, (gap, exact)
        # the winner takes the whole derivative in the limit
        assert abs(to_mpf(r.grad_inputs[k]) - 1) < mp.mpf(10) ** -100


# ----------------------------------------------------------------------- domain errors


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("op, param", [("ppool", 2.0), ("avg", None), ("max", None),
                                       ("lp", 2.0), ("powermean", 0.0), ("min", None)])
def test_nan_and_inf_raise_naming_element_and_window(bad, op, param):
    x = [[[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, bad, 4.0]]]
    with pytest.raises(OracleDomainError) as err:
        reference(op, x, param, 2, dims=1)
    msg = str(err.value)
    assert "input element (batch 0, channel 1, (2,))" in msg
    assert "window at output index (batch 0, channel 1, (1,))" in msg
    assert err.value.element == 0  # first element of that window


@pytest.mark.parametrize("op, param, name", [("ppool", 0.5, "alpha"), ("ppool", -1.5, "alpha"),
                                             ("lp", 2.5, "p"), ("powermean", 0.0, "p"),
                                             ("powermean", 1.5, "p")])
def test_negative_input_with_non_integer_exponent_raises(op, param, name):
    x = [[1.0, 2.0, 3.0, -4.0]]
    with pytest.raises(OracleDomainError) as err:
        reference(op, x, param, 2, dims=1)
    msg = str(err.value)
    assert "-4.0" in msg and "negative" in msg
    assert "input element (channel 0, (3,))" in msg or "(batch 0, channel 0, (3,))" in msg
    assert "window at output index" in msg and "(1,)" in msg


@pytest.mark.parametrize(
    "xs, alpha",
    [([-1.5, 2.0, 0.25], 2.0), ([-1.0, 2.0, 4.0], -1.0), ([-1.0, -2.0, 3.0], 3.0),
     ([-1.0, 0.0, 3.0], 1.0), ([-2.0, 0.0, 3.0], 2.0)],
)
def test_integer_alpha_with_negative_inputs(xs, alpha):
    r = ops.ppool_window(xs, alpha, want_param_grad=False)
    assert isinstance(r.value, Fraction) and r.grad_param is None
    assert_close(r.value, lehmer(xs, alpha))
    for i in range(len(xs)):
        if xs[i] != 0:
            expected = d_input(lehmer, xs, alpha, i)
        else:
            expected = mp.diff(lambda t, i=i: lehmer(xs[:i] + [t] + xs[i + 1:], alpha), 0)
        assert_close(r.grad_inputs[i], expected, mp.mpf(10) ** -30, mp.mpf(10) ** -30)
    # d/dalpha needs ln x: an error naming alpha
    with pytest.raises(OracleDomainError) as err:
        ops.ppool_window(xs, alpha)
    assert err.value.argument == "alpha"


def test_integer_alpha_negative_inputs_errors():
    with pytest.raises(OracleDomainError, match="0\\*\\*alpha") as err:
        ops.ppool_window([-1.0, 0.0], -1.0, want_param_grad=False)
    assert err.value.element == 1
    with pytest.raises(OracleDomainError, match="denominator"):
        ops.ppool_window([-1.0, 1.0], 1.0, want_param_grad=False)


def test_integer_p_with_negative_inputs():
    r = ops.lp_window([-3.0, 4.0], 2.0, want_param_grad=False)
    assert_close(r.value, 5)
    assert_close(r.grad_inputs[0], mp.mpf(-3) / 5)
    r = ops.lp_window([-1.0, 2.0], 3.0, want_param_grad=False)
    assert_close(r.value, mp.cbrt(7))
    assert_close(r.grad_inputs[0], d_input(lp_norm, [-1.0, 2.0], 3, 0), mp.mpf(10) ** -30)
    r = ops.powermean_window([-1.0, 3.0], 1.0, want_param_grad=False)
    assert r.value == 1 and r.grad_inputs == [Fraction(1, 2)] * 2
    with pytest.raises(OracleDomainError, match="not positive"):
        ops.lp_window([-2.0, 1.0], 3.0, want_param_grad=False)
    with pytest.raises(OracleDomainError) as err:
        ops.lp_window([-3.0, 4.0], 2.0)
    assert err.value.argument == "p"


def test_avg_window():
    r = ops.avg_window([1.0, 2.0, -6.0], 1)
    assert r.value == Fraction(-3, 4) and r.grad_inputs == [Fraction(1, 4)] * 3


# ------------------------------------------------------------- exact rational evaluations


def test_rational_root():
    import random

    rnd = random.Random(4)
    for _ in range(300):
        k = rnd.randint(1, 9)
        r = Fraction(rnd.randint(0, 10**30), rnd.randint(1, 10**20))
        assert ops.rational_root(r**k, k) == r
        assert ops.rational_root(r**k, -k) == (1 / r if r else None)
        if r > 1:
            assert ops.rational_root(r**k + 1, k) is None or k == 1
    assert ops.rational_root(Fraction(-27, 8), 3) == Fraction(-3, 2)
    assert ops.rational_root(Fraction(-4), 2) is None
    assert ops.rational_root(Fraction(2), 2) is None


def test_power_sum_exact():
    r = ops.power_sum_exact([3.0, 4.0, 0.0], 2.0, None)
    assert r.value == 5 and r.grad_inputs == [Fraction(3, 5), Fraction(4, 5), 0]
    assert ops.power_sum_exact([1.0, 2.0], 2.0, None) is None  # sqrt(5) is irrational
    assert ops.power_sum_exact([1.0, 2.0], 2.5, None) is None
    r = ops.power_sum_exact([1.0, 2.0**-53, 0.0], 1.0, None)
    assert r.value == 1 + Fraction(1, 2**53) and r.grad_inputs == [1, 1, 1]
    r = ops.power_sum_exact([2.0, 6.0, 0.0], 1.0, 4, n_inputs=2)  # mean with a padded zero
    assert r.value == 2 and r.grad_inputs == [Fraction(1, 4)] * 2
    r = ops.power_sum_exact([9.0, 683.0**2], 0.0, 2)  # geometric mean 2049
    assert r.value == 2049 and r.grad_inputs == [Fraction(2049, 18), Fraction(2049, 2 * 683**2)]
    # dyadic p: one class of q-th powers gives a rational value; several classes do not
    r = ops.power_sum_exact([4.0, 9.0, 0.0], 0.5, None)
    assert r.value == 25 and r.grad_inputs == [Fraction(5, 2), Fraction(5, 3), 0]
    assert ops.power_sum_exact([4.0, 9.0], 0.5, 2).value == Fraction(25, 4)
    assert ops.power_sum_exact([2.0, 3.0], 0.5, None) is None
    assert ops.power_sum_exact([2.0, 8.0], 1.5, None) is None  # (18 sqrt 2)^(2/3)
    r = ops.power_sum_exact([2.0, 8.0], 0.5, None)  # (sqrt2 + 2 sqrt2)^2 = 18
    assert r.value == 18
    ball = ops.lp_window([2.0, 8.0], 0.5)
    for g, e in zip(ball.grad_inputs, r.grad_inputs):
        assert_close(g, to_mpf(e))
    r = ops.power_sum_exact([1.0, 0.25], -1.0, None)  # (1 + 4)^-1
    assert r.value == Fraction(1, 5)
    assert_close(r.grad_inputs[1], d_input(lp_norm, [1.0, 0.25], -1, 1))


@pytest.mark.parametrize("xs, alpha, expected", [
    ([1.0, 2116.0], 0.5, Fraction(2071)),  # sqrt classes: 1 - 46 + 46**2
    ([2.0, 8.0, 0.0], 0.5, Fraction(6)),  # 8 = 2 * 2**2: one class
    ([2.0, 8.0, 0.0], 1.0, Fraction(34, 5)),
    ([0.25, 4.0, 1.0], -0.25, None),  # 4th-root classes: 1/4, 4 = 1/4 * 2**4, 1 = 1/4 * 4 ...
    ([2.0, 8.0, 3.0], 0.5, None),  # two classes with different means: irrational
    ([2.0, 3.0], 0.1, None),  # 0.1 is not a dyadic with a small denominator
])
def test_ppool_exact_rational_classes(xs, alpha, expected):
    r = ops.ppool_exact(xs, alpha)
    ball = ops.ppool_window(xs, alpha)
    if expected is None and r is None:
        return
    assert r is not None
    if expected is not None:
        assert r.value == expected
    assert_close(ball.value, to_mpf(r.value), what="value")
    for g, e in zip(ball.grad_inputs, r.grad_inputs):
        assert_close(g, to_mpf(e), what="grad")


# ------------------------------------------------- parameter derivatives when one x dominates


@pytest.mark.parametrize("op, param", [("ppool", 300.0), ("ppool", -300.0), ("lp", 300.0),
                                       ("lp", -300.0), ("powermean", 300.0),
                                       ("powermean", -300.0)])
def test_param_derivative_when_one_element_dominates(op, param):
    """``x_max - y`` is about 1e-340 here: the textbook dy/dparam cancels over ~1100 bits.
    The oracle's cancellation-free forms stay tight at the working precision (320 bits)."""
    xs = [1.0, 1e3, 3.0]
    r = WINDOWS[op](xs, param)
    assert r.grad_param.rel_accuracy_bits() > 250
    with mp.workdps(1200):
        expected = d_param(FORMULAS[op], xs, param)
        assert abs(to_mpf(r.grad_param) - expected) <= abs(expected) * mp.mpf(10) ** -60


def test_ppool_alpha_a_million_param_derivative_is_certified():
    r = reference("ppool", [[[1.0, 1e30, 3.0]]], 1e6, 3, dims=1)
    # w_3 ~ (3e-30)^1e6: dy/dalpha ~ w_3 (1e30 - 3) ln(1e30 / 3) ~ 1e-29522847, far below
    # float64: it rounds to 0, but it is certified (the old form needed ~1e8 bits and raised)
    assert r.grad_param.item() == 0.0 and r.output.item() == 1e30
    d = reference("ppool", [[[1.0, 1e30, 3.0]]], 1e6, 3, dims=1, digits=20)
    g = d.grad_param.item()
    assert g > 0 and mp.log10(g) == pytest.approx(-29522846.9, abs=0.2)


def test_integer_root_of_huge_powers():
    """The exact root of a 300,000-bit integer and the refusal of its neighbour (the sums of
    float64 subnormals to the 300th power; a Newton iteration from an overestimate took 1.6 s
    a window there, GMP's root takes milliseconds)."""
    base = (3 << 1000) + 12345
    n = base**300
    assert n.bit_length() > 300_000
    assert ops._integer_root(n, 300) == base
    assert ops._integer_root(n + 1, 300) is None
    assert ops._integer_root(n - 1, 300) is None
    assert ops._integer_root(0, 7) == 0 and ops._integer_root(1, 7) == 1
    total = sum(Fraction(v) ** 300 for v in (1.5e-310, 2.5e-310, 1e-309))
    assert ops.rational_root(total, 300) is None
    u = 2.0**-1040  # subnormal: (3u, 4u) has the norm 5u, exactly
    r = ops.power_sum_exact([3 * u, 4 * u, 0.0], 2.0, None)
    assert r.value == Fraction(5 * u) and r.grad_inputs == [Fraction(3, 5), Fraction(4, 5), 0]
