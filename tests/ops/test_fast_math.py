"""The fast engine's ``fast_log`` / ``fast_exp`` (``ppverify/ops/fast_math.inc``) against mpmath.

The include file is compiled alone, with the kernel's own compiler and flags
(``_native.FLAGS``), into a tiny library whose entry points apply the functions to arrays: the
one-double forms and, on AVX-512 builds, the 8-lane forms the hot loops use (which must give the
same bits). Each result's error is measured in ULPs of the correctly rounded value (mpmath at 128
bits) over the arguments the kernel can meet: every positive finite bfloat16 and float16 value,
float32 values over every binade (subnormals included, as doubles they are normal), doubles over
every binade, exact powers of two, arguments next to 1 and next to the tables' subinterval ends;
``fast_exp`` over [-708, 709], its ends, and next to the points where k = round(16 z / ln 2)
changes. The bounds held here are those stated in the include file's header. A coefficient and a
table entry perturbed in a copy of the source are caught (the check can fail).

The narrow dtypes' forms (``fast_log_narrow`` / ``fast_exp_narrow`` and their 8-lane forms, the
fast engine's weights for float32 / bfloat16 / float16) are checked the same way on the same
arguments, against their own bounds (ln: an absolute error of 1.6 ULP + 4e-17; exp: 1.3 ULP).
"""

from __future__ import annotations

import ctypes
import math
import re
import shutil
import struct
import subprocess

import mpmath
import numpy as np
import pytest

from ppverify.ops import _native

SOURCE = _native.SOURCE.with_name("fast_math.inc")
LOG_BOUND_ULP = 1.6   # the header's bounds
EXP_BOUND_ULP = 1.1
# the narrow dtypes' forms (fast_log_narrow / fast_exp_narrow): absolute error of ln x at most
# LOG_NARROW_ULP ULP of the result + LOG_NARROW_ABS; exp z within EXP_NARROW_ULP
LOG_NARROW_ULP = 1.6
LOG_NARROW_ABS = 4e-17
EXP_NARROW_ULP = 1.3

HARNESS = r"""
#include <cstdint>
#include <cstring>
#include <cmath>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#include "SIMD8"
#include "INCLUDE"
extern "C" {
void t_log(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_log(x[i]);
}
void t_exp(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp(x[i]);
}
void t_log_narrow(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_log_narrow(x[i]);
}
void t_exp_narrow(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_exp_narrow(x[i]);
}
int t_vector() {
#if defined(PPV_FAST_VECTOR)
  return 1;
#else
  return 0;
#endif
}
// the 8-lane forms on n (a multiple of 8) arguments
void t_log8(const double* x, double* y, int64_t n) {
#if defined(PPV_FAST_VECTOR)
  for (int64_t i = 0; i < n; i += 8) _mm512_storeu_pd(y + i, fast_log8(_mm512_loadu_pd(x + i)));
#endif
}
void t_exp8(const double* x, double* y, int64_t n) {
#if defined(PPV_FAST_VECTOR)
  for (int64_t i = 0; i < n; i += 8) _mm512_storeu_pd(y + i, fast_exp8(_mm512_loadu_pd(x + i)));
#endif
}
void t_log_narrow8(const double* x, double* y, int64_t n) {
#if defined(PPV_FAST_VECTOR)
  for (int64_t i = 0; i < n; i += 8)
    _mm512_storeu_pd(y + i, fast_log_narrow8(_mm512_loadu_pd(x + i)));
#endif
}
void t_exp_narrow8(const double* x, double* y, int64_t n) {
#if defined(PPV_FAST_VECTOR)
  for (int64_t i = 0; i < n; i += 8)
    _mm512_storeu_pd(y + i, fast_exp_narrow8(_mm512_loadu_pd(x + i)));
#endif
}
// fast_exponent8: (double)(t >> 52), arithmetic shift, on n (a multiple of 8) int64 words
void t_exponent8(const int64_t* t, double* y, int64_t n) {
#if defined(PPV_FAST_VECTOR)
  for (int64_t i = 0; i < n; i += 8)
    _mm512_storeu_pd(y + i, fast_exponent8(
                                _mm512_castpd_si512(_mm512_loadu_pd((const double*)(t + i)))));
#endif
}
}
"""


