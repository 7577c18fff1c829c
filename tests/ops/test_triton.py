"""The Triton kernels (``ppverify.ops._triton``) against the oracle, run by Triton's interpreter
on CPU tensors: the same kernel code a GPU compiles, evaluated with numpy.

How the kernels reach CPU tensors: ``PPVERIFY_TRITON=cpu`` (set per test by the ``interpreted``
fixture, so no other test in the worker is affected) makes the dispatcher send P-pooling of
CPU tensors to the Triton backend, which defines its kernels in interpreter mode: it imports
``_triton_kernels.py`` as a module of its own with ``TRITON_INTERPRET=1`` set only for that
import (Triton reads the variable when ``@triton.jit`` runs), and the kernels use no function of
Triton's own library that was compiled in the other mode. So nothing has to be set before
pytest starts, no subprocess is needed, and the variable is not left set for other tests. Every
test asserts that the kernels actually ran (``_triton.launches``), so a silent fallback to
another path cannot pass.

Cost: the interpreter runs each launch in about 0.3-0.5 s whatever the (small) shape, so the
cases are batched: one launch evaluates every value kind (batch) times every alpha (channel).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from ppverify.ops import _dispatch, _layout, _triton, functional

from ._cases import (
    ADAPTIVE_GEOMETRIES,
    ALPHAS,
    GEOMETRIES,
    KINDS,
    LARGE_WINDOW_CASES,
    large_window_input,
    values,
)
from ._compare import check_adaptive_case, check_case, dtype_name, global_forward_ulps

pytest.importorskip("triton", reason="Triton is not installed (pip install -e '.[test]')")
if _triton.interpreter_too_old("these tests"):
    pytest.skip(_triton.interpreter_too_old("these tests"), allow_module_level=True)

DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
ALPHA = torch.tensor(ALPHAS, dtype=torch.float64)  # one alpha per channel


@pytest.fixture
def interpreted(monkeypatch):
    """CPU tensors go through the Triton kernels (interpreted) for this test only."""
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    monkeypatch.delenv("PPVERIFY_TRITON_TILE", raising=False)
    yield


@contextlib.contextmanager
def launched(at_least: int):
    before = _triton.launches
    yield
    ran = _triton.launches - before
    assert ran >= at_least, f"the Triton kernels ran {ran} times, expected >= {at_least}"


@contextlib.contextmanager
def ran_arithmetic(arith: str, directions=("forward", "backward")):
    """Assert that the kernels of ``arith`` served the block (forward and backward)."""
    names = tuple(_triton.launch_name(d, arith) for d in directions)
    before = [_triton.kernel_launches[n] for n in names]
    yield
    after = [_triton.kernel_launches[n] for n in names]
    assert all(b > a for a, b in zip(before, after)), (
        f"expected launches of {names}, counts went {before} -> {after}")


def _batch(spatial, dtype, seed):
    """Every value kind (batch) under every alpha (channel): ``(len(KINDS), 12, *spatial)``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([values(kind, (1, len(ALPHAS)) + tuple(spatial), dtype, gen)
                      for kind in KINDS])


def test_dispatch_selects_the_triton_backend_only_when_asked(interpreted, monkeypatch):
    x = torch.rand(1, 2, 4, 4)
    layout = _layout.windowed(2, 2)
    assert _dispatch._backend("ppool", layout, x) == "triton"
    assert _dispatch._backend("powermean", layout, x) != "triton"  # no kernel for it
    monkeypatch.delenv("PPVERIFY_TRITON")
    assert _dispatch._backend("ppool", layout, x) in ("native", "torch")
    monkeypatch.setenv("PPVERIFY_TRITON", "0")
    assert not _triton.serves(x)


# (dtype, arithmetic): float64 inputs always take float64 arithmetic (_triton.arithmetic)
ARITHMETIC_CASES = [(dtype, arith) for dtype in DTYPES for arith in _triton.arithmetics_for(dtype)]
ARITHMETIC_IDS = [f"{dtype_name(d)}-{a}" for d, a in ARITHMETIC_CASES]


