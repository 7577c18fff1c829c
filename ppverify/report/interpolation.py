"""Figure family 1: interpolation between the classical means.

Rows: P-pooling ``y(alpha)``, the power mean ``M_p`` and the Lp norm against their parameter on
an asinh axis (linear near 0, logarithmic beyond ±1, smooth) over both signs; columns: three
windows chosen for their edge cases (a tie at the maximum, a zero, a dynamic range of six
decades). The min, harmonic mean, average and
max of each window are drawn as horizontal reference lines and the parameter values at which
each operator equals one of them are marked. Every value is the oracle's.
"""

from __future__ import annotations

from fractions import Fraction

from .style import MEAN_COLOURS, PALETTE, asinh_axis, new_figure
from .values import lp, means, powermean, ppool, symmetric_grid, to_float

WINDOWS = [
    ("tie at the maximum", (0.5, 2.0, 2.0, 1.0)),
    ("a zero", (0.0, 1.0, 2.0, 4.0)),
    ("wide dynamic range", (1e-4, 1e-2, 1.0, 100.0)),
]

_MEAN_LABELS = {"min": "min", "harmonic": "harmonic mean", "average": "average", "max": "max"}
_MEAN_STYLES = {"min": ":", "harmonic": "-.", "average": "--", "max": (0, (1, 3))}


def _window_label(xs) -> str:
    return "x = (" + ", ".join(f"{v:g}" for v in xs) + ")"


def _reference_lines(ax, xs, with_sum: bool = False):
    for name, value in means(xs).items():
        ax.axhline(float(value), color=MEAN_COLOURS[name], ls=_MEAN_STYLES[name], lw=1.1)
    if with_sum:
        total = float(sum(Fraction(v) for v in xs))
        ax.axhline(total, color=MEAN_COLOURS["sum"], ls="--", lw=0.9)


def _split_at_zero(grid, ys):
    """Two segments (parameter < 0, > 0) so that a jump at 0 is not drawn as a line."""
    left = [(p, v) for p, v in zip(grid, ys) if p < 0]
    right = [(p, v) for p, v in zip(grid, ys) if p > 0]
    return [list(zip(*seg)) for seg in (left, right) if seg]


def _positive_floor(ys, xs):
    """Lower y-limit for a log axis: a decade below the smallest positive value shown."""
    positives = [v for v in ys if v > 0] + [v for v in xs if v > 0]
    return min(positives) / 10


def _legend_handles():
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=PALETTE[0], lw=1.8, label="P-pooling y(α)"),
        Line2D([], [], color=PALETTE[2], lw=1.8, label="power mean M_p"),
        Line2D([], [], color=PALETTE[3], lw=1.8, label="Lp norm"),
    ]
    for name, label in _MEAN_LABELS.items():
        handles.append(Line2D([], [], color=MEAN_COLOURS[name], ls=_MEAN_STYLES[name], lw=1.1,
                              label=label))
    handles += [
        Line2D([], [], color=MEAN_COLOURS["sum"], ls="--", lw=0.9, label="sum (Lp at p = 1)"),
        Line2D([], [], ls="", marker="o", color=MEAN_COLOURS["average"], mec="black",
               label="α = 0 / p = 1: average"),
        Line2D([], [], ls="", marker="s", color=MEAN_COLOURS["harmonic"], mec="black",
               label="α = −1 / p = −1: harmonic mean"),
        Line2D([], [], ls="", marker="D", color=MEAN_COLOURS["geometric"], mec="black",
               label="p = 0: geometric mean"),
    ]
    return handles


