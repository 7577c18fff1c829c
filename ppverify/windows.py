"""The one definition of pooling-window layout, shared by the oracle and the torch op.

Conventions (identical to ``torch.nn.functional.{max,avg,lp}_pool{1,2,3}d``):

* An input has shape ``(N, C, *spatial)`` or, unbatched, ``(C, *spatial)``; ``spatial`` has
  ``dims`` = 1, 2 or 3 entries. Pooling acts independently on every (batch, channel) plane.
* Per spatial axis of length ``L``, with kernel ``k``, stride ``s`` (default ``k``), padding
  ``p`` and dilation ``d``, the output length is::

      out = floor((L + 2p - d(k-1) - 1 + (s-1 if ceil_mode else 0)) / s) + 1
      if ceil_mode and (out - 1) * s >= L + p: out -= 1   # the last window must start
                                                           # inside the input or left padding

* Output position ``o`` reads the positions ``o*s - p + j*d`` for ``j = 0 .. k-1``. A position in
  ``[0, L)`` is an input element. A position in ``[-p, 0)`` or ``[L, L + p)`` is *padding*.
  A position at or beyond ``L + p`` (possible only with ``ceil_mode``) is *overhang*: it belongs
  to no one, and even ``count_include_pad`` does not count it (as in torch).
* A multi-dimensional window is the Cartesian product of its per-axis windows; elements are
  listed in row-major kernel order (the last axis varies fastest), which is the scan order torch
  uses to break ties in max pooling.
* Validity rules, with torch's: ``kernel_size``, ``stride`` and ``dilation`` positive, ``padding``
  non-negative and at most half the kernel size, and every output size at least 1.

Adaptive and global pooling (``torch.nn.functional.adaptive_{max,avg}_pool{1,2,3}d``) use an
``AdaptiveGeometry`` instead: per axis, an input of length ``L`` pooled to ``n`` outputs gives
window ``i`` the input positions ``[floor(i L / n), ceil((i + 1) L / n))`` (no padding, no
dilation; windows of neighbouring outputs may overlap, and ``n > L`` repeats positions). An
``output_size`` entry ``None`` keeps that axis's input length. *Global* pooling is output size 1
on every axis: one window holding the whole plane. ``iter_windows``, ``output_spatial_shape`` and
``output_shape`` accept either geometry.

What padding *means* for a value is up to each operator (see ``ppverify.oracle.operators``):
this module only says which positions are input, padding or overhang.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

IntOrTuple = int | Sequence[int]


@dataclass(frozen=True)
class PoolGeometry:
    """Validated pooling parameters, one entry per spatial axis."""

    dims: int
    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool

    @property
    def window_elements(self) -> int:
        """Number of kernel positions in one window, ``prod(kernel_size)``."""
        n = 1
        for k in self.kernel_size:
            n *= k
        return n


@dataclass(frozen=True)
class AdaptiveGeometry:
    """Adaptive pooling to a fixed output size, one entry per spatial axis.

    ``output_size[a]`` is the number of outputs along spatial axis ``a``, or ``None`` to keep the
    input's length there (torch's convention). Global pooling is ``output_size == (1,) * dims``.
    """

    dims: int
    output_size: tuple[int | None, ...]

    @property
    def is_global(self) -> bool:
        """True when every axis pools to a single output (one window per plane)."""
        return all(n == 1 for n in self.output_size)

    def resolve(self, spatial: Sequence[int]) -> tuple[int, ...]:
        """The output spatial shape for an input of spatial shape ``spatial``."""
        return tuple(
            int(length) if n is None else n for n, length in zip(self.output_size, spatial)
        )


def _expand(name: str, value: IntOrTuple | None, dims: int) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a tuple of {dims} ints, got a bool")
    if isinstance(value, numbers.Integral):  # int, numpy integers
        return (int(value),) * dims
    try:
        values = tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{name} must be an int or a tuple of {dims} ints, got {type(value).__name__}"
        ) from None
    if len(values) == 1:
        values = values * dims
    if len(values) != dims:
        raise ValueError(f"{name} must have 1 or {dims} entries for {dims}-D pooling, got {values}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} entries must be ints, got {values}")
    return tuple(int(v) for v in values)


def make_geometry(
    dims: int,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
) -> PoolGeometry:
    """Validate and normalise pooling parameters as torch does.

    ``stride=None`` (or an empty sequence) means ``stride = kernel_size``. Raises ``ValueError``
    naming the offending argument for non-positive kernel, stride or dilation, negative padding,
    or padding larger than half the kernel.
    """
    if dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3, got {dims}")
    kernel = _expand("kernel_size", kernel_size, dims)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        strides = kernel
    else:
        strides = _expand("stride", stride, dims)
    pads = _expand("padding", padding, dims)
    dils = _expand("dilation", dilation, dims)
    if not isinstance(ceil_mode, bool):
        raise TypeError(f"ceil_mode must be a bool (True or False), got {ceil_mode!r}")
    for axis in range(dims):
        if kernel[axis] <= 0:
            raise ValueError(f"kernel_size must be greater than zero, but got {kernel}")
        if strides[axis] <= 0:
            raise ValueError(f"stride must be greater than zero, but got {strides}")
        if dils[axis] <= 0:
            raise ValueError(f"dilation must be greater than zero, but got {dils}")
        if pads[axis] < 0:
            raise ValueError(f"padding must be non-negative, but got {pads}")
        if pads[axis] > kernel[axis] // 2:
            raise ValueError(
                f"padding should be at most half of kernel_size, but got padding[{axis}] = "
                f"{pads[axis]} with kernel_size[{axis}] = {kernel[axis]}"
            )
    return PoolGeometry(dims, kernel, strides, pads, dils, ceil_mode)


def make_adaptive_geometry(dims: int, output_size: int | Sequence[int | None]) -> AdaptiveGeometry:
    """Validate torch's ``output_size`` argument of adaptive pooling.

    ``output_size`` is an int (the same on every axis) or a sequence of ``dims`` entries, each a
    positive int or ``None`` (keep the input length). Raises ``TypeError``/``ValueError`` naming
    ``output_size``.
    """
    if dims not in (1, 2, 3):
        raise ValueError(f"dims must be 1, 2 or 3, got {dims}")
    if isinstance(output_size, bool):
        raise TypeError(f"output_size must be an int or a tuple of {dims} ints, got a bool")
    if isinstance(output_size, numbers.Integral):
        sizes: tuple[int | None, ...] = (int(output_size),) * dims
    else:
        try:
            sizes = tuple(output_size)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"output_size must be an int or a tuple of {dims} ints (or None), got "
                f"{type(output_size).__name__}"
            ) from None
        if len(sizes) == 1:
            sizes = sizes * dims
        if len(sizes) != dims:
            raise ValueError(
                f"output_size must have 1 or {dims} entries for {dims}-D pooling, got {sizes}"
            )
    checked: list[int | None] = []
    for n in sizes:
        if n is None:
            checked.append(None)
            continue
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"output_size entries must be ints or None, got {sizes}")
        if n <= 0:
            raise ValueError(f"output_size must be positive, but got {sizes}")
        checked.append(int(n))
    return AdaptiveGeometry(dims, tuple(checked))


def global_geometry(dims: int) -> AdaptiveGeometry:
    """Global pooling: one output per (batch, channel) plane, its window the whole plane."""
    return make_adaptive_geometry(dims, 1)


def adaptive_axis_bounds(length: int, out_size: int) -> list[tuple[int, int]]:
    """Torch's adaptive rule along one axis: ``[floor(i L / n), ceil((i + 1) L / n))`` per ``i``."""
    return [((i * length) // out_size, -((-(i + 1) * length) // out_size)) for i in range(out_size)]


def axis_output_size(
    length: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> int:
    """Torch's output length along one axis (may be < 1; callers validate)."""
    numerator = length + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        numerator += stride - 1
    out = numerator // stride + 1
    if ceil_mode and (out - 1) * stride >= length + padding:
        out -= 1
    return out


def axis_empty_windows(
    length: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> list[int]:
    """The output positions along one axis whose window reads no input element (only padding).

    Window ``o`` reads ``start + j d`` for ``j < k`` (``start = o s - p``). A window with
    ``0 <= start < L`` reads ``start`` itself, so only two ranges can hold empty windows: those
    that start in the left padding (``o < ceil(p / s)``; empty when the first position at or
    after 0, ``start + ceil(-start / d) d``, is at or beyond ``L`` or beyond the kernel, which
    dilation makes possible) and those that start at or after ``L`` (``o >= ceil((L + p) / s)``;
    none exist, since torch's output size makes the last window start inside the input or the
    left padding). The work is O(p / s) per axis, not O(out).
    """
    out = axis_output_size(length, kernel, stride, padding, dilation, ceil_mode)
    left = range(min(out, -(-padding // stride)))
    beyond = range(max(len(left), -(-(length + padding) // stride)), max(out, 0))
    empty = []
    for o in (*left, *beyond):
        start = o * stride - padding
        skip = -(-max(0, -start) // dilation)  # kernel offsets before position 0
        if skip >= kernel or start + skip * dilation >= length:
            empty.append(o)
    return empty


def split_batch_channel(shape: Sequence[int], dims: int, name: str = "input") -> tuple[int, ...]:
    """Return the spatial part of ``shape``; raise naming ``name`` if it has the wrong rank."""
    if len(shape) not in (dims + 1, dims + 2):
        raise ValueError(
            f"{name} must be {dims + 1}-D (C, *spatial) or {dims + 2}-D (N, C, *spatial) for "
            f"{dims}-D pooling, but got a {len(shape)}-D {name} of shape {tuple(shape)}"
        )
    return tuple(int(s) for s in shape[-dims:])


def output_spatial_shape(
    geometry: PoolGeometry | AdaptiveGeometry, spatial: Sequence[int]
) -> tuple[int, ...]:
    """Output spatial shape; raise ``ValueError`` naming the axis if any output size is < 1."""
    if isinstance(geometry, AdaptiveGeometry):
        for axis, length in enumerate(spatial):
            if length < 1:
                raise ValueError(
                    f"adaptive pooling needs a non-empty input, but spatial axis {axis} of the "
                    f"input (size {tuple(spatial)}) has length {length}"
                )
        return geometry.resolve(spatial)
    out = []
    for axis, length in enumerate(spatial):
        size = axis_output_size(
            length,
            geometry.kernel_size[axis],
            geometry.stride[axis],
            geometry.padding[axis],
            geometry.dilation[axis],
            geometry.ceil_mode,
        )
        if size < 1:
            raise ValueError(
                f"kernel_size {geometry.kernel_size} with dilation {geometry.dilation} and "
                f"padding {geometry.padding} is larger than the padded input along spatial axis "
                f"{axis} (input size {tuple(spatial)}): calculated output size {size} is too small"
            )
        out.append(size)
    return tuple(out)


def output_shape(
    geometry: PoolGeometry | AdaptiveGeometry, input_shape: Sequence[int]
) -> tuple[int, ...]:
    """Full output shape for an input of shape ``input_shape`` (batch/channel dims kept)."""
    spatial = split_batch_channel(input_shape, geometry.dims)
    lead = tuple(input_shape[: len(input_shape) - geometry.dims])
    return lead + output_spatial_shape(geometry, spatial)


@dataclass(frozen=True)
class AxisWindow:
    """One output position's window along one axis.

    ``offsets[j]`` is the kernel offset and ``indices[j]`` the input index of each position that
    falls inside the input; ``band`` counts the positions inside input or padding (what
    ``count_include_pad`` counts), so ``band - len(indices)`` positions are padding.
    """

    start: int
    offsets: tuple[int, ...]
    indices: tuple[int, ...]
    band: int


def axis_windows(
    length: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> list[AxisWindow]:
    """All windows along one axis, in output order."""
    size = axis_output_size(length, kernel, stride, padding, dilation, ceil_mode)
    windows = []
    for o in range(max(size, 0)):
        start = o * stride - padding
        offsets, indices, band = [], [], 0
        for j in range(kernel):
            pos = start + j * dilation
            if -padding <= pos < length + padding:
                band += 1
            if 0 <= pos < length:
                offsets.append(j)
                indices.append(pos)
        windows.append(AxisWindow(start, tuple(offsets), tuple(indices), band))
    return windows


@dataclass(frozen=True)
class Window:
    """One output position's window over all spatial axes.

    ``positions`` are the spatial input coordinates inside the input, in row-major kernel order;
    ``kernel_offsets`` the matching kernel coordinates; ``n_padding`` the number of padded
    positions (inside the padding band, outside the input). Overhang positions are not counted.
    """

    out_index: tuple[int, ...]
    positions: tuple[tuple[int, ...], ...]
    kernel_offsets: tuple[tuple[int, ...], ...]
    n_padding: int


def adaptive_axis_windows(length: int, out_size: int) -> list[AxisWindow]:
    """All adaptive windows along one axis, in output order (no padding, so ``band`` = size)."""
    return [
        AxisWindow(start, tuple(range(end - start)), tuple(range(start, end)), end - start)
        for start, end in adaptive_axis_bounds(length, out_size)
    ]


def iter_windows(
    geometry: PoolGeometry | AdaptiveGeometry, spatial: Sequence[int]
) -> Iterator[Window]:
    """Yield every window of one (batch, channel) plane in row-major output order.

    For an ``AdaptiveGeometry`` the kernel offsets are positions relative to the window's start.
    """
    out_spatial = output_spatial_shape(geometry, spatial)  # validates
    if isinstance(geometry, AdaptiveGeometry):
        adaptive = [adaptive_axis_windows(spatial[a], out_spatial[a]) for a in range(geometry.dims)]
        for out_index in itertools.product(*(range(n) for n in out_spatial)):
            combo = [adaptive[a][i] for a, i in enumerate(out_index)]
            positions = tuple(itertools.product(*(w.indices for w in combo)))
            offsets = tuple(itertools.product(*(w.offsets for w in combo)))
            yield Window(tuple(out_index), positions, offsets, 0)
        return
    per_axis = [
        axis_windows(
            spatial[a],
            geometry.kernel_size[a],
            geometry.stride[a],
            geometry.padding[a],
            geometry.dilation[a],
            geometry.ceil_mode,
        )
        for a in range(geometry.dims)
    ]
    for combo in itertools.product(*per_axis):
        out_index = tuple(
            (w.start + geometry.padding[a]) // geometry.stride[a] for a, w in enumerate(combo)
        )
        positions = tuple(itertools.product(*(w.indices for w in combo)))
        offsets = tuple(itertools.product(*(w.offsets for w in combo)))
        band = 1
        for w in combo:
            band *= w.band
        yield Window(out_index, positions, offsets, band - len(positions))