def _forward_ulp(dtype) -> int:
    """Issue 13's forward bound: 2 ULP in float32/float16/bfloat16 (8 in float64, the CPU
    tests' bound)."""
    return 8 if dtype == torch.float64 else 2


@pytest.mark.parametrize("dtype, arith", ARITHMETIC_CASES, ids=ARITHMETIC_IDS)
@pytest.mark.parametrize("g", range(len(GEOMETRIES)))
def test_adversarial_windowed_matches_oracle(interpreted, monkeypatch, dtype, arith, g):
    """The whole adversarial grid of the CPU tests (every kind x every alpha, per geometry) in
    both arithmetics: forward within issue 13's 2 ULP (float32/float16/bfloat16; 8 in float64),
    gradients at the CPU tests' tolerances (8 ULP or 64 u times the window's largest
    gradient), alpha per channel."""
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", arith)
    dims, spatial, k, s, p, d, cm = GEOMETRIES[g]
    x = _batch(spatial, dtype, 100 * g + DTYPES.index(dtype))
    with launched(2), ran_arithmetic(arith):
        check_case(x, ALPHA, k, s, p, d, cm, dims=dims, forward_ulp=_forward_ulp(dtype))


@pytest.mark.parametrize("arith", _triton.ARITHMETICS)
@pytest.mark.parametrize("g", range(len(ADAPTIVE_GEOMETRIES)))
def test_adversarial_adaptive_matches_oracle(interpreted, monkeypatch, g, arith):
    """Adaptive and global windows (overlapping, larger output than input, 27- and 30-element
    global windows); the dtype rotates over the geometries (float32 where float64's turn
    meets the mixed arithmetic)."""
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", arith)
    dims, spatial, output_size = ADAPTIVE_GEOMETRIES[g]
    dtype = DTYPES[g % len(DTYPES)]
    if arith == "mixed" and dtype == torch.float64:
        dtype = torch.float32
    x = _batch(spatial, dtype, 7 + g)
    with launched(2), ran_arithmetic(arith):
        check_adaptive_case("ppool", x, ALPHA, output_size, dims=dims,
                            forward_ulp=_forward_ulp(dtype))


ZERO_WINDOWS = [[0.0, 0.0, 0.0], [0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [2.0, 2.0, 0.0],
                [1.5, 1.5, 1.5]]
ZERO_ALPHAS = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], dtype=torch.float64)


@pytest.mark.parametrize("dtype, arith", [(torch.float32, "float64"), (torch.float32, "mixed"),
                                          (torch.float64, "float64")],
                         ids=["float32-float64", "float32-mixed", "float64-float64"])
def test_conventions_at_zeros_match_oracle(interpreted, monkeypatch, dtype, arith):
    """All-zero windows, one and two zeros, zeros beside ties, ties, a lone zero: y and every
    derivative as the oracle's conventions state, for alpha on both sides of 0, -1 and 1."""
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", arith)
    x = torch.tensor(ZERO_WINDOWS, dtype=dtype)[:, None, :].expand(-1, len(ZERO_ALPHAS), -1)
    with launched(4):
        check_case(x.contiguous(), ZERO_ALPHAS, 3, dims=1)
        check_case(torch.zeros(1, len(ZERO_ALPHAS), 1, dtype=dtype), ZERO_ALPHAS, 1, dims=1)


@pytest.mark.parametrize("dtype, arith", [(torch.float64, "float64"),
                                          (torch.bfloat16, "float64"), (torch.float32, "mixed")],
                         ids=["float64-float64", "bfloat16-float64", "float32-mixed"])
