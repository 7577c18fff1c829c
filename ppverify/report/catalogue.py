"""One record per figure: what it shows, which claims it illustrates, what it needs.

Adding a figure means adding a module with ``build(quick: bool) -> matplotlib.figure.Figure``
and one ``FigureSpec`` here; the driver and the document read these records only.
A builder raises ``FigureSkipped(reason)`` when an optional dependency is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


class FigureSkipped(Exception):
    """A figure could not be drawn because an optional dependency is missing."""


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the report.

    ``stem``: file name without extension (``figures/<stem>.png`` and ``.svg``);
    ``module``: ``ppverify.report.<module>`` with ``build(quick)``; ``claims``: ids of the
    ``ppverify.claims`` catalogue this figure illustrates; ``needs``: modules that must import
    for the figure to be drawn (checked before drawing, so nothing is imported otherwise).

    ``measured``: the figure measures floating-point code on the machine that draws it (its
    numbers may differ between machines). Its module then has ``measure(quick) -> record``
    (JSON-ready, with a ``measured_on`` label) and ``draw(record) -> Figure``, and the report
    stores the record. Every other figure shows exact values only (correctly rounded oracle
    values, exact constructions): what it shows is the same on every machine, and the report
    stores that content (``ppverify.report.content``).
    """

    number: int
    stem: str
    module: str
    title: str
    caption: str
    claims: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    measured: bool = False


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        1, "interpolation", "interpolation",
        "Interpolation between min, harmonic mean, average and max",
        "P-pooling y(α) (top row), the power mean M_p (middle) and the Lp norm (bottom) against "
        "their parameter on an asinh axis (linear near 0, logarithmic beyond ±1, smooth in "
        "between) over both signs, for a window with a tie at the "
        "maximum, a window with a zero and a window spanning six decades. Horizontal lines: min, "
        "harmonic mean, average, max (and the sum for the Lp norm); markers: α = 0 is the "
        "average and α = −1 the harmonic mean; p = 0 is the geometric mean. With a zero, "
        "y(α) jumps at α = 0 (left limit 0, value the average of all elements, right limit the "
        "average of the positives), and the power mean and Lp norm are undefined for p ≤ 0. "
        "The Lp norm does not interpolate between the means: for p < 0 it falls from the min "
        "(p → −∞) to 0 (p → 0−), for p > 0 from +∞ (p → 0+) through the sum (p = 1) to the "
        "max (p → ∞); the power mean, with its 1/N, runs monotonically from min to max.",
        claims=("P1", "P1.cont", "P2.fwd.limit", "T.minus_inf", "T.harmonic", "T.bounds",
                "T.monotone", "PM.p0", "PM.p1", "PM.pinf"),
    ),
    FigureSpec(
        2, "weights", "weights",
        "Weights and gradients from 1/N to one-hot",
        "The weights w_i = x_i^α / Σx^α (top) and the partial derivatives ∂y/∂x_i = "
        "w_i((α+1) − α y/x_i) (bottom) against α. At α = 0 all equal 1/N (Proposition 1); at "
        "±∞ the weights are one-hot on the max (min). The derivatives are not monotone: every "
        "element below y gets a negative derivative for large α (sign changes ×, found by "
        "bisection on oracle values), the max's derivative overshoots 1, and with a wide dynamic "
        "range a derivative reaches ±10 or more near α = ±0.3 (★).",
        claims=("P1", "P1.bwd.value", "T.grad.max.le1", "T.grad.nonmax.sign", "T.grad.nonmax.peak",
                "T.euler"),
    ),
    FigureSpec(
        3, "convergence", "convergence",
        "Rate of convergence to max pooling",
        "max − y (left) and the L1 distance of the gradient from max pooling's one-hot vector "
        "(right) against α on log axes, oracle values (ball arithmetic at whatever precision the "
        "cancellation needs). Dashed: the analytic asymptotes derived in "
        "`ppverify.report.convergence`: max − y ≈ (m₂/m₁)(M − x₂)·r^α and "
        "‖∇y − e_max‖₁ ≈ m₂ r^α (α(M² − x₂²)/(M x₂) − 2), with M the max (m₁ copies), x₂ the "
        "second-largest value (m₂ copies) and r = x₂/M. The convergence is geometric with ratio "
        "r; the gradient's is slower by a factor growing linearly in α. Bottom: measured / "
        "asymptote → 1.",
        claims=("P2", "P2.fwd.limit", "P2.fwd.step", "P2.bwd.max.limit", "P2.bwd.other.limit",
                "P2.squeeze", "T.grad.max.le1"),
    ),
    FigureSpec(
        4, "lpnorm", "lpnorm",
        "Lp-norm and power-mean gradients near p = 0, 1 and ∞",
        "Top: the Lp norm's ∂y/∂x_i and ∂y/∂p from the correct formulas (oracle, solid) beside "
        "the supplement's Eq. 2 as printed (dashed, evaluated literally in ball arithmetic). The "
        "printed ∂E/∂x_i has exponent p/(1−p) instead of (1−p)/p, which creates the pole at "
        "p = 1 that the supplement reports; the correct gradient is exactly 1 at p = 1 (the sum "
        "pooling's, not the average's 1/N) and tends to max pooling's one-hot as p → ∞ without "
        "exploding. Near p = 0 it is the Lp norm itself, ~N^(1/p), that explodes. The printed "
        "∂E/∂p depends on the element i, which ∂y/∂p cannot. Bottom: the power mean (GeM), "
        "whose gradients are finite through p = 0 and equal the average's at p = 1.",
        claims=("E2.dx", "E2.dx.correct", "E2.dp", "E2.dp.correct", "E2.a.p0", "E2.a.pinf",
                "E2.b.p1", "E2.b.pinf", "E2.avg", "E2.max", "E2.conclusion", "PM.grad", "PM.p0",
                "PM.p1", "PM.pinf"),
    ),
    FigureSpec(
        5, "accuracy", "accuracy",
        "Accuracy maps of ppverify.ops against the oracle",
        "Error in ULP of the dtype of `ppverify.ops.p_pool2d` (rows 1 and 3) and of the direct "
        "formula avg_pool(x^(α+1)) / avg_pool(x^α) computed in the same dtype (rows 2 and 4), "
        "against the correctly rounded oracle value, for the forward value (rows 1-2) and the "
        "input gradient of Σy (rows 3-4: the op's backward, autograd through the direct "
        "formula), over a grid of α (exactly representable in every dtype) and input magnitude "
        "2^e (the dtype's whole range, subnormals included); each cell is the worst of several "
        "random 2 × 2 windows (fixed seed). Forward errors are in ULP of the value; gradient "
        "errors in ULP of the window's largest gradient, since a gradient that is tiny "
        "because it changes sign with α (figure 2) is formed from window-sized terms and "
        "carries a few ULP of the window's scale, which is 1e4 ULP and more of its own value "
        "without being wrong (the op's tests bound it the same way). Pale blue: 0 (correctly "
        "rounded); grey: NaN or ±inf (overflow/underflow of x^α). This figure is a "
        "measurement of floating-point code: its numbers depend on the machine, the torch "
        "build and its vector math library, and the label below says where it was measured.",
        claims=(),
        needs=("torch", "ppverify.ops"),
        measured=True,
    ),
    FigureSpec(
        6, "detail", "detail",
        "Detail sensitivity on a synthetic image",
        "A synthetic image with one-pixel lines, a ring, isolated pixels and a one-pixel dark "
        "line on a bright patch, pooled 4 × 4 (stride 4) by average, max and P-pooling at "
        "α = −8, 1, 4, 16 (oracle, correctly rounded float64). Average pooling dilutes thin "
        "structures to a quarter of their contrast; P-pooling with α ≈ 4 keeps lines almost at "
        "full contrast while a single bright pixel keeps less (bottom right: contrast retained "
        "by one window against α); negative α keeps thin dark structures instead.",
        claims=("T.monotone", "T.bounds"),
    ),
)


def get_figure(stem: str) -> FigureSpec:
    for spec in FIGURES:
        if spec.stem == stem:
            return spec
    raise ValueError(f"no figure named {stem!r}; known: {[f.stem for f in FIGURES]}")
