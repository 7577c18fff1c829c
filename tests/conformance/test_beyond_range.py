"""Results whose correctly rounded reference is an infinity because the exact value lies beyond
the dtype's range (``compare.beyond_range_errors``): measured against the exact value, as every
other result is against its reference, so that a careful implementation whose error scale is
itself beyond the range is not failed for a finite result near the exact value, while a result
far from it (a saturating implementation, the wrong infinity under an ordinary scale) still
is."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from ppverify.conformance import compare, expected
from ppverify.conformance.cases import Case
from ppverify.conformance.compare import beyond_range_errors, judge
from ppverify.conformance.expected import expected_for
from ppverify.conformance.runner import Outcome
from ppverify.conformance.tolerances import Tolerances

inf = math.inf


def test_a_result_beside_an_infinite_reference_is_measured_against_the_exact_value():
    """float64, 64 ULP of the error scale allowed. A gradient whose per-window terms of 1e328
    cancel to -4.48e308 (scale 1.49e328: ulp(T) 2.9e312): -1.68e308, 0 and the other infinity
    are all within what a careful implementation's rounding allows (the case `ppverify check`
    failed before: Lp, p = 0.05, subnormal inputs); NaN is not. An ordinary scale (2e308, the
    exact value's own size): a result saturated at the largest double is 5e14 ULP off, and the
    other infinity is not within reach."""
    exact = np.array([mpmath.mpf("-4.47837459348104e308")] * 5, dtype=object)
    got = [-1.6781557377756116e308, 0.0, math.nan, -inf, inf]
    scale = np.full(5, np.longdouble("1.4858414384534292e328"))  # (scales are long doubles)
    err = beyond_range_errors(got, [-inf] * 5, exact, scale, "float64", 64)
    assert err[0] < 1e-3 and err[1] < 1e-3
    assert err[2] == inf and err[3] == 0.0 and err[4] == 64
    ordinary = np.array([mpmath.mpf("-2e308")] * 3, dtype=object)
    err = beyond_range_errors([-1.79e308, inf, -inf], [-inf] * 3, ordinary, [2e308] * 3,
                              "float64", 64)
    assert err[0] > 1e14 and err[1] == inf and err[2] == 0.0
    # a scale beyond the long doubles' range (terms of 1e5000): the tolerance is unknown, and
    # nothing is excused
    huge = np.array([mpmath.mpf("-1e5000")] * 2, dtype=object)
    err = beyond_range_errors([0.0, -inf], [-inf] * 2, huge, np.full(2, np.longdouble(inf)),
                              "float64", 64)
    assert err.tolist() == [inf, 0.0]


def _lp_case(x, p, kernel, stride, grad_output=None):
    x = np.asarray(x, dtype=np.float64).reshape(1, 1, -1)
    g = None if grad_output is None else np.asarray(grad_output, dtype=np.float64).reshape(
        1, 1, -1)
    return Case(op="lp", dims=1, dtype="float64", input=x, param=p, kernel_size=(kernel,),
                stride=(stride,), padding=(0,), dilation=(1,), grad_output=g)


def _outcome(case, out, gin, gpar):
    return Outcome(output=np.asarray(out, dtype=np.float64),
                   output_shape=tuple(np.shape(out)), output_dtype=case.dtype,
                   grad_input=np.asarray(gin, dtype=np.float64), grad_param=gpar,
                   param_mode="tensor")


@pytest.fixture
def oracle_runs(monkeypatch):
    """Counts the second oracle runs (``expected.exact_values``)."""
    calls = []
    real = expected.exact_values

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(expected, "exact_values", counted)
    return calls


def test_a_cancelling_gradient_beyond_the_range_is_judged_by_its_error_scale(oracle_runs):
    """Lp at p = 0.05 over two windows of ten ones and a subnormal, sharing the smallest
    subnormal t, upstream gradients +1 and -1: dy/dt = t^(p - 1) (S1^19 - S2^19), two terms
    of 1e328 whose difference, -2.9e309, is beyond float64's range. A finite result near it
    conforms (the error scale, 6e328, says no float64 implementation resolves more); the
    exact infinity conforms without a second oracle run."""
    t, a, b = 5e-324, 1e-310, 2e-310
    case = _lp_case([a] + [1.0] * 10 + [t] + [1.0] * 10 + [b], 0.05, 12, 11, [1.0, -1.0])
    exp = expected_for(case)
    assert exp.grad_input[0, 0, 11] == -inf
    tol = Tolerances()
    gin = exp.grad_input.copy()
    assert judge(case, _outcome(case, exp.output, gin, exp.grad_param), exp, tol, True) == []
    assert oracle_runs == []
    gin[0, 0, 11] = -1.7e308
    assert judge(case, _outcome(case, exp.output, gin, exp.grad_param), exp, tol, True) == []
    assert len(oracle_runs) == 1


def test_an_output_beyond_the_range_saturated_at_the_largest_double_is_caught(oracle_runs):
    """Lp at p = 0.002 over windows of twelve ones: y = 12^500 = 3.9e539, whose error scale is
    about 3000 times its size (the 1 / p of its formula): 1.8e308 in its place fails, named
    with the exact value; NaN fails."""
    case = _lp_case([1.0] * 24, 0.002, 12, 12)
    exp = expected_for(case, gradients=False)
    assert np.all(np.isinf(exp.output))
    saturated = np.full(exp.output.shape, np.finfo(np.float64).max)
    findings = judge(case, Outcome(output=saturated, output_shape=saturated.shape,
                                   output_dtype="float64"), exp, Tolerances(), False)
    assert [f.category for f in findings] == ["wrong-value"]
    assert "exact 3.89604e+539" in findings[0].message and "ULP > 16" in findings[0].message
    assert len(oracle_runs) == 1
    nan = np.full(exp.output.shape, math.nan)
    assert judge(case, Outcome(output=nan, output_shape=nan.shape, output_dtype="float64"),
                 exp, Tolerances(), False)
    assert compare.errors_ulp(nan, exp.output, exp.output_scale, "float64").tolist() == \
        [[[inf, inf]]]


def test_without_the_exact_values_such_a_result_fails_as_before(monkeypatch):
    """Where the oracle cannot give the exact values (its precision limit), the finite result
    beside an infinite reference is not excused: it fails, as every such result did before."""
    from ppverify.oracle.reference import CertificationError

    def refused(*args, **kwargs):
        raise CertificationError("beyond the precision limit", "grad_input", (0,))

    t, a, b = 5e-324, 1e-310, 2e-310
    case = _lp_case([a] + [1.0] * 10 + [t] + [1.0] * 10 + [b], 0.05, 12, 11, [1.0, -1.0])
    exp = expected_for(case)
    monkeypatch.setattr(expected, "exact_values", refused)
    gin = exp.grad_input.copy()
    gin[0, 0, 11] = -1.7e308
    findings = judge(case, _outcome(case, exp.output, gin, exp.grad_param), exp, Tolerances(),
                     True)
    assert [(f.category, f.ulp) for f in findings] == [("wrong-gradient", inf)]


def test_scoring_from_vectors_judges_as_check_does():
    """A vectors file holds error scales as float64, capped at its largest value: read as
    they are, the cancelling gradient's scale (5.9e328) would be 1.8e308 and its finite
    result -1.7e308 would fail when scored, while ``check`` passes it. Scoring computes a
    capped case's scales again in long double: it passes there too, and a result far from the
    exact value (the output saturated where it is 3.9e539) still fails."""
    from ppverify.conformance.jsonio import encode_array, encode_float
    from ppverify.conformance.vectors import _case_record, score

    def scored(case, out, gin, gpar):
        record = _case_record(case, expected_for(case))
        result = {"output": encode_array(np.asarray(out, dtype=np.float64)),
                  "output_shape": list(np.shape(out)),
                  "grad_input": None if gin is None else encode_array(np.asarray(gin)),
                  "grad_param": None if gpar is None else encode_float(float(gpar))}
        return score({"op": "lp", "cases": [record]}, {case.id: result})

    t, a, b = 5e-324, 1e-310, 2e-310
    case = _lp_case([a] + [1.0] * 10 + [t] + [1.0] * 10 + [b], 0.05, 12, 11, [1.0, -1.0])
    case.id = "cancelling"
    exp = expected_for(case)
    assert exp.grad_input_scale[0, 0, 11] > np.finfo(np.float64).max  # capped in the file
    gin = exp.grad_input.copy()
    gin[0, 0, 11] = -1.7e308
    assert scored(case, exp.output, gin, exp.grad_param).conforms
    far = _lp_case([1.0] * 24, 0.002, 12, 12)
    far.id = "saturated"
    far.gradients = False
    assert not scored(far, np.full((1, 1, 2), np.finfo(np.float64).max), None, None).conforms


def _tiny_p_case():
    """Lp at p = 1e-8, float32, two windows of twelve near-ties (0.75 and the next few floats)
    sharing element 11, upstream gradients +1 and -1: outputs 1e107918124, input gradients
    1e107918123 and, at the shared element, two such terms cancelling to -2.9e107918116; every
    error scale is beyond the long doubles' range."""
    x = np.array([0.75, 0.7500001192092896, 0.7500002384185791] * 4
                 + [0.7500001788139343] * 11).reshape(1, 1, -1)
    return Case(op="lp", dims=1, dtype="float32", input=x, param=1e-8, kernel_size=(12,),
                stride=(11,), padding=(0,), dilation=(1,),
                grad_output=np.array([1.0, -1.0]).reshape(1, 1, 2))


def test_a_scale_beyond_the_long_doubles_is_computed_in_mpmath_numbers():
    """The shared element's exact gradient, -2.9e107918116, has an error scale of
    4.7e107918132 (the 1 / p of the norm's formula: a float32 implementation resolves nothing
    here): 0 is within tolerance, judged by the scale in mpmath numbers; until 2026-12-07 the
    long double scale was inf and the 0 failed for want of a tolerance (the last failures of
    ``ppverify check 'ppverify.ops:lp_pool{d}d' --op lp --param 1e-8 --thorough``). NaN still
    fails."""
    case = _tiny_p_case()
    exp = expected_for(case)
    assert exp.grad_input[0, 0, 11] == -inf and np.isinf(exp.grad_input_scale[0, 0, 11])
    wide = expected.exact_scales(case, True)["grad_input"][0, 0, 11]
    value = expected.exact_values(case, True)["grad_input"][0, 0, 11]
    assert mpmath.mpf("4.6e107918132") < wide < mpmath.mpf("4.8e107918132")
    assert mpmath.mpf("-2.9e107918116") < value < mpmath.mpf("-2.8e107918116")
    gin = exp.grad_input.copy()
    gin[0, 0, 11] = 0.0
    tol = Tolerances()
    assert judge(case, _outcome(case, exp.output, gin, exp.grad_param), exp, tol, True) == []
    gin[0, 0, 11] = math.nan
    findings = judge(case, _outcome(case, exp.output, gin, exp.grad_param), exp, tol, True)
    assert [f.category for f in findings] == ["wrong-gradient"]


def test_a_saturated_result_beside_such_a_scale_still_fails():
    """Lp at p = 1e-4, float64, a window of four ones: y = 4^10000 = 4e6020, error scale about
    1e6024 (beyond the long doubles): a result saturated at the largest double is 1.4e11 ULP
    of that scale from the exact value and fails, named with it."""
    case = _lp_case([1.0] * 4, 1e-4, 4, 4)
    exp = expected_for(case, gradients=False)
    assert np.isinf(exp.output).all() and np.isinf(exp.output_scale.astype(float)).all()
    saturated = np.full(exp.output.shape, np.finfo(np.float64).max)
    findings = judge(case, Outcome(output=saturated, output_shape=saturated.shape,
                                   output_dtype="float64"), exp, Tolerances(), False)
    assert [f.category for f in findings] == ["wrong-value"]
    assert "exact 3.98028e+6020" in findings[0].message
    assert 1e10 < findings[0].ulp < math.inf


@pytest.mark.parametrize("op, param", [("ppool", 2.5), ("ppool", -1.5), ("ppool", 0.0),
                                       ("powermean", 3.1), ("powermean", -2.0),
                                       ("powermean", 0.0), ("lp", 0.5), ("avg", None),
                                       ("max", None)])
def test_the_scales_in_mpmath_numbers_are_the_long_double_ones(op, param):
    """The same formulas in either arithmetic (``scales.EXACT_ARITH``, ``LONG_ARITH``): where
    the long doubles hold the scales, the two agree to 1e-14 (windows with zeros, padding,
    equal elements and a wide range among them; mpmath at the long doubles' 64 bits)."""
    from ppverify.conformance.scales import EXACT_ARITH, window_scale

    rng = np.random.default_rng(5)
    windows = [rng.uniform(0.1, 3.0, 9), [0.0, 1.0, 2.0, 0.5], [0.75] * 6,
               rng.uniform(1e-30, 1e30, 7), [2.0]]
    for xs in windows:
        for pad in (0, 2):
            with mpmath.workprec(64):
                got = window_scale(op, list(xs), param, pad, pad > 0, 1.2e-38, EXACT_ARITH)
            want = window_scale(op, list(xs), param, pad, pad > 0, 1.2e-38)
            for g, w in [(got.value, want.value), (got.grad_param, want.grad_param),
                         *zip(got.grad_inputs, want.grad_inputs)]:
                assert isinstance(g, mpmath.mpf)
                assert abs(float(g) - float(w)) <= 1e-14 * abs(float(w)), (xs, pad, g, w)
