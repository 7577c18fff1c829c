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
are only on the (static) pooling arguments, keyed by their validated values (``_cache_key``:
an argument that is not an int never reaches a cache, so ``2.0`` cannot borrow the geometry of
``2``). Checks on concrete sizes are closed forms per axis: their cost does not grow with the
input.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence

import torch

from ..windows import (
    AdaptiveGeometry,
    PoolGeometry,
    axis_empty_windows,
    axis_output_size,
    make_adaptive_geometry,
    make_geometry,
)

WINDOWED, ADAPTIVE = 0, 1
Layout = PoolGeometry | AdaptiveGeometry


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


_UNCACHED = object()


def _cache_key(v):
    """A pooling argument as the key of the geometry caches: ``None``, an int or a tuple of ints
    and ``None`` (Python ints, whatever integer type came in), or ``_UNCACHED`` for anything
    else (a float, a bool, a tensor...), which then goes to the validating constructor
    uncached and gets its error there. ``lru_cache`` alone would treat ``2.0`` and ``True`` as
    the keys ``2`` and ``1`` and return a geometry cached from a valid call."""
    if v is None or type(v) is int:  # the common case first (a bool's type is bool)
        return v
    if _is_int(v):
        return int(v)
    if not isinstance(v, (tuple, list)):
        return _UNCACHED
    if all(e is None or _is_int(e) for e in v):
        return tuple(None if e is None else int(e) for e in v)
    return _UNCACHED


def _no_tensors(name: str, v) -> None:
    if v is None or type(v) is int:
        return
    if isinstance(v, torch.Tensor) or (isinstance(v, (tuple, list)) and
                                       any(isinstance(e, torch.Tensor) for e in v)):
        raise TypeError(f"{name}: pooling sizes must be ints or tuples of ints, not tensors")


_INT64_MAX = 2**63 - 1


def _fits_int64(layout: Layout) -> Layout:
    """``layout`` if every size fits the custom ops' int64 layout code; else ``ValueError``
    naming the argument (the op could not be called with it: torch's schema refuses it)."""
    names = (("output_size",) if isinstance(layout, AdaptiveGeometry) else
             ("kernel_size", "stride", "padding", "dilation"))
    for name in names:
        values = getattr(layout, name)
        if any(v is not None and v > _INT64_MAX for v in values):
            raise ValueError(f"{name} entries must be at most 2**63 - 1 (the op's sizes are "
                             f"int64), got {values}"[:300])
    return layout


def _make_windowed(*args) -> PoolGeometry:
    return _fits_int64(make_geometry(*args))


def _make_adaptive(*args) -> AdaptiveGeometry:
    return _fits_int64(make_adaptive_geometry(*args))


_windowed = functools.lru_cache(maxsize=512)(_make_windowed)
_adaptive = functools.lru_cache(maxsize=512)(_make_adaptive)


def windowed(dims: int, kernel_size, stride=None, padding=0, dilation=1,
             ceil_mode=False) -> PoolGeometry:
    """Validated windowed geometry (``ValueError``/``TypeError`` naming the argument): sizes
    are ints (Python or numpy) or tuples of them, ``ceil_mode`` a bool."""
    if (type(kernel_size) is int and (stride is None or type(stride) is int)
            and type(padding) is int and type(dilation) is int
            and (ceil_mode is False or ceil_mode is True)
            and not torch.compiler.is_compiling()):  # dynamo: no cache (below)
        # the common call, all plain ints: one dict lookup (the key's exact types are checked
        # above, so 2.0 or True never reaches it); the geometry was validated when stored
        geometry = _plain_windowed.get((dims, kernel_size, stride, padding, dilation,
                                        ceil_mode))
        if geometry is not None:
            return geometry
    args = {"kernel_size": kernel_size, "stride": stride, "padding": padding,
            "dilation": dilation}
    for name, v in args.items():
        _no_tensors(name, v)
    keys = tuple(_cache_key(v) for v in args.values())
    if torch.compiler.is_compiling() or _UNCACHED in keys or not isinstance(ceil_mode, bool):
        return _make_windowed(dims, *args.values(), ceil_mode)  # dynamo: no cache
    geometry = _windowed(dims, *keys, ceil_mode)
    if (type(kernel_size) is int and (stride is None or type(stride) is int)
            and type(padding) is int and type(dilation) is int):
        if len(_plain_windowed) >= 512:
            _plain_windowed.clear()
        _plain_windowed[(dims, kernel_size, stride, padding, dilation, ceil_mode)] = geometry
    return geometry


#: ``windowed``'s shortcut: geometries of calls whose sizes are all plain ints (or None for the
#: stride), keyed by the arguments as given; filled only after validation
_plain_windowed: dict[tuple, PoolGeometry] = {}


def adaptive(dims: int, output_size) -> AdaptiveGeometry:
    """Validated adaptive geometry; ``output_size=1`` is global pooling."""
    _no_tensors("output_size", output_size)
    key = _cache_key(output_size)
    if torch.compiler.is_compiling() or key is _UNCACHED:
        return _make_adaptive(dims, output_size)
    return _adaptive(dims, key)


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


def empty_window_axis(layout: Layout, spatial: tuple[int, ...]) -> int | None:
    """A spatial axis with a window made only of padding (possible with dilation), else None.
    ``spatial`` must be concrete ints; the condition is in closed form per axis
    (``ppverify.windows.axis_empty_windows``), so the cost does not grow with the input."""
    if isinstance(layout, AdaptiveGeometry):
        return None
    for a in range(layout.dims):
        if axis_empty_windows(spatial[a], layout.kernel_size[a], layout.stride[a],
                              layout.padding[a], layout.dilation[a], layout.ceil_mode):
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


def read_mask(layout: Layout, spatial: tuple[int, ...], device) -> torch.Tensor:
    """A bool tensor of shape ``spatial``: True at the input elements that some window reads.

    Adaptive windows cover every element. Along a windowed axis element ``i`` is read when
    ``i = o s - p + j d`` for some output ``o`` and kernel offset ``j``; the plane's mask is
    the outer product of the axes' masks. O(out k) per axis: for error messages only.
    """
    mask = torch.ones((), dtype=torch.bool, device=device)
    for a, length in enumerate(spatial):
        axis = torch.ones(length, dtype=torch.bool, device=device)
        if isinstance(layout, PoolGeometry):
            k, s, p, d = (layout.kernel_size[a], layout.stride[a], layout.padding[a],
                          layout.dilation[a])
            n_out = axis_output_size(length, k, s, p, d, layout.ceil_mode)
            pos = (torch.arange(max(n_out, 0), device=device)[:, None] * s
                   + torch.arange(k, device=device)[None, :] * d - p).reshape(-1)
            axis = torch.zeros(length, dtype=torch.bool, device=device)
            axis[pos[(pos >= 0) & (pos < length)]] = True
        mask = mask.unsqueeze(-1) & axis
    return mask


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
