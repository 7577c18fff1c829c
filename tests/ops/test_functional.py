"""ppverify.ops.functional against the oracle (whichever path the op selects: the compiled kernel
for CPU tensors of every float dtype when g++ is available, else the pure-torch path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppverify.ops import p_pool1d, p_pool2d, p_pool3d
from ppverify.oracle import ulp_distance

from ._cases import ALPHAS, GEOMETRIES, KINDS, values
from ._compare import check_case, dtype_name
from ._oracle_cache import reference

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_name)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_adversarial_suite_matches_oracle(dtype, g):
    # the whole grid (every kind meets every alpha), so the README's accuracy bounds are held
    # on every case that `python -m tests.ops.ulp_survey` surveys
    dims, spatial, k, s, p, d, cm = GEOMETRIES[g]
    gen = torch.Generator().manual_seed(1000 * g + DTYPES.index(dtype))
    for kind in KINDS:
        for alpha in ALPHAS:
            x = values(kind, (1, 2) + spatial, dtype, gen)
            check_case(x, alpha, k, s, p, d, cm, dims=dims)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_name)
def test_direct_formula_failure_is_a_regression(dtype):
    """avg_pool(x^(a+1)) / avg_pool(x^a) returns NaN at alpha = 30 for inputs near 40 (and at
    alpha = 1e6 for any input above 1); the op must match the oracle there."""
    x = (40 + torch.arange(16, dtype=torch.float64).reshape(1, 1, 4, 4) / 4).to(dtype)
    if dtype == torch.float32:
        direct = torch.nn.functional.avg_pool2d(x ** 31, 2) / torch.nn.functional.avg_pool2d(
            x ** 30, 2)
        assert torch.isnan(direct).any()
    for alpha in (30.0, 1e6, -1e4):
        check_case(x, alpha, 2, dims=2)


def test_windows_up_to_27_elements_with_huge_range():
    gen = torch.Generator().manual_seed(7)
    for dtype in (torch.float32, torch.float64):
        for alpha in (-1e4, -0.5, 0.5, 3.0, 1e6):
            x = values("range30", (1, 1, 3, 3, 3), dtype, gen)
            x.view(-1)[5] = 0.0
            check_case(x, alpha, 3, dims=3)


ZERO_WINDOWS = [
    [0.0, 0.0, 0.0],   # all zero
    [0.0],             # one element, zero
    [0.0, 2.0, 3.0],   # one zero
    [0.0, 0.0, 5.0],   # two zeros
    [2.0, 2.0, 0.0],   # equal positives and a zero
    [1.5, 1.5, 1.5],   # ties
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_name)
@pytest.mark.parametrize("alpha", [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
def test_conventions_at_zeros_match_oracle(dtype, alpha):
    for window in ZERO_WINDOWS:
        x = torch.tensor(window, dtype=dtype).reshape(1, 1, -1)
        check_case(x, alpha, len(window), dims=1)


def test_zero_gradient_conventions_never_nan():
    x = torch.tensor([[[0.0, 1.0, 4.0]]], requires_grad=True)
    for alpha in (0.3, -0.3, 0.0):
        a = torch.tensor(alpha, requires_grad=True)
        y = p_pool1d(x, a, 3)
        gx, ga = torch.autograd.grad(y.sum(), (x, a))
        assert torch.isfinite(gx).all() and torch.isfinite(ga).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_name)
def test_per_channel_alpha_and_grad_output(dtype):
    gen = torch.Generator().manual_seed(3)
    x = values("uniform", (2, 3, 6, 6), dtype, gen)
    alpha = torch.tensor([-3.0, 0.5, 30.0], dtype=torch.float64)
    gout = torch.randn((2, 3, 3, 3), generator=gen, dtype=torch.float64).to(dtype)
    check_case(x, alpha, 3, 2, 1, dims=2, grad_output=gout)


def test_unbatched_input_matches_oracle():
    x = torch.rand(2, 7, dtype=torch.float64)
    y = p_pool1d(x, 2.0, 3, 2, 1)
    ref = reference("ppool", x.numpy(), 2.0, 3, 2, 1, dims=1, gradients=False)
    assert y.shape == ref.output.shape
    assert ulp_distance(y.numpy(), ref.output, "float64").max() <= 8


def test_noncontiguous_and_channels_last_inputs():
    x = torch.rand(2, 3, 9, 11)
    cl = x.contiguous(memory_format=torch.channels_last)
    strided = torch.rand(2, 3, 18, 11)[:, :, ::2, :]
    transposed = torch.rand(2, 3, 11, 9).transpose(2, 3)
    ref = reference("ppool", x.numpy(), 2.5, 3, 2, 1, dims=2, dtype="float32", gradients=False)
    y_cl = p_pool2d(cl, 2.5, 3, 2, 1)
    assert ulp_distance(y_cl.numpy(), ref.output, "float32").max() <= 8
    assert y_cl.is_contiguous(memory_format=torch.channels_last)
    for z in (strided, transposed):
        r = reference("ppool", z.numpy(), 2.5, 3, 2, 1, dims=2, dtype="float32",
                      gradients=False)
        assert ulp_distance(p_pool2d(z, 2.5, 3, 2, 1).numpy(), r.output, "float32").max() <= 8
    xg = cl.clone().requires_grad_(True)
    p_pool2d(xg, 2.5, 3, 2, 1).sum().backward()
    rg = reference("ppool", x.numpy(), 2.5, 3, 2, 1, dims=2, dtype="float32")
    assert np.allclose(xg.grad.numpy(), rg.grad_input, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_gradcheck_and_gradgradcheck_float64(dims):
    fn = {1: p_pool1d, 2: p_pool2d, 3: p_pool3d}[dims]
    shape = {1: (2, 2, 7), 2: (1, 2, 5, 4), 3: (1, 2, 3, 4, 3)}[dims]
    x = (torch.rand(shape, dtype=torch.float64) + 0.2).requires_grad_(True)
    for alpha in (torch.tensor(2.5, dtype=torch.float64, requires_grad=True),
                  torch.tensor([-1.5, 0.7], dtype=torch.float64, requires_grad=True)):
        def f(x, a):
            return fn(x, a, 3, 2, 1)

        assert torch.autograd.gradcheck(f, (x, alpha))
        assert torch.autograd.gradgradcheck(f, (x, alpha))


def test_works_under_torch_compile():
    x = torch.rand(1, 2, 8, 8)
    alpha = torch.tensor(2.0, requires_grad=True)

    def f(x, a):
        return p_pool2d(x, a, 2) * 2

    compiled = torch.compile(f, backend="aot_eager")  # traces fake impls and autograd
    y = compiled(x, alpha)
    ref = reference("ppool", x.numpy(), 2.0, 2, dims=2, dtype="float32", gradients=False)
    assert ulp_distance(y.detach().numpy() / 2, ref.output, "float32").max() <= 8
    y.sum().backward()
    assert alpha.grad is not None and torch.isfinite(alpha.grad)


BAD_INPUTS = [
    (lambda: p_pool2d(torch.tensor([[[[1.0, -2.0], [3.0, 4.0]]]]), 1.5, 2), "negative"),
    (lambda: p_pool2d(torch.tensor([[[[1.0, float("nan")], [3.0, 4.0]]]]), 1.5, 2), "NaN"),
    (lambda: p_pool2d(torch.tensor([[[[1.0, float("inf")], [3.0, 4.0]]]]), 1.5, 2), "inf"),
    (lambda: p_pool2d(torch.rand(2, 3, 4, 4, 4), 1.0, 2), "input must be 3-D"),
    (lambda: p_pool1d(torch.rand(4), 1.0, 2), "input must be 2-D"),
    (lambda: p_pool2d(torch.rand(1, 1, 3, 3), 1.0, 5), "larger than the padded"),
    (lambda: p_pool2d(torch.rand(1, 1, 8, 8), 1.0, 3, padding=2), "padding should be at most"),
    (lambda: p_pool2d(torch.rand(1, 1, 8, 8), 1.0, 0), "kernel_size must be greater"),
    (lambda: p_pool2d(torch.rand(1, 3, 4, 4), torch.ones(2), 2), "alpha must be a scalar"),
    (lambda: p_pool2d(torch.rand(1, 3, 4, 4), float("nan"), 2), "alpha must be finite"),
    (lambda: p_pool1d(torch.rand(1, 1, 1), 1.0, 2, padding=1, dilation=2), "only padding"),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=dtype_name)
@pytest.mark.parametrize("case", range(len(BAD_INPUTS)))
def test_bad_input_raises_naming_the_argument(case, dtype, monkeypatch):
    call, message = BAD_INPUTS[case]
    original = torch.Tensor.to
    if dtype == torch.float64:  # run the same cases on the float64 (pure-torch) path
        monkeypatch.setattr(torch, "tensor", _as_double(torch.tensor))
        monkeypatch.setattr(torch, "rand", _as_double(torch.rand))
    with pytest.raises(ValueError, match=message):
        call()
    assert torch.Tensor.to is original


def _as_double(factory):
    def make(*args, **kwargs):
        kwargs.setdefault("dtype", torch.float64)
        return factory(*args, **kwargs)

    return make


def test_integer_tensor_and_wrong_types_are_type_errors():
    with pytest.raises(TypeError, match="input must be float16"):
        p_pool2d(torch.ones(1, 1, 2, 2, dtype=torch.int64), 1.0, 2)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        p_pool2d(torch.rand(1, 1, 2, 2), "2", 2)


def test_long_rows_are_processed_in_blocks():
    """Rows longer than the kernel's block (256 outputs) and many short rows per block."""
    gen = torch.Generator().manual_seed(11)
    x = values("uniform", (1, 2, 600), torch.float32, gen)
    check_case(x, 3.0, 3, 1, 1, dims=1)
    x = values("zeros", (1, 1, 40, 9), torch.float32, gen)
    check_case(x, -0.5, 3, 2, 1, dims=2)


