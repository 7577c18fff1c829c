"""Issue 12: a global window of few planes in lane slices (``xlane_serves`` in
ppool_kernel.cpp). Segments cannot cut one window, so global pooling of fewer planes than SIMD
lanes x threads ran each plane on one lane of one thread: a global GeM of one (2048, 2048)
float32 plane took 25 ms forward and 193 ms forward+backward, P-pooling 32 and 94 ms. Each
plane's rows are now cut into 8 slices, one per lane, whose window sums the engine combines
before y and the gradients; a window the exact engine must evaluate sends the call back to
run again without slices.

Every case is held to the oracle and counts the planes the kernel sliced
(``_native.lane_slices``): P-pooling, the power mean and Lp; alpha or p > 0, < 0, 1, 2, large
and per-channel; planes, a folded row and a folded volume; the saving forward and the
recomputing backward; the half types with zeros; near-degenerate windows; the windows sent
back; and where no slices are taken."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _dispatch, _layout, _native

from ._compare import check_adaptive_case
from .test_power_kernel import _input
from .test_saved_backward import _recomputing  # (the backward then runs in the engine)

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")


@pytest.fixture
def paths():
    _native.lane_slices()  # reset the counts
    yield _native.lane_slices


# shape, p: planes of at least 2**14 elements whose rows (or the folded rows) are a multiple
# of 8; p > 0 and < 0 (the plane's largest or smallest element as reference), p = 1 (E = x),
# 2 (a square root), 50 (a reference far from most elements), per-channel
SLICED = [
    ((1, 1, 256, 64), 3.0),
    ((1, 2, 128, 136), [-1.5, 2.0]),
    ((2, 1, 64, 256), 1.0),
    ((1, 3, 1, 24576), [2.0, 50.0, 0.5]),  # a long row, folded to (8, 3072) rows
    ((1, 1, 16, 32, 32), 4.0),               # a volume, folded to (8, 2048)
    ((1, 2, 64, 512), [40.0, -30.0]),        # one reference per plane, not per slice
]


@pytest.mark.parametrize("case", SLICED, ids=lambda c: f"{c[0]}-p{c[1]}")
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
def test_a_global_window_in_lane_slices_matches_the_oracle(case, op, saved, paths,
                                                            monkeypatch):
    # saving-forward: the eager forward saves dy/dx and dy/dp (its backward is a pass over
    # memory, not the engine); recomputing: a plain forward, then the engine's backward, both
    # in slices
    shape, p = case
    x = _input(shape, torch.float32, seed=sum(shape))
    dims = len(shape) - 2
    # (P-pooling saves no state for a window wider than its column tile, 2048)
    rows = _dispatch._global_rows(op, _layout.adaptive(dims, 1), shape[2:]) or shape[-2:]
    _check_in_slices(op, x, p, saved and not (op == "ppool" and rows[-1] > 2048), saved,
                     paths, monkeypatch)


def _check_in_slices(op, x, p, state_kept, saved, paths, monkeypatch):
    """``op``'s global window of ``x`` against the oracle (``saved``: the saving forward and
    the backward from its state, else a plain forward and the engine's backward), each plane
    sliced once per call that runs the engine: one where the forward kept its state, two
    where the backward runs the engine too."""
    if not saved:
        _recomputing(monkeypatch)
    check_adaptive_case(op, x, p, 1, dims=x.dim() - 2)
    calls = 1 if state_kept else 2
    assert paths() == {"sliced": x.shape[0] * x.shape[1] * calls, "redone": 0}


def _slice_geometry(n: int) -> tuple[int, int, int, int]:
    """The slices of an n-element plane that is not D = 1 with a multiple of 8 rows
    (``slice_plan``, transcribed): (H, W, k, part), each slice read as H rows of W <= 1024
    columns, W the largest leaving B = 8 H W - n <= 7 W; lanes [0, k) a row short, lane k
    ``part`` elements short."""
    for w in range(1024, 0, -1):
        h = -(-n // (8 * w))
        if 8 * h * w - n <= 7 * w:
            return h, w, (8 * h * w - n) // w, (8 * h * w - n) % w
    raise AssertionError(n)


def _borrowed_positions(n: int) -> list[int]:
    """The plane positions that a lane reads for its last row but does not own: lanes
    [0, k)'s last rows and lane k's last ``part`` columns (the next lanes' first elements)."""
    h, w, k, part = _slice_geometry(n)
    base = [lane * h * w - min(lane, k) * w - (part if lane > k else 0) for lane in range(9)]
    out = []
    for lane in range(k):
        out += range(base[lane + 1], base[lane + 1] + w)
    if part:
        out += range(base[k + 1], base[k + 1] + part)
    return out


# shape, p: planes that are not D = 1 with a multiple of 8 rows (no fold leaves such rows for
# an odd size). Each is read as 8 slices of H rows of W <= 1024 elements in order
# (_slice_geometry): the last row read for lanes [0, k) is the next lane's first, and lane k's
# last `part` elements are the next lane's first (Plan::xlane_short, xlane_part), their terms
# left out of those lanes' sums. Before, such a plane ran on one lane: (1, 3, 999, 999) GeM
# forward 5.83 ms against (1, 1, 1000, 1000)'s 0.62 (`python -m tests.ops.large_windows`).
SHORT = [
    ((1, 1, 257, 65), 3.0),                # H 3, W 982: 6 lanes a row short, lane 6 971 elements
    ((1, 2, 131, 129), [-1.5, 2.0]),       # 6 and 993; p < 0: the smallest as reference
    ((1, 1, 999, 17), 2.5),                # 7 lanes a row short, no partial row
    ((1, 1, 5, 4915), [1.0]),              # lane 0 one element short alone
    ((1, 1, 3, 6001), 7.5),                # 6 and 429 (P-pooling: its own rows 6001 long)
    ((1, 1, 67, 1, 251), 40.0),            # a volume (D = 67), 6 and 985
    ((1, 1, 65537), -0.7),                 # a prime-length signal, one row: 6 and 991
]


# channels-last memory with fewer channels than lanes (Plan::packed): each plane's elements
# are C apart, sliced as the contiguous planes are (xlane_lanes: bases and steps times C).
# Before, such a plane ran on one lane and the call on one thread: (1, 3, 999, 999) P-pooling
# forward 13.5 ms against 3.3 on contiguous memory (GeM 6.6 against 1.7)
CHANNELS_LAST = [
    ((1, 3, 257, 65), [3.0, -1.5, 1.0]),   # planes not 8 slices of their rows (6 and 971)
    ((2, 2, 128, 136), 2.0),               # D = 1 and 8k rows: slices of its own rows
    ((1, 5, 3, 6001), 7.5),                # 6 and 429
    ((1, 2, 67, 1, 251), 40.0),            # channels_last_3d, a volume
]


@pytest.mark.parametrize("case", CHANNELS_LAST, ids=lambda c: f"{c[0]}-p{c[1]}")
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
def test_channels_last_planes_in_lane_slices(case, op, saved, paths, monkeypatch):
    shape, p = case
    if op == "lp":
        p = [abs(v) for v in p] if isinstance(p, list) else abs(p)
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    x = _input(shape, torch.float32, seed=sum(shape)).contiguous(memory_format=fmt)
    assert not x.is_contiguous()
    # (every case's rows are at most 2048 wide as given or as sliced: the state is kept)
    _check_in_slices(op, x, p, saved, saved, paths, monkeypatch)


def test_the_slice_geometries_of_the_cases():
    import math

    got = [_slice_geometry(math.prod(shape[2:]))[2:] for shape, _ in SHORT]
    assert got == [(6, 971), (6, 993), (7, 0), (0, 1), (6, 429), (6, 985), (6, 991)]


@pytest.mark.parametrize("case", SHORT, ids=lambda c: f"{c[0]}-p{c[1]}")
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
def test_planes_that_are_not_8_slices_of_their_rows(case, op, saved, paths, monkeypatch):
    shape, p = case
    if op == "lp" and not isinstance(p, list) and p < 0:
        p = -p
    x = _input(shape, torch.float32, seed=sum(shape))
    # (slices of at most 1024 columns: the state is kept)
    _check_in_slices(op, x, p, saved, saved, paths, monkeypatch)


@pytest.mark.parametrize("op, p", [("ppool", 0.0), ("ppool", 0.5), ("powermean", 1.0),
                                   ("powermean", -2.0), ("lp", 2.0)])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
def test_a_borrowed_element_is_counted_once(op, p, saved, paths, monkeypatch):
    # 257 x 65: 6 lanes a row short and lane 6 971 elements short (_slice_geometry); the
    # 6,863 elements they read but do not own hold 1000 where the rest holds 1-2, so summing
    # them twice moves y by about 40% (alpha = 0 is the plain mean: every element's weight 1,
    # a zero's too), and some are zeros
    if not saved:
        _recomputing(monkeypatch)
    g = torch.Generator().manual_seed(2)
    x = 1.0 + torch.rand((1, 1, 257, 65), generator=g, dtype=torch.float64)
    borrowed = _borrowed_positions(257 * 65)
    assert len(borrowed) == 6 * 982 + 971
    x.view(-1)[borrowed] = 1000.0
    x.view(-1)[borrowed[::700]] = 0.0 if p >= 0 else 1.0  # (p < 0: no zero, its domain)
    check_adaptive_case(op, x.float(), p, 1, dims=2)
    assert paths() == {"sliced": 1 if saved else 2, "redone": 0}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64],
                         ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("op", ["ppool", "powermean"])
