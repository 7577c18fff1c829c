"""The Triton backend: P-pooling of CUDA tensors (``_triton_kernels.py``), called from the
``ppverify::pool`` custom ops of ``ppverify.ops._dispatch``.

It serves every layout (windowed, adaptive, global; 1-D to 3-D), every float dtype (float64
arithmetic inside, or the mixed arithmetic below; one rounding to the input's dtype), any
strides (channels_last outputs and gradients keep the input's memory format), a scalar,
per-channel or per-plane alpha, forward and backward (input and alpha). Triton is optional
(``pip install 'ppverify[gpu]'``); without it, or on a device it cannot serve, the dispatcher
takes the pure-torch path and ``ppverify.ops._fallback`` warns once.

``available()`` / ``unavailable_reason()`` say whether CUDA tensors are served here (exposed as
``ppverify.ops.triton_available()``); ``serves(x)`` is the dispatcher's test.

Environment:

* ``PPVERIFY_TRITON=0``: never use these kernels (the pure-torch path serves CUDA tensors).
* ``PPVERIFY_TRITON_ARITHMETIC=mixed``: float32, float16 and bfloat16 inputs in the mixed
  arithmetic (``arithmetic``; default ``float64``, the kernels measured on a GPU).
* ``PPVERIFY_TRITON=cpu``: also run the kernels on CPU tensors, through Triton's interpreter
  (``TRITON_INTERPRET=1``, numpy on the CPU): what the tests and ``ppverify check`` use to test
  the kernels on a machine without a GPU. Slow; for testing only.
* ``PPVERIFY_TRITON_TILE=T``: window elements per program (a power of two, 16 to 2^14),
  one plane per program, instead of the default (512 on a GPU, 16384 packed planes under the
  interpreter): the tests' way to run a GPU's tile shapes through the interpreter.

Compiled or interpreted: Triton decides when a kernel is *defined* (``@triton.jit`` reads
``TRITON_INTERPRET`` then), so ``_kernels(interpret)`` executes ``_triton_kernels.py`` as its
own module for each mode, with ``TRITON_INTERPRET`` set accordingly during that import only
(the process's environment is restored at once): compiled kernels for CUDA tensors and
interpreted ones for CPU tensors can live in one process, whatever was imported first. A user
who sets ``TRITON_INTERPRET=1`` gets interpreted kernels for CUDA tensors too.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib.util
import math
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from ..windows import AdaptiveGeometry, adaptive_axis_bounds, axis_windows
from ._layout import Layout, out_spatial

ENV = "PPVERIFY_TRITON"
KERNELS = Path(__file__).with_name("_triton_kernels.py")
TILE = 512                 # tile elements per program on a GPU (rows x window elements)
INTERPRETER_TILE = 16384   # larger tiles under the interpreter: fewer (slow) programs
MIN_TILE, MAX_TILE = 16, 2 ** 14  # PPVERIFY_TRITON_TILE's range (_row_sum's halvings: 14)
NUM_WARPS = 4
MIN_VERSION = (3, 4)              # compiling for a GPU (run on an H200 with 3.6.0)
# The interpreter: 3.7 or newer, or 3.4-3.6 with numpy < 2.4 (their interpreter turns a run-time
# loop bound into a Python int with int() of a 1-element array, which numpy 2.4 refuses; 3.7
# squeezes it first). tests/ops/test_triton.py passed in the interpreter on 3.4.0, 3.5.1, 3.6.0
# (numpy 2.2.6), 3.7.1, 3.8.0, 3.9.0 (numpy 2.4.6). The interpreter rounds fma's product
# before 3.9; the kernels use fma only where that rounding does not matter.
MIN_INTERPRETER_VERSION = (3, 7)
NUMPY_FOR_OLD_INTERPRETER = (2, 4)  # 3.4-3.6's interpreter needs numpy below this

launches = 0               # kernel launches in this process (tests check the kernels ran)
kernel_launches: collections.Counter = collections.Counter()  # the same, by kernel name
_lock = threading.Lock()
_modules: dict[bool, object] = {}
_import_error: str | None = None


# ------------------------------------------------------------------------------ availability


def _environ_mapping():
    """``(mapping, encode_key, encode_value, decode_value)`` of the mapping ``os.environ``
    keeps (``os.environ._data``, which every assignment to ``os.environ`` updates), or None
    where it is not there. A lookup in it costs about 60 ns; ``os.environ.get`` of an unset
    variable about 1 us (it raises and catches ``KeyError``). The readers below use it to read
    a variable afresh at every call (the tests change them at run time) but cheaply."""
    data = getattr(os.environ, "_data", None)
    coders = tuple(getattr(os.environ, name, None)
                   for name in ("encodekey", "encodevalue", "decodevalue"))
    if not isinstance(data, dict) or None in coders:
        return None
    return (data, *coders)


def _environ_getter(name: str):
    """A function returning ``os.environ.get(name)`` (``_environ_mapping``)."""
    mapping = _environ_mapping()
    if mapping is None:
        return lambda: os.environ.get(name)
    data, encode_key, _, decode_value = mapping
    key = encode_key(name)

    def get():
        value = data.get(key)
        return None if value is None else decode_value(value)
    return get


_interpret_setting = _environ_getter("TRITON_INTERPRET")
_triton_setting = _environ_getter(ENV)
_tile_setting = _environ_getter("PPVERIFY_TRITON_TILE")
_arithmetic_setting = _environ_getter("PPVERIFY_TRITON_ARITHMETIC")
ARITHMETICS = ("float64", "mixed")
#: set by ``bench_cuda`` to time both arithmetics in one run (a module attribute: setting the
#: environment at every call would add its own cost to the timing); None: the environment
forced_arithmetic: str | None = None


def arithmetics_for(dtype: torch.dtype) -> tuple[str, ...]:
    """The arithmetics that can serve inputs of ``dtype`` (float64 inputs: float64 only)."""
    return ("float64",) if dtype == torch.float64 else ARITHMETICS


def launch_name(direction: str, arith: str) -> str:
    """The key of ``kernel_launches`` for a ``"forward"`` or ``"backward"`` launch."""
    return f"ppool_{direction}" + ("_mixed" if arith == "mixed" else "")


@contextlib.contextmanager
def forcing_arithmetic(arith: str | None):
    """``forced_arithmetic`` set to ``arith`` for the block, the previous value restored."""
    global forced_arithmetic
    previous, forced_arithmetic = forced_arithmetic, arith
    try:
        yield
    finally:
        forced_arithmetic = previous


def arithmetic(dtype: torch.dtype) -> str:
    """The kernels' arithmetic for inputs of ``dtype``: ``"float64"`` (float64 throughout: the
    kernels measured on an H200) or ``"mixed"`` (the per-element logarithm and exponential in
    float32, ``alpha ln(x/R)`` and the sums in float64: ``ppool_forward_mixed`` and the
    backward's ``MIXED``; for float32 and narrower inputs, chosen by
    ``PPVERIFY_TRITON_ARITHMETIC=mixed``, not yet measured on a GPU). float64 inputs always
    take float64."""
    setting = forced_arithmetic or _arithmetic_setting() or "float64"
    if setting not in ARITHMETICS:
        raise ValueError(f"PPVERIFY_TRITON_ARITHMETIC={setting!r}: expected one of "
                         f"{', '.join(ARITHMETICS)}")
    return "float64" if dtype == torch.float64 else setting


def _env_interpret() -> bool:
    return (_interpret_setting() or "0").lower() in ("1", "true", "on", "yes")


@contextlib.contextmanager
def _environment(key: str, value: str):
    old = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _kernels(interpret: bool):
    """The kernel module, compiled (``interpret=False``) or interpreted; ImportError when
    Triton is not installed."""
    global _import_error
    mod = _modules.get(interpret)
    if mod is not None:
        return mod
    with _lock:
        if interpret in _modules:
            return _modules[interpret]
        try:
            import triton  # noqa: F401
        except ImportError as err:
            _import_error = f"{type(err).__name__}: {err}"
            raise
        name = f"ppverify.ops._triton_kernels_{'interpreted' if interpret else 'compiled'}"
        mod = load_kernels(KERNELS, name, interpret)
        _modules[interpret] = mod
        return mod


def load_kernels(path, name: str, interpret: bool):
    """The kernels' source file ``path`` executed as module ``name``, its kernels defined
    compiled or interpreted (``TRITON_INTERPRET`` set accordingly during that import only):
    ``_kernels``' mechanism, also for the tools and tests that run a modified copy.

    Triton's language is imported first, outside interpreter mode: imported during an
    interpreted import, its own library's functions (``triton.language.standard``) would be
    interpreted ones, and the first launch, which imports ``triton.experimental.gluon``, fails
    (gluon asserts that they are compiled-mode ``JITFunction`` objects)."""
    import triton.language  # noqa: F401

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    with _environment("TRITON_INTERPRET", "1" if interpret else "0"):
        spec.loader.exec_module(mod)
    return mod


@functools.lru_cache(maxsize=1)
def _triton_version() -> str | None:
    try:
        import triton
    except ImportError:
        return None
    return getattr(triton, "__version__", "0")


@functools.lru_cache(maxsize=32)
def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _too_old(minimum: tuple[int, int], what: str) -> str | None:
    version = _triton_version()
    if _version_tuple(version) < minimum:
        wanted = ".".join(map(str, minimum))
        return (f"Triton {version} is too old for {what} (it needs {wanted} or newer): "
                f"pip install 'triton>={wanted}'")
    return None


def _numpy_version() -> tuple[int, ...]:
    import numpy
    return _version_tuple(numpy.__version__)


def interpreter_too_old(what: str) -> str | None:
    """None when Triton's interpreter can run the kernels (Triton >= 3.7, or 3.4-3.6 with
    numpy < 2.4), else a sentence naming the versions and the fix."""
    newer = _too_old(MIN_INTERPRETER_VERSION, what)
    if newer is None:
        return None
    if _too_old(MIN_VERSION, what) is None and _numpy_version() < NUMPY_FOR_OLD_INTERPRETER:
        return None
    wanted = ".".join(map(str, NUMPY_FOR_OLD_INTERPRETER))
    return f"{newer} (or, with Triton 3.4-3.6, numpy older than {wanted})"


def unavailable_reason(device: torch.device | str | None = None) -> str | None:
    """None when tensors on ``device`` (default: the current CUDA device) are served by these
    kernels, else a sentence naming the reason and the fix."""
    device = torch.device("cuda" if device is None else device)
    setting = _triton_setting()
    if setting == "0":
        return f"{ENV}=0 is set (unset it to use the Triton kernels)"
    if device.type == "cpu":
        if setting != "cpu":
            return "CPU tensors use the C++ kernel or the pure-torch path"
        if _triton_version() is None:
            return f"{ENV}=cpu needs Triton: pip install 'ppverify[gpu]' (or 'triton')"
        return interpreter_too_old(f"{ENV}=cpu (Triton's interpreter)")
    if device.type != "cuda":
        return (f"no ppverify kernel for device type {device.type!r} (the Triton kernels "
                f"serve CUDA tensors)")
    if _triton_version() is None:
        return ("Triton is not installed: pip install 'ppverify[gpu]' (or 'triton', the "
                "version your torch build names)")
    old = (interpreter_too_old("ppverify's kernels in Triton's interpreter")
           if _env_interpret() else _too_old(MIN_VERSION, "ppverify's kernels"))
    if old:
        return old
    if not _env_interpret():
        if not torch.cuda.is_available():
            return "torch reports no usable CUDA device (torch.cuda.is_available() is False)"
        index = device.index if device.index is not None else torch.cuda.current_device()
        if torch.version.hip is None:
            major, minor = _capability(index)
            if major < 7:
                return (f"CUDA device {index} has compute capability {major}.{minor}; Triton "
                        f"needs 7.0 or newer")
    return None


@functools.lru_cache(maxsize=64)
def _capability(index: int) -> tuple[int, int]:
    """A CUDA device's compute capability (asked at every launch's availability check; it
    does not change while the process runs)."""
    return torch.cuda.get_device_capability(index)


def available(device: torch.device | str | None = None) -> bool:
    """True when the Triton kernels serve P-pooling of tensors on ``device`` (default CUDA)."""
    return unavailable_reason(device) is None


def _environ_equals(name: str, value: str):
    """A function returning ``os.environ.get(name) == value`` (``_environ_mapping``; the
    value compared encoded, so nothing is decoded)."""
    mapping = _environ_mapping()
    if mapping is None:
        return lambda: os.environ.get(name) == value
    data, encode_key, encode_value, _ = mapping
    key, encoded = encode_key(name), encode_value(value)
    return lambda: data.get(key) == encoded


#: whether ``PPVERIFY_TRITON=cpu`` is set now (read at every call, in about 60 ns)
cpu_opt_in = _environ_equals(ENV, "cpu")


def serves(x: torch.Tensor) -> bool:
    """Whether this backend takes ``x`` (CUDA tensors; CPU ones only with PPVERIFY_TRITON=cpu)."""
    if x.device.type == "cpu" and not cpu_opt_in():
        return False
    return available(x.device)


# --------------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class _Geometry:
    """The kernels' geometry integers (1-D and 2-D embedded in 3-D) and the shape facts the
    launcher needs."""

    ints: tuple[int, ...]        # D H W OD OH OW KD KH KW SD SH SW PD PH PW DD DH DW K
    out: tuple[int, ...]         # the output's spatial shape (dims entries)
    adaptive: bool
    overlap: bool                # some input element lies in two windows
    covers: bool                 # every input element lies in some window
    n_out: int                   # output positions per plane


def _pad3(values, fill) -> list[int]:
    values = [int(v) for v in values]
    return [fill] * (3 - len(values)) + values


@functools.lru_cache(maxsize=256)
def _geometry(layout: Layout, spatial: tuple[int, ...]) -> _Geometry:
    out = tuple(int(o) for o in out_spatial(layout, spatial))
    counts = []
    if isinstance(layout, AdaptiveGeometry):
        kernel = []
        for length, n in zip(spatial, out):
            bounds = adaptive_axis_bounds(length, n)
            kernel.append(max(e - s for s, e in bounds))
            hits = [0] * length
            for s, e in bounds:
                for i in range(s, e):
                    hits[i] += 1
            counts.append(hits)
        ints = (_pad3(spatial, 1) + _pad3(out, 1) + _pad3(kernel, 1) + [1, 1, 1] + [0, 0, 0]
                + [1, 1, 1])
    else:
        for a, length in enumerate(spatial):
            hits = [0] * length
            for w in axis_windows(length, layout.kernel_size[a], layout.stride[a],
                                  layout.padding[a], layout.dilation[a], layout.ceil_mode):
                for i in w.indices:
                    hits[i] += 1
            counts.append(hits)
        ints = (_pad3(spatial, 1) + _pad3(out, 1) + _pad3(layout.kernel_size, 1)
                + _pad3(layout.stride, 1) + _pad3(layout.padding, 0)
                + _pad3(layout.dilation, 1))
    K = ints[6] * ints[7] * ints[8]
    return _Geometry(ints=tuple(ints) + (K,), out=out,
                     adaptive=isinstance(layout, AdaptiveGeometry),
                     overlap=any(h > 1 for hits in counts for h in hits),
                     covers=all(h > 0 for hits in counts for h in hits),
                     n_out=math.prod(out))


def _strides5(t: torch.Tensor) -> list[int]:
    """(n, c, d, h, w) strides of an (N, C, *spatial) tensor, 1-D/2-D embedded in 3-D."""
    s = list(t.stride())
    return s[:2] + [0] * (5 - len(s)) + s[2:]


def _param_strides(param: torch.Tensor) -> list[int]:
    if param.dim() == 0:
        return [0, 0]
    if param.dim() == 1:
        return [0, param.stride(0)]
    return list(param.stride())


def _next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def _config(K: int, n_out: int, interpret: bool) -> dict:
    """Tile shape: ``BLOCK_K`` window elements (the whole window when it fits: ``SINGLE``),
    ``WB`` windows of each of ``PPP`` planes.

    On a GPU one plane per program (``PPP = 1``) and ``WB`` fixed by ``BLOCK_K``, so a dtype
    compiles at most one kernel per power of two of the window size. The interpreter, whose
    cost is per program, packs several planes into one (``PPP > 1``) unless
    ``PPVERIFY_TRITON_TILE`` asks for a GPU's tile shapes (tests)."""
    return _tile_config(K, n_out, interpret, _tile_setting(), TILE)


