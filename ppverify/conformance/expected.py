"""What a conforming target must return for a case: the oracle's results and their scales.

``expected_for(case)`` asks ``ppverify.oracle.reference`` for the correctly rounded output, the
input gradient (the VJP with the case's upstream gradient) and the parameter gradient, all in
the case's dtype. It also computes, at ordinary precision, the *scale* of each result, used to
judge results that are small only because of cancellation:

* output: the largest ``|x|`` in the window (an average of signed values may cancel);
* grad_input[i]: ``sum_j |g_j| max_k |dy_j/dx_k|`` over the windows ``j`` containing ``x_i``
  (window-norm-wise: the derivative formulas subtract terms of the size of the window's
  largest derivative, e.g. P-pooling's ``w_i ((alpha+1) - alpha y / x_i)``);
* grad_param: ``sum_j |g_j| (|dy_j/dparam| + |y_j| max_i |ln x_i| (1 + 1/|param|))`` over all
  windows (``x_i > 0``): the size of the terms the parameter derivative of P-pooling, the Lp
  norm and the power mean subtract (``ln`` of the elements times ``y``, and ``ln(S) / p**2``).

For the operators with a parameter each scale is at least ``2**(precision-1)`` times the change
of the exact result when the inputs and the parameter move by one ULP (``_sensitivity``), so
that the tolerance allows what a backward-stable implementation cannot avoid: at large
``|alpha|`` P-pooling's value and derivatives are ill-conditioned (condition ~ ``|alpha|``).

An implementation that rounds a few times per term has an error of a few ULP *of the scale*;
``compare`` allows the tolerance in ULP of the result or of its scale, whichever is larger.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..oracle import OracleDomainError, get_format, get_operator, reference
from ..oracle.reference import workprec
from ..windows import iter_windows, make_geometry
from .cases import Case


@dataclass
class Expected:
    output: np.ndarray
    grad_input: np.ndarray | None
    grad_param: float | None
    output_scale: np.ndarray
    grad_input_scale: np.ndarray | None
    grad_param_scale: float
    notes: Counter = field(default_factory=Counter)


def _float(v) -> float:
    if isinstance(v, Fraction | int | float):
        return float(v)
    return float(v.mid())


def _sensitivity(info, xs, case, n_padding, base, ulp):
    """Largest change of the value, each input derivative and the parameter derivative when
    the inputs (alternating signs, so ties split) and the parameter move by one ULP.

    Only for the operators with a parameter: their value and derivatives can be ill-conditioned
    (P-pooling at large |alpha|: ``dy/dx_i`` subtracts terms of size ``alpha``); for
    average/max/min the derivatives are constant or a convention at ties.
    """
    n = len(xs)
    if not info.has_param or not xs:
        return 0.0, [0.0] * n, 0.0
    dy, dgrads, dpar = 0.0, [0.0] * n, 0.0
    for sign in (1.0, -1.0):
        moved = [v * (1.0 + sign * ulp * (1 if k % 2 == 0 else -1)) for k, v in enumerate(xs)]
        try:
            wv = info.window(moved, case.param * (1.0 + sign * ulp), n_padding,
                             case.count_include_pad, base.grad_param is not None)
        except (OracleDomainError, ArithmeticError, ValueError):
            continue
        dy = max(dy, _gap(wv.value, base.value))
        dgrads = [max(a, _gap(u, v)) for a, u, v in zip(dgrads, wv.grad_inputs,
                                                        base.grad_inputs)]
        if wv.grad_param is not None and base.grad_param is not None:
            dpar = max(dpar, _gap(wv.grad_param, base.grad_param))
    return dy, dgrads, dpar


def _gap(a, b) -> float:
    d = abs(_float(a) - _float(b))
    return d if math.isfinite(d) else 0.0


def expected_for(case: Case, gradients: bool = True) -> Expected:
    """Oracle results for a valid case (raises the oracle's errors for an invalid one)."""
    info = get_operator(case.op)
    r = reference(case.op, case.input, case.param, dims=case.dims,
                  count_include_pad=case.count_include_pad, grad_output=case.grad_output,
                  dtype=case.dtype, gradients=gradients, **case.geometry_kwargs)
    out = np.asarray(r.output, dtype=np.float64)
    gin = None if r.grad_input is None else np.asarray(r.grad_input, dtype=np.float64)
    gpar = None if r.grad_param is None else float(np.asarray(r.grad_param).sum())
    # scales
    geometry = make_geometry(case.dims, **case.geometry_kwargs)
    x = case.input if case.input.ndim == case.dims + 2 else case.input[None]
    B, C = x.shape[:2]
    spatial = x.shape[2:]
    windows = list(iter_windows(geometry, spatial))
    g = np.ones((B, C, len(windows))) if case.grad_output is None else \
        np.asarray(case.grad_output, dtype=np.float64).reshape(B, C, -1)
    out_scale = np.zeros((B, C, len(windows)))
    gin_scale = np.zeros(x.shape) if gradients else None
    gpar_scale = 0.0
    fmt = get_format(case.dtype)
    ulp = math.ldexp(1.0, 1 - fmt.precision)  # one unit in the last place, relative
    amplify = math.ldexp(1.0, fmt.precision - 1)  # a change of `ulp` -> a scale whose ULP it is
    with workprec(64), np.errstate(over="ignore"):
        for b in range(B):
            for c in range(C):
                plane = x[b, c]
                for j, w in enumerate(windows):
                    xs = [float(plane[p]) for p in w.positions]
                    out_scale[b, c, j] = max((abs(v) for v in xs), default=0.0)
                    if not gradients:
                        continue
                    wv = info.window(xs, case.param, w.n_padding, case.count_include_pad,
                                     info.has_param)
                    weight = abs(g[b, c, j])
                    norm = max((abs(_float(d)) for d in wv.grad_inputs), default=0.0)
                    dy, dgrads, dpar = _sensitivity(info, xs, case, w.n_padding, wv, ulp)
                    out_scale[b, c, j] = max(out_scale[b, c, j], dy * amplify)
                    for p, dg in zip(w.positions, dgrads):
                        gin_scale[(b, c) + p] += weight * max(norm, dg * amplify)
                    if wv.grad_param is not None:
                        logs = max((abs(math.log(v)) for v in xs if v > 0), default=0.0)
                        terms = abs(_float(wv.value)) * logs * (1 + 1 / max(abs(case.param),
                                                                            1e-300))
                        gpar_scale += weight * max(abs(_float(wv.grad_param)) + terms,
                                                   dpar * amplify)
    out_scale = out_scale.reshape(out.shape if case.input.ndim == case.dims + 2
                                  else out.shape)
    if gin_scale is not None and case.input.ndim != case.dims + 2:
        gin_scale = gin_scale[0]
    if not math.isfinite(gpar_scale):
        gpar_scale = 0.0
    return Expected(out, gin, gpar, out_scale, gin_scale, gpar_scale, r.notes)
