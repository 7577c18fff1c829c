"""Hypothesis strategies for adversarial pooling inputs (imports hypothesis and numpy, no torch).

Composable values, each shrinking towards the simplest example (small integers, a kernel of 1,
no stride, padding, dilation or ceil_mode, a single plane):

* ``adversarial_floats(dtype)``: one number exactly representable in ``dtype``, drawn from the
  hard regions: small integers and halves, zero, subnormals, the smallest normal, huge values up
  to the largest finite one, and the whole exponent range (wide dynamic range).
* ``pooling_inputs(shape, dtype)``: an array whose elements come from a small *palette* of
  adversarial values, so windows with ties, zeros and all-equal windows are common and shrink
  to all-equal arrays; ``nonnegative`` for the operators with a real exponent.
* ``pool_geometries(dims, spatial=None)``: kernel_size, stride, padding, dilation and ceil_mode
  as torch accepts them (padding at most half the kernel), as a dict of keyword arguments;
  with ``spatial``, only those valid for an input of that size.
* ``spatial_sizes(geometry)``: input spatial sizes for which every output size is at least 1.
* ``parameters(op, dtype)``: alpha for ppool (any sign, huge included), p for lp and powermean
  (small values 0 < |p| < 1/4 included).
* ``pooling_cases(op, dims)``: a complete ``ppverify.conformance.cases.Case`` (valid input:
  no window is all padding, except for max and for avg counting padding),
  ready for ``ppverify.conformance.driver.evaluate`` or ``ppverify.oracle.reference``;
  ``pooling="adaptive"`` draws an output size per axis instead of a kernel (up to one more
  than the input's length: windows that overlap or repeat), ``pooling="global"`` one window
  per plane (``case.output_size`` all ones; a GeM layer's form); ``per_channel=True`` one
  exponent per channel (``case.channel_params``; ``case.oracle_param`` for the oracle);
  ``batched=False`` (or None: either) unbatched ``(C, *spatial)`` inputs.

Example::

    from hypothesis import given
    from ppverify.strategies import pooling_cases

    @given(pooling_cases("lp", dims=2, dtypes=["float32"]))
    def test_my_lp(case):
        ...  # call my implementation on case.input, compare with the oracle
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from .conformance.cases import Case
from .conformance.targets import get_convention
from .conformance.values import representable
from .oracle.formats import get_format
from .windows import iter_windows, make_geometry, output_shape

DTYPES = ("float64", "float32", "float16", "bfloat16")
_WIDTH = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 32}


def _in_format(dtype: str):
    fmt = get_format(dtype)

    def fit(v: float) -> float:
        v = min(abs(v), fmt.max_finite) * (-1.0 if v < 0 else 1.0)
        r = float(representable(np.array([v]), dtype)[0])
        return r if math.isfinite(r) else math.copysign(fmt.max_finite, v)

    return fit


def adversarial_floats(dtype: str = "float32", *, nonnegative: bool = False,
                       allow_zero: bool = True, allow_subnormal: bool = True):
    """One value exactly representable in ``dtype`` from the hard regions (see module doc)."""
    fmt = get_format(dtype)
    fit = _in_format(dtype)
    simple = [1.0, 2.0, 3.0, 0.5, 4.0, 0.25, 1.5]
    regions = [st.sampled_from(simple)]
    if allow_zero:
        regions.append(st.just(0.0))
    regions.append(st.floats(0.0625, 16.0, width=_WIDTH[dtype]).map(fit))
    regions.append(st.integers(0, 8).map(lambda k: fmt.min_normal * (1 + k / 8)).map(fit))
    if allow_subnormal:
        regions.append(st.integers(1, (1 << (fmt.precision - 1)) - 1)
                       .map(lambda k: k * fmt.min_subnormal))
    regions.append(st.floats(0.25, 1.0).map(lambda f: f * fmt.max_finite).map(fit))
    regions.append(st.tuples(st.integers(fmt.emin, fmt.emax), st.floats(1.0, 1.96))
                   .map(lambda t: math.ldexp(t[1], t[0])).map(fit))
    value = st.one_of(*regions)
    if nonnegative:
        return value
    return st.tuples(value, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])


def pooling_inputs(shape: tuple[int, ...], dtype: str = "float32", *, nonnegative: bool = True,
                   allow_zero: bool = True, allow_subnormal: bool = True, max_palette: int = 4):
    """A float64 array of ``shape`` with values from a small adversarial palette (ties!)."""
    n = int(np.prod(shape))
    palette = st.lists(adversarial_floats(dtype, nonnegative=nonnegative,
                                          allow_zero=allow_zero,
                                          allow_subnormal=allow_subnormal),
                       min_size=1, max_size=max_palette)

    @st.composite
    def build(draw):
        values = draw(palette)
        picks = draw(st.lists(st.integers(0, len(values) - 1), min_size=n, max_size=n))
        return np.array([values[i] for i in picks], dtype=np.float64).reshape(shape)

    return build()


@st.composite
def pool_geometries(draw, dims: int, *, accepts=("stride", "padding", "dilation", "ceil_mode"),
                    max_kernel: int = 4, max_stride: int = 3, max_dilation: int = 2,
                    cubic: bool | None = None, spatial=None):
    """Keyword arguments ``kernel_size, stride, padding, dilation, ceil_mode`` (tuples).

    With ``spatial`` (the input's spatial sizes), only geometries valid for that input: every
    output size at least 1.
    """
    if isinstance(dims, bool) or dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3, got {dims!r}")
    same = draw(st.booleans()) if cubic is None else cubic
    n_axes = 1 if same else dims

    def per_axis(strategy):
        values = [draw(strategy) for _ in range(n_axes)]
        return tuple(values * dims) if same else tuple(values)

    kernel = per_axis(st.integers(1, max_kernel))
    stride = None
    if "stride" in accepts and draw(st.booleans()):
        stride = per_axis(st.integers(1, max_stride))
    padding = (0,) * dims
    if "padding" in accepts:
        padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (1,) * dims
    if "dilation" in accepts:
        dilation = per_axis(st.integers(1, max_dilation))
    ceil_mode = "ceil_mode" in accepts and draw(st.booleans())
    if spatial is not None:
        assume(all(d * (k - 1) + 1 <= n + 2 * p for k, p, d, n in
                   zip(kernel, padding, dilation, spatial)))
    return dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=ceil_mode)


def spatial_sizes(geometry: dict, *, max_extra: int = 4):
    """Spatial input sizes for which every output size is at least 1 (shrinks to smallest)."""
    dims = len(geometry["kernel_size"])
    least = [max(1, d * (k - 1) + 1 - 2 * p) for k, p, d in
             zip(geometry["kernel_size"], geometry["padding"], geometry["dilation"])]
    return st.tuples(*(st.integers(lo, lo + max_extra) for lo in least[:dims]))


def parameters(op: str, dtype: str = "float32", *, allow_nonpositive: bool | None = None):
    """alpha (ppool: any sign, huge included) or p (lp, powermean: positive unless asked),
    small values (0 < |p| < 1/4, the checker's "small" class) included."""
    if not get_convention(op).has_param:
        return st.none()
    fit = _in_format(dtype)
    if op == "ppool":
        simple = st.sampled_from([1.0, 2.0, 0.0, 0.5, -1.0, 3.0, 2.5, -2.5, 8.0, 0.05])
        wide = st.floats(-1000.0, 1000.0)
        return st.one_of(simple, wide.map(fit))
    nonpositive = op == "powermean" if allow_nonpositive is None else allow_nonpositive
    simple = st.sampled_from([2.0, 1.0, 3.0, 1.5, 4.0, 0.5, 2.5, 0.05, 0.1])
    low = -8.0 if nonpositive else 0.25
    return st.one_of(simple, st.floats(low, 64.0).filter(lambda p: p != 0).map(fit))


POOLINGS = ("windowed", "adaptive", "global")


@st.composite
def pooling_cases(draw, op: str, dims: int | None = None, *, dtypes=DTYPES,
                  accepts=None, max_kernel: int = 3, max_extra: int = 3,
                  max_channels: int = 2, pooling: str = "windowed",
                  per_channel: bool = False, batched: bool | None = True) -> Case:
    """A valid ``Case`` for ``op``: geometry, input, parameter, dtype (see module doc).

    Inputs are non-negative for the operators with a real exponent; windows never contain a
    zero when the parameter makes ``0**p`` infinite (lp/powermean with ``p <= 0``). With
    ``pooling="adaptive"`` or ``"global"`` the input is ``(1, C, *spatial)`` with spatial
    lengths 1 to ``max_extra + 2`` and ``case.output_size`` set (``accepts`` and
    ``max_kernel`` do not apply). With ``per_channel`` each channel has its own exponent
    (``case.channel_params``, ``case.oracle_param`` for the oracle; the first is
    ``case.param``). ``batched``: inputs ``(1, C, *spatial)`` (True, the default),
    unbatched ``(C, *spatial)`` as torch's pooling also takes (False), or either (None).
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    conv = get_convention(op)
    if per_channel and not conv.has_param:
        raise ValueError(f"per_channel: op {op!r} takes no parameter")
    dims = draw(st.sampled_from([1, 2, 3])) if dims is None else dims
    dtype = draw(st.sampled_from(list(dtypes)))
    batch = (1,) if (draw(st.booleans()) if batched is None else batched) else ()
    if pooling != "windowed":
        return draw(_whole_plane_cases(op, dims, dtype, pooling, max_extra, max_channels,
                                       per_channel, batch))
    accepts = conv.optional_args if accepts is None else tuple(accepts)
    geometry = draw(pool_geometries(dims, accepts=accepts, max_kernel=max_kernel))
    spatial = draw(spatial_sizes(geometry, max_extra=max_extra))
    channels = draw(st.integers(1, max_channels))
    shape = batch + (channels,) + tuple(spatial)
    param, channel_params, x = _draw_param_and_input(draw, op, dtype, shape, channels,
                                                     per_channel)
    include = conv.default_count_include_pad
    if "count_include_pad" in accepts:
        include = draw(st.booleans())
    g = make_geometry(dims, **geometry)
    output_shape(g, shape)  # valid by construction
    if op != "max" and not (op == "avg" and include):
        # only max (-inf) and avg counting padding define a window that is all padding
        assume(all(w.positions for w in iter_windows(g, tuple(spatial))))
    passed = tuple(a for a in conv.optional_args if a in accepts)
    case = Case(op, dims, dtype, x, param, geometry["kernel_size"], geometry["stride"],
                geometry["padding"], geometry["dilation"], geometry["ceil_mode"], include,
                None, "contiguous", "hypothesis", passed, id="hypothesis",
                channel_params=channel_params)
    case.grad_output = np.ones(case.expected_shape())
    return case


def _draw_param_and_input(draw, op: str, dtype: str, shape: tuple[int, ...], channels: int,
                          per_channel: bool = False):
    """``(param, channel_params, input)``: the parameter (with ``per_channel``, one for each
    of the ``channels``, the first being ``param``; else None), then an input of ``shape``
    in their domain: non-negative for the operators with a real exponent, no zero where
    ``0**p`` is infinite (p <= 0)."""
    param = draw(parameters(op, dtype))
    channel_params = None
    if per_channel:
        channel_params = (param, *(draw(parameters(op, dtype)) for _ in range(channels - 1)))
    lowest = param if channel_params is None else min(channel_params)
    allow_zero = not (op in ("lp", "powermean") and lowest is not None and lowest <= 0)
    x = draw(pooling_inputs(shape, dtype, nonnegative=op not in ("avg", "max"),
                            allow_zero=allow_zero))
    return param, channel_params, x


@st.composite
def _whole_plane_cases(draw, op: str, dims: int, dtype: str, pooling: str, max_extra: int,
                       max_channels: int, per_channel: bool = False,
                       batch: tuple[int, ...] = (1,)) -> Case:
    """``pooling_cases``' adaptive and global cases (see there)."""
    conv = get_convention(op)
    spatial = tuple(draw(st.integers(1, max_extra + 2)) for _ in range(dims))
    if pooling == "global":
        output_size = (1,) * dims
    else:
        output_size = tuple(draw(st.integers(1, n + 1)) for n in spatial)
    channels = draw(st.integers(1, max_channels))
    shape = batch + (channels,) + spatial
    param, channel_params, x = _draw_param_and_input(draw, op, dtype, shape, channels,
                                                     per_channel)
    case = Case(op, dims, dtype, x, param, count_include_pad=conv.default_count_include_pad,
                kind="hypothesis", id="hypothesis", pooling=pooling, output_size=output_size,
                channel_params=channel_params)
    case.grad_output = np.ones(case.expected_shape())
    return case