@functools.lru_cache(maxsize=1024)
def _tile_config(K: int, n_out: int, interpret: bool, explicit_env: str | None,
                 gpu_tile: int) -> dict:
    """``_config``'s result for the environment's tile (remembered: a launch asks for it at
    every call, and the same shapes recur; callers only read the dict)."""
    explicit = _explicit_tile(explicit_env)
    tile = explicit or (INTERPRETER_TILE if interpret else gpu_tile)
    block_k = _next_pow2(K)
    single = block_k <= tile
    block_k = min(block_k, tile)
    rows = max(1, tile // block_k)
    if interpret and not explicit:
        wb = min(rows, _next_pow2(n_out))
        return {"SINGLE": single, "BLOCK_K": block_k, "WB": wb, "PPP": max(1, rows // wb)}
    return {"SINGLE": single, "BLOCK_K": block_k, "WB": rows, "PPP": 1}


def _explicit_tile(setting: str | None) -> int:
    """``PPVERIFY_TRITON_TILE`` as an int (0: unset); ValueError naming the variable unless it
    is a power of two in [MIN_TILE, MAX_TILE]."""
    if not setting:
        return 0
    try:
        tile = int(setting)
    except ValueError:
        tile = -1
    if not (MIN_TILE <= tile <= MAX_TILE and tile & (tile - 1) == 0):
        raise ValueError(f"PPVERIFY_TRITON_TILE={setting!r}: expected a power of two from "
                         f"{MIN_TILE} to {MAX_TILE} (window elements per program), or unset")
    return tile


def _kind(dtype: torch.dtype) -> int:
    return {torch.float64: 0, torch.float32: 1, torch.float16: 2, torch.bfloat16: 3}[dtype]


def _as_kernel_arg(t: torch.Tensor) -> torch.Tensor:
    """bfloat16 tensors travel as their int16 bits (the kernels convert them exactly)."""
    return t.view(torch.int16) if t.dtype == torch.bfloat16 else t


def _launch_context(x: torch.Tensor):
    """The launch's device (Triton launches on the current CUDA device); under the interpreter,
    numpy's warnings off (masked-out lanes divide 0 by 0, as they do silently on a GPU)."""
    if x.device.type == "cuda" and not _env_interpret():
        return torch.cuda.device(x.device)
    import numpy as np

    return np.errstate(all="ignore")


def _compile_options(x: torch.Tensor) -> dict:
    """Launch options: float64 kernels are compiled without contracting ``a * b + c`` into
    fma, which would break the exact products of their double-double arithmetic; the others
    with it (said explicitly: Triton 3.10 is to change its default to no contraction)."""
    return {"num_warps": NUM_WARPS, "enable_fp_fusion": x.dtype != torch.float64}


def _module_for(x: torch.Tensor):
    return _kernels(x.device.type != "cuda" or _env_interpret())


# ----------------------------------------------------------------------------------- forward


def forward(x: torch.Tensor, param: torch.Tensor, layout: Layout, memory_format,
            need_flag: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, flag)``: the pooled output (``memory_format``) and a one-element int32 tensor that
    is 1 when some window holds a negative, NaN or infinite element or its plane a non-finite
    alpha (those windows are NaN). Reading ``flag`` is the caller's host synchronisation.
    ``need_flag=False`` (``validate=False``): ``flag`` is a scratch tensor of the device that
    the kernel may set and nobody reads (no allocation and no zero-fill launch per call)."""
    global launches
    x = x.detach()
    N, C = x.shape[0], x.shape[1]
    geo = _geometry(layout, tuple(int(s) for s in x.shape[2:]))
    y = torch.empty((N, C, *geo.out), dtype=x.dtype, device=x.device,
                    memory_format=memory_format)
    flag = torch.zeros(1, dtype=torch.int32, device=x.device) if need_flag else \
        _scratch_flag(x.device)
    P, n_out = N * C, geo.n_out
    if P == 0 or n_out == 0:
        return y, flag
    mod = _module_for(x)
    cfg = _config(geo.ints[-1], n_out, x.device.type != "cuda" or _env_interpret())
    grid = (triton_cdiv(P, cfg["PPP"]), triton_cdiv(n_out, cfg["WB"]))
    args = (_as_kernel_arg(x), param, _as_kernel_arg(y), flag, P, C, *geo.ints,
            *_strides5(x), *_param_strides(param), *_strides5(y), int(geo.adaptive))
    with _launch_context(x):
        arith = arithmetic(x.dtype)
        if arith == "mixed":
            mod.ppool_forward_mixed[grid](*args, KIND=_kind(x.dtype), **_compile_options(x),
                                          **cfg)
        else:
            mod.ppool_forward[grid](*args, KIND=_kind(x.dtype),
                                    PRECISE=x.dtype == torch.float64,
                                    **_compile_options(x), **cfg)
    launches += 1
    kernel_launches[launch_name("forward", arith)] += 1
    return y, flag


@functools.lru_cache(maxsize=64)
def _scratch_flag(device: torch.device) -> torch.Tensor:
    """A one-element int32 tensor on ``device`` for launches whose flag is not read."""
    return torch.zeros(1, dtype=torch.int32, device=device)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


# ---------------------------------------------------------------------------------- backward


def backward(grad_y: torch.Tensor, x: torch.Tensor, param: torch.Tensor, layout: Layout,
             need_param: bool, memory_format) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(grad_input in x's dtype and memory_format, dL/dparam float64 of param's shape or
    None)``. Windows that share elements add into the gradient atomically (float32 for
    float16/bfloat16 inputs, then one rounding); otherwise every element is written once."""
    global launches
    x, grad_y = x.detach(), grad_y.detach()
    N, C = x.shape[0], x.shape[1]
    geo = _geometry(layout, tuple(int(s) for s in x.shape[2:]))
    P, n_out = N * C, geo.n_out
    half = x.dtype in (torch.float16, torch.bfloat16)
    acc_dtype = torch.float32 if geo.overlap and half else x.dtype
    gx = torch.empty(x.shape, dtype=acc_dtype, device=x.device, memory_format=memory_format)
    if geo.overlap or not geo.covers:  # otherwise the kernel writes every element once
        gx.zero_()
    interpret = x.device.type != "cuda" or _env_interpret()
    cfg = _config(geo.ints[-1], n_out, interpret)
    grid = (triton_cdiv(P, cfg["PPP"]), triton_cdiv(n_out, cfg["WB"]))
    shape = (grid[0] * cfg["PPP"], grid[1]) if need_param else (1, 1)
    # every (plane, program) slot that _param_gradient reads is written by the kernel
    part = torch.empty(shape, dtype=torch.float64, device=x.device)
    part_e = torch.empty(shape, dtype=torch.int64, device=x.device)
    if P and n_out:
        mod = _module_for(x)
        arith = arithmetic(x.dtype)
        mixed = arith == "mixed"
        with _launch_context(x):
            mod.ppool_backward[grid](
                _as_kernel_arg(x), param, _as_kernel_arg(grad_y), _as_kernel_arg(gx), part,
                part_e, P, C, *geo.ints, *_strides5(x), *_param_strides(param),
                *_strides5(grad_y), *_strides5(gx), int(geo.adaptive), int(geo.overlap),
                int(bool(need_param)), KIND=_kind(x.dtype), GKIND=_kind(grad_y.dtype),
                GXKIND=_kind(gx.dtype), PRECISE=x.dtype == torch.float64,
                MIXED=mixed,
                **_compile_options(x), **cfg)
        launches += 1
        kernel_launches[launch_name("backward", arith)] += 1
    if gx.dtype != x.dtype:
        gx = gx.to(x.dtype)
    gp = _param_gradient(part, part_e, param, N, C) if need_param else None
    return gx, gp


# terms per step of the alpha gradient's reduction (ppool_param_grad): one program per entry
# of alpha loops over its terms (with 1024 and 4 warps an H200 took 16 us for 12800 terms,
# 115 us for 50176: latency-bound steps; 4096 and 8 warps take 4x fewer, not yet measured)
PARAM_BLOCK, PARAM_WARPS = 4096, 8


def _param_gradient(part: torch.Tensor, part_e: torch.Tensor, param: torch.Tensor, N: int,
                    C: int) -> torch.Tensor:
    """``dL/dparam`` (float64, ``param``'s shape) from the backward's per-(plane, program)
    partial sums (mantissa sums ``part`` times ``2**part_e``, rows = planes ``n C + c``),
    by one launch of ``ppool_param_grad`` (one program per entry of ``param``: every term
    scaled by the largest exponent of its sum, so nothing overflows or underflows before the
    end) instead of some thirty small torch operations."""
    global launches
    mode = param.dim()  # 0: scalar, 1: per channel, 2: per plane
    out = torch.empty(param.shape, dtype=torch.float64, device=part.device)
    if out.numel() == 0:
        return out
    mod = _module_for(part)
    with _launch_context(part):
        mod.ppool_param_grad[(out.numel(),)](part, part_e, out, N, C, part.shape[1],
                                             MODE=mode, BLOCK=PARAM_BLOCK, num_warps=PARAM_WARPS)
    launches += 1
    kernel_launches["ppool_param_grad"] += 1
    return out
