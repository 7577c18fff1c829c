"""What a conforming target must return for a case: the oracle's results and their error scales.

``expected_for(case)`` asks ``ppverify.oracle.reference`` for the correctly rounded output, the
input gradient (the VJP with the case's upstream gradient) and the parameter gradient, all in
the case's dtype, and computes each result's *error scale* ``T`` (``scales``: the rounding error
a careful implementation in the case's precision cannot avoid, in units of the unit roundoff).

A declared domain (``case.input_min``, the target clamps its input below that value on purpose)
is evaluated as the clamped operator: the oracle sees ``max(x, input_min)``, and the input
gradient is zero where ``x < input_min`` (torch's ``clamp`` passes the gradient where
``x >= min``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import mpmath
import numpy as np

from ..oracle import get_format, reference
from ..windows import iter_windows
from .cases import Case
from .scales import EXACT_ARITH, LONG_ARITH, window_scale


@dataclass
class Expected:
    output: np.ndarray
    grad_input: np.ndarray | None
    grad_param: float | np.ndarray | None  # one per channel for per-channel cases
    output_scale: np.ndarray
    grad_input_scale: np.ndarray | None
    grad_param_scale: float | np.ndarray
    notes: Counter = field(default_factory=Counter)
    ties: str = "first"  # the tie convention the values are for (max and min)


def tie_conventions(case: Case, ties: str) -> tuple[str, ...]:
    """The tie conventions a max/min case may be judged under (``targets.TIES``, the first
    tried first); ``("first",)`` for every other operator."""
    from .targets import TIES

    return TIES[ties] if case.op in ("max", "min") else ("first",)


def judged_under_other_ties(case: Case, findings: list, conventions: tuple[str, ...],
                            rejudge) -> tuple[list, str | None]:
    """``(findings, convention)``: a case whose only failures are its input gradient is judged
    again (``rejudge(expected)``) under each of ``conventions[1:]``, and the first under which it
    passes is returned with its (empty) findings; else the findings as they were and None."""
    for other in conventions[1:]:
        if not findings or any(f.quantity != "grad_input" for f in findings):
            break
        again = rejudge(expected_for(case, ties=other))
        if not again:
            return again, other
    return findings, None


def oracle_input(case: Case) -> np.ndarray:
    """The input the oracle evaluates: the case's, clamped below a declared ``input_min``."""
    if case.input_min is None:
        return case.input
    return np.maximum(case.input, case.input_min)


def _oracle(case: Case, gradients: bool, ties: str, **how):
    """The oracle's results for the case (``how``: ``dtype`` or ``digits``) and its input
    gradient with a declared clamp's zeros (None without gradients)."""
    x_eff = oracle_input(case)
    extra = {"ties": ties} if ties != "first" else {}
    r = reference(case.op, x_eff, case.oracle_param, dims=case.dims,
                  count_include_pad=case.count_include_pad, grad_output=case.grad_output,
                  gradients=gradients, **case.geometry_kwargs, **extra, **how)
    gin = r.grad_input
    if gin is not None and case.input_min is not None:
        gin = np.where(case.input >= case.input_min, gin, 0)
    return x_eff, r, gin


def expected_for(case: Case, gradients: bool = True, ties: str = "first") -> Expected:
    """Oracle results for a valid case (raises the oracle's errors for an invalid one);
    ``ties`` is the oracle's tie convention for max and min (``reference``). Without
    ``gradients`` (or for a forward-only case, ``case.gradients`` False) the gradients and
    their scales are None."""
    gradients = gradients and case.gradients
    x_eff, r, gin = _oracle(case, gradients, ties, dtype=case.dtype)
    out = np.asarray(r.output, dtype=np.float64)
    gin = None if gin is None else np.asarray(gin, dtype=np.float64)
    gpar = None
    if r.grad_param is not None:  # one per channel where the case has one per channel
        gpar = np.asarray(r.grad_param, dtype=np.float64) if case.per_channel else \
            float(np.asarray(r.grad_param).sum())
    out_scale, gin_scale, gpar_scale = case_scales(case, x_eff, gradients)
    return Expected(out, gin, gpar, out_scale, gin_scale, gpar_scale, r.notes, ties)


def case_scales(case: Case, x_eff: np.ndarray | None = None, gradients: bool = True,
                arith=LONG_ARITH):
    """``error_scales`` of the case's oracle input (``x_eff``, default ``oracle_input(case)``),
    the input gradient's zero where a declared clamp cuts the input off."""
    x_eff = oracle_input(case) if x_eff is None else x_eff
    out_scale, gin_scale, gpar_scale = error_scales(case, x_eff, gradients, arith)
    if gin_scale is not None and case.input_min is not None:
        gin_scale = np.where(case.input >= case.input_min, gin_scale, 0)
    return out_scale, gin_scale, gpar_scale


