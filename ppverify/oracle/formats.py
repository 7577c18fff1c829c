"""Binary floating-point formats, correct rounding and distances in ULP.

The four formats are IEEE-754-style binary formats with gradual underflow:

============  =========  ======  ==========================================
format        precision  emax    numpy container for results
============  =========  ======  ==========================================
float16       11 bits    15      ``numpy.float16``
bfloat16      8 bits     127     ``numpy.float32`` (numpy has no bfloat16; every value is
                                 exactly a bfloat16, so ``torch.tensor(a).bfloat16()`` is exact)
float32       24 bits    127     ``numpy.float32``
float64       53 bits    1023    ``numpy.float64``
============  =========  ======  ==========================================

Rounding is to nearest, ties to even, with overflow to ±inf exactly as IEEE-754 specifies (a
value at or above ``max + ulp(max)/2`` in magnitude rounds to inf). Every value of every format
is exactly a Python float, so rounded values travel as Python floats / float64 arrays.

ULP distance (``ulp_distance``) counts representable values of the format between two numbers:
it is the difference of their *ordinals*, where consecutive finite values of the format have
consecutive integer ordinals, ``+0`` and ``-0`` both have ordinal 0 (signed zeros are equal),
``±inf`` sit one step beyond ``±max``, and a value that is not representable in the format gets
a fractional ordinal by linear interpolation between its two neighbours. NaN is infinitely far
from everything but NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Format:
    """A binary floating-point format: ``precision`` significand bits (with the hidden bit)."""

    name: str
    precision: int
    emax: int

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number, ``1 - emax``."""
        return 1 - self.emax

    @property
    def max_finite(self) -> float:
        return math.ldexp(2.0 - math.ldexp(1.0, 1 - self.precision), self.emax)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def min_subnormal(self) -> float:
        return math.ldexp(1.0, self.emin - self.precision + 1)

    @property
    def numpy_dtype(self) -> np.dtype:
        """The numpy dtype that holds this format's values exactly."""
        return np.dtype({"float16": np.float16, "float64": np.float64}.get(self.name, np.float32))

    def ulp(self, x: float) -> float:
        """Spacing of the format at ``|x|``: ``2**(max(e, emin) - precision + 1)``."""
        x = abs(x)
        if x == 0 or x < self.min_normal:
            return self.min_subnormal
        if math.isinf(x):
            return math.ldexp(1.0, self.emax - self.precision + 1)
        e = math.frexp(x)[1] - 1
        return math.ldexp(1.0, e - self.precision + 1)


FLOAT16 = Format("float16", 11, 15)
BFLOAT16 = Format("bfloat16", 8, 127)
FLOAT32 = Format("float32", 24, 127)
FLOAT64 = Format("float64", 53, 1023)
FORMATS: dict[str, Format] = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64)}


def get_format(fmt: str | Format) -> Format:
    """Look a format up by name (``"float32"``, ``"bfloat16"``, ...)."""
    if isinstance(fmt, Format):
        return fmt
    name = getattr(fmt, "__name__", None) if isinstance(fmt, type) else None
    name = name or str(fmt).removeprefix("torch.")  # "float32", np.float32, torch.float32
    if name not in FORMATS:
        raise ValueError(f"dtype must be one of {sorted(FORMATS)}, got {fmt!r}")
    return FORMATS[name]


def round_dyadic(man: int, exp: int, fmt: Format) -> float:
    """Round ``man * 2**exp`` (exact integers) to nearest-even in ``fmt``; return a float."""
    if man == 0:
        return 0.0
    sign = -1.0 if man < 0 else 1.0
    man = abs(man)
    top = man.bit_length() + exp - 1  # exponent of the leading bit
    # quantum: the exponent of the last kept bit
    quantum = max(top, fmt.emin) - fmt.precision + 1
    shift = quantum - exp
    if shift > 0:
        q, r = divmod(man, 1 << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and q & 1):
            q += 1
    else:
        q = man << (-shift)
    if q == 0:
        return sign * 0.0
    if q.bit_length() + quantum - 1 > fmt.emax:
        return sign * math.inf
    return sign * math.ldexp(float(q), quantum)


def round_fraction(value: Fraction | int, fmt: Format) -> float:
    """Round an exact rational to nearest-even in ``fmt``."""
    value = Fraction(value)
    if value == 0:
        return 0.0
    num, den = value.numerator, value.denominator
    sign = -1 if num < 0 else 1
    num = abs(num)
    # scale so that the integer quotient has at least precision + 2 bits
    top = num.bit_length() - den.bit_length()
    exp = min(top - fmt.precision - 3, fmt.emin - fmt.precision - 3)
    scaled_num = num << (-exp) if exp < 0 else num
    scaled_den = den << exp if exp > 0 else den
    q, r = divmod(scaled_num, scaled_den)
    # a non-zero remainder is a sticky bit below the rounding position
    q = (q << 1) | (1 if r else 0)
    return round_dyadic(sign * q, exp - 1, fmt)


