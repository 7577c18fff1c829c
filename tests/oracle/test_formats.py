"""ppverify.oracle.formats: correct rounding against numpy/torch casts, ULP distances."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from ppverify.oracle.formats import (
    BFLOAT16,
    FLOAT16,
    FLOAT32,
    FLOAT64,
    FORMATS,
    get_format,
    ordinal,
    round_dyadic,
    round_float_array,
    round_fraction,
    ulp_distance,
)

NP = {"float16": np.float16, "float32": np.float32}


def _same(a: float, b: float) -> bool:
    """Equal as floats including the sign of zero (and NaN == NaN)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


def _edge_values(fmt):
    """Values around every interesting point of ``fmt``, all exact float64 numbers."""
    out = [0.0, fmt.min_subnormal, fmt.min_normal, fmt.max_finite, 1.0, 1.5, 2.0, 3.0]
    u_max = fmt.ulp(fmt.max_finite)
    out += [fmt.max_finite + u_max / 2, fmt.max_finite + u_max / 4, fmt.max_finite + u_max]
    out += [math.nextafter(fmt.max_finite + u_max / 2, 0), fmt.min_subnormal / 2,
            math.nextafter(fmt.min_subnormal / 2, 1), fmt.min_subnormal / 4,
            fmt.min_subnormal * 1.5, fmt.min_subnormal * 2.5,
            fmt.min_normal - fmt.min_subnormal / 2, fmt.min_normal - fmt.min_subnormal]
    one_ulp = fmt.ulp(1.0)
    for k in range(8):  # ties around 1 (odd and even neighbours) and just off them
        mid = 1.0 + (k + 0.5) * one_ulp
        out += [mid, math.nextafter(mid, 0), math.nextafter(mid, 2)]
    return out + [-v for v in out]


@pytest.mark.parametrize("name", ["float16", "float32"])
def test_round_fraction_matches_numpy_edge_values(name):
    fmt = FORMATS[name]
    for v in _edge_values(fmt):
        if v == 0:
            continue  # an exact zero carries no sign (see test_signed_zero_and_underflow_sign)
        with np.errstate(over="ignore"):
            expected = float(np.float64(v).astype(NP[name]))
        assert _same(round_fraction(Fraction(v), fmt), expected), v
        m, e = math.frexp(v)
        assert _same(round_dyadic(int(m * 2**53), e - 53, fmt), expected), v


@pytest.mark.parametrize("name", ["float16", "float32"])
def test_round_fraction_matches_numpy_random(name):
    fmt = FORMATS[name]
    rng = np.random.default_rng(7)
    # random bit patterns over the binades of the format and a little beyond
    exps = rng.integers(fmt.emin - fmt.precision - 3, fmt.emax + 2, size=4000)
    mant = rng.random(4000) + 1.0
    sign = rng.choice([-1.0, 1.0], size=4000)
    values = sign * np.ldexp(mant, exps)
    with np.errstate(over="ignore"):
        expected = values.astype(NP[name]).astype(np.float64)
    got = np.array([round_fraction(Fraction(float(v)), fmt) for v in values])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(round_float_array(values, fmt), expected)


def test_float64_round_fraction_of_floats_is_identity():
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 0x7FF0000000000000, size=2000, dtype=np.int64)
    for v in bits.view(np.float64):
        assert round_fraction(Fraction(float(v)), FLOAT64) == float(v)


def test_signed_zero_and_underflow_sign():
    # A negative value that underflows rounds to -0.0, as IEEE (and numpy) do.
    tiny = -FLOAT16.min_subnormal / 4
    assert _same(float(np.float64(tiny).astype(np.float16)), -0.0)
    assert _same(round_fraction(Fraction(tiny), FLOAT16), -0.0)
    assert _same(round_dyadic(-1, -200, FLOAT32), -0.0)
    # An exact zero has no sign in Fraction: +0.0
    assert _same(round_fraction(Fraction(0), FLOAT32), 0.0)
    assert _same(round_dyadic(0, 5, FLOAT32), 0.0)


