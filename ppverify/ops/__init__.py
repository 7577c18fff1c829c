"""Fast, numerically stable pooling ops for torch (imports neither sympy nor mpmath).

* P-pooling: ``p_pool1d/2d/3d``, ``adaptive_p_pool1d/2d/3d`` (``ppverify.ops.functional``) and
  the layers ``PPool1d/2d/3d``, ``AdaptivePPool1d/2d/3d`` (learnable alpha);
* the power mean (GeM) and the Lp norm: ``gem_pool1d/2d/3d``, ``adaptive_gem_pool1d/2d/3d``,
  ``gem``, ``lp_pool1d/2d/3d`` (torch's signature), ``adaptive_lp_pool1d/2d/3d``
  (``ppverify.ops.power_mean``) and ``PowerMean1d/2d/3d``, ``AdaptivePowerMean1d/2d/3d``,
  ``GeM``, ``LPPool1d/2d/3d`` (``ppverify.ops.modules``);
* ``decompositions()``: the lowering to standard aten ops for deployment (``_decomp``).

Behind one dispatcher (``ppverify.ops._dispatch``: the ``ppverify::pool`` custom ops): Triton
kernels (``_triton``) for P-pooling of CUDA tensors when Triton is installed (``pip install
'ppverify[gpu]'``), a compiled CPU kernel (``_native``) for windowed P-pooling in
float32/float16/bfloat16 when g++ is available, and a pure-torch implementation
(``_torch_impl``) for everything else; where a kernel could have served but cannot run, a
``FallbackWarning`` says why, once. ``native_available()`` and ``triton_available()`` report the
two kernels.
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
    "lp_pool2d", "lp_pool3d", "native_available", "native_vector_code", "p_pool", "p_pool1d",
    "p_pool2d", "p_pool3d",
    "triton_available", "triton_unavailable_reason",
]


def native_available() -> bool:
    """True when the compiled CPU kernel is built (or can be) and serves windowed P-pooling of
    CPU float32/float16/bfloat16 tensors; False when there is no C++ compiler, the build
    failed (``ppverify.ops._native.build_error`` says why) or ``PPVERIFY_NATIVE=0`` is set."""
    from . import _native

    return _native.available()


def native_vector_code() -> str | None:
    """Which vector code the compiled CPU kernel runs on this CPU, or None when the kernel is
    not available (``native_available()`` is False): ``"avx512"`` (a CPU with AVX-512F),
    ``"avx2"`` (AVX2 and FMA without AVX-512: the same AVX-512 code, each 8-lane operation on
    two 256-bit halves: the same results, but for the one exception ``simd8.inc`` documents,
    and fewer elements per cycle: README, "Speed and memory"), ``"neon"`` (ARM64: that code
    again, each 256-bit operation on two 128-bit NEON registers, ``avx2_neon.inc``) or
    ``"scalar"`` (none of these: the same arithmetic one lane at a time, several times
    slower). The kernel is built with ``-march=native`` (ARM64: ``-mcpu=native``): this is a
    property of the machine that built it."""
    from . import _native

    return _native.vector_isa() if _native.available() else None


def triton_available(device=None) -> bool:
    """True when the Triton kernels serve P-pooling of CUDA tensors on ``device`` (default: the
    current CUDA device): Triton is installed (``pip install 'ppverify[gpu]'``), torch sees a
    CUDA device Triton supports, and ``PPVERIFY_TRITON=0`` is not set.
    ``triton_unavailable_reason(device)`` names what is missing."""
    from . import _triton

    return _triton.available(device)


def triton_unavailable_reason(device=None) -> str | None:
    """None when ``triton_available(device)``, else the reason and the fix, in one sentence."""
    from . import _triton

    return _triton.unavailable_reason(device)
