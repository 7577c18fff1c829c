"""dy/dalpha of windows of nearly equal values, against the oracle, in ULP of the dtype.

    python -m tests.ops.dalpha_probe [--planes]

Values ``scale * (1 + spread * U(0, 1))`` (``torch.manual_seed(0)``) rounded to each narrow dtype,
scales 1, 1e30, 1e-30 (float16: 1, 3e3, 1e-3), spreads 1e-2, 1e-4, 1e-6, alpha 0, 1, 2, 2.5,
-1.5, (1, 8, 32, 32) with global windows and k4 windows; ``ppverify.ops`` with a learnable alpha
(the saving forward's state), the parameter gradient compared with the oracle's correctly
rounded one. Prints, per dtype and layout, the worst ULP distance and every case above 2 ULP.
``--planes``: single planes (1, 1, 32, 32) to (1, 1, 512, 512) and (1, 2, 128, 64) at 1e30,
spreads 1e-6 and 1e-5, float32, the worst over those alphas (the sums' rounding grew with the
window until the sums were taken row by row). The README's and the history's figures for the
2026-12-06 fixes of dy/dalpha's reference and sums (tests/ops/test_dalpha_reference.py holds the
bound); a development tool, not run by the suite.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ppverify.ops import adaptive_p_pool2d, p_pool2d
from ppverify.oracle import reference, ulp_distance

ALPHAS = (0.0, 1.0, 2.0, 2.5, -1.5)


def _dalpha_ulps(x: torch.Tensor, alpha: float, layout: str, dtype: str) -> tuple[float, float,
                                                                                   float]:
    xg = x.clone().requires_grad_()
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)
    if layout == "global":
        y = adaptive_p_pool2d(xg, a, 1)
        r = reference("ppool", x.double().numpy(), np.asarray(alpha), output_size=1, dims=2,
                      dtype=dtype, gradients=True)
    else:
        y = p_pool2d(xg, a, 4, 4)
        r = reference("ppool", x.double().numpy(), np.asarray(alpha), 4, 4, dims=2, dtype=dtype,
                      gradients=True)
    y.backward(torch.ones_like(y))
    got, want = float(a.grad), float(np.asarray(r.grad_param))
    return got, want, float(ulp_distance(np.asarray(got), np.asarray(want), dtype))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--planes", action="store_true", help="single planes (see above)")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.planes:
        for shape in ((1, 1, 32, 32), (1, 2, 128, 64), (1, 1, 112, 112), (1, 1, 224, 224),
                      (1, 1, 512, 512)):
            for spread in (1e-6, 1e-5):
                x = (1e30 * (1 + spread * torch.rand(shape, dtype=torch.float64))).float()
                worst = max(_dalpha_ulps(x, a, "global", "float32")[2] for a in ALPHAS)
                print(f"{shape} spread {spread:g}: worst {worst:.2f} ULP", flush=True)
        return 0
    for layout in ("global", "k4"):
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            name = str(dtype).removeprefix("torch.")
            scales = (1.0, 3e3, 1e-3) if dtype == torch.float16 else (1.0, 1e30, 1e-30)
            worst = 0.0
            for scale in scales:
                for spread in (1e-2, 1e-4, 1e-6):
                    for alpha in ALPHAS:
                        x = (scale * (1 + spread * torch.rand(1, 8, 32, 32,
                                                              dtype=torch.float64))).to(dtype)
                        got, want, ulps = _dalpha_ulps(x, alpha, layout, name)
                        if ulps > 2:
                            print(f"  {name} {layout} scale {scale:g} spread {spread:g} alpha "
                                  f"{alpha}: {got:.9g}, oracle {want:.9g}, {ulps:.3g} ULP")
                        worst = max(worst, ulps)
            print(f"{name} {layout}: worst {worst:.3g} ULP", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
