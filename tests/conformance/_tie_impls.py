"""Global max/min pooling written for the tests with each tie convention (2-D, (N, C, H, W) or
(C, H, W) in, the same rank out, spatial axes kept as 1): the derivative at a tie to the first
element (torch's max_pool), split evenly (torch.amax), to the last, and one defect: the whole
derivative to every tied element (a mask ``x == y`` times the upstream gradient)."""

from __future__ import annotations

import torch


class _Masked(torch.autograd.Function):
    """y = max over the plane; dy/dx given by ``weights(x, y)``."""

    @staticmethod
    def forward(ctx, x, pick, weights):
        _check(x)
        flat = x.flatten(-2)
        y = flat.amax(-1) if pick == "max" else flat.amin(-1)
        ctx.save_for_backward(flat, y)
        ctx.weights, ctx.shape = weights, x.shape
        return y[..., None, None]

    @staticmethod
    def backward(ctx, g):
        flat, y = ctx.saved_tensors
        w = ctx.weights(flat, y[..., None]).to(g.dtype)
        return (w * g.flatten(-2)).reshape(ctx.shape), None, None


def _check(x):
    if x.dim() not in (3, 4):
        raise ValueError(f"expected (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")


def _first(flat, y):
    tied = flat == y
    first = tied.to(torch.int8).argmax(-1, keepdim=True)
    return torch.zeros_like(flat).scatter_(-1, first, 1.0)


def _last(flat, y):
    return _first(flat.flip(-1), y).flip(-1)


def _split(flat, y):
    tied = (flat == y).to(flat.dtype)
    return tied / tied.sum(-1, keepdim=True)


def _every(flat, y):
    return (flat == y).to(flat.dtype)


def max_first(x):
    return _Masked.apply(x, "max", _first)


def max_split(x):
    _check(x)
    return x.amax((-2, -1), keepdim=True)  # torch's own: 1/k to each tied element


def max_last(x):
    return _Masked.apply(x, "max", _last)


def max_every(x):
    return _Masked.apply(x, "max", _every)


def min_split(x):
    return _Masked.apply(x, "min", _split)
