"""A paste-able Python reproducer for a failing case: the target's call next to the oracle's."""

from __future__ import annotations

import numpy as np

from .cases import Case
from .targets import CONVENTIONS


def _import_lines(target_name: str) -> list[str]:
    module, _, attr = target_name.partition(":")
    if not attr or "<" in target_name or module in ("__main__", "?"):
        return [f"f = ...  # your function ({target_name})"]
    if "." in attr:
        return [f"import {module}", f"f = {module}.{attr}"]
    return [f"from {module} import {attr} as f"]


def _tensor_literal(a: np.ndarray) -> str:
    flat = ", ".join(repr(float(v)) for v in np.asarray(a, dtype=np.float64).ravel())
    return f"[{flat}]"


def reproducer(target_name: str, case: Case) -> str:
    """Python source that runs the target on ``case`` and prints it beside the oracle."""
    conv = CONVENTIONS[case.op]
    lines = ["import torch"] + _import_lines(target_name)
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
    lines.append("x.requires_grad_(True)" if case.expect_error is None else "")
    args = ["x"]
    if conv.has_param:
        lines.append(f"param = torch.tensor({case.param!r}, dtype={dt}, requires_grad=True)"
                     if case.expect_error is None else f"param = {case.param!r}")
        args.append("param")
    args.append(repr(case.kernel_arg()))
    args += [f"{k}={v!r}" for k, v in case.call_kwargs().items()]
    call = f"f({', '.join(args)})"
    if case.expect_error is not None:
        lines.append(f"y = {call}  # {case.expect_error}: should raise")
        lines.append("print(y)")
        return "\n".join(line for line in lines if line is not None)
    lines.append(f"y = {call}")
    if case.grad_output is not None and not np.all(case.grad_output == 1):
        g = f"torch.tensor({_tensor_literal(case.grad_output)}).reshape(y.shape).to(y.dtype)"
        lines.append(f"g = {g}")
        ref_g = ", grad_output=g.double().numpy()"
    else:
        lines.append("g = torch.ones_like(y)")
        ref_g = ""
    grads = "x, param" if conv.has_param else "x"
    lines.append(f"grads = torch.autograd.grad(y, [{grads}], g, allow_unused=True)")
    geometry = {"stride": case.stride, "padding": case.padding, "dilation": case.dilation,
                "ceil_mode": case.ceil_mode}
    geo = ", ".join(f"{k}={v!r}" for k, v in geometry.items())
    param = repr(case.param) if conv.has_param else "None"
    cip = f", count_include_pad={case.count_include_pad}" if case.count_include_pad else ""
    lines.append(f"ref = reference({case.op!r}, x.detach().double().numpy(), {param}, "
                 f"{case.kernel_size!r}, {geo}, dims={case.dims}{cip}, dtype={case.dtype!r}"
                 f"{ref_g})")
    lines.append("print('output     ', y.detach().double().numpy().ravel().tolist())")
    lines.append("print('  expected ', ref.output.ravel().tolist())")
    lines.append("print('grad input ', None if grads[0] is None else "
                 "grads[0].double().numpy().ravel().tolist())")
    lines.append("print('  expected ', ref.grad_input.ravel().tolist())")
    if conv.has_param:
        lines.append("print('grad param ', grads[1])")
        lines.append("print('  expected ', ref.grad_param)")
    return "\n".join(lines)
