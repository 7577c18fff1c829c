"""Shrinking finds small cases that fail the same way; reproducers run as pasted."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ppverify.conformance.cases import Case
from ppverify.conformance.driver import evaluate
from ppverify.conformance.reproducer import reproducer
from ppverify.conformance.shrink import shrink
from ppverify.conformance.targets import resolve
from ppverify.conformance.tolerances import Tolerances

pytest.importorskip("torch")


def _lp_case(layout="contiguous"):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 3.0, (2, 3, 8))  # last window [6, 7] is partial
    case = Case("lp", 1, "float32", x.astype(np.float32).astype(np.float64), 2.0, (3,), (2,),
                ceil_mode=True, layout=layout, passed_args=("stride", "ceil_mode"))
    case.grad_output = np.ones(case.expected_shape())
    return case


def test_shrink_keeps_the_category_and_gets_small():
    target = resolve("torch.nn.functional:lp_pool1d", "lp")
    tol = Tolerances()
    case = _lp_case()
    assert any(f.category == "wrong-value" for f in evaluate(target, case, tol).findings)

    def fails(c):
        return any(f.category == "wrong-value" for f in evaluate(target, c, tol).findings)

    small = shrink(case, fails)
    assert fails(small)
    assert small.input.shape[:2] == (1, 1) and small.input.size <= 3
    assert small.ceil_mode  # the bug needs a partial window
    assert set(small.input.ravel()) <= {1.0, 2.0}


@pytest.mark.parametrize("layout", ["contiguous", "strided", "channels_last"])
def test_reproducer_runs_and_shows_the_discrepancy(layout):
    code = reproducer("torch.nn.functional:lp_pool1d", _lp_case(layout))
    assert "from torch.nn.functional import lp_pool1d as f" in code
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    lines = proc.stdout.splitlines()
    got = eval(lines[0].split(None, 1)[1])
    expected = eval(lines[1].split(None, 1)[1])
    assert len(got) == len(expected) == 2 * 3 * 4
    assert got != expected  # the ceil_mode windows differ


def test_reproducer_for_an_error_input():
    from ppverify.conformance.generate import error_cases

    case = error_cases("ppool", 2, {"stride", "padding"})[0]
    code = reproducer("mypkg:p_pool2d", case)
    assert "should raise" in code and "from mypkg import p_pool2d as f" in code
    compile(code, "<reproducer>", "exec")


def test_shrinking_does_not_slip_to_another_bug():
    # lp_pool underflows on tiny inputs (output 0); shrinking must not slip to its ceil_mode
    # bug (a finite wrong value), which simpler values would expose instead
    from ppverify.conformance.driver import check

    report = check("torch.nn.functional:lp_pool1d", "lp", 1, count=16, kinds=("tiny",),
                   dtypes=("float64",), include_errors=False, shrink_seconds=6)
    underflow = [g for g in report.groups if g.signature.category == "wrong-value"
                 and g.signature.quantity == "output" and g.signature.symptom == "zero"]
    assert underflow
    for g in underflow:
        assert g.worst.got == 0.0 and g.minimal_finding.got == 0.0
        assert g.minimal_case.kind == "tiny" and g.minimal_case.feature == g.signature.feature
    assert min(g.minimal_case.input.size for g in underflow) <= 2


def test_signature_keeps_symptom_and_labels():
    from ppverify.conformance.compare import Finding
    from ppverify.conformance.diagnosis import signature_of

    case = _lp_case()
    sig = signature_of(case, Finding("exception", "raised in forward: RuntimeError: bad"))
    assert (sig.category, sig.symptom) == ("exception", "RuntimeError")
    sig = signature_of(case, Finding("wrong-value", "m", "output", 3.0, (0,), float("nan"), 1.0))
    assert sig.symptom == "nan" and sig.dtype == "float32" and sig.feature == "mixed"
    assert sig.param == "ordinary" and sig.kind == "random"


def test_shrunk_case_keeps_its_value_kind():
    # a case labelled "zeros" shrinks only to cases that still hold a zero (it used to shrink
    # to [1.0] and keep the label)
    from ppverify.conformance.values import kind_holds

    assert kind_holds("zeros", np.array([0.0, 1.0]), "float32")
    assert not kind_holds("zeros", np.array([1.0]), "float32")
    assert kind_holds("subnormal", np.array([1e-40, 1.0]), "float32")
    assert not kind_holds("subnormal", np.array([1e-30, 1.0]), "float32")
    assert kind_holds("huge", np.array([3e38]), "float32")
    assert not kind_holds("huge", np.array([3e37 / 4]), "float32")
    assert kind_holds("wide", np.array([1e-30, 1e30]), "float32")
    assert kind_holds("near-ties", np.array([1.0, 1.0 + 2 ** -23]), "float32")
    assert not kind_holds("near-ties", np.array([1.0, 1.5]), "float32")
