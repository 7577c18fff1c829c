"""The tests' remembered oracle (``_oracle_cache.reference``): the same results as the oracle,
asked again only for a case that differs in any bit, each caller's arrays its own."""

from __future__ import annotations

import numpy as np
import pytest

from ppverify import oracle
from ppverify.oracle import OracleDomainError

from . import _oracle_cache
from ._oracle_cache import reference

_ORACLE = oracle.reference  # the oracle itself, for the expected values


def _asked(monkeypatch) -> list:
    """Record the calls that reach the oracle itself."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return _ORACLE(*args, **kwargs)

    monkeypatch.setattr(_oracle_cache.oracle, "reference", counted)
    monkeypatch.setattr(_oracle_cache, "_results", type(_oracle_cache._results)())
    return calls


def _same(a: oracle.OracleResult, b: oracle.OracleResult) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in
               ("output", "grad_input", "grad_param")) and a.notes == b.notes


def test_the_same_case_is_asked_once_and_each_caller_gets_a_copy(monkeypatch):
    asked = _asked(monkeypatch)
    x = np.random.default_rng(1).random((1, 2, 6, 6)).astype(np.float32).astype(np.float64)
    g = np.full((1, 2, 3, 3), -0.5)
    first = reference("ppool", x, 2.5, 2, dims=2, dtype="float32", grad_output=g)
    second = reference("ppool", x.copy(), 2.5, 2, dims=2, dtype="float32", grad_output=g.copy())
    assert len(asked) == 1
    direct = _ORACLE("ppool", x, 2.5, 2, dims=2, dtype="float32", grad_output=g)
    assert _same(first, direct) and _same(second, direct)
    first.output[...] = 7.0  # a caller's change reaches no other caller
    first.grad_input[...] = 7.0
    third = reference("ppool", x, 2.5, 2, dims=2, dtype="float32", grad_output=g)
    assert len(asked) == 1 and _same(third, direct)


@pytest.mark.parametrize("change", ["one element", "negative zero", "parameter", "dtype",
                                    "grad_output", "keyword", "shape", "array dtype"])
def test_a_case_that_differs_in_anything_is_asked_again(monkeypatch, change):
    asked = _asked(monkeypatch)
    x = np.random.default_rng(2).random((1, 1, 4, 4))
    x[0, 0, 0, 0] = 0.0
    args, kwargs = ["ppool", x, 2.0, 2], {"dims": 2, "dtype": "float64"}
    reference(*args, **kwargs)
    y = x.copy()
    if change == "one element":
        y[0, 0, 3, 3] = np.nextafter(y[0, 0, 3, 3], 2.0)
        args[1] = y
    elif change == "negative zero":
        y[0, 0, 0, 0] = -0.0
        args[1] = y
    elif change == "parameter":
        args[2] = np.nextafter(2.0, 3.0)
    elif change == "dtype":
        kwargs["dtype"] = "float32"
    elif change == "grad_output":
        kwargs["grad_output"] = np.full((1, 1, 2, 2), 2.0)
    elif change == "keyword":
        kwargs["gradients"] = False
    elif change == "shape":
        args[1] = y.reshape(1, 1, 2, 8)
    else:
        args[1] = y.astype(np.float32)
    result = reference(*args, **kwargs)
    assert len(asked) == 2, change
    assert _same(result, _ORACLE(*args, **kwargs))


def test_errors_and_unkeyable_arguments_go_to_the_oracle_every_time(monkeypatch):
    asked = _asked(monkeypatch)
    x = np.array([[[1.0, float("nan")]]])
    for _ in range(2):
        with pytest.raises(OracleDomainError):
            reference("ppool", x, 2.0, 2, dims=1)
    assert len(asked) == 2
    objects = np.array([[[1.0, 2.0]]], dtype=object)
    for _ in range(2):
        reference("ppool", objects, 2.0, 2, dims=1)
    assert len(asked) == 4
