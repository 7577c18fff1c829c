"""Correctly rounded reference values of pooling operators over whole arrays.

``reference(op, input, param, kernel_size, ...)`` (or ``output_size=`` for adaptive and global
pooling) lays out windows exactly as torch's pooling does (``ppverify.windows``), evaluates
every window in ball arithmetic (``operators``) and returns the forward output, the
vector-Jacobian product with ``grad_output`` (the gradient with respect to every input element,
summed over the windows that contain it) and the gradient with respect to the parameter (summed
over windows; per channel when the parameter is per channel), each correctly rounded to
``dtype``.

Certification (Ziv's strategy): everything is first computed at ``precision(dtype) + 24`` bits;
each result whose ball is not strictly inside one rounding interval is recomputed, with only the
windows it depends on, at twice the precision, and so on up to ``MAX_PRECISION`` bits. Results
that may sit exactly on a rounding boundary are decided by an exact rational evaluation when the
operator and parameter allow one. A result that still cannot be decided raises
``CertificationError``; the oracle never returns a value it could not certify.

With ``digits=D`` the results are mpmath numbers with ``D`` correct significant digits (the
ball's relative radius is below ``10**-D``) instead of rounded floats; a result certified to be
smaller than ``2**-2000`` in magnitude (an exact zero from cancellation, say) is returned as 0.
``D`` is at most ``MAX_DIGITS`` (9855: the first evaluation must fit ``MAX_PRECISION``).

Inputs are taken exactly: every value must be exactly representable in float64 (integers
beyond 2^53, uint64 and long double values that are not are refused by name, never rounded).
A NaN or negative value at an element that no window reads is accepted: only the elements
the windows read are the operator's input.

Memory: the balls of every window term and derivative take about ``ELEMENT_BYTES`` (1 KB) per
input element. Planes are therefore solved in chunks of about ``CHUNK_ELEMENTS`` (65536)
elements, one chunk per process at a time, and the results of the whole input take about
``RESULT_BYTES`` (64 B) per element: ``(8, 64, 112, 112)``, 6.4 M elements, is estimated at
0.5 GB, where solving it whole took about 5 GB. ``memory_estimate`` states the need up
front; a call that would need more than ``memory_limit`` (default 4 GiB, e.g. a single plane
of more than about 4 M elements) is refused before any work with ``OracleMemoryError``.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
from flint import arb, ctx

from ..windows import (
    AdaptiveGeometry,
    PoolGeometry,
    iter_windows,
    make_adaptive_geometry,
    make_geometry,
    output_spatial_shape,
    split_batch_channel,
)
from .certify import Accumulator, Term, certify_many
from .formats import Format, from_torch, get_format
from .operators import TIE_CONVENTIONS, OracleDomainError, WindowValues
from .registry import OperatorInfo, get_operator

MAX_PRECISION = 1 << 15
CHUNK_ELEMENTS = 1 << 16  # planes are solved in chunks of about this many input elements
ELEMENT_BYTES = 1024  # working memory per input element of a chunk (measured: 0.7-0.9 KB)
RESULT_BYTES = 64  # memory per input element for the results of the whole input
DEFAULT_MEMORY_LIMIT = 4 << 30
_GUARD_BITS = 28  # digits mode works at ceil(D log2 10) + 4 bits plus 24 to start with
#: the most correct digits ``digits=`` can ask for: its first evaluation must fit MAX_PRECISION
MAX_DIGITS = int((MAX_PRECISION - _GUARD_BITS) / math.log2(10))
# In digits mode a ball around 0 never reaches a relative accuracy: a result whose magnitude is
# certified below this bound (far below every float format's smallest subnormal) is returned
# as 0, just as rounding to a float format would.
DIGITS_ZERO = arb(2) ** -2000
_EXACT_FALLBACK_FACTOR = 4
#: windows whose exact rationals would exceed this many bits (``_exact_size_bits``) try
#: balls up to ``_HUGE_EXACT_FACTOR`` times the start precision first
_HUGE_EXACT_BITS = 1 << 20
_HUGE_EXACT_FACTOR = 64


class OracleMemoryError(MemoryError, ValueError):
    """The input would need more memory than the limit allows (refused before any work)."""


class CertificationError(ArithmeticError):
    """The oracle could not decide a correctly rounded result within ``MAX_PRECISION`` bits."""

    def __init__(self, message: str, which: str, index: tuple[int, ...]):
        super().__init__(message)
        self.which = which
        self.index = index


@dataclass
class OracleResult:
    """Correctly rounded results.

    ``output`` and ``grad_input`` are numpy arrays in ``dtype``'s container (bfloat16 values
    come in float32 arrays); ``grad_param`` is a float64 array of shape ``()`` for a scalar
    parameter or ``(C,)`` for a per-channel one. With ``digits`` they are object arrays of
    ``mpmath.mpf``. ``notes`` counts the windows where each documented convention was applied.
    """

    output: np.ndarray
    grad_input: np.ndarray | None
    grad_param: np.ndarray | None
    dtype: str
    notes: Counter = field(default_factory=Counter)


@contextmanager
def workprec(bits: int):
    """Set python-flint's working precision inside a ``with`` block (like ``mpmath.workprec``)."""
    saved = ctx.prec
    ctx.prec = bits
    try:
        yield
    finally:
        ctx.prec = saved