@pytest.mark.parametrize("fmt", [FLOAT16, BFLOAT16, FLOAT32, FLOAT64], ids=lambda f: f.name)
def test_exact_ties_round_to_even(fmt):
    """Midpoints built exactly as Fractions (beyond float64 when needed)."""
    rng = np.random.default_rng(fmt.precision)
    for _ in range(300):
        e = int(rng.integers(fmt.emin - fmt.precision + 1, fmt.emax + 1))
        if e >= fmt.emin:  # normal binade 2**e: units of 2**(e - precision + 1)
            quantum = Fraction(2) ** (e - fmt.precision + 1)
            lo_units = int(rng.integers(1 << (fmt.precision - 1), (1 << fmt.precision) - 1))
        else:  # subnormal range: units of the smallest subnormal
            quantum = Fraction(fmt.min_subnormal)
            lo_units = int(rng.integers(0, 1 << (fmt.precision - 1)))
        lo = lo_units * quantum
        hi = lo + quantum
        mid = (lo + hi) / 2
        even = lo if lo_units % 2 == 0 else hi
        assert round_fraction(mid, fmt) == float(even)
        assert round_fraction(-mid, fmt) == -float(even)
        # one part in 2**200 above / below the midpoint decides the direction
        eps = quantum / 2**200
        assert round_fraction(mid + eps, fmt) == float(hi)
        assert round_fraction(mid - eps, fmt) == float(lo)
        if fmt.name != "float64":
            # the midpoint of two float16/32 values is a float64 number
            man, exp = (mid * 2**1200).numerator, -1200
            assert (mid * 2**1200).denominator == 1
            assert round_dyadic(man, exp, fmt) == float(even)


def test_ties_at_binade_edges_and_overflow():
    # midpoint between max and 2**(emax+1) is the overflow threshold: rounds to inf (IEEE)
    for fmt in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64):
        threshold = Fraction(fmt.max_finite) + Fraction(fmt.ulp(fmt.max_finite)) / 2
        assert round_fraction(threshold, fmt) == math.inf
        assert round_fraction(-threshold, fmt) == -math.inf
        assert round_fraction(threshold - Fraction(1, 2**2000), fmt) == fmt.max_finite
        assert round_fraction(Fraction(10) ** 400, fmt) == math.inf
        # half the smallest subnormal ties to 0 (even); just above goes to the subnormal
        half = Fraction(fmt.min_subnormal) / 2
        assert round_fraction(half, fmt) == 0.0
        assert round_fraction(half + Fraction(1, 2**3000), fmt) == fmt.min_subnormal
        assert round_fraction(3 * half, fmt) == 2 * fmt.min_subnormal
        # just below a power of two: the spacing below is half the spacing above
        one_minus = Fraction(1) - Fraction(fmt.ulp(1.0)) / 4  # midpoint of 1 - ulp/2 and 1
        assert round_fraction(one_minus, fmt) == 1.0
        assert round_fraction(one_minus - Fraction(1, 2**3000), fmt) == 1.0 - fmt.ulp(1.0) / 2
    # float16 concretely: 65520 is the first value rounding to inf
    assert round_fraction(Fraction(65519), FLOAT16) == 65504.0
    assert round_fraction(Fraction(65520), FLOAT16) == math.inf
    with np.errstate(over="ignore"):
        assert float(np.float64(65520).astype(np.float16)) == math.inf


def test_bfloat16_matches_torch_round_to_nearest_even():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    exps = rng.integers(-140, 128, size=3000)
    values = np.ldexp(rng.random(3000) + 1.0, exps).astype(np.float32).astype(np.float64)
    values = np.concatenate([values, -values, _edge_values_f32_for_bf16()])
    expected = torch.tensor(values, dtype=torch.float32).to(torch.bfloat16).double().numpy()
    got = np.array([round_fraction(Fraction(float(v)), BFLOAT16) for v in values])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(round_float_array(values, BFLOAT16), expected)


def _edge_values_f32_for_bf16():
    out = []
    for k in range(6):  # exact bfloat16 midpoints around 1, all float32 numbers
        mid = 1.0 + (k + 0.5) * 2.0**-7
        out += [mid, float(np.nextafter(np.float32(mid), np.float32(0))),
                float(np.nextafter(np.float32(mid), np.float32(2)))]
    bf = BFLOAT16
    out += [bf.max_finite, bf.max_finite + bf.ulp(bf.max_finite) / 2,
            bf.min_subnormal, bf.min_subnormal / 2, bf.min_subnormal * 1.5, bf.min_normal]
    return np.array(out + [-v for v in out])


