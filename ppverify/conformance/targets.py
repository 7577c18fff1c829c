"""What a target implementation is and how it is called: one calling convention per operator.

A *target* is a Python callable with torch's functional pooling convention. For each operator
the conformance layer knows the conventional signature (``CONVENTIONS``) and, by inspecting the
callable (``inspect.signature``), which of the optional pooling arguments it actually accepts;
cases only vary what the target accepts. Builtins whose signature cannot be read, and
``*args/**kwargs`` wrappers, are assumed to take the conventional arguments.

=========  ============================================================  ==================
op         conventional call                                              parameter
=========  ============================================================  ==================
ppool      ``f(input, alpha, kernel_size, stride, padding, dilation,     trainable (tensor
           ceil_mode)`` (``ppverify.ops.p_pool2d``)                       with requires_grad)
powermean  ``f(input, p, kernel_size, stride, padding, dilation,         trainable
           ceil_mode)``
lp         ``f(input, norm_type, kernel_size, stride, ceil_mode)``        a float; its gradient
           (``torch.nn.functional.lp_pool2d``)                            is checked only if the
                                                                          target accepts a tensor
avg        ``f(input, kernel_size, stride, padding, ceil_mode,           none
           count_include_pad)`` (``avg_pool2d``; default
           ``count_include_pad=True`` as in torch)
max        ``f(input, kernel_size, stride, padding, dilation,            none
           ceil_mode)`` (``max_pool2d``)
=========  ============================================================  ==================

Padding is excluded from ppool/powermean/lp windows unless the target takes
``count_include_pad`` (then both settings are tested and compared with the oracle's matching
setting). This module imports no torch.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

OPTIONAL_ARGS = ("stride", "padding", "dilation", "ceil_mode", "count_include_pad")


@dataclass(frozen=True)
class CallConvention:
    """How targets of one operator are called."""

    op: str
    has_param: bool
    param_trainable: bool
    optional_args: tuple[str, ...]
    default_count_include_pad: bool
    example: str  # a conforming (or reference) callable, with {d} for the dimension

    def describe(self, dims: int) -> str:
        param = "param, " if self.has_param else ""
        return f"f(input, {param}kernel_size, {', '.join(self.optional_args)})"


CONVENTIONS: dict[str, CallConvention] = {
    "ppool": CallConvention("ppool", True, True, ("stride", "padding", "dilation", "ceil_mode"),
                            False, "ppverify.ops:p_pool{d}d"),
    "powermean": CallConvention("powermean", True, True,
                                ("stride", "padding", "dilation", "ceil_mode"), False,
                                "mypackage:gem_pool{d}d"),
    "lp": CallConvention("lp", True, False, ("stride", "ceil_mode"), False,
                         "torch.nn.functional:lp_pool{d}d"),
    "avg": CallConvention("avg", False, False,
                          ("stride", "padding", "ceil_mode", "count_include_pad"), True,
                          "torch.nn.functional:avg_pool{d}d"),
    "max": CallConvention("max", False, False, ("stride", "padding", "dilation", "ceil_mode"),
                          False, "torch.nn.functional:max_pool{d}d"),
}


def get_convention(op: str) -> CallConvention:
    try:
        return CONVENTIONS[op]
    except KeyError:
        raise ValueError(f"op must be one of {sorted(CONVENTIONS)}, got {op!r}") from None


@dataclass(frozen=True)
class Target:
    """A resolved target: the callable, its name and the optional arguments it accepts."""

    fn: Callable
    name: str
    op: str
    accepts: frozenset[str]

    @property
    def convention(self) -> CallConvention:
        return CONVENTIONS[self.op]


def accepted_arguments(fn: Callable, op: str) -> frozenset[str]:
    """The optional pooling arguments ``fn`` accepts, by signature inspection (see module doc)."""
    conv = get_convention(op)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return frozenset(conv.optional_args)
    params = sig.parameters.values()
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return frozenset(conv.optional_args) | {p.name for p in params
                                                if p.name in OPTIONAL_ARGS}
    return frozenset(p.name for p in params if p.name in OPTIONAL_ARGS)


def resolve(spec: str | Callable, op: str, dims: int | None = None) -> Target:
    """Turn ``"module:callable"`` (or a callable) into a ``Target``.

    ``{d}`` in the spec is replaced by ``dims``, so ``torch.nn.functional:lp_pool{d}d`` works.
    Raises ``ValueError`` naming the target when it cannot be imported or is not callable.
    """
    get_convention(op)
    if callable(spec):
        name = f"{getattr(spec, '__module__', '?')}:{getattr(spec, '__qualname__', repr(spec))}"
        return Target(spec, name, op, accepted_arguments(spec, op))
    text = str(spec).replace("{d}", str(dims) if dims else "{d}")
    if ":" not in text:
        raise ValueError(f"target must be 'module:callable', got {spec!r}")
    module_name, _, attr = text.partition(":")
    if not module_name or not attr:
        raise ValueError(f"target must be 'module:callable' with both parts non-empty, "
                         f"got {spec!r}")
    try:
        obj = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or whatever the module raises while importing
        raise ValueError(f"target {text!r}: cannot import module {module_name!r}: "
                         f"{type(err).__name__}: {err}") from err
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(
                f"target {text!r}: {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise ValueError(f"target {text!r} is not callable")
    return Target(obj, text, op, accepted_arguments(obj, op))


def default_dims(target: str) -> tuple[int, ...]:
    """Dimensions to check when none are given: all three for a ``{d}`` template, the one a
    name ending in ``1d``/``2d``/``3d`` implies, else 2."""
    if "{d}" in target:
        return (1, 2, 3)
    match = re.search(r"([123])d$", target)
    return (int(match.group(1)),) if match else (2,)
