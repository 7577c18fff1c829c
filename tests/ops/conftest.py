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
