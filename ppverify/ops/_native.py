"""The optional compiled fast path: ``ppool_kernel.cpp`` built with g++ on first use.

The kernel is plain C++ (OpenMP, no torch headers, so it compiles in about a second), loaded
with ``ctypes`` and called from the ``ppverify::pool`` custom ops of ``ppverify.ops._dispatch``
(which is what ``torch.compile`` and ``torch.export`` see). It handles windowed P-pooling of
CPU tensors of float32 (and float16/bfloat16 via float32) with float64 arithmetic; everything
else uses the pure-torch implementation.

``available()`` is False, and the pure-torch path is chosen automatically, when there is no
compiler, the build fails, or ``PPVERIFY_NATIVE=0`` is set. The shared library is cached in
``$PPVERIFY_CACHE`` (default ``~/.cache/ppverify``) under a hash of the source, the flags and the
CPU's feature flags (the build uses ``-march=native``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("ppool_kernel.cpp")
FLAGS = ["-O3", "-march=native", "-fopenmp", "-fno-math-errno", "-fno-trapping-math",
         "-shared", "-fPIC", "-std=c++17"]

_lock = threading.Lock()
_lib = None
_tried = False
build_seconds: float | None = None  # compile time of this process's build (None if cached)
build_error: str | None = None


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line
    except OSError:
        pass
    import platform

    return platform.processor() + platform.machine()


def _cache_dir() -> Path:
    root = os.environ.get("PPVERIFY_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "ppverify")
    return Path(root)


def library_path() -> Path:
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()
                         + _cpu_flags().encode()).hexdigest()[:16]
    return _cache_dir() / f"ppool_kernel_{key}.so"


def _build(target: Path) -> None:
    global build_seconds
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise RuntimeError("no C++ compiler found (set CXX)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    start = time.perf_counter()
    try:
        subprocess.run([compiler, *FLAGS, str(SOURCE), "-o", tmp], check=True,
                       capture_output=True, text=True, timeout=300)
        os.replace(tmp, target)  # atomic: concurrent builders never see a partial file
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"compiling {SOURCE.name} failed:\n{err.stderr}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    build_seconds = time.perf_counter() - start


def load():
    """Build (if needed) and load the kernel library; return it or None."""
    global _lib, _tried, build_error
    if os.environ.get("PPVERIFY_NATIVE", "1") == "0":
        return None
    if _tried:
        return _lib
    with _lock:
        if _tried:
            return _lib
        try:
            path = library_path()
            if not path.exists():
                _build(path)
            lib = ctypes.CDLL(str(path))
            i64p = ctypes.POINTER(ctypes.c_int64)
            vp = ctypes.c_void_p
            lib.ppool_forward_f32.argtypes = [vp, vp, vp, i64p, ctypes.c_int64, ctypes.c_int,
                                              vp, vp]
            lib.ppool_forward_f32.restype = ctypes.c_int
            lib.ppool_backward_f32.argtypes = [vp, vp, vp, vp, vp, i64p, ctypes.c_int64,
                                               ctypes.c_int, vp, vp, ctypes.c_int]
            lib.ppool_backward_f32.restype = ctypes.c_int
            _lib = lib
        except Exception as err:  # any failure means: use the pure-torch path
            build_error = str(err)
            _lib = None
        _tried = True
    return _lib


def available() -> bool:
    return load() is not None


def _geo_array(geo: list[int]):
    return (ctypes.c_int64 * 18)(*geo)


def _ptr(t: torch.Tensor):
    return t.data_ptr() if t.numel() else None


def forward_f32(x: torch.Tensor, alpha: torch.Tensor, geo: list[int], save: bool = False
                ) -> tuple[torch.Tensor, bool, torch.Tensor, torch.Tensor]:
    """``x``: contiguous float32 (P, D, H, W); ``alpha``: contiguous float64 (P,).

    Returns ``(y, bad, E, y64)``: the output, whether some input is negative, NaN or infinite
    and, with ``save``, each plane's ``E = exp(alpha (ln x - Lc))`` (float32, like ``x``) and the
    unrounded output (float64) for the backward (empty tensors otherwise). Called from the
    ``ppverify::pool`` custom op (``ppverify.ops._dispatch``), never traced.
    """
    lib = load()
    out = torch.empty((x.shape[0], geo[3], geo[4], geo[5]), dtype=torch.float32)
    e = torch.empty_like(x) if save else x.new_empty(0)
    y64 = torch.empty(out.shape, dtype=torch.float64) if save else x.new_empty(
        0, dtype=torch.float64)
    bad = lib.ppool_forward_f32(x.data_ptr(), alpha.data_ptr(), out.data_ptr(),
                                _geo_array(geo), x.shape[0], torch.get_num_threads(), _ptr(e),
                                _ptr(y64))
    return out, bool(bad), e, y64


def backward_f32(x: torch.Tensor, alpha: torch.Tensor, grad_out: torch.Tensor, e: torch.Tensor,
                 y64: torch.Tensor, geo: list[int], need_alpha: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (grad_input float32 like x, dalpha float64 (P,) per-plane sums). ``e`` and
    ``y64`` are the forward's saves, or empty tensors to recompute everything."""
    lib = load()
    gin = torch.empty_like(x)
    dalpha = torch.empty(x.shape[0], dtype=torch.float64)
    lib.ppool_backward_f32(x.data_ptr(), alpha.data_ptr(), grad_out.data_ptr(), gin.data_ptr(),
                           dalpha.data_ptr(), _geo_array(geo), x.shape[0],
                           torch.get_num_threads(), _ptr(e), _ptr(y64), int(need_alpha))
    return gin, dalpha


def geometry_list(geometry, spatial, out_spatial) -> list[int]:
    """The kernel's 18 geometry integers, with 1-D/2-D pooling embedded in 3-D."""
    pad = 3 - geometry.dims

    def full(t, fill):
        return [fill] * pad + list(t)

    return (full(spatial, 1) + full(out_spatial, 1) + full(geometry.kernel_size, 1)
            + full(geometry.stride, 1) + full(geometry.padding, 0) + full(geometry.dilation, 1))
