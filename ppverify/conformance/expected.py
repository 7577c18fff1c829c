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

An implementation that rounds a few times per term has an error of a few ULP *of the scale*;
``compare`` allows the tolerance in ULP of the result or of its scale, whichever is larger.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..oracle import get_operator, reference
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
                    for p in w.positions:
                        gin_scale[(b, c) + p] += weight * norm
                    if wv.grad_param is not None:
                        logs = max((abs(math.log(v)) for v in xs if v > 0), default=0.0)
                        terms = abs(_float(wv.value)) * logs * (1 + 1 / max(abs(case.param),
                                                                            1e-300))
                        gpar_scale += weight * (abs(_float(wv.grad_param)) + terms)
    out_scale = out_scale.reshape(out.shape if case.input.ndim == case.dims + 2
                                  else out.shape)
    if gin_scale is not None and case.input.ndim != case.dims + 2:
        gin_scale = gin_scale[0]
    if not math.isfinite(gpar_scale):
        gpar_scale = 0.0
    return Expected(out, gin, gpar, out_scale, gin_scale, gpar_scale, r.notes)
