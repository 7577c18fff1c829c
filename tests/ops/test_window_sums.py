"""Issue 12: the fast engine's forward sums all the input rows of an output row's windows in one
pass (``sum_rows`` in ppool_kernel.cpp: the accumulators in registers, at most 16 rows per
window, one column chunk, every row held by the row cache at once), and falls back to summing
row by row (``sum_row``) otherwise. Every case first asserts which path the kernel took
(``_native.forward_sum_paths``), then compares the forward with the oracle: overlapping and
disjoint windows, padding, ceil_mode, dilation, 3-D windows of 9 rows, adaptive windows of
varying height, zeros (counted for the special windows) and negative alpha, channels_last, the
half types; and the fallbacks: a window of more than 16 rows, and rows that evict each other in
the direct-mapped row cache."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native

from ._cases import positive_signal
from ._compare import check_adaptive_case, check_case, dtype_name

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

FAST_DTYPES = [torch.float32, torch.bfloat16, torch.float16]


@pytest.fixture
def paths():
    """The counts of forward_sum_paths over the test's own calls."""
    _native.forward_sum_paths()  # reset
    return _native.forward_sum_paths


def _alpha(channels):
    """One alpha per channel: positive, negative (zeros make special windows), 0, 1, large."""
    values = [2.5, -1.5, 0.0, 1.0, 40.0, 0.5, -6.0, 3.0]
    return torch.tensor([values[c % len(values)] for c in range(channels)], dtype=torch.float64)


# dims, shape, kernel, stride, padding, dilation, ceil_mode: windows of at most 16 rows
TOGETHER = [
    (2, (2, 11, 37, 29), 3, 2, 1, 1, False),      # k3 s2 p1: rows shared by two output rows
    (2, (1, 9, 30, 31), 2, 2, 0, 1, False),        # disjoint: the cache holds a window's 2 rows
    (2, (1, 8, 25, 26), 3, 1, 1, 1, True),         # k3 s1: each row in three output rows
    (2, (1, 8, 33, 20), (4, 3), (3, 2), (2, 1), (1, 2), True),  # ceil_mode, dilation
    (3, (1, 10, 9, 12, 13), 3, 2, 1, 1, False),    # 3-D: 9 rows per window
    (1, (2, 8, 301), 3, 2, 1, 1, False),           # 1-D: one row per window
]


# (case, channels_last): 1-D has no channels-last memory format
TOGETHER_LAYOUTS = [(c, cl) for c in TOGETHER for cl in (False, True) if not (cl and c[0] == 1)]


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize(
    "case, channels_last", TOGETHER_LAYOUTS,
    ids=[f"{c[0]}d-{c[1]}-k{c[2]}-{'channels_last' if cl else 'contiguous'}"
         for c, cl in TOGETHER_LAYOUTS])
def test_a_windows_rows_summed_together_match_the_oracle(case, dtype, channels_last, paths):
    dims, shape, kernel, stride, padding, dilation, ceil_mode = case
    x = positive_signal(shape, dtype, len(shape) + shape[-1], zeros=0.1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last if dims == 2
                         else torch.channels_last_3d)
    check_case(x, _alpha(shape[1]), kernel, stride, padding, dilation, ceil_mode, dims=dims,
               gradients=False)
    seen = paths()
    assert seen["together"] > 0 and seen["each"] == seen["weighing"] == 0, seen


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
def test_adaptive_windows_of_varying_height_summed_together(dtype, paths):
    x = positive_signal((1, 9, 23, 17), dtype, 5, zeros=0.05)
    check_adaptive_case("ppool", x, _alpha(9), (5, 4), dims=2, gradients=False)
    seen = paths()
    assert seen["together"] > 0 and seen["each"] == 0, seen


def test_the_backward_after_a_forward_summed_together(paths):
    # the saving forward sums its windows together; the backward from its state must agree
    x = positive_signal((1, 8, 21, 19), torch.float32, 6, zeros=0.05)
    check_case(x, _alpha(8), 3, 2, 1, 1, False, dims=2)
    assert paths()["together"] > 0


@pytest.fixture
def recomputing(monkeypatch):
    """Autograd without the saving forward's state: the recomputing backward (``ppv_backward``,
    as segments of few planes and refused states run), its sum paths counted."""
    from .test_dalpha_reference import _recomputing

    _recomputing(monkeypatch)
    _native.backward_sum_paths()  # reset
    return _native.backward_sum_paths


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("case", [c for c in TOGETHER if c[0] > 1],
                         ids=[f"{c[0]}d-{c[1]}-k{c[2]}" for c in TOGETHER if c[0] > 1])
def test_the_recomputing_backward_sums_a_windows_rows_together(case, dtype, recomputing):
    # its window sums with the logarithms (S, T, M and dy/dalpha's U, V) in one pass as the
    # forward's (until 2026-12-07 row by row: the same bits, kernel_bits in every mode), the
    # gradients of x and of one alpha per channel against the oracle
    dims, shape, kernel, stride, padding, dilation, ceil_mode = case
    x = positive_signal(shape, dtype, 40 + shape[-1], zeros=0.1)
    check_case(x, _alpha(shape[1]), kernel, stride, padding, dilation, ceil_mode, dims=dims)
    seen = recomputing()
    assert seen["together"] > 0 and seen["each"] == 0, seen


def test_the_recomputing_backward_sums_a_window_of_more_than_16_rows_row_by_row(recomputing):
    # the forward's case below (3 x 6 rows in the middle): the backward falls back there too
    x = positive_signal((1, 8, 7, 13, 5), torch.float32, 8, zeros=0.05)
    check_case(x, _alpha(8), (3, 6, 2), (2, 3, 2), (1, 2, 0), 1, False, dims=3)
    assert recomputing() == {"together": 10, "each": 6}


