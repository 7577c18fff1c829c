"""Shared look of every figure and the one way figures are written to disk.

* Okabe–Ito colour-blind-safe palette (``PALETTE``), used in a fixed order, with line styles
  and markers as a second channel so that no figure relies on colour alone.
* ``new_figure``: a pyplot-free ``Figure`` (no global state, Agg canvas).
* ``save_figure``: PNG and SVG written atomically (temporary file + ``os.replace``) with every
  varying piece of metadata removed (no date, no software version, fixed ``svg.hashsalt``), so
  that rendering the same data twice gives byte-identical files.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .._files import write_atomic

#: Okabe & Ito (2008), "Color Universal Design": safe for the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
#: Drawing order for series (yellow last: it is faint on white).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

#: Colours of the reference means, the same in every figure.
MEAN_COLOURS = {
    "min": "#56B4E9",
    "harmonic": "#009E73",
    "geometric": "#CC79A7",
    "average": "#E69F00",
    "max": "#D55E00",
    "sum": "#000000",
}

RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "svg.hashsalt": "ppverify-report",
    "svg.fonttype": "path",
    "path.simplify": True,
    "image.cmap": "cividis",
}

DPI = 110
MAX_BYTES = 500 * 1024
_PNG_METADATA = {"Software": None}
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches with the report's style and an Agg canvas."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def styled():
    """Context manager applying the report's rcParams while a figure is drawn and saved."""
    return matplotlib.rc_context(RC)


def save_figure(fig: Figure, directory: Path, stem: str) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` in ``directory``; return both paths.

    Raises ``ValueError`` if a file would exceed ``MAX_BYTES`` (500 KB).
    """
    paths = []
    with styled():
        for fmt, metadata in (("png", _PNG_METADATA), ("svg", _SVG_METADATA)):
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
            data = buffer.getvalue()
            if len(data) > MAX_BYTES:
                raise ValueError(f"figure {stem}.{fmt} is {len(data)} bytes, over {MAX_BYTES}")
            path = Path(directory) / f"{stem}.{fmt}"
            write_atomic(path, data)
            paths.append(path)
    return paths


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_label(v: float) -> str:
    """``0``, ``1``, ``−10``, ``100``; powers of ten from 1000 on as ``10³``, ``−10⁶``."""
    if v != 0 and abs(v) >= 1000 and float(f"{abs(v):e}".split("e")[0]) == 1.0:
        exponent = int(f"{abs(v):e}".split("e")[1])
        return ("−" if v < 0 else "") + "10" + str(exponent).translate(_SUPERSCRIPT)
    return f"{v:g}".replace("-", "−")


def asinh_axis(ax, limit: float, axis: str = "x", linear_width: float = 1.0,
               tick_step: float = 10.0) -> None:
    """A parameter axis on [-limit, limit] in matplotlib's ``asinh`` scale, plain tick labels.

    ``asinh(v / linear_width)`` is linear near 0, logarithmic beyond about ``±linear_width`` and
    smooth everywhere, so a smooth curve stays smooth (a ``symlog`` axis joins its linear and
    log pieces with a kink that draws false corners at ``±linthresh``). Ticks at 0 and at
    ``±1, ±tick_step, ±tick_step², ...`` up to ``limit``.
    """
    ticks = [0.0]
    t = 1.0
    while t <= limit * 1.0001:
        ticks = [-t, *ticks, t]
        t *= tick_step
    labels = [tick_label(v) for v in ticks]
    if axis == "x":
        ax.set_xscale("asinh", linear_width=linear_width)
        ax.set_xlim(-limit, limit)
        ax.set_xticks(ticks, labels)
        ax.minorticks_off()
    else:
        ax.set_yscale("asinh", linear_width=linear_width)
        ax.set_ylim(-limit, limit)
        ax.set_yticks(ticks, labels)
        ax.minorticks_off()