def round_float_array(values: np.ndarray, fmt: Format) -> np.ndarray:
    """Round float64 values to nearest-even in ``fmt`` (exact: one rounding from float64).

    Returns a float64 array whose values are representable in ``fmt``.
    """
    a = np.asarray(values, dtype=np.float64)
    if fmt.name == "float64":
        return a.copy()
    if fmt.name in ("float16", "float32"):
        with np.errstate(over="ignore"):
            return a.astype(fmt.numpy_dtype).astype(np.float64)
    return np.array([round_fraction(Fraction(v), fmt) if math.isfinite(v) and v != 0 else v
                     for v in a.ravel()], dtype=np.float64).reshape(a.shape)


def _ordinal_scalar(x: float, fmt: Format) -> float:
    """Ordinal of ``x`` in ``fmt`` (see module docstring); exact int-valued for representables."""
    if math.isnan(x):
        return math.nan
    sign = -1 if x < 0 else 1
    ax = abs(x)
    steps_per_binade = 1 << (fmt.precision - 1)
    n_finite = (fmt.emax - fmt.emin + 1) * steps_per_binade + steps_per_binade - 1
    if math.isinf(ax):
        return sign * float(n_finite + 1)
    if ax < fmt.min_normal:
        return sign * (ax / fmt.min_subnormal)
    if ax > fmt.max_finite:
        # between max and inf: interpolate over one step
        return sign * (n_finite + min(1.0, (ax - fmt.max_finite) / fmt.ulp(fmt.max_finite)))
    e = math.frexp(ax)[1] - 1
    significand = Fraction(ax) / Fraction(2) ** e  # in [1, 2)
    within = (significand - 1) * steps_per_binade
    return sign * float((e - fmt.emin + 1) * steps_per_binade + within)


def ordinal(values: np.ndarray | float, fmt: str | Format) -> np.ndarray:
    """Ordinals of ``values`` in ``fmt`` as float64 (integer-valued for representable values;
    NaN maps to NaN), vectorised: the same numbers as ``_ordinal_scalar`` element by element.

    Every step is exact in float64 except the final sum for a value that is not representable
    in ``fmt``, which is rounded once, as ``float(Fraction)`` rounds it in the scalar version.
    """
    f = get_format(fmt)
    a = np.asarray(values, dtype=np.float64)
    steps = float(1 << (f.precision - 1))
    n_finite = (f.emax - f.emin + 1) * steps + steps - 1
    ax = np.abs(a)
    mant, exp = np.frexp(ax)  # ax = mant * 2**exp, mant in [0.5, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        normal = (exp - 1 - f.emin + 1) * steps + (2 * mant - 1) * steps
        beyond = n_finite + np.minimum(1.0, (ax - f.max_finite) / f.ulp(f.max_finite))
        out = np.where(ax < f.min_normal, ax / f.min_subnormal, normal)
        out = np.where(ax > f.max_finite, beyond, out)
        out = np.where(np.isinf(ax), n_finite + 1, out)
        out = np.where(np.isnan(a), np.nan, out)
    return np.where(a < 0, -out, out)


def from_torch(value):
    """A torch tensor as an exact numpy copy (detached, on the CPU), without importing torch:
    floating tensors as float64 (exact for every torch float dtype), others (integer, bool,
    complex) in their own dtype, so that the caller sees what they hold (an int64 beyond 2^53
    is not rounded here); any other value is returned unchanged."""
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        t = value.detach().cpu()
        return t.double().numpy() if t.is_floating_point() else t.numpy()
    return value


def ulp_distance(candidate: np.ndarray | float, reference: np.ndarray | float,
                 fmt: str | Format) -> np.ndarray:
    """Distance in ULP of ``fmt`` between ``candidate`` and ``reference`` (elementwise).

    Both may be any real float64 values; representable values give integer distances.
    ``+0`` and ``-0`` are at distance 0, ``inf`` is one step beyond ``max``, the distance
    involving exactly one NaN is ``inf`` and between two NaNs it is 0. Torch tensors (any float
    dtype, with or without ``requires_grad``) are accepted.
    """
    f = get_format(fmt)
    c = np.asarray(from_torch(candidate), dtype=np.float64)
    r = np.asarray(from_torch(reference), dtype=np.float64)
    if c.shape != r.shape:
        raise ValueError(f"candidate shape {c.shape} differs from reference shape {r.shape}")
    if f.name == "float64":
        oc, orf = np.ravel(_float64_ordinal(c)), np.ravel(_float64_ordinal(r))
        out = np.array([float(abs(a - b)) for a, b in zip(oc, orf)],
                       dtype=np.float64).reshape(c.shape)
    else:
        out = np.abs(ordinal(c, f) - ordinal(r, f))
    nan_c, nan_r = np.isnan(c), np.isnan(r)
    out = np.where(nan_c ^ nan_r, np.inf, out)
    return np.where(nan_c & nan_r, 0.0, out)


def _float64_ordinal(a: np.ndarray) -> np.ndarray:
    """Exact integer ordinals of float64 values via their bit patterns (as Python-int objects)."""
    bits = a.astype(np.float64).view(np.int64).astype(object)
    flat = [(-(b & 0x7FFFFFFFFFFFFFFF) if b < 0 else b) for b in np.ravel(bits)]
    return np.array(flat, dtype=object).reshape(a.shape)
