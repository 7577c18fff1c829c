"""Issue 12: the compiled kernel's fast engine works on column tiles of at most
``TILE_COLS`` (2048) input columns, sums a wider window in chunks, and keeps its row cache within
a byte budget. These cases put windows across tile and chunk boundaries (padding, dilation,
ceil_mode, overlapping adaptive windows, one window wider than a tile, special windows that
the exact engine evaluates, channels_last) and compare forward and backward with the oracle;
the memory tests hold the scratch to bounds independent of the row length and window size."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native

from ._child import peak_rss_growth
from ._compare import check_adaptive_case, check_case, dtype_name

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

TILE_COLS = 2048  # ppool_kernel.cpp
DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]


def _signal(shape, dtype, seed, zeros=()):
    """Values in [0.05, 1.05) with exact zeros at the given last-axis positions."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.05
    for i in zeros:
        x[..., i] = 0.0
    return x.to(dtype)


def test_tile_size_is_the_kernels():
    text = _native.SOURCE.read_text()
    assert f"constexpr int64_t TILE_COLS = {TILE_COLS};" in text


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
def test_windows_across_column_tiles_match_the_oracle(dtype):
    # 4300 columns: three tiles; kernel 5, dilation 2 (windows read 9 columns), stride 2,
    # padding 2, ceil_mode: windows straddle both tile boundaries and the clipped edges. One
    # alpha per channel: 0 with zeros (special windows, evaluated by the exact engine, whose
    # gradients cross the tile boundary), 150 (the plane's dominant element is found in
    # chunks; small weights), 2.5
    x = _signal((1, 3, 4300), dtype, 1, zeros=(2044, 2047, 2050, 4101))
    gout = _signal((1, 3, 2149), dtype, 2).double()  # a tensor numpy can read
    alpha = torch.tensor([2.5, 0.0, 150.0], dtype=torch.float64)
    check_case(x, alpha, 5, 2, 2, 2, True, dims=1, grad_output=gout)


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=dtype_name)
def test_two_dimensional_windows_across_column_tiles(dtype, channels_last):
    x = _signal((1, 3, 3, 2100), dtype, 3, zeros=(2046, 2049))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    alpha = torch.tensor([1.5, 0.0, -2.0], dtype=torch.float64)
    x[0, 1, 1, 5] = 0.0
    check_case(x, alpha, (2, 4), (1, 3), (1, 1), 1, True, dims=2)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
def test_a_window_wider_than_a_tile_is_summed_in_chunks(dtype):
    # kernel 4500 > TILE_COLS, stride 1500: overlapping windows, each over three chunks
    x = _signal((1, 2, 6100), dtype, 4, zeros=(2048, 4095))
    alpha = torch.tensor([3.0, 0.0], dtype=torch.float64)
    check_case(x, alpha, 4500, 1500, dims=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=dtype_name)
@pytest.mark.parametrize("output_size", [1, 7, 3001])
def test_adaptive_windows_across_column_tiles(dtype, output_size):
    # 1: one global window of 4500 columns (three chunks); 7: windows of 643-644 columns;
    # 3001 > 4500 / 2: windows of 2 overlapping by one column at irregular places
    x = _signal((1, 2, 4500), dtype, 5)
    check_adaptive_case("ppool", x, torch.tensor([2.0, -1.5], dtype=torch.float64),
                        output_size, dims=1)


def test_large_alpha_backward_across_tiles_in_the_exact_engine():
    # |alpha| > 2^20: every window's gradient is evaluated by the exact engine into the
    # lazily allocated plane buffer, read back tile by tile
    x = _signal((1, 1, 4200), torch.float32, 6)
    check_case(x, torch.tensor([3e6], dtype=torch.float64), 3, 2, 1, dims=1)


@pytest.mark.parametrize("geometry", [
    # (spatial, kernel, stride, padding, dilation, ceil_mode)
    ((9,), 3, 2, 1, 1, True), ((10,), 4, 3, 2, 2, True), ((7,), 2, 1, 0, 3, False),
    ((5, 11), (3, 2), (2, 3), (1, 1), (1, 4), True), ((4,), 1, 5, 0, 1, True),
    ((6, 5, 13), 3, 2, 1, 2, False)])
def test_kernel_plans_match_the_oracles_windows(geometry):
    """The plan's start / count tables (written in place, edges corrected) hold exactly the
    positions of ppverify.windows, the oracle's independent enumeration of torch's windows."""
    import numpy as np

    from ppverify.ops import _layout
    from ppverify.windows import iter_windows, make_adaptive_geometry, make_geometry

    spatial, k, s, p, d, ceil = geometry
    dims = len(spatial)
    for layout, geom in [(_layout.windowed(dims, k, s, p, d, ceil),
                          make_geometry(dims, k, s, p, d, ceil)),
                         (_layout.adaptive(dims, tuple(max(1, n // 2 + 1) for n in spatial)),
                          make_adaptive_geometry(dims, tuple(max(1, n // 2 + 1) for n in spatial))),
                         (_layout.adaptive(dims, tuple(2 * n - 1 for n in spatial)),
                          make_adaptive_geometry(dims, tuple(2 * n - 1 for n in spatial)))]:
        out = _layout.out_spatial(layout, spatial)
        plan = _native.make_plan("ppool", layout, (1, 1, *spatial), torch.float32, False, 0, out)
        pad, head = 3 - dims, 16
        sizes3 = [1] * pad + list(out)
        tables, at = [], head
        for axis in range(3):
            n = sizes3[axis]
            starts, counts, step = plan[at:at + n], plan[at + n:at + 2 * n], plan[13 + axis]
            tables.append((starts, counts, step))
            at += 2 * n
        assert at == len(plan)
        for w in iter_windows(geom, spatial):
            per_axis = []
            for a in range(dims):
                starts, counts, step = tables[pad + a]
                o = w.out_index[a]
                per_axis.append({int(starts[o] + j * step) for j in range(int(counts[o]))})
            got = {tuple(idx) for idx in np.array(np.meshgrid(*[sorted(s_) for s_ in per_axis],
                                                             indexing="ij")).reshape(dims, -1).T}
            assert got == {tuple(q) for q in w.positions}, (geometry, layout, w.out_index)


def test_a_long_one_dimensional_plane_in_bounded_memory():
    """Issue 12: a (1, 1, 2_000_000) float32 signal grew the process by 705 MB (the fast
    engine's scratch held whole rows x 8 lanes: 350 B per element). Now every kernel buffer is
    bounded by TILE_COLS or CACHE_BYTES, and the plan (16 B per output, cached per shape) is
    built in place. What remains is the output, x.grad and the plan (2.7 + 8 + 10.7 MB):
    measured 2026-12-02 in such a child, +13.5 MB forward and +27.1 MB forward+backward
    (max_pool1d: +9.5 / +22.4 MB). Since the saved-state backward (windows of stride 3 share
    no element) the forward also holds each element's dy/dx (float32, 8 MB; the backward writes
    x.grad over it, so forward+backward does not grow): +23.4-24.5 MB forward and +27.5-29.6 MB
    forward+backward in three such children (2026-12-02 04:35 UTC), of which 21.4 MB are
    the plan, the state and the output. The bounds leave room for allocator noise and catch any
    buffer of 4 B or more per element that grows with the row again (8 MB here)."""
    result = peak_rss_growth("p_pool1d", "2.0, 3", (1, 1, 8), (1, 1, 2_000_000))
    assert result["finite"]
    assert result["forward_kb"] < 30 * 1024, result  # before: 705 MB
    assert result["grown_kb"] < 40 * 1024, result