@dataclass
class _Layout:
    """Windows of one plane as flat indices, shared by every (batch, channel) plane."""

    flat_indices: list[tuple[int, ...]]
    n_padding: list[int]
    out_spatial: tuple[int, ...]
    plane_size: int


def _layout(geometry: PoolGeometry | AdaptiveGeometry, spatial: tuple[int, ...]) -> _Layout:
    strides = []
    acc = 1
    for s in reversed(spatial):
        strides.append(acc)
        acc *= s
    strides.reverse()
    flat, pads = [], []
    for w in iter_windows(geometry, spatial):
        flat.append(tuple(sum(p * st for p, st in zip(pos, strides)) for pos in w.positions))
        pads.append(w.n_padding)
    return _Layout(flat, pads, output_spatial_shape(geometry, spatial), acc)


def _as_float_array(name: str, value) -> np.ndarray:
    """Exact float64 copy of an array-like; a torch tensor is accepted without importing torch.

    The oracle takes its inputs exactly: a value that float64 cannot hold exactly (an int64 or
    uint64 beyond 2^53 that is not a multiple of float64's spacing there, a long double with
    bits beyond float64's 53 or beyond its range, a Python int of that kind) is refused with a
    ``ValueError`` naming the argument and the element, never rounded."""
    a = np.asarray(from_torch(value))
    if a.dtype == object:
        return _exact_objects(name, a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {a.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        f = a.astype(np.float64)
    if np.issubdtype(a.dtype, np.floating):
        if a.dtype.itemsize <= 8:
            return f  # float16/float32/float64: exact
        lost = ~((f.astype(a.dtype) == a) | (np.isnan(a) & np.isnan(f)))
    else:
        lost = np.zeros(a.shape, dtype=bool)
        if a.dtype.itemsize >= 8:  # 32-bit integers are exact in float64
            big = (a > 2**53) | (a < -(2**53)) if a.dtype.kind == "i" else a > 2**53
            for i in np.flatnonzero(big):
                lost.flat[i] = int(a.flat[i]) != int(f.flat[i])
    if lost.any():
        _refuse_inexact(name, a, lost)
    return f


def _refuse_inexact(name: str, a: np.ndarray, lost: np.ndarray):
    index = tuple(int(i) for i in np.argwhere(lost)[0])
    value = a[index].item() if hasattr(a[index], "item") else a[index]
    where = f"{name} element {index}" if index else name
    kind = type(value).__name__ if a.dtype == object else str(a.dtype)
    try:
        rounded = repr(float(a[index]))
    except OverflowError:
        rounded = "inf"
    raise ValueError(
        f"{where} = {value!r} ({kind}) is not exactly representable in float64 "
        f"(it would be rounded to {rounded}); the oracle takes its inputs exactly and does "
        f"not round them: convert the values yourself if rounding is what you want")


def _exact_objects(name: str, a: np.ndarray) -> np.ndarray:
    """An object array of Python ints and floats, each checked to be exact in float64."""
    out = np.empty(a.shape, dtype=np.float64)
    for index, v in np.ndenumerate(a):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be an array of real numbers, got "
                            f"{type(v).__name__} {v!r} at {index}")
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        exact = (f == v) if isinstance(v, (int, np.integer)) and math.isfinite(f) else \
            (f == v or (f != f and v != v))
        if not exact:
            lost = np.zeros(a.shape, dtype=bool)
            lost[index] = True
            _refuse_inexact(name, a, lost)
        out[index] = f
    return out


class _Problem:
    """Everything fixed about one call: operator, layout, values, parameters, upstream grads."""

    def __init__(self, info, x, params, grad_out, layout, count_include_pad, want_grads,
                 want_param_grad):
        self.info: OperatorInfo = info
        self.x = x  # (B, C, plane) float64
        self.params = params  # per channel list of float or None
        self.grad_out = grad_out  # (B, C, n_windows) float64
        self.layout: _Layout = layout
        self.count_include_pad = count_include_pad
        self.want_grads = want_grads
        self.want_param_grad = want_param_grad
        self.notes: Counter = Counter()
        self._plane_key: tuple[int, int] | None = None  # the plane ``_plane_values`` holds
        self._plane_values: list[float] = []

    def exact_size_bits(self, keys) -> float:
        """A rough size in bits of the largest exact rational that ``evaluate(exact=True)``
        would form over the windows ``keys``: an integer parameter (or a dyadic one's
        numerator) ``m`` raises each element to ``|m|``, whose numerator and denominator
        then take about ``|m|`` (53 + |binary exponent|) bits; 0 without a parameter."""
        worst = 0.0
        for b, c, j in keys:
            a = self.params[c]
            if a is None or not math.isfinite(a) or a == 0:
                continue
            m = abs(Fraction(a).numerator)
            xs = [abs(v) for v in self.window_inputs(b, c, j) if v != 0 and math.isfinite(v)]
            if xs:
                worst = max(worst, m * sum(53 + abs(math.frexp(v)[1]) for v in xs))
        return worst

    def window_inputs(self, b: int, c: int, j: int) -> list[float]:
        if self._plane_key != (b, c):  # windows come plane by plane: one conversion a plane
            self._plane_values = self.x[b, c].tolist()
            self._plane_key = (b, c)
        plane = self._plane_values
        return [plane[i] for i in self.layout.flat_indices[j]]

    def evaluate(self, b: int, c: int, j: int, exact: bool) -> WindowValues | None:
        xs = self.window_inputs(b, c, j)
        info = self.info
        try:
            if exact:
                return info.exact(xs, self.params[c], self.layout.n_padding[j],
                                  self.count_include_pad)
            result = info.window(xs, self.params[c], self.layout.n_padding[j],
                                 self.count_include_pad, self.want_param_grad)
        except OracleDomainError as err:
            raise self._locate(err, b, c, j) from None
        return result

    def _locate(self, err: OracleDomainError, b: int, c: int, j: int) -> OracleDomainError:
        out_index = np.unravel_index(j, self.layout.out_spatial)
        where = f"window at output index (batch {b}, channel {c}, {tuple(map(int, out_index))})"
        if err.element is not None and err.element < len(self.layout.flat_indices[j]):
            flat = self.layout.flat_indices[j][err.element]
            spatial = np.unravel_index(flat, self._spatial)
            element = f"input element (batch {b}, channel {c}, {tuple(map(int, spatial))})"
            where = f"{element} in {where}"
        return OracleDomainError(f"{err} [{where}]", err.element, err.argument)

    _spatial: tuple[int, ...] = ()


def _evaluate_windows(problem: _Problem, todo: Sequence[tuple[int, int, int]], exact: bool,
                      record_notes: bool) -> dict[tuple[int, int, int], WindowValues]:
    results = {}
    for key in todo:
        r = problem.evaluate(*key, exact=exact)
        if r is not None:
            results[key] = r
            if record_notes and r.notes:
                problem.notes.update(r.notes)
    return results


def _serialize(term: Term):
    """A picklable form of a term (python-flint balls do not pickle)."""
    if isinstance(term, arb):
        mid_m, mid_e = term.mid().man_exp()
        rad_m, rad_e = term.rad().man_exp()
        return ("ball", int(mid_m), int(mid_e), int(rad_m), int(rad_e))
    return term


def _deserialize(item) -> Term:
    if isinstance(item, tuple) and item and item[0] == "ball":
        _, mid_m, mid_e, rad_m, rad_e = item
        with workprec(max(ctx.prec, abs(mid_m).bit_length() + 8)):
            mid = arb(mid_m) * arb(2) ** mid_e
            rad = arb(rad_m) * arb(2) ** rad_e
            return arb(mid, rad)
    return item


def _scaled(term: Term, g: float) -> Term:
    if g == 1.0:
        return term
    if isinstance(term, arb):
        return term * g
    if isinstance(term, float):  # an infinity (empty max window): the upstream sign applies
        return term * g if g != 0 else 0.0
    return term * Fraction(g)


class _Solver:
    """Ziv loop over the three kinds of result (output, grad_input, grad_param).

    Keys: an output is ``(b, c, j)`` (window ``j`` of plane ``(b, c)``), an input gradient
    ``(b, c, i)`` (flat element ``i`` of the plane), a parameter gradient a group index (one
    group per channel for a per-channel parameter, a single group for a shared one).
    """

    def __init__(self, problem: _Problem, fmt: Format | None, digits: int | None,
                 param_groups: list[list[int]]):
        self.p = problem
        self.param_groups = param_groups
        self.fmt = fmt
        self.digits = digits
        target_bits = fmt.precision if fmt else math.ceil(digits * math.log2(10)) + 4
        self.start_bits = target_bits + 24
        self.target_bits = target_bits
        # for every element of a plane: the (window, position in window) pairs that read it,
        # the first in ``first_reader`` (None: no window reads it) and any others, in window
        # order, in ``more_readers`` (most elements of most layouts have one reader)
        first: list[tuple[int, int] | None] = [None] * problem.layout.plane_size
        more: dict[int, list[tuple[int, int]]] = {}
        for j, idx in enumerate(problem.layout.flat_indices):
            for pos, i in enumerate(idx):
                if first[i] is None:
                    first[i] = (j, pos)
                else:
                    more.setdefault(i, []).append((j, pos))
        self.first_reader = first
        self.more_readers = more
        # the upstream gradients as nested lists of Python floats (read once per element)
        self.grad_out_rows: list[list[list[float]]] = problem.grad_out.tolist()

    def readers(self, i: int) -> list[tuple[int, int]]:
        """The (window, position in window) pairs that read element ``i`` of a plane."""
        first = self.first_reader[i]
        return [] if first is None else [first, *self.more_readers.get(i, ())]

    # -- deciding numbers
    def decide_many(self, values: list[Term]) -> list:
        if self.fmt is not None:
            return certify_many(values, self.fmt)
        return [self._decide_digits(v) for v in values]

    def _decide_digits(self, value: Term):
        with mpmath.workprec(self.target_bits):
            if isinstance(value, Fraction):
                return mpmath.mpf(value.numerator) / value.denominator
            if isinstance(value, float):
                return mpmath.mpf(value)
            if value.is_exact():
                return +mpmath.mpf(value.mid()._mpf_)
            if value.rel_accuracy_bits() >= self.target_bits:
                return +mpmath.mpf(value.mid()._mpf_)
            if value.contains(0) and value.abs_upper() < DIGITS_ZERO:
                return mpmath.mpf(0)
        return None

    # -- the loop
    def solve(self, values: bool = True, param_partials: bool = False):
        """Certify outputs and input gradients (``values``) and the parameter gradients.

        With ``param_partials`` the parameter gradients are not certified: instead each
        plane's first-pass sum ``sum_j g_j dy_j/dparam`` is returned (for a parent process to
        add up across workers), as a list indexed like the planes ``(b, c)`` in order.
        """
        p = self.p
        B, C, W = p.grad_out.shape
        out = np.empty((B, C, W), dtype=object)
        gin = np.empty(p.x.shape, dtype=object) if p.want_grads else None
        gpar = np.empty(len(self.param_groups), dtype=object) if p.want_param_grad else None
        pending_out = [(b, c, j) for b in range(B) for c in range(C) for j in range(W)]
        pending_gin = ([(b, c, i) for b in range(B) for c in range(C)
                        for i in range(p.layout.plane_size)] if p.want_grads else [])
        if not values:
            pending_out, pending_gin = [], []
        pending_gpar = list(range(len(self.param_groups))) if p.want_param_grad else []
        partials = None
        if param_partials:
            pending_gpar = []
            pending_out = pending_out or [(b, c, j) for b in range(B) for c in range(C)
                                          for j in range(W)]
        bits = self.start_bits
        first = True
        exact_from = self.start_bits * _EXACT_FALLBACK_FACTOR
        while pending_out or pending_gin or pending_gpar:
            if bits > MAX_PRECISION:
                self._fail(pending_out, pending_gin, pending_gpar)
            if first and pending_out:
                needed = pending_out  # every window
            else:  # later passes, and a first pass for the parameter gradients alone
                needed = set(pending_out)
                for (b, c, i) in pending_gin:
                    needed.update((b, c, j) for j, _ in self.readers(i))
                for group in pending_gpar:
                    needed.update((b, c, j) for b in range(B) for c in self.param_groups[group]
                                  for j in range(W))
                needed = sorted(needed)
            with workprec(bits):
                results = _evaluate_windows(p, needed, exact=False, record_notes=first)
                if first and param_partials:
                    partials = [_serialize(self._plane_param_term(results, b, c))
                                for b in range(B) for c in range(C)]
                if bits >= exact_from and exact_from == self.start_bits * \
                        _EXACT_FALLBACK_FACTOR and p.exact_size_bits(needed) > _HUGE_EXACT_BITS:
                    # million-bit rationals (alpha = 1000 on values spanning 600 decades: 12 s
                    # a window) where more ball precision decides a sum that cancels deep
                    # (a gradient of 7.5e-174 from terms near 1e300) in milliseconds: balls
                    # first, up to _HUGE_EXACT_FACTOR times the start (an exact midpoint or
                    # zero still ends there)
                    exact_from = min(self.start_bits * _HUGE_EXACT_FACTOR, MAX_PRECISION)
                if bits >= exact_from:
                    exact = _evaluate_windows(p, needed, exact=True, record_notes=False)
                    results.update({k: self._merge_exact(results[k], v) for k, v in exact.items()})
                pending_out = self._settle(
                    pending_out, [results[k].value for k in pending_out], out)
                if pending_gin:
                    pending_gin = self._settle(
                        pending_gin, self._grad_input_terms(results, pending_gin), gin)
                if pending_gpar:
                    pending_gpar = self._settle(
                        pending_gpar, [self._grad_param_term(results, g) for g in pending_gpar],
                        gpar)
            bits *= 2
            first = False
        if param_partials:
            return out, gin, partials
        return out, gin, gpar

    def _settle(self, keys, terms, target) -> list:
        left = []
        for key, value in zip(keys, self.decide_many(terms)):
            if value is None:
                left.append(key)
            else:
                target[key] = value
        return left

    def _grad_input_terms(self, results, keys) -> list[Term]:
        """``sum_j g_j dy_j/dx_i`` over the windows ``j`` that read element ``i``, for each key
        ``(b, c, i)``: the one term itself where one window reads it (most elements), else an
        exact-and-ball sum (``Accumulator``; zero where none does)."""
        first_reader, more_readers, rows = self.first_reader, self.more_readers, self.grad_out_rows
        terms: list[Term] = []
        for b, c, i in keys:
            g = rows[b][c]
            first = first_reader[i]
            if first is not None and i not in more_readers:
                j, pos = first
                terms.append(_scaled(results[(b, c, j)].grad_inputs[pos], g[j]))
                continue
            parts = [_scaled(results[(b, c, j)].grad_inputs[pos], g[j])
                     for j, pos in self.readers(i)]
            if parts and all(isinstance(t, arb) for t in parts):
                total = parts[0]  # the balls' sum, in the order Accumulator adds them
                for t in parts[1:]:
                    total = total + t
                terms.append(total)
                continue
            acc = Accumulator()
            for t in parts:
                acc.add(t)
            terms.append(acc.total())
        return terms

    def _grad_param_term(self, results, group) -> Term:
        acc = Accumulator()
        B = self.p.grad_out.shape[0]
        for c in self.param_groups[group]:
            for b in range(B):
                acc.add(self._plane_param_term(results, b, c))
        return acc.total()

    def _plane_param_term(self, results, b: int, c: int) -> Term:
        acc = Accumulator()
        for j, g in enumerate(self.grad_out_rows[b][c]):
            d = results[(b, c, j)].grad_param
            acc.add(_scaled(Fraction(0) if d is None else d, g))
        return acc.total()

    @staticmethod
    def _merge_exact(approx: WindowValues, exact: WindowValues) -> WindowValues:
        return WindowValues(exact.value, exact.grad_inputs,
                            exact.grad_param if exact.grad_param is not None
                            else approx.grad_param, approx.notes)

    def _fail(self, pending_out, pending_gin, pending_gpar):
        if pending_out:
            which, idx = "output", min(pending_out)
        elif pending_gin:
            which, idx = "grad_input", min(pending_gin)
        else:
            which, idx = "grad_param", (min(pending_gpar),)
        if self.fmt is None:
            why = (f"could not reach {self.digits} correct digits of the {which} at (batch, "
                   f"channel, flat index) {idx} within {MAX_PRECISION} bits, the precision "
                   f"limit: the value may be zero or too close to it for a relative accuracy")
        else:
            why = (f"could not certify the correctly rounded {which} at (batch, channel, flat "
                   f"index) {idx} within {MAX_PRECISION} bits: the value may lie exactly on a "
                   f"rounding boundary and no exact evaluation is available for these "
                   f"parameters")
        raise CertificationError(why, which, tuple(idx))


def reference(
    op: str,
    input,
    param: float | Sequence[float] | None = None,
    kernel_size=1,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    *,
    dims: int,
    count_include_pad: bool = False,
    grad_output=None,
    dtype: str | Format = "float64",
    digits: int | None = None,
    gradients: bool = True,
    param_gradient: bool | None = None,
    jobs: int = 1,
    output_size=None,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    ties: str = "first",
) -> OracleResult:
    """Correctly rounded forward, input gradient (VJP) and parameter gradient of a pooling op.

    Parameters
    ----------
    op : ``"ppool"``, ``"avg"``, ``"max"``, ``"min"``, ``"lp"`` or ``"powermean"``
        (see ``ppverify.oracle.OPERATORS`` for each formula and convention).
    input : array of shape ``(N, C, *spatial)`` or ``(C, *spatial)``, any real float dtype;
        its values are taken exactly.
    param : alpha (ppool) or p (lp, powermean): a number or one number per channel.
    kernel_size, stride, padding, dilation, ceil_mode : as in torch's pooling functions.
    output_size : adaptive pooling instead of a kernel (torch's ``adaptive_*_pool{d}d``): an
        int or one entry per spatial axis (``None`` keeps that axis's length); window ``i`` of
        an axis of length ``L`` pooled to ``n`` outputs spans ``[floor(i L / n),
        ceil((i + 1) L / n))``. ``output_size=1`` is global pooling (one window per plane).
        The kernel arguments must then keep their defaults.
    dims : 1, 2 or 3 spatial dimensions.
    count_include_pad : padded positions count as zero inputs (ppool, avg, powermean).
    grad_output : upstream gradient, shape of the output (default all ones).
    dtype : format to round to, ``float16``, ``bfloat16``, ``float32`` or ``float64``.
    digits : instead of rounding, return mpmath numbers with this many correct digits.
    gradients : also compute the input and parameter gradients.
    param_gradient : compute the parameter gradient (default: ``gradients``); set it False to
        get the input gradient where dy/dparam is undefined (negative inputs, integer alpha).
    jobs : spread the (batch, channel) planes over this many worker processes (never more
        processes than chunks of planes).
    memory_limit : bytes of memory the call may take (``None``: no limit); refused up front
        (``OracleMemoryError``, a ``MemoryError`` and a ``ValueError``) when
        ``memory_estimate`` says more. See the module doc.
    ties : max and min only: where the derivative goes at a tie, ``"first"`` (torch's
        ``max_pool``), ``"last"`` or ``"split"`` (``1/k`` to each of ``k`` tied elements, as
        ``torch.amax``); see ``ppverify.oracle.operators``.
    """
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    info = get_operator(op)
    if ties != "first":
        if ties not in TIE_CONVENTIONS:
            raise ValueError(f"ties must be one of {', '.join(TIE_CONVENTIONS)}, got {ties!r}")
        if op not in ("max", "min"):
            raise ValueError(f"ties={ties!r} is for max and min, not {op!r}")
        info = get_operator(f"{op}:{ties}")
    if output_size is not None:
        if (kernel_size, stride, padding, dilation, ceil_mode) != (1, None, 0, 1, False):
            raise ValueError("output_size (adaptive pooling) and kernel_size/stride/padding/"
                             "dilation/ceil_mode (windowed pooling) exclude each other")
        geometry = make_adaptive_geometry(dims, output_size)
    else:
        geometry = make_geometry(dims, kernel_size, stride, padding, dilation, ceil_mode)
    x = _as_float_array("input", input)
    spatial = split_batch_channel(x.shape, dims)
    batched = x.ndim == dims + 2
    xb = x if batched else x[None]
    B, C = xb.shape[:2]
    plane = math.prod(spatial)
    chunks = plane_chunks(B, C, plane, jobs)  # the memory is checked before any is taken
    check_memory(len(chunks[0]) * plane, B * C * plane, min(jobs, len(chunks)), memory_limit)
    layout = _layout(geometry, spatial)
    params = _channel_params(info, param, C)
    out_shape = (B, C) + layout.out_spatial
    if grad_output is None:
        g = np.ones(out_shape)
    else:
        g = _as_float_array("grad_output", grad_output)
        expected = out_shape if batched else out_shape[1:]
        if g.shape != expected:
            raise ValueError(f"grad_output must have the output's shape {expected}, got {g.shape}")
        g = g if batched else g[None]
        if not np.all(np.isfinite(g)):
            raise ValueError("grad_output must be finite")
    fmt = None if digits is not None else get_format(dtype)
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int)
                               or digits < 1):
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if digits is not None and digits > MAX_DIGITS:
        raise ValueError(f"digits={digits} is above the oracle's precision limit: "
                         f"{MAX_PRECISION} bits of working precision allow at most "
                         f"{MAX_DIGITS} correct digits")
    plane = layout.plane_size
    problem = _Problem(info, xb.reshape(B, C, plane), params,
                       g.reshape(B, C, len(layout.flat_indices)), layout,
                       count_include_pad, gradients,
                       (gradients if param_gradient is None else param_gradient)
                       and info.has_param)
    problem._spatial = spatial
    groups = [[c] for c in range(C)] if _is_per_channel(param) else [list(range(C))]
    if len(chunks) > 1:
        out, gin, gpar = _solve_chunked(problem, fmt, digits, groups, jobs, chunks)
    else:
        out, gin, gpar = _Solver(problem, fmt, digits, groups).solve()
    container = object if fmt is None else fmt.numpy_dtype
    output = out.reshape(out_shape).astype(container)
    grad_input = gin.reshape(xb.shape).astype(container) if gin is not None else None
    if not batched:
        output = output[0]
        grad_input = grad_input[0] if grad_input is not None else None
    grad_param = None
    if gpar is not None:
        grad_param = gpar.astype(object if fmt is None else np.float64)
        if not _is_per_channel(param):
            grad_param = grad_param.reshape(())
    name = f"digits={digits}" if fmt is None else fmt.name
    return OracleResult(output, grad_input, grad_param, name, problem.notes)


