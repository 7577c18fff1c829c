"""Validation of the ops' arguments and values: one rule, the same on every path.

The rule (the README's "Validation" section states it for users)
-----------------------------------------------------------------
1. **Arguments, at the call** (``check_input``, ``param_tensor``, ``check_flag`` and
   ``ppverify.ops._layout``), in Python on the host, before the op runs. Nothing here reads a
   tensor's values, so it costs a few microseconds and no host synchronisation, and under
   ``torch.compile`` / ``torch.export`` it runs once, at tracing. The eager path's shortcuts
   (``cpu_float_param``, ``_layout.windowed``'s dict of plain-int sizes, and
   ``_dispatch._eager_calls``: kinds of call, by operator, layout, shape, strides and dtype,
   that passed every check and were served by the C++ kernel; ``_dispatch._train_calls``, the
   same with the parameter's kind, for calls that want a gradient) hold only arguments
   that passed these checks, keyed by exact type (``2.0`` and ``True`` never find ``2``'s
   entry; a parameter of 0, outside the Lp norm's domain, is never held), so a call that
   would fail a check never finds an entry.

   * ``input``: a ``torch.Tensor`` with the strided (dense) layout, not nested or quantized, of
     dtype float16 / bfloat16 / float32 / float64, shaped ``(N, C, *spatial)`` or
     ``(C, *spatial)``, on any device. A meta tensor gives the output's shape and dtype (no
     values exist, so step 2 does not apply).
   * the parameter (``alpha``, ``p``, ``norm_type``): a real Python number (int or float),
     finite, and not 0 for the Lp norm; or a dense tensor, numpy scalar or numpy array of a
     real dtype (floating or integer) holding one value or one per channel, on any device (it
     is moved to the input's; a meta tensor only with a meta input), whose values are checked
     in step 2. A bool (Python, numpy or tensor) and a complex value are refused, never
     truncated to their real part or read as 0/1. The op computes with the parameter as the
     nearest float64 (an int above 2**53, a uint64 or a longdouble is rounded to it; one
     beyond float64's range is refused by name).
   * pooling sizes (``kernel_size``, ``stride``, ``padding``, ``dilation``, ``output_size``):
     ints (Python or numpy) or tuples of them; ``2.0`` and ``True`` are refused.
     ``ceil_mode`` and ``validate``: ``True`` or ``False``.
   * shapes: every output size at least 1 and no window made only of padding (closed forms per
     axis: the cost does not grow with the input).

2. **Values, inside the op** (``validate=True``, the default), at every call in eager mode, in
   compiled graphs and in exported programs alike (the check is part of the op's
   implementation, so a graph keeps it without a graph break or a guard): every input element
   that some window reads must be finite and ``>= 0`` (for the power mean and Lp with p < 0
   also non-zero), and a tensor parameter must be finite (Lp: non-zero). Elements that no
   window reads (skipped by a stride larger than the kernel, by dilation, or left over at the
   end without ``ceil_mode``) are never checked and do not enter the output or the input's
   gradient, as in ``torch.nn.functional.max_pool2d`` (the C++ kernel scales a plane by its
   largest element, read or not, so its float64 alpha gradient can move in the last bits).
   A violation raises ``ValueError`` naming the first
   offending element read by a window, as ``(batch, channel, position)`` in the batched frame
   (``diagnose``). Cost: nothing extra on the C++ kernel, which flags bad elements while reading
   them; one reduction over the output and one host synchronisation on the pure-torch path.
   With ``validate=False`` the windows that hold such an element give NaN and nothing is
   synchronised.
"""

from __future__ import annotations

import numbers
from typing import NoReturn

import numpy as np
import torch
from torch import Tensor
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

from . import _layout

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_FLOAT_DTYPE_SET = frozenset(FLOAT_DTYPES)


def check_flag(value, name: str) -> bool:
    """``value`` if it is ``True`` or ``False``; else ``TypeError`` naming ``name`` (as torch's
    pooling functions, which refuse ``ceil_mode="no"`` rather than read it as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return value


def check_input(input) -> None:
    """``TypeError`` unless ``input`` is a dense floating-point tensor (rule 1)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(input).__name__}")
    if input.layout != torch.strided or input.is_nested:
        kind = "a nested tensor" if input.is_nested else f"layout {input.layout}"
        raise TypeError(f"input must be a dense (strided) tensor, got {kind}; convert it with "
                        f".to_dense()")
    if input.is_quantized or input.dtype not in _FLOAT_DTYPE_SET:
        raise TypeError(f"input must be float16, bfloat16, float32 or float64, got "
                        f"{input.dtype}")


