"""Pooling layers with a (learnable) parameter: P-pooling, the power mean (GeM) and Lp.

=======================================  ============================================  =========
layer                                    pools                                         parameter
=======================================  ============================================  =========
``PPool1d/2d/3d(kernel_size, ...)``      P-pooling, torch's windows                    ``alpha``
``AdaptivePPool1d/2d/3d(output_size)``   P-pooling, adaptive windows (1: global)        ``alpha``
``PowerMean1d/2d/3d(kernel_size, ...)``  the power mean, torch's windows               ``p``
``AdaptivePowerMean1d/2d/3d(...)``       the power mean, adaptive windows              ``p``
``GeM(p=3.0)``                           the power mean over the whole plane (global)  ``p``
``LPPool1d/2d/3d(norm_type, ...)``       the Lp norm (``torch.nn.LPPool2d``'s          ``p``
                                         arguments; a fixed p unless ``learnable``)
=======================================  ============================================  =========

Parameter options (keyword-only):

* ``alpha=`` / ``p=``: the initial value (P-pooling 1.0, power mean and GeM 3.0);
* ``learnable``: a ``torch.nn.Parameter`` (default, except ``LPPool``) or a fixed buffer;
* ``num_channels``: ``None`` for one value shared by all channels, or the number of channels
  for one value per channel;
* ``constraint``: how the value is kept where you want it:

  - ``"none"`` (default): the stored tensor is the parameter itself, any real value;
  - ``"clamp"``: the stored value used as ``max(value, 0)`` (its gradient is 0 while it is
    below 0, so it can get stuck there);
  - ``"softplus"``: the stored tensor is ``rho`` and the parameter is
    ``softplus(rho) = ln(1 + e^rho) > 0`` (smooth, never exactly 0; the initial value must
    be > 0);
  - ``"softplus+1"``: ``1 + softplus(rho) > 1`` (a GeM exponent that stays above the mean's);

* ``dtype``: the stored tensor's dtype when it is learnable (default: torch's default dtype,
  ``torch.get_default_dtype()``, float32 unless changed, as torch's layers create their
  parameters; until 2026-12-05 always float32; ``module.to(dtype)`` converts it). A fixed value
  is kept in float64 whatever the module is converted to, so it is the number given (as
  ``torch.nn.LPPool2d``'s Python float): ``LPPool2d(0.1, 2)`` stored in float32 was p =
  0.10000000149, 2e7 ULP off in a float64 output (``ppverify check 'ppverify.ops:LPPool{d}d'
  --op lp --param-fixed``, small p);
* ``validate``: see ``ppverify.ops.functional`` (default True).

``module.alpha`` / ``module.p`` is the effective value (after the constraint); the stored
tensor is ``raw_alpha`` / ``raw_p``. The pooling is the functional op of the same name
(``ppverify.ops.functional``, ``ppverify.ops.power_mean``): its mathematics, conventions and
numerics apply.
"""

from __future__ import annotations

import math
import numbers

import torch

from . import _layout
from ._dispatch import OPERATORS, pool
from ._validate import check_flag, is_real_scalar, real_to_float

__all__ = ["CONSTRAINTS", "PPool1d", "PPool2d", "PPool3d", "AdaptivePPool1d", "AdaptivePPool2d",
           "AdaptivePPool3d", "PowerMean1d", "PowerMean2d", "PowerMean3d",
           "AdaptivePowerMean1d", "AdaptivePowerMean2d", "AdaptivePowerMean3d", "GeM",
           "LPPool1d", "LPPool2d", "LPPool3d"]

CONSTRAINTS = ("none", "clamp", "softplus", "softplus+1")

_FORMULA = {"none": "{}", "clamp": "max({}, 0)", "softplus": "softplus({})",
            "softplus+1": "1 + softplus({})"}
_TINY = 4.9406564584124654e-324  # the smallest positive float64
_ABOVE_ONE = 1.0000000000000002  # the float64 after 1


