"""Survey the op's worst errors against the oracle over the whole adversarial suite.

    python -m tests.ops.ulp_survey                 # all four dtypes, the op's own path choice
    python -m tests.ops.ulp_survey float64 --fallback

Prints, per dtype, the largest forward ULP distance and the largest raw ULP distances of the
gradients (which may be large where the issue's "64 units of roundoff relative to the largest
gradient in the window" clause applies), and the number of cases outside the tolerances of
``tests/ops/_compare.py`` (expected 0). The tests run a rotating subset of the same grid.
"""

from __future__ import annotations

import argparse
import time

import torch

from ._cases import ALPHAS, GEOMETRIES, KINDS, values
from ._compare import check_case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dtypes", nargs="*", default=["float64", "float32", "float16",
                                                      "bfloat16"])
    parser.add_argument("--fallback", action="store_true", help="force the pure-torch path")
    args = parser.parse_args()
    if args.fallback:
        from ppverify.ops import _dispatch

        _dispatch._use_native = lambda x: False
    gen = torch.Generator().manual_seed(1)
    for name in args.dtypes:
        dtype = getattr(torch, name)
        worst: dict[str, float] = {}
        failures, cases, t0 = 0, 0, time.time()
        for dims, spatial, k, s, p, d, cm in GEOMETRIES:
            for kind in KINDS:
                for alpha in ALPHAS:
                    x = values(kind, (1, 2) + spatial, dtype, gen)
                    cases += 1
                    try:
                        for key, v in check_case(x, alpha, k, s, p, d, cm, dims=dims).items():
                            worst[key] = max(worst.get(key, 0.0), v)
                    except AssertionError as err:
                        failures += 1
                        print(f"  outside tolerance: {str(err)[:300]}")
        print(f"{name}: {cases} cases, forward max {worst.get('forward', 0):g} ULP, "
              f"grad_input max {worst.get('grad_input', 0):.3g} ULP (raw), grad_alpha max "
              f"{worst.get('grad_alpha', 0):.3g} ULP (raw), {failures} outside tolerance "
              f"[{time.time() - t0:.0f} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
