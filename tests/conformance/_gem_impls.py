"""GeM / power-mean / Lp layers as libraries ship them, written for the tests: correct ones (a
careful power mean after the usual ``clamp(min=eps)``) and broken ones, each with one defect
seen in public implementations. Each is checked by one ``ppverify check`` command with no
wrapper code (see test_gem.py). 2-D pooling over the last two axes.

Correct:
* ``gem(x, p=3, eps=1e-6)``: global GeM function.
* ``GeM(p=3, eps=1e-6)``: global GeM module, learnable ``p`` (an ``nn.Parameter``).
* ``GeMFixed(p=3, eps=1e-6)``: global GeM module, ``p`` a plain float (not trained).
* ``GeMSoftplus(p=3, eps=1e-6)``: stores ``raw_p`` and uses ``p = softplus(raw_p) + 1``.
* ``power_mean_adaptive(x, p, output_size)``: adaptive power mean; ``power_mean_global(x,
  p)`` the global one, with no clamp.
* ``LpPool(norm_type, kernel_size, stride=None, ceil_mode=False)``: windowed Lp module.
* ``GeMHead(p=3, eps=1e-6)``: a GeM neck as classification heads ship it: only batched
  ``(N, C, H, W)`` input, output ``(N, C)`` (the pooled planes flattened); it supports only
  ``p >= 1`` (its constructor asserts it, as OpenMMLab's does).

Broken:
* ``gem_naive``: the textbook ``avg_pool2d(x.clamp(min=eps).pow(p), (H, W)).pow(1/p)``: in
  float16, ``x**3`` overflows for ordinary activations above 40.
* ``GeMExp``: stores ``raw_p`` and uses ``p = exp(raw_p) + 1``, while its documentation (and the
  check) says ``softplus(raw_p) + 1``: a parameter used through the wrong transform.
* ``gem_clamped``: a correct GeM whose output is clamped to [0, 100] (a fixed range).
* ``lehmer_global``: global Lehmer mean normalised by the plane's maximum, unguarded: 0/0 on an
  all-zero plane.
* ``gem_positional(x, p, eps)``: correct, but it takes ``eps`` third: given to the windowed
  convention it receives the kernel size as ``eps``.
* ``GeMDeadChannel``: careful values and input gradients, but ``dy/dp`` is NaN on a dead
  (all-zero) channel: ``log(mean x^p)`` of a zero mean times ``y = 0``.
* ``GeMHeadNaive``: ``GeMHead`` computing the textbook formula (``gem_naive``).
* ``GeMHeadTransposed``: ``GeMHead`` returning ``(C, N)``: flattened in the wrong order.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import _careful

_GLOBAL_POWERMEAN = _careful.make("powermean", 2, "global")
_GLOBAL_PPOOL = _careful.make("ppool", 2, "global")
_ADAPTIVE_POWERMEAN = _careful.make("powermean", 2, "adaptive")


def gem(x, p=3, eps=1e-6):
    """GeM: the power mean of ``x.clamp(min=eps)`` over each plane, one value per channel."""
    return _GLOBAL_POWERMEAN(x.clamp(min=eps), p)


class GeM(torch.nn.Module):
    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.p = torch.nn.Parameter(torch.ones(1) * p)
        self.eps = eps

    def forward(self, x):
        return gem(x, self.p, self.eps)


class GeMFixed(torch.nn.Module):
    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.p = float(p)
        self.eps = eps

    def forward(self, x):
        return gem(x, self.p, self.eps)


def _inverse_softplus(v: float) -> float:
    return v + math.log(-math.expm1(-v))


class GeMSoftplus(torch.nn.Module):
    """Learnable p > 1 stored as ``raw_p`` with ``p = softplus(raw_p) + 1``."""

    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.raw_p = torch.nn.Parameter(torch.tensor([_inverse_softplus(p - 1)]))
        self.eps = eps

    def forward(self, x):
        return gem(x, _softplus(self.raw_p) + 1, self.eps)


class GeMSoftplusProperty(GeMSoftplus):
    """GeMSoftplus exposing ``p`` as a property (a new tensor at each read), as layers that
    store a transformed exponent often do."""

    @property
    def p(self):
        return _softplus(self.raw_p) + 1


def _softplus(v):
    """softplus(v) = log(1 + e^v), written so that its backward cannot overflow (torch's
    F.softplus backward forms grad * e^v before dividing by 1 + e^v: a gradient of 1e307
    reaching it becomes inf)."""
    return torch.log1p(torch.exp(-v.abs())) + torch.relu(v)


def power_mean_adaptive(x, p, output_size):
    return _ADAPTIVE_POWERMEAN(x, p, output_size)


def power_mean_global(x, p):
    """The careful global power mean with no clamp (every positive input in its domain)."""
    return _GLOBAL_POWERMEAN(x, p)


class LpPool(torch.nn.Module):
    """Windowed Lp pooling, torch.nn.LPPool2d's constructor."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = float(norm_type)
        self.kernel_size, self.stride, self.ceil_mode = kernel_size, stride, ceil_mode
        self._pool = _careful.make("lp", 2, "windowed")

    def forward(self, x):
        return self._pool(x, self.norm_type, self.kernel_size, stride=self.stride,
                          ceil_mode=self.ceil_mode)


