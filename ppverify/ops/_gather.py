"""Windows as a tensor: gather every window of a layout into a last axis, and scatter back.

``WindowIndex(layout, spatial)`` maps each (output position, window element) pair to a flat
position of the *padded* plane (left padding ``p``, right padding as far as ``ceil_mode``
reaches), so that for an input ``x`` of shape ``(N, C, *spatial)``::

    gather(x)  -> (N, C, *out_spatial, K)   K = the largest window's element count
    scatter(g) -> (N, C, *spatial)          the sum, over windows, of g at each element

``valid`` (a bool tensor of shape ``(*out_spatial, K)``, or None when every entry is an input
element) marks which entries are input elements; the others (padding, ``ceil_mode`` overhang,
and for adaptive windows the slots beyond a shorter window's end) read 0 and must be masked by
the caller. Elements are in row-major kernel order within each window, as in
``ppverify.windows``. Windowed layouts follow torch's ``*_pool`` rule, adaptive ones torch's
``adaptive_*_pool`` rule (``ppverify.windows.adaptive_axis_bounds``).

Both directions are single ``index_select`` / ``index_add`` calls: they work under autograd,
forward-mode AD and ``torch.func.vmap``, with no host synchronisation.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..windows import AdaptiveGeometry, adaptive_axis_bounds
from ._layout import Layout, out_spatial


def _adaptive_bounds(length: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """``ppverify.windows.adaptive_axis_bounds`` as two int64 arrays (starts, ends), computed
    without a Python object per window (the first call on a new size cost 1.3 s for 1e6
    outputs); Python ints where ``n_out * length`` could overflow int64."""
    if n_out * length < 2**62:
        i = np.arange(n_out, dtype=np.int64)
        return (i * length) // n_out, -((-(i + 1) * length) // n_out)
    bounds = adaptive_axis_bounds(length, n_out)
    return (np.array([s for s, _ in bounds], dtype=np.int64),
            np.array([e for _, e in bounds], dtype=np.int64))


def _axis_table(layout: Layout, axis: int, length: int, n_out: int):
    """Per axis: padded coordinates (n_out, K_a), validity (n_out, K_a), left and right pad."""
    if isinstance(layout, AdaptiveGeometry):
        starts, ends = _adaptive_bounds(length, n_out)
        k = int((ends - starts).max())
        pos = starts[:, None] + np.arange(k)
        return np.minimum(pos, length - 1), pos < ends[:, None], 0, 0
    k, s, p, d = (layout.kernel_size[axis], layout.stride[axis], layout.padding[axis],
                  layout.dilation[axis])
    pos = np.arange(n_out)[:, None] * s + np.arange(k)[None, :] * d  # padded coordinates
    need = int(pos.max()) + 1
    right = max(0, need - p - length)
    valid = (pos >= p) & (pos < p + length)
    return pos, valid, p, right


class WindowIndex:
    """The gather/scatter map of one layout for one input spatial shape (see module doc)."""

    def __init__(self, layout: Layout, spatial: tuple[int, ...], device):
        self.layout = layout
        self.spatial = tuple(spatial)
        self.out_spatial = out_spatial(layout, spatial)
        dims = layout.dims
        tables = [_axis_table(layout, a, spatial[a], self.out_spatial[a]) for a in range(dims)]
        self.pads = [(t[2], t[3]) for t in tables]
        self.padded = tuple(spatial[a] + sum(self.pads[a]) for a in range(dims))
        ks = [t[0].shape[1] for t in tables]
        self.K = math.prod(ks)
        # flat padded index and validity, shaped (*out, *kernel) then (*out, K)
        flat = np.zeros((), dtype=np.int64)
        valid = np.ones((), dtype=bool)
        for a, (pos, ok, _, _) in enumerate(tables):
            # axis a's output index goes to position a, its kernel index to position dims + a
            shape_pos = [1] * (2 * dims)
            shape_pos[a], shape_pos[dims + a] = pos.shape
            stride = math.prod(self.padded[a + 1:])
            flat = flat + pos.reshape(shape_pos) * stride
            valid = valid & ok.reshape(shape_pos)
        full = tuple(self.out_spatial) + tuple(ks)
        flat = np.broadcast_to(flat, full).reshape(tuple(self.out_spatial) + (self.K,))
        valid = np.broadcast_to(valid, full).reshape(tuple(self.out_spatial) + (self.K,))
        self._flat = np.array(flat).reshape(-1)  # (scatter_apart's slots are made from it)
        self.index = torch.as_tensor(self._flat, device=device)
        self.valid = None if valid.all() else torch.as_tensor(np.array(valid),
                                                              device=device)
        self.identity = (math.prod(self.padded) == self.K and all(n == 1 for n in
                                                                  self.out_spatial)
                         and self.valid is None)
        self._slot = None  # (scatter_apart's slots, their count), made on first use
        counts = valid.reshape(-1, self.K).sum(axis=1).reshape(self.out_spatial)
        self.counts = torch.as_tensor(counts.astype(np.float64), device=device)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, *spatial) -> (N, C, *out_spatial, K)`` (padding and overhang read 0)."""
        lead = x.shape[:2]
        if self.identity:  # global pooling: the window is the plane, in row-major order
            return x.reshape(*lead, *self.out_spatial, self.K)
        flat = []
        for left, right in reversed(self.pads):
            flat += [left, right]
        xp = torch.nn.functional.pad(x, flat) if any(flat) else x
        xp = xp.reshape(*lead, math.prod(xp.shape[2:]))  # not -1: N = 0 leaves it ambiguous
        return xp.index_select(2, self.index).reshape(*lead, *self.out_spatial, self.K)

    def scatter(self, g: torch.Tensor) -> torch.Tensor:
        """``(N, C, *out_spatial, K) -> (N, C, *spatial)``: entries sharing an element add."""
        lead = g.shape[:2]
        if self.identity:
            return g.reshape(*lead, *self.spatial)
        acc = g.new_zeros((*lead, math.prod(self.padded)))
        return self._unpad(acc.index_add(2, self.index, g.reshape(*lead, self.index.shape[0])))

    def scatter_apart(self, g: torch.Tensor) -> torch.Tensor:
        """Like ``scatter``, with the entries sharing an element kept apart instead of added:
        ``(N, C, *out_spatial, K) -> (N, C, *spatial, R)``, R the most entries of one element
        (zeros fill the rest), for a sum whose order and rounding the caller chooses
        (``ScaledTerms.scatter``: compensated, as its terms' signs decide results beyond the
        range). Each entry goes to its own slot, so nothing is rounded here."""
        lead = g.shape[:2]
        if self.identity:
            return g.reshape(*lead, *self.spatial, 1)
        slot, R = self._slots()
        acc = g.new_zeros((*lead, math.prod(self.padded) * R))
        acc = acc.index_add(2, self.index * R + slot, g.reshape(*lead, self.index.shape[0]))
        return self._unpad(acc, (R,))

    def _slots(self) -> tuple[torch.Tensor, int]:
        """Each entry's rank among the entries of its element (in index order), and the most
        entries of one element."""
        if self._slot is None:  # (from the host copy: under torch.compile self.index is fake)
            idx = self._flat
            order = np.argsort(idx, kind="stable")
            sorted_idx = idx[order]
            starts = np.r_[0, np.flatnonzero(np.diff(sorted_idx)) + 1]
            first = np.repeat(starts, np.diff(np.r_[starts, idx.size]))
            slot = np.empty_like(idx)
            slot[order] = np.arange(idx.size) - first
            self._slot = (torch.as_tensor(slot, device=self.index.device),
                          int(slot.max(initial=0)) + 1)
        return self._slot

    def scatter_amax(self, g: torch.Tensor) -> torch.Tensor:
        """Like ``scatter``, the largest entry instead of the sum (-inf where none)."""
        lead = g.shape[:2]
        if self.identity:
            return g.reshape(*lead, *self.spatial)
        acc = g.new_full((*lead, math.prod(self.padded)), -math.inf)
        return self._unpad(acc.scatter_reduce(2, self.index.expand(*lead, -1),
                                              g.reshape(*lead, self.index.shape[0]),
                                              "amax"))

    def _unpad(self, acc: torch.Tensor, tail: tuple[int, ...] = ()) -> torch.Tensor:
        """A flat padded plane ``(N, C, prod(padded) * prod(tail))`` as
        ``(N, C, *spatial, *tail)``."""
        acc = acc.reshape(*acc.shape[:2], *self.padded, *tail)
        for a, (left, _) in enumerate(self.pads):
            acc = acc.narrow(2 + a, left, self.spatial[a])
        return acc


@functools.lru_cache(maxsize=64)
def window_index(layout: Layout, spatial: tuple[int, ...], device: torch.device) -> WindowIndex:
    """A cached ``WindowIndex`` (``spatial`` must be concrete ints)."""
    return WindowIndex(layout, spatial, device)