def test_gpu_tile_shapes_match_oracle(interpreted, monkeypatch, dtype, arith):
    """The tile shapes a GPU uses (``_triton.TILE``: one plane per program, windows longer than
    the tile evaluated in chunks) against the oracle: a global window of 900 elements over 30
    decades (two chunks of 512) and overlapping 3x3 windows with zeros over several programs."""
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", arith)
    alpha = ALPHA[[0, 3, 6, 11]]  # -1e4, -1, 0.5, 1e6
    monkeypatch.setenv("PPVERIFY_TRITON_TILE", str(_triton.TILE))
    gen = torch.Generator().manual_seed(11)
    x = values("range30", (1, 4, 30, 30), dtype, gen)
    with launched(2), ran_arithmetic(arith):
        check_adaptive_case("ppool", x, alpha, 1, dims=2, forward_ulp=_forward_ulp(dtype))
    monkeypatch.setenv("PPVERIFY_TRITON_TILE", "128")  # 8 windows of 16 per program
    x = values("zeros", (1, 4, 5, 5), dtype, gen)
    with launched(2):
        check_case(x, alpha, 3, 2, 1, dims=2, forward_ulp=_forward_ulp(dtype))


# ln(x/R) as the first mixed kernels had it: s and 2 s + tail rounded to float32
LN_RATIO_DEFECT = [("    s_lo = rem.to(tl.float32) / den32\n",
                    "    s_lo = rem.to(tl.float32) * 0.0\n"),
                   ("(2.0 * s.to(tl.float64) + tail.to(tl.float64))",
                    "(2.0 * s + tail).to(tl.float64)")]


def _large_window_ulps(dtype=torch.float32) -> np.ndarray:
    """The forward's ULP distance from the oracle on the large-window adversary, per case."""
    x, alpha = large_window_input(dtype)
    with launched(1):
        y = functional.adaptive_p_pool1d(x, alpha, 1)
    return global_forward_ulps("ppool", y, x, alpha)


@pytest.mark.parametrize("dtype, arith, bound", [(torch.float32, "float64", 1),
                                                 (torch.float32, "mixed", 1),
                                                 (torch.float64, "float64", 8)],
                         ids=["float32-float64", "float32-mixed", "float64-float64"])
def test_large_window_adversary_matches_oracle(interpreted, monkeypatch, dtype, arith, bound):
    """Windows of 12544 elements built so that ln(x/R)'s relative error weighs most
    (``_cases.LARGE_WINDOW_CASES``): float32 forward within 1 ULP of the oracle in both
    arithmetics (the float64 arithmetic is correctly rounded here; the mixed one carries
    ln(x/R) to about 2^-28), float64 within its 8 ULP (a window of more than 2^13 elements in
    one tile: the float64 kernel's compensated sum)."""
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", arith)
    with ran_arithmetic(arith, ["forward"]):
        ulps = _large_window_ulps(dtype)
    assert ulps.max() <= bound, f"ULP per case {list(zip(LARGE_WINDOW_CASES, ulps))}"


def test_large_window_adversary_catches_float32_logarithm(interpreted, monkeypatch, tmp_path):
    """The check above can fail: ln(x/R) with s and its sum rounded to float32 (the first mixed
    kernels) misses y by 2 ULP on the first four cases."""
    source = _triton.KERNELS.read_text()
    for old, new in LN_RATIO_DEFECT:
        assert old in source
        source = source.replace(old, new)
    path = tmp_path / "ppv_kernels_ln_defect.py"
    path.write_text(source)
    broken = _triton.load_kernels(path, "ppv_kernels_ln_defect", interpret=True)
    monkeypatch.setitem(_triton._modules, True, broken)
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", "mixed")
    ulps = _large_window_ulps()
    assert ulps[:4].tolist() == [2, 2, 2, 2], ulps