def _softplus(rho: torch.Tensor) -> torch.Tensor:
    """``softplus(rho) = ln(1 + e^rho)``: the values of ``F.softplus(rho, threshold=40)``
    (``log1p(exp(rho))``, and ``rho`` itself above 40), bit for bit, with the derivatives of
    ``logaddexp(rho, 0)`` (the same function), whose backward is the one division
    ``g / (1 + e^-rho) = g sigmoid(rho)``: no overflow for a huge ``g`` (torch's softplus
    backward forms ``g e^rho`` first: a dy/dalpha of 1e308 at ``rho = 1.85`` gave an infinite
    ``raw_alpha.grad`` where 8.6e307 is right), no loss of a subnormal ``g``, ``inf`` for an
    infinite one, and the second derivative ``sigmoid'`` through autograd. (``value - smooth``
    is exact, the two being within a rounding of each other, so the sum is ``value``.)"""
    value = torch.where(rho > 40.0, rho, torch.log1p(torch.exp(rho.clamp(max=40.0))))
    smooth = torch.logaddexp(rho, torch.zeros_like(rho))
    return smooth + (value - smooth).detach()


def effective_param(raw: torch.Tensor, constraint: str) -> torch.Tensor:
    """A layer's stored parameter after its constraint, in float64 (``_ParamPool._effective``
    says why float64; a module-level function so that a ``torch.fx`` graph can call it)."""
    raw = raw.to(torch.float64)
    if constraint == "softplus":
        return _softplus(raw).clamp(min=_TINY)
    if constraint == "softplus+1":
        return (1.0 + _softplus(raw)).clamp(min=_ABOVE_ONE)
    if constraint == "clamp":
        return raw.clamp(min=0)
    return raw


def _inverse_softplus(a: float) -> float:
    """``rho`` with ``softplus(rho) = ln(1 + e^rho) = a`` for ``a > 0``: ``ln(expm1(a))``,
    written ``a + ln(1 - e^-a)`` for large ``a`` (``expm1`` would overflow past 709) and
    ``ln(a) + a / 2`` for tiny ``a`` (``expm1(a) = a (1 + a/2 + ...)``, and ``expm1`` of a
    subnormal loses digits)."""
    if a > 30:
        return a + math.log(-math.expm1(-a))
    if a < 1e-8:
        return math.log(a) + a / 2
    return math.log(math.expm1(a))


def _real_value(value, name: str) -> float:
    """The initial value as a float: a real number (Python or numpy, not a bool) or a 0-d real
    tensor; ``TypeError`` naming the argument otherwise, ``ValueError`` beyond float64."""
    if isinstance(value, torch.Tensor):
        if value.dim() == 0 and value.dtype != torch.bool and not value.is_complex() and \
                value.layout == torch.strided and value.device.type != "meta":
            return float(value)
    elif is_real_scalar(value):
        return real_to_float(value, name)
    raise TypeError(f"{name} must be a real number, got {value!r}"[:200])


def _stored(raw: float, dtype: torch.dtype, name: str, value: float, constraint: str) -> float:
    """``raw`` if ``dtype`` holds it; ``ValueError`` naming the parameter when it would round to
    an infinity, or (a non-zero value) to 0, which is another parameter (at zeros)."""
    # (on the CPU whatever the default device: a layer built under torch.device("meta"))
    rounded = float(torch.tensor(raw, dtype=torch.float64, device="cpu").to(dtype))
    if not (math.isinf(rounded) or (rounded == 0 and raw != 0)):
        return raw
    what = "overflows" if math.isinf(rounded) else "rounds to 0 in"
    stored = f" (stored as raw_{name} = {raw:g})" if constraint.startswith("softplus") else ""
    raise ValueError(f"{name} = {value:g} with constraint={constraint!r}{stored} {what} the "
                     f"layer's dtype {dtype}; pass dtype=torch.float64 or another {name}")


