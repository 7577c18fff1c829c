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
    return PoolGeometry(dims, kernel, strides, pads, dils, bool(ceil_mode))


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


def split_batch_channel(shape: Sequence[int], dims: int, name: str = "input") -> tuple[int, ...]:
    """Return the spatial part of ``shape``; raise naming ``name`` if it has the wrong rank."""
    if len(shape) not in (dims + 1, dims + 2):
        raise ValueError(
            f"{name} must be {dims + 1}-D (C, *spatial) or {dims + 2}-D (N, C, *spatial) for "
            f"{dims}-D pooling, but got a {len(shape)}-D {name} of shape {tuple(shape)}"
        )
    return tuple(int(s) for s in shape[-dims:])


def output_spatial_shape(geometry: PoolGeometry, spatial: Sequence[int]) -> tuple[int, ...]:
    """Output spatial shape; raise ``ValueError`` naming the axis if any output size is < 1."""
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


def output_shape(geometry: PoolGeometry, input_shape: Sequence[int]) -> tuple[int, ...]:
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


def iter_windows(geometry: PoolGeometry, spatial: Sequence[int]) -> Iterator[Window]:
    """Yield every window of one (batch, channel) plane in row-major output order."""
    output_spatial_shape(geometry, spatial)  # validates
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
