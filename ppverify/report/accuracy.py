"""Figure family 5: accuracy maps of ``ppverify.ops`` (and of the direct formula) in ULP.

For each dtype (float16, bfloat16, float32, float64), over a grid of alpha (values exactly
representable in every dtype, so that no rounding of alpha enters the comparison) and of input
magnitude ``2^e`` (the dtype's whole exponent range, subnormals included), random 2 x 2 windows
``2^e * u`` with ``u`` in [1, 4) (fixed seed, rounded to the dtype) are pooled by

* ``ppverify.ops.p_pool2d`` in that dtype, and
* the direct formula ``avg_pool2d(x^(alpha+1)) / avg_pool2d(x^alpha)`` in that dtype,

forward and backward (the gradient of ``sum(y)`` with respect to every input: the op's own
backward, autograd through the direct formula), and compared with the oracle's correctly
rounded value (``ppverify.oracle.reference``) with ``ppverify.oracle.ulp_distance``. A cell
shows the worst window. Non-finite results (NaN or inf from overflow/underflow of
``x^alpha``) are drawn grey. torch is imported only when the figure is drawn; without torch or
``ppverify.ops`` the driver skips the figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from ..oracle import get_format, reference, ulp_distance
from .style import new_figure

DTYPES = ("float16", "bfloat16", "float32", "float64")
ALPHAS = (-64.0, -16.0, -4.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0, 16.0, 64.0, 256.0)
ALPHAS_QUICK = (-16.0, -1.0, 0.0, 1.0, 4.0, 64.0)
SEED = 20240605
#: colour classes of the worst ULP error: upper bounds (inclusive)
BOUNDS = (0, 1, 4, 16, 256, 65536, np.inf)
LABELS = ("0 (correctly rounded)", "1", "2–4", "5–16", "17–256", "257–65536", "> 65536")


def exponents(dtype: str, n: int) -> np.ndarray:
    """About ``n`` evenly spaced binary exponents spanning the dtype, subnormals included."""
    f = get_format(dtype)
    lo = f.emin - f.precision + 3
    hi = f.emax - 2
    step = max(1, -(-(hi - lo) // (n - 1)))
    return np.arange(lo, hi + 1, step)


def _windows(dtype: str, exps: np.ndarray, n_samples: int, n_alpha: int) -> np.ndarray:
    """Input of shape (1, n_alpha, 2*len(exps), 2*n_samples), exactly representable in dtype."""
    import torch

    rng = np.random.default_rng(SEED)
    u = rng.uniform(1.0, 4.0, size=(n_alpha, len(exps), 2, n_samples, 2))
    x = np.ldexp(u, exps[None, :, None, None, None].astype(np.int64))
    x = x.reshape(1, n_alpha, 2 * len(exps), 2 * n_samples)
    t = torch.tensor(x, dtype=torch.float64).to(getattr(torch, dtype))
    return t


def measure(dtype: str, alphas, exps: np.ndarray, n_samples: int) -> dict[str, np.ndarray]:
    """Worst ULP error per (alpha, exponent) cell; ``inf`` marks a non-finite result.

    Keys: ``ops``, ``direct`` (forward) and ``ops grad``, ``direct grad`` (the input gradient
    of ``sum(y)``, worst element of the window; autograd of the direct formula).
    """
    import torch
    import torch.nn.functional as F

    from ..ops import p_pool2d

    t = _windows(dtype, exps, n_samples, len(alphas))
    x64 = t.to(torch.float64).numpy()
    oracle = reference("ppool", x64, list(alphas), 2, dims=2, dtype=dtype)
    ref = np.asarray(oracle.output, dtype=np.float64)
    ref_grad = np.asarray(oracle.grad_input, dtype=np.float64)
    a = torch.tensor(alphas, dtype=torch.float64)
    xo = t.clone().requires_grad_(True)
    ops_out = p_pool2d(xo, a, 2)
    ops_out.sum().backward()
    xd = t.clone().requires_grad_(True)
    ad = a.to(t.dtype).view(1, -1, 1, 1)
    direct = F.avg_pool2d(xd ** (ad + 1), 2) / F.avg_pool2d(xd ** ad, 2)
    direct.sum().backward()
    candidates = {
        "ops": (ops_out.detach(), ref),
        "direct": (direct.detach(), ref),
        "ops grad": (xo.grad, ref_grad),
        "direct grad": (xd.grad, ref_grad),
    }
    n_a, n_e = len(alphas), len(exps)
    results = {}
    for name, (value, expected) in candidates.items():
        c = value.to(torch.float64).numpy()
        d = ulp_distance(c, expected, dtype)
        d = np.where(np.isfinite(c), d, np.inf)
        if name.endswith("grad"):
            results[name] = d.reshape(n_a, n_e, 2, n_samples, 2).max(axis=(2, 3, 4))
        else:
            results[name] = d[0].max(axis=-1)  # (n_alpha, n_exps)
    return results


ROWS = (("ops", "ops y"),
        ("direct", "direct y"),
        ("ops grad", "ops ∂y/∂x"),
        ("direct grad", "direct ∂y/∂x (autograd)"))


def build(quick: bool = False):
    alphas = ALPHAS_QUICK if quick else ALPHAS
    n_exp = 12 if quick else 36
    n_samples = 3 if quick else 8
    fig = new_figure(13.0, 13.0)
    axes = fig.subplots(len(ROWS), len(DTYPES))
    colours = ["#FFFFFF", "#FDE725", "#E69F00", "#D55E00", "#CC79A7", "#6A3D9A", "#000000"]
    cmap = ListedColormap(colours).with_extremes(bad="#9E9E9E")
    norm = BoundaryNorm([-0.5, 0.5, 1.5, 4.5, 16.5, 256.5, 65536.5, 1e300], cmap.N)
    mesh = None
    for col, dtype in enumerate(DTYPES):
        exps = exponents(dtype, n_exp)
        measured = measure(dtype, alphas, exps, n_samples)
        for row, (key, name) in enumerate(ROWS):
            data = measured[key]
            ax = axes[row, col]
            shown = np.ma.masked_invalid(np.where(np.isinf(data), np.nan, data)).T
            half = (exps[1] - exps[0]) / 2 if len(exps) > 1 else 0.5
            mesh = ax.imshow(shown, cmap=cmap, norm=norm, origin="lower", aspect="auto",
                             interpolation="nearest",
                             extent=(0, len(alphas), exps[0] - half, exps[-1] + half))
            ax.set_xticks(np.arange(len(alphas)) + 0.5, [f"{a:g}" for a in alphas],
                          rotation=90)
            ax.set_xlabel("α")
            ax.set_ylabel("input magnitude, log₂")
            ax.grid(False)
            finite = data[np.isfinite(data)]
            worst = f"{finite.max():.3g}" if finite.size else "—"
            bad = int(np.sum(~np.isfinite(data)))
            ax.set_title(f"{name}, {dtype}\nworst {worst} ULP"
                         + (f", {bad} non-finite" if bad else ""), fontsize=9)
    cbar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.45,
                        ticks=[0, 1, 3, 10.5, 136.5, 32896.5, 1e150])
    cbar.ax.set_yticklabels(LABELS)
    cbar.set_label("worst error per cell, ULP of the dtype (grey: NaN/inf)")
    fig.suptitle("Accuracy against the correctly rounded oracle, in ULP of each dtype\n"
                 "ops = ppverify.ops.p_pool2d; direct = avg_pool(x^(α+1)) / avg_pool(x^α) in "
                 "the same dtype; ∂y/∂x = input gradient of Σy (worst element)", fontsize=11)
    return fig

