"""Correctly rounded reference values of pooling operators over whole arrays.

``reference(op, input, param, kernel_size, ...)`` lays out windows exactly as torch's pooling
does (``ppverify.windows``), evaluates every window in ball arithmetic (``operators``) and
returns the forward output, the vector-Jacobian product with ``grad_output`` (the gradient with
respect to every input element, summed over the windows that contain it) and the gradient with
respect to the parameter (summed over windows; per channel when the parameter is per channel),
each correctly rounded to ``dtype``.

Certification (Ziv's strategy): everything is first computed at ``precision(dtype) + 24`` bits;
each result whose ball is not strictly inside one rounding interval is recomputed, with only the
windows it depends on, at twice the precision, and so on up to ``MAX_PRECISION`` bits. Results
that may sit exactly on a rounding boundary are decided by an exact rational evaluation when the
operator and parameter allow one. A result that still cannot be decided raises
``CertificationError``; the oracle never returns a value it could not certify.

With ``digits=D`` the results are mpmath numbers with ``D`` correct significant digits (the
ball's relative radius is below ``10**-D``) instead of rounded floats.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import numpy as np
from flint import arb, ctx

from ..windows import PoolGeometry, iter_windows, make_geometry, output_spatial_shape
from ..windows import split_batch_channel
from .certify import Accumulator, Term, round_term
from .formats import Format, get_format
from .operators import OracleDomainError, WindowValues
from .registry import OperatorInfo, get_operator

MAX_PRECISION = 1 << 15
_EXACT_FALLBACK_FACTOR = 4


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


def _layout(geometry: PoolGeometry, spatial: tuple[int, ...]) -> _Layout:
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
    try:
        import torch  # noqa: F401  (only to recognise tensors; optional)

        if hasattr(value, "detach") and hasattr(value, "cpu"):
            value = value.detach().cpu().double().numpy()
    except ImportError:
        pass
    a = np.asarray(value)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating)
                                 or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {a.dtype}")
    return a.astype(np.float64)


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

    def window_inputs(self, b: int, c: int, j: int) -> list[float]:
        plane = self.x[b, c]
        return [float(plane[i]) for i in self.layout.flat_indices[j]]

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
            where = f"input element (batch {b}, channel {c}, {tuple(map(int, spatial))}) in " + where
        new = OracleDomainError(f"{err} [{where}]", err.element, err.argument)
        return new

    _spatial: tuple[int, ...] = ()


def _evaluate_windows(problem: _Problem, todo: Sequence[tuple[int, int, int]], exact: bool):
    results = {}
    for key in todo:
        r = problem.evaluate(*key, exact=exact)
        if r is not None:
            results[key] = r
            if not exact:
                problem.notes.update(r.notes)
    return results


def _scaled(term: Term, g: float) -> Term:
    if g == 1.0:
        return term
    if isinstance(term, arb):
        return term * g
    if isinstance(term, float):  # an infinity (empty max window): the upstream sign applies
        return term * g if g != 0 else 0.0
    return term * Fraction(g)


class _Solver:
    """Ziv loop over the three kinds of result (output, grad_input, grad_param)."""

    def __init__(self, problem: _Problem, fmt: Format | None, digits: int | None,
                 param_groups: list[list[int]]):
        self.p = problem
        self.param_groups = param_groups
        self.fmt = fmt
        self.digits = digits
        target_bits = fmt.precision if fmt else math.ceil(digits * math.log2(10)) + 4
        self.start_bits = target_bits + 24
        self.target_bits = target_bits

    # -- deciding one number
    def decide(self, value: Term):
        if self.fmt is not None:
            return round_term(value, self.fmt)
        return self._decide_digits(value)

    def _decide_digits(self, value: Term):
        with mpmath.workprec(self.target_bits):
            if isinstance(value, Fraction):
                return mpmath.mpf(value.numerator) / value.denominator
            if isinstance(value, float):
                return mpmath.mpf(value)
            if value.is_exact():
                return mpmath.mpf(value.mid()._mpf_)
            if value.rel_accuracy_bits() >= self.target_bits:
                return +mpmath.mpf(value.mid()._mpf_)
        return None

    # -- the loop
    def solve(self):
        p = self.p
        B, C, W = p.grad_out.shape
        keys = [(b, c, j) for b in range(B) for c in range(C) for j in range(W)]
        out = np.empty((B, C, W), dtype=object)
        gin = np.empty(p.x.shape, dtype=object) if p.want_grads else None
        gpar = np.empty(len(self.param_groups), dtype=object) if p.want_param_grad else None
        pending_out = set(keys)
        pending_gin = {(b, c, i) for b in range(B) for c in range(C)
                       for i in range(p.layout.plane_size)} if p.want_grads else set()
        pending_gpar = set(range(len(self.param_groups))) if p.want_param_grad else set()
        members = self._window_members() if p.want_grads else None
        bits = self.start_bits
        while pending_out or pending_gin or pending_gpar:
            if bits > MAX_PRECISION:
                self._fail(pending_out, pending_gin, pending_gpar)
            needed = set(k for k in pending_out)
            if pending_gin:
                for (b, c, i) in pending_gin:
                    needed.update((b, c, j) for j in members[i])
            for group in pending_gpar:
                needed.update((b, c, j) for b in range(B) for c in self.param_groups[group]
                              for j in range(W))
            with workprec(bits):
                results = _evaluate_windows(p, sorted(needed), exact=False)
                if bits >= self.start_bits * _EXACT_FALLBACK_FACTOR:
                    exact = _evaluate_windows(p, sorted(needed), exact=True)
                    results.update({k: self._merge_exact(results[k], v) for k, v in exact.items()})
                pending_out = self._settle_outputs(results, pending_out, out)
                if pending_gin:
                    pending_gin = self._settle_grad_inputs(results, pending_gin, gin, members)
                if pending_gpar:
                    pending_gpar = self._settle_grad_param(results, pending_gpar, gpar, B, W)
            bits *= 2
        return out, gin, gpar

    @staticmethod
    def _merge_exact(approx: WindowValues, exact: WindowValues) -> WindowValues:
        return WindowValues(exact.value, exact.grad_inputs,
                            exact.grad_param if exact.grad_param is not None
                            else approx.grad_param, approx.notes)

    def _window_members(self) -> list[list[int]]:
        members: list[list[int]] = [[] for _ in range(self.p.layout.plane_size)]
        for j, idx in enumerate(self.p.layout.flat_indices):
            for i in idx:
                members[i].append(j)
        return members

    def _settle_outputs(self, results, pending, out):
        left = set()
        for key in pending:
            v = self.decide(results[key].value)
            if v is None:
                left.add(key)
            else:
                out[key] = v
        return left

    def _settle_grad_inputs(self, results, pending, gin, members):
        p = self.p
        left = set()
        for (b, c, i) in pending:
            acc = Accumulator()
            for j in members[i]:
                r = results[(b, c, j)]
                pos = p.layout.flat_indices[j].index(i)
                acc.add(_scaled(r.grad_inputs[pos], float(p.grad_out[b, c, j])))
            v = self.decide(acc.total())
            if v is None:
                left.add((b, c, i))
            else:
                gin[b, c, i] = v
        return left

    def _settle_grad_param(self, results, pending, gpar, B, W):
        left = set()
        for group in pending:
            acc = Accumulator()
            for c in self.param_groups[group]:
                for b in range(B):
                    for j in range(W):
                        g = results[(b, c, j)].grad_param
                        acc.add(_scaled(Fraction(0) if g is None else g,
                                        float(self.p.grad_out[b, c, j])))
            v = self.decide(acc.total())
            if v is None:
                left.add(group)
            else:
                gpar[group] = v
        return left

    def _fail(self, pending_out, pending_gin, pending_gpar):
        if pending_out:
            which, idx = "output", min(pending_out)
        elif pending_gin:
            which, idx = "grad_input", min(pending_gin)
        else:
            which, idx = "grad_param", (min(pending_gpar),)
        raise CertificationError(
            f"could not certify the correctly rounded {which} at (batch, channel, flat index) "
            f"{idx} within {MAX_PRECISION} bits: the value may lie exactly on a rounding "
            f"boundary and no exact evaluation is available for these parameters",
            which,
            tuple(idx),
        )


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
    dims : 1, 2 or 3 spatial dimensions.
    count_include_pad : padded positions count as zero inputs (ppool, avg, powermean).
    grad_output : upstream gradient, shape of the output (default all ones).
    dtype : format to round to, ``float16``, ``bfloat16``, ``float32`` or ``float64``.
    digits : instead of rounding, return mpmath numbers with this many correct digits.
    gradients : also compute the input and parameter gradients.
    """
    info = get_operator(op)
    geometry = make_geometry(dims, kernel_size, stride, padding, dilation, ceil_mode)
    x = _as_float_array("input", input)
    spatial = split_batch_channel(x.shape, dims)
    batched = x.ndim == dims + 2
    xb = x if batched else x[None]
    B, C = xb.shape[:2]
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
    if digits is not None and (not isinstance(digits, int) or digits < 1):
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    problem = _Problem(info, xb.reshape(B, C, -1), params, g.reshape(B, C, -1), layout,
                       count_include_pad, gradients, gradients and info.has_param)
    problem._spatial = spatial
    groups = [[c] for c in range(C)] if _is_per_channel(param) else [list(range(C))]
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
    name = "digits=%d" % digits if fmt is None else fmt.name
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
    arr = np.asarray(param, dtype=np.float64)
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
