"""Scan the large-window adversary: one dominant element and N - 1 equal elements whose
weights sum to about as much (a development tool; the tests hold the cases it found).

    python -m tests.adversary_probe [--op ppool|powermean|lp] [--path native|fallback|triton]
        [--arithmetic float64|mixed] [--dtype D] [--n N] [--params P ...] [--count C]
        [--step S]

For each parameter (alpha or p), ``C`` windows of ``N`` elements (global 1-D pooling): one
element ``R`` (1, or for p < 0 the smallest) and ``N - 1`` copies of ``t``, where ``t`` runs
over ``C`` float32 values ``S`` units in the last place apart around the balance point
(``t^a (N - 1) = 1``, or for the power mean and Lp ``t^p = 1/2``). Equal elements share every
rounding error, so nothing averages out (``_triton_kernels.py``'s mixed section derives the
bound this probes). The reference is the closed form at 200 bits (mpmath): P-pooling
``(R^(a+1) + n t^(a+1)) / (R^a + n t^a)``, the power mean ``((R^p + n t^p) / N)^(1/p)``, Lp
``(R^p + n t^p)^(1/p)``. Prints per parameter the largest error before rounding (in ULP of
the dtype at the reference) and how many outputs are 2 or more ULP from the correctly rounded
value. Paths: the compiled CPU kernel, the pure-torch path, or the Triton kernels through the
interpreter (``--arithmetic``). Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os

import mpmath
import numpy as np
import torch


def _reference(op: str, a: float, t: float, R: float, n: int, N: int):
    a, t, R = mpmath.mpf(a), mpmath.mpf(t), mpmath.mpf(R)
    if op == "ppool":
        return (R ** (a + 1) + n * t ** (a + 1)) / (R ** a + n * t ** a)
    s = R ** a + n * t ** a
    return (s / N if op == "powermean" else s) ** (1 / a)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", choices=("ppool", "powermean", "lp"), default="ppool")
    parser.add_argument("--path", choices=("native", "fallback", "triton"), default="native")
    parser.add_argument("--arithmetic", choices=("float64", "mixed"), default="float64",
                        help="with --path triton (default float64)")
    parser.add_argument("--dtype", default="float32",
                        choices=("float64", "float32", "float16", "bfloat16"))
    parser.add_argument("--n", type=int, default=12544, help="window elements (default 12544)")
    parser.add_argument("--params", type=float, nargs="+", default=[24.0, 28.0, 32.0])
    parser.add_argument("--count", type=int, default=64, help="values of t per parameter")
    parser.add_argument("--step", type=int, default=97, help="float32 ULPs between t values")
    args = parser.parse_args(argv)
    if args.path == "triton":
        os.environ["PPVERIFY_TRITON"] = "cpu"
        os.environ["PPVERIFY_TRITON_ARITHMETIC"] = args.arithmetic
    from ppverify.ops import _dispatch, functional, power_mean

    if args.path == "fallback":
        _dispatch._use_native = lambda x: False
    fn = {"ppool": functional.adaptive_p_pool1d, "powermean": power_mean.adaptive_gem_pool1d,
          "lp": power_mean.adaptive_lp_pool1d}[args.op]
    dtype = getattr(torch, args.dtype)
    mpmath.mp.prec = 200
    N, n = args.n, args.n - 1
    for a in args.params:
        center = (np.exp(-np.log(n) / a) if args.op == "ppool" else 0.5 ** (1 / a))
        bits = (np.float32(center).view(np.int32)
                + np.arange(-(args.count // 2), args.count - args.count // 2,
                            dtype=np.int32) * args.step)
        ts = torch.tensor(bits.view(np.float32).astype(np.float64)).to(dtype)
        x = ts[:, None].repeat(1, N)
        x[:, 0] = 1.0 if a > 0 else ts / 4  # the dominant element: the max, or for a < 0 the min
        y = fn(x[None], torch.full((args.count,), a, dtype=torch.float64), 1).reshape(-1)
        worst, far = 0.0, 0
        for c in range(args.count):
            ref = _reference(args.op, a, float(ts[c]), float(x[c, 0]), n, N)
            rounded = float(torch.tensor(float(ref), dtype=torch.float64).to(dtype))
            step = float(torch.finfo(dtype).eps) * 2.0 ** np.floor(np.log2(abs(float(ref))))
            got = float(y[c])
            worst = max(worst, abs(float((mpmath.mpf(got) - ref) / step)))
            far += abs(got - rounded) >= 2 * step
        print(f"{args.op} {args.path}{'/' + args.arithmetic if args.path == 'triton' else ''} "
              f"{args.dtype} N={N} param {a:g}: largest error {worst:.2f} ULP, {far} of "
              f"{args.count} outputs 2+ ULP from the correctly rounded value", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
