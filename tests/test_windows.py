"""ppverify.windows against torch's pooling: output shapes, window contents, validation errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ppverify.windows import (
    adaptive_axis_bounds,
    axis_empty_windows,
    axis_output_size,
    axis_windows,
    global_geometry,
    iter_windows,
    make_adaptive_geometry,
    make_geometry,
    output_shape,
    split_batch_channel,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}

SIZES = {1: [(1,), (3,), (5,), (7,), (9,)], 2: [(5, 7), (3, 5)], 3: [(3, 5, 5)]}
KERNELS = {1: [1, 2, 3, 4], 2: [1, 2, 3], 3: [2, 3]}


def _grid(dims):
    for spatial, k, s, d, ceil in itertools.product(
        SIZES[dims], KERNELS[dims], [1, 2, 3], [1, 2], [False, True]
    ):
        for p in range(k // 2 + 1):
            yield spatial, k, s, p, d, ceil


def _torch_shape(dims, spatial, k, s, p, d, ceil, avg=False):
    x = torch.zeros((2, 1) + spatial, dtype=torch.float64)
    try:
        if avg:
            return tuple(AVG_POOL[dims](x, k, s, p, ceil).shape)
        return tuple(MAX_POOL[dims](x, k, s, p, d, ceil).shape)
    except RuntimeError:
        return None


def _ours(dims, spatial, k, s, p, d, ceil):
    g = make_geometry(dims, k, s, p, d, ceil)
    try:
        return output_shape(g, (2, 1) + spatial)
    except ValueError as err:
        assert "output size" in str(err)
        return None


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_output_shape_matches_torch_max_pool(dims):
    checked = 0
    for spatial, k, s, p, d, ceil in _grid(dims):
        expected = _torch_shape(dims, spatial, k, s, p, d, ceil)
        assert _ours(dims, spatial, k, s, p, d, ceil) == expected, (spatial, k, s, p, d, ceil)
        checked += expected is not None
    assert checked > 20


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_output_shape_matches_torch_avg_pool(dims):
    for spatial, k, s, p, d, ceil in _grid(dims):
        if d != 1:
            continue
        expected = _torch_shape(dims, spatial, k, s, p, 1, ceil, avg=True)
        assert _ours(dims, spatial, k, s, p, 1, ceil) == expected, (spatial, k, s, p, ceil)


def test_ceil_mode_rule_last_window_must_start_inside():
    # L=5, k=2, s=2, p=1: floor gives 3 windows; ceil would give 4 but the 4th starts at
    # 3*2-1 = 5 = L, i.e. entirely in the right padding, so torch drops it.
    assert axis_output_size(5, 2, 2, 1, 1, False) == 3
    assert axis_output_size(5, 2, 2, 1, 1, True) == 3
    # L=5, k=2, s=2, p=0: ceil adds a partial window [4] that starts inside the input.
    assert axis_output_size(5, 2, 2, 0, 1, False) == 2
    assert axis_output_size(5, 2, 2, 0, 1, True) == 3
    last = axis_windows(5, 2, 2, 0, 1, True)[-1]
    assert last.indices == (4,) and last.band == 1  # the overhang position is not counted
    # L=6, k=3, s=2, p=1, ceil: window 3 starts at 5 (inside), reads 5, 6 (padding), 7 (overhang)
    w = axis_windows(6, 3, 2, 1, 1, True)
    assert len(w) == 4 and w[-1].indices == (5,) and w[-1].band == 2


def _window_tensor_checks(dims, spatial, k, s, p, d, ceil, rng):
    geometry = make_geometry(dims, k, s, p, d, ceil)
    try:
        windows = list(iter_windows(geometry, spatial))
    except ValueError:
        return 0
    x = rng.permutation(int(np.prod(spatial))).astype(np.float64).reshape(spatial) + 1.0
    xt = torch.tensor(x)[None, None]
    _, idx = MAX_POOL[dims](xt, k, s, p, d, ceil, return_indices=True)
    idx = idx[0, 0].numpy().ravel()
    flat = x.ravel()
    strides = np.array([int(np.prod(spatial[a + 1:])) for a in range(dims)])
    out_shape = output_shape(geometry, (1,) + tuple(spatial))[1:]
    assert len(windows) == int(np.prod(out_shape))
    for n, w in enumerate(windows):
        assert w.out_index == tuple(np.unravel_index(n, out_shape))
        if not w.positions:
            continue  # an empty window: torch's index there is out of range (see test_reference)
        flats = [int(np.dot(pos, strides)) for pos in w.positions]
        best = flats[int(np.argmax(flat[flats]))]
        assert idx[n] == best, (spatial, k, s, p, d, ceil, w)
        # kernel offsets reproduce the positions
        for pos, off in zip(w.positions, w.kernel_offsets):
            for a in range(dims):
                start = w.out_index[a] * geometry.stride[a] - geometry.padding[a]
                assert pos[a] == start + off[a] * geometry.dilation[a]
    if d == 1:
        # count_include_pad=True on ones: (#inputs) / (#inputs + #padding) per window
        ones = torch.ones((1, 1) + tuple(spatial), dtype=torch.float64)
        frac = AVG_POOL[dims](ones, k, s, p, ceil, count_include_pad=True)[0, 0].numpy().ravel()
        mine = [len(w.positions) / (len(w.positions) + w.n_padding) for w in windows]
        np.testing.assert_allclose(frac, mine, rtol=1e-15)
        mean = AVG_POOL[dims](xt, k, s, p, ceil, count_include_pad=False)[0, 0].numpy().ravel()
        mine = [np.mean([x[pos] for pos in w.positions]) for w in windows]
        np.testing.assert_allclose(mean, mine, rtol=1e-14)
    return len(windows)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_window_positions_match_torch(dims):
    rng = np.random.default_rng(dims)
    total = 0
    for spatial, k, s, p, d, ceil in _grid(dims):
        total += _window_tensor_checks(dims, spatial, k, s, p, d, ceil, rng)
    assert total > 100


def test_row_major_kernel_order():
    g = make_geometry(2, (2, 3), 1)
    w = next(iter_windows(g, (2, 3)))
    assert w.kernel_offsets == ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    assert w.positions == w.kernel_offsets


def test_window_can_be_only_padding():
    # dilation and padding make the first window read position -1 (padding) and 2 (overhang)
    g = make_geometry(1, 2, 2, 1, 3, True)
    (w,) = list(iter_windows(g, (1,)))
    assert w.positions == () and w.n_padding == 1
    # torch agrees the output has one element (max gives -inf there)
    y = F.max_pool1d(torch.ones(1, 1, 1, dtype=torch.float64), 2, 2, 1, 3, True)
    assert y.shape == (1, 1, 1) and y.item() == float("-inf")


def test_empty_windows_closed_form_matches_torch():
    """axis_empty_windows against torch: max pooling of a finite input gives -inf exactly at
    the windows that read no input element."""
    checked = empty = 0
    for length, k, s, p, d, ceil in itertools.product(range(1, 10), range(1, 6), range(1, 4),
                                                      range(3), range(1, 5), (False, True)):
        if p > k // 2 or axis_output_size(length, k, s, p, d, ceil) < 1:
            continue
        y = F.max_pool1d(torch.zeros(1, 1, length, dtype=torch.float64), k, s, p, d, ceil)
        expected = torch.isinf(y[0, 0]).nonzero().flatten().tolist()
        assert axis_empty_windows(length, k, s, p, d, ceil) == expected, (length, k, s, p, d)
        checked, empty = checked + 1, empty + bool(expected)
    assert checked > 1000 and empty > 20  # the sweep holds both kinds of geometry


def test_empty_window_check_does_not_grow_with_the_input():
    """Closed form: an axis of 10^15 elements is answered at once (an enumeration of the
    windows would not finish)."""
    assert axis_empty_windows(10**15, 3, 1, 1, 2, True) == []
    assert axis_empty_windows(10**15, 2, 1, 1, 10**15 + 1, False) == [0]


def test_stride_defaults_to_kernel():
    assert make_geometry(2, (2, 3)).stride == (2, 3)
    assert make_geometry(2, (2, 3), stride=[]).stride == (2, 3)
    assert make_geometry(3, 2, (1,)).stride == (1, 1, 1)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(kernel_size=0), "kernel_size"),
        (dict(kernel_size=-1), "kernel_size"),
        (dict(kernel_size=2, stride=0), "stride"),
        (dict(kernel_size=2, stride=-2), "stride"),
        (dict(kernel_size=2, dilation=0), "dilation"),
        (dict(kernel_size=2, padding=-1), "padding"),
        (dict(kernel_size=2, padding=2), "padding"),
        (dict(kernel_size=3, padding=2), "padding"),
        (dict(kernel_size=(2, 3)), "kernel_size"),
        (dict(kernel_size=2, stride=(1, 2, 3)), "stride"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_geometry(1, **kwargs)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(kernel_size=2.0), "kernel_size"),
        (dict(kernel_size=True), "kernel_size"),
        (dict(kernel_size=2, stride=1.5), "stride"),
        (dict(kernel_size=(2, "a")), "kernel_size"),
        (dict(kernel_size=2, padding=None), "padding"),
        (dict(kernel_size=2, ceil_mode="no"), "ceil_mode"),  # torch refuses it too
        (dict(kernel_size=2, ceil_mode=1), "ceil_mode"),
        (dict(kernel_size=2, ceil_mode=None), "ceil_mode"),
    ],
)
def test_wrong_types_name_the_argument(kwargs, name):
    with pytest.raises(TypeError, match=name):
        make_geometry(2, **kwargs)


def test_padding_at_most_half_kernel_like_torch():
    x = torch.zeros(1, 1, 8, dtype=torch.float64)
    with pytest.raises(RuntimeError):
        F.max_pool1d(x, 3, 1, 2)
    with pytest.raises(ValueError, match=r"padding\[0\] = 2"):
        make_geometry(1, 3, 1, 2)
    make_geometry(1, 4, 1, 2)  # 2 <= 4 // 2 is fine, as in torch
    F.max_pool1d(x, 4, 1, 2)


def test_invalid_dims():
    with pytest.raises(ValueError, match="dims"):
        make_geometry(4, 2)
    with pytest.raises(ValueError, match="dims"):
        make_geometry(0, 2)


def test_output_size_below_one_names_axis():
    g = make_geometry(2, (2, 5))
    with pytest.raises(ValueError, match="spatial axis 1"):
        output_shape(g, (1, 1, 4, 4))
    with pytest.raises(RuntimeError):
        F.max_pool2d(torch.zeros(1, 1, 4, 4), (2, 5))
    with pytest.raises(ValueError, match="output size"):
        list(iter_windows(g, (4, 4)))


@pytest.mark.parametrize("shape", [(5,), (1, 1, 1, 5), ()])
def test_wrong_rank_names_input(shape):
    with pytest.raises(ValueError, match="input"):
        split_batch_channel(shape, 1)
    with pytest.raises(ValueError, match="input"):
        output_shape(make_geometry(1, 2), shape)


def test_unbatched_shape():
    g = make_geometry(2, 2)
    assert output_shape(g, (3, 5, 4)) == (3, 2, 2)
    assert output_shape(g, (2, 3, 5, 4)) == (2, 3, 2, 2)
    assert tuple(F.max_pool2d(torch.zeros(3, 5, 4), 2).shape) == (3, 2, 2)


def test_window_elements():
    assert make_geometry(3, (2, 3, 4)).window_elements == 24


def test_numpy_integers_are_accepted():
    g = make_geometry(2, np.int64(3), (np.int32(1), 2), np.int64(1))
    assert g.kernel_size == (3, 3) and g.stride == (1, 2) and g.padding == (1, 1)
    assert all(type(v) is int for v in g.kernel_size + g.stride + g.padding)
    y = F.max_pool2d(torch.zeros(1, 1, 5, 5), int(np.int64(3)), (1, 2), 1)
    assert output_shape(g, (1, 1, 5, 5)) == tuple(y.shape)


ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
ADAPTIVE_CASES = {
    1: [((7,), 3), ((5,), 5), ((3,), 7), ((1,), 2), ((9,), 1), ((10,), (4,))],
    2: [((5, 7), (3, 2)), ((3, 4), 1), ((2, 3), (5, 4)), ((6, 5), (None, 2)), ((4, 4), 3)],
    3: [((3, 5, 4), (2, 3, 3)), ((2, 3, 3), 1), ((2, 2, 3), (3, None, 2))],
}


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_adaptive_windows_match_torch(dims):
    # odd sizes, output larger than input, None entries and global (output size 1)
    rng = np.random.default_rng(10 + dims)
    for spatial, size in ADAPTIVE_CASES[dims]:
        geometry = make_adaptive_geometry(dims, size)
        windows = list(iter_windows(geometry, spatial))
        x = rng.permutation(int(np.prod(spatial))).astype(np.float64).reshape(spatial) + 1.0
        xt = torch.tensor(x)[None, None]
        torch_size = size if isinstance(size, int) else tuple(size)
        values, idx = ADAPTIVE_MAX[dims](xt, torch_size, return_indices=True)
        assert output_shape(geometry, (1, 1, *spatial)) == tuple(values.shape)
        idx = idx[0, 0].numpy().ravel()
        mean = ADAPTIVE_AVG[dims](xt, torch_size)[0, 0].numpy().ravel()
        strides = np.array([int(np.prod(spatial[a + 1:])) for a in range(dims)])
        assert len(windows) == idx.size
        for n, w in enumerate(windows):
            assert w.out_index == tuple(np.unravel_index(n, values.shape[2:]))
            assert w.n_padding == 0 and w.positions
            flats = [int(np.dot(pos, strides)) for pos in w.positions]
            assert idx[n] == flats[int(np.argmax(x.ravel()[flats]))], (spatial, size, w)
            np.testing.assert_allclose(mean[n], np.mean(x.ravel()[flats]), rtol=1e-14)


def test_global_geometry_is_one_window_of_the_whole_plane():
    g = global_geometry(2)
    assert g.is_global and output_shape(g, (2, 3, 4, 5)) == (2, 3, 1, 1)
    (w,) = iter_windows(g, (4, 5))
    assert len(w.positions) == 20 and w.positions[0] == (0, 0) and w.positions[-1] == (3, 4)


def test_adaptive_bounds_closed_form():
    # window i of L inputs into n outputs spans [floor(i L / n), ceil((i + 1) L / n))
    assert adaptive_axis_bounds(7, 3) == [(0, 3), (2, 5), (4, 7)]
    assert adaptive_axis_bounds(2, 3) == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize(
    ("size", "error", "match"),
    [(0, ValueError, "output_size must be positive"), ((2, 2, 2), ValueError, "1 or 2 entries"),
     (True, TypeError, "bool"), ((2.0, 2), TypeError, "output_size entries"),
     ("2", TypeError, "output_size entries")],
)
def test_adaptive_output_size_errors_name_the_argument(size, error, match):
    with pytest.raises(error, match=match):
        make_adaptive_geometry(2, size)


def test_adaptive_rejects_an_empty_input_axis():
    with pytest.raises(ValueError, match="non-empty input"):
        output_shape(make_adaptive_geometry(1, 2), (1, 1, 0))
