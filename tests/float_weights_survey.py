"""Survey for a design not built: global pooling's weights in float, against the oracle.

    python -m tests.float_weights_survey [--planes N] [--seed S] [--noise K]

The global and large-window rows of the matrices spend their time in each element's weight
x^a = exp(a ln(x / R)) in double (``tests.float_weights_bench``: 3.6 cycles per element on an
AMD EPYC core, 0.8 for a float sketch). Whether weights in float keep the outputs where they
are today (the survey's float32 forward: 0 ULP for global pooling) is a question for the
oracle, asked here in numpy before any kernel code: float32 inputs drawn as the checker draws
them (``conformance.values``), one global window per plane (7 x 7 and 56 x 56), for
P-pooling (``y = sum w x / sum w``) and the power mean (``y = R (sum w / n)^(1/p)``), each
computed two ways and rounded to float32:

* double: the weights in float64 (``numpy.exp(a * numpy.log(x / R))``), as the kernel does;
* float: ``r = x / R`` in float32, ``w = exp2(float32(a) * log2(r))`` in float32 (numpy's
  float32 log2 and exp2, about 1 ULP each), then ``w`` times ``1 + K (1 + |a log2 r|) u e``
  (``e`` uniform in [-1, 1], ``u = 2^-24``, ``K`` = ``--noise``, default 0) to model a faster
  polynomial's error, which grows with the argument as the sketch's does; the sums in double.

``R`` is the window's largest element (a > 0) or smallest positive (a < 0). Printed per
operator, exponent and value kind: the largest ULP distance from the oracle's correctly rounded
float32 output and how many of the outputs differ from it, for each way. Not run by the suite.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ppverify.conformance.values import draw_values
from ppverify.oracle import get_format, reference, ulp_distance

KINDS = ("random", "activations", "integers", "ties", "near-ties", "all-equal", "tiny")
PARAMS = {"ppool": (2.5, 8.0, -1.5, 0.5), "powermean": (3.1, 8.0, -1.5, 0.5)}
SIZES = (7, 56)


def outputs(op: str, x: np.ndarray, a: float, how: str, noise: float,
            rng: np.random.Generator) -> np.ndarray:
    """Each plane's global output (float64, before the rounding to float32) by ``how``."""
    planes = x.reshape(x.shape[0], -1).astype(np.float64)
    out = np.empty(planes.shape[0])
    for i, v in enumerate(planes):
        pos = v[v > 0]
        if pos.size == 0:
            out[i] = 0.0
            continue
        R = pos.max() if a > 0 else pos.min()
        if how == "double":
            w = np.where(v > 0, np.exp(a * np.log(np.where(v > 0, v, 1.0) / R)), 0.0)
        else:
            r = v.astype(np.float32) / np.float32(R)
            t = np.float32(a) * np.log2(np.where(r > 0, r, np.float32(1.0)))
            w32 = np.exp2(t).astype(np.float32)
            if noise:
                e = rng.uniform(-1.0, 1.0, w32.size)
                w32 = (w32.astype(np.float64) * (1.0 + noise * (1.0 + np.abs(t)) * 2.0**-24 * e))
            w = np.where(v > 0, np.asarray(w32, dtype=np.float64), 0.0)
        S = w.sum()
        if op == "ppool":
            out[i] = (w * v).sum() / S
        else:
            out[i] = R * (S / v.size) ** (1.0 / a)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--planes", type=int, default=12, help="planes per case (default 12)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=0.0,
                    help="K: model a polynomial's error of K (1 + |a log2 r|) float ULPs")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    fmt = get_format("float32")
    print(f"{'op':9s} {'a':>5s} {'kind':12s} {'size':>5s}   double: max ULP / differ   "
          f"float: max ULP / differ   (of n outputs)")
    worst = {"double": 0.0, "float": 0.0}
    for op, params in PARAMS.items():
        for a in params:
            for kind in KINDS:
                for size in SIZES:
                    x = draw_values(rng, kind, (1, args.planes, size, size), "float32",
                                    signed=False, allow_zero=a > 0, dims=2)
                    ref = reference(op, x, a, output_size=1, dims=2, dtype="float32",
                                    gradients=False).output.astype(np.float64).ravel()
                    line = f"{op:9s} {a:5g} {kind:12s} {size:5d}  "
                    for how in ("double", "float"):
                        y = outputs(op, x[0], a, how, args.noise, rng)
                        y32 = y.astype(np.float32).astype(np.float64)
                        d = ulp_distance(y32, ref, fmt).astype(np.float64)
                        worst[how] = max(worst[how], float(d.max()))
                        line += f"   {how}: {d.max():4.0f} / {int((d > 0).sum()):3d}"
                    print(line + f"   (of {ref.size})", flush=True)
    print(f"largest: double {worst['double']:.0f} ULP, float {worst['float']:.0f} ULP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
