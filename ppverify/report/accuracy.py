"""Figure family 5: accuracy maps of ``ppverify.ops`` (and of the direct formula) in ULP.

For each dtype (float16, bfloat16, float32, float64), over a grid of alpha (values exactly
representable in every dtype, so that no rounding of alpha enters the comparison) and of input
magnitude ``2^e`` (the dtype's whole exponent range, subnormals included), random 2 x 2 windows
``2^e * u`` with ``u`` in [1, 4) (fixed seed, rounded to the dtype) are pooled by

* ``ppverify.ops.p_pool2d`` in that dtype, and
* the direct formula ``avg_pool2d(x^(alpha+1)) / avg_pool2d(x^alpha)`` in that dtype,

forward and backward (the gradient of ``sum(y)`` with respect to every input: the op's own
backward, autograd through the direct formula), and compared with the oracle's correctly
rounded value (``ppverify.oracle.reference``). A cell shows the worst window.

* Forward: ``ulp_distance(y, oracle)``, in ULP of the dtype at the value.
* Input gradient: ``|g - oracle| / ulp(max_j |oracle_j|)``, in ULP of the window's largest
  gradient. An element's gradient can be much smaller than its window's (it changes sign with
  alpha, figure 2), and a gradient formed from window-sized terms carries an absolute error of
  a few ULP *of the window's scale*: measured in ULP of its own tiny value it reads 1e4 ULP and
  more without being wrong. The op's tests bound it the same way (``tests/ops/_compare.py``:
  within 8 ULP of the value or 64 unit roundoffs of the window's largest gradient).

Non-finite results (NaN or inf from overflow/underflow of ``x^alpha``) are drawn grey.

This figure is a *measurement* of floating-point code on one machine: its numbers depend on the
CPU, the torch build and its vectorised math library. ``measure`` returns a record of the
measured cells with a ``measured_on`` label (machine, CPU capability, torch version, date,
command); the report stores it as ``reports/data/accuracy.json`` and ``draw`` renders the
figure from the record alone, so the figure can be redrawn and compared without re-measuring.
torch is imported only by ``measure``; without torch or ``ppverify.ops`` the driver skips the
figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap

from ..oracle import get_format, reference, ulp_distance
from .content import json_number
from .style import new_figure

DTYPES = ("float16", "bfloat16", "float32", "float64")
ALPHAS = (-64.0, -16.0, -4.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0, 16.0, 64.0, 256.0)
ALPHAS_QUICK = (-16.0, -1.0, 0.0, 1.0, 4.0, 64.0)
SEED = 20240605
#: colour classes of the worst error in ULP: upper bounds (inclusive)
BOUNDS = (0, 1, 4, 16, 256, 65536, np.inf)
LABELS = ("0 (correctly rounded)", "1", "2–4", "5–16", "17–256", "257–65536", "> 65536")
#: 0 ULP is a colour of its own (pale blue), not the background: an all-0 panel is not empty
COLOURS = ("#CFE3F3", "#FDE725", "#E69F00", "#D55E00", "#CC79A7", "#6A3D9A", "#000000")
COMMAND = "ppverify report --only accuracy"


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


def window_scale_error(got: np.ndarray, expected: np.ndarray, dtype: str,
                       windows_shape: tuple[int, ...]) -> np.ndarray:
    """``|got - expected| / ulp(max |expected| over the window)``, per element.

    ``windows_shape`` reshapes the arrays so that axes 2 and 4 run over a 2 x 2 window:
    ``(n_alpha, n_exps, 2, n_samples, 2)``.
    """
    fmt = get_format(dtype)
    g = np.asarray(got, dtype=np.float64).reshape(windows_shape)
    e = np.asarray(expected, dtype=np.float64).reshape(windows_shape)
    scale = np.abs(e).max(axis=(2, 4), keepdims=True)
    ulp = np.vectorize(fmt.ulp, otypes=[np.float64])(np.broadcast_to(scale, e.shape))
    with np.errstate(invalid="ignore"):
        err = np.abs(g - e) / ulp
    return np.where(np.isfinite(g), err, np.inf)


def measure_dtype(dtype: str, alphas, exps: np.ndarray, n_samples: int) -> dict[str, np.ndarray]:
    """Worst error per (alpha, exponent) cell; ``inf`` marks a non-finite result.

    Keys: ``ops``, ``direct`` (forward, ULP of the value) and ``ops grad``, ``direct grad``
    (the input gradient of ``sum(y)``, ULP of the window's largest gradient, worst element of
    the window; autograd of the direct formula).
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
    n_a, n_e = len(alphas), len(exps)
    windows_shape = (n_a, n_e, 2, n_samples, 2)
    results = {}
    for name, value in (("ops", ops_out), ("direct", direct)):
        c = value.detach().to(torch.float64).numpy()
        d = np.where(np.isfinite(c), ulp_distance(c, ref, dtype), np.inf)
        results[name] = d[0].max(axis=-1)  # (n_alpha, n_exps)
    for name, grad in (("ops grad", xo.grad), ("direct grad", xd.grad)):
        err = window_scale_error(grad.to(torch.float64).numpy(), ref_grad, dtype, windows_shape)
        results[name] = err.max(axis=(2, 3, 4))
    return results


