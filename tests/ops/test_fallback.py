"""The one-time ``FallbackWarning`` (``ppverify.ops._fallback``) and the availability reports
``ppverify.ops.native_available()`` / ``triton_available()`` / ``triton_unavailable_reason()``.

These need neither Triton nor a GPU: where a CUDA tensor is needed, a stand-in with a device,
dtype and shape is enough for ``_fallback.reason``, and "Triton is not installed" is simulated
by hiding the module (``sys.modules["triton"] = None`` makes ``import triton`` fail), so the
tests hold the same whether or not Triton is installed here.
"""

from __future__ import annotations

import sys
import warnings

import pytest
import torch

import ppverify.ops as ops
from ppverify.ops import _fallback, _layout, _native, _triton, functional


class _Fake:
    """Enough of a tensor for ``_fallback.reason``: device, dtype and shape."""

    def __init__(self, device, dtype=torch.float32, shape=(1, 1, 4, 4)):
        self.device, self.dtype, self.shape = torch.device(device), dtype, shape


@pytest.fixture
def no_triton(monkeypatch):
    """``import triton`` fails, as where it is not installed (the version cache is cleared
    before and after, so other tests see the real installation)."""
    monkeypatch.setitem(sys.modules, "triton", None)
    _triton._triton_version.cache_clear()
    yield
    _triton._triton_version.cache_clear()


@pytest.fixture
def no_cpp_kernel(monkeypatch):
    """No C++ kernel (``build_error`` says why), no environment override, and no warning given
    yet."""
    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    monkeypatch.delenv("PPVERIFY_NATIVE", raising=False)
    monkeypatch.setattr(_native, "available", lambda: False)
    monkeypatch.setattr(_native, "build_error", "no compiler in this test")
    monkeypatch.setattr(_fallback, "_warned", set())


def test_interpreter_floor_names_triton_and_numpy(monkeypatch):
    """Triton's interpreter runs the kernels from 3.7, or from 3.4 with numpy < 2.4 (3.4-3.6
    convert a run-time loop bound with int() of a 1-element array, an error from numpy 2.4)."""
    def versions(triton, numpy):
        monkeypatch.setattr(_triton, "_triton_version", lambda: triton)
        monkeypatch.setattr(_triton, "_numpy_version", lambda: _triton._version_tuple(numpy))
        return _triton.interpreter_too_old("the interpreter")

    assert versions("3.7.1", "2.4.6") is None and versions("3.9.0", "2.4.6") is None
    assert versions("3.4.0", "2.2.6") is None and versions("3.6.0", "2.3.5") is None
    why = versions("3.6.0", "2.4.6")
    assert "Triton 3.6.0 is too old" in why and "pip install 'triton>=3.7'" in why
    assert "numpy older than 2.4" in why
    assert "Triton 3.3.1 is too old" in versions("3.3.1", "2.2.6")
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    monkeypatch.setattr(_triton, "_numpy_version", lambda: (2, 4))
    assert "numpy older than 2.4" in _triton.unavailable_reason("cpu")


def test_fallback_reasons_name_the_cause_and_the_fix(monkeypatch):
    layout = _layout.windowed(2, 2)
    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    monkeypatch.setattr(_triton, "_triton_version", lambda: None)
    why = _fallback.reason(_Fake("cuda"), layout)
    assert "Triton is not installed" in why and "pip install 'ppverify[gpu]'" in why
    monkeypatch.setattr(_triton, "_triton_version", lambda: "3.9.0")
    if not torch.cuda.is_available():
        assert "no usable CUDA device" in _fallback.reason(_Fake("cuda"), layout)
    monkeypatch.setattr(_triton, "_triton_version", lambda: "3.2.0")
    why = _fallback.reason(_Fake("cuda"), layout)
    assert "Triton 3.2.0 is too old" in why and "pip install 'triton>=3.4'" in why
    assert "device type 'mps'" in _fallback.reason(_Fake("mps"), layout)
    assert _fallback.reason(_Fake("meta"), layout) is None  # shape propagation, not compute
    monkeypatch.setenv("PPVERIFY_TRITON", "0")
    assert _fallback.reason(_Fake("cuda"), layout) is None  # the user's choice: no warning
    monkeypatch.setattr(_native, "available", lambda: False)
    monkeypatch.setattr(_native, "build_error", "g++: command not found")
    why = _fallback.reason(_Fake("cpu"), layout)
    assert "g++: command not found" in why and "install g++" in why
    # the C++ kernel serves float64 too, so a float64 tensor falls back for the same reason
    assert "g++: command not found" in _fallback.reason(_Fake("cpu", torch.float64), layout)
    monkeypatch.setenv("PPVERIFY_NATIVE", "0")
    assert _fallback.reason(_Fake("cpu"), layout) is None


