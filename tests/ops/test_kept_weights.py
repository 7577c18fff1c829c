"""Issue 12: the saving forward of a global window of few planes (lane slices in parts, the
matrix's "3 planes 1024x1024 global" rows) keeps each element's weight between its two steps.

The first step forms every element's weight for the plane's sums; dy/dx, which needs those
sums, used to be formed in the finishing step by weighing every row again (a logarithm and an
exponential per element: 2.7 of the 4.7 ms of a (1, 3, 1024, 1024) P-pooling saving forward,
two threads). The first step now keeps the weights (P-pooling's E, the power engine's E / x) as
floats where dy/dx will go, and the finishing step forms dy/dx from them (``keep_e_row``,
``jac_from_e``, ``pow_jac_from_kept``). A weight a normal float does not hold is kept as NaN
and weighed again. Every case is held to the oracle, counts the rows formed from kept weights
(``_native.xpart_kept_rows``) and checks that the state was usable (no fallback to the
recomputing backward, which would hide a wrong kept weight behind a correct gradient)."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native

from ._compare import check_adaptive_case

pytestmark = pytest.mark.skipif(
    not _native.available() or _native.vector_isa() == "scalar",
    reason="the kept weights are the vector builds' (the scalar one weighs the rows again)")


@pytest.fixture
def usable(monkeypatch):
    """The ``usable`` flags of the saving forwards run while the test runs."""
    seen: list[bool] = []
    real = _native.forward_saved

    def spy(*args):
        bad, ok = real(*args)
        seen.append(ok)
        return bad, ok

    monkeypatch.setattr(_native, "forward_saved", spy)
    return seen


def _two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    return before


def _kept_rows_of(op, x, param) -> int:
    """check_adaptive_case on two threads; the rows formed from kept weights meanwhile."""
    _native.xpart_kept_rows()
    before = _two_threads()
    try:
        check_adaptive_case(op, x, param, 1, dims=2)
    finally:
        torch.set_num_threads(before)
    return _native.xpart_kept_rows()


def _planes(scales, shape=(128, 136), seed=0):
    """Planes of values in [s, 4 s], one per scale."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand((1, len(scales), *shape), generator=g, dtype=torch.float64)
    s = torch.tensor(scales, dtype=torch.float64).view(1, -1, 1, 1)
    return (s * (1 + 3 * u)).float()


@pytest.mark.parametrize("op, param, dtype", [
    ("ppool", 2.5, torch.float32), ("ppool", [-1.5, 3.1, 0.5], torch.float32),
    ("powermean", 3.1, torch.float32), ("lp", [2.5, 1.5, 3.0], torch.float32),
    ("ppool", 2.5, torch.bfloat16), ("powermean", 3.1, torch.float16)])
def test_the_finishing_step_forms_dy_dx_from_the_kept_weights(op, param, dtype, usable):
    # three planes on two threads: two parts each; every row of every slice (128 / 8 = 16 per
    # plane) formed from its kept weights
    x = _planes([1.0, 0.3, 2.0]).to(dtype)
    _native.lane_slice_parts()
    assert _kept_rows_of(op, x, param) == 3 * 128 // 8
    assert _native.lane_slice_parts() == {"units": 6, "redone": 0}
    assert usable == [True]


