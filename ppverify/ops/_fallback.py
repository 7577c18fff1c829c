"""The one-time warning when the pure-torch path serves a tensor that a kernel could have served.

The dispatcher's pure-torch backend (``ppverify.ops._dispatch._torch_forward``) calls
``note(x, layout, op)`` whenever an operator falls back to the pure-torch implementation. It
warns (``FallbackWarning``, once per reason and process) when a kernel exists for such a tensor
but cannot run here:

* a CUDA (or other accelerator) tensor, P-pooling: the Triton kernels
  (``ppverify.ops._triton``) are not installed or do not support the device; the message names
  the reason and the fix;
* a CPU tensor of a dtype the C++ kernel (``ppverify.ops._native``) serves for the operator
  (every float dtype, every operator), any layout: the kernel could not be built; the message
  quotes the build error.

No warning where the pure-torch path is the only implementation (the power mean and the Lp
norm on a GPU), where the kernel handed a call back (``_native.NotServed``: float64's
adversarial windows, and gradient terms beyond float64's range, by design) or where the user
chose it (``PPVERIFY_NATIVE=0``, ``PPVERIFY_TRITON=0``).
"""

from __future__ import annotations

import os
import warnings

import torch

from .._warnings import FallbackWarning as FallbackWarning  # (defined where torch is not)
from . import _native, _triton

_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, FallbackWarning, stacklevel=4)


def reason(x: torch.Tensor, layout, op: str = "ppool") -> str | None:
    """Why a kernel that could serve ``x`` (``op`` over ``layout``) does not, or None."""
    if x.device.type == "meta":  # shape propagation, nothing is computed
        return None
    if x.device.type != "cpu":
        if op != "ppool" or os.environ.get(_triton.ENV) == "0":
            return None
        why = _triton.unavailable_reason(x.device)
        return None if why is None else (
            f"P-pooling of {x.device.type} tensors runs on the pure-torch path (float64, every "
            f"window gathered: many times slower and larger than the Triton kernels) because "
            f"{why}")
    if os.environ.get("PPVERIFY_NATIVE", "1") == "0" or not _native.supports(op, x.dtype):
        return None
    if _native.available():
        return None
    from ._dispatch import OPERATORS  # here: _dispatch imports this module

    title = OPERATORS[op].title
    return (f"{title[0].upper()}{title[1:]} of CPU tensors runs on the pure-torch path (many "
            "times slower than the C++ kernel) because the kernel could not be built: "
            f"{(_native.build_error or 'unknown error').strip()[:400]} (install g++ or set CXX "
            f"to a C++17 compiler with OpenMP; PPVERIFY_NATIVE=0 silences this warning)")


def note(x: torch.Tensor, layout, op: str = "ppool") -> None:
    """Warn once per reason if the pure-torch path serves ``x`` for want of a kernel."""
    why = reason(x, layout, op)
    if why is not None:
        _warn_once(why, why)
