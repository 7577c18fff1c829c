"""Judging one outcome against the oracle: errors in ULP and the failure categories.

Error measure. For a result ``c`` with correctly rounded reference ``r`` and error scale ``T``
(``scales``: the rounding error a careful implementation cannot avoid), in the case's dtype::

    error = min(ulp_distance(c, r), |c - r| / ulp(T))

that is, the distance in ULP of the result, or in ULP of its error scale when the result is
small because terms cancelled or the formula amplifies rounding. A result passes when
``error <= tolerance[quantity][dtype]``. Where one of ``c`` and ``r`` is NaN or infinite and
they differ, the error is infinite (a NaN where ``r`` is -inf is not "1.8e308 ULP" away), with
one exception: an infinity where the tolerance band around a finite ``r`` reaches the dtype's
overflow threshold on that side (the error scale itself beyond the range:
``infinity_within_tolerance``) is within tolerance. Where ``r`` is an infinity because the exact
value ``v`` lies beyond the dtype's range, a result other than that infinity is measured against
``v`` itself, as every other result is against its reference (``beyond_range_errors``): a finite
result ``|c - v| / ulp(T)`` ULP (a careful implementation whose error scale is beyond the range
need not overflow where ``v`` does: terms of 1e328 that cancel to -4.5e308), the other infinity
within tolerance where the band ``v ± tolerance ulp(T)`` reaches its side's overflow threshold.
The exact values come from a second oracle run (``expected.exact_values``), made only for a case
with such a result; where ``T`` is beyond even the long doubles' range, it is computed again in
mpmath numbers (``expected.exact_scales``). An
output in another dtype than the input's is reported (wrong shape or dtype) and its values are
still judged, after rounding them to the input's dtype.

Categories (a case may fail several; each counts once per case):

==================  ============================================================================
wrong-shape         the output shape differs from torch's pooling shape (``ppverify.windows``),
                    or the output dtype from the input's
exception           the target raised on a valid input (forward or backward)
nonfinite           NaN or Inf in the output or a gradient where the true value is finite
wrong-value         an output beyond tolerance
wrong-gradient      an input or parameter gradient beyond tolerance
missing-gradient    no gradient flows to the input, or to a trainable parameter passed as a tensor
accepted-invalid    an error input (see ``cases.error_cases``) returned normally: no exception
                    (and, where NaN/Inf would signal the problem, an all-finite output)
==================  ============================================================================

Convention notes from the oracle (an infinite one-sided derivative returned as 0, a jump in the
parameter) make that gradient a matter of convention, not of correctness: it is not compared.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import numpy as np

from ..oracle.formats import get_format, round_float_array, ulp_distance
from ..oracle.operators import INFINITE_DERIVATIVE, PARAM_JUMP
from .cases import Case
from .expected import Expected
from .runner import Outcome
from .scales import exact_ulp, ulp_units
from .tolerances import Tolerances

CATEGORIES = ("wrong-value", "wrong-gradient", "missing-gradient", "nonfinite", "exception",
              "accepted-invalid", "wrong-shape")

CATEGORY_TITLES = {
    "wrong-value": "wrong value",
    "wrong-gradient": "wrong gradient",
    "missing-gradient": "missing gradient",
    "nonfinite": "NaN/Inf where the true value is finite",
    "exception": "exception on valid input",
    "accepted-invalid": "invalid input accepted silently",
    "wrong-shape": "wrong output shape (or dtype)",
}


@dataclass
class Finding:
    """One failure of one case."""

    category: str
    message: str
    quantity: str | None = None  # "output", "grad_input", "grad_param"
    ulp: float | None = None  # the largest error (inf for non-finite)
    index: tuple[int, ...] | None = None
    got: float | None = None
    expected: float | None = None
    phase: str | None = None  # exceptions: "forward", "backward", ..., "crash" (the process)

    @property
    def severity(self) -> float:
        return math.inf if self.ulp is None else self.ulp

    @property
    def abs_error(self) -> float | None:
        """``|got - expected|`` (inf where one is not finite), or None without values."""
        if self.got is None or self.expected is None:
            return None
        if self.got == self.expected:
            return 0.0
        if not (math.isfinite(self.got) and math.isfinite(self.expected)):
            return math.inf
        return abs(self.got - self.expected)

    @property
    def symptom(self) -> str | None:
        """What the wrong number is: ``nan``, ``inf``, ``zero`` or ``finite`` (None without)."""
        if self.got is None:
            return None
        if math.isnan(self.got):
            return "nan"
        if math.isinf(self.got):
            return "inf"
        return "zero" if self.got == 0 else "finite"

    def to_dict(self) -> dict:
        from .jsonio import encode_float

        return {
            "category": self.category, "message": self.message, "quantity": self.quantity,
            "ulp": None if self.ulp is None else encode_float(self.ulp),
            "abs_error": None if self.abs_error is None else encode_float(self.abs_error),
            "index": None if self.index is None else list(self.index),
            "got": None if self.got is None else encode_float(self.got),
            "expected": None if self.expected is None else encode_float(self.expected),
        }


def errors_ulp(candidate, reference, scale, dtype: str) -> np.ndarray:
    """Elementwise error (see module doc); ``inf`` where finiteness or NaN-ness differs."""
    fmt = get_format(dtype)
    c = np.asarray(candidate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    plain = ulp_distance(c, r, fmt).astype(np.float64)
    unit = ulp_units(np.broadcast_to(np.asarray(scale), r.shape), fmt)
    finite = np.isfinite(c) & np.isfinite(r)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scaled = np.where(finite, (np.abs(c - r).astype(unit.dtype) / unit), np.inf)
        err = np.minimum(plain, np.nan_to_num(scaled.astype(np.float64), nan=np.inf))
    same = (c == r) | (np.isnan(c) & np.isnan(r))
    return np.where(same, 0.0, np.where(finite, err, np.inf))


def infinity_within_tolerance(candidate, reference, scale, dtype: str,
                              limit: float) -> np.ndarray:
    """Where ``candidate`` is an infinity that a value within the tolerance of a finite
    ``reference`` rounds to: ``r + s limit ulp(T)`` (``s`` the infinity's sign) at or beyond
    the dtype's overflow threshold, the largest finite value plus half its ULP.

    The error scale ``T`` can exceed the dtype's range where the result does not (a float16
    gradient whose per-window terms are 1e20 and cancel to 0): a careful implementation's
    rounding error is then itself beyond the range, and its result may round to infinity, so
    such an infinity is within tolerance (its error is counted as the tolerance)."""
    fmt = get_format(dtype)
    c = np.asarray(candidate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    unit = ulp_units(np.broadcast_to(np.asarray(scale), r.shape), fmt)
    threshold = unit.dtype.type(fmt.max_finite) + unit.dtype.type(fmt.ulp(fmt.max_finite)) / 2
    with np.errstate(invalid="ignore", over="ignore"):
        reach = np.sign(c).astype(unit.dtype) * r.astype(unit.dtype) + \
            unit.dtype.type(limit) * unit
        return np.isinf(c) & np.isfinite(r) & (reach >= threshold)


def beyond_range_errors(candidate, reference, exact, scale, dtype: str,
                        limit: float, exact_scale=None) -> np.ndarray:
    """Errors, in ULP of the error scale, of results whose correctly rounded ``reference`` is an
    infinity, measured against the exact values ``exact`` (mpmath numbers beyond the dtype's
    range; see the module doc): a finite candidate ``|c - v| / ulp(T)``; the infinity of the
    reference's sign 0; the other infinity ``limit`` where ``v`` plus ``limit ulp(T)`` toward it
    reaches that side's overflow threshold (as ``infinity_within_tolerance``), else inf; NaN
    inf. Where the (long double) ``scale`` is itself beyond the long doubles' range (about
    1e4932), ``T`` is ``exact_scale``'s (mpmath numbers: ``expected.exact_scales``); without one
    the tolerance is unknown, and nothing is excused (inf). One-dimensional arrays of the
    results to judge."""
    fmt = get_format(dtype)
    c = np.asarray(candidate, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    scale = np.asarray(scale)
    units = ulp_units(scale, fmt)
    threshold = mpmath.mpf(fmt.max_finite) + mpmath.mpf(fmt.ulp(fmt.max_finite)) / 2
    out = np.full(c.shape, np.inf)
    for i in range(c.size):
        if c[i] == r[i]:
            out[i] = 0.0
            continue
        if np.isnan(c[i]) or exact[i] is None:
            continue
        if np.isfinite(scale[i]):
            _, e = np.frexp(units[i])  # ulp(T) is a power of two: 2^(e - 1)
            unit = mpmath.ldexp(mpmath.mpf(1), int(e) - 1)
        elif exact_scale is not None and exact_scale[i] is not None:
            unit = exact_ulp(exact_scale[i], fmt)
        else:
            continue
        v = mpmath.mpf(exact[i])
        if np.isfinite(c[i]):
            out[i] = float(abs(v - mpmath.mpf(float(c[i]))) / unit)  # (inf beyond float's)
        elif np.sign(c[i]) * v + limit * unit >= threshold:
            out[i] = limit
    return out


def _worst(err: np.ndarray):
    flat = int(np.argmax(err)) if err.size else 0
    return np.unravel_index(flat, err.shape) if err.size else (), float(err.max(initial=0.0))


def _judge_tensor(quantity, got, ref, scale, case, tol, category,
                  exact=None, exact_scale=None) -> list[Finding]:
    """Findings of one result tensor; ``exact()`` gives the exact values (object array shaped
    as ``ref``) for the results whose reference is an infinity (``beyond_range_errors``), and
    ``exact_scale()`` the error scales as mpmath numbers, asked for where such a result's long
    double scale overflows."""
    findings = []
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        return [Finding("wrong-shape", f"{quantity} has shape {got.shape}, expected {ref.shape}",
                        quantity)]
    limit = tol.get(quantity, case.dtype)
    reached = infinity_within_tolerance(got, ref, scale, case.dtype, limit)
    bad = ~np.isfinite(got) & np.isfinite(ref) & ~reached
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        findings.append(Finding(
            "nonfinite", f"{quantity}{list(idx)} is {float(got[idx])} where the true value "
            f"is {float(ref[idx])!r}", quantity, math.inf, idx, float(got[idx]), float(ref[idx])))
    err = errors_ulp(got, ref, scale, case.dtype)
    err = np.where(bad, 0.0, np.where(reached, limit, err))
    beyond = np.isinf(ref) & (got != ref)
    values = exact() if exact is not None and beyond.any() else None
    if values is not None:
        values = np.asarray(values, dtype=object).reshape(ref.shape)
        scales = np.broadcast_to(np.asarray(scale), ref.shape)
        wide = None  # (None per element where there is none: nothing excused there)
        if exact_scale is not None and not np.isfinite(scales[beyond]).all():
            wide = np.broadcast_to(np.asarray(exact_scale(), dtype=object), ref.shape)[beyond]
        err[beyond] = beyond_range_errors(got[beyond], ref[beyond], values[beyond],
                                          scales[beyond], case.dtype, limit, wide)
    idx, worst = _worst(err)
    if worst > limit:
        idx = tuple(int(i) for i in idx)
        shown = ""
        if values is not None and beyond[idx]:
            shown = f" (exact {mpmath.nstr(values[idx], 6)})"
        findings.append(Finding(
            category, f"{quantity}{list(idx)} = {float(got[idx])!r}, correctly rounded "
            f"{float(ref[idx])!r}{shown}: "
            f"{_fmt_ulp(worst)} ULP > {limit:g} ({case.dtype})", quantity, worst, idx,
            float(got[idx]), float(ref[idx])))
    return findings


def _fmt_ulp(v: float) -> str:
    if math.isinf(v):
        return "inf"
    return f"{v:.3g}" if v < 1e6 else f"{v:.2e}"


def _exact_once(case: Case, expected: Expected):
    """A function giving the case's exact values (``expected.exact_values``), computed on its
    first call and kept; None for each where the oracle cannot give them (its precision limit:
    the results beside an infinite reference then fail as they did before the rule)."""

    @functools.cache
    def exact() -> dict:
        from .expected import exact_values

        try:
            return exact_values(case, _gradients(expected), expected.ties)
        except (ArithmeticError, ValueError, MemoryError):
            return {"output": None, "grad_input": None, "grad_param": None}

    return exact


def _exact_scales_once(case: Case, expected: Expected):
    """A function giving the case's error scales as mpmath numbers (``expected.exact_scales``),
    computed on its first call and kept."""

    @functools.cache
    def scales() -> dict:
        from .expected import exact_scales

        return exact_scales(case, _gradients(expected))

    return scales


def _gradients(expected: Expected) -> bool:
    return expected.grad_input is not None or expected.grad_param is not None


def judge(case: Case, outcome: Outcome, expected: Expected | None, tol: Tolerances,
          param_required: bool, flat_output: bool = False) -> list[Finding]:
    """All findings of one valid case (``expected`` from the oracle). With ``flat_output``
    (declared: ``--flat-output``) a global pooling output with the spatial axes dropped
    (``Case.flat_shape``) is judged as the pooling shape it flattens."""
    if outcome.error is not None and outcome.error_phase == "crash":
        return [Finding("exception", outcome.error, phase="crash")]
    if outcome.error is not None:
        return [Finding("exception", f"raised in {outcome.error_phase}: {outcome.error}",
                        phase=outcome.error_phase)]
    exp_shape = tuple(expected.output.shape)
    output, grad_input = outcome.output, outcome.grad_input
    if flat_output and outcome.output_shape == case.flat_shape() and output is not None:
        output = np.asarray(output).reshape(exp_shape)
    elif outcome.output_shape != exp_shape:
        return [Finding("wrong-shape",
                        f"output shape {outcome.output_shape}, expected {exp_shape}", "output")]
    findings = []
    if outcome.output_dtype is not None and outcome.output_dtype != case.dtype:
        findings.append(Finding("wrong-shape", f"output dtype {outcome.output_dtype}, expected "
                                f"the input's {case.dtype} (values judged after rounding to "
                                f"{case.dtype})", "output"))
        fmt = get_format(case.dtype)
        output = round_float_array(np.asarray(output, dtype=np.float64), fmt)
        if grad_input is not None:
            grad_input = round_float_array(np.asarray(grad_input, dtype=np.float64), fmt)
    exact = _exact_once(case, expected)
    wide = _exact_scales_once(case, expected)
    findings += _judge_tensor("output", output, expected.output, expected.output_scale,
                              case, tol, "wrong-value", lambda: exact()["output"],
                              lambda: wide()["output"])
    if expected.grad_input is None and expected.grad_param is None:
        return _dedupe(findings)  # forward only: no gradient is asked for
    if outcome.input_grad_missing:
        findings.append(Finding("missing-gradient", "no gradient reaches the input "
                                "(the output does not require grad)", "grad_input"))
    elif expected.grad_input is not None and grad_input is not None \
            and INFINITE_DERIVATIVE not in expected.notes:
        findings += _judge_tensor("grad_input", grad_input, expected.grad_input,
                                  expected.grad_input_scale, case, tol, "wrong-gradient",
                                  lambda: exact()["grad_input"], lambda: wide()["grad_input"])
    if outcome.param_mode == "tensor" and expected.grad_param is not None:
        if outcome.param_grad_missing:
            if param_required:
                findings.append(Finding("missing-gradient", "the parameter was passed as a "
                                        "tensor with requires_grad but receives no gradient",
                                        "grad_param"))
        elif PARAM_JUMP not in expected.notes:
            findings += _judge_tensor("grad_param", np.array(outcome.grad_param),
                                      np.array(expected.grad_param),
                                      np.array(expected.grad_param_scale), case, tol,
                                      "wrong-gradient", lambda: exact()["grad_param"],
                                      lambda: wide()["grad_param"])
    if outcome.param_mode == "float" and param_required:
        findings.append(Finding("missing-gradient", "the target refuses the parameter as a "
                                "tensor, so it cannot be trained", "grad_param"))
    return _dedupe(findings)


def judge_error_case(case: Case, outcome: Outcome) -> list[Finding]:
    """An error input passes when the target raises (or, if allowed, returns NaN/Inf); a
    process that dies or hangs on it has not raised a clear error."""
    if outcome.error is not None and outcome.error_phase == "crash":
        return [Finding("exception", f"{case.expect_error}: {outcome.error} instead of "
                        f"raising an error", phase="crash")]
    if outcome.error is not None:
        return []
    if case.nan_signals and outcome.output is not None and not np.all(np.isfinite(
            outcome.output)):
        return []
    shown = "" if outcome.output is None else f" (output shape {outcome.output_shape}, " \
        f"all finite)"
    return [Finding("accepted-invalid", f"{case.expect_error}: returned normally{shown}")]


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Keep the worst finding per category."""
    best: dict[str, Finding] = {}
    for f in findings:
        if f.category not in best or f.severity > best[f.category].severity:
            best[f.category] = f
    return list(best.values())
