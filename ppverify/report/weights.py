"""Figure family 2: weights and gradients of P-pooling as alpha moves between the means.

With ``w_i = x_i^alpha / sum x^alpha`` (so ``y = sum w_i x_i``), the oracle's gradient is
``dy/dx_i = w_i ((alpha + 1) - alpha y / x_i)``. At ``alpha = 0`` every weight and every partial
derivative is ``1/N``; as ``alpha -> +inf`` (``-inf``) the weights become one-hot on the max
(min). The gradients do not move monotonically: the factor
``(alpha + 1) - alpha y / x_i = 1 + alpha (x_i - y) / x_i`` changes sign where
``alpha = x_i / (y - x_i)`` (an implicit equation: ``y`` depends on alpha), so for large
positive alpha every element below ``y`` gets a *negative* partial derivative (raising a
non-maximal input lowers the output), and symmetrically for large negative alpha every element
above ``y``; the extreme element's derivative overshoots 1 before it settles. The sign
changes (found by bisection on the oracle's values) and the overshoot peaks are marked.
"""

from __future__ import annotations

from .style import LINESTYLES, PALETTE, asinh_axis, new_figure
from .values import ppool, ppool_weights, symmetric_grid, to_float

WINDOWS = [
    ("evenly spread", (0.5, 1.0, 1.5, 2.0)),
    ("wide dynamic range", (0.01, 0.1, 1.0, 10.0)),
]
LIMIT = 300.0


def _grad(xs, alpha, i):
    return ppool(xs, alpha)[1][i]


def sign_changes(xs, grid, grads_i, i, steps: int = 50):
    """Parameters where ``dy/dx_i`` changes sign: grid brackets refined by bisection."""
    roots = []
    for a0, a1, g0, g1 in zip(grid, grid[1:], grads_i, grads_i[1:]):
        if (g0 > 0) != (g1 > 0) and g0 != 0 and g1 != 0:
            lo, hi, glo = a0, a1, g0
            for _ in range(steps):
                mid = 0.5 * (lo + hi)
                gm = to_float(_grad(xs, mid, i))
                if (gm > 0) == (glo > 0):
                    lo, glo = mid, gm
                else:
                    hi = mid
            roots.append(0.5 * (lo + hi))
    return roots


def build(quick: bool = False):
    grid = symmetric_grid(LIMIT, 30 if quick else 90, 21 if quick else 41)
    fig = new_figure(12.0, 7.6)
    axes = fig.subplots(2, len(WINDOWS))
    for col, (title, xs) in enumerate(WINDOWS):
        n = len(xs)
        weights = [[to_float(w) for w in ppool_weights(xs, a)] for a in grid]
        grads = [[to_float(g) for g in ppool(xs, a)[1]] for a in grid]
        ax_w, ax_g = axes[0, col], axes[1, col]
        notes: list[str] = []
        for i, v in enumerate(xs):
            style = {"color": PALETTE[i], "ls": LINESTYLES[i], "lw": 1.7}
            ax_w.plot(grid, [w[i] for w in weights], label=f"w_{i + 1} (x_{i + 1} = {v:g})",
                      **style)
            gi = [g[i] for g in grads]
            ax_g.plot(grid, gi, label=f"∂y/∂x_{i + 1} (x_{i + 1} = {v:g})", **style)
            roots = sign_changes(xs, grid, gi, i)
            for root in roots:
                ax_g.plot([root], [0], marker="X", color=PALETTE[i], mec="black", ms=8,
                          ls="", zorder=6)
            if roots:
                notes.append(f"∂y/∂x_{i + 1}: α = " + ", ".join(f"{r:.4g}" for r in roots))
        flat = [(g[i], k, i) for k, g in enumerate(grads) for i in range(n)]
        extremes = [max(flat), min(flat)]
        top_k = max(range(len(grid)), key=lambda k: grads[k][n - 1])
        if grads[top_k][n - 1] > 1 and extremes[0][2] != n - 1:
            extremes.append((grads[top_k][n - 1], top_k, n - 1))
        for value, k, i in extremes:
            ax_g.plot([grid[k]], [value], marker="*", color=PALETTE[i], mec="black", ms=12,
                      ls="", zorder=7,
                      label=f"{'peak' if value > 0 else 'most negative'}: "
                            f"∂y/∂x_{i + 1} = {value:.4g} at α ≈ {grid[k]:.3g}")
        ax_g.text(0.99, 0.02, "sign changes (×):\n" + "\n".join(notes), fontsize=6.5,
                  ha="right", va="bottom", transform=ax_g.transAxes,
                  bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})
        for ax in (ax_w, ax_g):
            asinh_axis(ax, LIMIT)
            ax.axvline(0, color="0.6", lw=0.6)
            ax.axhline(1 / n, color="0.3", lw=0.8, ls=(0, (1, 2)))
            ax.axhline(1, color="0.3", lw=0.8, ls=(0, (4, 2)))
            ax.axhline(0, color="0.3", lw=0.8)
            ax.set_xlabel("α (asinh scale)")
            ax.legend(loc="center left", framealpha=0.9)
        ax_w.text(0.5, 1 / n, " 1/N", fontsize=7, va="bottom", transform=ax_w.get_yaxis_transform())
        ax_w.set_ylabel("weight w_i = x_i^α / Σx^α")
        ax_w.set_ylim(-0.05, 1.08)
        ax_w.set_title(f"Weights, {title}: x = ({', '.join(f'{v:g}' for v in xs)})\n"
                       "1/N at α = 0 (average); one-hot at ±∞ (max / min)")
        ax_g.set_ylabel("∂y/∂x_i")
        ax_g.set_title(f"Gradients, {title}: ∂y/∂x_i = w_i((α+1) − α y/x_i)\n"
                       "sign changes (×) and extremes (★) on the way from 1/N to one-hot")
        lo = min(min(g) for g in grads)
        hi = max(max(g) for g in grads)
        ax_g.set_ylim(min(-0.1, lo - 0.15 * (hi - lo)), max(1.1, hi + 0.05))
    fig.suptitle("P-pooling weights and input gradients against α (values from the oracle)",
                 fontsize=11)
    return fig
