"""P-pooling as a torch op: ``p_pool1d/2d/3d`` (windowed) and ``adaptive_p_pool1d/2d/3d``.

Mathematics
-----------
Over each pooling window ``R`` (torch's window layout, ``ppverify.windows``)::

    y = Σ_{i∈R} x_i^(α+1) / Σ_{i∈R} x_i^α           (the Lehmer mean of the window)

α = 0 is the average, α = -1 the harmonic mean, α → +∞ the max, α → -∞ the min. With
``w_i = x_i^α / Σ x^α`` the analytic derivatives are::

    dy/dx_i = w_i (1 + α (x_i - y) / x_i)          (= w_i((α+1) - α y / x_i), without cancellation)
    dy/dα   = Σ_i w_i ln(x_i / R) (x_i - y)        (any constant R; the op centres at the window's
                                                     dominant element to avoid cancellation)

Conventions (exactly the oracle's, ``ppverify.oracle.operators``)
-----------------------------------------------------------------
* Padded positions are *excluded* from the window (they are not zeros).
* Inputs must be finite and ``>= 0``. Zeros (``k`` of them among ``N`` window elements):

  - α = 0: ``0^0 = 1``: ``y`` is the mean of all ``N`` elements, ``dy/dx_i = 1/N``; with zeros
    and positives ``dy/dα`` is infinite (``y`` jumps at α = 0) and returned as 0.
  - α > 0: zeros drop out of both sums; at a zero ``dy/dx`` is 0 for α > 1, ``-y / Σ_{x>0} x``
    for α = 1, and ``-inf`` for 0 < α < 1, **returned as 0** (the infinite-derivative
    convention, never NaN).
  - α < 0: a zero makes ``y = 0``. With two or more zeros every derivative is 0; with exactly one
    zero, the positives get 0 and the zero gets 1 (α < -1), ``N`` (α = -1) or ``+inf``
    (-1 < α < 0) returned as 0. ``dy/dα = 0``.
  - an all-zero window: ``y = 0``; ``dy/dx_i`` is 1 for α > 0, ``1/N`` for α = 0, and for α < 0
    1 if ``N = 1`` else 0; ``dy/dα = 0``.

* Negative inputs are rejected (``x^α`` is not real for a non-integer α; the op does not
  implement the integer-α extension to negative inputs that the oracle evaluates exactly), as are
  NaN and infinite inputs and non-finite α.

* Adaptive and global pooling (``adaptive_p_pool{1,2,3}d``) use torch's adaptive window rule:
  along an axis of length ``L`` pooled to ``n`` outputs, window ``i`` is
  ``[floor(i L / n), ceil((i + 1) L / n))`` (``ppverify.windows``); ``output_size=1`` is global
  pooling, one window per plane.

Validation (``validate=True``, the default) raises ``ValueError`` naming the first offending
element for negative, NaN or infinite inputs in a window, and for a non-finite α; it runs inside
the op, so compiled and exported graphs keep it without a graph break. ``validate=False`` skips
its host synchronisation and gives NaN in the affected windows instead
(``ppverify.ops._dispatch`` states the cost).

Numerics: every window is evaluated relative to its dominant element (see
``ppverify.ops._torch_impl``), so no intermediate overflows for any finite input and any finite
α. All dtypes are computed in float64 and rounded once to the input's dtype. Under ``autocast``
the op is not cast: it runs in its input's dtype (like ``max_pool2d``), with the same accuracy.

Paths: on CPU, windowed float32/float16/bfloat16 go through the compiled kernel
(``ppverify.ops._native``) when it is available; float64, adaptive layouts, other devices and
machines without a compiler use the pure-torch implementation, as do double backward
(``create_graph=True``), ``torch.func`` transforms and forward-mode AD.
"""

from __future__ import annotations

from torch import Tensor

from . import _layout
from ._dispatch import pool

__all__ = ["p_pool", "p_pool1d", "p_pool2d", "p_pool3d", "adaptive_p_pool", "adaptive_p_pool1d",
           "adaptive_p_pool2d", "adaptive_p_pool3d"]


def p_pool(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
           dims: int, validate: bool = True) -> Tensor:
    """P-pooling over ``dims`` spatial dimensions; see the module docstring."""
    geometry = _layout.windowed(dims, kernel_size, stride, padding, dilation, ceil_mode)
    return pool("ppool", input, alpha, geometry, validate)


def p_pool1d(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             validate: bool = True) -> Tensor:
    """1-D P-pooling of an ``(N, C, L)`` or ``(C, L)`` input; see ``ppverify.ops.functional``.

    ``alpha`` is a float, a 0-d tensor or a tensor of one value per channel; the other arguments
    are those of ``torch.nn.functional.max_pool1d``. Padded positions are excluded from windows.
    """
    return pool("ppool", input, alpha,
                _layout.windowed(1, kernel_size, stride, padding, dilation, ceil_mode), validate)


def p_pool2d(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             validate: bool = True) -> Tensor:
    """2-D P-pooling of an ``(N, C, H, W)`` or ``(C, H, W)`` input; see ``p_pool1d``."""
    return pool("ppool", input, alpha,
                _layout.windowed(2, kernel_size, stride, padding, dilation, ceil_mode), validate)


def p_pool3d(input, alpha, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
             validate: bool = True) -> Tensor:
    """3-D P-pooling of an ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input; see ``p_pool1d``."""
    return pool("ppool", input, alpha,
                _layout.windowed(3, kernel_size, stride, padding, dilation, ceil_mode), validate)


def adaptive_p_pool(input, alpha, output_size, *, dims: int, validate: bool = True) -> Tensor:
    """Adaptive P-pooling to ``output_size`` over ``dims`` spatial dimensions."""
    return pool("ppool", input, alpha, _layout.adaptive(dims, output_size), validate)


def adaptive_p_pool1d(input, alpha, output_size, *, validate: bool = True) -> Tensor:
    """Adaptive 1-D P-pooling with ``torch.nn.functional.adaptive_avg_pool1d``'s windows.

    ``output_size`` is an int (``1``: global pooling, one value per channel) or a 1-tuple;
    ``None`` keeps the input's length. ``alpha`` as in ``p_pool1d``.
    """
    return adaptive_p_pool(input, alpha, output_size, dims=1, validate=validate)


def adaptive_p_pool2d(input, alpha, output_size, *, validate: bool = True) -> Tensor:
    """Adaptive 2-D P-pooling (``adaptive_avg_pool2d``'s windows); ``output_size=1`` is global
    P-pooling. ``output_size`` is an int or an ``(H, W)`` tuple whose entries may be None."""
    return adaptive_p_pool(input, alpha, output_size, dims=2, validate=validate)


def adaptive_p_pool3d(input, alpha, output_size, *, validate: bool = True) -> Tensor:
    """Adaptive 3-D P-pooling (``adaptive_avg_pool3d``'s windows); see ``adaptive_p_pool2d``."""
    return adaptive_p_pool(input, alpha, output_size, dims=3, validate=validate)
