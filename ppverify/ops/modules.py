"""``PPool1d``, ``PPool2d``, ``PPool3d``: P-pooling layers with a (learnable) alpha.

Options:

* ``alpha``: the initial value (default 1.0);
* ``learnable``: a ``torch.nn.Parameter`` (default) or a fixed buffer;
* ``num_channels``: ``None`` for one alpha shared by all channels, or the number of channels for
  one alpha per channel;
* ``constraint``: how alpha is kept >= 0 when asked:

  - ``"none"`` (default): alpha is the parameter itself, any real value;
  - ``"clamp"``: the parameter is alpha, used as ``max(alpha, 0)`` (its gradient is 0 while it
    is below 0, so it can get stuck there);
  - ``"softplus"``: the parameter is ``rho`` and ``alpha = softplus(rho) = ln(1 + e^rho) > 0``
    (smooth, never exactly 0; the initial alpha must be > 0).

``module.alpha`` is the effective alpha (after the constraint). The pooling itself is
``ppverify.ops.functional.p_pool{1,2,3}d``: its mathematics, conventions and numerics apply.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..windows import make_geometry
from .functional import p_pool

__all__ = ["PPool1d", "PPool2d", "PPool3d", "CONSTRAINTS"]

CONSTRAINTS = ("none", "clamp", "softplus")


def _inverse_softplus(a: float) -> float:
    if a > 30:
        return a + math.log(-math.expm1(-a))
    return math.log(math.expm1(a))


class _PPoolNd(torch.nn.Module):
    dims = 0

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                 alpha: float = 1.0, learnable: bool = True, num_channels: int | None = None,
                 constraint: str = "none", dtype: torch.dtype = torch.float32):
        super().__init__()
        make_geometry(self.dims, kernel_size, stride, padding, dilation, ceil_mode)  # validate
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
        if isinstance(alpha, (bool, str, bytes)):
            raise TypeError(f"alpha must be a real number, got {alpha!r}")
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise TypeError(f"alpha must be a real number, got {alpha!r}") from None
        if not math.isfinite(alpha):
            raise ValueError(f"alpha must be finite, got {alpha}")
        if constraint == "softplus":
            if alpha <= 0:
                raise ValueError(f"alpha must be > 0 with constraint='softplus', got {alpha}")
            raw = _inverse_softplus(alpha)
        else:
            raw = alpha
        if num_channels is not None and (isinstance(num_channels, bool)
                                         or not isinstance(num_channels, int)
                                         or num_channels < 1):
            raise ValueError(f"num_channels must be None or a positive int, got {num_channels!r}")
        shape = () if num_channels is None else (num_channels,)
        value = torch.full(shape, raw, dtype=dtype)
        self.constraint = constraint
        self.num_channels = num_channels
        if learnable:
            self.raw_alpha = torch.nn.Parameter(value)
        else:
            self.register_buffer("raw_alpha", value)

    @property
    def alpha(self) -> torch.Tensor:
        """The effective alpha (after the constraint)."""
        if self.constraint == "softplus":
            return F.softplus(self.raw_alpha)
        if self.constraint == "clamp":
            return self.raw_alpha.clamp(min=0)
        return self.raw_alpha

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return p_pool(input, self.alpha, self.kernel_size, self.stride, self.padding,
                      self.dilation, self.ceil_mode, dims=self.dims)

    def extra_repr(self) -> str:
        a = self.alpha.detach()
        shown = f"{a.item():g}" if a.dim() == 0 else f"per channel ({a.numel()})"
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}, alpha={shown}, "
                f"learnable={isinstance(self.raw_alpha, torch.nn.Parameter)}, "
                f"constraint={self.constraint!r}")


class PPool1d(_PPoolNd):
    """1-D P-pooling layer; see the module docstring for the alpha options."""

    dims = 1


class PPool2d(_PPoolNd):
    """2-D P-pooling layer; see the module docstring for the alpha options."""

    dims = 2


class PPool3d(_PPoolNd):
    """3-D P-pooling layer; see the module docstring for the alpha options."""

    dims = 3