class FastMath:
    """The compiled harness: ``log``/``exp`` (one double at a time), ``log8``/``exp8``."""

    def __init__(self, library):
        self.lib = ctypes.CDLL(str(library))
        for name in ("t_log", "t_exp", "t_log8", "t_exp8", "t_log_narrow", "t_exp_narrow",
                     "t_log_narrow8", "t_exp_narrow8"):
            getattr(self.lib, name).argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_int64]
        self.lib.t_exponent8.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        self.vector = bool(self.lib.t_vector())

    def exponent8(self, t: np.ndarray) -> np.ndarray:
        t = np.ascontiguousarray(t, dtype=np.int64)
        y = np.empty(len(t))
        assert len(t) % 8 == 0
        self.lib.t_exponent8(t.ctypes.data, y.ctypes.data, len(t))
        return y

    def _apply(self, name: str, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        pad = (-len(x)) % 8
        xp = np.concatenate([x, np.ones(pad)])
        y = np.empty_like(xp)
        getattr(self.lib, name)(xp.ctypes.data, y.ctypes.data, len(xp))
        return y[: len(x)]

    def log(self, x): return self._apply("t_log", x)
    def exp(self, x): return self._apply("t_exp", x)
    def log8(self, x): return self._apply("t_log8", x)
    def exp8(self, x): return self._apply("t_exp8", x)
    def log_narrow(self, x): return self._apply("t_log_narrow", x)
    def exp_narrow(self, x): return self._apply("t_exp_narrow", x)
    def log_narrow8(self, x): return self._apply("t_log_narrow8", x)
    def exp_narrow8(self, x): return self._apply("t_exp_narrow8", x)


def build(directory, source_text: str) -> FastMath:
    compiler = _native._compiler()
    if compiler is None:
        pytest.skip("no C++ compiler")
    inc = directory / "fast_math.inc"
    inc.write_text(source_text)
    harness = directory / "harness.cpp"
    harness.write_text(HARNESS.replace("INCLUDE", str(inc))
                       .replace("SIMD8", str(SOURCE.with_name("simd8.inc"))))
    lib = directory / "harness.so"
    proc = subprocess.run([compiler, *_native.FLAGS, str(harness), "-o", str(lib)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return FastMath(lib)


@pytest.fixture(scope="module")
def fm(tmp_path_factory):
    if _native._compiler() is None or shutil.which(_native._compiler()) is None:
        pytest.skip("no C++ compiler")
    return build(tmp_path_factory.mktemp("fast_math"), SOURCE.read_text())


# --------------------------------------------------------------------------------- arguments


def _bits_to_f64(bits: np.ndarray) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint64).view(np.float64)


def log_arguments(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # every positive finite bfloat16 (the top 16 bits of a float32) and float16 value
    bf16 = (np.arange(1, 0x7f80, dtype=np.uint32) << 16).view(np.float32).astype(np.float64)
    f16 = np.arange(1, 0x7c00, dtype=np.uint16).view(np.float16).astype(np.float64)
    # float32: random bit patterns over every binade (subnormals too), and its extremes
    f32 = rng.integers(1, 0x7f800000, 40_000, dtype=np.uint32).view(np.float32)
    f32 = np.concatenate([f32.astype(np.float64),
                          np.array([1.4e-45, 1.1754942e-38, 1.1754944e-38, 3.4028235e38])])
    # doubles over every normal binade
    f64 = _bits_to_f64(rng.integers(0x0010000000000000, 0x7ff0000000000000, 20_000,
                                    dtype=np.uint64))
    powers = np.ldexp(1.0, np.arange(-1022, 1024))
    # next to 1 (relative accuracy matters there: pow_log1p)
    near1 = np.concatenate([1.0 + np.ldexp(1.0, -np.arange(1, 53)),
                            1.0 - np.ldexp(1.0, -np.arange(2, 54)),
                            np.nextafter(1.0, 2.0) + rng.random(2000) * 0.05,
                            1.0 - rng.random(2000) * 0.05])
    # the ends of the table's subintervals (bits OFF + i 2^48) and their neighbours, in a few
    # binades
    off = 0x3fe6800000000000
    ends = np.array([off + (i << 48) + d for i in range(17) for d in (-1, 0, 1)],
                    dtype=np.uint64)
    ends = np.concatenate([_bits_to_f64(ends) * s for s in (1.0, 2.0 ** -100, 2.0 ** 60)])
    return np.concatenate([bf16, f16, f32, f64, powers, near1, ends])


def exp_arguments(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    uniform = rng.uniform(-708.0, 709.0, 40_000)
    small = np.concatenate([np.ldexp(1.0, -np.arange(1, 1075)),
                            -np.ldexp(1.0, -np.arange(1, 1075)), [0.0, -0.0]])
    # where k = round(16 z / ln2) changes: (k + 1/2) ln2 / 16, and next to it
    k = rng.integers(-16_300, 16_360, 2000) + 0.5
    mid = k * math.log(2.0) / 16.0
    mid = np.concatenate([mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)])
    ends = np.array([-708.0, np.nextafter(-708.0, 0.0), 709.0, np.nextafter(709.0, 0.0),
                     -707.9999, 708.9999, 1.0, -1.0, math.log(2.0), -math.log(2.0)])
    integers = np.arange(-708.0, 710.0)
    return np.concatenate([uniform, small, mid[(mid >= -708) & (mid <= 709)], ends, integers])


# ------------------------------------------------------------------------------ measurement

@pytest.fixture(autouse=True)
def _references_at_128_bits():
    """Every reference of this module at 128 bits, restored after each test: mpmath's
    precision is global to the process, which other modules' tests share."""
    with mpmath.workprec(128):
        yield


def ulp_errors(y: np.ndarray, x: np.ndarray, fn) -> np.ndarray:
    """|y - f(x)| in ULPs of the correctly rounded f(x) (math.ulp of it)."""
    out = np.empty(len(x))
    for n, (xi, yi) in enumerate(zip(x.tolist(), y.tolist())):
        ref = fn(mpmath.mpf(xi))
        rd = float(ref)
        if rd == 0.0:
            out[n] = 0.0 if yi == 0.0 else math.inf
            continue
        out[n] = float(abs(mpmath.mpf(yi) - ref) / math.ulp(rd))
    return out


def worst(errors: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    i = int(np.argmax(errors))
    return float(errors[i]), float(x[i])


# ------------------------------------------------------------------------------------ tests


def _table(name: str, text: str) -> list[str]:
    body = re.search(name + r"\[16\] = \{(.*?)\};", text, re.S).group(1)
    return [t for t in re.split(r"[\s,]+", body) if t]


def test_the_tables_are_what_their_comments_say():
    text = SOURCE.read_text()
    invc = [float.fromhex(t) for t in _table("FAST_LOG_INVC", text)]
    logc = [float.fromhex(t) for t in _table("FAST_LOG_LOGC", text)]
    logc_lo = [float.fromhex(t) for t in _table("FAST_LOG_LOGC_LO", text)]
    tab = [int(t.removesuffix("ULL"), 16) for t in _table("FAST_EXP_TAB", text)]
    off = 0x3fe6800000000000
    for i in range(16):
        lo = struct.unpack("<d", struct.pack("<Q", off + (i << 48)))[0]
        hi = struct.unpack("<d", struct.pack("<Q", off + ((i + 1) << 48)))[0]
        if lo <= 1.0 < hi:
            assert i == 9 and invc[i] == 1.0 and logc[i] == 0.0
        else:  # 1/invc is the subinterval's centre, to the double nearest 1/centre
            assert invc[i] == float(1 / ((mpmath.mpf(lo) + mpmath.mpf(hi)) / 2))
        assert max(abs(lo * invc[i] - 1), abs(hi * invc[i] - 1)) <= 2.0 ** -5
        exact = -mpmath.log(mpmath.mpf(invc[i]))
        assert logc[i] == float(exact) and logc_lo[i] == float(exact - logc[i])
    for j in range(16):
        two = float(mpmath.power(2, mpmath.mpf(j) / 16))
        assert tab[j] + (j << 48) == struct.unpack("<Q", struct.pack("<d", two))[0]


def test_fast_log_is_within_its_bound(fm):
    x = log_arguments()
    y = fm.log(x)
    err = ulp_errors(y, x, mpmath.log)
    bad, at = worst(err, x)
    assert bad <= LOG_BOUND_ULP, f"fast_log: {bad:.3f} ULP at x = {at!r}"
    assert fm.log(np.array([1.0]))[0] == 0.0


@pytest.mark.parametrize("form", ["exp", "exp_narrow"])
def test_fast_exp_is_within_its_bound_and_its_ends(fm, form):
    exp = getattr(fm, form)
    bound = {"exp": EXP_BOUND_ULP, "exp_narrow": EXP_NARROW_ULP}[form]
    z = exp_arguments()
    bad, at = worst(ulp_errors(exp(z), z, mpmath.exp), z)
    assert bad <= bound, f"fast_{form}: {bad:.3f} ULP at z = {at!r}"
    ends = exp(np.array([-np.inf, np.nan, -708.5, -1e300, 709.5, 1e300, 0.0]))
    assert ends[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert ends[4] == ends[5] == exp(np.array([709.0]))[0]
    assert ends[6] == 1.0


@pytest.mark.parametrize("suffix", ["", "_narrow"])
def test_the_8_lane_forms_give_the_same_bits(fm, suffix):
    if not fm.vector:
        pytest.skip("not an AVX-512 build: the kernel uses the one-double forms only")
    log, log8 = getattr(fm, f"log{suffix}"), getattr(fm, f"log{suffix}8")
    exp, exp8 = getattr(fm, f"exp{suffix}"), getattr(fm, f"exp{suffix}8")
    x = log_arguments(1)
    assert np.array_equal(log8(x).view(np.uint64), log(x).view(np.uint64))
    z = np.concatenate([exp_arguments(1), [-np.inf, np.nan, -708.5, 709.5, 1e300]])
    assert np.array_equal(exp8(z).view(np.uint64), exp(z).view(np.uint64))


def exponent_words() -> np.ndarray:
    """Both ends of each of the 4096 values of the top 12 bits, the int64 extremes, random."""
    top = np.arange(-2048, 2048, dtype=np.int64) << 52
    low = (np.int64(1) << 52) - 1
    rng = np.random.default_rng(0)
    return np.concatenate([top, top | low, [np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0,
                                            -1],
                           rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 8188,
                                        dtype=np.int64)])


def test_the_exponent_is_exact_for_every_word(fm):
    """fast_exponent8 (ln's k, by one xor and one subtraction on AVX2) is (double)(t >> 52)
    for every 64-bit t."""
    if not fm.vector:
        pytest.skip("not an AVX-512 build: the kernel uses the one-double forms only")
    t = exponent_words()
    assert np.array_equal(fm.exponent8(t), (t >> 52).astype(np.float64))


def test_the_exponent_check_catches_a_missing_sign_flip(tmp_path, fm):
    """Without the sign bit's flip (the emulated form's xor constant) the words whose top bit
    is set come out 4096 too large: the check above sees it."""
    if not fm.vector or "avx512f" in _native.cpu_flag_set():
        pytest.skip("not an AVX2 build (the native AVX-512 form has no such constant)")
    text = SOURCE.read_text()
    assert text.count("0x4330000000000800LL") == 1
    broken = build(tmp_path, text.replace("0x4330000000000800LL", "0x4330000000000000LL"))
    t = exponent_words()
    assert not np.array_equal(broken.exponent8(t), (t >> 52).astype(np.float64))


@pytest.mark.parametrize("old, new, which", [
    ("C(1.0 / 7.0)", "C(1.0 / 7.001)", "log"),   # a log1p coefficient, 1e-4 off
    ("C(1.0 / 120.0)", "C(1.0 / 120.01)", "exp"),  # an exp coefficient, 1e-4 off
    ("0x3fef72b83c7d517bULL", "0x3fef72b83c7d517cULL", "exp"),  # one ULP in 2^(2/16)
    ("0x1.c8ff7c79a9a20p-3", "0x1.c8ff7c79a9a24p-3", "log"),  # 4 ULP in a logc entry
])
def test_the_check_catches_a_perturbed_coefficient(tmp_path, old, new, which):
    text = SOURCE.read_text()
    assert text.count(old) == 1
    broken = build(tmp_path, text.replace(old, new))
    if which == "log":  # (every 5th argument: enough to see the defect, cheaper)
        x = log_arguments()[::5]
        err = ulp_errors(broken.log(x), x, mpmath.log)
        assert worst(err, x)[0] > LOG_BOUND_ULP
    else:
        z = exp_arguments()[::5]
        err = ulp_errors(broken.exp(z), z, mpmath.exp)
        assert worst(err, z)[0] > EXP_BOUND_ULP


# ------------------------------------------------------- the narrow dtypes' cheaper forms


def log_narrow_ratios(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """|y - ln x| / (LOG_NARROW_ULP ulp(ln x) + LOG_NARROW_ABS): at most 1 within the bound."""
    out = np.empty(len(x))
    for n, (xi, yi) in enumerate(zip(x.tolist(), y.tolist())):
        ref = mpmath.log(mpmath.mpf(xi))
        allowed = LOG_NARROW_ULP * math.ulp(float(ref)) + LOG_NARROW_ABS
        out[n] = float(abs(mpmath.mpf(yi) - ref)) / allowed
    return out


def test_fast_log_narrow_is_within_its_bound(fm):
    x = log_arguments()
    y = fm.log_narrow(x)
    bad, at = worst(log_narrow_ratios(y, x), x)
    assert bad <= 1.0, f"fast_log_narrow: {bad:.3f} x the bound at x = {at!r}"
    assert fm.log_narrow(np.array([1.0]))[0] == 0.0
    # relative accuracy next to 1 (the subinterval around 1 has logc = 0 and r exact)
    near1 = np.concatenate([1.0 + np.ldexp(1.0, -np.arange(6, 53)),
                            1.0 - np.ldexp(1.0, -np.arange(7, 54))])
    rel = [float(abs(mpmath.mpf(v) / mpmath.log(mpmath.mpf(u)) - 1))
           for u, v in zip(near1.tolist(), fm.log_narrow(near1).tolist())]
    assert max(rel) <= 2.0 ** -51


@pytest.mark.parametrize("old, new, which", [
    # the top coefficients 1% off (their terms are below 2^-40 and 2^-33 of the result: the
    # bounds still see them)
    ("C(-0x1.fdbc96e28f39bp-4)", "C(-0x1.fdbc96e28f39bp-4 * 1.01)", "log"),
    ("C(0x1.6c17bb51f236dp-10)", "C(0x1.6c17bb51f236dp-10 * 1.01)", "exp"),
    ("C(0x1.99998ec7efba1p-3)", "C(0x1.99998ec7efba1p-3 * (1 + 1e-6))", "log"),
    ("C(0x1.55555555194d2p-5)", "C(0x1.55555555194d2p-5 * (1 + 1e-6))", "exp"),
])
def test_the_narrow_check_catches_a_perturbed_coefficient(tmp_path, old, new, which):
    text = SOURCE.read_text()
    assert text.count(old) == 1
    broken = build(tmp_path, text.replace(old, new))
    if which == "log":
        x = log_arguments()[::5]
        assert worst(log_narrow_ratios(broken.log_narrow(x), x), x)[0] > 1.0
    else:
        z = exp_arguments()[::5]
        assert worst(ulp_errors(broken.exp_narrow(z), z, mpmath.exp), z)[0] > EXP_NARROW_ULP
