"""Layers with one exponent per channel, written for the tests (independent of
``ppverify.ops``): each channel is pooled by the careful implementation
(``tests/conformance/_careful.py``) with its own exponent, so the correct ones must conform
under ``ppverify check --per-channel``; the broken ones each carry one defect that only a
per-channel check can see.

``GeMmp`` has the interface of the per-channel GeM of Radenovic et al.'s image-retrieval code
(``GeMmp(p=3, mp=1, eps=1e-6)``: ``p`` a Parameter of shape ``(mp,)``, which the checker
widens to ``(C,)``); ``LehmerChannels`` takes the channel count in its constructor and stores
its exponents as ``(1, C, 1, 1)``.
"""

from __future__ import annotations

import torch

from . import _careful

_GLOBAL = {op: _careful.make(op, 2, "global") for op in ("powermean", "ppool")}


def _per_channel(op: str, x: torch.Tensor, exponents: torch.Tensor) -> torch.Tensor:
    """Channel ``c`` of ``x`` ((N, C, H, W) or (C, H, W)) pooled with ``exponents[c]`` (one
    exponent: every channel with it, as ``p.unsqueeze(-1).unsqueeze(-1)`` broadcasts)."""
    axis = x.dim() - 3
    flat = exponents.reshape(-1)
    if flat.numel() == 1:
        flat = flat.expand(x.shape[axis])
    if flat.numel() != x.shape[axis]:
        raise ValueError(f"{flat.numel()} exponents for {x.shape[axis]} channels")
    parts = [_GLOBAL[op](x.narrow(axis, c, 1), flat[c]) for c in range(x.shape[axis])]
    return torch.cat(parts, dim=axis)


def gem_per_channel(x, p):
    """The power mean of each plane, channel c with exponent ``p[c]`` (``p`` of shape (C,))."""
    return _per_channel("powermean", x, p)


class GeMmp(torch.nn.Module):
    """Per-channel GeM: ``p`` a Parameter of shape ``(mp,)``, ``x`` clamped below ``eps``."""

    def __init__(self, p=3.0, mp=1, eps=1e-6):
        super().__init__()
        self.p = torch.nn.Parameter(torch.ones(mp) * p)
        self.eps = eps

    def forward(self, x):
        return _per_channel("powermean", x.clamp(min=self.eps), self.p)


class GeMmpFirstExponent(GeMmp):
    """Broken: every channel pooled with the first channel's exponent."""

    def forward(self, x):
        return _per_channel("powermean", x.clamp(min=self.eps), self.p[:1])


class GeMmpGradientToFirst(GeMmp):
    """Broken: the right values, but every channel's dy/dp lands on the first exponent (the
    sum over channels is right, so a check with one exponent for all channels passes)."""

    def forward(self, x):
        p = self.p
        routed = p.detach() + (p[:1] - p[:1].detach()).expand(p.shape[0])
        return _per_channel("powermean", x.clamp(min=self.eps), routed)


class LehmerChannels(torch.nn.Module):
    """Global P-pooling (the Lehmer mean) with ``alpha`` of shape ``(1, C, 1, 1)``, the
    channel count given to the constructor."""

    def __init__(self, num_channels=1, alpha=1.0):
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.full((1, num_channels, 1, 1), float(alpha)))

    def forward(self, x):
        return _per_channel("ppool", x, self.alpha)


class GeMGrid(GeMmp):
    """Exponents on a (2, 3) grid: no axis to widen to the channel count."""

    def __init__(self, p=3.0, eps=1e-6):
        super().__init__(p, 1, eps)
        self.p = torch.nn.Parameter(torch.ones(2, 3) * p)


def _broadcast_exponents(x, p):
    """``p`` as GeM code that keeps it as ``torch.ones(1, C, 1, 1) * 3`` takes it: exactly
    ``(1, C, 1, 1)`` for an input of C channels, else ValueError (a function that broadcasts
    a ``(C,)`` tensor against ``(N, C, H, W)`` would pair it with W, not C)."""
    channels = x.shape[x.dim() - 3]
    if tuple(p.shape) != (1, channels, 1, 1):
        raise ValueError(f"p has shape {tuple(p.shape)}, expected (1, {channels}, 1, 1)")
    return p.reshape(-1)


def gem_broadcast_p(x, p):
    """The power mean of each plane with ``p`` of shape ``(1, C, 1, 1)``."""
    return _per_channel("powermean", x, _broadcast_exponents(x, p))


def gem_broadcast_p_first(x, p):
    """Broken: ``p`` of shape ``(1, C, 1, 1)``, every channel pooled with ``p[:, 0]``."""
    return _per_channel("powermean", x, _broadcast_exponents(x, p)[:1])
