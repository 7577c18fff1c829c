"""What a figure shows, as plain data: the renderer-independent record of a drawn figure.

A figure's SVG and PNG bytes depend on the matplotlib and FreeType versions that drew them; what
the figure *shows* does not. ``figure_content(fig)`` walks a drawn ``Figure`` and returns every
plotted number and every piece of text: per axes its title, labels, scales and the tick labels
the code set (automatic ticks are the renderer's choice and are left out), the data of every
line (``Line2D``: curves, markers, reference lines) and image (``AxesImage``), its texts and
legend entries; the figure's title and legends. The report
writes it to ``reports/data/<stem>.json`` (``dumps``: sorted keys, floats as shortest round-trip
decimals, NaN/inf spelled out), so that two runs can be compared on what they show, byte for
byte, on any machine and with any matplotlib.

Only figures whose values are exact (oracle values correctly rounded, exact constructions) have
content that must be identical everywhere; a *measured* figure (``FigureSpec.measured``) stores
its measurement record instead (see ``ppverify.report.accuracy``).
"""

from __future__ import annotations

import json
import math

import numpy as np


def json_number(v) -> float | None:
    """A plotted value as a JSON-safe float (NaN, inf as strings; masked as None)."""
    if v is np.ma.masked:
        return None
    f = float(v)
    if math.isnan(f):
        return "nan"  # type: ignore[return-value]
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"  # type: ignore[return-value]
    return f


def _array(values) -> list:
    a = np.ma.asarray(values)
    if a.ndim == 0:
        return json_number(a[()])  # type: ignore[return-value]
    return [_array(row) for row in a] if a.ndim > 1 else [json_number(v) for v in a]


def _legend_texts(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def _fixed_ticks(axis) -> list[str]:
    """Tick labels that the code set explicitly; automatic ticks are the renderer's choice."""
    from matplotlib.ticker import FixedLocator

    if not isinstance(axis.get_major_locator(), FixedLocator):
        return []
    return [t.get_text() for t in axis.get_ticklabels()]


def _axes_content(ax) -> dict:
    lines = []
    for line in ax.get_lines():
        x, y = line.get_data(orig=True)
        lines.append({
            "label": line.get_label() if not line.get_label().startswith("_") else "",
            "x": _array(np.asarray(x, dtype=object).astype(float)),
            "y": _array(np.asarray(y, dtype=object).astype(float)),
            "marker": str(line.get_marker()), "linestyle": str(line.get_linestyle()),
        })
    images = []
    for image in ax.get_images():
        images.append({"array": _array(image.get_array()),
                       "extent": [json_number(v) for v in image.get_extent()]})
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "xscale": ax.get_xscale(),
        "yscale": ax.get_yscale(),
        "xticks": _fixed_ticks(ax.xaxis),
        "yticks": _fixed_ticks(ax.yaxis),
        "lines": lines,
        "images": images,
        "texts": [t.get_text() for t in ax.texts],
        "legend": _legend_texts(ax.get_legend()),
    }


def figure_content(fig) -> dict:
    """Every number and string a drawn figure shows (see the module docstring)."""
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    return {
        "suptitle": suptitle,
        "axes": [_axes_content(ax) for ax in fig.axes],
        "legends": [_legend_texts(legend) for legend in fig.legends],
        "texts": [t.get_text() for t in fig.texts],
    }


def dumps(record: dict) -> str:
    """Canonical JSON: sorted keys, two-space indent, a final newline."""
    return json.dumps(record, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
