"""Issue 12: with fewer planes than SIMD lanes x threads, the compiled kernel cuts each plane
along its outermost axis with more than one output into segments that act as planes
(``Segments`` in ppool_kernel.cpp). A segment owns a run of inputs and outputs; the windows it
shares with the previous segment are computed again for their gradients only, so elements on a
segment boundary get every window's contribution exactly once.

Every case here first asserts that the kernel does cut it (``_native.segments``), then compares
forward, input gradient and alpha gradient with the oracle: windows straddling the segment
boundaries, overlapping windows, padding / ceil_mode / dilation at the edges, adaptive
windows, per-channel alpha, zeros (the exact engine's special windows inside a segment), a
large alpha (each segment's own reference), channels_last, float64 and the half types. The
segment grain is lowered so that these small inputs, which the oracle can check, also run on
two threads."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _layout, _native
from ppverify.ops import functional as F

from ._cases import positive_signal
from ._compare import check_adaptive_case, check_case, dtype_name

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def _assert_segmented(x, layout, threads):
    """The kernel cuts this call into more segments than planes (else the test would not
    exercise them). Channels-last planes of a multiple of 8 channels are cut for threads only
    (their lanes are channels): on one thread they are not; other channel counts are packed, 8
    planes to a group as on contiguous memory (``Plan::packed``), and cut as those are."""
    out = _layout.out_spatial(layout, tuple(x.shape[2:]))
    cl = x.dim() > 3 and not x.is_contiguous() and x.is_contiguous(
        memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)
    plan = _native.make_plan("ppool", layout, tuple(x.shape), x.dtype, cl, 0, out)
    cut = _native.segments(plan, threads)
    planes = x.shape[0] * x.shape[1]
    if cl and threads == 1 and x.shape[1] % 8 == 0:
        assert cut["axis"] == -1, cut
        return cut
    assert cut["axis"] >= 0 and cut["segments"] > planes, cut
    return cut


# dims, shape, kernel, stride, padding, dilation, ceil_mode: few planes, segments along the
# outermost axis (W of 1-D, H of 2-D, D of 3-D)
WINDOWED = [
    (1, (1, 1, 600), 3, 1, 1, 1, False),        # overlapping (k3 s1): two segments per halo
    (1, (1, 2, 601), 3, 2, 1, 1, True),         # k3 s2 p1, ceil_mode: a clipped last window
    (1, (1, 1, 700), 5, 2, 2, 2, True),         # dilation 2: windows read 9 columns
    (1, (1, 1, 640), 3, None, 0, 1, False),     # disjoint: the saved state, cut in segments
    (2, (1, 2, 72, 9), 3, 1, 1, 1, False),      # two planes, rows in segments
    (2, (1, 1, 150, 6), 3, 2, 1, 2, True),
    (2, (1, 3, 66, 5), (2, 3), (2, 1), (1, 1), 1, False),
    (3, (1, 1, 60, 3, 3), 3, 1, 1, 1, False),
    (3, (1, 2, 97, 4, 4), 2, 2, 0, 1, True),
    # short split axes, cut where the lanes gain though a segment shares a third of its
    # windows (segments_for_span): a depth of 8 outputs, a plane of 12 output rows
    (3, (1, 2, 16, 12, 12), 3, 2, 1, 1, False),
    (2, (1, 1, 14, 40), 3, 1, 1, 1, False),
]


def _check_segmented_case(case, threads, seed, alpha_first):
    """One windowed ``case`` (WINDOWED's form) on float32 input of seed ``seed``: the kernel
    cuts it into segments (``_assert_segmented``: returned), and the output and gradients, for
    a random grad_output and one alpha per channel from ``alpha_first`` to -1.5, meet the
    oracle."""
    dims, shape, kernel, stride, padding, dilation, ceil_mode = case
    x = positive_signal(shape, torch.float32, seed)
    layout = _layout.windowed(dims, kernel, stride, padding, dilation, ceil_mode)
    cut = _assert_segmented(x, layout, threads)
    out = _layout.out_spatial(layout, shape[2:])
    gout = positive_signal((shape[0], shape[1], *out), torch.float32, seed + 1).double()
    alpha = torch.linspace(alpha_first, -1.5, shape[1], dtype=torch.float64)
    check_case(x, alpha, kernel, stride, padding, dilation, ceil_mode, dims=dims,
               grad_output=gout)
    return cut


@pytest.mark.parametrize("case", WINDOWED, ids=lambda c: f"{c[0]}d-{c[1]}-k{c[2]}s{c[3]}")
def test_windows_across_segments_match_the_oracle(case, threads):
    _check_segmented_case(case, threads, 11, 2.5)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
def test_every_dtype_in_segments(dtype, threads):
    # overlapping windows in both axes, zeros (alpha 0 and -1.5 make their windows special:
    # the exact engine, whose gradients a segment collects in its own buffer), alpha 150 (a
    # reference per segment)
    x = positive_signal((1, 3, 70, 7), dtype, 21, zeros=0.05)
    layout = _layout.windowed(2, 3, 1, 1)
    _assert_segmented(x, layout, threads)
    alpha = torch.tensor([0.0, -1.5, 150.0], dtype=torch.float64)
    check_case(x, alpha, 3, 1, 1, dims=2)


@pytest.mark.parametrize("channels", [3, 8], ids=["packed", "one-group"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=dtype_name)
def test_channels_last_in_segments(dtype, channels, threads):
    x = positive_signal((1, channels, 70, 6), dtype, 31, zeros=0.03).contiguous(
        memory_format=torch.channels_last)
    layout = _layout.windowed(2, 3, 2, 1, 1, True)
    _assert_segmented(x, layout, threads)
    alpha = torch.tensor([1.5, 0.0, 3.0, -2.0, 7.0, 0.5, 2.0, 1.0][:channels],
                         dtype=torch.float64)
    check_case(x, alpha, 3, 2, 1, 1, True, dims=2)


@pytest.mark.parametrize("output_size", [149, 128], ids=["uneven", "even"])
def test_adaptive_windows_in_segments(output_size, threads):
    # 1200 / 149: windows of 9 and 10, some overlapping by one (segments of unequal tables, a
    # class each); 1280 / 128: equal windows (one class)
    length = 1200 if output_size == 149 else 1280
    x = positive_signal((1, 1, length), torch.float32, 41)
    layout = _layout.adaptive(1, output_size)
    _assert_segmented(x, layout, threads)
    check_adaptive_case("ppool", x, torch.tensor([2.0], dtype=torch.float64), output_size,
                        dims=1)


def test_float64_few_planes_in_segments(threads):
    # the exact engine sums float64 gradients in place: a segment zeroes and sums only its own
    x = positive_signal((1, 1, 80, 5), torch.float64, 51, zeros=0.05)
    layout = _layout.windowed(2, 3, 1, 1)
    _assert_segmented(x, layout, threads)
    check_case(x, torch.tensor([-2.0], dtype=torch.float64), 3, 1, 1, dims=2)


@pytest.mark.parametrize("dims", [1, 2])
def test_float64_segments_backward_has_the_unsegmented_bits(dims, threads):
    # since 2026-12-07 a float64 segment's recomputing backward runs the overlap state's
    # arithmetic (fused_group64) over the segment's windows, as a plane not cut does: each
    # input gradient has the bits of the same plane among 16 copies (lanes full: not cut), the
    # windows with zeros (evaluated again by the exact engine) included. Before, segments ran
    # the per-window backward (other bits), 4-6x max_pool's float64 time.
    shape = (1, 1, 700) if dims == 1 else (1, 1, 90, 7)
    x = positive_signal(shape, torch.float64, 61, zeros=0.04)
    layout = _layout.windowed(dims, 3, 1, 1)
    _assert_segmented(x, layout, threads)
    many = x.expand(16, *shape[1:]).contiguous()
    out = _layout.out_spatial(layout, shape[2:])
    plan = _native.make_plan("ppool", layout, tuple(many.shape), torch.float64, False, 0, out)
    assert _native.segments(plan, threads)["axis"] == -1
    pool = F.p_pool1d if dims == 1 else F.p_pool2d
    grads = []
    for inp in (x, many):
        xg = inp.clone().requires_grad_(True)
        alpha = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        y = pool(xg, alpha, 3, 1, 1)
        gout = positive_signal(y.shape[1:], torch.float64, 62).expand_as(y)
        y.backward(gout)
        grads.append(xg.grad[:1])
    assert torch.equal(grads[0], grads[1])


def test_float64_backward_cuts_planes_beyond_the_element_cache():
    # 16 planes of 224 x 224 fill the lanes of two threads: not cut for them. The float64
    # recomputing backward (fused_group64, which serves planes of at most 2^15 elements) cuts
    # each into segments of about half that; the forward and float32 do not
    layout = _layout.windowed(2, 3, 2, 1)
    shape, out = (2, 8, 224, 224), (112, 112)
    f64 = _native.make_plan("ppool", layout, shape, torch.float64, False, 0, out)
    assert _native.segments(f64, 2)["axis"] == -1
    cut = _native.segments(f64, 2, backward=True)
    assert cut["axis"] == 1 and cut["segments"] >= 16 * 4, cut
    f32 = _native.make_plan("ppool", layout, shape, torch.float32, False, 0, out)
    assert _native.segments(f32, 2, backward=True)["axis"] == -1
    # windows of 2 elements that share none (the per-window backward, not fused: not cut)
    pairs = _native.make_plan("ppool", _layout.windowed(2, (2, 1), (2, 1)), shape,
                              torch.float64, False, 0, (112, 224))
    assert _native.segments(pairs, 2, backward=True)["axis"] == -1


@pytest.fixture
def short_segments():
    """P-pooling's segment length along W lowered to 16 columns (SEG_COLS, 1024), so that
    signals the oracle can check are cut for their length; restored after."""
    before = _native.segment_cols(16)
    yield 16
    _native.segment_cols(before)


# dims, shape, kernel, stride, padding, dilation, ceil_mode: planes enough to fill the lanes of
# two threads (16 or more), cut only for their length (more than 4 x 16 columns along W; a
# segment keeps at least SEG_MIN_OUTS = 64 outputs, so 200 or more make three or more)
LONG_SIGNALS = [
    (1, (2, 9, 300), 3, 1, 1, 1, False),          # overlapping windows across each cut
    (1, (1, 16, 401), 3, 2, 1, 1, True),          # k3 s2 p1, ceil_mode: a clipped last window
    (1, (1, 16, 520), 5, 2, 2, 2, True),          # dilation 2: windows read 9 columns
    (1, (2, 8, 400), 2, None, 0, 1, False),       # disjoint: the saved state, in segments
    (1, (1, 16, 620), 20, 3, 0, 1, False),        # windows longer than a segment's columns
    (2, (1, 16, 1, 400), (1, 3), (1, 2), (0, 1), 1, False),  # planes of one row: cut along W
]


@pytest.mark.parametrize("case", LONG_SIGNALS, ids=lambda c: f"{c[0]}d-{c[1]}-k{c[2]}s{c[3]}")
def test_long_signals_cut_for_their_length_match_the_oracle(case, threads, short_segments):
    cut = _check_segmented_case(case, threads, 13, 3.0)
    assert cut["axis"] == 2, cut


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
def test_every_dtype_of_a_signal_cut_for_its_length(dtype, threads, short_segments):
    # zeros (alpha 0 and -1.5 make their windows the exact engine's), alpha 150 (a reference
    # per segment), alpha 0.5 and 40 among 16 channels
    x = positive_signal((1, 16, 200), dtype, 15, zeros=0.05)
    layout = _layout.windowed(1, 3, 1, 1)
    _assert_segmented(x, layout, threads)
    alpha = torch.tensor([0.0, -1.5, 150.0, 0.5, 40.0, 2.0, 1.0, -0.5] * 2, dtype=torch.float64)
    check_case(x, alpha, 3, 1, 1, dims=1)


def test_a_long_signal_is_cut_for_its_length_whatever_the_planes():
    # (8, 64, 12544) k3 s2 p1: 512 planes fill the lanes, and each is cut into segments of
    # about SEG_COLS columns (its row scratch kept within the cache)
    layout = _layout.windowed(1, 3, 2, 1)
    plan = _native.make_plan("ppool", layout, (8, 64, 12544), torch.float32, False, 0, (6272,))
    cut = _native.segments(plan, 2)
    assert cut["axis"] == 2 and cut["segments"] >= 512 * 12, cut
    # a plane cut along H keeps the lanes' and threads' rule: 64 planes fill them, not cut
    plan = _native.make_plan("ppool", _layout.windowed(2, 3, 2, 1), (1, 64, 224, 224),
                             torch.float32, False, 0, (112, 112))
    assert _native.segments(plan, 2)["axis"] == -1


def test_a_short_split_axis_is_cut_where_the_lanes_gain():
    # (1, 2, 16, 64, 64) k3 s2 p1: a depth of 8 outputs, each segment sharing a window with
    # the previous; uncut (until 2026-12-07: at most a quarter of a segment's windows shared)
    # it ran on one thread, 2 of 8 lanes busy
    layout = _layout.windowed(3, 3, 2, 1)
    plan = _native.make_plan("ppool", layout, (1, 2, 16, 64, 64), torch.float32, False, 0,
                             (8, 32, 32))
    cut = _native.segments(plan, 2)
    assert cut["axis"] == 0 and cut["segments"] >= 6 and cut["threads"] == 2, cut
    # (1, 1, 64, 4000) k3 s1 p1: 64 rows, 32 segments wanted; 7 fit the quarter rule
    layout = _layout.windowed(2, 3, 1, 1)
    plan = _native.make_plan("ppool", layout, (1, 1, 64, 4000), torch.float32, False, 0,
                             (64, 4000))
    cut = _native.segments(plan, 2)
    assert cut["axis"] == 1 and cut["segments"] >= 9, cut
    # one 40^3 plane, k3 s1 p1: 64,000 inputs, 27 windows each: two threads (one grain of
    # inputs allowed one until then)
    layout = _layout.windowed(3, 3, 1, 1)
    plan = _native.make_plan("ppool", layout, (1, 1, 40, 40, 40), torch.float32, False, 0,
                             (40, 40, 40))
    cut = _native.segments(plan, 2)
    assert cut["axis"] == 0 and cut["threads"] == 2, cut
    # many planes keep their lanes: not cut
    plan = _native.make_plan("ppool", _layout.windowed(3, 3, 2, 1), (8, 2, 16, 64, 64),
                             torch.float32, False, 0, (8, 32, 32))
    assert _native.segments(plan, 2)["axis"] == -1


@pytest.mark.parametrize("shape, layout, out, threads, backward_threads, axis", [
    # batch 1 of 16 planes, 35,344 window-element pairs: two threads (THREAD_PAIRS, 2^14;
    # at 2^16 one until 2026-12-07, the forward+backward 1.2x slower)
    ((1, 16, 32, 32), _layout.windowed(2, 3, 2, 1), (16, 16), 2, 2, -1),
    ((1, 64, 14, 14), _layout.windowed(2, 3, 1, 1), (14, 14), 2, 2, -1),
    # six short signals cut into segments, 36,000 inputs: two threads (SEG_THREAD_ELEMENTS,
    # 2^13; at 2^15 one, 1.5x slower)
    ((2, 3, 6000), _layout.windowed(1, 3, 1), (5998,), 2, 2, 2),
    ((1, 1, 26, 26, 26), _layout.windowed(3, 3, 2, 1), (13, 13, 13), 2, 2, 0),
    # a recomputing backward counts its work twice (WORK_RECOMPUTE): one signal of 6,000
    # samples, or 8 planes of 32 x 32, one thread forward and two backward
    ((1, 1, 6000), _layout.windowed(1, 3, 1), (5998,), 1, 2, 2),
    ((1, 8, 32, 32), _layout.windowed(2, 3, 2, 1), (16, 16), 1, 2, -1),
    # small calls keep one thread: waking a second one costs more than their work
    ((1, 1, 4, 4), _layout.windowed(2, 2, 2), (2, 2), 1, 1, -1),
    ((1, 1, 3000), _layout.windowed(1, 3, 1), (2998,), 1, 1, 2),
    ((1, 32, 16, 16), _layout.windowed(2, 2, 2), (8, 8), 1, 1, -1),
], ids=["16x32x32", "64x14x14", "signals", "3-D", "signal", "8x32x32", "tiny", "short",
        "32x16x16"])
def test_a_second_thread_where_the_work_pays_for_it(shape, layout, out, threads,
                                                    backward_threads, axis):
    # the default grains (the ``threads`` fixture lowers the segments' for its own tests and
    # restores it)
    assert (_native.thread_pairs(), _native.segment_grain()) == (16384, 8192)
    for op in ("ppool", "powermean"):  # the power engine takes the same rule
        plan = _native.make_plan(op, layout, shape, torch.float32, False, 0, out)
        cut = _native.segments(plan, 2)
        assert cut["threads"] == threads, (op, cut)
        assert op != "ppool" or cut["axis"] == axis, cut
        assert _native.segments(plan, 2, backward=True)["threads"] == backward_threads, op


def test_segments_are_not_used_when_planes_fill_the_lanes():
    layout = _layout.windowed(2, 3, 2, 1)
    plan = _native.make_plan("ppool", layout, (2, 64, 56, 56), torch.float32, False, 0,
                             (28, 28))
    assert _native.segments(plan, 2) == {"segments": 128, "classes": 1, "axis": -1,
                                         "threads": 2}


def test_one_long_signal_is_cut_into_one_class_of_interior_segments():
    # (1, 1, 2_000_000) k3 s1 p1: the first segment holds the padded window, the interior
    # segments share one plan, the last holds the rest
    layout = _layout.windowed(1, 3, 1, 1)
    plan = _native.make_plan("ppool", layout, (1, 1, 2_000_000), torch.float32, False, 0,
                             (2_000_000,))
    cut = _native.segments(plan, 2)
    assert cut["axis"] == 2 and cut["classes"] == 3 and cut["threads"] == 2, cut
    assert cut["segments"] >= 16, cut


@pytest.mark.parametrize("kernel, stride", [(2, 2), (2, 3)], ids=["k2s2", "k2s3-gaps"])
def test_the_saved_backward_of_a_long_row_in_pieces(kernel, stride, threads):
    # a row longer than 4 x 16384 columns: the saved backward maps columns to windows piece by
    # piece (no table of the row's length). At alpha = 0 P-pooling is the mean, so each
    # element's gradient is exactly grad_out[its window] / kernel (0 outside every window),
    # and the output the exact mean of its window (float32 sums of two halves are exact here)
    from ppverify import ops

    n = 70_001
    gen = torch.Generator().manual_seed(61)
    x = (torch.randint(1, 2 ** 10, (1, 1, n), generator=gen).float() / 2 ** 10)
    x.requires_grad_(True)
    y = ops.p_pool1d(x, 0.0, kernel, stride)
    outs = y.shape[-1]
    starts = torch.arange(outs) * stride
    expect_y = (x.detach()[0, 0, starts] + x.detach()[0, 0, starts + 1]) / 2
    assert torch.equal(y.detach()[0, 0], expect_y)
    g = torch.randint(1, 2 ** 10, y.shape, generator=gen).float()
    y.backward(g)
    expect = torch.zeros(n)
    for j in range(kernel):
        expect[starts + j] = g[0, 0] / kernel
    assert torch.equal(x.grad[0, 0], expect)


@pytest.mark.parametrize("shape, layout", [
    ((1, 1, 6000), _layout.windowed(1, 3, 2, 1)),
    ((1, 3, 4000), _layout.windowed(1, 3, 1)),
    ((2, 1, 3000), _layout.windowed(1, 4, 3, 1, 1, True)),
    ((1, 1, 9000), _layout.windowed(1, 5, 2, 2, 2)),
    ((1, 1, 64, 4000), _layout.windowed(2, 3, 1, 1)),
    ((1, 2, 1000, 1000), _layout.windowed(2, 3, 2, 1)),
], ids=["1-D k3s2p1", "1-D k3s1", "1-D k4s3-ceil", "1-D dilated", "2-D long rows", "2-D"])
def test_a_table_and_a_computed_axis_of_the_same_windows_are_cut_alike(shape, layout,
                                                                       monkeypatch):
    """An axis of fewer than ``COMPACT_MIN_OUTPUTS`` outputs goes to the kernel as a table of
    window starts and counts; from that size on, as its geometry (the kernel computes each
    window). The scans that decide the segments (whether the windows are monotone, their
    largest count, the regular range) read a table's arrays directly since 2026-12-07 (a
    (1, 1, 6000) signal's forward 0.84x): both forms must give the same cut for 1 and 2
    threads, forward and backward (a scan that skipped the tables gave 24 segments of a
    (1, 1, 6000) signal for 26, and a class more for a ceil_mode signal)."""
    out = _layout.out_spatial(layout, shape[2:])

    def cuts(compact_from: int):
        monkeypatch.setattr(_native, "COMPACT_MIN_OUTPUTS", compact_from)
        plan = _native.make_plan("ppool", layout, shape, torch.float32, False, 0, out)
        forms = _native.plan_compact_axes(plan)
        return forms, [_native.segments(plan, t, b) for t in (1, 2) for b in (False, True)]

    table_forms, tables = cuts(1 << 30)
    computed_forms, computed = cuts(1)
    assert not any(table_forms) and computed_forms[-1], (table_forms, computed_forms)
    assert tables == computed
    assert all(c["segments"] > shape[0] * shape[1] and c["classes"] <= 4 for c in tables), tables
