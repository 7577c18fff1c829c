"""Figure family 3: how fast P-pooling becomes max pooling (supplement, Proposition 2).

Analytic rate. Let ``M`` be the maximum of the window, attained ``m_1`` times, ``x_2`` the
second-largest value, attained ``m_2`` times, and ``r = x_2 / M < 1``. Dividing numerator and
denominator of ``M - y = sum x_i^alpha (M - x_i) / sum x_i^alpha`` by ``M^alpha``:

    M - y  =  (m_2 / m_1) (M - x_2) r^alpha  (1 + o(1))          (alpha -> +inf)

so the forward value converges geometrically with ratio ``r`` and constant
``C = (m_2/m_1)(M - x_2)``. For the gradient (unique maximum, ``m_1 = 1``),
``dy/dx_max = 1 + m_2 r^alpha (alpha (M - x_2)/M - 1) + ...`` (it *overshoots* 1) and
``dy/dx_2 = r^alpha (1 - alpha (M - x_2)/x_2) + ...`` (negative for large alpha), so the
L1 distance of the gradient from the one-hot vector of max pooling is

    || grad y - e_max ||_1  =  m_2 r^alpha (alpha (M^2 - x_2^2)/(M x_2) - 2) (1 + o(1))

geometric with a linear prefactor: the gradient converges more slowly than the value by a
factor ``alpha (M + x_2)/x_2``. Elements below ``x_2`` contribute ``O(alpha (x_3/M)^alpha)``.
The measured curves (the oracle, in ball arithmetic with enough precision to resolve
``M - y`` after cancellation) are drawn with these asymptotes; the bottom panels show the
measured/asymptote ratio tending to 1. The gradient's asymptote is zero at
``alpha_0 = 2 M x_2 / (M^2 - x_2^2)`` (where ``alpha D - 2`` changes sign) and negative
below it, so the ratio is meaningless near ``alpha_0``: it is drawn only from
``RATIO_START * alpha_0`` on, and ``alpha_0`` is marked.
"""

from __future__ import annotations

from fractions import Fraction

from flint import arb

from .style import PALETTE, new_figure
from .values import certified, log_grid, ppool_distance_from_max, quotient, to_float

WINDOWS = [
    (1.0, 2.0, 3.0, 4.0),        # r = 3/4
    (0.5, 1.0, 1.9, 2.0),        # r = 0.95: slow
    (2.0, 3.0, 3.0, 5.0),        # second value tied: m_2 = 2, r = 3/5
    (0.01, 0.1, 1.0, 10.0),      # r = 0.1: fast
]
ALPHA_MAX = 1000.0
#: the gradient ratio is drawn for alpha >= RATIO_START * alpha_0 (alpha D - 2 >= 2 there)
RATIO_START = 2.0


def rate_constants(xs):
    """``(r, m_1, m_2, C_value, D_grad)`` of the asymptotes above, exactly (Fractions)."""
    fx = [Fraction(v) for v in xs]
    top = max(fx)
    second = max(v for v in fx if v < top)
    m1 = fx.count(top)
    m2 = fx.count(second)
    r = second / top
    c_value = Fraction(m2, m1) * (top - second)
    d_grad = m2 * (top * top - second * second) / (top * second)
    return r, m1, m2, c_value, d_grad


def asymptotes(xs, alpha: float):
    """The two asymptotic laws at ``alpha``, correctly rounded to 53 bits (``mpmath.mpf``: no
    underflow, and the same on every machine and at any global mpmath precision).

    ``r ** alpha`` is evaluated in ball arithmetic; the gradient's factor ``alpha D / m_2 - 2``
    is an exact rational (``alpha`` is a float), so its zero at ``alpha_0`` is exact too.
    """
    r, _m1, m2, c_value, d_grad = rate_constants(xs)
    factor = Fraction(alpha) * d_grad / m2 - 2

    def fn():
        ra = (arb(r.numerator) / r.denominator) ** arb(alpha)
        grad = Fraction(0) if factor == 0 else m2 * ra * arb(factor.numerator) / factor.denominator
        return [arb(c_value.numerator) / c_value.denominator * ra, grad]
    value, grad = certified(fn, 53)
    return value, grad