def test_partial_slices_in_the_other_dtypes(dtype, op, paths):
    # (float64: the power engine's slices alone, dy/dp by its element-wise sums; P-pooling's
    # float64 engine has none)
    x = _input((1, 2, 131, 127), dtype, seed=6, zeros=dtype != torch.float64)
    check_adaptive_case(op, x, [3.0, 0.7], 1, dims=2)
    sliced = 0 if (dtype == torch.float64 and op == "ppool") else 2
    assert paths() == {"sliced": sliced, "redone": 0}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
def test_random_plane_sizes_in_lane_slices(op, threads, paths):
    # sizes drawn once (seeded) from 16,384 to 30,000 elements, as 1-D, 2-D and 3-D planes;
    # 1 to 9 planes (9 are sliced on two threads, 9 groups of one plane each, and not on one)
    rng = torch.Generator().manual_seed(2026)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for case in range(4):
            n = int(torch.randint(16384, 30000, (1,), generator=rng))
            planes = [1, 3, 9, 1][case]
            spatial = [(n,), (n // 97, 97), (3, n // 303, 101), (n // 211, 211)][case]
            shape = (1, planes, *spatial)
            x = _input(shape, torch.float32, seed=n)
            p = [2.5, -1.25, 7.0][case % 3] if op != "lp" else [2.5, 1.25, 7.0][case % 3]
            check_adaptive_case(op, x, p, 1, dims=len(spatial))
            # (a saving forward: one sliced call; its backward is a pass over the state)
            sliced = planes if planes < 8 * threads else 0
            assert paths() == {"sliced": sliced, "redone": 0}, shape
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
def test_near_degenerate_windows_in_lane_slices(op, paths):
    # where dy/dp's cheap form cancels (near-ties for the power mean, one dominant element for
    # Lp) the kernel sums each window's elements again relative to its largest weight: those
    # sums are combined across the slices too
    g = torch.Generator().manual_seed(11)
    x = 2.0 + 1e-4 * torch.rand((1, 2, 128, 128), generator=g, dtype=torch.float64)
    if op == "lp":
        x = 1e-6 * x
        x[0, :, 100, 5] = 3.0
    check_adaptive_case(op, x.float(), [3.0, 0.7], 1, dims=2)
    assert paths() == {"sliced": 2, "redone": 0}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16],
                         ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("op", ["ppool", "powermean"])
def test_lane_slices_in_the_half_types(dtype, op, paths):
    x = _input((1, 2, 128, 128), dtype, seed=5, zeros=True)
    check_adaptive_case(op, x, [3.0, 0.7], 1, dims=2)
    assert paths() == {"sliced": 2, "redone": 0}


def test_windows_the_exact_engine_serves_are_run_again_without_slices(paths):
    # p below 1/16 (the exact engine's lanes), P-pooling at alpha < 0 with a zero (a special
    # window: y = 0), and p < 0 with a zero (the power mean's domain error, found by the exact
    # engine): the call runs again without slices, with the same results as before
    x = _input((1, 1, 128, 128), torch.float32, seed=7)
    check_adaptive_case("powermean", x, 0.03, 1, dims=2)
    assert paths() == {"sliced": 0, "redone": 1}
    x[0, 0, 77, 3] = 0.0
    check_adaptive_case("ppool", x, [-1.0], 1, dims=2)
    assert paths() == {"sliced": 0, "redone": 1}
    from ppverify.ops import gem

    with pytest.raises(ValueError):
        gem(x, -2.0)
    assert paths()["sliced"] == 0


def test_lane_slices_only_where_planes_leave_lanes_idle(paths):
    from ppverify.ops import gem

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        gem(_input((1, 8, 128, 128), torch.float32), 3.0)  # 8 planes fill the lanes
        gem(_input((1, 4, 40, 40), torch.float32), 3.0)    # 1600 elements: too small
        assert paths()["sliced"] == 0
        gem(_input((1, 7, 128, 128), torch.float32), 3.0)
        assert paths()["sliced"] == 7
        # channels-last: fewer channels than lanes are packed planes, sliced as contiguous
        # ones; 8 or more are not sliced (a slice's group is one plane, and every plane shares
        # its cache lines with the others: 9 packed planes and 8 channels in one group leave
        # lanes idle on 2 threads, but each group would read all 9 or 8 planes' lines)
        gem(_input((1, 4, 128, 128), torch.float32).contiguous(
            memory_format=torch.channels_last), 3.0)
        assert paths()["sliced"] == 4
        torch.set_num_threads(2)
        for channels in (9, 8):
            gem(_input((1, channels, 128, 128), torch.float32).contiguous(
                memory_format=torch.channels_last), 3.0)
            assert paths()["sliced"] == 0
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
def test_a_large_sliced_plane_takes_dy_dp_from_the_window_sums(op, saved, paths, monkeypatch):
    # dy/dp's closed form from the window sums (pow_dp_fast) bounds the rounding of U and A
    # by their terms: n / 8 per lane, then 8 lane sums. With n itself the form never held
    # above about a million elements and a (2048, 2048) plane's dy/dp took a second pass over
    # its rows (saving forward 32 ms where the plain one is 8.5); here a 2**18-element plane
    # with elements in [1, 1.4] (the power mean's core U / S - ln(S / D) is then 0.016-0.031
    # of A / S + |ln(S / D)| + 1: the form needs (n + 8) 2**-22 of it with n, 0.0625, and
    # (n / 8 + 16) 2**-22 with the slices' sums, 0.0078; Lp's core, about -ln n, passes both)
    if not saved:
        _recomputing(monkeypatch)
    g = torch.Generator().manual_seed(5)
    x = (1.0 + 0.4 * torch.rand((1, 1, 512, 512), generator=g, dtype=torch.float64)).float()
    _native.pow_dp_passes()
    check_adaptive_case(op, x, 3.1, 1, dims=2)
    assert paths() == {"sliced": 1 if saved else 2, "redone": 0}
    assert _native.pow_dp_passes() == 0


# ------------------------------------------------------------------------------ slices in parts
# With fewer planes than threads (one plane on two), or planes that do not share out evenly
# among them (three on two), both engines cut each plane's slices into parts of rows, one unit
# of work each, add the parts' window sums and finish every part from the plane's (``XParts``
# in ppool_kernel.cpp): (1, 1, 2048, 2048) gem forward on two threads 7.5 -> 3.0 ms, where one
# thread took 7.1.
PARTS = [
    # shape, p, threads, parts per plane (requested / gcd(planes, requested))
    ((1, 1, 256, 64), 3.1, 2, 2),
    ((1, 1, 256, 64), [2.0], 3, 3),
    ((1, 3, 128, 136), [3.0, -1.5, 1.0], 2, 2),
    ((1, 2, 128, 200), [2.5, 4.0], 3, 3),
]


def _threads(n):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


@pytest.mark.parametrize("case", PARTS, ids=lambda c: f"{c[0]}-p{c[1]}-t{c[2]}")
@pytest.mark.parametrize("op", ["ppool", "powermean", "lp"])
@pytest.mark.parametrize("saved", [True, False], ids=["saving-forward", "recomputing"])
def test_slices_in_parts_match_the_oracle(case, op, saved, paths, monkeypatch):
    # saving-forward: the forward's dy/dx state written part by part (P-pooling at an integer
    # alpha: each window's S and y, by the owner part) and dy/dp or dy/da by the owner part;
    # recomputing: a plain forward in parts (y from the plane's sums), then the engine's
    # backward in parts too (each part its own rows' gradients, the owner the parameter's)
    shape, p, threads, parts = case
    if op == "lp":
        p = [abs(v) for v in p] if isinstance(p, list) else abs(p)
    if not saved:
        _recomputing(monkeypatch)
    x = _input(shape, torch.float32, seed=sum(shape) + threads)
    _native.lane_slice_parts()
    before = _threads(threads)
    try:
        check_adaptive_case(op, x, p, 1, dims=len(shape) - 2)
    finally:
        torch.set_num_threads(before)
    sliced = shape[0] * shape[1] * (1 if saved else 2)  # (calls: a forward, a backward)
    assert paths() == {"sliced": sliced, "redone": 0}
    assert _native.lane_slice_parts() == {"units": sliced * parts, "redone": 0}


@pytest.mark.parametrize("op", ["ppool", "powermean"])
def test_slices_in_parts_with_zeros_and_in_the_half_types(op, paths):
    # zeros (weights 0 at p > 0: a ReLU's output; P-pooling at alpha 0 and below, windows
    # holding a zero), bfloat16 and float16 (their own rounding of y), one plane on two threads
    before = _threads(2)
    try:
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            for p in ([3.0, 0.0] if op == "ppool" else [3.0]):
                x = _input((1, 1, 128, 128), dtype, seed=3, zeros=True)
                _native.lane_slice_parts()
                paths()
                check_adaptive_case(op, x, p, 1, dims=2)
                # (a forward, and a backward where the state is not kept: two parts each)
                sliced = paths()["sliced"]
                assert sliced in (1, 2), (dtype, p)
                assert _native.lane_slice_parts() == {"units": 2 * sliced, "redone": 0}, \
                    (dtype, p)
    finally:
        torch.set_num_threads(before)


def test_a_window_whose_dy_dp_wants_its_elements_runs_again_with_whole_slices(paths):
    # near-ties: dy/dp's closed form cancels and the window's elements are summed again
    # relative to its largest weight (pow_dp_rows), a pass that needs the plane's sums first;
    # the parts hand the call back and it runs with whole slices, as before
    g = torch.Generator().manual_seed(11)
    x = (2.0 + 1e-4 * torch.rand((1, 1, 128, 128), generator=g, dtype=torch.float64)).float()
    _native.lane_slice_parts()
    before = _threads(2)
    try:
        check_adaptive_case("powermean", x, 3.0, 1, dims=2)
    finally:
        torch.set_num_threads(before)
    assert paths() == {"sliced": 1, "redone": 0}
    assert _native.lane_slice_parts() == {"units": 0, "redone": 1}


def test_no_parts_where_they_do_not_serve(paths):
    from ppverify.ops import adaptive_p_pool, gem

    before = _threads(2)
    try:
        _native.lane_slice_parts()
        gem(_input((1, 2, 128, 128), torch.float32), 3.0)  # two planes on two threads
        gem(_input((1, 1, 128, 128), torch.float64), 3.0)  # float64 (compensated sums)
        gem(_input((1, 1, 128, 128), torch.float32), 50.0)  # a plane reference (p large)
        gem(_input((1, 1, 127, 129), torch.float32), 3.0)  # slices that borrow rows
        # P-pooling with a plane reference (|alpha| log_range above 560)
        adaptive_p_pool(_input((1, 1, 128, 128), torch.float32), 6.0, 1, dims=2)
        torch.set_num_threads(1)
        gem(_input((1, 1, 128, 128), torch.float32), 3.0)  # one thread
        assert _native.lane_slice_parts() == {"units": 0, "redone": 0}
        assert paths()["sliced"] == 6
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("op", ["ppool", "powermean"])
def test_channels_last_planes_in_parts(op, paths):
    # packed channels-last planes (fewer channels than lanes: each plane's elements C apart)
    # in parts: three planes on two threads, two parts each
    x = _input((1, 3, 128, 136), torch.float32, seed=9).contiguous(
        memory_format=torch.channels_last)
    _native.lane_slice_parts()
    before = _threads(2)
    try:
        check_adaptive_case(op, x, [2.5, 3.0, 1.5], 1, dims=2)
    finally:
        torch.set_num_threads(before)
    assert paths() == {"sliced": 3, "redone": 0}
    assert _native.lane_slice_parts() == {"units": 6, "redone": 0}


# Planes that fill the lanes but whose groups of 8 do not share out evenly among the threads
# (xlane_balances), on two threads: 18 planes are 3 groups, two on one thread and one on the
# other, or 18 slices' planes, 9 on each. Packed channels-last planes (3 channels: 6 batch
# entries' planes interleaved) with per-channel parameters, and 17 contiguous planes (3 groups,
# the last of one plane; 17 slices' planes in two parts each, 34 units). (About 2.5 s a case:
# the fewest planes of the fewest elements sliced)
UNEVEN = [
    ((6, 3, 128, 128), torch.channels_last, ("ppool", "powermean", "lp"), (True, False)),
    ((1, 17, 128, 128), None, ("ppool", "powermean"), (True,)),
]


UNEVEN_CASES = [(shape, fmt, op, saved) for shape, fmt, ops, saves in UNEVEN
                for op in ops for saved in saves]


@pytest.mark.parametrize("case", UNEVEN_CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-"
                         f"{'saving' if c[3] else 'recomputing'}")
def test_planes_in_uneven_groups_run_in_lane_slices(case, paths, monkeypatch):
    shape, fmt, op, saved = case
    x = _input(shape, torch.float32, seed=sum(shape))
    if fmt is not None:
        x = x.contiguous(memory_format=fmt)
    p = [1.5, 3.0, 0.5] if shape[1] == 3 else 2.5
    before = _threads(2)
    try:
        _check_in_slices(op, x, p, saved, saved, paths, monkeypatch)
    finally:
        torch.set_num_threads(before)


def test_lane_slices_only_where_the_groups_share_out_unevenly(paths):
    from ppverify.ops import gem

    before = _threads(2)
    try:
        for planes, sliced in ((18, 18), (24, 24), (40, 40), (56, 56),  # 3, 3, 5, 7 groups
                               (32, 0), (48, 0),  # 4 and 6 groups: evenly
                               (72, 0)):  # 9 groups: more than 4 L t planes (64)
            gem(_input((1, planes, 128, 128), torch.float32), 3.0)
            assert paths()["sliced"] == sliced, planes
        torch.set_num_threads(1)
        gem(_input((1, 18, 128, 128), torch.float32), 3.0)  # one thread: all groups on it
        assert paths()["sliced"] == 0
    finally:
        torch.set_num_threads(before)
