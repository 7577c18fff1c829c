"""Issue 12: the fast engine loads an input row and computes its weights E = exp(a (ln x - Lc)) in
one function (``load_weights_row`` in ppool_kernel.cpp). On AVX-512 builds, for a group of 8
active planes and a row segment of at least 8 columns, the loads are fused into the logarithms'
pass (a channels-last column is one converting load, its next row's pixel prefetched; a
contiguous group's 8 planes are read 8 columns at a time and transposed in registers, the last n
% 8 columns by the split path: ``tail``); otherwise the row is loaded by ``load_row`` and
weighed by ``compute_row``. Every case first runs the op against the oracle (forward and, where
asked, gradients through autograd: the overlap state's backward and the recomputing one also
load rows this way), then asserts which path the kernel took (``_native.weight_paths``):
contiguous and channels-last memory, widths with and without a partial block of 8 columns, 1-D
to 3-D, zeros and one alpha per channel (negative, 0, 1, large: a plane reference Lc other than
0), the half types; and the split path alone for partial groups and rows narrower than 8
columns."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native

from ._cases import positive_signal
from ._compare import check_adaptive_case, check_case, dtype_name
from .test_saved_backward import _runs_vector_code
from .test_window_sums import FAST_DTYPES, _alpha

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

# dims, shape (8 or 16 channels: whole groups), kernel, stride, padding
FUSED = [
    (2, (2, 8, 19, 24), 3, 2, 1),     # k3 s2 p1, 24 columns: whole blocks of 8
    (2, (1, 16, 17, 29), 3, 2, 1),    # 29 columns: a partial block of 5
    (2, (1, 8, 20, 22), 2, 2, 0),     # disjoint windows (the saved dy/dx)
    (3, (1, 8, 7, 9, 13), 3, 2, 1),   # 3-D
    (1, (2, 8, 203), 3, 2, 1),        # 1-D: one long row
]
FUSED_LAYOUTS = [(c, cl) for c in FUSED for cl in (False, True) if not (cl and c[0] == 1)]


def _memory(x, dims, channels_last):
    if not channels_last:
        return x
    return x.contiguous(memory_format=torch.channels_last if dims == 2
                        else torch.channels_last_3d)


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize(
    "case, channels_last", FUSED_LAYOUTS,
    ids=[f"{c[0]}d-{c[1]}-k{c[2]}-{'channels_last' if cl else 'contiguous'}"
         for c, cl in FUSED_LAYOUTS])
def test_rows_loaded_into_the_logarithms_pass_match_the_oracle(case, channels_last, dtype,
                                                                weight_paths):
    dims, shape, kernel, stride, padding = case
    x = _memory(positive_signal(shape, dtype, 40 + shape[-1], zeros=0.1), dims, channels_last)
    check_case(x, _alpha(shape[1]), kernel, stride, padding, 1, False, dims=dims)
    seen = weight_paths()
    if not _runs_vector_code():
        assert seen["fused"] == seen["tail"] == 0 and seen["split"] > 0, seen
        return
    assert seen["split"] == 0, seen
    # contiguous rows of a width that is not a multiple of 8 finish by the split path
    partial = not channels_last and shape[-1] % 8 != 0
    assert (seen["tail"] > 0, seen["fused"] > 0) == (partial, not partial), seen


def test_a_global_window_with_a_plane_reference(weight_paths):
    # alpha 40 and wide values: the weights are relative to each plane's dominant element
    # (Lc != 0), read by the forward's separate pass and then by the fused one
    gen = torch.Generator().manual_seed(7)
    x = torch.exp(torch.randn((1, 8, 13, 16), generator=gen, dtype=torch.float64) * 3)
    alpha = torch.tensor([40.0, 3.0, -2.5, 60.0, 1.5, 25.0, -8.0, 90.0], dtype=torch.float64)
    check_adaptive_case("ppool", x.float(), alpha, 1, dims=2)
    seen = weight_paths()
    if _runs_vector_code():
        assert seen["fused"] > 0 and seen["tail"] == seen["split"] == 0, seen


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_partial_groups_and_narrow_rows_take_the_split_path(channels_last, weight_paths):
    # 5 channels: one group of 5 active lanes (per-lane loads); 7 columns: less than a block
    x = _memory(positive_signal((1, 5, 12, 7), torch.float32, 3, zeros=0.1), 2, channels_last)
    check_case(x, _alpha(5), 3, 2, 1, 1, False, dims=2)
    seen = weight_paths()
    assert seen["fused"] == seen["tail"] == 0 and seen["split"] > 0, seen


@pytest.mark.parametrize("geometry, h", [((3, 2, 1), 11), ((3, 1, 1), 11), ((2, 2, 0), 11),
                                         ((3, 1, 1), 3)],
                         ids=["k3s2p1", "k3s1p1", "k2s2", "k3s1p1-3rows"])
def test_a_channels_last_band_reuses_the_rows_of_the_groups_previous_band(geometry, h,
                                                                        weight_paths, bands):
    # 2 batch entries of 2 groups (16 channels) in bands of about two input rows: each group
    # keeps its own row cache from band to band, so the rows that consecutive bands share
    # (k3: one or two per band boundary) are weighed once, and a group of the next batch
    # entry, which takes the same cache, does not read the previous entry's rows (3 rows: the
    # cache of 3 slots still holds all of the previous entry's rows when the next one starts)
    n, c, w = 2, 16, 13
    x = positive_signal((n, c, h, w), torch.float32, 5, zeros=0.05)
    x = x.contiguous(memory_format=torch.channels_last)
    bands(x)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        check_case(x, _alpha(c), *geometry, 1, False, dims=2, gradients=False)
    finally:
        torch.set_num_threads(threads)
    assert _native.layout_paths()["later_bands"] > 0
    k, s, p = geometry
    read = {o * s - p + j for o in range((h + 2 * p - k) // s + 1) for j in range(k)}
    rows = len(read & set(range(h)))  # the input rows some window reads (k2 s2: 10 of 11)
    seen = weight_paths()
    # each once per group
    assert seen["fused"] + seen["tail"] + seen["split"] == n * (c // 8) * rows, seen