@pytest.mark.parametrize("op, param", [("ppool", 2.5), ("ppool", 0.5), ("powermean", 3.1),
                                       ("lp", 2.5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kept_weights_of_zeros(op, param, dtype, usable):
    # every fifth element 0 (a ReLU's output): E = 0 kept at alpha > 0 (dy/dx at a zero: kz);
    # the power engine's E / x at a zero. (At alpha = 0 and other integers P-pooling keeps the
    # window state instead; below 0 a zero sends the window to the exact engine, the call to
    # whole slices.)
    x = _planes([1.0, 0.3, 2.0])
    x.view(-1)[::5] = 0.0
    assert _kept_rows_of(op, x.to(dtype), param) == 3 * 128 // 8
    assert usable == [True]


@pytest.mark.parametrize("op, param, scales", [
    # E = x^2.5 beyond float's range (1e40 and above) and below its normal range (1e-42)
    ("ppool", 2.5, [1.0, 1e16, 1e-17]),
    # E / x (E relative to the plane's largest element) beyond float's range: subnormal inputs
    ("powermean", 3.1, [1.0, 1e-39, 2.0]),
])
def test_weights_a_float_does_not_hold_are_weighed_again(op, param, scales, usable):
    # the kept NaN is weighed again from x: the state stays usable and within the oracle's
    # tolerances (kept as inf, the state would be unusable; kept as a subnormal, inaccurate)
    kept = _kept_rows_of(op, _planes(scales), param)
    # P-pooling weighs the NaN blocks again in place (every row counted); the power engine
    # weighs such a row again whole (the plane of subnormals not counted)
    assert kept == (3 if op == "ppool" else 2) * 128 // 8
    assert usable == [True]


def test_no_kept_weights_where_the_rows_are_weighed_again_anyway(usable):
    # slices that borrow rows (two parts would read and write one row's state), an integer
    # alpha (P-pooling's window state: S and y per window, no dy/dx), one thread (no parts)
    _native.xpart_kept_rows()
    before = _two_threads()
    try:
        check_adaptive_case("ppool", _planes([1.0], shape=(127, 129)), 2.5, 1, dims=2)
        check_adaptive_case("powermean", _planes([1.0], shape=(127, 129)), 3.1, 1, dims=2)
        check_adaptive_case("ppool", _planes([1.0, 2.0, 3.0]), 2.0, 1, dims=2)
        torch.set_num_threads(1)
        check_adaptive_case("powermean", _planes([1.0, 2.0, 3.0]), 3.1, 1, dims=2)
    finally:
        torch.set_num_threads(before)
    assert _native.xpart_kept_rows() == 0


def test_p_pooling_global_rows_stay_within_the_column_tile(usable):
    # P-pooling's saving forward keeps no usable state for a window wider than its column tile
    # (2048 columns): a (2896, 2896) plane's or a 4,000,000-element signal's backward then
    # recomputed the forward. Its global rows are folded to at most 2048 elements
    # (_dispatch.GLOBAL_ROW_MAX_PPOOL; the power engine's to 4096); here a (16, 2560) plane as
    # 32 rows of 1280, and the state used
    from ppverify.ops import _dispatch, _layout

    layout = _layout.adaptive(2, 1)
    assert _dispatch._global_rows("ppool", layout, (16, 2560)) == (32, 1280)
    assert _dispatch._global_rows("powermean", layout, (16, 2560)) is None
    assert _dispatch._global_rows("ppool", layout, (2896, 2896)) == (5792, 1448)
    assert _dispatch._global_rows("ppool", layout, (4_000_000,)) == (2000, 2000)
    check_adaptive_case("ppool", _planes([1.0, 2.0], shape=(16, 2560)), 2.5, 1, dims=2)
    assert usable == [True]


@pytest.mark.parametrize("op, param", [("ppool", 2.5), ("powermean", 3.1), ("lp", [2.5, 1.5])])
def test_one_call_keeps_its_weights_between_its_passes(op, param, usable):
    # two planes on two threads (no parts): a saving forward's second pass, dy/dx, read each
    # row again from the row cache where it held the plane, else weighed it again; now it
    # keeps the weights in the state between the passes. The row cache made small here so
    # that it holds no plane's rows (_native.cache_bytes, pow_cache_bytes)
    before = (_native.cache_bytes(64 << 10), _native.pow_cache_bytes(64 << 10))
    try:
        kept = _kept_rows_of(op, _planes([1.0, 0.3]), param)
    finally:
        _native.cache_bytes(before[0])
        _native.pow_cache_bytes(before[1])
    assert kept == 2 * 128 // 8
    assert usable == [True]


@pytest.mark.parametrize("op, param", [("ppool", 2.5), ("powermean", 3.1), ("lp", 2.5)])
def test_a_plane_past_the_l2_keeps_its_weights_not_its_rows(op, param, usable):
    # one thread, eight planes (one group): the saving forward held a plane's rows in the row
    # cache for its second pass wherever they fit (12 MB); past KEEP_PLANE_FROM (2 MiB) it now
    # keeps the weights in the state between its passes. 128 x 128: 3 MiB of rows (kept, each
    # of the 128 rows formed from its kept weights); 64 x 64: 0.75 MiB (cached); 12 planes
    # (the second group of 4, which keep_e_row does not serve): the rows held, as before
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        found = []
        for planes, side in ((8, 128), (8, 64), (12, 128)):
            _native.xpart_kept_rows()
            x = _planes([1.0 + 0.1 * k for k in range(planes)], shape=(side, side), seed=side)
            check_adaptive_case(op, x, param, 1, dims=2)
            found.append(_native.xpart_kept_rows())
    finally:
        torch.set_num_threads(before)
    assert found == [128, 0, 0]
    assert usable == [True, True, True]
