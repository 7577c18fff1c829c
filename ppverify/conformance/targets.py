"""What a target implementation is and how it is called.

Three pooling modes (``--pooling``) and two forms of target.

**Functions.** *Windowed* targets follow torch's functional convention, positionally
(``CONVENTIONS``): ``f(input, param, kernel_size, stride=..., ...)``; the optional arguments a
target accepts are read from its signature (``inspect.signature``; builtins and ``*args``
wrappers are assumed to take the conventional ones) and only those are varied. *Global* targets
are called ``f(input, p)`` and *adaptive* ones ``f(input, p, output_size)``, with the parameter
and the output size passed **by name** when the signature has a recognised name for them
(``PARAM_NAMES``: ``p``, ``alpha``, ``norm_type``, ...; ``output_size``), else positionally,
so ``gem(x, p=3, eps=1e-6)`` is called ``gem(x, p=<case's p>)`` and keeps its own ``eps``. A
function with no parameter argument (a fixed exponent inside) needs the value it uses
(``--param 3``), and its parameter gradient is not checked.

**nn.Module classes**, written ``'pkg.mod:GeM'`` or with constructor arguments
``'pkg.mod:GeM(p=3, eps=1e-6)'`` (Python literals), or passed as a class, a
``functools.partial`` of one, or an instance (deep-copied). A fresh module is built for every
case (``build_module``), converted to the case's dtype (``module.to(dtype)``, as
``model.half()`` does) and called ``module(input)``; the pooling arguments (``kernel_size``,
``stride``, ..., ``output_size``) go to the constructor when it takes them. The parameter lives
in an attribute (``--param-attr NAME``; found automatically among ``PARAM_NAMES``): a tensor
(an ``nn.Parameter`` is filled with the case's value, and its ``.grad`` is the parameter
gradient), or a number (passed to the constructor per case when it takes it, else set on the
module; fixed at the given value when the spec gives it, ``GeM(p=3)``; no gradient).
``--param-map EXPR`` declares that the
attribute stores a raw value ``v`` and the module uses ``EXPR(v)`` (``'softplus(v) + 1'``, or
any Python callable from the fixture): the checker stores the ``v`` that gives the case's
parameter, judges the module against the parameter its map actually produces in that dtype,
and divides ``v.grad`` by ``dEXPR/dv``. ``--param-fixed`` declares that the parameter is not
trained: no parameter gradient is expected.

Two declarations describe the shapes a layer shipped as a network's head or neck takes and
gives: ``--batched-only``, it takes only batched input ``(N, C, *spatial)`` (no unbatched case
is generated), and ``--flat-output`` (global pooling), it returns one value per plane with the
spatial axes dropped, ``(N, C)`` instead of ``(N, C, 1, 1)``, as ``x.flatten(1)`` after the
pooling does (that output is judged as the pooling shape it flattens; the upstream gradient
given to ``backward`` has the output's own shape).

=========  ============================================================  ==================
op         conventional windowed call                                     parameter
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
max, min   ``f(input, kernel_size, stride, padding, dilation,            none
           ceil_mode)`` (``max_pool2d``)
=========  ============================================================  ==================

Padding is excluded from ppool/powermean/lp windows unless the target takes
``count_include_pad`` (then both settings are tested and compared with the oracle's matching
setting). Anything that is neither a callable returning a tensor nor an ``nn.Module`` class is
refused with one message naming what was found. This module imports no torch.
"""

from __future__ import annotations

import ast
import copy
import functools
import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

OPTIONAL_ARGS = ("stride", "padding", "dilation", "ceil_mode", "count_include_pad")
PARAM_NAMES = {"ppool": ("alpha", "a", "param"),
               "powermean": ("p", "power", "norm_type", "param", "exponent"),
               "lp": ("norm_type", "p", "power", "param", "exponent")}
OUTPUT_SIZE_NAMES = ("output_size", "out_size", "size")


