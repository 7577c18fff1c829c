"""The compiled kernel's power mean (GeM) and Lp norm (``power_kernel.inc``) against the oracle:
forward and gradients (input, scalar and per-channel p), windowed / adaptive / global, float32,
bfloat16 and float16, channels_last, zeros, p near 0 (the exact engine's lanes), large p,
the windows the fast engine hands to the exact engine, the domain errors; and that the kernel's
cache key and the wheel cover the included source file."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ppverify.conformance.driver import check
from ppverify.ops import (
    _dispatch,
    _layout,
    _native,
    gem,
    gem_pool1d,
    gem_pool2d,
    gem_pool3d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
)
from ppverify.oracle import ulp_distance

from ._compare import (
    FORWARD_ULP,
    HALF_ULP,
    alpha_scale,
    check_adaptive_case,
    grad_input_scale,
    grads_of,
    within,
)
from ._oracle_cache import reference

pytestmark = pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")

DTYPES = [torch.float32, torch.bfloat16, torch.float16]
REPO = Path(__file__).resolve().parents[2]


def _name(dtype):
    return str(dtype).removeprefix("torch.")


_run = grads_of  # the op's output and gradients (input, p)


def _check_windowed(op, x, p, kernel, stride=None, padding=0, ceil_mode=False, *, dims=2,
                    strict_p=True):
    """Assert the op meets tests/ops/_compare.py's tolerances against the oracle (and, with
    ``strict_p``, float32's p gradient within 64 ULP of it)."""
    name = _name(x.dtype)
    p = p if np.ndim(p) == 0 else torch.tensor(p, dtype=torch.float64)
    fn = {("powermean", 1): gem_pool1d, ("powermean", 2): gem_pool2d,
          ("powermean", 3): gem_pool3d, ("lp", 1): lp_pool1d, ("lp", 2): lp_pool2d,
          ("lp", 3): lp_pool3d}[op, dims]
    args = (kernel, stride, padding, 1, ceil_mode) if op == "powermean" else \
        (kernel, stride, ceil_mode)
    gout = torch.rand(fn(x, p, *args).shape, generator=torch.Generator().manual_seed(1)) + 0.5
    if np.any(np.asarray(p) == 1.0):  # dy/dx = 1/n: random gy makes ties the oracle cannot
        gout = torch.ones_like(gout)   # certify (sums exactly between two floats)
    gout = gout.to(x.dtype)
    y, gx, gp = _run(fn, x, p, *args, grad_output=gout)
    ref = reference(op, x.double().numpy(), np.asarray(p, dtype=np.float64), kernel, stride,
                    padding, 1, ceil_mode, dims=dims, dtype=name,
                    grad_output=gout.double().numpy())
    where = f"{op} {name} p={p} kernel={kernel} stride={stride} padding={padding}"
    fwd = ulp_distance(y.double().numpy(), ref.output, name)
    limit = HALF_ULP if name in ("float16", "bfloat16") else FORWARD_ULP
    assert fwd.max() <= limit, f"forward {fwd.max()} ULP; {where}"
    scale = grad_input_scale(ref.grad_input, dims, kernel, stride, padding, 1, ceil_mode)
    ok, _ = within(gx.double().numpy(), ref.grad_input, scale, name)
    bad = tuple(np.argwhere(~ok)[0]) if not ok.all() else None
    assert ok.all(), (f"grad_input at {bad}: got {gx.double()[bad]!r}, "
                      f"oracle {ref.grad_input[bad]!r}; {where}")
    pscale = alpha_scale(x.double().numpy(), np.asarray(p, dtype=np.float64), dims, kernel,
                         stride, padding, 1, ceil_mode, gout.double().numpy())
    ok_p, _ = within(gp.numpy(), ref.grad_param, pscale, name)
    assert np.all(ok_p), f"grad_p: got {gp}, oracle {ref.grad_param} (scale {pscale}); {where}"
    if name == "float32" and strict_p:  # tighter than the shared scale (loose for small |p|)
        want = np.asarray(ref.grad_param, dtype=np.float64)
        fin = np.isfinite(want) & (want != 0)  # (an infinite output: within() compared it)
        rel = np.abs(gp.numpy() - want)[fin] / np.abs(want[fin])
        assert np.all(rel <= 64 * 2.0 ** -24), f"grad_p relative error {rel}; {where}"
    return y, gx, gp


