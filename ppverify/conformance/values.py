"""Hard input values: the value kinds a case is drawn from, and what makes each kind itself.

Every value is exactly representable in the case's dtype (``representable``), so the target
receives it exactly. Kinds (``VALUE_KINDS``), ordinary ones first:

===========  =====================================================================  ============
kind         values                                                                 keeps (shrink)
===========  =====================================================================  ============
random       uniform in [0.1, 4)                                                    anything
activations  log-uniform in [0.05, 300], one element of each plane in [100, 300]     an element
             (ReLU-sized feature maps: ``x**3`` overflows float16 above 40.3)        >= 16
integers     0..5 (1..5 where a zero is outside the domain)                         all integers
ties         two values, many equal maxima                                          a repeat
all-equal    one constant                                                           all equal
near-ties    a constant times (1 + k ulp), k = 0..3 (cancellation in gradients)     two values
                                                                                    <= 8 ulp apart
zeros        half zeros; in one case of two a whole plane is zero (dead channel)    a zero
tiny         around the smallest normal (some subnormal)                            |x| < 32 min
                                                                                    normal
subnormal    subnormals mixed with 1                                                a subnormal
huge         up to the largest finite value                                         |x| >= max/32
wide         log-uniform over the format's whole exponent range                     a wide ratio
===========  =====================================================================  ============

The right-hand column is ``kind_holds``: the property a shrunk case must keep to still be
labelled with its kind (so a reproducer labelled "zeros" always has a zero). The operators with
a real exponent get non-negative values; avg/max/min get random signs.
"""

from __future__ import annotations

import math

import numpy as np

from ..oracle.formats import get_format, round_float_array

ORDINARY_KINDS = ("random", "activations", "integers", "ties", "all-equal")
HARD_KINDS = ("near-ties", "zeros", "tiny", "subnormal", "huge", "wide")
VALUE_KINDS = ORDINARY_KINDS + HARD_KINDS


def check_kinds(kinds) -> tuple[str, ...]:
    """``kinds`` as a tuple, or ``ValueError`` naming an unknown kind."""
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in VALUE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty selection of {', '.join(VALUE_KINDS)}; "
                         f"got {', '.join(map(str, unknown)) or 'none'}")
    return kinds


_NUMPY = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


def representable(values: np.ndarray, dtype: str) -> np.ndarray:
    """Round float64 values to ``dtype`` (so that the target receives them exactly): numpy's
    casts round to nearest even once for float32 and float16; bfloat16, which numpy lacks,
    goes through ``oracle.formats`` (one exact rounding)."""
    values = np.asarray(values, dtype=np.float64)
    if dtype in _NUMPY:
        with np.errstate(over="ignore"):
            return values.astype(_NUMPY[dtype]).astype(np.float64)
    return round_float_array(values, get_format(dtype))


def draw_values(rng: np.random.Generator, kind: str, shape: tuple[int, ...], dtype: str,
                signed: bool, allow_zero: bool = True, dims: int = 1) -> np.ndarray:
    """Values of one kind (see the module doc), exactly representable in ``dtype``.

    ``allow_zero=False`` (a negative exponent, where ``0**p`` is infinite) keeps zeros out of
    every kind but ``zeros``, which the generator then does not ask for. ``dims`` is the number
    of spatial axes (planes are the last ``dims`` axes).
    """
    fmt = get_format(dtype)
    n = int(np.prod(shape))
    if kind == "random":
        v = rng.uniform(0.1, 4.0, n)
    elif kind == "activations":
        v = np.exp(rng.uniform(math.log(0.05), math.log(300.0), n))
        planes = v.reshape(-1, int(np.prod(shape[-dims:])) if dims else 1)
        for row in planes:  # every plane holds one ReLU-sized large element
            row[rng.integers(0, row.size)] = rng.uniform(100.0, 300.0)
        v = planes.ravel()
    elif kind == "integers":
        v = rng.integers(0 if allow_zero else 1, 6, n).astype(float)
    elif kind == "ties":
        v = rng.choice([1.0, 2.0], n, p=[0.3, 0.7])
    elif kind == "near-ties":
        c = float(rng.choice([0.75, 1.0, 3.0]))
        v = c * (1.0 + rng.integers(0, 4, n) * math.ldexp(1.0, 1 - fmt.precision))
    elif kind == "all-equal":
        v = np.full(n, rng.choice([0.75, 1.0, 3.0]))
    elif kind == "zeros":
        v = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.25, 4.0, n))
        plane = int(np.prod(shape[-dims:])) if dims else 1
        if n > plane and rng.random() < 0.5:  # a dead channel: one whole plane of zeros
            k = int(rng.integers(0, n // plane))
            v[k * plane:(k + 1) * plane] = 0.0
    elif kind == "tiny":
        v = fmt.min_normal * rng.uniform(0.25, 16.0, n)
    elif kind == "subnormal":
        k = rng.integers(1, 1 << (fmt.precision - 1), n).astype(float)
        v = np.where(rng.random(n) < 0.6, k * fmt.min_subnormal, 1.0)
    elif kind == "huge":
        v = fmt.max_finite * rng.uniform(0.05, 1.0, n)
    elif kind == "wide":
        e = rng.uniform(fmt.emin, fmt.emax, n)
        v = np.exp2(e) * rng.uniform(1.0, 1.99, n)
    else:
        raise ValueError(f"unknown value kind {kind!r}; known: {VALUE_KINDS}")
    if signed and kind != "zeros":
        v = v * rng.choice([-1.0, 1.0], n)
    v = representable(np.minimum(v, fmt.max_finite), dtype)
    if not allow_zero and kind != "zeros":
        v = np.where(v == 0, fmt.min_subnormal if kind in ("tiny", "subnormal") else 1.0, v)
    return v.reshape(shape)


def _wide_ratio(dtype: str) -> float:
    fmt = get_format(dtype)
    return math.ldexp(1.0, min(64, (fmt.emax - fmt.emin) // 4))


def kind_holds(kind: str, values: np.ndarray, dtype: str) -> bool:
    """Whether ``values`` still show what makes ``kind`` itself (table in the module doc)."""
    fmt = get_format(dtype)
    a = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if a.size == 0:
        return False
    if kind in ("random", "error"):
        return True
    if kind == "activations":
        return bool(a.max() >= 16)
    if kind == "integers":
        return bool(np.all(a == np.round(a)))
    if kind == "ties":
        return len(np.unique(values)) < a.size
    if kind == "all-equal":
        return bool(np.all(values == values.ravel()[0]))
    if kind == "near-ties":
        u = np.unique(a[a > 0])
        gaps = np.diff(u) / u[:-1]
        return bool(gaps.size and gaps.min() <= 8 * math.ldexp(1.0, 1 - fmt.precision))
    if kind == "zeros":
        return bool(np.any(a == 0))
    if kind == "tiny":
        return bool(np.any((a > 0) & (a < 32 * fmt.min_normal)))
    if kind == "subnormal":
        return bool(np.any((a > 0) & (a < fmt.min_normal)))
    if kind == "huge":
        return bool(a.max() >= fmt.max_finite / 32)
    if kind == "wide":
        positive = a[a > 0]
        if positive.size < 2:
            return False
        return bool(np.log2(positive.max()) - np.log2(positive.min())
                    >= math.log2(_wide_ratio(dtype)))
    return True


def draw_grad_output(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Upstream gradient: small exact values, mostly 1, so every format holds them exactly."""
    return rng.choice([1.0, 1.0, 0.5, 2.0, -1.0, 0.25], int(np.prod(shape))).reshape(shape)