def test_a_window_of_more_than_16_rows_is_summed_row_by_row(paths):
    # 3-D windows of 3 x 6 rows (18 > 16) in the middle, of at most 2 x 6 or 3 x 4 rows at the
    # padded edges: depth windows of 2, 3, 3, 2 rows, height windows of 4, 6, 6, 6 rows
    x = positive_signal((1, 8, 7, 13, 5), torch.float32, 8, zeros=0.05)
    check_case(x, _alpha(8), (3, 6, 2), (2, 3, 2), (1, 2, 0), 1, False, dims=3,
               gradients=False)
    assert paths() == {"together": 10, "each": 6, "weighing": 0}


def test_rows_that_evict_each_other_are_summed_row_by_row(paths):
    # 2048 columns: the row cache holds 48 rows (12 MiB / (2048 x 8 lanes x 16 bytes)); a 3-D
    # k3 window's rows are 24 apart in depth (H = 24), so the first and third depth rows of the
    # middle windows share a slot of the direct-mapped cache and the forward falls back to row
    # by row there
    x = positive_signal((1, 1, 5, 24, 2048), torch.float32, 9)
    check_case(x, 2.0, (3, 3, 1), (2, 2, 1), (1, 1, 0), 1, False, dims=3, gradients=False)
    seen = paths()
    assert seen["each"] > 0, seen


# dims, shape, kernel, stride, padding, ceil_mode: W windows of step 1 that share no column,
# each input row read by one output row (the weighing pass's sums), W windows of 8 columns or
# more on average
WEIGHING = [
    (2, (2, 8, 24, 40), 8, None, 0, False),             # k8: whole blocks of 8 columns
    (2, (1, 16, 20, 29), (5, 9), None, 0, False),       # a partial block; columns in no window
    (2, (1, 8, 17, 41), (4, 10), (5, 13), (2, 1), True),  # gaps, padding, a short last window
    (2, (1, 9, 30, 36), 12, None, 0, False),            # 9 planes: a partial group (split path)
    (3, (1, 8, 4, 5, 24), (2, 3, 8), None, 0, False),   # 3-D: 6 rows per window
    (1, (2, 8, 203), 10, None, 0, False),               # 1-D: one row per window
]
WEIGHING_LAYOUTS = [(c, cl) for c in WEIGHING for cl in (False, True) if not (cl and c[0] == 1)]


def _weighed(seen):
    """The weighing pass took every output row's sums (on AVX-512 builds; none elsewhere)."""
    from .test_saved_backward import _runs_vector_code

    if not _runs_vector_code():
        return seen["weighing"] == 0
    return seen["weighing"] > 0 and seen["together"] == seen["each"] == 0


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize(
    "case, channels_last", WEIGHING_LAYOUTS,
    ids=[f"{c[0]}d-{c[1]}-k{c[2]}-{'channels_last' if cl else 'contiguous'}"
         for c, cl in WEIGHING_LAYOUTS])
@pytest.mark.parametrize("gradients", [False, True], ids=["forward", "saving"])
def test_sums_taken_in_the_weighing_pass_match_the_oracle(case, channels_last, dtype, gradients,
                                                          paths):
    # with gradients the saving forward (dy/dalpha: U and V summed too) and the backward from
    # its state; zeros and one alpha per channel (negative, 0, 1: zeros make special windows,
    # counted in Z)
    dims, shape, kernel, stride, padding, ceil_mode = case
    x = positive_signal(shape, dtype, 70 + shape[-1], zeros=0.1)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last if dims == 2
                         else torch.channels_last_3d)
    check_case(x, _alpha(shape[1]), kernel, stride, padding, 1, ceil_mode, dims=dims,
               gradients=gradients)
    seen = paths()
    assert _weighed(seen), seen


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("output_size", [1, (3, 2)])
def test_adaptive_and_global_sums_in_the_weighing_pass(output_size, dtype, paths):
    # global: 28 rows per window (more than sum_rows takes); (3, 2) on 27 x 22: windows of
    # 9 x 11 (W windows of 8 columns or more)
    x = positive_signal((1, 16, 27 if output_size == (3, 2) else 28,
                         22 if output_size == (3, 2) else 28), dtype, 11, zeros=0.05)
    check_adaptive_case("ppool", x, _alpha(16), output_size, dims=2)
    seen = paths()
    assert _weighed(seen), seen


@pytest.mark.parametrize("dtype", FAST_DTYPES, ids=dtype_name)
@pytest.mark.parametrize("gradients", [False, True], ids=["forward", "saving"])
def test_narrow_disjoint_windows_keep_sum_rows(dtype, gradients, paths):
    # k4 s4 and adaptive 7 on 28 x 28 (windows of 4 x 4): W windows of 4 columns (below 8),
    # 4 rows: the forward sums a window's rows together, and so does the saving forward, its
    # U and V (dy/dalpha) with them (sum_rows with_log); zeros and one alpha per channel
    x = positive_signal((1, 16, 28, 28), dtype, 12, zeros=0.05)
    check_case(x, _alpha(16), 4, None, 0, 1, False, dims=2, gradients=gradients)
    if gradients:
        check_adaptive_case("ppool", x, _alpha(16), 7, dims=2)
    seen = paths()
    assert seen["together"] > 0 and seen["weighing"] == seen["each"] == 0, seen
