"""A paste-able Python reproducer for a failing case: the target's call next to the oracle's.

It builds the input exactly (dtype, layout), calls the target the way the checker did
(``targets.Target.call_text``: a function with its parameter and pooling arguments, or a fresh
module with its constructor arguments and parameter attribute), runs autograd, and prints the
results beside ``ppverify.oracle.reference`` on the same input (clamped below a declared
``input_min``, as the checker evaluates it).
"""

from __future__ import annotations

import numpy as np

from .cases import Case
from .targets import CONVENTIONS, Target, module_kwargs, param_tensor_shape


def _import_lines(target_name: str, module_form: bool) -> list[str]:
    module, _, attr = target_name.partition(":")
    attr = attr.split("(")[0]
    alias = "Target" if module_form else "f"
    if not attr or "<" in target_name or module in ("__main__", "?"):
        return [f"{alias} = ...  # your {'module class' if module_form else 'function'} "
                f"({target_name})"]
    if "." in attr:
        return [f"import {module}", f"{alias} = {module}.{attr}"]
    return [f"from {module} import {attr} as {alias}"]


def _tensor_literal(a: np.ndarray) -> str:
    flat = ", ".join(repr(float(v)) for v in np.asarray(a, dtype=np.float64).ravel())
    return f"[{flat}]"


def reproducer(target: Target | str, case: Case) -> str:
    """Python source that runs the target on ``case`` and prints it beside the oracle."""
    if isinstance(target, str):  # a plain windowed function given by name
        from .targets import Target as _T

        target = _T(None, target, case.op, frozenset(case.passed_args), case.pooling)
    conv = CONVENTIONS[case.op]
    module_form = target.form == "module"
    lines = ["import numpy as np", "import torch"] + _import_lines(target.name, module_form)
    lines.append("from ppverify.oracle import reference")
    lines.append("")
    dt = f"torch.{case.dtype}"
    shape = tuple(case.input.shape)
    lines.append(f"x = torch.tensor({_tensor_literal(case.input)}, dtype=torch.float64)"
                 f".reshape{shape}.to({dt})")
    if case.layout == "strided":
        lines.append("x = torch.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype=x.dtype)"
                     ".index_copy(-1, torch.arange(0, 2 * x.shape[-1], 2), x)[..., ::2]"
                     "  # non-contiguous")
    elif case.layout == "channels_last":
        ch = 1 if case.input.ndim == case.dims + 2 else 0
        lines.append(f"x = x.movedim({ch}, -1).contiguous().movedim(-1, {ch})  # channels last")
    if case.expect_error is None:
        lines.append("x.requires_grad_(True)")
    grads = ["x"]
    if module_form:
        call = _module_lines(target, case, lines, dt, grads)
    else:
        call = _function_call(target, case, lines, dt, grads)
    if case.expect_error is not None:
        lines.append(f"y = {call}  # {case.expect_error}: should raise")
        lines.append("print(y)")
        return "\n".join(lines)
    lines.append(f"y = {call}")
    if case.grad_output is not None and not np.all(case.grad_output == 1):
        g = f"torch.tensor({_tensor_literal(case.grad_output)}).reshape(y.shape).to(y.dtype)"
        lines.append(f"g = {g}")
        ref_g = ", grad_output=g.double().numpy()"
    else:
        lines.append("g = torch.ones_like(y)")
        ref_g = ""
    lines.append(f"grads = torch.autograd.grad(y, [{', '.join(grads)}], g, allow_unused=True)")
    x_ref = "x.detach().double().numpy()"
    if case.input_min is not None:
        lines.append(f"x_ref = np.maximum({x_ref}, {case.input_min!r})  # declared clamp")
        x_ref = "x_ref"
    if case.windowed:
        geometry = {"stride": case.stride, "padding": case.padding,
                    "dilation": case.dilation, "ceil_mode": case.ceil_mode}
        geo = f"{case.kernel_size!r}, " + ", ".join(f"{k}={v!r}" for k, v in geometry.items())
    else:
        geo = f"output_size={case.output_size!r}"
    param = repr(case.oracle_param) if conv.has_param else "None"
    cip = f", count_include_pad={case.count_include_pad}" if case.count_include_pad else ""
    if case.op in ("max", "min") and target.ties in ("split", "last"):
        cip += f", ties={target.ties!r}"
    lines.append(f"ref = reference({case.op!r}, {x_ref}, {param}, {geo}, dims={case.dims}"
                 f"{cip}, dtype={case.dtype!r}{ref_g})")
    lines.append("print('output     ', y.detach().double().numpy().ravel().tolist())")
    lines.append("print('  expected ', ref.output.ravel().tolist())")
    lines.append("print('grad input ', None if grads[0] is None else "
                 "grads[0].double().numpy().ravel().tolist())")
    expected_gin = "ref.grad_input"
    if case.input_min is not None:
        expected_gin = f"np.where(x.detach().double().numpy() >= {case.input_min!r}, " \
                       f"ref.grad_input, 0.0)"
    lines.append(f"print('  expected ', {expected_gin}.ravel().tolist())")
    if len(grads) > 1:
        scale = ""
        if target.has_param_map:
            scale = "  # d/dv: divide by dp/dv to compare"
        lines.append(f"print('grad param ', grads[1]){scale}")
        lines.append("print('  expected ', ref.grad_param)")
    return "\n".join(lines)