def _constraint_of(state) -> str | None:
    """The constraint recorded by ``get_extra_state`` (a uint8 tensor of ASCII; a plain
    string is accepted too), or None if ``state`` is not such a record."""
    if isinstance(state, str):
        return state
    if isinstance(state, torch.Tensor) and state.dtype == torch.uint8 and state.dim() == 1:
        try:
            return bytes(state.tolist()).decode("ascii")
        except UnicodeDecodeError:
            return None
    return None


def _carries_a_derivative(value: torch.Tensor) -> bool:
    """Whether the constrained parameter is part of a graph (backward or forward mode), so that
    a layer may not keep it for later calls."""
    return value.requires_grad or torch.autograd.forward_ad.unpack_dual(value).tangent is not None


class _ParamPool(torch.nn.Module):
    """A pooling layer: an operator, a layout and its parameter (see the module docstring)."""

    op = "ppool"
    dims = 0

    def __init__(self, layout, *, value: float, learnable: bool, num_channels: int | None,
                 constraint: str, dtype: torch.dtype | None, validate: bool):
        super().__init__()
        name = OPERATORS[self.op].param
        self.layout = layout
        self.validate = check_flag(validate, "validate")
        check_flag(learnable, "learnable")
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
        if dtype is None:  # torch's default, as torch's layers create their parameters
            dtype = torch.get_default_dtype()
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        value = _real_value(value, name)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
        if value == 0 and not OPERATORS[self.op].zero_param:
            raise ValueError(f"{name} = 0 is outside the domain of {OPERATORS[self.op].title}")
        if constraint == "softplus":
            if value <= 0:
                raise ValueError(f"{name} must be > 0 with constraint='softplus', got {value}")
            raw = _inverse_softplus(value)
        elif constraint == "softplus+1":
            if value <= 1:
                raise ValueError(f"{name} must be > 1 with constraint='softplus+1', got {value}")
            raw = _inverse_softplus(value - 1)
        else:
            raw = value
        if not learnable:  # a fixed value: exactly as given (see the module doc)
            dtype = torch.float64
        raw = _stored(raw, dtype, name, value, constraint)
        if num_channels is not None and (isinstance(num_channels, bool)
                                         or not isinstance(num_channels, numbers.Integral)
                                         or num_channels < 1):
            raise ValueError(f"num_channels must be None or a positive int, got {num_channels!r}")
        num_channels = None if num_channels is None else int(num_channels)
        shape = () if num_channels is None else (num_channels,)
        stored = torch.full(shape, raw, dtype=dtype)
        self.constraint = constraint
        self.num_channels = num_channels
        self._param_name = name
        self._initial_raw = raw  # (reset_parameters)
        if learnable:
            self.register_parameter(f"raw_{name}", torch.nn.Parameter(stored))
        else:
            self.register_buffer(f"raw_{name}", stored)

    def reset_parameters(self) -> None:
        """Set the stored parameter back to the value the layer was constructed with (torch's
        convention: a model built under ``torch.device("meta")`` is materialised by
        ``to_empty(device=...)``, whose tensors hold no values, then ``reset_parameters()``)."""
        stored = getattr(self, f"raw_{self._param_name}")
        with torch.no_grad():
            stored.fill_(self._initial_raw)

    def _apply(self, fn, recurse=True):
        """``to``, ``half``, ``cuda``, ...: a fixed parameter (a float64 buffer, see the module
        doc) follows the module's device but keeps float64 and its value (a buffer on the meta
        device, which holds none, becomes the tensor ``fn`` makes: ``to_empty``, then
        ``reset_parameters``)."""
        name = f"raw_{self._param_name}"
        fixed = self._buffers.get(name)
        if fixed is None or fixed.dtype != torch.float64:
            return super()._apply(fn, recurse)
        self._buffers[name] = None  # (the key keeps its place in the state_dict's order)
        try:
            return super()._apply(fn, recurse)
        finally:
            made = fn(fixed)
            self._buffers[name] = made.to(torch.float64) if fixed.is_meta else \
                fixed.to(device=made.device)

    def _effective(self) -> torch.Tensor:
        """The parameter after the constraint, in float64 (what the op computes with): a
        float32 ``rho`` as low as -745 still gives a positive softplus, which float32 would
        round to 0 below -104 (and 0 is not a small positive alpha: zeros then count in the
        window). The softplus constraints are floored at the smallest float64 above 0 (above
        1 for "softplus+1"), so their bound holds even once ``rho`` is far below that; above
        ``rho = 40`` softplus is ``rho`` to float64's precision (torch's default switches at
        20, 2e-9 early)."""
        return effective_param(getattr(self, f"raw_{self._param_name}"), self.constraint)

    # ------------------------------------------------------------ checkpoints (state_dict)

    def get_extra_state(self) -> torch.Tensor:
        """The constraint, saved in the ``state_dict`` as ``<prefix>_extra_state``: its name in
        ASCII as a uint8 tensor (a tensor, so that the ``state_dict`` holds only tensors and
        ``torch.load(weights_only=True)`` takes it)."""
        return torch.tensor(list(self.constraint.encode("ascii")), dtype=torch.uint8)

    def set_extra_state(self, state) -> None:
        """Checked in ``_load_from_state_dict`` before anything is copied."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Refuse a checkpoint whose ``raw_*`` was stored under another constraint (before
        anything of this module is copied); a checkpoint without the record (saved before
        ppverify stored it) loads as before: ``raw_*`` is read under this module's
        constraint."""
        key = prefix + "_extra_state"
        if key in state_dict:
            saved = _constraint_of(state_dict[key])
            if saved != self.constraint:
                raw, name = f"raw_{self._param_name}", self._param_name
                if saved not in CONSTRAINTS:
                    error_msgs.append(f"{key}: not a constraint record of ppverify's layers "
                                      f"(a uint8 tensor naming one of {CONSTRAINTS}), got "
                                      f"{state_dict[key]!r:.80}")
                    return
                error_msgs.append(
                    f"constraint mismatch for {prefix}{raw}: the checkpoint was saved with "
                    f"constraint={saved!r} ({name} = {_FORMULA[saved].format(raw)}), but this "
                    f"{type(self).__name__} has constraint={self.constraint!r} ({name} = "
                    f"{_FORMULA[self.constraint].format(raw)}), so loading would change "
                    f"{name}; construct the layer with constraint={saved!r}")
                return
        raw_key = prefix + f"raw_{self._param_name}"
        incoming = state_dict.get(raw_key)
        mine = getattr(self, f"raw_{self._param_name}")
        if isinstance(incoming, torch.Tensor) and incoming.is_floating_point() and \
                incoming.device.type != "meta" and incoming.dtype != mine.dtype:
            cast = incoming.detach().to(mine.dtype)
            lost = (torch.isfinite(incoming) & ~torch.isfinite(cast)) | \
                   ((incoming != 0) & (cast == 0))
            if bool(lost.any()):
                bad = float(incoming.detach().reshape(-1)[lost.reshape(-1)][0])
                error_msgs.append(f"{raw_key} = {bad:g} from the checkpoint ({incoming.dtype}) "
                                  f"cannot be held by this {type(self).__name__}'s dtype "
                                  f"{mine.dtype} (it would become "
                                  f"{float(torch.tensor(bad).to(mine.dtype)):g}); construct the "
                                  f"layer with dtype={incoming.dtype}")
                return
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)
        if key not in state_dict and key in missing_keys:
            missing_keys.remove(key)  # a checkpoint from before the constraint was stored

    def _stored_param(self) -> torch.Tensor:
        """The stored parameter (``raw_<name>``: a Parameter, or a buffer where fixed)."""
        name = f"raw_{self._param_name}"
        raw = self._parameters.get(name)
        return getattr(self, name) if raw is None else raw

    def _memo_allowed(self, raw: torch.Tensor) -> bool:
        """Whether ``forward`` may reuse the constrained parameter computed from ``raw``'s
        values: no derivative of it is wanted (inference, a fixed parameter), in eager mode
        (not under tracing, ``torch.compile`` or a torch.func transform), on the CPU, where
        reading its values to compare them costs less than the cast and the constraint."""
        return not ((raw.requires_grad and torch.is_grad_enabled())
                    or torch.compiler.is_compiling() or torch._C._is_tracing()
                    or not raw.is_cpu or raw.is_inference()
                    or torch._C._functorch.is_functorch_wrapped_tensor(raw))

    def _effective_cached(self) -> torch.Tensor:
        """``_effective()`` for ``forward``, reused while the stored parameter's values are
        those it was computed from (``_memo_allowed``): the float64 cast and the constraint
        cost about 4 us per call, as much as the kernel on a small input. Reused by its values,
        not by the tensor's version counter: an update through ``.data`` (``p.data.fill_(3)``,
        common in GeM code) changes the values but not the counter, and a layer reused by the
        counter pooled with the old parameter (before 2026-12-07); values compared also
        follow every other change (optimizer steps, ``load_state_dict``, ``.data =``,
        ``.to()``). Not kept under ``torch.inference_mode`` (the result is an inference tensor,
        and whether it was written to is read from its version counter) nor off the CPU."""
        raw = self._stored_param()
        if not self._memo_allowed(raw) or torch.is_inference_mode_enabled():
            return self._effective()
        cached = self.__dict__.get("_effective_memo")
        if (cached is not None and cached[0].dtype == raw.dtype and cached[2] == cached[1]._version
                and torch.equal(cached[0], raw)):
            return cached[1]
        value = self._effective()
        if _carries_a_derivative(value):
            return value
        self.__dict__["_effective_memo"] = (raw.detach().clone(), value, value._version)
        return value

    def _pool_param(self) -> torch.Tensor | float:
        """What ``forward`` hands the op. Where the constrained parameter may not be reused
        (not ``_memo_allowed``: its derivative wanted, compiling, tracing, off the CPU): with
        no constraint the stored tensor itself (the op casts it), else ``_effective()``.
        Where it may: ``_effective_cached()``, or for one parameter (0-d) its value as a Python
        float (the same float64 value, so the same result, through the op's shortcut for a
        float parameter: a layer's forward on a (1, 1, 4, 4) input took 12.6 us against
        ``MaxPool2d``'s 3.2, the functional form with a float 5.3; 2026-12-07), reused while
        the stored value is the one it was computed from (read each call: about 0.4 us);
        under ``torch.inference_mode`` too."""
        raw = self._stored_param()
        if not self._memo_allowed(raw):
            # without a constraint the stored tensor itself: the op casts it (eager autograd
            # inside its node, where a cast node of its own cost about 10 us of a small input's
            # forward+backward)
            return raw if self.constraint == "none" else self._effective()
        if raw.dim() != 0:
            return self._effective_cached()
        stored = raw.item()
        memo = self.__dict__.get("_float_memo")
        # (a NaN never matches: checked afresh; -0.0 is not 0.0 here)
        if memo is not None and memo[0] == stored and \
                math.copysign(1.0, memo[0]) == math.copysign(1.0, stored):
            return memo[1]
        value = self._effective()
        if _carries_a_derivative(value):
            return value
        result = value.item()
        self.__dict__["_float_memo"] = (stored, result)
        return result

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if isinstance(input, torch.fx.Proxy):  # torch.fx.symbolic_trace
            return self._fx_node(input)
        return pool(self.op, input, self._pool_param(), self.layout, self.validate)

    def _fx_node(self, input: torch.fx.Proxy) -> torch.fx.Proxy:
        """The layer in a graph of ``torch.fx.symbolic_trace``: a submodule is one
        ``call_module`` node (the traced module calls the layer itself, so its parameter stays
        learnable); a traced layer alone reads its stored parameter (``get_attr``), applies
        the constraint and pools (``call_function`` nodes)."""
        tracer = input.tracer
        path = tracer.path_of_module(self)
        if path:
            return tracer.create_proxy("call_module", path, (input,), {})
        raw = tracer.create_proxy("get_attr", f"raw_{self._param_name}", (), {})
        param = tracer.create_proxy("call_function", effective_param, (raw, self.constraint),
                                    {})
        return pool(self.op, input, param, self.layout, self.validate)  # a Proxy: one node

    def extra_repr(self) -> str:
        a = self._effective().detach()
        shown = f"{a.item():g}" if a.dim() == 0 else f"per channel ({a.numel()})"
        raw = getattr(self, f"raw_{self._param_name}")
        return (f"{self._layout_repr()}, {self._param_name}={shown}, "
                f"learnable={isinstance(raw, torch.nn.Parameter)}, "
                f"constraint={self.constraint!r}")

    def _layout_repr(self) -> str:
        g = self.layout
        if isinstance(g, _layout.AdaptiveGeometry):
            return f"output_size={g.output_size}"
        return (f"kernel_size={g.kernel_size}, stride={g.stride}, padding={g.padding}, "
                f"dilation={g.dilation}, ceil_mode={g.ceil_mode}")


