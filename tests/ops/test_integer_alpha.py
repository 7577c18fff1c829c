"""P-pooling at an integer alpha of 0-4 weighs by multiplication (issue 12).

The fast engine (float32, bfloat16, float16 inputs) weighs each element by
E = exp(a (ln x - Lc)): a logarithm and an exponential in double, within 2e-14 relative, the
floor of the global and large-window rows (docs/performance-history.md). Where every lane of a
group has a = 0, 1, 2, 3 or 4 and no plane reference (Lc = 0: |a| times the format's log range
is small, which holds for these a in every narrow format), ``E = x^a`` is formed by
multiplication instead (``int_weight`` and ``ExpCol`` in ppool_kernel.cpp): x and x^2 exact
(an input has at most 24 significant bits), x^3 and x^4 one rounding each (2^-53), no
logarithm, and no exponential at all; the logarithm ``ln x`` is still formed where dy/dalpha
or the backward reads it. ``_native.weight_paths()["integer"]`` counts the row segments
weighed so.

Each case runs against the oracle (forward and gradients); the counter shows which path it
took. Over the adversarial suite (``tests/ops/_cases.py``) the forward at these alphas is then
correctly rounded, where the exponential's weights were 1 ULP off in a few cases per draw
(``test_integer_alpha_forward_is_correctly_rounded_over_the_suite``: the build before this
form fails it)."""

from __future__ import annotations

import pytest
import torch

from ppverify.ops import _native, adaptive_p_pool2d, p_pool2d

from ._cases import ADAPTIVE_GEOMETRIES, GEOMETRIES, KINDS, positive_signal, values
from ._compare import check_adaptive_case, check_case, dtype_name
from .test_load_weights import _memory
from .test_saved_backward import _count_calls

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

NARROW = [torch.float32, torch.bfloat16, torch.float16]


# dims, shape, kernel, stride, padding (16 channels: two groups of 8 planes)
LAYOUTS = [
    (2, (2, 16, 19, 24), 3, 2, 1),   # planes' windows share elements (the overlap state)
    (2, (1, 16, 20, 22), 2, 2, 0),   # disjoint windows (the saved dy/dx)
    (3, (1, 16, 5, 7, 9), 3, 2, 1),
    (1, (2, 16, 203), 3, 2, 1),
]
CASES = [(c, cl) for c in LAYOUTS for cl in (False, True) if not (cl and c[0] == 1)]
PER_CHANNEL = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 2.0, 1.0, 3.0] * 2, dtype=torch.float64)


@pytest.mark.parametrize("alpha", [3.0, "per-channel"])
@pytest.mark.parametrize("dtype", NARROW, ids=dtype_name)
@pytest.mark.parametrize("case, channels_last", CASES,
                         ids=[f"{c[0]}d-k{c[2]}s{c[3]}-{'cl' if cl else 'contiguous'}"
                              for c, cl in CASES])
def test_integer_alpha_is_weighed_by_multiplication(case, channels_last, dtype, alpha,
                                                    weight_paths, general_path):
    # (the general path: on channels-last memory the direct path, test_cl_direct.py, sums
    # windows of an integer alpha without the row weights counted here)
    dims, shape, kernel, stride, padding = case
    a = PER_CHANNEL if alpha == "per-channel" else alpha
    x = _memory(positive_signal(shape, dtype, 11 + shape[-1], zeros=0.15), dims, channels_last)
    check_case(x, a, kernel, stride, padding, 1, False, dims=dims)
    seen = weight_paths()
    assert seen["integer"] > 0, seen
    # every row segment of these calls: each group's lanes all take an integer alpha
    assert seen["integer"] == seen["fused"] + seen["tail"] + seen["split"], seen


@pytest.mark.parametrize("dtype", NARROW, ids=dtype_name)
@pytest.mark.parametrize("alpha", [2.0, 4.0, "per-channel"])
def test_integer_alpha_global_and_adaptive_windows(dtype, alpha, weight_paths):
    a = PER_CHANNEL if alpha == "per-channel" else alpha
    x = positive_signal((2, 16, 23, 29), dtype, 5, zeros=0.2)
    for output_size in (1, 5):
        check_adaptive_case("ppool", x, a, output_size, dims=2)
    assert weight_paths()["integer"] > 0


