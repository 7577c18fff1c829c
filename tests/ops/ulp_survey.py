"""Survey the ops' worst errors against the oracle over the whole adversarial suite.

    python -m tests.ops.ulp_survey                 # P-pooling, all four dtypes, the op's own path
    python -m tests.ops.ulp_survey float64 --fallback
    python -m tests.ops.ulp_survey --op powermean  # or lp: windowed and adaptive forms

Prints, per dtype and layout kind (windowed: torch's pooling windows, ``tests/ops/_cases.py``
GEOMETRIES; adaptive: adaptive and global windows, ADAPTIVE_GEOMETRIES), the largest forward
ULP distance and the largest raw ULP distances of the gradients (which may be large where the
"64 units of roundoff relative to the largest gradient in the window" clause applies), and the
number of cases outside the tolerances of ``tests/ops/_compare.py`` (expected 0). The tests run
a rotating subset of the same grid.
"""

from __future__ import annotations

import argparse
import time

import torch

from ._cases import ADAPTIVE_GEOMETRIES, ALPHAS, GEOMETRIES, KINDS, values
from ._compare import check_adaptive_case, check_case

P_VALUES = [-3.0, -0.5, -0.05, 0.0, 0.05, 0.5, 1.0, 2.0, 3.0, 8.0, 30.0, 1e3]


def _params(op: str, kind: str) -> list[float]:
    if op == "ppool":
        return ALPHAS
    values_ = [p for p in P_VALUES if not (op == "lp" and p == 0)]
    if kind in ("zeros", "tiny"):  # a zero with p <= 0 is outside the domain
        values_ = [p for p in values_ if p > 0]
    return values_


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dtypes", nargs="*", default=["float64", "float32", "float16",
                                                      "bfloat16"])
    parser.add_argument("--fallback", action="store_true", help="force the pure-torch path")
    parser.add_argument("--op", choices=["ppool", "powermean", "lp"], default="ppool")
    parser.add_argument("--seed", type=int, default=1,
                        help="the generator's seed (1: the README's table)")
    args = parser.parse_args()
    if args.fallback:
        from ppverify.ops import _dispatch

        _dispatch._use_native = lambda x: False
    gen = torch.Generator().manual_seed(args.seed)
    for name in args.dtypes:
        dtype = getattr(torch, name)
        runs = []
        if args.op == "ppool":  # windowed power mean and Lp: `ppverify check --thorough`
            runs.append(("windowed", [
                (lambda x, a, g=g: check_case(x, a, *g[2:], dims=g[0]), g[1])
                for g in GEOMETRIES]))
        runs.append(("adaptive", [
            (lambda x, a, g=g: check_adaptive_case(args.op, x, a, g[2], dims=g[0]), g[1])
            for g in ADAPTIVE_GEOMETRIES]))
        for label, geometries in runs:
            worst: dict[str, float] = {}
            by_ulp: dict[float, int] = {}  # cases by their forward ULP error
            failures, cases, t0 = 0, 0, time.time()
            for run, spatial in geometries:
                for kind in KINDS:
                    for param in _params(args.op, kind):
                        x = values(kind, (1, 2) + spatial, dtype, gen)
                        cases += 1
                        try:
                            errs = run(x, param)
                            for key, v in errs.items():
                                worst[key] = max(worst.get(key, 0.0), v)
                            fwd = errs.get("forward", 0.0)
                            by_ulp[fwd] = by_ulp.get(fwd, 0) + 1
                        except AssertionError as err:
                            failures += 1
                            print(f"  outside tolerance: {str(err)[:300]}")
            grad_param = worst.get("grad_alpha", worst.get("grad_param", 0))
            print(f"{args.op} {label} {name}: {cases} cases, forward max "
                  f"{worst.get('forward', 0):g} ULP, grad_input max "
                  f"{worst.get('grad_input', 0):.3g} ULP (raw), grad_param max "
                  f"{grad_param:.3g} ULP (raw), {failures} outside tolerance "
                  f"[{time.time() - t0:.0f} s]")
            counts = ", ".join(f"{k:g}: {n}" for k, n in sorted(by_ulp.items()) if k > 0)
            print(f"  cases by forward ULP error (above 0): {counts or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
