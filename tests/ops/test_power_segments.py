"""Issue 12: the power mean's and Lp's kernel (power_kernel.inc) cuts planes into segments, as
the P-pooling kernel does (``Segments`` in ppool_kernel.cpp): where the planes leave SIMD lanes
or threads idle, and where a plane is large whatever the number of planes (``POW_SEG_ELEMENTS``,
``POW_SEG_COLS``). Before, one 1-D signal ran on one lane of one thread with buffers the size of
its whole row per quantity: ``gem_pool1d`` k3 on (1, 1, 4194301) took 3.6 GB and 7.4 s for a
forward and backward, (1, 1, 100000) k3 forward 32 ms (1100x ``max_pool1d``).

A segment owns a run of inputs and outputs; the windows it shares with the previous segment are
computed again for their gradients only, and count in dy/dp once. Every case first asserts
that the kernel does cut it (``_native.segments``), then compares forward, input gradient and
p gradient with the oracle: overlapping windows across boundaries, padding / ceil_mode at the
edges, per-channel p with a lane in the exact engine, zeros, a large p (each segment's own
reference), float32 and the half types, channels_last, adaptive windows, and planes cut for
their size alone. The segment grain and sizes are lowered so that these small inputs, which the
oracle can check, are cut."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ppverify.ops import _layout, _native

from ._child import fwd_bwd_peak_growth
from ._compare import check_adaptive_case
from .test_power_kernel import _check_windowed, _input

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")


@pytest.fixture
def small_segments():
    """Planes cut for their size from 4 x 64 elements (columns) on."""
    before = _native.pow_segment_sizes(64, 64)
    yield
    _native.pow_segment_sizes(*before)


def _cut(op, x, layout, threads):
    out = _layout.out_spatial(layout, tuple(x.shape[2:]))
    cl = x.dim() > 3 and not x.is_contiguous()
    plan = _native.make_plan(op, layout, tuple(x.shape), x.dtype, cl, 0, out)
    return _native.segments(plan, threads)


def _assert_segmented(op, x, layout, threads):
    cut = _cut(op, x, layout, threads)
    assert cut["axis"] >= 0 and cut["segments"] > x.shape[0] * x.shape[1], cut
    return cut


def _windowed_layout(op, dims, kernel, stride, padding, ceil_mode):
    return _layout.windowed(dims, kernel, stride, padding if op == "powermean" else 0, 1,
                            ceil_mode)


# op, dims, shape, p, kernel, stride, padding (power mean only), ceil_mode, zeros
WINDOWED = [
    ("powermean", 1, (1, 1, 600), 3.1, 3, 1, 1, False, False),      # overlapping
    ("powermean", 1, (1, 2, 601), [2.5, -1.5], 3, 2, 1, True, False),  # a clipped last window
    ("lp", 1, (1, 1, 700), 2.0, 5, 2, 0, True, False),              # the L2 norm's square root
    ("powermean", 2, (1, 2, 72, 9), [3.0, 0.03], 3, 1, 1, False, False),  # an exact-engine lane
    ("lp", 2, (1, 1, 150, 6), 40.0, 3, 2, 0, True, False),          # a reference per segment
    ("powermean", 3, (1, 1, 60, 3, 3), -2.0, 3, 1, 1, False, False),
    ("powermean", 2, (1, 3, 70, 7), [3.0, 0.5, 1.0], 3, 1, 1, False, True),  # zeros
    ("lp", 2, (1, 2, 140, 5), [3.0, 0.7], (2, 3), (2, 1), 0, False, True),
]


@pytest.mark.parametrize("case", WINDOWED, ids=lambda c: f"{c[0]}-{c[1]}d-{c[2]}-p{c[3]}")
def test_windows_across_segments_match_the_oracle(case, threads):
    op, dims, shape, p, kernel, stride, padding, ceil_mode, zeros = case
    x = _input(shape, torch.float32, seed=len(shape) + shape[-1])
    if zeros:
        x.view(-1)[::7] = 0.0
        x[..., 30:34, :] = 0.0  # windows of zeros alone, across a segment boundary or not
    _assert_segmented(op, x, _windowed_layout(op, dims, kernel, stride, padding, ceil_mode),
                      threads)
    _check_windowed(op, x, p, kernel, stride, padding, ceil_mode, dims=dims, strict_p=False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16],
                         ids=lambda d: str(d).removeprefix("torch."))
def test_every_dtype_in_segments(dtype, threads):
    x = _input((1, 2, 80, 6), dtype, seed=21)
    _assert_segmented("powermean", x, _layout.windowed(2, 3, 1, 1), threads)
    _check_windowed("powermean", x, [3.0, -1.0], 3, 1, 1, dims=2, strict_p=False)
    _check_windowed("lp", x, [2.0, 6.5], 3, 2, ceil_mode=True, dims=2, strict_p=False)


def test_channels_last_in_segments():
    # channels-last planes are cut for threads only (their lanes are channels)
    before_threads, before_grain = torch.get_num_threads(), _native.segment_grain(64)
    torch.set_num_threads(2)
    try:
        x = _input((1, 3, 70, 6), torch.float32, seed=31).contiguous(
            memory_format=torch.channels_last)
        _assert_segmented("powermean", x, _layout.windowed(2, 3, 2, 1, 1, True), 2)
        _check_windowed("powermean", x, [1.5, 0.25, 3.0], 3, 2, 1, True, dims=2,
                        strict_p=False)
    finally:
        torch.set_num_threads(before_threads)
        _native.segment_grain(before_grain)


@pytest.mark.parametrize("output_size", [149, 128], ids=["uneven", "even"])
def test_adaptive_windows_in_segments(output_size, threads):
    length = 1200 if output_size == 149 else 1280
    x = _input((1, 1, length), torch.float32, seed=41)
    _assert_segmented("powermean", x, _layout.adaptive(1, output_size), threads)
    check_adaptive_case("powermean", x, [2.0], output_size, dims=1)
    check_adaptive_case("lp", x, [3.5], output_size, dims=1)


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((2, 8, 900), 3, 1, 1),        # 16 planes fill the lanes: cut for their 900 columns
    ((2, 8, 120, 9), 3, 2, 1),     # 1080 elements per plane: cut along H
], ids=["1d-columns", "2d-rows"])
def test_planes_cut_for_their_size(shape, kernel, stride, padding, small_segments):
    dims = len(shape) - 2
    x = _input(shape, torch.float32, seed=51)
    layout = _layout.windowed(dims, kernel, stride, padding)
    before = _native.pow_segment_sizes()
    _native.pow_segment_sizes(*(1 << 30,) * 2)
    try:
        assert _cut("powermean", x, layout, 2)["axis"] == -1  # planes fill lanes and threads
    finally:
        _native.pow_segment_sizes(*before)
    cut = _assert_segmented("powermean", x, layout, 2)
    assert cut["axis"] == (2 if dims == 1 else 1), cut
    p = torch.linspace(3.5, -1.0, shape[1], dtype=torch.float64).tolist()
    _check_windowed("powermean", x, p, kernel, stride, padding, dims=dims, strict_p=False)


def test_a_forward_saved_on_one_thread_and_its_backward_on_two(monkeypatch, float32_power_state):
    # 10 planes: not cut on one thread, where the forward saves the overlap state (2-D k3 s1
    # p1), cut on two. The backward from that state must not be cut (the state was written
    # whole, and a cut would count the shared windows' dy/dp twice): the same bits as on one
    # thread throughout. (Without a state, the backward recomputes in segments: other
    # roundings of the same values, within the oracle's bounds.)
    from ppverify.ops import gem_pool2d

    before_threads, before_grain = torch.get_num_threads(), _native.segment_grain(64)
    from_state = []
    state_backward = _native.backward_power_overlap_saved
    monkeypatch.setattr(_native, "backward_power_overlap_saved",
                        lambda *a: from_state.append(1) or state_backward(*a))
    try:
        x = _input((1, 10, 60, 12), torch.float32, seed=61)
        layout = _layout.windowed(2, 3, 1, 1)
        assert _cut("powermean", x, layout, 1)["axis"] == -1
        assert _cut("powermean", x, layout, 2)["axis"] == 1
        gout = torch.rand(1, 10, 60, 12, generator=torch.Generator().manual_seed(3)) + 0.5

        def grads(forward_threads, backward_threads):
            xin = x.clone().requires_grad_(True)
            p = torch.tensor([3.1, 0.5, 7.0, 2.0, 1.5] * 2, dtype=torch.float64,
                             requires_grad=True)
            torch.set_num_threads(forward_threads)
            y = gem_pool2d(xin, p, 3, 1, 1)
            torch.set_num_threads(backward_threads)
            y.backward(gout)
            return y.detach(), xin.grad, p.grad

        want = grads(1, 1)
        assert from_state == [1]
        for got, w in zip(grads(1, 2), want):
            assert torch.equal(got, w)
        assert from_state == [1, 1]
        torch.set_num_threads(2)
        _check_windowed("powermean", x, [3.1, 0.5, 7.0, 2.0, 1.5] * 2, 3, 1, 1, dims=2,
                        strict_p=False)
    finally:
        torch.set_num_threads(before_threads)
        _native.segment_grain(before_grain)


def test_one_long_signal_is_cut_into_one_class_of_interior_segments():
    layout = _layout.windowed(1, 3, 1, 1)
    for op in ("powermean", "lp"):
        plan = _native.make_plan(op, layout, (1, 1, 2_000_000), torch.float32, False, 0,
                                 (2_000_000,))
        cut = _native.segments(plan, 2)
        assert cut["axis"] == 2 and cut["classes"] == 3 and cut["threads"] == 2, cut
        assert cut["segments"] >= 2_000_000 // 1024, cut


def test_a_short_signals_segments_are_bounded_by_its_size():
    """Segments cut along W hold at most 1024 columns, and fewer where a thread's scratch for
    1024 (about 1.5 kB per column) would exceed 8 bytes per input element of the call
    (``scratch_bounded_cols`` in ppool_kernel.cpp), never fewer than 256: a (1, 1, 100000)
    signal on 2 threads in segments of 260 columns or so, on 1 thread of 520, both engines;
    a signal of 2,000,000 samples keeps 1024."""
    def columns(op, n, threads):
        layout = _layout.windowed(1, 3, 1, 0)
        plan = _native.make_plan(op, layout, (1, 1, n), torch.float32, False, 0, (n - 2,))
        cut = _native.segments(plan, threads)
        assert cut["axis"] == 2, cut
        return n / cut["segments"]

    for op in ("ppool", "powermean", "lp"):
        assert 250 <= columns(op, 100_000, 2) <= 300
        assert 500 <= columns(op, 100_000, 1) <= 560
        assert 1000 <= columns(op, 2_000_000, 2) <= 1024
        assert 240 <= columns(op, 20_000, 2) <= 300  # the floor (one thread: 104 by size)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_short_signals_peak_memory_is_within_the_bound():
    """Issue 12's memory bound (1.5x) on the matrix's row "GeM 1-D f32 signal of 100_000, k3
    s1", P-pooling's too: the peak-RSS growth of a forward+backward in a fresh process (the
    matrix's protocol, ``bench_matrix.peak_rss_growth``) against ``max_pool1d``'s. It was
    2.3-2.8x: segments of 1024 columns (3.7 MB of scratch on two threads) and the dispatcher's
    look at the windows (``plan_disjoint``: 1.6 MB of arrays the size of the axis).

    The children fix glibc's mmap threshold at 128 KiB: with its dynamic threshold a 400 kB
    buffer is new pages in one fresh process and reused heap in the next, and each op's growth
    fell in two modes 0.3-0.4 MB apart (``max_pool1d`` 1.56 or 1.95 MB, GeM 2.12 or 2.45, eight
    children each, 2026-12-07), so the ratio ranged 1.09-1.57; with the threshold fixed each
    buffer is a mapping of its own, counted once (``max_pool1d`` 1.67-1.87 MB, GeM 1.96-2.17)."""
    def grown(call):
        return fwd_bwd_peak_growth(call, (1, 1, 8), (1, 1, 100_000), p=3.0,
                                   env={"MALLOC_MMAP_THRESHOLD_": "131072"})

    base = grown("F.max_pool1d(x, 3, 1)")
    if base is None:
        pytest.skip("the peak RSS cannot be reset here (/proc/self/clear_refs)")
    for call in ("P.gem_pool1d(x, p, 3, 1)", "P.p_pool1d(x, p, 3, 1)"):
        ours = grown(call)
        assert ours <= 1.5 * base, (call, ours, base)


MEMORY_CHILD = r"""
import json, sys, torch
import ppverify.ops as P
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
x = torch.rand(1, 1, 2_000_000) + 0.1
p = torch.tensor(3.1, dtype=torch.float64, requires_grad=True)
P.gem_pool1d(x[..., :4096].clone().requires_grad_(True), p, 3, 1).sum().backward()
xg = x.clone().requires_grad_(True)
gy = torch.ones(1, 1, 2_000_000 - 2)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS:")
P.gem_pool1d(xg, p, 3, 1).backward(gy)
print(json.dumps(status("VmHWM:") - base))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_long_signal_needs_no_scratch_of_its_length():
    # forward and backward of one 2,000,000-sample signal: the tensors (output, its saved
    # copy, the input's gradient: 8 MB each) and bounded scratch. It took about 1.7 GB (a
    # 4,194,301-sample signal 4.6 GB). 96 MiB leaves room for the allocator's own slack.
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD], capture_output=True, text=True,
                         check=True)
    extra = json.loads(out.stdout.strip().splitlines()[-1])
    assert extra < 96 * 2**20, f"extra peak RSS {extra / 2**20:.0f} MiB"


