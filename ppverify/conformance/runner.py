"""Running a target on a case: the only module of ``conformance`` that imports torch (lazily).

``run_case(target, case)`` builds the input tensor in the case's dtype and memory layout, calls
the target as ``targets`` describes (a function with the parameter as a ``requires_grad``
tensor, falling back to a Python float when the target refuses a tensor; or a fresh module in
the case's dtype with its parameter attribute set), then autograd backward with the case's
upstream gradient, and returns an ``Outcome`` of plain numpy arrays. Nothing is judged here.
``prepare_case`` applies a module's declared parameter map (``invert_map``, ``map_slope``);
``run_prepared`` does both, as the worker process of ``isolation`` does for every case.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from .cases import Case
from .targets import Target


@dataclass
class Outcome:
    """What the target did on one case (values as float64 numpy arrays)."""

    output: np.ndarray | None = None
    output_shape: tuple[int, ...] | None = None
    output_dtype: str | None = None  # "float32", ...
    grad_input: np.ndarray | None = None
    grad_param: float | np.ndarray | None = None  # one per channel with per-channel cases
    error: str | None = None  # "TypeError: ..." when the call raised
    error_phase: str | None = None  # "forward" or "backward"
    input_grad_missing: bool = False
    param_mode: str = "none"  # "tensor", "float" (target refused a tensor), "none"
    param_grad_missing: bool = False
    # a module with a declared parameter map: the case's parameter as the map gives it in the
    # case's dtype, and the raw value stored (``prepare_case``, done where the target runs)
    prepared: bool = False
    case_param: float | None = None
    case_param_raw: float | None = None
    case_channel_params: tuple[float, ...] | None = None  # the same, per channel
    case_channel_params_raw: tuple[float, ...] | None = None
    case_notes: list[str] = field(default_factory=list)


def torch_dtype(name: str):
    import torch

    return {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
            "bfloat16": torch.bfloat16}[name]


def make_input(case: Case, requires_grad: bool = True):
    """The input tensor: exact values in the case's dtype and memory layout, a leaf."""
    import torch

    dtype = torch_dtype(case.dtype)
    values = torch.tensor(case.input, dtype=torch.float64)
    if case.layout == "strided" and values.ndim >= 1:
        shape = tuple(values.shape)
        base = torch.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
        base[..., ::2] = values.to(dtype)
        x = base[..., ::2]
    elif case.layout == "channels_last" and values.ndim >= 2:
        channel = 1 if values.ndim == case.dims + 2 else 0
        x = values.to(dtype).movedim(channel, -1).contiguous().movedim(-1, channel)
    else:
        x = values.to(dtype).contiguous()
    x = x.detach()
    if requires_grad:
        x.requires_grad_(True)
    return x


def _to_numpy(t) -> np.ndarray:
    return t.detach().to("cpu").double().numpy().copy()


def _call(target: Target, case: Case, x, param):
    """Call a function target as ``target.call_text()`` says (see ``targets``)."""
    args, kwargs = [x], {}
    if target.passes_param:
        if target.pooling == "windowed" or target.param_positional:
            args.append(param)
        else:
            kwargs[target.param_arg] = param
    if target.pooling == "windowed":
        args.append(case.kernel_arg())
        kwargs.update(case.call_kwargs())
    elif target.pooling == "adaptive":
        if target.size_arg:
            kwargs[target.size_arg] = case.output_size_arg()
        else:
            args.append(case.output_size_arg())
    return target.fn(*args, **kwargs)