def is_real_scalar(value) -> bool:
    """A real number that is not a tensor: a Python int or float, a numpy integer or floating
    scalar (any ``numbers.Real``); not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_param_value(value: float, info) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{info.param} must be finite, got {value}")
    if value == 0 and not info.zero_param:
        raise ValueError(f"{info.param} = 0 is outside the domain of {info.title} "
                         f"(1/{info.param} is undefined)")
    return value


def _check_param_tensor(a: Tensor, info, C, device, source: str = "tensor") -> None:
    name = info.param
    if a.layout != torch.strided or a.is_nested or a.is_quantized:
        raise TypeError(f"{name} must be a dense tensor of a real dtype, got "
                        f"{'a quantized tensor' if a.is_quantized else a.layout}")
    if a.dtype == torch.bool or a.is_complex():
        raise TypeError(f"{name} must be real (a float or an int, or a tensor or numpy value of "
                        f"a floating or integer dtype), got a {source} of dtype {a.dtype}")
    # (two comparisons, not ``shape[0] in (1, C)``: dynamo's ``in`` on a tuple holding a
    # symbolic channel count was False for an equal size, so dynamic=True raised here)
    if a.dim() > 1 or (a.dim() == 1 and a.shape[0] != 1 and a.shape[0] != C):
        raise ValueError(f"{name} must be a scalar or have one value per channel ({C}), got "
                         f"shape {tuple(a.shape)}")
    if a.device.type == "meta" and torch.device(device).type != "meta":
        raise ValueError(f"{name} is a meta tensor (it has no values) but the input is on "
                         f"{device}")


def param_tensor(param, info, C, device, cast: bool = True) -> Tensor:
    """The parameter as float64 of shape ``()`` or ``(C,)`` on ``device`` (a differentiable
    cast of a tensor); ``TypeError``/``ValueError`` naming it (rule 1). ``info`` is the
    operator's record (``ppverify.ops._dispatch.Operator``).

    Without ``cast``, a floating tensor already of shape ``()`` or ``(C,)`` (not a ``(1,)``
    one standing for all channels) on ``device`` is returned as it is, whatever its floating
    dtype: eager autograd (``_dispatch._EagerPool``) casts it inside its node, so that a
    float32 parameter (a layer's learnable alpha) costs no cast node of its own (about 10 us
    of a small input's forward+backward).

    A numpy scalar or array is taken as the tensor ``torch.as_tensor`` makes of it (so its
    values are checked in the op, as a tensor's): that is also what ``torch.compile`` sees,
    which traces numpy values as arrays."""
    source = "tensor"
    if isinstance(param, (np.ndarray, np.generic)):
        param, source = numpy_param(param, info.param), "numpy value"
    if isinstance(param, Tensor):
        _check_param_tensor(param, info, C, device, source)
        if not cast and param.is_floating_point() and param.device == device and \
                not (param.dim() == 1 and param.shape[0] == 1):
            return param
        # ``to`` returns the tensor itself when nothing changes; testing first saves about 1 us
        a = param if param.dtype == torch.float64 and param.device == device else \
            param.to(device=device, dtype=torch.float64)
        return a.reshape(()) if a.dim() == 1 and a.shape[0] == 1 else a
    if not is_real_scalar(param):
        raise TypeError(f"{info.param} must be a real number (int or float) or a tensor, got "
                        f"{type(param).__name__} {param!r}"[:200])
    value = _check_param_value(real_to_float(param, info.param), info)
    # (under torch.compile, or a dispatch mode such as FakeTensorMode, a fresh tensor of the
    # mode's own kind: one made under a mode and cached would reach later eager calls)
    if torch.compiler.is_compiling() or is_in_torch_dispatch_mode():
        return torch.tensor(value, dtype=torch.float64, device=device)
    t = _scalar_tensor(value, device)
    if type(param) is float and value != 0 and t.is_cpu and _cacheable(t):
        if len(_cpu_floats) >= 256:
            _cpu_floats.clear()
        _cpu_floats[param] = t
    return t


#: Python floats that passed rule 1 (finite, non-zero: in every operator's domain) and their
#: CPU tensors: ``cpu_float_param``'s cache (zero is left out: it is outside the Lp norm's
#: domain, and -0.0 would find 0.0's entry)
_cpu_floats: dict[float, Tensor] = {}


def cpu_float_param(param) -> Tensor | None:
    """The CPU tensor of ``param`` if it is a Python float that ``param_tensor`` has already
    accepted and converted in eager mode, else None (then call ``param_tensor``): the eager
    path's shortcut past rule 1's checks for a value that passed them (a few hundred ns instead
    of a few us per call). Only eager callers may use it (under ``torch.compile`` the
    parameter must be a fresh tensor)."""
    return _cpu_floats.get(param) if type(param) is float else None


_scalar_tensors: dict = {}


def _scalar_tensor(value: float, device) -> Tensor:
    """A float64 0-d tensor of ``value`` (cached in eager mode: making a tensor per call costs
    microseconds; the op never writes to its parameter). Only a plain tensor with storage is
    cached (``_cacheable``)."""
    key = (value, device)
    t = _scalar_tensors.get(key)
    if t is None:
        # (made outside inference mode even under it: an inference tensor, cached, reached a
        # later call with autograd, which cannot save it for the backward)
        with torch.inference_mode(False):
            t = torch.tensor(value, dtype=torch.float64, device=device)
        if _cacheable(t):
            if len(_scalar_tensors) >= 256:
                _scalar_tensors.clear()
            _scalar_tensors[key] = t
    return t


def _cacheable(t: Tensor) -> bool:
    """Whether ``t`` may stand for its value in later calls: a plain tensor with storage. A
    tensor made while torch.func or a compiler traces (dynamo's functorch tracing made
    storage-less plain tensors here) has none: cached, it reached later eager calls, whose
    kernel raised "Cannot access data pointer of Tensor that doesn't have storage"
    (tests/ops/test_dispatch_modes.py). Nor an inference tensor: a later call in grad mode
    would have autograd save it ("Inference tensors cannot be saved for backward")."""
    return type(t) is Tensor and torch._C._has_storage(t) and not t.is_inference()


def numpy_param(param, name: str) -> Tensor:
    """A numpy scalar or array as a tensor: of its own dtype where torch has it, else (uint64
    scalars, longdouble) the nearest float64 values, as the op computes with float64 anyway;
    ``TypeError`` naming ``name`` for a non-numeric dtype (bool and complex are refused later,
    with the tensor's dtype named)."""
    try:
        return torch.as_tensor(param)
    except (TypeError, RuntimeError):
        dtype = np.asarray(param).dtype
        if dtype.kind not in "iuf":
            raise TypeError(f"{name} must be real, got a numpy value of dtype {dtype}") from None
        with np.errstate(over="ignore"):  # beyond float64: inf, refused as not finite
            return torch.as_tensor(np.asarray(param, dtype=np.float64))


def real_to_float(value, name: str) -> float:
    """``float(value)`` for a real number (``is_real_scalar``), or ``ValueError`` naming
    ``name`` when it is beyond float64's range (an int of 1025 bits or more, say), which
    ``float`` reports as an unnamed ``OverflowError``."""
    try:
        return float(value)
    except OverflowError:
        size = (f"an int of {value.bit_length()} bits" if isinstance(value, numbers.Integral)
                else f"a {type(value).__name__}")
        raise ValueError(f"{name} must be finite and within float64's range (below about "
                         f"1.8e308 in magnitude), got {size}") from None


# ---------------------------------------------------------------------------- rule 2's message


def _where(index) -> str:
    b, c, *pos = index
    return f"batch {b}, channel {c}, position {tuple(pos)}"


def diagnose(info, x: Tensor, param: Tensor, layout) -> NoReturn:
    """Raise the ``ValueError`` that names why ``x`` / ``param`` are outside the operator's
    domain, considering only the elements that some window of ``layout`` reads (rule 2).
    Called only after a check failed: it reads values back to the host."""
    bad_param = ~torch.isfinite(param)
    if bool(bad_param.any()):
        vals = ", ".join(dict.fromkeys(str(float(v)) for v in param[bad_param].tolist()))
        raise ValueError(f"{info.param} must be finite, got [{vals}]")
    if not info.zero_param and bool((param == 0).any()):
        raise ValueError(f"{info.param} = 0 is outside the domain of {info.title} "
                         f"(1/{info.param} is undefined)")
    xd = x.detach()
    read = _layout.read_mask(layout, tuple(int(s) for s in x.shape[2:]), x.device)
    for test, word in ((torch.isnan, "NaN"), (torch.isinf, "inf")):
        hits = (test(xd) & read).nonzero()
        if hits.shape[0]:
            raise ValueError(f"input contains {word} (first at {_where(hits[0].tolist())}): "
                             f"{info.title} needs finite, non-negative inputs")
    hits = ((xd < 0) & read).nonzero()
    if hits.shape[0]:
        raise ValueError(
            f"input contains negative values (first at {_where(hits[0].tolist())}): "
            f"x**{info.param} is not real for a non-integer {info.param}; {info.title} needs "
            f"non-negative inputs")
    if info.name != "ppool":
        planes = param.reshape((1,) * (2 - param.dim()) + tuple(param.shape)).expand(
            x.shape[0], x.shape[1])
        plane_neg = planes.reshape(planes.shape + (1,) * (x.dim() - 2)) < 0
        hits = ((xd == 0) & plane_neg & read).nonzero()
        if hits.shape[0]:
            b, c = hits[0].tolist()[:2]
            raise ValueError(
                f"input element ({_where(hits[0].tolist())}) is 0 and {info.param} = "
                f"{float(planes[b, c])} < 0: x**{info.param} is infinite ({info.title} needs "
                f"positive inputs for a negative {info.param})")
    raise ValueError(f"input outside the domain of {info.title}")