def _function_call(target: Target, case: Case, lines: list[str], dt: str,
                   grads: list[str]) -> str:
    args = ["x"]
    kwargs = []
    if target.convention.has_param and target.fixed_value is None:
        shape = param_tensor_shape(target.param_shape, case.channels, case.dims)
        if case.expect_error is None and shape is not None:  # (--param-shape)
            fill = "reshape" if case.per_channel else "expand"
            lines.append(f"param = torch.tensor({case.oracle_param!r}, dtype={dt})"
                         f".{fill}{shape!r}.clone().requires_grad_(True)")
            grads.append("param")
        elif case.expect_error is None:  # (per channel: shape (C,))
            lines.append(f"param = torch.tensor({case.oracle_param!r}, dtype={dt}, "
                         f"requires_grad=True)")
            grads.append("param")
        else:
            lines.append(f"param = {case.param!r}")
        if target.pooling == "windowed" or target.param_positional:
            args.append("param")
        else:
            kwargs.append(f"{target.param_arg}=param")
    if case.windowed:
        args.append(repr(case.kernel_arg()))
        kwargs += [f"{k}={v!r}" for k, v in case.call_kwargs().items()]
    elif case.pooling == "adaptive":
        size = repr(case.output_size_arg())
        if target.size_arg:
            kwargs.append(f"{target.size_arg}={size}")
        else:
            args.append(size)
    return f"f({', '.join(args + kwargs)})"


def _module_lines(target: Target, case: Case, lines: list[str], dt: str,
                  grads: list[str]) -> str:
    kwargs = module_kwargs(target, case)
    ctor = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    lines.append(f"module = Target({ctor}).to({dt})")
    raw = case.stored_params()
    if target.param_kind == "tensor" and case.per_channel:
        note = f"  # {target.param_map_text} = {case.oracle_param!r}" \
            if target.param_map_text else ""
        lines.append("from ppverify.conformance.runner import store_channel_params")
        lines.append(f"store_channel_params(module, {target.param_attr!r}, {list(raw)!r})"
                     f"  # one exponent per channel{note}")
        if target.param_learnable and case.expect_error is None:
            grads.append(f"getattr(module, {target.param_attr!r})")
    elif target.param_kind == "tensor" and case.param is not None:
        note = f"  # {target.param_map_text} = {case.param!r}" if target.param_map_text else ""
        lines.append(f"with torch.no_grad():\n    module.{target.param_attr}.fill_({raw!r})"
                     f"{note}")
        if target.param_learnable and case.expect_error is None:
            grads.append(f"module.{target.param_attr}")
    elif target.param_kind == "number" and case.param is not None and not target.ctor_param:
        lines.append(f"module.{target.param_attr} = {raw!r}")
    return "module(x)"
