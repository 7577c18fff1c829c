# ruff: noqa: E501  (the table rows are the supplement text, verbatim)
"""Section 3 of the supplement: Tables 1 and 2 (per-class mIoU on PASCAL VOC 2012 val).

The rows below are the supplement's text copied verbatim (tab-separated, ``<b>`` marks a bold
cell); ``tests/claims/test_tables.py`` compares them with the supplement file when it is
present. ``parse`` turns them into exact ``Fraction`` values; nothing is rounded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

HEADER = ["bg", "plane", "bike", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "table", "dog", "horse", "mbike", "person", "plant", "sheep", "sofa", "train", "tv", "mean"]

TABLE_1 = """\
Max	87.7	59.7	25.0	62.6	49.1	55.2	70.5	<b>66.1</b>	68.7	21.3	51.6	40.6	60.5	48.4	57.3	70.6	33.6	53.6	36.7	62.9	48.2	53.8
Average	85.9	57.7	24.3	61.9	47.6	54.1	66.0	64.7	67.3	20.5	50.5	39.9	60.0	47.6	56.5	69.8	32.6	51.5	35.3	61.4	46.9	52.5
Strided-C	86.1	54.0	19.9	59.2	45.7	53.9	60.2	63.8	65.5	20.1	49.2	39.7	58.7	46.8	56.0	67.1	31.5	52.1	34.9	61.0	44.4	50.9
Gated	86.8	58.9	24.8	62.1	48.2	54.8	67.1	64.9	67.5	20.7	51.4	40.8	59.8	47.9	57.7	69.7	34.2	52.8	36.1	62.5	47.4	53.1
DPP	87.9	60.2	26.3	63.3	48.9	55.0	70.9	65.7	67.9	21.9	51.9	41.0	60.7	47.5	58.7	70.8	33.9	53.4	35.9	63.5	48.6	54.0
$\\mathcal{P}$ -pooling (our method)	<b>88.3</b>	<b>60.8</b>	<b>28.8</b>	<b>63.9</b>	<b>49.9</b>	<b>55.7</b>	<b>71.1</b>	66.0	<b>69.2</b>	<b>25.2</b>	<b>52.8</b>	<b>43.1</b>	<b>61.1</b>	<b>48.9</b>	<b>60.3</b>	<b>71.4</b>	<b>36.1</b>	<b>54.8</b>	<b>37.5</b>	<b>64.0</b>	<b>49.1</b>	<b>55.1</b>
"""

TABLE_2 = """\
Max	89.9	71.7	30.1	69.1	55.7	62.8	77.7	<b>72.4</b>	75.1	25.0	55.1	32.7	66.5	56.3	66.8	74.6	46.3	62.2	37.1	70.7	65.5	60.2
Average	88.7	70.8	29.5	69.6	54.8	62.1	77.1	70.4	74.0	24.9	54.9	32.9	65.4	54.7	65.0	74.9	45.9	61.4	36.8	70.9	65.1	59.5
Strided-C	90.4	71.2	30.0	68.9	56.1	63.3	78.4	71.9	74.8	25.3	55.3	33.2	66.8	57.1	66.5	75.0	46.7	61.9	37.1	71.0	66.3	60.3
Gated	89.6	71.0	30.4	67.9	55.5	62.5	77.4	71.2	73.4	24.6	54.8	32.9	65.0	55.4	65.9	74.1	45.2	61.5	36.5	69.4	64.8	59.5
DPP	88.9	71.4	30.5	70.1	54.7	63.3	76.9	72.1	74.5	26.1	56.3	32.6	65.5	56.5	67.0	73.7	46.9	62.3	37.2	70.1	65.7	60.1
$\\mathcal{P}$ -pooling (our method)	<b>90.5</b>	<b>72.1</b>	<b>32.3</b>	<b>70.8</b>	<b>56.5</b>	<b>64.1</b>	<b>78.6</b>	72.3	<b>75.9</b>	<b>26.7</b>	<b>58.0</b>	<b>34.5</b>	<b>67.0</b>	<b>57.3</b>	<b>68.1</b>	<b>75.3</b>	<b>48.9</b>	<b>62.7</b>	<b>38.3</b>	<b>71.8</b>	<b>66.6</b>	<b>61.3</b>
"""

TABLES = {1: ("VGG-based", TABLE_1), 2: ("ResNet-based", TABLE_2)}
#: half a unit in the last printed place: a printed 53.8 stands for a value in [53.75, 53.85]
HALF_ULP = Fraction(1, 20)


@dataclass(frozen=True)
class Row:
    method: str
    values: tuple[Fraction, ...]  # the 21 classes, then the mean
    bold: tuple[bool, ...]

    @property
    def classes(self) -> tuple[Fraction, ...]:
        return self.values[:21]

    @property
    def mean(self) -> Fraction:
        return self.values[21]


def parse(text: str) -> list[Row]:
    rows = []
    for line in text.strip("\n").splitlines():
        cells = line.split("\t")
        if len(cells) != 1 + len(HEADER):
            raise ValueError(f"row {cells[0]!r} has {len(cells) - 1} values, not {len(HEADER)}")
        vals, bold = [], []
        for cell in cells[1:]:
            bold.append(cell.startswith("<b>"))
            vals.append(Fraction(cell.replace("<b>", "").replace("</b>", "")))
        rows.append(Row(method=cells[0], values=tuple(vals), bold=tuple(bold)))
    return rows


def round_half_even_tenth(q: Fraction) -> Fraction:
    """``q`` rounded to one decimal (ties to even; no tie occurs in these tables)."""
    return Fraction(round(q * 10), 10)