def measured_on() -> dict[str, str]:
    """The label of a measurement: machine, CPU capability, torch, date and the command."""
    import datetime
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown")()
    return {
        "machine": f"{cpu} ({platform.machine()}, {platform.system()})",
        "cpu_capability": str(capability),
        "torch": torch.__version__,
        "date": datetime.date.today().isoformat(),
        "command": COMMAND,
    }


def measure(quick: bool = False) -> dict:
    """The whole measurement as a JSON-ready record (see the module docstring)."""
    alphas = ALPHAS_QUICK if quick else ALPHAS
    n_exp = 12 if quick else 36
    n_samples = 3 if quick else 8
    dtypes = {}
    for dtype in DTYPES:
        exps = exponents(dtype, n_exp)
        panels = measure_dtype(dtype, alphas, exps, n_samples)
        dtypes[dtype] = {"exponents": [int(e) for e in exps],
                         **{key: [[json_number(v) for v in row] for row in panels[key]]
                            for key, *_ in ROWS}}
    return {"figure": "accuracy", "kind": "measured", "quick": quick,
            "measured_on": measured_on(), "alphas": list(alphas),
            "samples_per_cell": n_samples, "dtypes": dtypes}


def cells(record: dict, dtype: str, key: str) -> np.ndarray:
    """One panel of a record as an array of floats (``inf`` for a non-finite result)."""
    rows = record["dtypes"][dtype][key]
    return np.array([[float(v) for v in row] for row in rows], dtype=np.float64)


def worst(record: dict, key: str) -> dict[str, float]:
    """The worst finite error of one row (``ops``, ``ops grad``, ...) per dtype."""
    out = {}
    for dtype in record["dtypes"]:
        data = cells(record, dtype, key)
        finite = data[np.isfinite(data)]
        out[dtype] = float(finite.max()) if finite.size else float("nan")
    return out


#: (record key, panel name, unit of the error)
ROWS = (("ops", "ops y", "ULP"),
        ("direct", "direct y", "ULP"),
        ("ops grad", "ops ∂y/∂x", "ULP of window max"),
        ("direct grad", "direct ∂y/∂x", "ULP of window max"))


def label(record: dict) -> str:
    """One line naming where and when the record was measured."""
    m = record["measured_on"]
    return (f"measured on {m['machine']}, ATen CPU capability {m['cpu_capability']}, "
            f"torch {m['torch']}, {m['date']} (`{m['command']}`)")


def draw(record: dict):
    """The figure of a measurement record (no torch needed)."""
    alphas = record["alphas"]
    dtypes = [d for d in DTYPES if d in record["dtypes"]]  # JSON keys come back sorted
    fig = new_figure(13.0, 13.6)
    axes = fig.subplots(len(ROWS), len(dtypes))
    cmap = ListedColormap(list(COLOURS)).with_extremes(bad="#9E9E9E")
    norm = BoundaryNorm([-0.5, 0.5, 1.5, 4.5, 16.5, 256.5, 65536.5, 1e300], cmap.N)
    mesh = None
    for col, dtype in enumerate(dtypes):
        exps = np.array(record["dtypes"][dtype]["exponents"])
        for row, (key, name, unit) in enumerate(ROWS):
            data = cells(record, dtype, key)
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
            top = f"{finite.max():.3g}" if finite.size else "—"
            bad = int(np.sum(~np.isfinite(data)))
            ax.set_title(f"{name}, {dtype}\nworst {top} {unit}"
                         + (f", {bad} NaN/inf" if bad else ""), fontsize=8.5)
    cbar = fig.colorbar(mesh, ax=axes.ravel().tolist(), shrink=0.45,
                        ticks=[0, 1, 3, 10.5, 136.5, 32896.5, 1e150])
    cbar.ax.set_yticklabels(LABELS)
    cbar.set_label("worst error per cell (grey: NaN/inf)\ny: ULP of the value; "
                   "∂y/∂x: ULP of the window's largest |∂y/∂x|")
    fig.suptitle("Accuracy against the correctly rounded oracle, in ULP of each dtype\n"
                 "ops = ppverify.ops.p_pool2d; direct = avg_pool(x^(α+1)) / avg_pool(x^α) in "
                 "the same dtype; ∂y/∂x = input gradient of Σy (worst element; autograd for "
                 "direct)\n"
                 + label(record).replace("`", ""), fontsize=10)
    return fig


def build(quick: bool = False):
    """Measure and draw (what ``ppverify report`` does for this figure)."""
    return draw(measure(quick))