def _is_per_channel(param) -> bool:
    return param is not None and np.ndim(param) == 1


def _channel_params(info: OperatorInfo, param, C: int) -> list[float | None]:
    if not info.has_param:
        if param is not None:
            raise ValueError(f"op {info.name!r} takes no parameter, but param={param!r} was given")
        return [None] * C
    if param is None:
        raise ValueError(f"op {info.name!r} needs its parameter {info.param_name}")
    if isinstance(param, (bool, str, bytes)) or np.asarray(param).dtype.kind in "bUSVc":
        raise TypeError(f"{info.param_name} must be a real number, got {param!r}")
    arr = _as_float_array(info.param_name, param)
    if arr.ndim == 0:
        values = [float(arr)] * C
    elif arr.ndim == 1 and arr.shape[0] == C:
        values = [float(v) for v in arr]
    else:
        raise ValueError(
            f"{info.param_name} must be a number or have one value per channel ({C}), "
            f"got shape {arr.shape}"
        )
    for c, v in enumerate(values):
        if not math.isfinite(v):
            raise ValueError(f"{info.param_name} must be finite, got {v} (channel {c})")
    return values


def _solve_chunk(task):
    """Worker: certify outputs and input gradients of some planes; return parameter partials."""
    (op, x, params, grad_out, layout, include_pad, want_grads, want_param, fmt_name, digits,
     spatial) = task
    info = get_operator(op)
    problem = _Problem(info, x, params, grad_out, layout, include_pad, want_grads, want_param)
    problem._spatial = spatial
    fmt = None if fmt_name is None else get_format(fmt_name)
    solver = _Solver(problem, fmt, digits, [])
    out, gin, partials = solver.solve(param_partials=want_param)
    return out, gin, partials, problem.notes