class _Windowed(_ParamPool):
    """A layer over torch's pooling windows."""

    def _setup(self, value, kernel_size, stride, padding, dilation, ceil_mode, options):
        layout = _layout.windowed(self.dims, kernel_size, stride, padding, dilation, ceil_mode)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        _ParamPool.__init__(self, layout, value=value, **options)


class _Adaptive(_ParamPool):
    """A layer over adaptive windows (``output_size=1``: global)."""

    def _setup(self, value, output_size, options):
        self.output_size = output_size
        _ParamPool.__init__(self, _layout.adaptive(self.dims, output_size), value=value,
                            **options)


def _options(learnable, num_channels, constraint, dtype, validate) -> dict:
    return dict(learnable=learnable, num_channels=num_channels, constraint=constraint,
                dtype=dtype, validate=validate)


class _PPoolWindowed(_Windowed):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                 alpha: float = 1.0, learnable: bool = True, num_channels: int | None = None,
                 constraint: str = "none", dtype: torch.dtype | None = None,
                 validate: bool = True):
        self._setup(alpha, kernel_size, stride, padding, dilation, ceil_mode,
                    _options(learnable, num_channels, constraint, dtype, validate))

    @property
    def alpha(self) -> torch.Tensor:
        """The effective alpha (after the constraint)."""
        return self._effective()