@pytest.mark.parametrize("alpha", [
    5.0,                                                            # an integer above 4
    2.5,
    torch.tensor([2.0] * 7 + [2.5] + [1.0] * 8, dtype=torch.float64),  # one lane not integer
    -1.0,
], ids=["5", "2.5", "one-lane-2.5", "-1"])
def test_other_alphas_keep_the_exponential(alpha, weight_paths):
    x = positive_signal((1, 16, 19, 24), torch.float32, 3, zeros=0.1)
    check_case(x, alpha, 3, 2, 1, 1, False, dims=2)
    seen = weight_paths()
    if isinstance(alpha, torch.Tensor):  # the second group (all 1.0) weighs by multiplication
        assert 0 < seen["integer"] < seen["fused"] + seen["tail"] + seen["split"], seen
    else:
        assert seen["integer"] == 0, seen


def test_values_that_need_no_plane_reference_at_alpha_4():
    # float32's extremes: x^4 from 2^-596 (the smallest subnormal) to 2^512, and their sums,
    # stay normal doubles, so no reference is needed and no weight underflows or overflows
    tiny, huge = 2.0 ** -149, 3.4028234663852886e38
    x = torch.tensor([[[tiny, 1.0, huge, 0.0, tiny, tiny, 2.0 ** -126, 1e-30, huge, huge]]],
                     dtype=torch.float32)
    for a in (1.0, 2.0, 3.0, 4.0):
        check_case(x, a, 2, 2, 0, 1, False, dims=1)
        check_case(x, a, 3, 1, 1, 1, False, dims=1)
        check_adaptive_case("ppool", x, a, 1, dims=1)


# the suite's generator's seed per dtype: a draw on which the exponential's weights (the build
# before the integer form, 8cb341a) were 1 ULP off somewhere (float32 and bfloat16 at seed 1,
# float16 at seed 3; seed 2 drew no such case in any of the three), each now 0
SEEDS = {torch.float32: 1, torch.bfloat16: 1, torch.float16: 3}


@pytest.mark.parametrize("dtype", NARROW, ids=dtype_name)
def test_integer_alpha_forward_is_correctly_rounded_over_the_suite(dtype):
    gen = torch.Generator().manual_seed(SEEDS[dtype])
    worst, where = 0.0, None
    for alpha in (1.0, 2.0, 3.0, 4.0):
        for kind in KINDS:
            for dims, spatial, *geometry in GEOMETRIES:
                x = values(kind, (1, 2) + spatial, dtype, gen)
                f = check_case(x, alpha, *geometry, dims=dims, gradients=False)["forward"]
                if f > worst:
                    worst, where = f, (alpha, kind, dims, spatial, geometry)
            for dims, spatial, output_size in ADAPTIVE_GEOMETRIES:
                x = values(kind, (1, 2) + spatial, dtype, gen)
                f = check_adaptive_case("ppool", x, alpha, output_size, dims=dims,
                                        gradients=False)["forward"]
                if f > worst:
                    worst, where = f, (alpha, kind, dims, spatial, output_size)
    assert worst == 0, (worst, where)


# ---- the integer-alpha window state: at such an alpha, with windows that share no element and
# hold 16 elements or more on average (global and adaptive pooling, large kernels), the saving
# forward keeps each window's S and y (no dy/dx per element) and the backward forms each dy/dx
# from x (run_int_saved_backward): dy/dx = k1 x^a - k2 x^(a-1)


def check_elements_in_no_window(x, free, pool, memory=None):
    """With infinities and NaNs at the elements ``free`` (which no window reads) in place of
    ``x``'s values: the output and alpha's gradient bit for bit those of ``x``, the input
    gradient too except at ``free``, where it is exactly 0 (``pool(t, alpha)``, alpha 2
    learnable; ``memory`` lays the input out first)."""
    n = int(free.sum())
    wild = x.clone()
    wild[free] = torch.tensor([float("inf"), float("nan")]).repeat(n)[:n]

    def gradients(t):
        t = (memory(t) if memory else t).detach().requires_grad_(True)
        a = torch.tensor(2.0, requires_grad=True)
        y = pool(t, a)
        y.backward(torch.linspace(-1.0, 2.0, y.numel()).reshape(y.shape))
        return y.detach(), t.grad, a.grad

    y, gx, ga = gradients(x)
    y_wild, gx_wild, ga_wild = gradients(wild)
    assert torch.equal(y_wild, y) and torch.equal(ga_wild, ga)
    assert torch.equal(gx_wild[~free], gx[~free])
    assert torch.equal(gx_wild[free], torch.zeros(n))