def test_fallback_warns_once(no_cpp_kernel):
    x = torch.rand(1, 1, 4, 4)
    with pytest.warns(_fallback.FallbackWarning, match="no compiler in this test"):
        functional.p_pool2d(x, 2.0, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        functional.p_pool2d(x, 2.0, 2)  # once per reason


def test_no_warning_where_the_pure_torch_path_is_the_only_one(no_cpp_kernel):
    """The power mean and the Lp norm have no GPU kernel: no warning there, even without the
    C++ kernel."""
    layout = _layout.windowed(2, 2)
    for op in ("powermean", "lp"):
        assert _fallback.reason(_Fake("cuda"), layout, op) is None


@pytest.mark.skipif(not _native.available(), reason="the C++ kernel is not built")
def test_no_warning_where_the_kernel_hands_a_float64_call_back(monkeypatch):
    """A float64 power-mean call the kernel hands back (|p| < 1/16: ``NotServed``) runs on the
    pure-torch path by design: no warning."""
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64)
    handed_back = []
    real = _native.forward

    def watching(*args):
        try:
            return real(*args)
        except _native.NotServed:
            handed_back.append(1)
            raise

    monkeypatch.setattr(_native, "forward", watching)
    monkeypatch.setattr(_fallback, "_warned", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.gem_pool2d(x, 0.03, 2)
        ops.lp_pool2d(x, 0.03, 2)
    assert len(handed_back) == 2


def test_without_the_cpp_kernel_the_power_mean_and_lp_warn(no_cpp_kernel):
    """The C++ kernel serves the power mean and the Lp norm in every float dtype: without it
    they fall back and say so, naming the operator."""
    x = torch.rand(1, 1, 4, 4)
    with pytest.warns(_fallback.FallbackWarning, match="The power mean of CPU tensors.*no "
                      "compiler in this test"):
        ops.adaptive_gem_pool2d(x, 3.0, 1)
    with pytest.warns(_fallback.FallbackWarning, match="The Lp norm of CPU tensors"):
        ops.lp_pool2d(x.to(torch.bfloat16), 2.0, 2)
    assert _fallback.reason(_Fake("cpu", torch.float64), _layout.windowed(2, 2),
                            "powermean") is not None


def test_without_the_cpp_kernel_float64_and_adaptive_layouts_warn_too(no_cpp_kernel):
    """The C++ kernel serves every float dtype and layout, so without it float64 and a global
    window fall back too, and say so."""
    x = torch.rand(1, 1, 5, 5, dtype=torch.float64)
    with pytest.warns(_fallback.FallbackWarning, match="no compiler in this test"):
        ops.adaptive_p_pool2d(x, 2.0, 1)


def test_without_triton_cuda_tensors_are_refused_by_name(no_triton, monkeypatch):
    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    assert _triton._triton_version() is None
    why = ops.triton_unavailable_reason("cuda")
    assert "Triton is not installed" in why and "pip install 'ppverify[gpu]'" in why
    assert not ops.triton_available("cuda")
    assert not _triton.serves(_Fake("cuda"))
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")  # the interpreter needs Triton too
    assert "needs Triton" in _triton.unavailable_reason("cpu")
    assert not _triton.serves(torch.rand(1, 1, 4, 4))
    y = functional.p_pool2d(torch.rand(1, 1, 4, 4), 2.0, 2)  # the other paths still serve
    assert y.shape == (1, 1, 2, 2) and torch.isfinite(y).all()


def test_triton_available_is_documented_and_honest(monkeypatch):
    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    assert ops.triton_available() == (ops.triton_unavailable_reason() is None)
    if not torch.cuda.is_available():
        assert not ops.triton_available()
        why = ops.triton_unavailable_reason()
        assert "CUDA" in why or "Triton is not installed" in why
    monkeypatch.setenv("PPVERIFY_TRITON", "0")
    assert "PPVERIFY_TRITON=0" in ops.triton_unavailable_reason("cuda")
    for name in ("triton_available", "triton_unavailable_reason", "native_available"):
        assert name in ops.__all__ and getattr(ops, name).__doc__
    assert ops.native_available() == _native.available()
