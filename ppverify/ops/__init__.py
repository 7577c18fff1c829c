"""A fast, numerically stable P-pooling op for torch (imports neither sympy nor mpmath).

``p_pool1d/2d/3d`` (functional) and ``PPool1d/2d/3d`` (modules with a learnable alpha); the
mathematics and conventions are stated in ``ppverify.ops.functional``.
"""

from .functional import p_pool, p_pool1d, p_pool2d, p_pool3d

__all__ = ["p_pool", "p_pool1d", "p_pool2d", "p_pool3d"]