def count_window_state(monkeypatch, *others: str):
    """``(forwards, backwards)``: calls that saved the integer-alpha window state and
    backwards from it; the recomputing backward and the ``others`` (``_native`` backwards of
    the states the case must not take) fail the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a backward other than the window state's ran")

    forwards = _count_calls(monkeypatch, "forward_saved_int")
    backwards = _count_calls(monkeypatch, "backward_saved_int")
    for name in ("backward", *others):
        monkeypatch.setattr(_native, name, forbidden)
    return forwards, backwards


@pytest.fixture
def window_state(monkeypatch):
    """``count_window_state`` with the dy/dx state's backward forbidden too."""
    return count_window_state(monkeypatch, "backward_saved")


def _with_a_window_of_zeros(x, dims):
    x = x.clone()
    x[(0, 0) + (slice(0, 8),) * dims] = 0.0  # (a window of zeros alone where windows are 8 wide)
    return x


# (dims, shape, layout): global, adaptive to sizes that divide, k8 s8; a few planes (segments
# and lane slices of one global plane), 1-D and 3-D
WINDOW_STATE_CASES = [
    (2, (2, 16, 24, 16), "global"),
    (2, (2, 16, 24, 16), ("adaptive", (3, 2))),
    (2, (2, 16, 24, 16), ("windowed", 8)),
    (2, (1, 2, 128, 136), "global"),
    (1, (1, 1, 20000), ("windowed", 32)),
    (3, (1, 8, 8, 8, 16), "global"),
]


def _run(x, alpha, dims, layout, gradients=True):
    if layout == "global":
        return check_adaptive_case("ppool", x, alpha, 1, dims=dims, gradients=gradients)
    kind, size = layout
    if kind == "adaptive":
        return check_adaptive_case("ppool", x, alpha, size, dims=dims, gradients=gradients)
    return check_case(x, alpha, size, size, 0, 1, False, dims=dims, gradients=gradients)


# every integer alpha in float32, the common ones in the half types
DTYPE_ALPHAS = [(torch.float32, a) for a in (0.0, 1.0, 2.0, 3.0, 4.0)] + [
    (d, a) for d in (torch.bfloat16, torch.float16) for a in (1.0, 2.0)]


@pytest.mark.parametrize("dtype, alpha", DTYPE_ALPHAS,
                         ids=[f"{dtype_name(d)}-{a}" for d, a in DTYPE_ALPHAS])
@pytest.mark.parametrize("dims, shape, layout", WINDOW_STATE_CASES,
                         ids=[f"{c[0]}d-{c[1]}-{c[2] if isinstance(c[2], str) else c[2][0]}"
                              for c in WINDOW_STATE_CASES])
def test_the_window_state_serves_large_disjoint_windows(dims, shape, layout, dtype, alpha,
                                                        window_state):
    x = positive_signal(shape, dtype, 17 + shape[-1], zeros=0.15)
    if layout != "global" and layout[0] == "windowed" and layout[1] == 8:
        x = _with_a_window_of_zeros(x, dims)
    _run(x, alpha, dims, layout)
    if dims == 2 and shape[1] % 8 == 0:  # and on channels-last memory
        _run(x.contiguous(memory_format=torch.channels_last), alpha, dims, layout)
    forwards, backwards = window_state
    assert len(forwards) > 0 and len(backwards) == len(forwards), (forwards, backwards)


# channels-last memory with fewer channels than the kernel's INT_SPREAD_BELOW (16): the
# backward spreads each window's constants over its pixels' channels, so that a run of a row is
# one loop over its pixels x channels (3, 2 and 12 channels; with k8 on 20 x 18, rows and
# columns in no window and a window of zeros)
CL_FEW_CHANNELS = [
    ((2, 3, 24, 16), "global"),
    ((2, 3, 24, 16), ("adaptive", (3, 2))),
    ((1, 2, 20, 18), ("windowed", 8)),
    ((1, 12, 20, 18), ("windowed", 8)),
]
CL_DTYPE_ALPHAS = [(torch.float32, a) for a in (0.0, 1.0, 2.0, 3.0, 4.0)] + [
    (torch.bfloat16, 2.0)]


@pytest.mark.parametrize("dtype, alpha", CL_DTYPE_ALPHAS,
                         ids=[f"{dtype_name(d)}-{a}" for d, a in CL_DTYPE_ALPHAS])
@pytest.mark.parametrize("shape, layout", CL_FEW_CHANNELS,
                         ids=[f"{c[0][1]}ch-{c[1] if isinstance(c[1], str) else c[1][0]}"
                              for c in CL_FEW_CHANNELS])
def test_the_window_state_on_channels_last_with_few_channels(shape, layout, dtype, alpha,
                                                             window_state):
    x = positive_signal(shape, dtype, 23 + shape[1], zeros=0.15)
    if layout != "global" and layout[0] == "windowed":
        x = _with_a_window_of_zeros(x, 2)
    _run(x.contiguous(memory_format=torch.channels_last), alpha, 2, layout)
    forwards, backwards = window_state
    assert len(forwards) == 1 and len(backwards) == 1, (forwards, backwards)