# ------------------------------------------------------------------ broken ones


def gem_naive(x, p=3, eps=1e-6):
    return F.avg_pool2d(x.clamp(min=eps).pow(p), (x.size(-2), x.size(-1))).pow(1.0 / p)


class GeMExp(torch.nn.Module):
    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        self.raw_p = torch.nn.Parameter(torch.tensor([_inverse_softplus(p - 1)]))
        self.eps = eps

    def forward(self, x):
        return gem(x, torch.exp(self.raw_p) + 1, self.eps)


def gem_clamped(x, p=3, eps=1e-6):
    return gem(x, p, eps).clamp(0.0, 100.0)


def lehmer_global(x, alpha):
    m = x.detach().amax(dim=(-2, -1), keepdim=True)
    return _GLOBAL_PPOOL(x, alpha) * (m / m)  # m / m: 0/0 where the plane is all zero


def gem_positional(x, p, eps=1e-6):
    return gem(x, p, eps)


class _DeadChannelPowerMean(_careful._PowerMean):
    """The careful power mean, without the guard of dy/dp at an all-zero window."""

    @staticmethod
    def backward(ctx, g):
        grad_x, _, _, grad_p, _ = _careful._PowerMean.backward(ctx, g)
        win, _, mask = ctx.saved_tensors[:3]
        dead = ~(mask & (win > 0)).any(-1)
        if grad_p is not None:
            grad_p = torch.where(dead.any() & (g != 0).any(), torch.nan, grad_p)
        return grad_x, None, None, grad_p, None


class GeMDeadChannel(torch.nn.Module):
    def __init__(self, p=3.0):
        super().__init__()
        self.p = torch.nn.Parameter(torch.ones(1) * p)

    def forward(self, x):
        dims = 2
        wdt = torch.float64 if x.dtype == torch.float64 else torch.float32
        lead = x.shape[: x.dim() - dims]
        flat = x.to(wdt).reshape(*lead, -1)
        idx = torch.arange(flat.shape[-1]).reshape(1, -1)  # one window: the plane
        mask = torch.ones(idx.shape, dtype=torch.bool)
        y = _DeadChannelPowerMean.apply(flat, idx, mask, self.p.to(wdt).reshape(()), True)
        return y.reshape(*lead, 1, 1).to(x.dtype)


class GeMHead(GeM):
    """GeM as a network's neck: (N, C, H, W) -> (N, C); p >= 1 only."""

    def __init__(self, p=3.0, eps=1e-6):
        assert p >= 1, "p must be at least 1"
        super().__init__(p, eps)

    def pool(self, x):
        return gem(x, self.p, self.eps)

    def forward(self, x):
        if x.dim() != 4:
            raise ValueError(f"{type(self).__name__} expects (N, C, H, W), got {tuple(x.shape)}")
        return self.pool(x).flatten(1)


class GeMHeadNaive(GeMHead):
    def pool(self, x):
        return gem_naive(x, self.p, self.eps)


class GeMHeadTransposed(GeMHead):
    def forward(self, x):
        return super().forward(x).t()
