"""No false alarm: careful float implementations of every operator, written for the tests
(_careful.py: working precision, float32 for the half types; or everything in float64), pass
the checker in every pooling mode. Default runs here (every pair of factor levels); the
--thorough runs are marked slow (`python -m tests.conformance.careful_survey` runs the whole
matrix: 6 operators x 3 pooling modes x 1-3 D x both precisions)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ppverify.conformance.driver import check  # noqa: E402

from . import _careful  # noqa: E402

OPS = ("ppool", "powermean", "lp", "avg", "max", "min")
# one dimension per (op, pooling), cycling, so that every dimension and mode is exercised
MATRIX = [(op, pooling, 1 + (i + j) % 3) for i, op in enumerate(OPS)
          for j, pooling in enumerate(("windowed", "adaptive", "global"))]


def _failures(report):
    return [f"{g.signature.title()}: {g.worst.message}" for g in report.groups[:5]]


@pytest.mark.parametrize("op, pooling, dims", MATRIX,
                         ids=[f"{o}-{p}-{d}d" for o, p, d in MATRIX])
def test_careful_implementation_conforms(op, pooling, dims):
    report = check(_careful.make(op, dims, pooling), op, dims, pooling=pooling, isolate=False,
                   shrink_seconds=2)
    assert report.conforms, _failures(report)
    assert report.coverage[dims].complete
    assert report.error_cases_run >= 2 and report.error_cases_passed == report.error_cases_run


@pytest.mark.parametrize("op", ["ppool", "powermean"])
def test_careful_float64_implementation_conforms(op):
    report = check(_careful.make(op, 2, "windowed", work="float64"), op, 2, isolate=False,
                   shrink_seconds=2)
    assert report.conforms, _failures(report)


@pytest.mark.slow
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
def test_careful_implementation_conforms_thorough(op):
    report = check(_careful.make(op, 2, "windowed"), op, 2, thorough=True, isolate=False,
                   shrink_seconds=2)
    assert report.conforms, _failures(report)
    assert report.cases_run >= 495