# k8 on 20 x 18 (rows 16-19 and columns 16-17 in no window; a row of three runs: 8, 8 and a
# gap), k14 on 28 x 31 (two runs of 14, then a gap of 3), and adaptive (2, 2) on 20 x 34 (two
# runs of 17, no gap): a row of several short runs is one loop with each column's constants
@pytest.mark.parametrize("shape, kernel", [((2, 8, 20, 18), 8), ((1, 3, 28, 31), 14),
                                           ((1, 5, 20, 34), None)])
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "cl"])
def test_the_window_state_gives_elements_in_no_window_a_zero_gradient(shape, kernel,
                                                                      channels_last,
                                                                      window_state):
    """An infinity or a NaN where no window reads (columns and rows past the last window) has a
    zero gradient, and every other element's gradient is, bit for bit, the one of the same input
    with finite values there (no window depends on them); against the oracle on that input."""
    x = positive_signal(shape, torch.float32, 31 + shape[-1], zeros=0.15)
    pool = ((lambda t, a: p_pool2d(t, a, kernel)) if kernel else
            (lambda t, a: adaptive_p_pool2d(t, a, 2)))
    if kernel:
        check_case(x, 2.0, kernel, kernel, 0, 1, False, dims=2)
    else:
        check_adaptive_case("ppool", x, 2.0, 2, dims=2)
    free = torch.zeros(shape, dtype=torch.bool)  # the elements no window reads
    if kernel:
        free[..., shape[-2] // kernel * kernel:, :] = True
        free[..., :, shape[-1] // kernel * kernel:] = True
    check_elements_in_no_window(
        x, free, pool,
        (lambda t: t.contiguous(memory_format=torch.channels_last)) if channels_last else None)
    forwards, backwards = window_state
    assert len(backwards) == 3, (forwards, backwards)  # the oracle check's and two more


def test_one_alpha_per_channel_takes_the_window_state_where_all_are_equal(monkeypatch):
    forwards = _count_calls(monkeypatch, "forward_saved_int")
    x = positive_signal((2, 8, 16, 16), torch.float32, 9, zeros=0.1)
    check_adaptive_case("ppool", x, torch.full((8,), 3.0, dtype=torch.float64), 1, dims=2)
    assert len(forwards) == 1
    check_adaptive_case("ppool", x, PER_CHANNEL[:8], 1, dims=2)  # integers, not one value
    check_adaptive_case("ppool", x, 2.5, 1, dims=2)
    check_case(x, 2.0, 2, 2, 0, 1, False, dims=2)  # windows of 4 elements: the dy/dx state
    assert len(forwards) == 1


@pytest.mark.parametrize("what", ["S", "y", "dw"])
def test_a_wrong_window_state_is_caught(what, monkeypatch):
    """A 0.1% error in a window's S or y, or in its dy/dalpha, fails the oracle comparison; the
    same path unskewed passes."""
    x = positive_signal((2, 8, 12, 10), torch.float32, 21, zeros=0.1)
    real = _native.forward_saved_int
    n_out = 2 * 8

    def skewed(factor):
        def forward(plan, x, param, out, dw, sums):
            result = real(plan, x, param, out, dw, sums)
            {"S": sums[:n_out], "y": sums[n_out:], "dw": dw}[what].mul_(factor)
            return result
        return forward

    monkeypatch.setattr(_native, "forward_saved_int", skewed(1.001))
    with pytest.raises(AssertionError, match="outside tolerance"):
        check_adaptive_case("ppool", x, 2.0, 1, dims=2)
    monkeypatch.setattr(_native, "forward_saved_int", skewed(1.0))
    check_adaptive_case("ppool", x, 2.0, 1, dims=2)


def test_a_window_wider_than_a_column_tile_recomputes(monkeypatch):
    # windows of 2 rows of 4100 columns (adaptive to 1 x 2, not a global window that the
    # dispatcher folds into rows: the column tiles hold 2048): the forward keeps no state and
    # the backward recomputes, against the oracle
    recomputed = _count_calls(monkeypatch, "backward")
    saved = _count_calls(monkeypatch, "forward_saved_int")
    x = positive_signal((1, 8, 2, 8200), torch.float32, 4, zeros=0.05)
    check_adaptive_case("ppool", x, 2.0, (1, 2), dims=2)
    assert len(saved) == 1 and len(recomputed) == 1