def test_per_plane_parameter_matches_oracle(interpreted):
    """alpha of shape (N, C) (what vmap and per-sample parameters produce): each plane its own
    alpha, gradient per plane."""
    from ppverify.oracle import ulp_distance

    from ._oracle_cache import reference

    gen = torch.Generator().manual_seed(3)
    x = values("range30", (3, 4, 5, 5), torch.float32, gen)
    alpha = torch.tensor(ALPHAS, dtype=torch.float64).reshape(3, 4)
    layout = _layout.windowed(2, 2)
    code = _layout.encode(layout)
    with launched(2):
        y = torch.ops.ppverify.pool(x, alpha, "ppool", code, True)
        gy = torch.rand(y.shape, generator=gen)
        gx, ga = torch.ops.ppverify.pool_backward(gy, x, alpha, "ppool", code, True)
    for n in range(3):
        ref = reference("ppool", x[n:n + 1].double().numpy(), alpha[n].numpy(), 2, dims=2,
                        dtype="float32", grad_output=gy[n:n + 1].double().numpy())
        assert ulp_distance(y[n:n + 1].double().numpy(), ref.output, "float32").max() <= 1
        np.testing.assert_allclose(gx[n:n + 1].double().numpy(), ref.grad_input, rtol=1e-6,
                                   atol=1e-6 * np.abs(ref.grad_input).max())
        np.testing.assert_allclose(ga[n].numpy(), ref.grad_param, rtol=1e-6,
                                   atol=1e-6 * np.abs(ref.grad_param).max())


def _strided(x):
    """``x`` as every second element of a wider tensor, batch and channel strides swapped."""
    big = torch.zeros(x.shape[1], x.shape[0], *x.shape[2:-1], 2 * x.shape[-1], dtype=x.dtype)
    view = big.transpose(0, 1)[..., ::2]
    view.copy_(x)
    return view


LAYOUT_CASES = [
    ("channels_last", lambda x: x.contiguous(memory_format=torch.channels_last), 2),
    ("strided", _strided, 2),
    ("channels_last_3d", lambda x: x.contiguous(memory_format=torch.channels_last_3d), 3),
]


@pytest.mark.parametrize("name, relayout, dims", LAYOUT_CASES, ids=[c[0] for c in LAYOUT_CASES])
def test_any_strides_give_the_same_bits(interpreted, name, relayout, dims):
    """Outputs and gradients of a channels_last or strided input are bit-identical to the
    contiguous input's, and keep its memory format; the upstream gradient may be strided too."""
    gen = torch.Generator().manual_seed(5)
    shape = (2, 3, 6, 5) if dims == 2 else (2, 3, 4, 5, 3)
    x = values("range30", shape, torch.float32, gen)
    alpha = torch.tensor([2.0, -0.5, 30.0], dtype=torch.float64, requires_grad=True)
    fn = functional.p_pool2d if dims == 2 else functional.p_pool3d
    results = []
    with launched(4):
        for inp in (x, relayout(x)):
            xin = inp.detach().clone().requires_grad_(True)
            a = alpha.detach().clone().requires_grad_(True)
            y = fn(xin, a, 3, 2, 1)
            gy = torch.linspace(0.5, 2, y.numel()).reshape(y.shape)
            if inp is not x:
                gy = gy.transpose(0, 1).contiguous().transpose(0, 1)  # strided upstream
            y.backward(gy)
            results.append((y, xin.grad, a.grad))
    (y0, gx0, ga0), (y1, gx1, ga1) = results
    assert torch.equal(y0, y1) and torch.equal(gx0, gx1) and torch.equal(ga0, ga1)
    if name.startswith("channels_last"):
        fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
        assert y1.is_contiguous(memory_format=fmt) and gx1.is_contiguous(memory_format=fmt)


def test_bad_input_is_named_and_validate_false_gives_nan(interpreted):
    x = torch.rand(2, 3, 4, 4)
    x[1, 2, 3, 0] = -1.0
    with launched(1), pytest.raises(ValueError, match=r"negative values \(first at batch 1, "
                                                       r"channel 2, position \(3, 0\)\)"):
        functional.p_pool2d(x, 2.0, 2)
    x[1, 2, 3, 0] = float("nan")
    with launched(1), pytest.raises(ValueError, match="NaN"):
        functional.p_pool2d(x, 2.0, 2)
    with launched(1), pytest.raises(ValueError, match="alpha must be finite"):
        functional.p_pool2d(torch.rand(1, 2, 4, 4),
                            torch.tensor([1.0, float("inf")], dtype=torch.float64), 2)
    with launched(1):
        y = functional.p_pool2d(x, 2.0, 2, validate=False)
    nan = torch.isnan(y)
    assert nan[1, 2, 1, 0] and int(nan.sum()) == 1
    # validate=False flags into a scratch tensor that no call reads: a flag it set must not
    # reach a later validated call (which gets a fresh flag), in either direction
    assert int(_triton._scratch_flag(x.device)) == 1
    with launched(1):
        functional.p_pool2d(torch.rand(2, 3, 4, 4), 2.0, 2)
    with launched(1), pytest.raises(ValueError, match="NaN"):
        functional.p_pool2d(x, 2.0, 2)


