"""Fast, numerically stable pooling ops for torch (imports neither sympy nor mpmath).

* P-pooling: ``p_pool1d/2d/3d``, ``adaptive_p_pool1d/2d/3d`` (``ppverify.ops.functional``) and
  the layers ``PPool1d/2d/3d``, ``AdaptivePPool1d/2d/3d`` (learnable alpha);
* the power mean (GeM) and the Lp norm: ``gem_pool1d/2d/3d``, ``adaptive_gem_pool1d/2d/3d``,
  ``gem``, ``lp_pool1d/2d/3d`` (torch's signature), ``adaptive_lp_pool1d/2d/3d``
  (``ppverify.ops.power_mean``) and ``PowerMean1d/2d/3d``, ``AdaptivePowerMean1d/2d/3d``,
  ``GeM``, ``LPPool1d/2d/3d`` (``ppverify.ops.modules``);
* ``decompositions()``: the lowering to standard aten ops for deployment (``_decomp``).

Behind one dispatcher (``ppverify.ops._dispatch``: the ``ppverify::pool`` custom ops): a
compiled CPU kernel (``_native``) for windowed P-pooling in float32/float16/bfloat16 when g++ is
available, and a pure-torch implementation (``_torch_impl``) for everything else.
"""

from ._decomp import decompositions
from .functional import (
    adaptive_p_pool,
    adaptive_p_pool1d,
    adaptive_p_pool2d,
    adaptive_p_pool3d,
    p_pool,
    p_pool1d,
    p_pool2d,
    p_pool3d,
)
from .modules import (
    CONSTRAINTS,
    AdaptivePowerMean1d,
    AdaptivePowerMean2d,
    AdaptivePowerMean3d,
    AdaptivePPool1d,
    AdaptivePPool2d,
    AdaptivePPool3d,
    GeM,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    PowerMean1d,
    PowerMean2d,
    PowerMean3d,
    PPool1d,
    PPool2d,
    PPool3d,
)
from .power_mean import (
    adaptive_gem_pool,
    adaptive_gem_pool1d,
    adaptive_gem_pool2d,
    adaptive_gem_pool3d,
    adaptive_lp_pool1d,
    adaptive_lp_pool2d,
    adaptive_lp_pool3d,
    gem,
    gem_pool,
    gem_pool1d,
    gem_pool2d,
    gem_pool3d,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
)

__all__ = [
    "CONSTRAINTS", "AdaptivePPool1d", "AdaptivePPool2d", "AdaptivePPool3d",
    "AdaptivePowerMean1d", "AdaptivePowerMean2d", "AdaptivePowerMean3d", "GeM", "LPPool1d",
    "LPPool2d", "LPPool3d", "PPool1d", "PPool2d", "PPool3d", "PowerMean1d", "PowerMean2d",
    "PowerMean3d", "adaptive_gem_pool", "adaptive_gem_pool1d", "adaptive_gem_pool2d",
    "adaptive_gem_pool3d", "adaptive_lp_pool1d", "adaptive_lp_pool2d", "adaptive_lp_pool3d",
    "adaptive_p_pool", "adaptive_p_pool1d", "adaptive_p_pool2d", "adaptive_p_pool3d",
    "decompositions", "gem", "gem_pool", "gem_pool1d", "gem_pool2d", "gem_pool3d", "lp_pool1d",
    "lp_pool2d", "lp_pool3d", "p_pool", "p_pool1d", "p_pool2d", "p_pool3d",
]


def native_available() -> bool:
    """True when the compiled kernel is built (or can be) and will be used for CPU float32."""
    from . import _native

    return _native.available()
