"""Issue 12: the kernel's channels-last path (2-D; 3-D for packed planes), against the oracle.

On channels-last memory of a multiple of 8 channels a group's 8 lanes are 8 consecutive
channels of one batch entry, so a pixel's 8 channels are one converting vector load or store
(``load_row``, ``store_row``, ``load_out_row``, ``store_out_row`` in ppool_kernel.cpp). Any
other channel count (3, 17; since 2026-12-05: before, the last group of ``C % 8`` channels
took per-lane loops with idle lanes) makes groups of 8 planes ``(n, c)`` instead, as on
contiguous memory, each lane at its own base (``Plan::packed``: per-lane loops, no bands, and
the contiguous path's bits). The groups of a batch entry share every pixel's cache lines, so
the forwards and the overlap state's backward sweep the plane in bands of rows, all the entry's
groups band by band (``cl_band_rows``), and threads take contiguous blocks of groups cut on
whole lines (``thread_groups``). The inputs here are small enough for the oracle, so the band
budget is set small (``_native.cl_band_bytes``) to run several bands per plane, and every case
first asserts which path the kernel took (``_native.layout_paths``). Also: the results are
those of the contiguous path on the same values, bit for bit (output and input gradient), no
copy of a channels-last input is made on the way to the kernel, and a checker of this kind
catches a kernel that reads channels-last memory with the wrong channel stride."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify import ops
from ppverify.ops import _dispatch, _layout, _native
from ppverify.oracle import ulp_distance

from ._cases import positive_signal
from ._compare import FORWARD_ULP, check_case, dtype_name
from ._oracle_cache import reference

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

# kernel, stride, padding, dilation, ceil_mode
GEOMETRIES = {
    "k2s2": (2, 2, 0, 1, False),                      # disjoint: the saving forward's jac
    "k3s2p1": (3, 2, 1, 1, False),                    # overlap state
    "k3s1p1": (3, 1, 1, 1, False),                    # each row in three output rows
    "k3s2-ceil": (3, 2, 0, 1, True),
    "dilation": ((3, 2), (2, 1), (1, 1), (1, 2), False),
    "k4s3p2-ceil": (4, 3, 2, 1, True),
}


def _alpha(channels: int) -> torch.Tensor:
    """One alpha per channel: positive, negative, 0, 1, large."""
    values = [2.5, -1.5, 0.0, 1.0, 7.0, 0.5, -6.0, 3.0, 12.0]
    return torch.tensor([values[c % len(values)] for c in range(channels)], dtype=torch.float64)


def _assert_paths(channels: int) -> None:
    seen = _native.layout_paths()
    if channels == 1:  # one channel: the two layouts are the same memory, served as contiguous
        assert seen == {"full": 0, "partial": 0, "later_bands": 0, "packed": 0}, seen
        return
    # channels not a multiple of the lanes: groups of 8 consecutive planes (n, c), packed
    assert (seen["packed"] > 0) == (channels % 8 != 0), seen
    assert (seen["full"] > 0) == (channels % 8 == 0), seen
    assert seen["partial"] == 0, seen
    # bands: more than one group of channels per batch entry (packed planes take none)
    assert (seen["later_bands"] > 0) == (channels > 8 and channels % 8 == 0), seen


CASES = ([(g, c, torch.float32) for g in GEOMETRIES for c in (1, 3, 17, 64)]
         + [(g, c, d) for g in ("k3s2p1", "k2s2", "dilation") for c in (17, 64)
            for d in (torch.bfloat16, torch.float16)]
         # packed planes (fewer channels than lanes) in the other dtypes: the exact engine's
         # float64 and the half types' per-lane loads and stores
         + [(g, 3, d) for g in ("k3s2p1", "k2s2") for d in (torch.float64, torch.bfloat16)])


@pytest.mark.parametrize("geometry, channels, dtype", CASES,
                         ids=[f"{g}-C{c}-{dtype_name(d)}" for g, c, d in CASES])
def test_channels_last_matches_the_oracle(geometry, channels, dtype, bands):
    # width 13: not a multiple of the 8 lanes; 2 batch entries on 2 threads
    x = positive_signal((2, channels, 11, 13), dtype, channels + len(geometry), zeros=0.05)
    x = x.contiguous(memory_format=torch.channels_last)
    bands(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        check_case(x, _alpha(channels), *GEOMETRIES[geometry], dims=2)
    finally:
        torch.set_num_threads(threads)
    _assert_paths(channels)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16], ids=dtype_name)
@pytest.mark.parametrize("geometry", ["k3s2p1", "k2s2"])
def test_packed_channels_last_volumes_match_the_oracle(geometry, dtype):
    # channels_last_3d memory of 3 channels (Plan::packed: 5-D shares the 2-D code), float64's
    # exact engine and a half type
    x = positive_signal((3, 3, 7, 9, 11), dtype, 5, zeros=0.05)
    x = x.contiguous(memory_format=torch.channels_last_3d)
    kernel, stride, padding, dilation, ceil_mode = GEOMETRIES[geometry]
    check_case(x, _alpha(3), kernel, stride, padding, dilation, ceil_mode, dims=3)
    assert _native.layout_paths()["packed"] > 0


@pytest.mark.parametrize("channels", [24, 3, 17], ids=["C24", "C3-packed", "C17-packed"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=dtype_name)
@pytest.mark.parametrize("geometry", ["k3s2p1", "k2s2", "k3s1p1"])
def test_channels_last_equals_the_contiguous_path_bit_for_bit(geometry, dtype, channels,
                                                              bands):
    # C3, C17: channels not a multiple of the lanes, packed 8 planes to a group as on
    # contiguous memory (Plan::packed): the same planes in the same lanes, so the same bits
    x = positive_signal((3, channels, 19, 21), dtype, 11, zeros=0.02)
    alpha = _alpha(channels)
    results = []
    for fmt in (torch.contiguous_format, torch.channels_last):
        xin = x.detach().contiguous(memory_format=fmt).requires_grad_(True)
        bands(xin)
        a = alpha.clone().requires_grad_(True)
        y = ops.p_pool2d(xin, a, *GEOMETRIES[geometry])
        y.backward(torch.linspace(-1, 1, y.numel()).reshape(y.shape).to(dtype))
        results.append((y.detach(), xin.grad, a.grad))
    (y0, g0, a0), (y1, g1, a1) = results
    assert y1.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(y0, y1)
    assert torch.equal(g0, g1)
    # dy/dalpha: the same terms, summed band by band on channels-last memory
    torch.testing.assert_close(a1, a0, rtol=1e-12, atol=1e-12 * float(a0.abs().max()))
    paths = _native.layout_paths()
    assert (paths["later_bands"] > 0) == (channels % 8 == 0)
    assert (paths["packed"] > 0) == (channels % 8 != 0)


# alpha 2.5: the overlap state (each element's weight); alpha 2: the integer-alpha window state
# (each window's S and y: 12 x 10 inputs, 6 x 5 windows of k3 s2 p1, 4 elements a window)
@pytest.mark.parametrize("alpha, names", [
    (2.5, ("forward_overlap_saved", "backward_overlap_saved")),
    (2.0, ("forward_saved_int", "backward_saved_int"))])
def test_no_copy_of_a_channels_last_input_on_the_way_to_the_kernel(alpha, names, monkeypatch):
    x = positive_signal((2, 16, 12, 10), torch.float32, 3)
    x = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    seen = []
    for name in names:
        original = getattr(_native, name)

        def spy(plan, xk, *args, _original=original, _name=name):
            grads = [a for a in args if isinstance(a, torch.Tensor) and a.dtype == x.dtype
                     and a.dim() == x.dim()]  # (not the state's flat buffers)
            seen.append((_name, xk.data_ptr(), [g.is_contiguous(
                memory_format=torch.channels_last) for g in grads]))
            return _original(plan, xk, *args)

        monkeypatch.setattr(_native, name, spy)
    _dispatch._native_calls.clear()
    y = ops.p_pool2d(x, alpha, 3, 2, 1)
    y.backward(torch.ones_like(y))
    assert [s[0] for s in seen] == list(names)
    assert all(ptr == x.data_ptr() for _, ptr, _ in seen)  # the input itself, not a copy
    assert all(all(cl) for _, _, cl in seen)  # y, grad_y, grad_x: channels-last, as given


def test_threads_take_blocks_of_whole_cache_lines_on_channels_last_memory():
    layout = _layout.windowed(2, 3, 2, 1)
    shape = (3, 64, 40, 40)
    out = _layout.out_spatial(layout, shape[2:])
    for dtype, per_line in ((torch.float32, 2), (torch.bfloat16, 4)):
        plan = _native.make_plan("ppool", layout, shape, dtype, True, 0, out)
        runs = _native.thread_groups(plan, 2)
        assert len(runs) == 2 and all(r.step == 1 for r in runs)
        assert [g for r in runs for g in r] == list(range(3 * 8))  # each group once
        assert runs[0].stop % per_line == 0  # the cut between two threads: on a line
    plan = _native.make_plan("ppool", layout, shape, torch.float32, False, 0, out)
    assert _native.thread_groups(plan, 2) == [range(0, 24, 2), range(1, 24, 2)]


def _oracle_output(x: torch.Tensor, alpha: float, geometry) -> np.ndarray:
    return reference("ppool", x.double().numpy(), np.asarray(alpha), *geometry, dims=2,
                     dtype=dtype_name(x.dtype), gradients=False).output


def test_a_wrong_channel_stride_is_caught():
    # planted defect: channels-last memory read by a plan that says contiguous (channel
    # stride 1 instead of C): the oracle comparison of the tests above must reject it, and
    # accept the kernel called with the right plan
    layout = _layout.windowed(2, 3, 2, 1)
    x = positive_signal((2, 17, 9, 13), torch.float32, 5).contiguous(
        memory_format=torch.channels_last)
    out = _layout.out_spatial(layout, x.shape[2:])
    ref = _oracle_output(x, 2.0, GEOMETRIES["k3s2p1"])
    p = torch.tensor([2.0], dtype=torch.float64)
    worst = {}
    for claimed in (True, False):
        plan = _native.make_plan("ppool", layout, tuple(x.shape), x.dtype, claimed, 0, out)
        y = torch.empty((2, 17, *out)).contiguous(memory_format=torch.channels_last)
        assert not _native.forward(plan.ctypes.data, x, p, y)
        worst[claimed] = float(ulp_distance(y.double().numpy(), ref, "float32").max())
    assert worst[True] <= FORWARD_ULP
    assert worst[False] > 1e6, worst


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=dtype_name)
def test_channels_last_3d_bands_match_the_oracle(dtype, bands):
    # bands of (depth, height) rows that cross depth boundaries
    x = positive_signal((2, 17, 5, 6, 7), dtype, 13, zeros=0.05)
    x = x.contiguous(memory_format=torch.channels_last_3d)
    _native.cl_band_bytes(3 * 17 * 7 * x.element_size())
    check_case(x, _alpha(17), 3, 2, 1, 1, False, dims=3)
    _assert_paths(17)
