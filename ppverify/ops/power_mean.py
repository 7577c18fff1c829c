"""The power mean (GeM) and the Lp norm as stable torch ops: ``gem_pool1d/2d/3d``,
``adaptive_gem_pool1d/2d/3d``, ``gem`` (global), ``lp_pool1d/2d/3d`` (torch's signature) and
``adaptive_lp_pool1d/2d/3d``.

Mathematics
-----------
Over each window of ``n`` input elements (padding excluded)::

    power mean (GeM)  M_p = ((1/n) Σ x^p)^(1/p)        p = 0: the geometric mean exp(mean ln x)
    Lp norm           L_p = (Σ x^p)^(1/p)              (supplement Eq. 1; p = 0 is undefined)

``M_1`` is the average, ``M_p -> max`` as p -> +inf and ``min`` as p -> -inf; the corrected
derivatives are ``dM/dx_i = (1/n) (x_i / M)^(p-1)`` and ``dL/dx_i = (x_i / L)^(p-1)``, and
``dy/dp = (y / p^2) (Σ u_i ln u_i + ln D)`` with ``u_i = x_i^p / Σ x^p`` and ``D = n`` (power
mean) or 1 (Lp) (``ppverify prove`` claims PM.* and E2.*.correct).

Conventions (exactly the oracle's, ``ppverify.oracle.operators``)
-----------------------------------------------------------------
* Inputs must be finite and ``>= 0``. Zeros with p > 0 add nothing to the sum but count in the
  power mean's n; at a zero ``dy/dx`` is 0 for p > 1, ``1`` (Lp) or ``1/n`` (power mean) at
  p = 1 and ``+inf`` for 0 < p < 1, **returned as 0**. An all-zero window gives 0 with
  ``dy/dx_i = n^(-1/p)`` (power mean) or 1 (Lp), ``dy/dp = 0``.
* The geometric mean (p = 0) of a window with a zero is 0, every derivative 0 (the one at a
  single zero is +inf, returned as 0) and ``dy/dp = 0``.
* A zero with p < 0 (``x^p`` infinite), p = 0 for the Lp norm, negative, NaN or infinite inputs
  and a non-finite p raise ``ValueError`` naming the argument (or give NaN with
  ``validate=False``).

Differences from ``torch.nn.functional.lp_pool2d`` (whose arguments ``lp_pool2d`` takes): a
``ceil_mode`` partial window is the norm of its own elements (torch scales it by the full
kernel size); ``x^p`` never overflows or underflows (torch's ``x.pow(p)`` does: float16 x = 300
with p = 2 gives inf, float64 x = 1e-200 gives 0); the gradient at an all-zero window is the
one-sided derivative 1 (torch: 0); ``norm_type`` may be a (learnable) tensor, per channel;
negative inputs are refused (torch squares them). Against the usual GeM code
``avg_pool(x.clamp(min=eps).pow(p)).pow(1/p)``: no ``eps`` clamp (zeros are exact), no overflow
of ``x.pow(p)`` in float16/bfloat16, no NaN parameter gradient on dead (all-zero) channels.

Numerics: every window is evaluated relative to its dominant element (max for p > 0, min for
p < 0), so no intermediate overflows for any finite input and p (``ppverify.ops._torch_power``);
float64 inside, rounded once to the input's dtype. On CPU, float32 / bfloat16 / float16 inputs
run on the C++ kernel (``power_kernel.inc``: each element's ``x^p`` once per plane relative
to the plane's dominant element, then window sums; its exact engine, the formulas below, for
p near 0 and the windows the fast form cannot serve); float64 and other devices on the
pure-torch backend (``ppverify.ops._torch_power``), the reference. ``validate``, autocast,
compile, export, torch.func: as P-pooling (``ppverify.ops.functional``).
"""

from __future__ import annotations

from torch import Tensor

from . import _layout
from ._dispatch import pool

__all__ = ["gem_pool", "gem_pool1d", "gem_pool2d", "gem_pool3d", "adaptive_gem_pool",
           "adaptive_gem_pool1d", "adaptive_gem_pool2d", "adaptive_gem_pool3d", "gem",
           "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_lp_pool1d", "adaptive_lp_pool2d",
           "adaptive_lp_pool3d"]


def gem_pool(input, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             dims: int, validate: bool = True) -> Tensor:
    """Power mean over torch's pooling windows in ``dims`` spatial dimensions."""
    geometry = _layout.windowed(dims, kernel_size, stride, padding, dilation, ceil_mode)
    return pool("powermean", input, p, geometry, validate)