def test_compile_fullgraph_traces_the_kernels(interpreted):
    """torch.compile sees the custom op (one opaque node) and runs the kernels inside it."""
    torch._dynamo.reset()
    layer = torch.nn.Sequential(torch.nn.ReLU())
    fn = torch.compile(lambda x, a: functional.p_pool2d(layer(x), a, 3, 2, 1),
                       fullgraph=True, backend="aot_eager")
    x = torch.rand(2, 3, 7, 7, requires_grad=True)
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    with launched(2):
        y = fn(x, a)
        y.sum().backward()
    assert y.shape == (2, 3, 4, 4) and torch.isfinite(x.grad).all() and a.grad is not None


# -------------------------------------------------------------------- ppverify check, in-process


def _broken_p_pool2d(input, alpha, kernel_size, stride=None, padding=0, dilation=1,
                     ceil_mode=False):
    """The Triton op with a deliberate error: output scaled by (1 + 1e-3)."""
    y = functional.p_pool2d(input, alpha, kernel_size, stride, padding, dilation, ceil_mode)
    return y * (1 + 1e-3)


def test_ppverify_check_finds_the_kernels_conforming(interpreted):
    """``ppverify check`` (the conformance checker: every dtype, layout, value kind, error
    inputs) against the Triton kernels, windowed in 1-D to 3-D and adaptive."""
    from ppverify.conformance.driver import check

    with launched(20):
        report = check("ppverify.ops:p_pool{d}d", "ppool", (1, 2, 3), count=8, isolate=False,
                       shrink_failures=False)
        assert report.conforms, report.failed_categories
        adaptive = check("ppverify.ops:adaptive_p_pool{d}d", "ppool", (2,), count=6,
                         pooling="adaptive", isolate=False, shrink_failures=False)
        assert adaptive.conforms, adaptive.failed_categories


def test_ppverify_check_catches_a_broken_kernel(interpreted):
    from ppverify.conformance.driver import check

    with launched(3):
        report = check(_broken_p_pool2d, "ppool", 2, count=4, isolate=False,
                       shrink_failures=False, include_errors=False)
    assert not report.conforms and "wrong-value" in report.failed_categories


def _exact_param_sum(part, part_e, rows):
    """``sum part[p, j] * 2**part_e[p, j]`` over the rows ``rows``, exactly (fractions), as
    a float (correctly rounded)."""
    from fractions import Fraction

    total = Fraction(0)
    for p in rows:
        for v, e in zip(part[p].tolist(), part_e[p].tolist()):
            if v != 0.0:
                total += Fraction(v) * (Fraction(2) ** e)
    return float(total)


