"""Figure family 4: the Lp-norm claims (supplement Section 2, Eq. 2) against the correct gradients.

For ``y = (sum x^p)^(1/p)`` (Lp norm, supplement Eq. 1) with ``S = sum x^p`` the correct
derivatives, as the oracle evaluates them, are

    dy/dx_i = x_i^(p-1) S^((1-p)/p) = (x_i / y)^(p-1)
    dy/dp   = y (-ln S / p^2 + sum x^p ln x / (p S))

while the supplement's Eq. 2, as printed, reads

    dE/dx_i = x_i^(p-1) S^(p/(1-p)) delta            (exponent inverted)
    dE/dp   = (-ln S / p^2 + x_i^(p-1) / S) S^(1/p) delta   (depends on i; should be a sum
                                                           of x^p ln x over the window, / p)

The printed exponent ``p/(1-p)`` has a pole at ``p = 1`` that the correct formula does not
have (at ``p = 1`` the correct gradient is exactly 1, sum pooling's); as ``p -> inf`` the correct
gradient tends to max pooling's one-hot vector and ``dy/dp -> 0`` (no explosion); near
``p = 0`` it is the Lp norm itself (``~ N^(1/p)``) that explodes. The power mean (GeM) is shown
for contrast: smooth through ``p = 0`` (geometric mean), equal to the average's ``1/N`` at
``p = 1`` and to max's one-hot at infinity. The printed formula is evaluated literally in ball
arithmetic and correctly rounded; every other value is the oracle's.
"""

from __future__ import annotations

from flint import arb

from .style import LINESTYLES, PALETTE, asinh_axis, new_figure
from .values import certified, log_grid, lp, powermean, symmetric_grid, to_float

WINDOW = (0.5, 1.0, 2.0, 3.0)
SHOWN = (3, 0)  # indices of the elements whose derivatives are drawn: the max and the min
P_MIN, P_MAX = 0.02, 200.0
Y_LIMIT = 1e6


def eq2_as_printed(xs, p, i):
    """``(dE/dx_i, dE/dp)`` of the supplement's Eq. 2 exactly as printed (delta = 1), in ball
    arithmetic, correctly rounded to 53 bits (``mpmath.mpf``, so that a pole's huge values
    survive)."""
    def fn():
        mp = arb(p)
        powers = [arb(v) ** mp for v in xs]
        s = sum(powers[1:], powers[0])
        xi = arb(xs[i])
        dx = xi ** (mp - 1) * s ** (mp / (1 - mp))
        dp = (-s.log() / mp**2 + xi ** (mp - 1) / s) * s ** (1 / mp)
        return [dx, dp]
    dx, dp = certified(fn, 53)
    return dx, dp


def _clip(v: float) -> float:
    return max(-Y_LIMIT * 10, min(Y_LIMIT * 10, v))