def plane_chunks(B: int, C: int, plane: int, jobs: int) -> list[list[tuple[int, int]]]:
    """The (batch, channel) planes in chunks: one chunk for a small input and one process;
    otherwise chunks of at most ``CHUNK_ELEMENTS`` elements (one plane at least), and at least
    four per process with ``jobs``, never more chunks than planes."""
    planes = [(b, c) for b in range(B) for c in range(C)]
    if len(planes) <= 1:
        return [planes]
    by_size = math.ceil(len(planes) * plane / CHUNK_ELEMENTS)
    n_chunks = min(len(planes), max(by_size, jobs * 4 if jobs > 1 else 1))
    return [planes[k::n_chunks] for k in range(n_chunks)]


def memory_estimate(chunk_elements: int, total_elements: int, processes: int = 1) -> int:
    """Bytes a call needs, roughly: ``ELEMENT_BYTES`` per input element of the chunk each
    process works on (the balls of every window term and derivative) plus ``RESULT_BYTES``
    per input element for the results gathered (see the module doc)."""
    return ELEMENT_BYTES * chunk_elements * processes + RESULT_BYTES * total_elements


def check_memory(chunk_elements: int, total_elements: int, processes: int,
                 limit: int | None) -> None:
    """``MemoryError`` naming the sizes when ``memory_estimate`` is above ``limit``."""
    if limit is None:
        return
    need = memory_estimate(chunk_elements, total_elements, processes)
    if need > limit:
        raise OracleMemoryError(
            f"the oracle would need about {need / 2**30:.1f} GiB for this input "
            f"({total_elements} elements; planes of {chunk_elements} at a time, about "
            f"{ELEMENT_BYTES} bytes each, in {processes} process(es)), more than the memory "
            f"limit of {limit / 2**30:.1f} GiB: pass a smaller input (fewer or smaller planes), "
            f"fewer jobs, or memory_limit=None")