def _input(shape, dtype, *, zeros=False, seed=0, low=0.05):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64) * 4 + low
    if zeros:
        x.view(-1)[::5] = 0.0
        x[..., :3, :3] = 0.0  # an all-zero window in every plane
    return x.to(dtype)


def test_the_kernel_serves_the_power_mean_and_lp():
    x = torch.rand(1, 1, 4, 6)
    for layout in (_layout.windowed(2, 2), _layout.adaptive(2, 1), _layout.adaptive(2, (3, 4))):
        for op in ("powermean", "lp"):
            for dtype in (*DTYPES, torch.float64):  # (float64: test_power_float64.py)
                assert _dispatch._backend(op, layout, x.to(dtype)) == "native"


P_VALUES = [3.0, 1.0, 0.5, 2.5, -2.0, 20.0, 0.03, 1e-3]


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("p", P_VALUES)
def test_gem_pool2d_against_the_oracle(dtype, p):
    x = _input((2, 3, 7, 8), dtype, zeros=p > 0)
    _check_windowed("powermean", x, p, 3, 2, 1)
    _check_windowed("powermean", x, p, 2, ceil_mode=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("p", [3.0, 1.0, 0.7, -1.5, 40.0, 0.01])
def test_lp_pool2d_against_the_oracle(dtype, p):
    x = _input((2, 3, 7, 8), dtype, zeros=p > 0, seed=2)
    _check_windowed("lp", x, p, 3, 2, ceil_mode=True)
    _check_windowed("lp", x, p, (2, 3), 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_per_channel_p_mixing_fast_and_exact_lanes(dtype):
    # 10 channels: two groups of 8 lanes, p from the exact engine's range (|p| < 1/16, 0)
    # to large, in one call
    p = [3.0, 0.0, 1.0, -1.0, 0.02, 7.5, 100.0, -0.05, 0.4, 2.0]
    x = _input((2, 10, 6, 5), dtype, seed=3)
    _check_windowed("powermean", x, p, 3, 2, 1)
    _check_windowed("lp", x, [q if q != 0 else 0.3 for q in p], 2, ceil_mode=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("dims", [1, 3])
def test_one_and_three_dimensions(dtype, dims):
    shape = (2, 3, 11) if dims == 1 else (1, 3, 5, 4, 6)
    x = _input(shape, dtype, seed=4)
    _check_windowed("powermean", x, 3.0, 3, 2, 1, dims=dims)
    if dims == 1:
        _check_windowed("lp", x, 2.0, 3, 2, ceil_mode=True, dims=1)


@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
@pytest.mark.parametrize("output_size", [1, (2, 3)])
@pytest.mark.parametrize("p", [3.0, [2.0, 0.0, -1.0]])
def test_adaptive_and_global_against_the_oracle(dtype, output_size, p):
    x = _input((2, 3, 9, 7), dtype, seed=5)
    check_adaptive_case("powermean", x, p, output_size, dims=2)
    check_adaptive_case("lp", x, [2.0, 1.0, 5.0] if isinstance(p, list) else p, output_size,
                        dims=2)


def test_global_gem_of_a_large_plane_and_a_dead_channel():
    x = _input((2, 3, 30, 31), torch.float32, seed=6)
    x[:, 1] = 0.0
    check_adaptive_case("powermean", x, 3.0, 1, dims=2)
    y, gx, gp = _run(gem, x, 3.0)
    assert torch.isfinite(gx).all() and torch.isfinite(gp)


@pytest.mark.parametrize("shape", [(2, 11, 9, 8), (3, 3, 9, 8)], ids=["C11", "C3-packed"])
@pytest.mark.parametrize("dtype", DTYPES, ids=_name)
def test_channels_last_equals_contiguous(dtype, shape):
    # C11 and C3: channels not a multiple of the lanes, 8 planes (n, c) to a group as on
    # contiguous memory (Plan::packed): 22 planes, and 9, a whole group and one of one plane
    x = _input(shape, dtype, zeros=True, seed=7)
    xc = x.contiguous(memory_format=torch.channels_last)
    p = torch.linspace(0.5, 6.0, shape[1], dtype=torch.float64)
    for fn, args in ((gem_pool2d, (3, 2, 1)), (lp_pool2d, (2, 2, True)), (gem, ())):
        y, gx, gp = _run(fn, x, p, *args)
        yc, gxc, gpc = _run(fn, xc, p, *args)
        assert yc.is_contiguous(memory_format=torch.channels_last) or yc.shape[-1] == 1
        assert gxc.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(y, yc) and torch.equal(gx, gxc)
        torch.testing.assert_close(gp, gpc, rtol=1e-12, atol=0)
    xl = _input(shape, dtype, seed=8).contiguous(memory_format=torch.channels_last)
    _check_windowed("powermean", xl, 3.0, 3, 2, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=_name)
def test_windows_far_below_the_plane_reference(dtype):
    # large p: the weights relative to the plane's max underflow in the windows of tiny
    # values, which the exact engine evaluates; p < 0: the same for the plane's minimum
    x = _input((1, 2, 8, 8), dtype, seed=9)
    x[:, :, :4, :4] = (x[:, :, :4, :4].float() * 1e-30).to(dtype)
    x[:, :, 4:, 4:] = (x[:, :, 4:, 4:].float() * 1e30).to(dtype)
    for p in (50.0, -30.0, 3.0, -4.0):
        _check_windowed("powermean", x, p, 2)
        _check_windowed("lp", x, p, 3, 1)


def test_float16_extremes_and_subnormals():
    x = torch.tensor([[[[6.0e4, 5.0e4, 1e-7, 6e-8], [3e2, 2e2, 1e-3, 2e-7],
                        [1.0, 0.0, 6e-8, 6e-8], [2.0, 3.0, 0.0, 0.0]]]], dtype=torch.float16)
    for p in (2.0, 3.0, 8.0, -2.0 + 1e-9, 0.25):
        xs = x.clamp_min(6e-8) if p < 0 else x
        _check_windowed("powermean", xs, p, 2)
        _check_windowed("lp", xs, p, 2)


def test_domain_errors_and_nan_without_validation():
    x = _input((1, 2, 4, 4), torch.float32)
    x[0, 1, 2, 3] = -1.0
    with pytest.raises(ValueError, match="negative"):
        gem_pool2d(x, 3.0, 2)
    y = gem_pool2d(x, 3.0, 2, validate=False)
    assert torch.isnan(y[0, 1, 1, 1]) and int(torch.isnan(y).sum()) == 1
    z = _input((1, 2, 4, 4), torch.float32)
    z[0, 0, 0, 0] = 0.0
    with pytest.raises(ValueError, match=r"position \(0, 0\)\) is 0 and p = -2.0 < 0"):
        gem_pool2d(z, -2.0, 2)
    y = lp_pool2d(z, -2.0, 2, validate=False)
    assert torch.isnan(y[0, 0, 0, 0]) and int(torch.isnan(y).sum()) == 1


def test_the_checker_passes_the_kernel_and_catches_a_broken_variant():
    report = check("ppverify.ops:gem_pool{d}d", "powermean", (2,), count=30,
                   dtypes=("float32", "bfloat16", "float16"))
    assert report.conforms, report.failed_categories

    def broken_gem_pool2d(input, p, kernel_size, stride=None, padding=0, ceil_mode=False):
        # the kernel's own forward, its p-gradient off by a factor 1.001 (and its output by
        # a relative 1e-5): the kind of slip a fast engine makes
        y = gem_pool2d(input, p * 1.001, kernel_size, stride, padding, 1, ceil_mode)
        return y

    bad = check(broken_gem_pool2d, "powermean", (2,), count=30,
                dtypes=("float32", "bfloat16", "float16"))
    assert not bad.conforms


def test_the_cache_key_and_the_wheel_cover_the_included_source(tmp_path, monkeypatch):
    # every file the kernel's source includes, directly or through another (simd8.inc includes
    # avx2_neon.inc)
    included, todo = set(), [_native.SOURCE]
    while todo:
        for name in re.findall(r'#include "([^"]+)"', todo.pop().read_text()):
            if name not in included:
                included.add(name)
                todo.append(_native.SOURCE.parent / name)
    assert included == {f.name for f in _native.INCLUDES}
    assert all(f.exists() for f in _native.INCLUDES)
    key = _native._key("g++")
    changed = tmp_path / "power_kernel.inc"
    changed.write_text(_native.INCLUDES[0].read_text() + "\n// changed\n")
    monkeypatch.setattr(_native, "INCLUDES", (changed,))
    _native._key.cache_clear()
    try:
        assert _native._key("g++") != key
    finally:
        _native._key.cache_clear()
    # the wheel's package data (pyproject's [tool.setuptools.package-data]; no tomllib on 3.10)
    line = re.search(r'^"ppverify\.ops" = (\[.*\])$', (REPO / "pyproject.toml").read_text(),
                     re.MULTILINE)
    patterns = ast.literal_eval(line.group(1))
    for f in included:
        assert any(Path(f).match(pat) for pat in patterns), f


@pytest.mark.parametrize("op", ["powermean", "lp"])
@pytest.mark.parametrize("p", [1000.0, 8.0, 3.0, -2.5])
def test_parameter_gradient_to_the_pure_torch_paths_accuracy(op, p):
    # dy/dp formed window-relative (sum u ln u, sum phi(n u)): within a few ULP of the oracle
    # even where it is tiny against y (large p, wide ranges: the textbook
    # (y/p)(sum u ln x - ln y) cancels to ~1e-16 |ln x| there, 1e8 ULP and more)
    g = torch.Generator().manual_seed(11)
    x = (torch.rand(1, 2, 6, 4, generator=g, dtype=torch.float64) * 0.9 + 0.1).float()
    wide = torch.exp(torch.rand(1, 2, 6, 4, generator=g, dtype=torch.float64) * 60 - 30).float()
    for xi in (x, wide):
        for output_size in ((None, 3), (2, 2)):
            figures = check_adaptive_case(op, xi, p, output_size, dims=2)
            assert figures["grad_param"] <= 4, (figures, output_size)


def test_parameter_gradient_is_exactly_zero_where_the_oracles_is():
    # the power mean of equal elements and the Lp norm of one positive element do not move
    # with p: dy/dp is 0 exactly (the textbook form leaves ~1e-16 |ln x| y / p)
    x = torch.full((1, 1, 4, 4), 3.7)
    _, _, gp = _run(gem_pool2d, x, 2.5, 2)
    assert gp.item() == 0.0
    z = torch.zeros(1, 1, 4, 4)
    z[0, 0, 0, 0], z[0, 0, 3, 2] = 1e30, 5e-20
    _, _, gp = _run(lp_pool2d, z, 7.0, 2)
    assert gp.item() == 0.0


@pytest.mark.parametrize("op, p", [("powermean", 3.0), ("powermean", 2.0), ("lp", 3.0)])
def test_dy_dp_of_near_degenerate_windows_at_large_logs(op, p):
    """dy/dp's sum from the window sums alone (pow_dp_fast: U / S - ln(S / D)) cancels in
    windows near their degenerate case, the more so where the logarithms are large: inputs
    within 1e-4 of 1e30 (p = 2, 3: weights x^p, Lc = 0, each z = p ln x about 140-210), where
    the power mean's sum is about 1e-9 and the fast form's error about 1e-13; Lp windows whose
    largest element is 1e6 times the others (sum u ln u about -1e-16 against an error of
    1e-13). The kernel must fall back to the element-wise forms there (the fast form, taken
    anyway, fails this test's float32 64-ULP bound on dy/dp)."""
    gen = torch.Generator().manual_seed(12)
    x = 1e30 * (1.0 + 1e-4 * torch.rand((2, 3, 9, 8), generator=gen, dtype=torch.float64))
    if op == "lp":
        x = x * 1e-6
        x[:, :, 1::2, 1::2] *= 1e6  # the centre of each k3 s2 window
    _check_windowed(op, x.float(), p, 3, 2)


# ------------------------------------------------------------------ the row cache's budget


def _outputs(fn, x, p, *args):
    gout = torch.rand(fn(x, p, *args).shape, generator=torch.Generator().manual_seed(2))
    return _run(fn, x, p, *args, grad_output=(gout + 0.5).to(x.dtype))


ROW_CACHE_CASES = [  # (function, input shape, pooling arguments): windows of many rows
    (gem_pool2d, (2, 3, 23, 9), (5, 1, 2, 2)),      # overlapping, dilated: rows 2 apart
    (gem_pool2d, (1, 9, 17, 11), (4, 3, 1, 1)),
    (lp_pool2d, (2, 3, 21, 8), (7, 2)),
    (gem_pool3d, (1, 3, 6, 7, 5), (3, 1, 1, 1)),    # rows of several depth slices
    (lambda x, p: _dispatch.pool("powermean", x, p, _layout.adaptive(2, (3, 2))),
     (2, 3, 19, 6), ()),
    (gem, (2, 3, 29, 33), ()),                      # a global window of 29 rows (rows of 32
                                                    # or more: not folded, _global_rows)
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=_name)
@pytest.mark.parametrize("case", range(len(ROW_CACHE_CASES)))
def test_a_row_cache_smaller_than_a_window_gives_the_same_bits(case, dtype):
    # The power engine's row cache (direct-mapped) held a window's whole span of rows: 268 MB
    # for a global window of a (2048, 2048) plane. It is bounded now (pow_cache_bytes), and a
    # group of rows summed together must never hold two rows of one slot: with budgets of 1,
    # 2, 3 and 5 rows the outputs and gradients are the default's, bit for bit.
    fn, shape, args = ROW_CACHE_CASES[case]
    x = _input(shape, dtype, seed=case)
    p = torch.tensor([3.0, 0.5, -1.5][:shape[1]] * (shape[1] // 3), dtype=torch.float64) \
        if shape[1] % 3 == 0 else 2.5
    want = _outputs(fn, x, p, *args)
    row = shape[-1] * 8 * 8  # one row of 8 planes, one quantity
    before = _native.pow_cache_bytes()
    try:
        for rows in (1, 2, 3, 5):
            _native.pow_cache_bytes(rows * row)
            got = _outputs(fn, x, p, *args)
            for g, w, what in zip(got, want, ("output", "grad_input", "grad_p")):
                assert torch.equal(g, w), (what, rows, case)
    finally:
        _native.pow_cache_bytes(before)


def test_a_one_row_cache_against_the_oracle():
    before = _native.pow_cache_bytes(1)
    try:
        x = _input((2, 3, 11, 6), torch.float32, seed=9)
        _check_windowed("powermean", x, [3.0, 0.5, -2.0], (5, 2), (1, 2), dims=2)
        _check_windowed("lp", x, 2.0, (4, 3), (2, 1), dims=2)
        check_adaptive_case("powermean", x, 3.0, 1, dims=2)
    finally:
        _native.pow_cache_bytes(before)


def test_a_global_window_on_long_rows_is_folded_into_short_rows(monkeypatch):
    # one 3 * 2**13-element row: its buffers were 8 planes x the row length per quantity;
    # given to the kernel as rows of 3072 (the same elements in the same order; 8 rows, a
    # multiple of the kernel's lanes: lane slices where planes are few)
    layout = _layout.adaptive(2, 1)

    def rows(op, spatial):
        return _dispatch._global_rows(op, layout, spatial)

    assert rows("powermean", (1, 3 * 2**13)) == (8, 3072)
    assert rows("powermean", (1, 2**13)) == (8, 1024)
    # (P-pooling: rows within its column tile, 2048, whose state its saving forward keeps)
    assert rows("ppool", (1, 3 * 2**13)) == (16, 1536)
    assert rows("lp", (16, 4096)) is None            # short rows, a multiple of 8: as they are
    assert rows("lp", (9, 4096)) == (16, 2304)       # folded again for lane slices
    assert rows("lp", (9, 40)) is None               # a small plane: as it is
    assert rows("lp", (1, 4099 * 4111)) == (4099 * 4111, 1)  # no divisor from 256: rows of 1
    # ... but one row where the planes are fewer than the kernel's lanes: it cuts them into
    # lane slices of its own rows (slice_plan), and the backward from the state reads one row
    assert _dispatch._global_rows("lp", layout, (1, 4099 * 4111), planes=7) is None
    assert _dispatch._global_rows("lp", layout, (1, 4099 * 4111), planes=8) == (4099 * 4111, 1)
    assert rows("ppool", (1, 4099 * 4111)) is None   # (P-pooling: one long row, in tiles)
    assert rows("lp", (1, 4099)) is None             # (a short row: as it is)
    # the same bits folded or not, contiguous or channels-last, where no lane slices are
    # taken (16 planes fill the lanes of two threads; the slices are held to the oracle) and
    # the saving forward holds the plane's rows for dy/dx in every form (2**13 elements: 1.5
    # MB of rows). At 3 * 2**13 (4.7 MB) the folded contiguous planes keep E / x as floats
    # between the passes (keeps_plane_weights), one more rounding of dy/dx than the
    # channels-last and unfolded forms, which hold their rows: y and dy/dp the same bits,
    # dy/dx within that rounding
    p = torch.tensor([3.0, -0.5] * 8, dtype=torch.float64)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for length, exact in ((2**13, True), (3 * 2**13, False)):
            x = _input((1, 16, 1, length), torch.float32, seed=3)
            folded = _outputs(gem, x, p)
            # channels-last memory: the same positions, C apart
            last = _outputs(gem, x.contiguous(memory_format=torch.channels_last), p)
            _dispatch._native_calls.clear()
            with monkeypatch.context() as m:
                m.setattr(_dispatch, "GLOBAL_ROW_MAX", 1 << 30)  # not folded
                m.setattr(_dispatch, "GLOBAL_SLICE_MIN", 1 << 60)
                assert rows("powermean", tuple(x.shape[2:])) is None
                unfolded = _outputs(gem, x, p)
            _dispatch._native_calls.clear()
            for other in (last, unfolded):
                (y, gx, gp), (yw, gxw, gpw) = other, folded
                assert torch.equal(y, yw) and torch.equal(gp, gpw)
                if exact:
                    assert torch.equal(gx, gxw)
                else:
                    assert not torch.equal(gx, gxw)  # (the kept weights were used)
                    assert torch.allclose(gx, gxw, rtol=2.0**-22, atol=0.0)
    finally:
        torch.set_num_threads(before)
        _dispatch._native_calls.clear()
    check_adaptive_case("powermean", x[:, :2], [3.0, -0.5], 1, dims=2)


def test_a_small_global_plane_of_short_rows_is_given_as_longer_rows():
    # each row costs the engines a call and a transposed load and store of 8 planes' rows: a
    # 7 x 7 plane (a ResNet head) goes to the kernel as one row of 49 elements
    layout = _layout.adaptive(2, 1)

    def rows(op, spatial):
        return _dispatch._global_rows(op, layout, spatial)

    assert rows("powermean", (7, 7)) == (1, 49)
    assert rows("ppool", (28, 28)) == (1, 784)
    assert rows("lp", (4, 7, 7)) == (1, 196)          # a volume's depth slices too
    assert rows("powermean", (64, 31)) == (2, 992)    # the longest divisor up to 1024
    assert rows("powermean", (37, 29)) == (29, 37)    # (longer than the rows it replaces)
    assert rows("powermean", (1031, 7)) is None       # 7 x a prime above 1024: as it is
    assert rows("powermean", (9, 40)) is None         # rows of 32 or more: as they are
    assert rows("ppool", (20,)) is None               # a 1-D signal is one row already
    assert rows("powermean", (4096, 7)) is None       # a large plane: lane slices instead
    # against the oracle, every engine, folded (forward, dy/dx, dy/dp; scalar and per channel)
    for op, p in (("powermean", [3.0, -0.5, 1.5]), ("lp", 2.5), ("ppool", [2.0, -1.0, 40.0])):
        for dtype in (torch.float32, torch.bfloat16, torch.float64):
            x = _input((2, 3, 7, 5), dtype, seed=4)
            check_adaptive_case(op, x, p, 1, dims=2)
            check_adaptive_case(op, _input((1, 3, 3, 4, 5), dtype, seed=5), p, 1, dims=3)