def build(quick: bool = False):
    grid = symmetric_grid(1000.0, 16 if quick else 48, 9 if quick else 25)
    fig = new_figure(12.5, 9.5)
    axes = fig.subplots(3, 3)
    for col, (title, xs) in enumerate(WINDOWS):
        wide = col == 2
        # ---- P-pooling
        ax = axes[0, col]
        ys = [to_float(ppool(xs, a)[0]) for a in grid]
        _reference_lines(ax, xs)
        for seg in _split_at_zero(grid, ys):
            ax.plot(*seg, color=PALETTE[0], lw=1.8)
        y0 = to_float(ppool(xs, 0.0)[0])
        yh = to_float(ppool(xs, -1.0)[0])
        ax.plot([0], [y0], "o", color=MEAN_COLOURS["average"], mec="black", ms=6, zorder=5)
        ax.plot([-1], [yh], "s", color=MEAN_COLOURS["harmonic"], mec="black", ms=5, zorder=5)
        if min(xs) == 0:
            right = to_float(ppool(xs, 1e-12)[0])
            ax.annotate(f"jump at α = 0:\nleft limit 0, value {y0:.4g},\nright limit {right:.4g}",
                        xy=(0, y0), xytext=(-900, 0.55 * max(xs)), fontsize=7,
                        arrowprops={"arrowstyle": "->", "lw": 0.7})
        ax.set_title(f"P-pooling, {title}\n{_window_label(xs)}")
        ax.set_xlabel("α (asinh scale)")
        ax.set_ylabel("y = Σx^(α+1) / Σx^α")
        # ---- power mean
        ax2 = axes[1, col]
        ps = [p for p in grid if p > 0] if min(xs) == 0 else grid
        pm = [to_float(powermean(xs, p)[0]) for p in ps]
        _reference_lines(ax2, xs)
        for seg in _split_at_zero(ps, pm):
            ax2.plot(*seg, color=PALETTE[2], lw=1.8)
        if min(xs) > 0:
            g = to_float(powermean(xs, 0.0)[0])
            ax2.plot([0], [g], "D", color=MEAN_COLOURS["geometric"], mec="black", ms=5, zorder=5)
            ax2.plot([-1], [to_float(powermean(xs, -1.0)[0])], "s",
                     color=MEAN_COLOURS["harmonic"], mec="black", ms=5, zorder=5)
        else:
            ax2.text(0.03, 0.5, "p ≤ 0 undefined\nwith a zero input\n(0^p = ∞)",
                     transform=ax2.transAxes, fontsize=7, va="center")
        ax2.plot([1], [to_float(powermean(xs, 1.0)[0])], "o", color=MEAN_COLOURS["average"],
                 mec="black", ms=6, zorder=5)
        ax2.set_title(f"power mean (GeM), {title}")
        ax2.set_xlabel("p (asinh scale)")
        ax2.set_ylabel("M_p = ((1/N) Σx^p)^(1/p)")
        # ---- Lp norm
        ax3 = axes[2, col]
        ln_ = [to_float(lp(xs, p)[0]) for p in ps]
        _reference_lines(ax3, xs, with_sum=True)
        for seg in _split_at_zero(ps, ln_):
            ax3.plot(*seg, color=PALETTE[3], lw=1.8)
        if min(xs) == 0:
            ax3.text(0.03, 0.5, "p ≤ 0 undefined\nwith a zero input",
                     transform=ax3.transAxes, fontsize=7, va="center")
        ax3.set_title(f"Lp norm (supplement Eq. 1), {title}")
        ax3.set_xlabel("p (asinh scale)")
        ax3.set_ylabel("(Σx^p)^(1/p)")
        ax3.set_yscale("log")
        top = 30 * float(sum(xs))
        ax3.set_ylim(_positive_floor([v for v in ln_ if v < top], xs), top)
        ax3.annotate("→ ∞ as p → 0+", xy=(0.5, 0.93), xycoords="axes fraction", fontsize=7,
                     ha="center")
        for a in (ax, ax2, ax3):
            asinh_axis(a, 1000)
            a.axvline(0, color="0.6", lw=0.6)
        if wide:
            for a in (ax, ax2):
                a.set_yscale("log")
                a.set_ylim(_positive_floor([], xs), 3 * max(xs))
        else:
            for a in (ax, ax2):
                a.set_ylim(-0.1 * max(xs), 1.15 * max(xs))
    fig.legend(handles=_legend_handles(), loc="outside lower center", ncol=6, frameon=False)
    fig.suptitle("Interpolation between min, harmonic mean, average and max "
                 "(values from the ppverify oracle)", fontsize=11)
    return fig