def test_ops_layer_imports_neither_the_oracle_nor_mpmath_nor_sympy():
    import subprocess
    import sys

    code = ("import sys, ppverify.ops, ppverify.ops.bench\n"
            "print([m for m in ('mpmath', 'sympy', 'flint', 'ppverify.oracle') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_first_call_imports_no_compiler_stack():
    # issue 12: the first eager call (forward and backward, every dtype, channels-last,
    # adaptive, per-channel alpha) must not pull sympy or torch's compiler stack (it used to
    # import about 870 modules and take 1.2-3 s); the kernel is built or loaded before the
    # count starts
    import json
    import subprocess
    import sys

    code = '''
import json, sys, time, torch
import ppverify.ops as ops
from ppverify.ops import _native
_native.available()
before, t0 = set(sys.modules), time.perf_counter()
for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
    x = torch.rand(1, 3, 4, 4, dtype=dtype).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    alpha = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    (ops.p_pool2d(x, alpha, 2).sum() + ops.adaptive_p_pool2d(x, 2.0, 3).sum()).backward()
new = sorted(set(sys.modules) - before)
print(json.dumps({"new": new, "seconds": time.perf_counter() - t0}))
'''
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=240, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert not [m for m in result["new"] if m.startswith(("sympy", "torch._dynamo",
                                                           "torch._inductor"))], result
    assert len(result["new"]) <= 20, result


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel_size": 2.5}, "kernel_size must be an int or a tuple"),
    ({"kernel_size": object()}, "kernel_size must be an int or a tuple of 2 ints, got object"),
    ({"kernel_size": 2, "stride": 1.5}, "stride must be an int or a tuple"),
    ({"kernel_size": 2, "padding": object()}, "padding must be an int or a tuple of 2 ints"),
])
def test_non_integer_pooling_sizes_name_the_argument(kwargs, match):
    with pytest.raises(TypeError, match=match):
        p_pool2d(torch.rand(1, 1, 4, 4), 2.0, **kwargs)