@dataclass(frozen=True)
class CallConvention:
    """How windowed function targets of one operator are called."""

    op: str
    has_param: bool
    param_trainable: bool
    optional_args: tuple[str, ...]
    default_count_include_pad: bool
    example: str  # a conforming (or reference) callable, with {d} for the dimension

    def describe(self, dims: int = 2) -> str:
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
    "min": CallConvention("min", False, False, ("stride", "padding", "dilation", "ceil_mode"),
                          False, "mypackage:min_pool{d}d"),
}


def get_convention(op: str) -> CallConvention:
    try:
        return CONVENTIONS[op]
    except KeyError:
        raise ValueError(f"op must be one of {sorted(CONVENTIONS)}, got {op!r}") from None


@dataclass(frozen=True)
class Target:
    """A resolved target: what to call, how, and what it accepts.

    ``form`` is ``"function"`` or ``"module"``. For functions ``param_arg``/``size_arg`` say
    where the parameter and the output size go (a keyword name, or ``None`` for positional).
    For modules ``fn`` builds a fresh module (``build_module``), ``ctor_kwargs`` are the
    user's constructor arguments, ``ctor_accepts`` the constructor's parameter names, and
    ``param_attr`` the attribute holding the parameter (``param_kind``: ``"tensor"``,
    ``"number"``, ``"ctor"`` (a constructor argument only) or ``"none"``).
    """

    fn: Callable
    name: str
    op: str
    accepts: frozenset[str]
    pooling: str = "windowed"
    form: str = "function"
    param_arg: str | None = None
    param_positional: bool = True
    size_arg: str | None = None
    ctor_kwargs: tuple = ()
    ctor_accepts: frozenset[str] = frozenset()
    param_attr: str | None = None
    param_kind: str = "tensor"
    param_learnable: bool = True
    param_map: Callable | None = None
    param_map_text: str | None = None
    param_map_range: tuple[float, float] | None = None  # what the map reaches (runner.map_range)
    param_fixed: bool = False
    fixed_value: float | None = None
    ctor_param: str | None = None  # constructor argument given the case's parameter
    signature: str = ""
    notes: tuple[str, ...] = field(default=())
    # declared by the user and kept on the checker's side (not in ``describe``): the target
    # takes only batched input; it returns global pooling's output with the spatial axes dropped
    batched_only: bool = False
    flat_output: bool = False
    per_channel: bool = False  # one exponent per channel (the cases carry them)
    # the shape a function target's parameter tensor is given (``parse_param_shape``); None:
    # ``(C,)`` per channel, a 0-d tensor otherwise. Set in the worker too (``TargetSource``)
    param_shape: tuple[str, ...] | None = None
    param_size: int = 1  # how many values a module's tensor attribute held when resolved
    # max/min: the tie conventions accepted (``TIES``), the first one the oracle's default
    ties: str = "any"

    @property
    def convention(self) -> CallConvention:
        return CONVENTIONS[self.op]

    @property
    def has_param_map(self) -> bool:
        return self.param_map is not None or self.param_map_text is not None

    def describe(self) -> dict:
        """Everything but the callables, as plain JSON data: what a worker process that
        resolved the target tells the checker (``target_from_description``)."""
        return {
            "name": self.name, "op": self.op, "accepts": sorted(self.accepts),
            "pooling": self.pooling, "form": self.form, "param_arg": self.param_arg,
            "param_positional": self.param_positional, "size_arg": self.size_arg,
            "ctor_kwargs": [[k, _plain(v)] for k, v in self.ctor_kwargs],
            "ctor_accepts": sorted(self.ctor_accepts), "param_attr": self.param_attr,
            "param_kind": self.param_kind, "param_learnable": self.param_learnable,
            "param_map_text": self.param_map_text if self.has_param_map else None,
            "param_map_range": None if self.param_map_range is None
            else [float(v) for v in self.param_map_range],
            "param_fixed": self.param_fixed, "fixed_value": self.fixed_value,
            "ctor_param": self.ctor_param, "signature": self.signature,
            "notes": list(self.notes), "param_size": self.param_size,
        }

    @property
    def param_required(self) -> bool:
        """Whether a missing parameter gradient is a failure (a trainable parameter)."""
        return (self.convention.param_trainable and not self.param_fixed
                and self.param_kind == "tensor" and self.param_learnable)

    @property
    def passes_param(self) -> bool:
        return self.convention.has_param and self.fixed_value is None

    def call_text(self, case=None) -> str:
        """How the target is called, e.g. ``gem(input, p=<param>)``."""
        short = self.name.rpartition(":")[2] or "f"
        if self.form == "module":
            ctor = [f"{k}={v!r}" for k, v in self.ctor_kwargs]
            if self.ctor_param:
                ctor.append(f"{self.ctor_param}=<param>")
            geometry = {"windowed": ["kernel_size=<k>"] + [
                f"{a}=<{a}>" for a in sorted(self.accepts)],
                "adaptive": ["output_size=<size>"], "global": []}[self.pooling]
            ctor += [g for g in geometry if g.split("=")[0] in self.ctor_accepts]
            base = short.split("(")[0]
            return f"{base}({', '.join(ctor)}).to(dtype)(input)"
        args = ["input"]
        if self.passes_param:
            args.append("<param>" if self.param_positional else f"{self.param_arg}=<param>")
        if self.pooling == "windowed":
            args.append("<kernel_size>")
            args += [f"{a}=<{a}>" for a in self.convention.optional_args if a in self.accepts]
        elif self.pooling == "adaptive":
            args.append(f"{self.size_arg}=<output_size>" if self.size_arg else "<output_size>")
        return f"{short}({', '.join(args)})"