class _PPoolAdaptive(_Adaptive):
    def __init__(self, output_size, *, alpha: float = 1.0, learnable: bool = True,
                 num_channels: int | None = None, constraint: str = "none",
                 dtype: torch.dtype | None = None, validate: bool = True):
        self._setup(alpha, output_size,
                    _options(learnable, num_channels, constraint, dtype, validate))

    @property
    def alpha(self) -> torch.Tensor:
        """The effective alpha (after the constraint)."""
        return self._effective()


class _PowerWindowed(_Windowed):
    op = "powermean"

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                 p: float = 3.0, learnable: bool = True, num_channels: int | None = None,
                 constraint: str = "none", dtype: torch.dtype | None = None,
                 validate: bool = True):
        self._setup(p, kernel_size, stride, padding, dilation, ceil_mode,
                    _options(learnable, num_channels, constraint, dtype, validate))

    @property
    def p(self) -> torch.Tensor:
        """The effective p (after the constraint)."""
        return self._effective()


class _PowerAdaptive(_Adaptive):
    op = "powermean"

    def __init__(self, output_size, *, p: float = 3.0, learnable: bool = True,
                 num_channels: int | None = None, constraint: str = "none",
                 dtype: torch.dtype | None = None, validate: bool = True):
        self._setup(p, output_size,
                    _options(learnable, num_channels, constraint, dtype, validate))

    @property
    def p(self) -> torch.Tensor:
        """The effective p (after the constraint)."""
        return self._effective()


