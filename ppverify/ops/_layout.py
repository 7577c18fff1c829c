"""Pooling layouts for the torch op: argument normalisation, the integer code that the custom
ops carry, and the checks that depend only on shapes.

A *layout* is a ``ppverify.windows.PoolGeometry`` (torch's windowed pooling) or an
``AdaptiveGeometry`` (adaptive and global pooling). The custom ops of ``ppverify.ops._dispatch``
take it as a list of ints (``encode``), because ``torch.library`` schemas carry no Python
objects::

    windowed:  [0, dims, *kernel_size, *stride, *padding, *dilation, ceil_mode]
    adaptive:  [1, dims, *output_size]            (0 stands for None: keep the input length)

Every function here works on plain ints and on the symbolic sizes of ``torch.compile(...,
dynamic=True)`` and ``torch.export`` (no caching on sizes, no ``int()`` of a size); the caches
are only on the (static) pooling arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch

from ..windows import (
    AdaptiveGeometry,
    PoolGeometry,
    axis_output_size,
    axis_windows,
    make_adaptive_geometry,
    make_geometry,
)

WINDOWED, ADAPTIVE = 0, 1
Layout = PoolGeometry | AdaptiveGeometry


def _hashable(v, name: str):
    """A pooling argument as a hashable value (tuples for sequences); tensors are refused."""
    if v is None or isinstance(v, (int, bool, float, str, bytes)):
        return v  # make_geometry names the argument if the type is wrong
    if hasattr(v, "dtype") and hasattr(v, "shape"):
        raise TypeError(f"{name}: pooling sizes must be ints or tuples of ints, not tensors")
    try:
        return tuple(v)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of ints, got "
                        f"{type(v).__name__}") from None


_windowed = functools.lru_cache(maxsize=512)(make_geometry)
_adaptive = functools.lru_cache(maxsize=512)(make_adaptive_geometry)


def windowed(dims: int, kernel_size, stride=None, padding=0, dilation=1,
             ceil_mode=False) -> PoolGeometry:
    """Validated windowed geometry (``ValueError``/``TypeError`` naming the argument)."""
    make = make_geometry if torch.compiler.is_compiling() else _windowed  # dynamo: no cache
    return make(dims, _hashable(kernel_size, "kernel_size"), _hashable(stride, "stride"),
                _hashable(padding, "padding"), _hashable(dilation, "dilation"),
                bool(ceil_mode))


def adaptive(dims: int, output_size) -> AdaptiveGeometry:
    """Validated adaptive geometry; ``output_size=1`` is global pooling."""
    make = make_adaptive_geometry if torch.compiler.is_compiling() else _adaptive
    return make(dims, _hashable(output_size, "output_size"))


def encode(layout: Layout) -> list[int]:
    """The layout as the integer list the custom ops take (see the module docstring)."""
    if isinstance(layout, AdaptiveGeometry):
        return [ADAPTIVE, layout.dims, *(0 if n is None else n for n in layout.output_size)]
    return [WINDOWED, layout.dims, *layout.kernel_size, *layout.stride, *layout.padding,
            *layout.dilation, int(layout.ceil_mode)]


@functools.lru_cache(maxsize=512)
def _decode(code: tuple[int, ...]) -> Layout:
    kind, dims = code[0], code[1]
    if kind == ADAPTIVE:
        return make_adaptive_geometry(dims, tuple(None if n == 0 else n for n in code[2:]))
    if kind != WINDOWED or len(code) != 2 + 4 * dims + 1:
        raise ValueError(f"not a pooling layout code: {list(code)}")
    k, s, p, d = (tuple(code[2 + i * dims: 2 + (i + 1) * dims]) for i in range(4))
    return make_geometry(dims, k, s, p, d, bool(code[-1]))


def decode(code: Sequence[int]) -> Layout:
    return _decode(tuple(int(c) for c in code))


def check_rank(shape: Sequence, dims: int, name: str = "input") -> bool:
    """True for a batched ``(N, C, *spatial)`` shape, False for ``(C, *spatial)``; else raise."""
    if len(shape) not in (dims + 1, dims + 2):
        raise ValueError(
            f"{name} must be {dims + 1}-D (C, *spatial) or {dims + 2}-D (N, C, *spatial) for "
            f"{dims}-D pooling, but got a {len(shape)}-D {name} of shape {tuple(shape)}"
        )
    return len(shape) == dims + 2


def out_spatial(layout: Layout, spatial: Sequence) -> tuple:
    """The output's spatial shape (ints or symbolic sizes); ``ValueError`` naming the axis if an
    output size would be below 1 or an adaptive input is empty."""
    if isinstance(layout, AdaptiveGeometry):
        out = []
        for axis, (n, length) in enumerate(zip(layout.output_size, spatial)):
            if length < 1:
                raise ValueError(
                    f"adaptive pooling needs a non-empty input, but spatial axis {axis} of the "
                    f"input (size {tuple(spatial)}) has length {length}")
            out.append(length if n is None else n)
        return tuple(out)
    out = []
    for axis, length in enumerate(spatial):
        size = axis_output_size(length, layout.kernel_size[axis], layout.stride[axis],
                                layout.padding[axis], layout.dilation[axis], layout.ceil_mode)
        if size < 1:
            raise ValueError(
                f"kernel_size {layout.kernel_size} with dilation {layout.dilation} and padding "
                f"{layout.padding} is larger than the padded input along spatial axis {axis} "
                f"(input size {tuple(spatial)}): calculated output size {size} is too small")
        out.append(size)
    return tuple(out)


@functools.lru_cache(maxsize=512)
def empty_window_axis(layout: Layout, spatial: tuple[int, ...]) -> int | None:
    """A spatial axis with a window made only of padding (possible with dilation), else None.
    ``spatial`` must be concrete ints."""
    if isinstance(layout, AdaptiveGeometry):
        return None
    for a in range(layout.dims):
        for w in axis_windows(spatial[a], layout.kernel_size[a], layout.stride[a],
                              layout.padding[a], layout.dilation[a], layout.ceil_mode):
            if not w.indices:
                return a
    return None


def check_windows(layout: Layout, spatial: tuple[int, ...]) -> None:
    """Raise ``ValueError`` if some window covers only padding (concrete sizes only)."""
    axis = empty_window_axis(layout, spatial)
    if axis is not None:
        raise ValueError(
            f"kernel_size {layout.kernel_size} with padding {layout.padding} and dilation "
            f"{layout.dilation} gives a window along spatial axis {axis} that covers only "
            f"padding (input size {spatial}): pooling an empty window is undefined")


def as_windowed(layout: Layout, spatial: tuple[int, ...]) -> PoolGeometry | None:
    """The windowed geometry with exactly the same windows, if there is one: an adaptive
    layout whose every axis divides (``L = k n``: windows ``[i k, (i + 1) k)``, kernel = stride
    = ``k``; global pooling always does). None otherwise; a windowed layout is itself."""
    if isinstance(layout, PoolGeometry):
        return layout
    sizes = layout.resolve(spatial)
    if any(length % n for length, n in zip(spatial, sizes)):
        return None
    kernel = tuple(length // n for length, n in zip(spatial, sizes))
    return _windowed(layout.dims, kernel, kernel, 0, 1, False)
