"""Inference targets for ``--forward-only`` tests: ``ppverify.ops.GeM(p=3)`` and
``AdaptivePPool2d(1, alpha=2)`` exported to ONNX (``torch.onnx.export(..., dynamo=True)``,
dynamic N, C, H, W) and run in onnxruntime, one exported model per layer and dtype, built on
first use. The exponent is the model's (``--param 3`` / ``--param 2``); bfloat16, which numpy
lacks, is handed to onnxruntime by pointer (``_run_session``). And targets without a backward,
correct and broken."""

from __future__ import annotations

import numpy as np
import torch

_SESSIONS: dict = {}


def _session(layer: str, dtype: torch.dtype):
    if (layer, dtype) not in _SESSIONS:
        import onnxruntime as ort

        from ppverify.ops import AdaptivePPool2d, GeM

        model = {"gem": lambda: GeM(p=3.0),
                 "ppool": lambda: AdaptivePPool2d(1, alpha=2.0)}[layer]().eval().to(dtype)
        x = torch.rand(2, 3, 5, 4, dtype=dtype) + 0.1
        dims = tuple(torch.export.Dim(name, min=1, max=4096) for name in "NCHW")
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False,
                                    dynamic_shapes=(dict(enumerate(dims)),))
        _SESSIONS[layer, dtype] = ort.InferenceSession(
            program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return _SESSIONS[layer, dtype]


def _run_session(session, x):
    """The session's output for ``x``. numpy has no bfloat16: such an input is bound by its
    data pointer as ONNX's BFLOAT16 (onnxruntime's io binding) and the output, allocated by
    onnxruntime, copied out by pointer into a torch tensor (its bits unchanged)."""
    xc = x.detach().contiguous()
    if xc.dtype != torch.bfloat16:
        feed = {session.get_inputs()[0].name: xc.numpy()}
        return torch.from_numpy(np.ascontiguousarray(session.run(None, feed)[0]))
    import ctypes

    import onnx

    io = session.io_binding()
    io.bind_input(session.get_inputs()[0].name, "cpu", 0, onnx.TensorProto.BFLOAT16,
                  list(xc.shape), xc.data_ptr())
    io.bind_output(session.get_outputs()[0].name, "cpu")
    session.run_with_iobinding(io)
    value = io.get_outputs()[0]
    if value.data_type() != "tensor(bfloat16)":
        raise TypeError(f"the model's output is {value.data_type()}, not bfloat16")
    out = torch.empty(value.shape(), dtype=torch.bfloat16)
    ctypes.memmove(out.data_ptr(), value.data_ptr(), out.numel() * out.element_size())
    return out


def _run(layer: str, x):
    return _run_session(_session(layer, x.dtype), x)


def gem_onnxruntime(x, p):
    """The exported GeM's output for ``x`` ((N, C, H, W)); ``p`` is the model's 3."""
    return _run("gem", x)


def ppool_onnxruntime(x, alpha):
    """The exported global P-pooling's output; ``alpha`` is the model's 2."""
    return _run("ppool", x)


def gem_no_backward(x, p=3.0, eps=1e-6):
    """A correct global power mean (the tests' careful one) computed without autograd."""
    from ._gem_impls import gem

    with torch.no_grad():
        return gem(x, p, eps)


def gem_wrong_forward(x, p=3.0, eps=1e-6):
    """Broken: the forward of p + 1 (and no backward)."""
    return gem_no_backward(x, p + 1, eps)


def power_mean_no_backward(x, p):
    """The tests' careful global power mean (no clamp), computed without autograd."""
    from ._gem_impls import power_mean_global

    with torch.no_grad():
        return power_mean_global(x, p)


def power_mean_wrong_forward(x, p):
    """Broken: the forward of p + 1 (and no backward)."""
    return power_mean_no_backward(x, p + 1)


class _WindowedPPool(torch.nn.Module):
    def __init__(self, kernel_size, options):
        super().__init__()
        self.kernel_size, self.options = kernel_size, options

    def forward(self, x):
        from ppverify.ops import p_pool2d

        return p_pool2d(x, 2.0, self.kernel_size, **self.options)


def p_pool2d_onnxruntime(x, alpha, kernel_size, stride=None, padding=0, dilation=1,
                         ceil_mode=False):
    """``p_pool2d(x, 2, ...)`` exported to ONNX for this input's shape, dtype and pooling
    arguments (one export per combination, static shapes), run in onnxruntime; ``alpha`` is
    the model's 2."""
    import onnxruntime as ort

    options = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    key = ("p_pool2d", x.dtype, tuple(x.shape), repr(kernel_size), repr(options))
    if key not in _SESSIONS:
        model = _WindowedPPool(kernel_size, options)
        example = torch.rand(x.shape, dtype=x.dtype) + 0.1
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False)
        _SESSIONS[key] = ort.InferenceSession(program.model_proto.SerializeToString(),
                                              providers=["CPUExecutionProvider"])
    return _run_session(_SESSIONS[key], x)


def adaptive_p_pool2d_onnxruntime(x, alpha, output_size):
    """``AdaptivePPool2d(output_size, alpha=2)`` exported to ONNX with dynamic N, C, H and W
    (one export per output size and dtype), run in onnxruntime; ``alpha`` is the model's 2.
    Until 2026-12-05 a general adaptive layout could not be exported at all."""
    import onnxruntime as ort

    from ppverify.ops import AdaptivePPool2d

    key = ("adaptive_p_pool2d", x.dtype, repr(output_size))
    if key not in _SESSIONS:
        model = AdaptivePPool2d(output_size, alpha=2.0).eval().to(x.dtype)
        example = torch.rand(2, 3, 9, 7, dtype=x.dtype) + 0.1
        dims = tuple(torch.export.Dim(name, min=1, max=4096) for name in "NCHW")
        program = torch.onnx.export(model, (example,), dynamo=True, verbose=False,
                                    dynamic_shapes=(dict(enumerate(dims)),))
        _SESSIONS[key] = ort.InferenceSession(program.model_proto.SerializeToString(),
                                              providers=["CPUExecutionProvider"])
    return _run_session(_SESSIONS[key], x)


_PROGRAMS: dict = {}


def _decomposed(layer: str, dtype: torch.dtype):
    """The layer exported (``torch.export``, dynamic N, C, H, W) and lowered to standard aten
    ops (``ppverify.ops.decompositions``): what runs where ppverify is not installed."""
    if (layer, dtype) not in _PROGRAMS:
        from ppverify.ops import AdaptivePPool2d, GeM
        from ppverify.ops._decomp import decompositions

        model = {"gem": lambda: GeM(p=3.0),
                 "ppool": lambda: AdaptivePPool2d(1, alpha=2.0)}[layer]().eval().to(dtype)
        x = torch.rand(2, 3, 5, 4, dtype=dtype) + 0.1
        dims = tuple(torch.export.Dim(name, min=1, max=4096) for name in "NCHW")
        program = torch.export.export(model, (x,), dynamic_shapes=(dict(enumerate(dims)),))
        _PROGRAMS[layer, dtype] = program.run_decompositions(decompositions()).module()
    return _PROGRAMS[layer, dtype]


def gem_decomposed(x, p):
    """The lowered GeM program's output (``p`` is the program's 3)."""
    with torch.no_grad():
        return _decomposed("gem", x.dtype)(x)


def ppool_decomposed(x, alpha):
    """The lowered global P-pooling program's output (``alpha`` is the program's 2)."""
    with torch.no_grad():
        return _decomposed("ppool", x.dtype)(x)