class PPool1d(_PPoolWindowed):
    """1-D P-pooling layer; see the module docstring for the alpha options."""

    dims = 1


class PPool2d(_PPoolWindowed):
    """2-D P-pooling layer; see the module docstring for the alpha options."""

    dims = 2


class PPool3d(_PPoolWindowed):
    """3-D P-pooling layer; see the module docstring for the alpha options."""

    dims = 3


class AdaptivePPool1d(_PPoolAdaptive):
    """Adaptive 1-D P-pooling (``output_size=1``: global); alpha options as ``PPool1d``."""

    dims = 1


class AdaptivePPool2d(_PPoolAdaptive):
    """Adaptive 2-D P-pooling (``output_size=1``: global); alpha options as ``PPool2d``."""

    dims = 2


class AdaptivePPool3d(_PPoolAdaptive):
    """Adaptive 3-D P-pooling (``output_size=1``: global); alpha options as ``PPool3d``."""

    dims = 3


class PowerMean1d(_PowerWindowed):
    """1-D power mean (GeM) over torch's windows; ``p=3.0`` by default."""

    dims = 1


class PowerMean2d(_PowerWindowed):
    """2-D power mean (GeM) over torch's windows; ``p=3.0`` by default."""

    dims = 2


class PowerMean3d(_PowerWindowed):
    """3-D power mean (GeM) over torch's windows; ``p=3.0`` by default."""

    dims = 3