def _describe(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def map_slope(mapper, v: float) -> float:
    """``d mapper(v) / dv`` in float64 (autograd)."""
    import torch

    t = torch.tensor(float(v), dtype=torch.float64, requires_grad=True)
    y = mapper(t)
    (g,) = torch.autograd.grad(y.sum(), [t])
    return float(g)


def _map_value(mapper, v: float, dtype: str = "float64") -> float:
    import torch

    with torch.no_grad():
        return float(mapper(torch.tensor(float(v), dtype=torch_dtype(dtype))))


def map_range(mapper) -> tuple[float, float]:
    """The open range of parameters a (monotone) declared map reaches, probed on v in
    [-1e4, 1e4]: ``(min, max)`` of the finite values seen."""
    values = []
    for v in [-1e4, -1e3, -100.0, -30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 30.0, 100.0,
              1e3, 1e4]:
        try:
            y = _map_value(mapper, v)
        except Exception:  # a map undefined there (log of a negative, say)
            continue
        if y == y and abs(y) != float("inf"):
            values.append(y)
    if not values:
        raise ValueError(f"--param-map {getattr(mapper, '__name__', mapper)}: no finite value "
                         f"for v in [-1e4, 1e4]")
    return min(values), max(values)


def invert_map(mapper, p: float) -> float:
    """The raw value ``v`` with ``mapper(v) = p`` (float64 bisection; the map is monotone)."""
    grid = [-1e4, -1e3, -100.0, -30.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 10.0, 30.0, 100.0,
            1e3, 1e4]
    points = []
    for v in grid:
        try:
            y = _map_value(mapper, v)
        except Exception:
            continue
        if y == y:
            points.append((v, y - p))
    for (a, fa), (b, fb) in zip(points, points[1:]):
        if fa == 0:
            return a
        if (fa < 0) != (fb < 0):
            for _ in range(200):
                m = 0.5 * (a + b)
                fm = _map_value(mapper, m) - p
                if fm == 0 or m in (a, b):
                    return m
                if (fm < 0) == (fa < 0):
                    a, fa = m, fm
                else:
                    b = m
            return 0.5 * (a + b)
    raise ValueError(f"--param-map {getattr(mapper, '__name__', mapper)} does not reach "
                     f"the parameter {p:g}")


def prepare_case(target: Target, case: Case) -> Case:
    """For a module with a declared ``param_map``: store the raw value that gives the case's
    parameter, and take as the case's parameter what the map gives for it in the case's dtype
    (the module computes exactly that). Other targets: the case unchanged."""
    if target.form != "module" or target.param_map is None or case.param is None:
        return case
    from dataclasses import replace

    from .values import representable

    def prepared(p: float) -> tuple[float, float]:
        v = invert_map(target.param_map, p)
        v = float(representable(np.array([v]), case.dtype)[0])
        return _map_value(target.param_map, v, case.dtype), v

    if case.per_channel:
        pairs = [prepared(p) for p in case.channel_params]
        effective, raw = tuple(e for e, _ in pairs), tuple(v for _, v in pairs)
        return replace(case, param=effective[0], param_raw=raw[0], channel_params=effective,
                       channel_params_raw=raw)
    effective, v = prepared(case.param)
    return replace(case, param=effective, param_raw=v)


def needs_preparation(target: Target, case: Case) -> bool:
    """Whether ``case`` must go through ``prepare_case`` before it runs: a module with a
    declared parameter map, on a case whose raw value is not set yet."""
    return (target.form == "module" and target.param_map_text is not None
            and case.param is not None and case.param_raw is None)


def run_prepared(target: Target, case: Case) -> Outcome:
    """``prepare_case`` (when ``needs_preparation``), then ``run_case``; the prepared
    parameter, raw value and notes travel in the outcome (``Outcome.prepared``)."""
    if not needs_preparation(target, case):
        return run_case(target, case)
    notes: list[str] = []
    try:
        prepared = prepare_case(target, case)
    except ValueError as err:
        prepared, notes = case, [str(err)]
    except Exception as err:  # the user's map raised: the case runs unprepared
        prepared, notes = case, [f"--param-map failed: {_describe(err)}"]
    out = run_case(target, prepared)
    out.prepared = True
    out.case_param, out.case_param_raw = prepared.param, prepared.param_raw
    out.case_channel_params = prepared.channel_params
    out.case_channel_params_raw = prepared.channel_params_raw
    out.case_notes = notes
    return out


def run_case(target: Target, case: Case) -> Outcome:
    """Run ``target`` forward and backward on ``case``; exceptions are recorded, not raised."""
    out = Outcome()
    try:
        x = make_input(case, requires_grad=case.expect_error is None and case.gradients)
    except Exception as err:  # values not representable, e.g. wrong rank errors built by hand
        out.error, out.error_phase = _describe(err), "setup"
        return out
    if target.form == "module":
        return _run_module(target, case, x, out)
    param = None
    if target.passes_param:
        param = param_tensor(target, case)
        out.param_mode = "tensor"
    try:
        try:
            y = _call(target, case, x, param)
        except Exception:
            if param is None or case.per_channel or target.param_shape is not None:
                raise
            # a target that takes its parameter as a Python number only
            y = _call(target, case, x, float(case.param))
            out.param_mode, param = "float", None
    except Exception as err:
        out.error, out.error_phase = _describe(err), "forward"
        return out
    return _backward(case, x, param, y, out)


def param_tensor(target: Target, case: Case):
    """The parameter a function target is given: a 0-d tensor, per channel one of shape
    ``(C,)``, or the shape declared with ``--param-shape`` (``targets.param_tensor_shape``;
    a case's one exponent repeated over C entries, whose gradients ``_backward`` adds)."""
    import torch

    from .targets import param_tensor_shape

    values = torch.tensor(case.oracle_param, dtype=torch_dtype(case.dtype))
    shape = param_tensor_shape(target.param_shape, case.channels, case.dims)
    if shape is not None:
        values = values.reshape(shape) if case.per_channel else values.expand(shape).clone()
    return values.requires_grad_(case.gradients)


def _run_module(target: Target, case: Case, x, out: Outcome) -> Outcome:
    import torch

    from .targets import build_module

    try:
        module = build_module(target, case).to(torch_dtype(case.dtype))
    except Exception as err:
        out.error, out.error_phase = _describe(err), "constructing the module"
        return out
    leaf = None
    raw = case.stored_params()
    try:
        if target.param_kind == "tensor" and case.param is not None:
            if case.per_channel:
                stored = store_channel_params(module, target.param_attr, raw)
            else:
                stored = getattr(module, target.param_attr)
                with torch.no_grad():
                    stored.fill_(raw)
            out.param_mode = "tensor"
            if stored.requires_grad:
                leaf = stored
        elif case.per_channel and case.param is not None:
            raise TypeError(f"--per-channel: the attribute {target.param_attr!r} holds one "
                            f"number, not a tensor that can hold one exponent per channel")
        elif target.param_kind == "number" and case.param is not None:
            if not target.ctor_param:  # the constructor did not take it: set the attribute
                setattr(module, target.param_attr, float(raw))
            out.param_mode = "float"
    except Exception as err:
        out.error, out.error_phase = _describe(err), "setting the parameter"
        return out
    try:
        y = module(x)
    except Exception as err:
        out.error, out.error_phase = _describe(err), "forward"
        return out
    out = _backward(case, x, leaf, y, out)
    if target.param_map is not None and out.grad_param is not None:
        # dy/dp = v.grad / (dp/dv), rounded to the case's dtype as a gradient the layer gave
        # in it would be (v.grad itself may be representable where the quotient is not)
        from .values import representable

        slope = np.array([map_slope(target.param_map, v) for v in np.atleast_1d(raw)])
        quotient = representable(np.atleast_1d(out.grad_param) / slope, case.dtype)
        out.grad_param = quotient if case.per_channel else float(quotient[0])
    if leaf is None and target.param_kind == "tensor":
        out.param_grad_missing = True
    return out


def _backward(case: Case, x, param, y, out: Outcome) -> Outcome:
    import torch

    if isinstance(y, tuple | list) and y:  # e.g. return_indices
        y = y[0]
    if not isinstance(y, torch.Tensor):
        out.error, out.error_phase = f"returned {type(y).__name__}, not a tensor", "forward"
        return out
    out.output_shape = tuple(y.shape)
    out.output_dtype = str(y.dtype).removeprefix("torch.")
    out.output = _to_numpy(y)
    if case.expect_error is not None or not case.gradients:  # (forward only: no backward)
        return out
    expected_shape = case.expected_shape()
    # global pooling with the spatial axes dropped: differentiated here, accepted or not by
    # the checker (``--flat-output``, ``compare.judge``)
    if out.output_shape not in (expected_shape, case.flat_shape()):
        return out
    wrt = [x] + ([param] if param is not None else [])
    if not y.requires_grad:
        out.input_grad_missing = True
        out.param_grad_missing = param is not None
        return out
    g = torch.tensor(case.grad_output if case.grad_output is not None
                     else np.ones(expected_shape), dtype=torch.float64).to(y.dtype)
    g = g.reshape(y.shape)
    try:
        grads = torch.autograd.grad(y, wrt, grad_outputs=g, allow_unused=True)
    except Exception as err:
        out.error, out.error_phase = _describe(err), "backward"
        return out
    if grads[0] is None:
        out.input_grad_missing = True
    else:
        out.grad_input = _to_numpy(grads[0])
    if param is not None:
        if grads[1] is None:
            out.param_grad_missing = True
        elif case.per_channel:  # in channel order, whatever the attribute's shape
            out.grad_param = _to_numpy(grads[1]).ravel()
        else:
            out.grad_param = float(_to_numpy(grads[1]).sum())
    return out


def store_channel_params(module, attr: str, values):
    """Give a module's exponent attribute one value per channel (``--per-channel``) and
    return the tensor now stored there.

    A tensor with as many entries as there are channels is filled in place (in its own
    shape: ``(C,)``, ``(1, C, 1, 1)``, ...). Otherwise it is replaced by a tensor of its
    dtype, ``requires_grad`` and kind (``Parameter`` or plain tensor), whose shape is its own
    with its one axis longer than 1 (or, for a 1-D tensor of one value, its only axis) of
    length C: ``GeMmp(mp=1)``'s ``(1,)`` becomes ``(C,)``. Any other shape raises
    ``TypeError`` naming it (give the constructor the channel count)."""
    import torch

    from .targets import CHANNEL_ARGS

    stored = getattr(module, attr)
    c = len(values)
    if not isinstance(stored, torch.Tensor):
        raise TypeError(f"--per-channel: the attribute {attr!r} is a "
                        f"{type(stored).__name__}, not a tensor")
    if stored.numel() == c:
        with torch.no_grad():
            stored.copy_(torch.tensor(values, dtype=torch.float64).reshape(stored.shape))
        return stored
    long_axes = [i for i, n in enumerate(stored.shape) if n > 1]
    if len(long_axes) == 1 or (stored.dim() == 1 and stored.numel() == 1):
        axis = long_axes[0] if long_axes else 0
        shape = list(stored.shape)
        shape[axis] = c
        new = torch.tensor(values, dtype=torch.float64).reshape(shape).to(stored.dtype)
        new = new.to(stored.device).requires_grad_(stored.requires_grad)
        if isinstance(stored, torch.nn.Parameter):
            new = torch.nn.Parameter(new, requires_grad=stored.requires_grad)
        setattr(module, attr, new)
        return getattr(module, attr)
    raise TypeError(f"--per-channel: the attribute {attr!r} of shape {tuple(stored.shape)} "
                    f"cannot hold one exponent per channel: give the constructor the channel "
                    f"count ({', '.join(CHANNEL_ARGS)})")


def format_exception(err: BaseException) -> str:  # pragma: no cover - debugging aid
    return "".join(traceback.format_exception_only(type(err), err)).strip()