#: correct significant digits of the exact values beside a reference beyond the range
EXACT_DIGITS = 12


def exact_values(case: Case, gradients: bool, ties: str = "first") -> dict[str, np.ndarray]:
    """The exact results (mpmath numbers, ``EXACT_DIGITS`` correct digits; object arrays
    shaped as ``expected_for``'s: ``output``, ``grad_input``, ``grad_param``) of a case, for
    judging a result whose correctly rounded reference is an infinity because the exact value
    lies beyond the dtype's range (``compare.beyond_range_errors``). A second oracle run: asked
    for only where such a result is judged."""
    _, r, gin = _oracle(case, gradients, ties, digits=EXACT_DIGITS)
    gpar = None
    if r.grad_param is not None:
        gpar = np.asarray(r.grad_param, dtype=object) if case.per_channel else \
            np.asarray(sum(np.asarray(r.grad_param, dtype=object).ravel()), dtype=object)
    return {"output": np.asarray(r.output, dtype=object),
            "grad_input": None if gin is None else np.asarray(gin, dtype=object),
            "grad_param": gpar}


#: bits of the mpmath numbers that ``exact_scales`` computes in (scales are first-order
#: bounds: their own rounding matters no more than the long doubles')
EXACT_SCALE_BITS = 64


def exact_scales(case: Case, gradients: bool) -> dict[str, np.ndarray]:
    """The case's error scales (``case_scales``) as mpmath numbers (object arrays; the
    parameter gradient's a 0-d one where it has one parameter), for the results whose long
    double scale overflows (beyond about 1e4932: an Lp norm at p = 1e-8 over near-ties, whose
    input gradient is 1e143136368); computed for a case only where such a result is judged
    against an exact value (``compare.beyond_range_errors``)."""
    with mpmath.workprec(EXACT_SCALE_BITS):
        out, gin, gpar = case_scales(case, gradients=gradients and case.gradients,
                                     arith=EXACT_ARITH)
    return {"output": out, "grad_input": gin, "grad_param": np.asarray(gpar, dtype=object)}


def error_scales(case: Case, x_eff: np.ndarray, gradients: bool = True, arith=LONG_ARITH):
    """Error scales (``numpy.longdouble`` arrays; with ``arith=EXACT_ARITH`` object arrays of
    mpmath numbers) of the output, input gradient and parameter gradient (see ``scales``)."""
    geometry = case.geometry()
    x = x_eff if x_eff.ndim == case.dims + 2 else x_eff[None]
    B, C = x.shape[:2]
    windows = list(iter_windows(geometry, x.shape[2:]))
    g = np.ones((B, C, len(windows))) if case.grad_output is None else \
        np.abs(np.asarray(case.grad_output, dtype=np.float64)).reshape(B, C, -1)
    zero = arith.num(0)
    out_scale = np.full((B, C, len(windows)), zero, dtype=arith.dtype)
    gin_scale = np.full(x.shape, zero, dtype=arith.dtype) if gradients else None
    gpar_scale = np.full(C if case.per_channel else (), zero, dtype=arith.dtype)
    tiny = get_format(case.dtype).min_normal
    # (a long double scale beyond its range is inf, which the comparison holds to no
    # tolerance and exact_scales replaces where it matters: no overflow warning)
    with np.errstate(over="ignore"):
        _add_window_scales(case, x, windows, g, tiny, arith, gradients,
                           out_scale, gin_scale, gpar_scale)
    if not case.per_channel:
        gpar_scale = gpar_scale[()]
    shape = tuple(case.expected_shape())
    out_scale = out_scale.reshape(shape)
    if gin_scale is not None and case.input.ndim != case.dims + 2:
        gin_scale = gin_scale[0]
    return out_scale, gin_scale, gpar_scale


def _add_window_scales(case, x, windows, g, tiny, arith, gradients, out_scale, gin_scale,
                       gpar_scale) -> None:
    """``error_scales``' loop: each window's scales into the output's, and weighted by the
    upstream gradient's magnitude into the input gradient's and the parameter gradient's
    (``gpar_scale``: one per channel, or a 0-d array)."""
    B, C = x.shape[:2]
    for b in range(B):
        for c in range(C):
            plane = x[b, c]
            for j, w in enumerate(windows):
                xs = [plane[p] for p in w.positions]
                if not xs and case.op not in ("max", "min", "avg"):
                    continue
                s = window_scale(case.op, xs, case.channel_param(c), w.n_padding,
                                 case.count_include_pad, tiny, arith)
                out_scale[b, c, j] = s.value
                if gradients:
                    weight = arith.num(g[b, c, j])
                    for p, t in zip(w.positions, s.grad_inputs):
                        gin_scale[(b, c) + p] += weight * t
                    gpar_scale[c if case.per_channel else ()] += weight * s.grad_param