class AdaptivePowerMean1d(_PowerAdaptive):
    """Adaptive 1-D power mean; ``output_size=1`` is global GeM."""

    dims = 1


class AdaptivePowerMean2d(_PowerAdaptive):
    """Adaptive 2-D power mean; ``output_size=1`` is global GeM (see ``GeM``)."""

    dims = 2


class AdaptivePowerMean3d(_PowerAdaptive):
    """Adaptive 3-D power mean; ``output_size=1`` is global GeM."""

    dims = 3


class GeM(_Adaptive):
    """Generalized-mean (GeM) pooling: the power mean of each whole plane,
    ``((1/n) Σ x^p)^(1/p)``, output ``(N, C, 1, 1)`` like ``adaptive_avg_pool2d(x, 1)``.

    ``GeM(p=3.0, dims=2, learnable=True, num_channels=None, constraint="none")``; unlike the
    usual ``avg_pool(x.clamp(min=eps).pow(p)).pow(1/p)`` it needs no ``eps``: zeros are exact
    (they count in n and add nothing), and nothing overflows or underflows for any finite input
    and p (``ppverify.ops.power_mean``).
    """

    op = "powermean"

    def __init__(self, p: float = 3.0, *, dims: int = 2, learnable: bool = True,
                 num_channels: int | None = None, constraint: str = "none",
                 dtype: torch.dtype | None = None, validate: bool = True):
        if isinstance(dims, bool) or not isinstance(dims, numbers.Integral) or \
                dims not in (1, 2, 3):
            raise ValueError(f"dims must be 1, 2 or 3 (an int), got {dims!r}")
        dims = int(dims)
        self.dims = dims
        self._setup(p, 1, _options(learnable, num_channels, constraint, dtype, validate))

    @property
    def p(self) -> torch.Tensor:
        """The effective p (after the constraint)."""
        return self._effective()


class _LPPool(_Windowed):
    op = "lp"

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False, *,
                 learnable: bool = False, num_channels: int | None = None,
                 constraint: str = "none", dtype: torch.dtype | None = None,
                 validate: bool = True):
        self.norm_type = norm_type
        self._setup(norm_type, kernel_size, stride, 0, 1, ceil_mode,
                    _options(learnable, num_channels, constraint, dtype, validate))

    @property
    def p(self) -> torch.Tensor:
        """The effective p, the norm's exponent (after the constraint)."""
        return self._effective()


class LPPool1d(_LPPool):
    """``torch.nn.LPPool1d(norm_type, kernel_size, stride=None, ceil_mode=False)``, stable and
    with the norm's own value at ``ceil_mode`` partial windows (``ppverify.ops.lp_pool1d``)."""

    dims = 1


class LPPool2d(_LPPool):
    """``torch.nn.LPPool2d``-compatible; see ``LPPool1d``."""

    dims = 2


class LPPool3d(_LPPool):
    """``torch.nn.LPPool3d``-compatible; see ``LPPool1d``."""

    dims = 3
