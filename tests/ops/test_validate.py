"""The ops' validation rule (``ppverify.ops._validate``), the same on every path: argument types
checked before any cache, values checked only where a window reads them, errors that name the
argument and the element.

The "read by some window" sets are computed here by enumerating torch's window positions
(``o s - p + j d`` for the output count torch's ``max_pool1d`` gives), independently of
``ppverify.windows`` and ``ppverify.ops._layout``.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ppverify.ops import (
    GeM,
    LPPool2d,
    PPool2d,
    _dispatch,
    _layout,
    _native,
    adaptive_gem_pool2d,
    adaptive_p_pool1d,
    adaptive_p_pool2d,
    gem_pool1d,
    gem_pool2d,
    lp_pool2d,
    p_pool1d,
    p_pool2d,
)

# ------------------------------------------------------------------ values: one rule, every path

PATHS = ["native", "torch", "float64", "compiled"]
GEOMETRIES = [  # (kernel, stride, padding, dilation, ceil_mode) over 7 elements
    (2, 2, 0, 1, False),   # the last element is read by no window
    (1, 2, 0, 1, False),   # every other element skipped
    (2, 3, 0, 1, False),   # stride larger than the kernel
    (3, 2, 1, 2, True),    # dilation skips the odd positions
    (2, 1, 0, 3, False),   # dilation, every element read
    (3, 3, 1, 1, False),   # padding, every element read
]


def read_positions(length, k, s, p, d, ceil):
    """The input positions some window reads (torch's output count, brute-force windows)."""
    out = F.max_pool1d(torch.zeros(1, 1, length), k, s, p, d, ceil).shape[-1]
    return {o * s - p + j * d for o in range(out) for j in range(k)} & set(range(length))


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    """A way to run an op: the C++ kernel (float32), the pure-torch backend forced for float32,
    float64 (always pure torch), and a fullgraph-compiled call."""
    if request.param == "native" and not _native.available():
        pytest.skip("no C++ kernel on this machine")
    if request.param == "torch":
        monkeypatch.setattr(_dispatch, "_use_native", lambda x: False)
    torch._dynamo.reset()
    return request.param


def _runner(path, fn):
    if path == "compiled":
        return torch.compile(fn, backend="aot_eager", fullgraph=True)
    return fn


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_elements_no_window_reads_are_never_checked_and_never_matter(path, geometry):
    """NaN, inf or a negative value raises, naming the element, exactly where some window
    reads it; elsewhere the output and the input's gradient are the clean input's, on every
    path, and so is alpha's gradient up to float64 rounding (the C++ kernel scales a plane by
    its largest positive element, read or not, which moves the last bits of its float64
    alpha gradient: 15 units in the last place for an unread inf here)."""
    k, s, p, d, ceil = geometry
    dtype = torch.float64 if path == "float64" else torch.float32
    pool = _runner(path, lambda x, a: p_pool1d(x, a, k, s, p, d, ceil))

    def run(x):
        x = x.clone().requires_grad_()
        alpha = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        y = pool(x, alpha)
        y.backward(torch.arange(1.0, y.numel() + 1, dtype=y.dtype).reshape(y.shape))
        return torch.cat([y.detach().reshape(-1), x.grad.reshape(-1)]), alpha.grad

    def same(a, b):
        return torch.equal(a[0], b[0]) and torch.allclose(a[1], b[1], rtol=1e-13, atol=0)

    clean = torch.rand(1, 1, 7, generator=torch.Generator().manual_seed(1), dtype=dtype) + 0.1
    expected = run(clean)
    assert torch.isfinite(expected[0]).all() and torch.isfinite(expected[1])
    read = read_positions(7, *geometry)
    assert read != set() and (len(read) < 7 or geometry in GEOMETRIES[4:])
    for value, word in ((math.nan, "NaN"), (math.inf, "inf"), (-1.0, "negative values")):
        for i in range(7):
            x = clean.clone()
            x[0, 0, i] = value
            if i in read:
                with pytest.raises(ValueError, match=rf"{word} \(first at batch 0, channel 0, "
                                                     rf"position \({i},\)\)"):
                    run(x)
            else:
                assert same(run(x), expected), (value, i)


def test_the_error_names_the_first_element_a_window_reads(path):
    """An unread NaN before a read negative element: the message names the read one."""
    dtype = torch.float64 if path == "float64" else torch.float32
    run = _runner(path, lambda x: p_pool1d(x, 2.0, 1, 2))  # reads 0, 2, 4, 6
    x = torch.rand(1, 1, 7, dtype=dtype) + 0.1
    x[0, 0, 1] = math.nan
    x[0, 0, 2] = -3.0
    with pytest.raises(ValueError, match=r"negative values \(first at batch 0, channel 0, "
                                         r"position \(2,\)\)"):
        run(x)


def test_two_dimensional_windows_with_a_stride_larger_than_the_kernel(path):
    dtype = torch.float64 if path == "float64" else torch.float32
    run = _runner(path, lambda x: p_pool2d(x, -1.5, 2, 3))  # reads rows/columns 0, 1, 3, 4
    x = torch.rand(2, 3, 5, 5, dtype=dtype) + 0.1
    expected = run(x)
    x[1, 2, 2, :] = math.nan
    x[0, 1, :, 2] = -1.0
    assert torch.equal(run(x), expected)
    x[1, 0, 3, 4] = math.inf
    with pytest.raises(ValueError, match=r"inf \(first at batch 1, channel 0, position "
                                         r"\(3, 4\)\)"):
        run(x)


def test_power_mean_zero_with_negative_p_only_where_read():
    x = torch.rand(1, 1, 7, dtype=torch.float64) + 0.1
    x[0, 0, 6] = 0.0  # kernel 2 over 7 elements: read by no window
    assert torch.isfinite(gem_pool1d(x, -1.0, 2)).all()
    x[0, 0, 5] = 0.0
    with pytest.raises(ValueError, match=r"position \(5,\)\) is 0 and p = -1.0 < 0"):
        gem_pool1d(x, -1.0, 2)


def test_adaptive_windows_read_every_element():
    x = torch.rand(1, 1, 5, 7)
    x[0, 0, 4, 6] = math.nan
    for fn in (adaptive_p_pool2d, adaptive_gem_pool2d):
        with pytest.raises(ValueError, match=r"NaN \(first at batch 0, channel 0, position "
                                             r"\(4, 6\)\)"):
            fn(x, 2.0, (2, 3))


# ------------------------------------------------------------------ the parameter's type

PARAM_FUNCS = [(p_pool2d, "alpha"), (gem_pool2d, "p"), (lp_pool2d, "p")]


def _label(v) -> str:
    """A short test id for a parameter value."""
    if isinstance(v, torch.Tensor):
        return f"tensor-{v.layout}-{v.device.type}-{v.dtype}-{tuple(v.shape)}".replace("torch.", "")
    if isinstance(v, np.ndarray):
        return f"ndarray-{v.dtype}-{v.shape}"
    if isinstance(v, type) or callable(v):
        return getattr(v, "__name__", str(v))
    return f"{type(v).__name__}-{v!r}"

REFUSED = [  # (value, exception, what the message says besides the parameter's name)
    (True, TypeError, "real number"),
    (np.bool_(True), TypeError, "dtype torch.bool"),
    (torch.tensor(True), TypeError, "dtype torch.bool"),
    (torch.tensor(2.0 + 1.0j), TypeError, "dtype torch.complex64"),
    (np.complex128(2.0), TypeError, "dtype torch.complex128"),
    ("2", TypeError, "real number"),
    (None, TypeError, "real number"),
    ([2.0], TypeError, "real number"),
    (np.array(["2"]), TypeError, "numpy value of dtype <U1"),
    (torch.tensor([2.0]).to_sparse(), TypeError, "dense tensor"),
    (torch.tensor(2.0, device="meta"), ValueError, "meta tensor"),
    (torch.ones(2), ValueError, "one value per channel"),
    (np.float64("nan"), ValueError, "must be finite"),
    (float("inf"), ValueError, "must be finite"),
    (10**400, ValueError, "must be finite and within float64's range"),  # was OverflowError
    (np.longdouble("1e4000"), ValueError, "must be finite, got [inf]"),
]


@pytest.mark.parametrize("fn, name", PARAM_FUNCS, ids=_label)
@pytest.mark.parametrize("value, error, match", REFUSED, ids=_label)
def test_refused_parameters_name_the_parameter(fn, name, value, error, match):
    x = torch.rand(1, 3, 4, 4) + 0.1
    with pytest.raises(error, match=rf"^{name} .*{re_escape(match)}"):
        fn(x, value, 2)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize("fn, name", PARAM_FUNCS, ids=_label)
@pytest.mark.parametrize("value, same_as", [
    (np.float32(2.5), 2.5), (np.float64(2.5), 2.5), (np.float16(2.5), 2.5), (np.int64(2), 2.0),
    (np.longdouble(2.5), 2.5), (np.uint64(3), 3.0), (np.array([2.5], dtype=np.longdouble), 2.5),
    (torch.tensor(2), 2.0), (np.array(2.5), 2.5), (np.array([2.5]), 2.5),
    (np.array([1.5, 2.0, 3.0]), torch.tensor([1.5, 2.0, 3.0])),
], ids=_label)
def test_numpy_and_integer_parameters_are_the_same_number(fn, name, value, same_as):
    x = torch.rand(2, 3, 4, 4) + 0.1
    assert torch.equal(fn(x, value, 2), fn(x, same_as, 2))


def test_parameter_checks_hold_under_compile():
    x = torch.rand(1, 1, 4, 4)
    torch._dynamo.reset()
    c = torch.compile(lambda x, a: p_pool2d(x, a, 2), backend="eager", fullgraph=True)
    with pytest.raises(Exception, match="alpha must be real .* dtype torch.complex64"):
        c(x, torch.tensor(2.0 + 1.0j))  # dynamo wraps the TypeError and quotes it
    with pytest.raises(Exception, match="alpha must be real .* dtype torch.bool"):
        c(x, torch.tensor(True))
    torch._dynamo.reset()
    c = torch.compile(lambda x: p_pool2d(x, np.float32(2.5), 2), backend="eager",
                      fullgraph=True)
    assert torch.equal(c(x), p_pool2d(x, 2.5, 2))  # dynamo traces numpy scalars as arrays


# ------------------------------------------------------------------ flags and pooling sizes

FLAG_CALLS = {
    "p_pool2d": lambda x, **kw: p_pool2d(x, 2.0, 2, **kw),
    "gem_pool2d": lambda x, **kw: gem_pool2d(x, 2.0, 2, **kw),
    "lp_pool2d": lambda x, **kw: lp_pool2d(x, 2.0, 2, **kw),
    "PPool2d": lambda x, **kw: PPool2d(2, **kw)(x),
    "LPPool2d": lambda x, **kw: LPPool2d(2.0, 2, **kw)(x),
}


@pytest.mark.parametrize("call", FLAG_CALLS)
@pytest.mark.parametrize("flag, value", [("ceil_mode", "no"), ("ceil_mode", 1),
                                         ("ceil_mode", None), ("ceil_mode", np.bool_(False)),
                                         ("validate", "no"), ("validate", 0),
                                         ("validate", None)], ids=_label)
def test_flags_must_be_bools(call, flag, value):
    """``ceil_mode="no"`` was read as True; torch's pooling refuses it, and so do the ops."""
    with pytest.raises(TypeError, match=rf"{flag} must be a bool \(True or False\), got"):
        FLAG_CALLS[call](torch.rand(1, 1, 5, 5), **{flag: value})


SIZE_CASES = [  # (a valid call, the same with a non-int that equals it, the argument named)
    (lambda x: p_pool2d(x, 2.0, 2), lambda x: p_pool2d(x, 2.0, 2.0), "kernel_size"),
    (lambda x: p_pool2d(x, 2.0, 1), lambda x: p_pool2d(x, 2.0, True), "kernel_size"),
    (lambda x: p_pool2d(x, 2.0, (2, 2)), lambda x: p_pool2d(x, 2.0, (2, 2.0)), "kernel_size"),
    (lambda x: p_pool2d(x, 2.0, 2, 1), lambda x: p_pool2d(x, 2.0, 2, 1.0), "stride"),
    (lambda x: p_pool2d(x, 2.0, 2, 1, 0), lambda x: p_pool2d(x, 2.0, 2, 1, False), "padding"),
    (lambda x: p_pool2d(x, 2.0, 2, 1, 0, 1), lambda x: p_pool2d(x, 2.0, 2, 1, 0, True),
     "dilation"),
    (lambda x: p_pool2d(x, 2.0, 3, ceil_mode=False), lambda x: p_pool2d(x, 2.0, 3, ceil_mode=0),
     "ceil_mode"),
    (lambda x: gem_pool2d(x, 3.0, 2), lambda x: gem_pool2d(x, 3.0, 2.0), "kernel_size"),
    (lambda x: lp_pool2d(x, 2.0, 2), lambda x: lp_pool2d(x, 2.0, 2.0), "kernel_size"),
    (lambda x: adaptive_p_pool2d(x, 2.0, 2), lambda x: adaptive_p_pool2d(x, 2.0, 2.0),
     "output_size"),
    (lambda x: adaptive_p_pool2d(x, 2.0, 1), lambda x: adaptive_p_pool2d(x, 2.0, True),
     "output_size"),
    (lambda x: adaptive_p_pool2d(x, 2.0, (2, None)),
     lambda x: adaptive_p_pool2d(x, 2.0, (2.0, None)), "output_size"),
    (lambda x: PPool2d(2)(x), lambda x: PPool2d(2.0)(x), "kernel_size"),
    (lambda x: GeM(dims=2)(x), lambda x: GeM(dims=2.0)(x), "dims"),
]


@pytest.mark.parametrize("case", range(len(SIZE_CASES)))
def test_a_valid_call_never_makes_an_equal_non_int_valid(case):
    """The geometry caches were keyed so that ``2.0 == 2`` and ``True == 1`` hit the entry of
    a valid call: ``kernel_size=2.0`` was refused in a fresh process and accepted after
    ``kernel_size=2``. The valid call comes first here."""
    valid, invalid, name = SIZE_CASES[case]
    x = torch.rand(1, 1, 6, 6)
    valid(x)
    with pytest.raises((TypeError, ValueError), match=name):
        invalid(x)


@pytest.mark.parametrize("call, name", [
    (lambda x: p_pool2d(x, 2.0, 2, 10**30), "stride"),
    (lambda x: p_pool2d(x, 2.0, 2, (1, 2**63)), "stride"),
    (lambda x: p_pool2d(x, 2.0, 2, dilation=2**63), "dilation"),
    (lambda x: adaptive_p_pool2d(x, 2.0, 10**30), "output_size"),
    (lambda x: adaptive_p_pool2d(x, 2.0, (2, 2**63)), "output_size"),
    (lambda x: PPool2d(2, 2**64)(x), "stride"),
])
def test_sizes_beyond_int64_name_the_argument(call, name):
    """A stride of 10**30 is a valid geometry (one window) that the op's int64 layout cannot
    carry: it raised torch's schema error ("Expected a value of type 'List[int]'")."""
    with pytest.raises(ValueError, match=rf"^{name} entries must be at most 2\*\*63 - 1"):
        call(torch.rand(1, 1, 4, 4))
    assert p_pool2d(torch.rand(1, 1, 4, 4), 2.0, 2, 2**63 - 1).shape == (1, 1, 1, 1)


def test_pooling_sizes_may_be_numpy_integers():
    x = torch.rand(1, 1, 6, 6)
    assert torch.equal(p_pool2d(x, 2.0, np.int64(2), (np.int32(2), 2)), p_pool2d(x, 2.0, 2))
    assert torch.equal(adaptive_p_pool2d(x, 2.0, np.int64(3)), adaptive_p_pool2d(x, 2.0, 3))


# ------------------------------------------------------------------ the input

@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_sparse_nested_and_quantized_inputs_name_the_input():
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(TypeError, match=r"input must be a dense \(strided\) tensor, got layout "
                                        r"torch.sparse_coo"):
        p_pool2d(x.to_sparse(), 2.0, 2)
    nested = torch.nested.nested_tensor([torch.rand(1, 4, 4), torch.rand(1, 6, 4)],
                                        layout=torch.jagged)
    with pytest.raises(TypeError, match=r"input must be a dense \(strided\) tensor, got a "
                                        r"nested tensor"):
        p_pool2d(nested, 2.0, 2)
    with pytest.raises(TypeError, match="input must be float16, bfloat16, float32 or float64, "
                                        "got torch.quint8"):
        p_pool2d(torch.quantize_per_tensor(x, 0.1, 0, torch.quint8), 2.0, 2)


@pytest.mark.parametrize("call, torch_call", [
    (lambda x: p_pool2d(x, 2.0, 3, 2, 1, ceil_mode=True),
     lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    (lambda x: gem_pool2d(x, torch.tensor(3.0, device="meta"), 2),
     lambda x: F.max_pool2d(x, 2)),
    (lambda x: adaptive_p_pool2d(x, 2.0, (2, 3)), lambda x: F.adaptive_max_pool2d(x, (2, 3))),
    (lambda x: p_pool2d(x[0], 2.0, 2), lambda x: F.max_pool2d(x[0], 2)),
])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_meta_inputs_give_the_output_shape_and_dtype(call, torch_call, dtype):
    """Shape inference: a meta input gives what torch's pooling gives (no values to check)."""
    x = torch.empty(2, 3, 7, 9, device="meta", dtype=dtype)
    y, expected = call(x), torch_call(x)
    assert y.device.type == "meta" and y.shape == expected.shape and y.dtype == dtype
    with pytest.raises(TypeError, match="alpha must be a real number"):
        p_pool2d(x, "2", 2)  # the argument checks still run


# ------------------------------------------------------------------ cost of the shape checks

def test_shape_checks_on_a_new_length_do_no_per_position_python_work():
    """The empty-window check enumerated every window in Python on each new input length
    (2e6 elements: 8-9 s and +331 MB on the first call). Now a closed form per axis: the
    first call allocates no Python memory that grows with the input."""
    layout = _layout.windowed(1, 3, 1, 1)
    tracemalloc.start()
    try:
        for length in (2_000_001, 20_000_001):
            _layout.out_spatial(layout, (length,))
            _layout.check_windows(layout, (length,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000


@pytest.mark.skipif(not _native.available(), reason="no C++ kernel on this machine")
def test_first_call_on_a_new_length_allocates_nothing_per_position():
    x = torch.rand(1, 1, 2_000_003)
    p_pool1d(torch.rand(1, 1, 8), 2.0, 3, 1, 1)  # the kernel is loaded
    tracemalloc.start()
    try:
        p_pool1d(x, 2.0, 3, 1, 1)
        snapshot = tracemalloc.take_snapshot()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # no Python object per position (before: 331 MB): what tracemalloc sees outside numpy's
    # array data is small; numpy's share is the C++ kernel's plan (compact for an axis this
    # long: its geometry, no table of 16 B per output) and its transients
    numpy_domain = np.lib.tracemalloc_domain
    python_objects = snapshot.filter_traces([tracemalloc.DomainFilter(False, numpy_domain)])
    assert sum(s.size for s in python_objects.statistics("filename")) < 1_000_000
    assert peak < 64 * x.shape[-1]
    from ppverify.ops import _dispatch
    plans = [c.plan for c in _dispatch._native_calls.values() if c.out_shape[-1] == x.shape[-1]]
    # a windowed axis this long is compact: no table (16 B per output before)
    assert plans and all(plan.nbytes <= 1024 for plan in plans)


def test_adaptive_window_tables_are_built_without_a_python_object_per_window(monkeypatch):
    """The adaptive gather table listed each window's bounds as a Python tuple (1e6 outputs:
    1.4 s and 195 MB on the first call of a new size); now numpy arrays, equal to
    ``ppverify.windows.adaptive_axis_bounds`` (torch's rule, checked against torch in
    tests/test_windows.py), which the table must no longer call for ordinary sizes."""
    from ppverify.ops import _gather
    from ppverify.windows import adaptive_axis_bounds

    rng = np.random.default_rng(0)
    sizes = [(7, 3), (3, 7), (1, 5), (5, 1), (10, 10), (2_000_001, 999_999)]
    sizes += [tuple(int(v) for v in rng.integers(1, 400, 2)) for _ in range(200)]
    sizes += [(2**61 + 3, 4)]  # n_out * length beyond int64: Python ints
    for length, n_out in sizes:
        starts, ends = _gather._adaptive_bounds(length, n_out)
        assert list(zip(starts.tolist(), ends.tolist())) == adaptive_axis_bounds(length, n_out)

    def refuse(*args):
        raise AssertionError("a Python object per window")

    monkeypatch.setattr(_gather, "adaptive_axis_bounds", refuse)
    x = torch.rand(1, 2, 2_001, dtype=torch.float64)
    out = adaptive_p_pool1d(x, 0.0, 999)  # alpha = 0: the mean over torch's windows
    assert torch.allclose(out, F.adaptive_avg_pool1d(x, 999), rtol=1e-15, atol=0)


def test_the_kernel_plan_cache_is_bounded_in_bytes(monkeypatch):
    """Plans with tables hold 16 B per output index of each axis (adaptive axes, and windowed
    ones below ``COMPACT_MIN_OUTPUTS``; here every axis, forced): twelve distinct lengths of
    1e6 (192 MB of plans) must not all be kept (the cache holds at most 64 MB of them)."""
    from ppverify.ops import _dispatch, _native
    from ppverify.ops import native_available as ops_native_available

    if not ops_native_available():
        pytest.skip("no C++ kernel")
    monkeypatch.setattr(_native, "COMPACT_MIN_OUTPUTS", 10**12)
    monkeypatch.setattr(_dispatch, "_native_calls", {})
    monkeypatch.setattr(_dispatch, "_eager_calls", {})
    for i in range(12):
        p_pool1d(torch.rand(1, 1, 1_000_000 + i), 2.0, 3, 1, 1)
        held = sum(c.plan.nbytes for c in _dispatch._native_calls.values())
        assert held <= _dispatch._NATIVE_PLAN_BYTES_MAX
    assert 0 < len(_dispatch._native_calls) < 12


def test_a_parameter_of_another_shape_never_reaches_the_kernel(monkeypatch):
    """The kernel reads one parameter (0-d), one per channel ((C,)) or one per plane ((N, C):
    a parameter batched by vmap) and its backward writes as many gradients. The internal call
    refuses every other shape before the kernel sees it:
    until 2026-12-07 it took the mode from the parameter's dim alone, and a (1,) parameter
    for 4 channels was read, and its gradients written, past its buffer (not reachable from
    the public API, whose ``param_tensor`` reshapes; dev scripts reached it). A cached call of
    one shape never serves another (the cache is keyed by the shape)."""
    from ppverify.ops import _dispatch, _layout
    from ppverify.ops import native_available as ops_native_available

    if not ops_native_available():
        pytest.skip("no C++ kernel")
    monkeypatch.setattr(_dispatch, "_native_calls", {})
    x = torch.rand(2, 4, 6, 6)
    layout = _layout.windowed(2, 2)
    calls = [_dispatch._native_call("ppool", layout, x, torch.full(shape, 2.0,
                                                                   dtype=torch.float64))
             for shape in [(), (4,), (2, 4)]]
    assert len({id(c) for c in calls}) == 3
    for shape in [(1,), (3,), (5,), (1, 4), (4, 2), (2, 4, 1)]:
        with pytest.raises(ValueError, match=r"internal: the kernel takes a parameter of shape "
                           r"\(\), \(4,\) or \(2, 4\) for an input of shape \(2, 4, 6, 6\), "
                           r"got shape"):
            _dispatch._native_call("ppool", layout, x, torch.full(shape, 2.0,
                                                                  dtype=torch.float64))
    # the public API reshapes a (1,) parameter and pools with it
    y = p_pool2d(x, torch.tensor([2.0]), 2)
    assert torch.equal(y, p_pool2d(x, 2.0, 2))


# ------------------------------------------- the eager path's caches never skip a failing check


def test_cached_float_parameter_never_admits_a_value_another_operator_refuses():
    """The cache of Python-float parameters holds only values every operator accepts: after
    P-pooling with alpha = 0.0 (valid there), the Lp norm with p = 0.0 is still refused, and
    NaN / inf are refused on every call, not only the first."""
    x = torch.rand(1, 2, 4, 4)
    p_pool2d(x, 0.0, 2)
    p_pool2d(x, 0.0, 2)
    with pytest.raises(ValueError, match="p = 0 is outside the domain"):
        lp_pool2d(x, 0.0, 2)
    with pytest.raises(ValueError, match="p = 0 is outside the domain"):
        # past lp_pool2d's own checks, validate=False: only rule 1 (the arguments) can refuse it
        _dispatch.pool("lp", x, 0.0, _layout.windowed(2, 2), False)
    nan = float("nan")
    for _ in range(2):
        with pytest.raises(ValueError, match="finite"):
            p_pool2d(x, nan, 2)
        with pytest.raises(ValueError, match="finite"):
            p_pool2d(x, float("inf"), 2)
    p_pool2d(x, 2.5, 2)
    with pytest.raises(TypeError, match="real"):
        p_pool2d(x, True, 2)  # a bool never finds 1.0's entry


def test_cached_geometry_and_plans_never_skip_argument_or_shape_checks():
    """After valid calls, ``2.0`` and ``True`` for a size still raise, a too-small input with
    the cached layout still raises, and an equal geometry in another object is served and
    checked the same (the plan and shape caches are keyed by the layout's identity)."""
    from ppverify.windows import make_geometry

    x = torch.rand(1, 1, 4, 4)
    for _ in range(2):
        p_pool2d(x, 2.0, 2)
    with pytest.raises(TypeError):
        p_pool2d(x, 2.0, 2.0)
    with pytest.raises(TypeError):
        p_pool2d(x, 2.0, True)
    with pytest.raises(ValueError, match="too small"):
        p_pool2d(torch.rand(1, 1, 1, 1), 2.0, 2)
    twin = make_geometry(2, 2, None, 0, 1, False)
    assert twin is not _layout.windowed(2, 2)
    y = _dispatch.pool("ppool", x, 2.0, twin, True)
    assert torch.equal(y, p_pool2d(x, 2.0, 2))
    with pytest.raises(ValueError, match="too small"):
        _dispatch.pool("ppool", torch.rand(1, 1, 1, 1), 2.0, twin, True)
    padded = make_geometry(2, 2, 1, 1, 3, False)  # dilation 3, padding 1: a padding-only window
    with pytest.raises(ValueError, match="only\\s+padding"):
        _dispatch.pool("ppool", torch.rand(1, 1, 2, 2), 2.0, padded, True)


def test_triton_cpu_opt_in_follows_the_environment_at_every_call(monkeypatch):
    """``PPVERIFY_TRITON`` is read afresh at every call (through os.environ's own mapping)."""
    from ppverify.ops import _triton

    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    assert not _triton.cpu_opt_in()
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    assert _triton.cpu_opt_in()
    monkeypatch.setenv("PPVERIFY_TRITON", "0")
    assert not _triton.cpu_opt_in()
    monkeypatch.delenv("PPVERIFY_TRITON")
    assert not _triton.cpu_opt_in()