def gem_pool1d(input, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
               validate: bool = True) -> Tensor:
    """1-D power mean (GeM) of an ``(N, C, L)`` or ``(C, L)`` input over ``max_pool1d``'s
    windows; ``p`` is a float, a 0-d tensor or one value per channel (any real; 0 is the
    geometric mean). Padded positions are excluded. See ``ppverify.ops.power_mean``."""
    return gem_pool(input, p, kernel_size, stride, padding, dilation, ceil_mode, dims=1,
                    validate=validate)


def gem_pool2d(input, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
               validate: bool = True) -> Tensor:
    """2-D power mean (GeM) over ``max_pool2d``'s windows; see ``gem_pool1d``."""
    return gem_pool(input, p, kernel_size, stride, padding, dilation, ceil_mode, dims=2,
                    validate=validate)


def gem_pool3d(input, p, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
               validate: bool = True) -> Tensor:
    """3-D power mean (GeM) over ``max_pool3d``'s windows; see ``gem_pool1d``."""
    return gem_pool(input, p, kernel_size, stride, padding, dilation, ceil_mode, dims=3,
                    validate=validate)


def adaptive_gem_pool(input, p, output_size, *, dims: int, validate: bool = True) -> Tensor:
    """Power mean over adaptive windows (``adaptive_avg_pool{dims}d``'s) to ``output_size``."""
    return pool("powermean", input, p, _layout.adaptive(dims, output_size), validate)


def adaptive_gem_pool1d(input, p, output_size, *, validate: bool = True) -> Tensor:
    """Adaptive 1-D power mean; ``output_size=1`` is global GeM."""
    return adaptive_gem_pool(input, p, output_size, dims=1, validate=validate)


def adaptive_gem_pool2d(input, p, output_size, *, validate: bool = True) -> Tensor:
    """Adaptive 2-D power mean (``output_size`` an int or ``(H, W)``, entries may be None);
    ``output_size=1`` is global GeM, as ``gem``."""
    return adaptive_gem_pool(input, p, output_size, dims=2, validate=validate)


def adaptive_gem_pool3d(input, p, output_size, *, validate: bool = True) -> Tensor:
    """Adaptive 3-D power mean; ``output_size=1`` is global GeM."""
    return adaptive_gem_pool(input, p, output_size, dims=3, validate=validate)


def gem(input, p=3.0, *, dims: int = 2, validate: bool = True) -> Tensor:
    """Global GeM: the power mean of each whole plane, shaped like
    ``adaptive_avg_pool2d(x, 1)`` (``(N, C, 1, 1)`` for ``dims=2``). No ``eps`` is needed."""
    return adaptive_gem_pool(input, p, 1, dims=dims, validate=validate)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *,
              validate: bool = True) -> Tensor:
    """``torch.nn.functional.lp_pool1d``'s signature: the Lp norm ``(Σ x^p)^(1/p)`` of each
    window of a non-negative input, stable (see ``ppverify.ops.power_mean`` for the
    differences from torch)."""
    geometry = _layout.windowed(1, kernel_size, stride, 0, 1, ceil_mode)
    return pool("lp", input, norm_type, geometry, validate)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *,
              validate: bool = True) -> Tensor:
    """``torch.nn.functional.lp_pool2d``'s signature; see ``lp_pool1d``."""
    geometry = _layout.windowed(2, kernel_size, stride, 0, 1, ceil_mode)
    return pool("lp", input, norm_type, geometry, validate)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False, *,
              validate: bool = True) -> Tensor:
    """``torch.nn.functional.lp_pool3d``'s signature; see ``lp_pool1d``."""
    geometry = _layout.windowed(3, kernel_size, stride, 0, 1, ceil_mode)
    return pool("lp", input, norm_type, geometry, validate)


def adaptive_lp_pool1d(input, norm_type, output_size, *, validate: bool = True) -> Tensor:
    """The Lp norm over adaptive windows; ``output_size=1``: of each whole plane."""
    return pool("lp", input, norm_type, _layout.adaptive(1, output_size), validate)


def adaptive_lp_pool2d(input, norm_type, output_size, *, validate: bool = True) -> Tensor:
    """The Lp norm over ``adaptive_avg_pool2d``'s windows; see ``adaptive_lp_pool1d``."""
    return pool("lp", input, norm_type, _layout.adaptive(2, output_size), validate)


def adaptive_lp_pool3d(input, norm_type, output_size, *, validate: bool = True) -> Tensor:
    """The Lp norm over ``adaptive_avg_pool3d``'s windows; see ``adaptive_lp_pool1d``."""
    return pool("lp", input, norm_type, _layout.adaptive(3, output_size), validate)
