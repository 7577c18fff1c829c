"""Fixtures shared by the tests of the ops."""

from __future__ import annotations

import pytest


@pytest.fixture
def bands():
    """Channels-last bands of about two input rows of the test's input (``use(x)``, before the
    call), so that a plane runs in several bands; the kernel's band budget is restored after and
    ``_native.layout_paths()``'s counts are reset before."""
    from ppverify.ops import _native

    before = _native.cl_band_bytes()
    _native.layout_paths()  # reset the counts

    def use(x) -> None:
        _native.cl_band_bytes(2 * x.shape[1] * x.shape[3] * x.element_size())

    yield use
    _native.cl_band_bytes(before)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    """Run the case on 1 and on 2 threads, the kernel's segments on both (their grain lowered
    to 64 elements, so that small inputs are cut on two threads too); restored after."""
    import torch

    from ppverify.ops import _native

    before_threads = torch.get_num_threads()
    before_grain = _native.segment_grain(64)
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before_threads)
    _native.segment_grain(before_grain)


@pytest.fixture(params=["native", "torch"])
def native_or_torch(request, monkeypatch):
    """Run the case on the C++ kernel (skipped where it cannot be built) and on the pure-torch
    path (the kernel switched off for the test)."""
    from ppverify.ops import _dispatch, _native

    if request.param == "native" and not _native.available():
        pytest.skip("no C++ kernel on this machine")
    if request.param == "torch":
        monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)
    return request.param


@pytest.fixture
def weight_paths():
    """The counts of ``_native.weight_paths`` over the test's own calls (a function: call it
    to read; reset before the test)."""
    from ppverify.ops import _native

    _native.weight_paths()  # reset
    return _native.weight_paths


@pytest.fixture
def float32_power_state(monkeypatch):
    """Let the dispatch take the power overlap state for float32 too (it takes float64's
    alone, ``ppverify.ops._dispatch.POWER_OVERLAP_STATE_DTYPES``; the tests that use this hold
    the kernel's float32 state to the oracle). The cached calls' choices stand for one rule:
    cleared on both sides."""
    import torch

    from ppverify.ops import _dispatch

    monkeypatch.setattr(_dispatch, "POWER_OVERLAP_STATE_DTYPES", (torch.float32, torch.float64))
    _dispatch._native_calls.clear()
    _dispatch._eager_calls.clear()
    yield
    _dispatch._native_calls.clear()
    _dispatch._eager_calls.clear()


@pytest.fixture
def general_path():
    """The channels-last forward at an integer alpha on the general path (the direct path,
    ``_native.direct_enable``, off for the test; restored after): for the tests of what the
    general path does on such inputs."""
    from ppverify.ops import _native

    if not _native.available():
        yield
        return
    before = _native.direct_enable(False)
    yield
    _native.direct_enable(before)
