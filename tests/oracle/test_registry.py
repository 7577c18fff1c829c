"""ppverify.oracle.registry: one consistent record per operator."""

from __future__ import annotations

from fractions import Fraction

import mpmath as mp
import pytest
from flint import ctx

from ppverify.oracle import OPERATORS, get_operator
from ppverify.oracle.operators import WindowValues

SAMPLE = [0.5, 2.0, 1.25, 3.0]
PARAMS = {"ppool": [2.0, 0.5, -1.5, 0.0], "lp": [1.0, 2.0, 0.5], "powermean": [0.0, 1.0, 2.5]}


def _mpf(v):
    if isinstance(v, Fraction):
        return mp.mpf(v.numerator) / v.denominator
    if isinstance(v, float):
        return mp.mpf(v)
    return mp.mpf(v.mid()._mpf_)


def test_records_are_complete():
    assert set(OPERATORS) == {"ppool", "avg", "max", "min", "lp", "powermean"}
    for name, info in OPERATORS.items():
        assert info.name == name and info.title and info.formula and info.padding
        assert info.has_param == (name in PARAMS)
        if info.has_param:
            assert info.param_name in ("alpha", "p") and info.param_domain


def test_torch_functional_names_exist():
    torch = pytest.importorskip("torch")
    for info in OPERATORS.values():
        if info.torch_functional:
            for d in (1, 2, 3):
                assert hasattr(torch.nn.functional, f"{info.torch_functional}{d}d")


def test_get_operator_error_lists_names():
    with pytest.raises(ValueError, match="op must be one of"):
        get_operator("median")


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_window_and_exact_agree(name):
    info = OPERATORS[name]
    saved = ctx.prec
    ctx.prec = 256
    # compared at 300 bits: at mpmath's default 53 both sides round to the same double unless
    # they differ by ~2**-53, so the 2**-200 threshold would test nothing below that
    with mp.workprec(300):
        try:
            for param in PARAMS.get(name, [None]):
                for include in (False, True):
                    r = info.window(SAMPLE, param, 2, include, info.has_param)
                    assert isinstance(r, WindowValues) and len(r.grad_inputs) == len(SAMPLE)
                    e = info.exact(SAMPLE, param, 2, include)
                    if e is None:
                        continue
                    # float: max/min return an input
                    assert isinstance(e.value, (Fraction, float))
                    assert abs(_mpf(e.value) - _mpf(r.value)) < mp.mpf(2) ** -200
                    for a, b in zip(e.grad_inputs, r.grad_inputs):
                        assert abs(_mpf(a) - _mpf(b)) < mp.mpf(2) ** -200
        finally:
            ctx.prec = saved


def test_padding_meaning_per_operator():
    # padded zeros join the window only for the operators whose record says so
    xs = [2.0, 4.0]
    assert OPERATORS["avg"].window(xs, None, 2, True, False).value == Fraction(6, 4)
    assert OPERATORS["avg"].window(xs, None, 2, False, False).value == 3
    assert OPERATORS["ppool"].window(xs, 0.0, 2, True, False).value == Fraction(6, 4)
    assert OPERATORS["max"].window([-2.0], None, 3, True, False).value == -2  # never padding
    assert OPERATORS["min"].window([2.0], None, 3, True, False).value == 2
    lp_pad = OPERATORS["lp"].window(xs, 2.0, 2, True, False).value
    lp = OPERATORS["lp"].window(xs, 2.0, 0, False, False).value
    with mp.workprec(200):
        assert abs(_mpf(lp_pad) - _mpf(lp)) < mp.mpf(2) ** -50