def _solve_chunked(problem: _Problem, fmt, digits, groups, jobs: int, chunks):
    """Solve chunks of planes one after another (``jobs=1``) or in processes; add up the
    parameter partials here and certify them."""
    import concurrent.futures
    import multiprocessing

    B, C, W = problem.grad_out.shape
    tasks = []
    for chunk in chunks:
        x = np.stack([problem.x[b, c] for b, c in chunk])[None]
        g = np.stack([problem.grad_out[b, c] for b, c in chunk])[None]
        params = [problem.params[c] for _, c in chunk]
        tasks.append((problem.info.name, x, params, g, problem.layout, problem.count_include_pad,
                      problem.want_grads, problem.want_param_grad,
                      None if fmt is None else fmt.name, digits, problem._spatial))
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    out = np.empty((B, C, W), dtype=object)
    gin = np.empty(problem.x.shape, dtype=object) if problem.want_grads else None
    plane_partials: dict[tuple[int, int], Term] = {}
    with contextlib.ExitStack() as stack:
        if jobs > 1:
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                max_workers=min(jobs, len(chunks)),  # never more processes than chunks of work
                mp_context=multiprocessing.get_context(method)))
            solved = pool.map(_solve_chunk, tasks)
        else:
            solved = map(_solve_chunk, tasks)  # one chunk's working memory at a time
        for chunk, (o, gi, partials, notes) in zip(chunks, solved):
            problem.notes.update(notes)
            for k, (b, c) in enumerate(chunk):
                out[b, c] = o[0, k]
                if gin is not None:
                    gin[b, c] = gi[0, k]
                if partials is not None:
                    plane_partials[(b, c)] = partials[k]
    if not problem.want_param_grad:
        return out, gin, None
    solver = _Solver(problem, fmt, digits, groups)
    gpar = np.empty(len(groups), dtype=object)
    undecided = []
    with workprec(solver.start_bits):
        totals = []
        for group in groups:
            acc = Accumulator()
            for c in group:
                for b in range(B):
                    acc.add(_deserialize(plane_partials[(b, c)]))
            totals.append(acc.total())
        for k, value in enumerate(solver.decide_many(totals)):
            if value is None:
                undecided.append(k)
            else:
                gpar[k] = value
    if undecided:  # rare: redo those groups here at rising precision
        rest = _Solver(problem, fmt, digits, [groups[k] for k in undecided])
        _, _, decided = rest.solve(values=False)
        for k, value in zip(undecided, decided):
            gpar[k] = value
    return out, gin, gpar