def build(quick: bool = False):
    n_points = 120 if quick else 360
    ps = [p for p in log_grid(P_MIN, P_MAX, n_points) if abs(p - 1) > 1e-9]
    sym = symmetric_grid(P_MAX, 30 if quick else 80, 21 if quick else 41)
    xs = WINDOW
    n = len(xs)
    correct = [lp(xs, p) for p in ps]
    printed = {i: [eq2_as_printed(xs, p, i) for p in ps] for i in SHOWN}
    fig = new_figure(12.0, 8.6)
    (ax_dx, ax_dp), (ax_mx, ax_mp) = fig.subplots(2, 2)
    for k, i in enumerate(SHOWN):
        label_i = f"i = {i + 1} (x_i = {xs[i]:g}, the {'max' if i == 3 else 'min'})"
        ax_dx.plot(ps, [_clip(to_float(c[1][i])) for c in correct], color=PALETTE[k], lw=1.9,
                   label=f"correct ∂y/∂x_i, {label_i}")
        ax_dx.plot(ps, [_clip(to_float(d)) for d, _ in printed[i]], color=PALETTE[k],
                   ls="--", lw=1.3, label=f"Eq. 2 as printed, {label_i}")
        ax_dp.plot(ps, [_clip(to_float(d)) for _, d in printed[i]], color=PALETTE[k + 2],
                   ls=LINESTYLES[k + 1], lw=1.3, label=f"Eq. 2 as printed, {label_i}")
    ax_dp.plot(ps, [_clip(to_float(c[2])) for c in correct], color=PALETTE[4], lw=1.9,
               label="correct ∂y/∂p (one value per window)")
    for ax in (ax_dx, ax_dp):
        ax.set_xscale("log")
        asinh_axis(ax, Y_LIMIT, axis="y", linear_width=1e-2, tick_step=100.0)
        ax.set_xlim(P_MIN, P_MAX)
        ax.axvline(1.0, color="0.4", lw=0.8, ls=":")
        ax.text(1.04, 0.02, "p = 1", transform=ax.get_xaxis_transform(), fontsize=7)
        ax.set_xlabel("p (log scale)")
        ax.legend(loc="lower left", fontsize=6.5, framealpha=0.9)
    ax_dx.axhline(1.0, color="black", lw=0.7, ls=(0, (4, 2)))
    ax_dx.axhline(1 / n, color="0.3", lw=0.7, ls=(0, (1, 2)))
    ax_dx.text(P_MAX, 1.0, "1 (sum pooling at p = 1; max's one-hot) ", fontsize=6.5, ha="right",
               va="bottom")
    ax_dx.text(P_MAX, 1 / n, "1/N (average pooling) ", fontsize=6.5, ha="right", va="top")
    ax_dx.set_title(f"Lp norm: ∂y/∂x_i, x = {xs}, correct (x_i/y)^(p−1)\n"
                    "vs Eq. 2's x_i^(p−1)·S^(p/(1−p)) (pole at p = 1)")
    ax_dx.set_ylabel("∂y/∂x_i (asinh scale; clipped at ±10⁶)")
    ax_dp.set_title("Lp norm: ∂y/∂p, correct y(−ln S/p² + Σx^p ln x/(pS))\n"
                    "vs Eq. 2's (−ln S/p² + x_i^(p−1)/S)·S^(1/p)")
    ax_dp.set_ylabel("∂y/∂p (asinh scale; clipped at ±10⁶)")
    # ---- power mean, both signs of p
    pm = [powermean(xs, p) for p in sym]
    at0 = powermean(xs, 0.0)
    for k, i in enumerate(range(n)):
        ax_mx.plot(sym, [to_float(m[1][i]) for m in pm], color=PALETTE[k], ls=LINESTYLES[k],
                   lw=1.7, label=f"∂M_p/∂x_{i + 1} (x = {xs[i]:g})")
        ax_mx.plot([0], [to_float(at0[1][i])], "o", color=PALETTE[k], mec="black", ms=5)
    ax_mx.axhline(1 / n, color="0.3", lw=0.7, ls=(0, (1, 2)))
    ax_mx.axhline(1.0, color="0.3", lw=0.7, ls=(0, (4, 2)))
    ax_mx.axvline(1.0, color="0.4", lw=0.8, ls=":")
    ax_mx.set_title("Power mean (GeM): ∂M_p/∂x_i, smooth at p = 0 (• geometric mean),\n"
                    "1/N at p = 1 (average), one-hot at ±∞ (max / min)")
    ax_mx.set_ylabel("∂M_p/∂x_i")
    ax_mp.plot(sym, [to_float(m[2]) for m in pm], color=PALETTE[4], lw=1.9,
               label="∂M_p/∂p")
    ax_mp.plot([0], [to_float(at0[2])], "o", color=PALETTE[4], mec="black", ms=6,
               label=f"p = 0: y·Var(ln x)/2 = {to_float(at0[2]):.4g}")
    ax_mp.set_title("Power mean (GeM): ∂M_p/∂p, finite everywhere, → 0 at ±∞")
    ax_mp.set_ylabel("∂M_p/∂p")
    for ax in (ax_mx, ax_mp):
        asinh_axis(ax, P_MAX)
        ax.set_xlabel("p (asinh scale)")
        ax.legend(loc="upper left", fontsize=6.5, framealpha=0.9)
    fig.suptitle("Lp-norm pooling gradients: correct formulas (oracle) beside the supplement's "
                 "Eq. 2 as printed", fontsize=11)
    return fig