def test_torch_float64_to_bfloat16_double_rounds():
    """Torch discrepancy: ``float64 -> bfloat16`` goes through float32 and rounds twice.

    1 + 2**-8 + 2**-30 is above the bfloat16 midpoint 1 + 2**-8, so the correctly rounded
    bfloat16 value is 1 + 2**-7; torch first rounds to float32 (giving the midpoint exactly)
    and then ties to even, giving 1.0. The oracle rounds once.
    """
    torch = pytest.importorskip("torch")
    v = 1 + 2**-8 + 2**-30
    assert round_fraction(Fraction(v), BFLOAT16) == 1 + 2**-7
    assert torch.tensor(v, dtype=torch.float64).to(torch.bfloat16).item() == 1.0


def test_format_constants():
    assert FLOAT16.max_finite == 65504.0 and FLOAT16.min_subnormal == 2.0**-24
    assert FLOAT32.max_finite == float(np.finfo(np.float32).max)
    assert FLOAT32.min_normal == float(np.finfo(np.float32).tiny)
    assert FLOAT64.min_subnormal == 5e-324
    assert BFLOAT16.max_finite == float(np.float32(3.3895313892515355e38))
    assert get_format("torch.float32") is FLOAT32 and get_format(FLOAT16) is FLOAT16
    with pytest.raises(ValueError, match="dtype"):
        get_format("float8")
    assert FLOAT32.ulp(1.0) == 2.0**-23 and FLOAT32.ulp(0.0) == FLOAT32.min_subnormal
    assert FLOAT32.ulp(-3.0) == 2.0**-22


# ------------------------------------------------------------------------------ ULP distance


@pytest.mark.parametrize("fmt", [FLOAT16, BFLOAT16, FLOAT32, FLOAT64], ids=lambda f: f.name)
def test_ulp_distance_counts_representables(fmt):
    ms = fmt.min_subnormal
    assert ulp_distance(ms, 0.0, fmt) == 1
    assert ulp_distance(3 * ms, -2 * ms, fmt) == 5  # across zero, subnormals
    assert ulp_distance(0.0, -0.0, fmt) == 0
    assert ulp_distance(-0.0, ms, fmt) == 1
    # across the subnormal/normal boundary: consecutive values are one apart
    below = fmt.min_normal - ms
    assert ulp_distance(below, fmt.min_normal, fmt) == 1
    assert ulp_distance(fmt.min_normal + fmt.ulp(fmt.min_normal), below, fmt) == 2
    # across a binade: 1 - ulp(1)/2 is the predecessor of 1
    assert ulp_distance(1.0 - fmt.ulp(1.0) / 2, 1.0 + fmt.ulp(1.0), fmt) == 2
    # a whole binade holds 2**(precision-1) steps
    assert ulp_distance(1.0, 2.0, fmt) == 2 ** (fmt.precision - 1)
    assert ulp_distance(0.5, 2.0, fmt) == 2 ** fmt.precision
    # infinities are one step beyond max
    assert ulp_distance(math.inf, fmt.max_finite, fmt) == 1
    assert ulp_distance(-math.inf, -fmt.max_finite, fmt) == 1
    assert ulp_distance(math.inf, math.inf, fmt) == 0
    # NaN
    assert ulp_distance(math.nan, 1.0, fmt) == math.inf
    assert ulp_distance(1.0, math.nan, fmt) == math.inf
    assert ulp_distance(math.nan, math.nan, fmt) == 0
    # elementwise on arrays
    d = ulp_distance(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 2 * fmt.ulp(2.0)]), fmt)
    np.testing.assert_array_equal(d, [0, 2])


def test_ulp_distance_float64_matches_bit_patterns():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(500) * 10.0 ** rng.integers(-300, 300, 500)
    steps = rng.integers(-50, 50, 500)
    b = a.copy()
    for i, s in enumerate(steps):
        for _ in range(abs(int(s))):
            b[i] = np.nextafter(b[i], np.inf if s > 0 else -np.inf)
    np.testing.assert_array_equal(ulp_distance(a, b, "float64"), np.abs(steps))
    # full range: -max to +max
    n = ulp_distance(-FLOAT64.max_finite, FLOAT64.max_finite, "float64")
    assert n == float(2 * 0x7FEFFFFFFFFFFFFF)  # float64 distances are floats
    assert ulp_distance(-math.inf, math.inf, "float64") == float(2 * 0x7FF0000000000000)