@pytest.mark.parametrize("mode", [0, 1, 2], ids=["scalar", "per-channel", "per-plane"])
def test_alpha_gradient_reduction_kernel_sums_exactly_scaled_terms(interpreted, mode):
    """``ppool_param_grad`` (one launch for dL/dalpha) against the exact sum of its terms
    ``part * 2**part_e``: terms of 2**-1100 .. 2**-900 (whose products would underflow if
    formed), a plane whose terms each overflow float64 (2**1030) but whose sum does not,
    NO_EXP (zero) slots, an all-zero plane, planes assigned to the right channel. Within 1e-13
    relative (float64 sums of exactly scaled terms)."""
    N, C, J = 3, 4, 7
    gen = torch.Generator().manual_seed(5 + mode)
    part = (torch.rand(N * C, J, generator=gen, dtype=torch.float64) - 0.5) * 4
    part_e = torch.randint(-1100, -900, (N * C, J), generator=gen)
    part_e[2, :3] = 1030                    # 2**1031 - (2**1031 - 2**1020) + 2**1020.5
    part[2, :3] = torch.tensor([2.0, -(2.0 - 2.0**-10), 2.0**-9.5], dtype=torch.float64)
    part_e[:, -1] = -4000                   # the kernel's NO_EXP: a zero term
    part[:, -1] = 0.0
    part[C + 3] = 0.0                       # plane (n=1, c=3) all zero
    part_e[C + 3] = -4000
    shape = {0: (), 1: (C,), 2: (N, C)}[mode]
    param = torch.zeros(shape, dtype=torch.float64)
    with launched(1):
        got = _triton._param_gradient(part, part_e, param, N, C)
    assert got.shape == shape and got.dtype == torch.float64
    if mode == 0:
        groups = [range(N * C)]
    elif mode == 1:
        groups = [range(c, N * C, C) for c in range(C)]
    else:
        groups = [[p] for p in range(N * C)]
    want = torch.tensor([_exact_param_sum(part, part_e, rows) for rows in groups],
                        dtype=torch.float64)
    assert torch.isfinite(want).all() and (want.abs() > 2.0**1019).any()
    torch.testing.assert_close(got.reshape(-1), want, rtol=1e-13, atol=0.0)
    if mode == 2:
        assert got.reshape(-1)[C + 3] == 0.0


# a defect that a 2-ULP forward bound must catch: e^r to degree 5 instead of 7 (error up to
# r^6/720 = 2^-18.7 relative on |r| <= ln(2)/2), the kind of shortcut a faster kernel tempts
MIXED_DEFECT = ("    p = r * (1.0 / 5040.0) + (1.0 / 720.0)\n",
                "    p = r * 0.0 + 0.0\n")


def test_mixed_arithmetic_with_a_planted_defect_misses_the_forward_bound(interpreted,
                                                                          monkeypatch, tmp_path):
    """The 2-ULP forward check of the mixed arithmetic can fail: the kernels with e^r cut to
    degree 5 are caught on float32 (the same check passes on the real kernels above)."""
    source = _triton.KERNELS.read_text()
    assert MIXED_DEFECT[0] in source
    path = tmp_path / "ppv_kernels_mixed_defect.py"
    path.write_text(source.replace(*MIXED_DEFECT))
    broken = _triton.load_kernels(path, "ppv_kernels_mixed_defect", interpret=True)
    monkeypatch.setitem(_triton._modules, True, broken)
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", "mixed")
    dims, spatial, k, s, p, d, cm = GEOMETRIES[2]
    x = _batch(spatial, torch.float32, 5)
    with launched(1), ran_arithmetic("mixed"), pytest.raises(AssertionError, match="ULP"):
        check_case(x, ALPHA, k, s, p, d, cm, dims=dims, forward_ulp=2)


@pytest.mark.parametrize("setting", ["100", "8", "32768", "big", "-16"])
def test_tile_setting_is_checked(interpreted, monkeypatch, setting):
    """PPVERIFY_TRITON_TILE: a power of two the kernels can take, else an error naming it."""
    monkeypatch.setenv("PPVERIFY_TRITON_TILE", setting)
    with pytest.raises(ValueError, match=f"PPVERIFY_TRITON_TILE={setting!r}"):
        functional.p_pool2d(torch.rand(1, 1, 4, 4), 1.0, 2)


def test_arithmetic_setting_is_checked(monkeypatch):
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", "float16")
    with pytest.raises(ValueError, match="PPVERIFY_TRITON_ARITHMETIC='float16'"):
        _triton.arithmetic(torch.float32)
    monkeypatch.setenv("PPVERIFY_TRITON_ARITHMETIC", "mixed")
    assert _triton.arithmetic(torch.float64) == "float64"  # float64 inputs: always float64
    assert _triton.arithmetic(torch.bfloat16) == "mixed"
    monkeypatch.delenv("PPVERIFY_TRITON_ARITHMETIC")
    assert _triton.arithmetic(torch.float16) == "float64"  # the default (measured on a GPU)