def _plain(value):
    """A constructor argument (a Python literal) as JSON data: tuples become lists."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _literal(value):
    return tuple(_literal(v) for v in value) if isinstance(value, list) else value


PARAM_KINDS = ("tensor", "number", "ctor", "fixed", "none")
# --ties: which conventions a max/min target may follow at a tie, in the order tried
TIES = {"any": ("first", "split", "last"), "first": ("first",), "split": ("split",),
        "last": ("last",)}
TIE_TITLES = {"first": "all given to the first tied element, as torch's max_pool does",
              "split": "split evenly over the tied elements, as torch.amax's backward does",
              "last": "all given to the last tied element"}


def target_from_description(d, op: str, pooling: str, param_fixed: bool = False) -> Target:
    """The ``Target`` a worker described (``Target.describe``), validated field by field:
    ``wire.ProtocolError`` names the first field that is missing, of the wrong type, or
    disagrees with what the checker asked for (``op``, ``pooling``). It has no callables
    (``fn`` is None): the checker never calls the target; ``param_fixed`` asked by the user
    stays set whatever the worker says."""
    from . import wire

    if not isinstance(d, dict):
        raise wire.ProtocolError("a target description that is not an object")
    if d.get("op") != op or d.get("pooling") != pooling:
        raise wire.ProtocolError(f"the worker described a target for op {str(d.get('op'))[:20]!r}"
                                 f", pooling {str(d.get('pooling'))[:20]!r}; asked: {op}, "
                                 f"{pooling}")
    accepts = wire.strings(d, "accepts")
    if set(accepts) - set(OPTIONAL_ARGS):
        raise wire.ProtocolError(f"'accepts' names unknown arguments {accepts}")
    ctor = d.get("ctor_kwargs", [])
    if not isinstance(ctor, list) or not all(
            isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], str) for kv in ctor):
        raise wire.ProtocolError("'ctor_kwargs' must be a list of [name, value] pairs")
    low_high = d.get("param_map_range")
    map_range = None
    if low_high is not None:
        if not (isinstance(low_high, list) and len(low_high) == 2):
            raise wire.ProtocolError("'param_map_range' must be [low, high]")
        map_range = (wire.number({"v": low_high[0]}, "v", optional=False),
                     wire.number({"v": low_high[1]}, "v", optional=False))
    return Target(
        fn=None, name=wire.text(d, "name", optional=False, limit=300), op=op,
        accepts=frozenset(accepts), pooling=pooling,
        form=wire.choice(d, "form", ("function", "module")),
        param_arg=wire.text(d, "param_arg", limit=100),
        param_positional=wire.flag(d, "param_positional", True),
        size_arg=wire.text(d, "size_arg", limit=100),
        ctor_kwargs=tuple((k, _literal(v)) for k, v in ctor),
        ctor_accepts=frozenset(wire.strings(d, "ctor_accepts", limit=256)),
        param_attr=wire.text(d, "param_attr", limit=100),
        param_kind=wire.choice(d, "param_kind", PARAM_KINDS, "tensor"),
        param_learnable=wire.flag(d, "param_learnable", True),
        param_map_text=wire.text(d, "param_map_text", limit=300), param_map_range=map_range,
        param_fixed=wire.flag(d, "param_fixed") or param_fixed,
        fixed_value=wire.number(d, "fixed_value"),
        ctor_param=wire.text(d, "ctor_param", limit=100),
        signature=wire.text(d, "signature", optional=False, limit=1000),
        notes=tuple(wire.strings(d, "notes")),
        param_size=int(wire.number(d, "param_size") or 1),
    )


# ------------------------------------------------------------------ inspection helpers


def _signature(obj) -> inspect.Signature | None:
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None


def _is_module_class(obj) -> bool:
    return inspect.isclass(obj) and any(
        c.__name__ == "Module" and c.__module__.startswith("torch.nn") for c in obj.__mro__)


def _is_module_instance(obj) -> bool:
    return not inspect.isclass(obj) and _is_module_class(type(obj))


def accepted_arguments(fn: Callable, op: str) -> frozenset[str]:
    """The optional pooling arguments ``fn`` accepts, by signature inspection (see module doc)."""
    conv = get_convention(op)
    sig = _signature(fn)
    if sig is None:
        return frozenset(conv.optional_args)
    params = sig.parameters.values()
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return frozenset(conv.optional_args) | {p.name for p in params
                                                if p.name in OPTIONAL_ARGS}
    return frozenset(p.name for p in params if p.name in OPTIONAL_ARGS)


def _find_name(sig: inspect.Signature | None, names) -> str | None:
    if sig is None:
        return None
    for name in names:
        if name in sig.parameters:
            return name
    return None


# ------------------------------------------------------------------ parsing a spec


def parse_spec(text: str) -> tuple[str, str, tuple, dict]:
    """``'pkg.mod:Attr'`` or ``'pkg.mod:Cls(1, p=3)'`` -> module, attribute, args, kwargs.

    Constructor arguments must be Python literals (numbers, strings, tuples, None, True).
    """
    if ":" not in text:
        raise ValueError(f"target must be 'module:callable', got {text!r}")
    module_name, _, attr = text.partition(":")
    if not module_name or not attr:
        raise ValueError(f"target must be 'module:callable' with both parts non-empty, "
                         f"got {text!r}")
    args: tuple = ()
    kwargs: dict = {}
    if "(" in attr:
        head, _, rest = attr.partition("(")
        try:
            call = ast.parse(f"_({rest}", mode="eval").body
            if not isinstance(call, ast.Call):
                raise SyntaxError
            args = tuple(ast.literal_eval(a) for a in call.args)
            kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except (SyntaxError, ValueError):
            raise ValueError(f"target {text!r}: constructor arguments must be Python literals, "
                             f"e.g. 'pkg.mod:GeM(p=3, eps=1e-6)'") from None
        if args:
            raise ValueError(f"target {text!r}: give constructor arguments by name "
                             f"(e.g. GeM(p=3)), so each can be matched to its meaning")
        attr = head.strip()
    return module_name, attr, args, kwargs


def _import(text: str, module_name: str, attr: str):
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
    return obj


# ------------------------------------------------------------------ resolving


def resolve(spec, op: str, dims: int | None = None, *, pooling: str = "windowed",
            param_attr: str | None = None, param_map=None, param_fixed: bool = False,
            params=None) -> Target:
    """Turn a spec (``"module:callable"``, ``"module:Class(kw=...)"``, a callable, a module
    class, a ``functools.partial`` of one or a module instance) into a ``Target``.

    ``{d}`` in a string spec is replaced by ``dims``. Raises ``ValueError`` naming the target
    when it cannot be imported, is not callable, or its parameter cannot be found.
    """
    get_convention(op)
    if pooling not in ("windowed", "adaptive", "global"):
        raise ValueError(f"pooling must be windowed, adaptive or global, got {pooling!r}")
    ctor_kwargs: dict = {}
    if isinstance(spec, str):
        text = spec.replace("{d}", str(dims) if dims else "{d}")
        module_name, attr, _, ctor_kwargs = parse_spec(text)
        obj = _import(text, module_name, attr)
        name = text
    else:
        obj = spec
        name = f"{getattr(spec, '__module__', '?')}:" \
            f"{getattr(spec, '__qualname__', type(spec).__name__)}"
    if isinstance(obj, functools.partial) and _is_module_class(obj.func):
        ctor_kwargs = {**obj.keywords, **ctor_kwargs}
        name = f"{obj.func.__module__}:{obj.func.__qualname__}"
        obj = obj.func
    if _is_module_class(obj) or _is_module_instance(obj):
        return _resolve_module(obj, name, op, dims, pooling, ctor_kwargs, param_attr,
                               param_map, param_fixed, params)
    if ctor_kwargs:
        raise ValueError(f"target {name!r}: constructor arguments are for nn.Module classes, "
                         f"but {type(obj).__name__} {obj!r} is not one")
    if inspect.isclass(obj) or not callable(obj):
        raise ValueError(
            f"target {name!r} is a {'class' if inspect.isclass(obj) else type(obj).__name__}, "
            f"not what ppverify check can call: expected a function returning a tensor, or an "
            f"nn.Module class (given as 'module:Class' or 'module:Class(arg=value)')")
    if param_attr is not None or param_map is not None:
        raise ValueError("--param-attr and --param-map are for nn.Module targets; "
                         f"{name!r} is a function")
    return _resolve_function(obj, name, op, pooling, param_fixed, params)


def _resolve_function(fn, name, op, pooling, param_fixed, params) -> Target:
    conv = get_convention(op)
    sig = _signature(fn)
    text = f"{name.rpartition(':')[2]}{sig}" if sig is not None else name
    if pooling == "windowed":
        return Target(fn, name, op, accepted_arguments(fn, op), pooling,
                      param_fixed=param_fixed, signature=text)
    param_arg, positional, fixed = None, True, None
    if conv.has_param:
        param_arg = _find_name(sig, PARAM_NAMES[op])
        positional = param_arg is None
        takes_more = sig is None or len(sig.parameters) >= 2 or any(
            p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
        if param_arg is None and not takes_more:
            if not params or len(params) != 1:
                raise ValueError(
                    f"target {name!r}: its signature {text} has no argument for "
                    f"{op}'s parameter; name the value it uses with --param VALUE "
                    f"(its gradient is then not checked)")
            fixed = float(params[0])
    size_arg = _find_name(sig, OUTPUT_SIZE_NAMES) if pooling == "adaptive" else None
    return Target(fn, name, op, frozenset(), pooling, param_arg=param_arg,
                  param_positional=positional, size_arg=size_arg,
                  param_fixed=param_fixed or fixed is not None, fixed_value=fixed,
                  signature=text)


def _computed_on_read(instance, attr: str) -> bool:
    """Whether ``instance.attr`` is a tensor made anew at each read (a property such as
    ``softplus(self.raw) + 1`` or a dtype cast), rather than one the module stores."""
    first, second = getattr(instance, attr), getattr(instance, attr)
    return first is not second or getattr(first, "grad_fn", None) is not None


def _resolve_module(obj, name, op, dims, pooling, ctor_kwargs, param_attr, param_map,
                    param_fixed, params) -> Target:
    conv = get_convention(op)
    if _is_module_instance(obj):
        if pooling != "global":
            raise ValueError(f"target {name!r} is a module instance, so every case would get "
                             f"its fixed pooling arguments; pass the class instead "
                             f"('module:Class(arg=value)') for {pooling} pooling")
        instance = obj
        factory = functools.partial(copy.deepcopy, obj)
        ctor_sig = None
        ctor_names = frozenset()
    else:
        factory = obj
        ctor_sig = _signature(obj)
        ctor_names = frozenset(ctor_sig.parameters) if ctor_sig is not None else frozenset()
        text = f"{obj.__name__}{ctor_sig}" if ctor_sig is not None else obj.__name__
        required = {n for n, p in (ctor_sig.parameters.items() if ctor_sig else ())
                    if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                           p.KEYWORD_ONLY)}
        if pooling != "windowed" and "kernel_size" in required:
            raise ValueError(f"target {name!r}: {text} needs a kernel_size: is it windowed "
                             f"pooling? (--pooling windowed, the default)")
        probe = dict(ctor_kwargs)
        if pooling == "windowed" and "kernel_size" in ctor_names:
            probe.setdefault("kernel_size", 2)
        if pooling == "adaptive" and "output_size" in ctor_names:
            probe.setdefault("output_size", 2)
        ctor_param = _find_name(ctor_sig, PARAM_NAMES.get(op, ()))
        if ctor_param is not None and ctor_param in required:
            probe.setdefault(ctor_param, 2.0)
        try:
            instance = obj(**probe)
        except Exception as err:
            raise ValueError(f"target {name!r}: cannot construct {obj.__name__}"
                             f"({', '.join(f'{k}={v!r}' for k, v in probe.items())}): "
                             f"{type(err).__name__}: {err}") from None
    cls_name = type(instance).__name__
    text = f"{cls_name}{ctor_sig}" if ctor_sig is not None else cls_name
    if pooling == "windowed" and "kernel_size" not in ctor_names:
        raise ValueError(f"target {name!r}: a windowed module must take kernel_size in its "
                         f"constructor, but {text} does not; is it a global or adaptive "
                         f"pooling layer? (--pooling global / --pooling adaptive)")
    if pooling == "adaptive" and not ctor_names & set(OUTPUT_SIZE_NAMES):
        raise ValueError(f"target {name!r}: an adaptive module must take output_size in its "
                         f"constructor, but {text} does not")
    accepts = frozenset(ctor_names & set(OPTIONAL_ARGS)) if pooling == "windowed" else \
        frozenset()
    kind, learnable, attr, fixed, size = "none", False, None, None, 1
    if conv.has_param:
        candidates = [param_attr] if param_attr else list(PARAM_NAMES[op])
        for cand in candidates:
            if cand is not None and hasattr(instance, cand):
                value = getattr(instance, cand)
                if _is_tensor(value):
                    kind, attr = "tensor", cand
                    learnable = bool(getattr(value, "requires_grad", False))
                    size = int(value.numel())
                    break
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    kind, attr = "number", cand
                    if cand in ctor_kwargs:  # the user fixed it: GeM(p=3) means p = 3
                        kind, fixed = "fixed", float(ctor_kwargs[cand])
                    break
        if attr is None and param_attr:
            raise ValueError(f"target {name!r}: --param-attr {param_attr}: {cls_name} has no "
                             f"attribute {param_attr!r} holding a tensor or a number")
        if kind == "tensor" and _computed_on_read(instance, attr):
            stored = [n for n, _ in instance.named_parameters()]
            raise ValueError(
                f"target {name!r}: {cls_name}.{attr} is computed each time it is read (a "
                f"property: not the tensor the module stores), so no gradient can be read "
                f"from it and none could be set. Name the stored tensor with --param-attr "
                f"NAME ({cls_name}'s parameters: {', '.join(stored) or 'none'}) and, if the "
                f"layer transforms it, the transform with --param-map EXPR")
        if attr is None:
            ctor_param = _find_name(ctor_sig, PARAM_NAMES[op])
            if ctor_param is not None and ctor_param not in ctor_kwargs:
                kind, attr = "ctor", ctor_param
            elif ctor_param is not None or (params and len(params) == 1):
                kind = "fixed"
                fixed = float(ctor_kwargs.get(ctor_param, params[0] if params else 0.0)) \
                    if ctor_param is not None else float(params[0])
            else:
                raise ValueError(
                    f"target {name!r}: cannot find {cls_name}'s parameter: no attribute "
                    f"among {', '.join(PARAM_NAMES[op])} holds a tensor or a number. Name it "
                    f"with --param-attr NAME, or give the value it uses with --param VALUE "
                    f"(then its gradient is not checked)")
    ctor_param = None
    if conv.has_param and ctor_sig is not None:
        name_in_ctor = _find_name(ctor_sig, PARAM_NAMES[op])
        if name_in_ctor is not None and name_in_ctor not in ctor_kwargs:
            ctor_param = name_in_ctor
    mapper, map_text = _param_map(param_map)
    if mapper is not None and kind != "tensor":
        raise ValueError(f"target {name!r}: --param-map needs the parameter in a tensor "
                         f"attribute, but {cls_name}.{attr} is a {kind}")
    return Target(factory, name, op, accepts, pooling, form="module",
                  ctor_kwargs=tuple(sorted(ctor_kwargs.items())), ctor_accepts=ctor_names,
                  param_attr=attr, param_kind=kind, param_learnable=learnable,
                  param_map=mapper, param_map_text=map_text,
                  param_fixed=param_fixed or kind in ("number", "ctor", "fixed"),
                  fixed_value=fixed, ctor_param=ctor_param, signature=text, param_size=size)


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "requires_grad")


MAP_FUNCTIONS = ("softplus", "exp", "log", "sigmoid", "relu", "abs", "sqrt", "tanh", "clamp",
                 "square", "elu", "log1p", "expm1", "float64")


def _param_map(param_map) -> tuple[Callable | None, str | None]:
    """A declared transform of the stored value: a Python callable, or an expression in ``v``
    using ``MAP_FUNCTIONS`` (torch's), numbers and arithmetic, e.g. ``'softplus(v) + 1'``."""
    if param_map is None:
        return None, None
    if callable(param_map):
        return param_map, getattr(param_map, "__name__", repr(param_map))
    text = str(param_map)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError(f"--param-map {text!r} is not an expression in v") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in (*MAP_FUNCTIONS, "v"):
            raise ValueError(f"--param-map {text!r}: unknown name {node.id!r}; use v and "
                             f"{', '.join(MAP_FUNCTIONS)}")
        if isinstance(node, ast.Attribute):
            raise ValueError(f"--param-map {text!r}: attributes are not allowed")
    code = compile(tree, "<param-map>", "eval")

    def mapper(v):
        import torch

        names = {n: getattr(torch, n) for n in MAP_FUNCTIONS if hasattr(torch, n)}
        names["softplus"] = torch.nn.functional.softplus
        names["elu"] = torch.nn.functional.elu
        # a layer that computes its map in float64 whatever its dtype (as ppverify.ops' do)
        names["float64"] = lambda t: t.to(torch.float64)
        names["v"] = v
        return eval(code, {"__builtins__": {}}, names)  # noqa: S307 - the user's own expression

    mapper.__name__ = text
    return mapper, text


#: ``--param-shape``'s keyword: ``(1, C, 1, ...)``, one 1 per spatial axis (broadcasts
#: against ``(N, C, *spatial)``: GeM code that keeps p as ``torch.ones(1, C, 1, 1) * 3``)
BROADCAST_SHAPE = "broadcast"


def parse_param_shape(text: str | None) -> tuple[str, ...] | None:
    """``--param-shape``: the shape a function target's parameter tensor is given, as
    ``("broadcast",)`` or a tuple of ``"1"`` and at most one ``"C"`` (the channel count):
    ``"C"`` (``(C,)``, the default with ``--per-channel``), ``"1,C,1,1"``, ``"1"``. Raises
    ``ValueError`` naming the token at fault."""
    if text is None:
        return None
    spec = str(text).replace(" ", "")
    if spec == BROADCAST_SHAPE:
        return (BROADCAST_SHAPE,)
    tokens = tuple(spec.split(",")) if spec else ()
    bad = [t for t in tokens if t not in ("1", "C")]
    if not tokens or bad:
        what = f"token {bad[0]!r}" if bad else "an empty shape"
        raise ValueError(f"--param-shape {text!r}: {what}; give comma-separated 1s and at most "
                         f"one C (the channel count), e.g. C, 1,C,1,1 or 1, or "
                         f"{BROADCAST_SHAPE!r} for (1, C, 1, ...) with one 1 per spatial axis")
    if tokens.count("C") > 1:
        raise ValueError(f"--param-shape {text!r}: C (the channel count) appears "
                         f"{tokens.count('C')} times; at most once")
    return tokens


def param_tensor_shape(spec: tuple[str, ...] | None, channels: int,
                       dims: int) -> tuple[int, ...] | None:
    """The concrete shape of ``parse_param_shape``'s ``spec`` for a case with ``channels``
    channels and ``dims`` spatial axes (None: the default)."""
    if spec is None:
        return None
    if spec == (BROADCAST_SHAPE,):
        return (1, channels) + (1,) * dims
    return tuple(channels if t == "C" else 1 for t in spec)


#: constructor arguments that take the number of channels (given it in per-channel cases,
#: unless the user's constructor arguments set it)
CHANNEL_ARGS = ("num_channels", "channels", "in_channels", "num_features")


def per_channel_hint(target: Target) -> str:
    """Without ``--per-channel``: a note when the module looks like it has an exponent per
    channel (its attribute holds several values, or its constructor takes a channel count),
    since every case then gives all channels one exponent; else ''."""
    if target.per_channel or target.form != "module" or target.param_kind != "tensor":
        return ""
    arg = channel_arg(target)
    if target.param_size > 1:
        why = f"attribute {target.param_attr!r} holds {target.param_size} values"
    elif arg is not None:
        why = f"constructor takes {arg}"
    else:
        return ""
    return (f"the module's {why}: if it has one exponent per channel, declare --per-channel "
            f"(without it every case gives all its channels one exponent, so a defect between "
            f"channels cannot show)")


def channel_arg(target: Target) -> str | None:
    """The constructor argument given the channel count in per-channel cases, if any."""
    given = {k for k, _ in target.ctor_kwargs}
    return next((n for n in CHANNEL_ARGS if n in target.ctor_accepts and n not in given), None)


def module_kwargs(target: Target, case) -> dict:
    """The constructor arguments of a fresh module for ``case``: the user's, the case's
    pooling arguments and parameter where the constructor takes them, and in per-channel
    cases the channel count (``channel_arg``). ``build_module`` and the reproducer use them."""
    kwargs = dict(target.ctor_kwargs)
    if target.pooling == "windowed":
        kwargs["kernel_size"] = case.kernel_arg()
        kwargs.update({k: v for k, v in case.call_kwargs().items()
                       if k in target.ctor_accepts})
    elif target.pooling == "adaptive":
        name = next((n for n in OUTPUT_SIZE_NAMES if n in target.ctor_accepts), "output_size")
        kwargs[name] = case.output_size_arg()
    if target.ctor_param and case.param is not None:
        kwargs[target.ctor_param] = float(case.param)
    name = channel_arg(target) if case.per_channel else None
    if name is not None:
        kwargs[name] = case.input.shape[-case.dims - 1]
    return kwargs


def build_module(target: Target, case):
    """A fresh module for ``case`` (``module_kwargs``; not yet in the case's dtype)."""
    kwargs = module_kwargs(target, case)
    return target.fn(**kwargs) if kwargs or not isinstance(target.fn, functools.partial) \
        else target.fn()


def default_dims(target: str) -> tuple[int, ...]:
    """Dimensions to check when none are given: all three for a ``{d}`` template, the one a
    name ending in ``1d``/``2d``/``3d`` implies, else 2."""
    if "{d}" in target:
        return (1, 2, 3)
    head = target.split("(")[0]
    match = re.search(r"([123])d$", head)
    return (int(match.group(1)),) if match else (2,)
