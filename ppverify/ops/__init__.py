"""A fast, numerically stable P-pooling op for torch (imports neither sympy nor mpmath).

``p_pool1d/2d/3d`` (functional) and ``PPool1d/2d/3d`` (modules with a learnable alpha); the
mathematics and conventions are stated in ``ppverify.ops.functional``. A compiled CPU kernel
(``ppverify.ops._native``) serves float32/float16/bfloat16 when g++ is available; otherwise, and
for float64 or other devices, a pure-torch implementation (``ppverify.ops._torch_impl``) runs.
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
from .modules import CONSTRAINTS, PPool1d, PPool2d, PPool3d

__all__ = ["CONSTRAINTS", "decompositions", "PPool1d", "PPool2d", "PPool3d", "adaptive_p_pool",
           "adaptive_p_pool1d", "adaptive_p_pool2d", "adaptive_p_pool3d", "p_pool", "p_pool1d",
           "p_pool2d", "p_pool3d"]


def native_available() -> bool:
    """True when the compiled kernel is built (or can be) and will be used for CPU float32."""
    from . import _native

    return _native.available()
