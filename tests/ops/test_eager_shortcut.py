"""The eager shortcut of ``ppverify.ops._dispatch.pool`` (a cached kind of call served by the
C++ kernel directly): it serves repeated calls, never serves a call of another kind (shape,
strides, dtype, layout, operator), and gives way to the full path wherever that must decide.

The cache-key test is checked against a planted defect: with any one field dropped from the
key (``_eager_key``), a call of another kind finds the first call's entry and the oracle
comparison that the test makes fails."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from ppverify.ops import _dispatch, _native, gem_pool2d, p_pool2d
from ppverify.oracle import ulp_distance

from ._cases import positive_signal
from ._compare import FORWARD_ULP
from ._oracle_cache import reference
from ._shortcuts import served_by_shortcut as _served_by_shortcut

pytestmark = pytest.mark.skipif(not _native.available(), reason="needs the C++ kernel")

ALPHA = 1.5


def _input(shape, dtype=torch.float32, channels_last=False, seed=0):
    x = positive_signal(shape, dtype, seed)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# pairs of calls that agree in every field of the key but the one named: the first call is made
# three times (its entry is stored on the second), then the second call three times
PAIRS = {
    "shape": ((p_pool2d, _input((1, 2, 5, 6)), 2), (p_pool2d, _input((2, 2, 5, 6)), 2)),
    "strides": ((p_pool2d, _input((2, 3, 5, 6)), 2),
                (p_pool2d, _input((2, 3, 5, 6), channels_last=True), 2)),
    "dtype": ((p_pool2d, _input((1, 2, 5, 6)), 2),
              (p_pool2d, _input((1, 2, 5, 6), torch.float64), 2)),
    "layout": ((p_pool2d, _input((1, 2, 6, 6)), 2), (p_pool2d, _input((1, 2, 6, 6)), 3)),
    "operator": ((p_pool2d, _input((1, 2, 6, 6)), 2), (gem_pool2d, _input((1, 2, 6, 6)), 2)),
}
FIELDS = ("operator", "layout", "shape", "strides", "dtype")  # _eager_key's order


def _oracle_mismatch(fn, x, kernel) -> str | None:
    """None if ``fn(x, ALPHA, kernel)`` is within the forward bound of the oracle, else why
    (an error raised for this valid input is a mismatch too)."""
    try:
        y = fn(x, ALPHA, kernel)
    except Exception as err:  # noqa: BLE001
        return f"raised {err!r}"
    op = "ppool" if fn is p_pool2d else "powermean"
    name = str(x.dtype).removeprefix("torch.")
    ref = reference(op, x.double().numpy(), ALPHA, kernel, dims=2, dtype=name,
                    gradients=False).output
    got = y.double().numpy()
    if got.shape != ref.shape:
        return f"shape {got.shape}, oracle {ref.shape}"
    if y.stride() != torch.empty(y.shape, memory_format=_dispatch._memory_format(x)).stride():
        return f"strides {y.stride()} for an input of strides {x.stride()}"
    worst = float(np.max(ulp_distance(got, ref, name)))
    return None if worst <= FORWARD_ULP else f"{worst} ULP from the oracle"


def _pair_mismatch(field: str) -> str | None:
    """Run the pair of ``field`` (each call three times, the shortcut serving the last ones)
    and return the first mismatch with the oracle, or None."""
    _dispatch._eager_calls.clear()
    for fn, x, kernel in PAIRS[field]:
        for _ in range(3):
            why = _oracle_mismatch(fn, x, kernel)
            if why is not None:
                return why
    return None


@pytest.mark.parametrize("field", FIELDS)
def test_a_cached_call_is_never_reused_for_another_kind(field):
    assert _pair_mismatch(field) is None
    # the shortcut did serve the second call (entries of both kinds are there)
    assert len(_dispatch._eager_calls) == 2


@pytest.mark.parametrize("dropped", range(len(FIELDS)))
def test_the_key_test_catches_a_key_without_one_field(monkeypatch, dropped):
    """Planted defect: the key without field ``dropped``; the test above must then fail on
    that field's pair (each field of the key is needed, and the test would see it go)."""
    full = _dispatch._eager_key

    def short_key(op, layout, input):
        key = full(op, layout, input)
        return key[:dropped] + key[dropped + 1:]

    monkeypatch.setattr(_dispatch, "_eager_key", short_key)
    assert _pair_mismatch(FIELDS[dropped]) is not None


def test_the_shortcut_serves_a_repeated_plain_call(monkeypatch):
    x = _input((1, 1, 4, 4))
    assert _served_by_shortcut(monkeypatch, lambda: p_pool2d(x, 2.0, 2))
    unbatched = _input((3, 4, 4))
    assert _served_by_shortcut(monkeypatch, lambda: p_pool2d(unbatched, 2.0, 2))
    assert p_pool2d(unbatched, 2.0, 2).shape == (3, 2, 2)


def test_the_full_path_decides_everything_else(monkeypatch):
    # (autograd's calls have a shortcut of their own, tests/ops/test_train_shortcut.py: off)
    monkeypatch.setattr(_dispatch, "_train_shortcut", lambda *a: None)
    x = _input((1, 1, 4, 4))
    xg = x.clone().requires_grad_(True)
    alpha = torch.tensor(2.0)
    for call in (lambda: p_pool2d(xg, 2.0, 2),                   # autograd
                 lambda: p_pool2d(x, alpha, 2),                   # a tensor parameter
                 lambda: p_pool2d(x, 2, 2),                       # an int parameter
                 lambda: p_pool2d(torch.nn.Parameter(x), 2.0, 2),  # a subclass
                 lambda: torch.func.vmap(lambda t: p_pool2d(t, 2.0, 2))(x)):
        assert not _served_by_shortcut(monkeypatch, call)
    # a backend choice changed after the entry was stored: the full path again
    assert _served_by_shortcut(monkeypatch, lambda: p_pool2d(x, 2.0, 2))
    monkeypatch.setattr(_dispatch, "_use_native", lambda t: False)
    assert not _served_by_shortcut(monkeypatch, lambda: p_pool2d(x, 2.0, 2))
    monkeypatch.undo()
    assert _served_by_shortcut(monkeypatch, lambda: p_pool2d(x, 2.0, 2))
    monkeypatch.setattr(_native, "available", lambda: False)  # as test_fallback does
    assert not _served_by_shortcut(monkeypatch, lambda: p_pool2d(x, 2.0, 2))
    monkeypatch.undo()
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    full = []
    original = _dispatch._pool
    monkeypatch.setattr(_dispatch, "_pool", lambda *a: full.append(1) or original(*a))
    with contextlib.suppress(Exception):  # Triton on CPU may be missing: the route matters
        p_pool2d(x, 2.0, 2)
    assert full


def test_the_shortcut_keeps_the_errors_that_name_the_element():
    x = _input((1, 1, 4, 4))
    for _ in range(3):
        p_pool2d(x, 2.0, 2)
    bad = x.clone()
    bad[0, 0, 1, 2] = -1.0
    with pytest.raises(ValueError, match=r"negative values \(first at batch 0, channel 0, "
                                         r"position \(1, 2\)\)"):
        p_pool2d(bad, 2.0, 2)
    bad[0, 0, 1, 2] = float("nan")
    assert torch.isnan(p_pool2d(bad, 2.0, 2, validate=False)).any()
    with pytest.raises(TypeError, match="validate must be a bool"):
        p_pool2d(x, 2.0, 2, validate=1)
    with pytest.raises(ValueError, match="alpha must be finite"):
        p_pool2d(x, float("inf"), 2)
