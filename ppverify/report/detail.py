"""Figure family 6: detail sensitivity, shown on a synthetic image.

The paper's claim is that P-pooling keeps small structures that average pooling dilutes, with
less of max pooling's bias towards the brightest pixel. A 96 x 96 synthetic image (smooth
background with a faint fixed-seed integer texture; one-pixel bright lines, a ring, single bright
pixels; a one-pixel *dark* line across a bright patch) is pooled with 4 x 4 windows, stride 4,
by average, max and P-pooling at several alpha, all computed by the oracle
(``ppverify.oracle.reference``, correctly rounded float64). The last panel measures it: the
fraction of a structure's contrast that survives pooling one window, against alpha:
``(y(window with structure) - background) / (structure - background)``, 0 for a structure that
vanishes, 1 for one kept at full contrast.
"""

from __future__ import annotations

import mpmath
import numpy as np

from ..oracle import reference
from .style import LINESTYLES, PALETTE, asinh_axis, new_figure
from .values import ppool, symmetric_grid, to_float

SIZE = 96
KERNEL = 4
ALPHAS = (-8.0, 1.0, 4.0, 16.0)
BACKGROUND = 0.25
BRIGHT = 1.0
DARK = 0.02
PATCH = 0.8


def _ring(cy: int, cx: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rows and columns of a one-pixel ring, positions rounded from mpmath's sin/cos
    (the platform's libm could round a value near .5 differently on another machine)."""
    rows, cols = [], []
    with mpmath.workprec(80):
        for k in range(8 * r):
            turn = mpmath.mpf(2 * k) / (8 * r)  # angle / pi
            rows.append(int(mpmath.nint(cy + r * mpmath.sinpi(turn))))
            cols.append(int(mpmath.nint(cx + r * mpmath.cospi(turn))))
    return np.array(rows), np.array(cols)


def synthetic_image(size: int = SIZE) -> np.ndarray:
    """The test image, values in [0.02, 1], the same on every machine.

    Built only from exact operations: a fixed-seed integer texture (``Generator.integers`` is
    platform-independent; its normal sampler uses libm), ``+ - * /`` and rounding to three
    decimals, and a ring placed with mpmath.
    """
    rng = np.random.default_rng(20240606)
    yy, xx = np.mgrid[0:size, 0:size] / size
    texture = rng.integers(-40, 41, size=(size, size)) / 1000.0
    img = BACKGROUND + 0.08 * (xx - 0.5) + texture
    img = np.round(img, 3)
    img[size // 5, 4:size - 4] = BRIGHT                       # horizontal one-pixel line
    img[4:size // 2, int(size * 0.72)] = BRIGHT                # vertical one-pixel line
    for t in range(size // 2):                                 # diagonal one-pixel line
        img[size // 2 - 6 + t // 2, 6 + t] = 0.7
    img[_ring(int(size * 0.3), int(size * 0.35), size // 8)] = 0.9   # one-pixel ring
    for k in range(5):                                         # isolated bright pixels
        img[int(size * 0.45) + 3 * k, int(size * 0.85) + (k % 2)] = BRIGHT
    lo, hi = int(size * 0.62), int(size * 0.92)                # bright patch, dark line
    img[lo:hi, 6:size // 2] = PATCH
    img[(lo + hi) // 2, 6:size // 2] = DARK
    img[lo + 3:hi - 3, size // 4] = DARK
    return np.clip(img, DARK, BRIGHT)


def _pool(op: str, img: np.ndarray, param=None) -> np.ndarray:
    r = reference(op, img[None], param, KERNEL, dims=2, gradients=False, dtype="float64")
    return np.asarray(r.output[0], dtype=np.float64)


def _window(structure: str) -> list[float]:
    n = KERNEL * KERNEL
    if structure == "line":
        return [BRIGHT] * KERNEL + [BACKGROUND] * (n - KERNEL)
    if structure == "pixel":
        return [BRIGHT] + [BACKGROUND] * (n - 1)
    return [DARK] * KERNEL + [PATCH] * (n - KERNEL)  # dark line on the bright patch


def retained_contrast(structure: str, alpha: float) -> float:
    """Fraction of a structure's contrast kept by P-pooling one window (oracle)."""
    xs = _window(structure)
    base, value = (PATCH, DARK) if structure == "dark line" else (BACKGROUND, BRIGHT)
    y = to_float(ppool(xs, alpha)[0])
    return (y - base) / (value - base)


def build(quick: bool = False):
    img = synthetic_image()
    pooled = [("average pooling", _pool("avg", img)), ("max pooling", _pool("max", img))]
    pooled += [(f"P-pooling α = {a:g}", _pool("ppool", img, a)) for a in ALPHAS]
    fig = new_figure(12.0, 6.6)
    axes = fig.subplots(2, 4)
    panels = [("input (96 × 96)", img), *pooled]
    flat = axes.ravel()
    image = None
    for k, ax in enumerate(flat[:-1]):
        title, data = panels[k]
        image = ax.imshow(data, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(title if k == 0 else f"{title} (4 × 4, stride 4)", fontsize=9)
        unit = "pixel" if k == 0 else f"output cell = {KERNEL} px"
        ax.set_xlabel(f"column ({unit})", fontsize=7)
        ax.set_ylabel(f"row ({unit})", fontsize=7)
        ax.tick_params(labelsize=6.5)
        ax.grid(False)
    fig.colorbar(image, ax=flat[0], location="left", shrink=0.9, label="intensity")
    ax = flat[-1]
    grid = symmetric_grid(100.0, 20 if quick else 60, 11 if quick else 31)
    structures = [("line", "bright 1-px line (4 of 16 pixels)"),
                  ("pixel", "single bright pixel (1 of 16)"),
                  ("dark line", "dark 1-px line on bright patch")]
    for k, (name, label) in enumerate(structures):
        ax.plot(grid, [retained_contrast(name, a) for a in grid], color=PALETTE[k],
                ls=LINESTYLES[k], lw=1.7, label=label)
    for a in ALPHAS:
        ax.axvline(a, color="0.6", lw=0.6, ls=":")
    asinh_axis(ax, 100.0)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("α (asinh scale)")
    ax.set_ylabel("contrast retained after pooling")
    ax.set_title("Detail kept by one 4 × 4 window\n(α = 0 average; +∞ max; −∞ min)",
                 fontsize=9)
    ax.legend(loc="center left", fontsize=6.5, framealpha=0.9)
    fig.suptitle("Detail sensitivity: thin structures pooled by average, max and P-pooling "
                 "(oracle values)", fontsize=11)
    return fig