def build(quick: bool = False):
    alphas = log_grid(1.0, ALPHA_MAX, 40 if quick else 120)
    fig = new_figure(12.0, 8.2)
    axes = fig.subplots(2, 2, height_ratios=[2.2, 1])
    ax_v, ax_g = axes[0]
    ax_rv, ax_rg = axes[1]
    floor = 1e-300
    for k, xs in enumerate(WINDOWS):
        r, m1, m2, c_value, d_grad = rate_constants(xs)
        colour = PALETTE[k]
        measured = [ppool_distance_from_max(list(xs), a) for a in alphas]
        gaps = [to_float(g) for g, _ in measured]
        dists = [to_float(d) for _, d in measured]
        asym = [asymptotes(xs, a) for a in alphas]
        name = f"x = ({', '.join(f'{v:g}' for v in xs)}): r = {float(r):.3g}"
        measured_style = {"color": colour, "lw": 3.2, "alpha": 0.55, "solid_capstyle": "butt"}
        asym_style = {"color": "black", "lw": 0.9, "ls": (0, (3, 2)), "zorder": 4}
        ax_v.loglog(alphas, [max(g, floor) for g in gaps],
                    label=f"{name}, (m₂/m₁)(M − x₂) = {float(c_value):.3g}", **measured_style)
        ax_v.loglog(alphas, [max(to_float(v), floor) for v, _ in asym], **asym_style)
        ax_g.loglog(alphas, [max(d, floor) for d in dists],
                    label=f"{name}, m₂ = {m2}, (M² − x₂²)/(M x₂) = {float(d_grad / m2):.4g}",
                    **measured_style)
        ax_g.loglog(alphas, [to_float(g) if g > 0 else float("nan") for _, g in asym],
                    **asym_style)
        ratio_v = [quotient(g, v) for (g, _), (v, _) in zip(measured, asym)]
        alpha_0 = float(2 * m2 / d_grad)  # the gradient asymptote's zero: alpha D - 2 = 0
        ratio_g = [quotient(d, g) if a >= RATIO_START * alpha_0 else float("nan")
                   for a, (_, d), (_, g) in zip(alphas, measured, asym)]
        ax_rv.semilogx(alphas, ratio_v, color=colour, lw=1.5)
        ax_rg.semilogx(alphas, ratio_g, color=colour, lw=1.5)
        if alpha_0 >= alphas[0]:
            ax_rg.plot([alpha_0], [0.08], marker="|", color=colour, ms=10, mew=1.5, ls="")
        del m1
    ax_v.set_title("Forward: |y − max| against α (oracle, thick)\n"
                   "asymptote (m₂/m₁)(M − x₂)·r^α, r = x₂/M (dashed)")
    ax_v.set_ylabel("max − y  (oracle)")
    ax_g.set_title("Backward: L1 distance of ∇y from max pooling's one-hot\n"
                   "asymptote m₂ r^α (α (M² − x₂²)/(M x₂) − 2) (dashed)")
    ax_g.set_ylabel("‖∇y − e_max‖₁  (oracle)")
    for ax in (ax_v, ax_g):
        ax.set_xlabel("α (log scale)")
        ax.set_ylim(1e-60, 1e2)
        ax.plot([], [], color="black", lw=0.9, ls=(0, (3, 2)), label="analytic asymptote")
        ax.legend(loc="lower left", fontsize=7, framealpha=0.9)
    for ax, what in ((ax_rv, "max − y"), (ax_rg, "‖∇y − e_max‖₁")):
        ax.axhline(1.0, color="0.3", lw=0.8, ls=":")
        ax.set_ylim(0, 2.0)
        ax.set_xlabel("α (log scale)")
        ax.set_ylabel(f"{what} / asymptote")
        ax.set_title(f"Ratio measured / asymptote for {what} (→ 1)")
    ax_rg.set_title("Ratio measured / asymptote for ‖∇y − e_max‖₁ (→ 1), drawn from α = 2α₀\n"
                    "|: α₀ = 2 M x₂ / (M² − x₂²), where the asymptote is 0 and changes sign",
                    fontsize=9)
    fig.suptitle("Convergence of P-pooling to max pooling as α → +∞: geometric in r = x₂/max",
                 fontsize=11)
    return fig

