"""Issue 12: dy/dp of large float32 / bfloat16 / float16 windows from the window sums.

The power engine takes dy/dp's window-relative sum from the window sums, U / S - ln(S / D)
(``pow_dp_fast``), where its error bound holds, and otherwise sums the window's elements a second
time (``pow_dp_rows``). The narrow types' bound grew with the terms n of U's plain sum: every
global window of a (2896, 2896) or (4096, 4096) float32 plane took the second pass (a saving
forward of 57 / 112 ms against a forward of 6 / 13, the recomputing backward 75 / 149 ms), and
with lane slices in parts the call ran again with whole slices. Lane sums of
``_native.pow_ucomp_terms()`` terms or more (2**17) now sum U compensated, as float64 does,
and the bound's n-term is 2^-50 n.

The oracle cases lower that threshold to 1,024 terms (windows it evaluates quickly), on
elements in [1, 1.01], whose core (about 4e-5) the plain bound would need above 2^30 (n + 8)
2^-52 (0.0009 at n = 4,096): no second pass, and the oracle's tolerances. (Lp's core, about
-ln n, holds the plain bound too: its cases pass either way and guard the compensated sum.) A
(2896, 2896) plane at the default threshold is held to the second pass's dy/dp (which the oracle
cases of the other test files hold)."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native

from ._compare import check_adaptive_case
from .test_saved_backward import _recomputing  # (the backward then runs in the engine)

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")


@pytest.fixture
def low_threshold():
    before = _native.pow_ucomp_terms(1024)
    yield
    _native.pow_ucomp_terms(before)


def _near_ties(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (1.0 + 0.01 * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
@pytest.mark.parametrize("shape, threads", [
    ((1, 2, 64, 64), 2),      # windows of 4,096 elements, no slices
    ((1, 3, 128, 136), 2),    # lane slices in parts (three planes on two threads): U's
                              # compensation carried from part to part
    ((1, 1, 128, 128), 1),    # lane slices, one thread
])
def test_large_narrow_windows_take_dy_dp_from_the_window_sums(op, saved, shape, threads,
                                                              monkeypatch, low_threshold):
    if not saved:
        _recomputing(monkeypatch)
    x = _near_ties(shape)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _native.pow_dp_passes()
        _native.lane_slice_parts()
        check_adaptive_case(op, x, 3.1, 1, dims=2)
        assert _native.pow_dp_passes() == 0
        assert _native.lane_slice_parts()["redone"] == 0
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_the_half_types_too(dtype, low_threshold):
    _native.pow_dp_passes()
    check_adaptive_case("powermean", _near_ties((1, 2, 64, 64), dtype), 3.1, 1, dims=2)
    assert _native.pow_dp_passes() == 0


@pytest.mark.parametrize("op", ["powermean", "lp"])
def test_a_large_plane_at_the_default_threshold(op):
    # one (2896, 2896) plane on two threads (lane slices in parts, about 2**20 terms a lane):
    # the plain bound fails on these inputs, the compensated one holds; dy/dp as the second
    # pass gives it (the threshold raised past the plane: the plain sum, then the second pass)
    from ppverify.ops import adaptive_gem_pool2d, adaptive_lp_pool2d

    fn = adaptive_gem_pool2d if op == "powermean" else adaptive_lp_pool2d
    g = torch.Generator().manual_seed(3)
    x = (1.0 + torch.rand((1, 1, 2896, 2896), generator=g, dtype=torch.float64)).float()

    def dp():
        p = torch.tensor(3.1, dtype=torch.float64, requires_grad=True)
        fn(x, p, 1).sum().backward()
        return p.grad.item()

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _native.pow_dp_passes()
        _native.lane_slice_parts()
        fast = dp()
        assert _native.pow_dp_passes() == 0
        parts = _native.lane_slice_parts()
        assert parts["units"] > 0 and parts["redone"] == 0, parts
        saved = _native.pow_ucomp_terms(1 << 40)
        try:
            second = dp()
        finally:
            _native.pow_ucomp_terms(saved)
    finally:
        torch.set_num_threads(before)
    if op == "powermean":  # (Lp's plain bound holds here: no second pass either way)
        assert _native.pow_dp_passes() > 0
    assert abs(fast - second) <= 1e-9 * abs(second), (fast, second)