@pytest.mark.parametrize("shape", [(1, 2, 6000), (1, 3, 3000)])
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
def test_a_short_signal_in_its_default_segments_matches_the_oracle(op, shape):
    """The segment lengths that ``scratch_bounded_cols`` gives by default (no knob lowered):
    a (1, 2, 6000) signal, k3 s1 for P-pooling and the power mean (k3 s2 for Lp, which has no
    padding), on 2 threads, is cut into segments of about 256-512 columns (1024 before
    2026-12-07), and a (1, 3, 3000) one (within 4 x 1024 columns: 3 segments of 1000 before)
    into segments of about 256; forward and both gradients against the oracle, across the
    segments' bounds."""
    from ._compare import check_case

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = _input(shape, torch.float32, seed=5)
        kernel, stride, padding = (3, 2, 0) if op == "lp" else (3, 1, 1)
        layout = _layout.windowed(1, kernel, stride, padding)
        cut = _cut(op, x, layout, 2)
        assert cut["axis"] == 2 and x.numel() / cut["segments"] < 600, cut
        if op == "ppool":
            check_case(x, 2.5, kernel, stride, padding, dims=1)
        else:
            p = [3.1, -1.5, 0.7][:shape[1]] if op == "powermean" else [3.1, 1.5, 6.0][:shape[1]]
            _check_windowed(op, x, p, kernel, stride, padding, dims=1, strict_p=False)
    finally:
        torch.set_num_threads(before)