@pytest.mark.parametrize("name", ["float16", "float32"])
def test_ulp_distance_matches_numpy_nextafter(name):
    dt = NP[name]
    rng = np.random.default_rng(9)
    x = rng.standard_normal(300).astype(dt)
    y = x.copy()
    steps = rng.integers(0, 40, 300)
    for i, s in enumerate(steps):
        for _ in range(int(s)):
            y[i] = np.nextafter(y[i], dt(np.inf))
    d = ulp_distance(x.astype(np.float64), y.astype(np.float64), name)
    np.testing.assert_array_equal(d, steps)


def test_ulp_distance_non_representable_is_fractional():
    # halfway between 1 and its float32 successor is half a ULP away from each
    mid = 1.0 + 2.0**-24
    assert ulp_distance(mid, 1.0, "float32") == 0.5
    assert ordinal(1.0, "float32") + 0.5 == ordinal(mid, "float32")


def test_ulp_distance_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        ulp_distance(np.zeros(2), np.zeros(3), "float32")


def test_round_float_array_keeps_signed_zeros_in_every_format():
    a = np.array([-0.0, 0.0, -1e-60, 1e-60, -np.inf, np.nan])
    for fmt in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64):
        with np.errstate(over="ignore"):
            got = round_float_array(a, fmt)
        assert [math.copysign(1, v) for v in got[:4]] == [-1, 1, -1, 1], fmt.name
        assert got[4] == -np.inf and np.isnan(got[5])


def test_get_format_accepts_dtypes():
    torch = pytest.importorskip("torch")
    assert get_format(np.float32) is FLOAT32
    assert get_format(np.dtype("float16")) is FLOAT16
    assert get_format(torch.bfloat16) is BFLOAT16
    assert get_format("float64") is FLOAT64


def test_ulp_distance_accepts_torch_tensors_of_any_float_dtype():
    torch = pytest.importorskip("torch")
    from ppverify.oracle import ulp_distance

    ref = np.array([1.0, 2.0])
    for t in (torch.tensor([1.0, 2.0], requires_grad=True),
              torch.tensor([1.0, 2.0], dtype=torch.bfloat16),
              torch.tensor([1.0, 2.0], dtype=torch.float16)):
        assert ulp_distance(t, ref, "float32").tolist() == [0.0, 0.0]


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32"])
def test_vectorised_ordinal_equals_the_exact_scalar_one(name):
    from ppverify.oracle.formats import _ordinal_scalar, ordinal

    f = get_format(name)
    rng = np.random.default_rng(3)
    special = [0.0, -0.0, f.min_subnormal, f.min_subnormal * 1.5, f.min_normal,
               f.min_normal * (1 - 2.0**-60), f.max_finite, f.max_finite * (1 + 2.0**-30),
               f.max_finite + f.ulp(f.max_finite) * 0.75, np.inf, -np.inf, np.nan, 1.0,
               1.0 + 2.0**-40, 3.0, -2.5e-5, 1e300, -1e-300]
    values = np.concatenate([special, np.ldexp(rng.uniform(-2, 2, 4000),
                                               rng.integers(f.emin - f.precision - 3,
                                                            f.emax + 3, 4000))])
    got = ordinal(values, f)
    want = np.array([_ordinal_scalar(float(v), f) for v in values])
    np.testing.assert_array_equal(got, want)


def test_ulp_distance_of_millions_of_float32_values_is_vectorised(monkeypatch):
    # 2e6 values took 152 s element by element in Python; the array path must not fall back
    from ppverify.oracle import formats

    def per_element(*args):
        raise AssertionError("ulp_distance went element by element")

    monkeypatch.setattr(formats, "_ordinal_scalar", per_element)
    x = np.random.default_rng(0).uniform(0, 1, 2_000_000).astype(np.float32).astype(np.float64)
    d = ulp_distance(x, np.nextafter(x.astype(np.float32), np.float32(2)).astype(np.float64),
                     "float32")
    assert np.all(d == 1)
