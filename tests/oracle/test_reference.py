"""ppverify.oracle.reference against torch's pooling in float64, and correct rounding.

torch's float64 pooling is not correctly rounded; the bounds below are the worst cases measured
over the grid (positive inputs and upstream gradients, so no cancellation), asserted tightly:

=====================  =========  ==========
torch function         forward    backward
=====================  =========  ==========
max_pool{1,2,3}d       0 ULP      2 ULP      (a sum of upstream gradients, accumulated in order)
avg_pool{1,2,3}d       3 ULP      3 ULP
lp_pool{1,2,3}d        2 ULP      5 ULP      (full windows only; see the partial-window test)
=====================  =========  ==========

Where torch computes something else than the mathematics, the test pins torch's behaviour and
says so in its docstring; the oracle is not bent.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

from ppverify.oracle import CertificationError, OracleDomainError, reference, ulp_distance
from ppverify.oracle.formats import BFLOAT16, FLOAT16, FLOAT32, FLOAT64, round_fraction
from ppverify.windows import iter_windows, make_geometry

torch = pytest.importorskip("torch")
F = torch.nn.functional

SIZES = {1: (9,), 2: (5, 6), 3: (3, 4, 5)}
MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
LP_POOL = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}

ULP_BOUND = {  # (forward, backward), measured worst case over the grid
    "max": (0, 2),
    "avg": (3, 3),
    "lp": (2, 5),
}


def _grid(dims, dilation=(1, 2)):
    for k, s, d, ceil in itertools.product((2, 3), (1, 2), dilation, (False, True)):
        for p in range(k // 2 + 1):
            yield k, s, p, d, ceil


def _run_torch(fn, x, g_seed, *args, **kwargs):
    xt = torch.tensor(x, requires_grad=True)
    try:
        y = fn(xt, *args, **kwargs)
    except RuntimeError:
        return None
    g = np.random.default_rng(g_seed).uniform(0.5, 2.0, tuple(y.shape))
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy(), g


def _assert_ulp(got, want, bound, what):
    d = ulp_distance(got, want, "float64")
    assert d.max() <= bound, f"{what}: {d.max()} ULP > {bound}"
    return d.max()


# --------------------------------------------------------------------------- torch grids


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_max_pool_matches_torch(dims):
    rng = np.random.default_rng(dims)
    compared = 0
    for k, s, p, d, ceil in _grid(dims):
        x = rng.uniform(0.5, 2.0, (2, 2) + SIZES[dims])
        t = _run_torch(MAX_POOL[dims], x, compared, k, s, p, d, ceil)
        if t is None:
            continue
        y, gx, g = t
        r = reference("max", x, None, k, s, p, d, ceil, dims=dims, grad_output=g)
        fwd, bwd = ULP_BOUND["max"]
        _assert_ulp(y, r.output, fwd, f"max_pool{dims}d forward {k, s, p, d, ceil}")
        _assert_ulp(gx, r.grad_input, bwd, f"max_pool{dims}d backward {k, s, p, d, ceil}")
        compared += 1
    assert compared >= 20


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_avg_pool_matches_torch(dims, count_include_pad):
    rng = np.random.default_rng(10 + dims)
    compared = 0
    for k, s, p, _, ceil in _grid(dims, dilation=(1,)):
        x = rng.uniform(0.5, 2.0, (2, 2) + SIZES[dims])
        t = _run_torch(AVG_POOL[dims], x, compared, k, s, p, ceil,
                       count_include_pad=count_include_pad)
        if t is None:
            continue
        y, gx, g = t
        r = reference("avg", x, None, k, s, p, 1, ceil, dims=dims, grad_output=g,
                      count_include_pad=count_include_pad)
        fwd, bwd = ULP_BOUND["avg"]
        _assert_ulp(y, r.output, fwd, f"avg_pool{dims}d forward {k, s, p, ceil}")
        _assert_ulp(gx, r.grad_input, bwd, f"avg_pool{dims}d backward {k, s, p, ceil}")
        compared += 1
    assert compared >= 10


def _partial_mask(dims, spatial, k, s, ceil):
    geometry = make_geometry(dims, k, s, 0, 1, ceil)
    full = geometry.window_elements
    return np.array([len(w.positions) < full for w in iter_windows(geometry, spatial)]), [
        len(w.positions) for w in iter_windows(geometry, spatial)
    ]


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_lp_pool_matches_torch_on_full_windows(dims, p):
    """torch's lp_pool has no padding or dilation; ceil_mode partial windows differ (below)."""
    rng = np.random.default_rng(20 + dims)
    compared = 0
    for k, s, _, _, ceil in _grid(dims, dilation=(1,)):
        x = rng.uniform(0.5, 2.0, (2, 2) + SIZES[dims])
        mask, _ = _partial_mask(dims, SIZES[dims], k, s, ceil)
        if mask.any():
            continue  # a ceil_mode partial window: torch computes something else
        t = _run_torch(LP_POOL[dims], x, compared, p, k, s, ceil)
        if t is None:
            continue
        y, gx, g = t
        r = reference("lp", x, p, k, s, 0, 1, ceil, dims=dims, grad_output=g)
        fwd, bwd = ULP_BOUND["lp"]
        _assert_ulp(y, r.output, fwd, f"lp_pool{dims}d forward p={p} {k, s, ceil}")
        _assert_ulp(gx, r.grad_input, bwd, f"lp_pool{dims}d backward p={p} {k, s, ceil}")
        compared += 1
    assert compared >= 4


def test_mixed_signs_match_torch_within_cancellation_bound():
    """With mixed signs ULP counts are meaningless (cancellation); compare absolutely."""
    rng = np.random.default_rng(99)
    x = rng.standard_normal((2, 3, 6, 7))
    t = _run_torch(F.avg_pool2d, x, 1, 3, 2, 1, True, count_include_pad=False)
    r = reference("avg", x, None, 3, 2, 1, 1, True, dims=2, grad_output=t[2])
    scale = np.abs(x).max()
    assert np.abs(t[0] - r.output).max() <= 4 * 2.0**-52 * scale
    t = _run_torch(F.max_pool2d, x, 1, 3, 2, 1, 2, True)
    r = reference("max", x, None, 3, 2, 1, 2, True, dims=2, grad_output=t[2])
    np.testing.assert_array_equal(t[0], r.output)


# ------------------------------------------------------------------- where torch differs


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_torch_lp_pool_ceil_mode_partial_windows_scale_by_full_kernel(dims):
    """Torch discrepancy: lp_pool with ceil_mode on a partial window of n < K elements returns
    ``(K/n * sum x^p)^(1/p)``, not ``(sum x^p)^(1/p)``: it computes ``avg_pool(x^p) * K`` and
    avg_pool divides a partial window by n (K = kw*kh[*kd], the full kernel size).
    Example: lp_pool1d([1,2,3,4,5], p=2, k=2, ceil_mode=True) gives sqrt(50) for the window [5]
    instead of 5."""
    p, k, s = 2.0, 2, 2
    x = np.random.default_rng(dims).uniform(0.5, 2.0, (1, 2) + SIZES[dims])
    y, _, _ = _run_torch(LP_POOL[dims], x, 0, p, k, s, True)
    r = reference("lp", x, p, k, s, 0, 1, True, dims=dims, gradients=False)
    mask, counts = _partial_mask(dims, SIZES[dims], k, s, True)
    assert mask.any()
    full = k**dims
    ratio = (full / np.array(counts, dtype=np.float64)) ** (1 / p)
    flat_y, flat_r = y.reshape(2, -1), r.output.reshape(2, -1)
    np.testing.assert_allclose(flat_y, flat_r * ratio, rtol=1e-14)
    assert not np.allclose(flat_y[:, mask], flat_r[:, mask])
    # the concrete 1-D example
    t = F.lp_pool1d(torch.tensor([[[1.0, 2, 3, 4, 5]]], dtype=torch.float64), 2, 2, 2,
                    ceil_mode=True)
    assert t[0, 0, -1].item() == pytest.approx(50**0.5, rel=1e-15)
    o = reference("lp", [[[1.0, 2, 3, 4, 5]]], 2.0, 2, 2, ceil_mode=True, dims=1)
    assert o.output[0, 0, -1] == 5.0


def test_torch_avg_pool_default_counts_padding():
    """Torch discrepancy (of defaults): avg_pool's default count_include_pad=True divides an
    edge window by the kernel size, padding included; the oracle's default is False (padding
    must not change a window's value). avg_pool1d(ones(3), 3, 1, 1) is [2/3, 1, 2/3] in torch
    and [1, 1, 1] in the oracle by default."""
    x = np.ones((1, 1, 3))
    t = F.avg_pool1d(torch.tensor(x), 3, 1, 1)
    assert t[0, 0].tolist() == pytest.approx([2 / 3, 1, 2 / 3], rel=1e-15)
    assert reference("avg", x, None, 3, 1, 1, dims=1).output[0, 0].tolist() == [1, 1, 1]
    r = reference("avg", x, None, 3, 1, 1, dims=1, count_include_pad=True)
    assert r.output[0, 0].tolist() == [2 / 3, 1.0, 2 / 3]


def test_torch_lp_pool_gradient_at_all_zero_window():
    """Torch discrepancy: at an all-zero window torch's lp_pool gradient is 0 (pow backward at
    0 is masked); the one-sided partial derivative of (sum x^p)^(1/p) there is 1 (raise one
    element to h: y = h), which the oracle returns. Input [0, 0, 1, 2], p = 2, kernel 2."""
    x = np.array([[[0.0, 0.0, 1.0, 2.0]]])
    xt = torch.tensor(x, requires_grad=True)
    F.lp_pool1d(xt, 2.0, 2).sum().backward()
    assert xt.grad[0, 0, :2].tolist() == [0.0, 0.0]
    r = reference("lp", x, 2.0, 2, dims=1)
    assert r.grad_input[0, 0, :2].tolist() == [1.0, 1.0]
    np.testing.assert_allclose(r.grad_input[0, 0, 2:], xt.grad[0, 0, 2:].numpy(), rtol=1e-15)


def test_torch_max_pool_all_padding_window_is_minus_infinity():
    """torch and the oracle agree: a window of only padding (dilation 3, padding 1, ceil_mode)
    has max -inf and passes no gradient. (Torch's return_indices gives an out-of-range index
    there.) The other operators raise OracleDomainError instead (see test_operators)."""
    x = np.array([[[5.0, 1.0]]])
    t = _run_torch(F.max_pool1d, x, 0, 2, 2, 1, 3, True)
    r = reference("max", x, None, 2, 2, 1, 3, True, dims=1, grad_output=t[2])
    assert t[0].tolist() == r.output.tolist() == [[[float("-inf")]]]
    assert t[1].tolist() == r.grad_input.tolist() == [[[0.0, 0.0]]]


# --------------------------------------------------------------------- correct rounding


def _mpf_to_fraction(v) -> Fraction:
    sign, man, exp, _ = mp.mpf(v)._mpf_  # (mpf.man_exp drops the sign)
    man = -int(man) if sign else int(man)
    return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2**-exp)


@pytest.mark.parametrize("fmt", [FLOAT32, BFLOAT16, FLOAT16, FLOAT64], ids=lambda f: f.name)
@pytest.mark.parametrize("op, param", [("ppool", 1.7), ("ppool", -2.0), ("lp", 3.0),
                                       ("powermean", 0.0), ("powermean", 2.5)])
def test_rounded_results_equal_rounded_40_digit_results(op, param, fmt):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.25, 4.0, (2, 2, 3, 4))
    g = rng.uniform(-1.0, 1.0, (2, 2, 4, 5))  # kernel 2, stride 1, padding 1 on 3 x 4
    kw = dict(dims=2, grad_output=g, count_include_pad=True)
    rounded = reference(op, x, param, 2, 1, 1, 1, False, dtype=fmt.name, **kw)
    precise = reference(op, x, param, 2, 1, 1, 1, False, digits=40, **kw)
    for name in ("output", "grad_input", "grad_param"):
        got = np.asarray(getattr(rounded, name), dtype=np.float64).ravel()
        want = [round_fraction(_mpf_to_fraction(v), fmt)
                for v in np.asarray(getattr(precise, name), dtype=object).ravel()]
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_digits_mode_has_the_requested_digits():
    x = np.array([[[0.3, 1.7, 2.9, 0.001]]])
    r = reference("ppool", x, 2.5, 4, dims=1, digits=40)
    with mp.workdps(80):
        xs = [mp.mpf(v) for v in x.ravel()]
        y = mp.fsum(v**3.5 for v in xs) / mp.fsum(v**2.5 for v in xs)
        assert abs(r.output.ravel()[0] - y) <= abs(y) * mp.mpf(10) ** -39
        assert isinstance(r.output.ravel()[0], mp.mpf)


def test_float32_tie_of_an_average_rounds_to_even():
    # mean(1, 1 + 2**-23) = 1 + 2**-24: the midpoint of 1 and its float32 successor -> 1
    r = reference("avg", np.array([[[1.0, 1.0 + 2**-23]]]), None, 2, dims=1, dtype="float32")
    assert r.output.item() == 1.0 and r.output.dtype == np.float32
    # mean(1 + 2**-23, 1 + 2**-22) = 1 + 3 * 2**-24: between an odd and an even -> the even
    r = reference("avg", np.array([[[1.0 + 2**-23, 1.0 + 2**-22]]]), None, 2, dims=1,
                  dtype="float32")
    assert r.output.item() == 1.0 + 2**-22
    # the gradient 1/2 is exact; a float64 tie: mean(1, 1 + 2**-52) -> 1
    r = reference("avg", np.array([[[1.0, 1.0 + 2**-52]]]), None, 2, dims=1)
    assert r.output.item() == 1.0


def test_float32_tie_of_a_lehmer_mean_rounds_to_even():
    """y = (a^2 + b^2) / (a + b) with a = 8388610, b = 3a is 20971525, an odd integer in
    [2**24, 2**25): exactly the midpoint of the float32 values 20971524 and 20971526. A ball
    never decides it; the exact rational fallback must, and ties go to 20971524 (even)."""
    a = 8388610.0
    x = np.array([[[a, 3 * a]]])
    r = reference("ppool", x, 1.0, 2, dims=1, dtype="float32", gradients=False)
    assert r.output.item() == 20971524.0
    r64 = reference("ppool", x, 1.0, 2, dims=1, gradients=False)
    assert r64.output.item() == 20971525.0


@pytest.mark.parametrize(
    "op, param, x, dtype, expected",
    [
        # p = 1: y = 1 + 2**-53, the float64 midpoint of 1 and its successor -> 1
        ("lp", 1.0, [1.0, 2.0**-53], "float64", 1.0),
        ("powermean", 1.0, [1.0, 1.0 + 2.0**-52], "float64", 1.0),
        # p = 2: sqrt(3**2 + 4**2) scaled so that 5 * 2**k is... exact, no tie: 5
        ("lp", 2.0, [3.0, 4.0], "float16", 5.0),
        # geometric mean sqrt(9 * 683**2) = 2049, the float16 midpoint of 2048 and 2050
        ("powermean", 0.0, [9.0, 683.0**2], "float16", 2048.0),
        # p = 1/2 on three equal c: y = 9c = 9007199254741005, a float64 midpoint (found by
        # hypothesis; once raised CertificationError) -> ...004 (even)
        ("lp", 0.5, [1000799917193445.0] * 3, "float64", 9007199254741004.0),
        # p = 1/2 on [4, 9]: (2 + 3)**2 = 25; powermean (5/2)**2
        ("lp", 0.5, [4.0, 9.0], "float64", 25.0),
        ("powermean", 0.5, [4.0, 9.0], "float64", 6.25),
        # p = -1 (harmonic-type): mean(1/x)^-1 for [1, 1/3]: 1 / 2 ... exact
        ("powermean", -1.0, [1.0, 1.0 / 3.0], "float64", None),
    ],
)
def test_power_means_on_rounding_boundaries_are_decided_exactly(op, param, x, dtype, expected):
    r = reference(op, np.array([[x]]), param, len(x), dims=1, dtype=dtype)
    if expected is None:
        xs = [Fraction(v) for v in x]
        expected = round_fraction(1 / (sum(1 / v for v in xs) / len(xs)), FLOAT64)
    assert r.output.item() == expected


def test_non_integer_alpha_on_a_rounding_boundary_is_decided_exactly():
    """alpha = 1/2 on [1, 2116] = [1, 46**2]: y = (1 + 46**3) / (1 + 46) = 2071, the float16
    midpoint of 2070 and 2072 (ties to even: 2072). Once raised CertificationError."""
    r = reference("ppool", np.array([[[1.0, 2116.0]]]), 0.5, 2, dims=1, dtype="float16")
    assert r.output.item() == 2072.0
    grads = [Fraction(1, 47) * (Fraction(3, 2) - Fraction(2071, 2)),
             Fraction(46, 47) * (Fraction(3, 2) - Fraction(2071, 2 * 2116))]
    assert r.grad_input.ravel().tolist() == [round_fraction(g, FLOAT16) for g in grads]


def test_float16_tie_with_gradients():
    # avg of 1 and 1 + 2**-10 in float16: midpoint -> 1; gradient 1/2
    r = reference("avg", np.array([[[1.0, 1.0 + 2**-10]]]), None, 2, dims=1, dtype="float16")
    assert r.output.item() == 1.0 and r.grad_input.tolist() == [[[0.5, 0.5]]]


# --------------------------------------------------------------------------- API details


def test_per_channel_parameter_and_parameter_gradient():
    x = np.random.default_rng(1).uniform(0.5, 2.0, (2, 3, 4))
    alphas = [0.5, 2.0, -1.0]
    r = reference("ppool", x, alphas, 2, dims=1)
    assert r.grad_param.shape == (3,)
    for c, a in enumerate(alphas):
        one = reference("ppool", x[:, c:c + 1], a, 2, dims=1)
        np.testing.assert_array_equal(r.output[:, c:c + 1], one.output)
        assert r.grad_param[c] == one.grad_param
    shared = reference("ppool", x, 2.0, 2, dims=1)
    assert shared.grad_param.shape == ()


def test_unbatched_input():
    x = np.random.default_rng(2).uniform(0.5, 2.0, (3, 4, 4))
    r = reference("ppool", x, 3.0, 2, dims=2)
    rb = reference("ppool", x[None], 3.0, 2, dims=2)
    assert r.output.shape == (3, 2, 2)
    np.testing.assert_array_equal(r.output, rb.output[0])
    np.testing.assert_array_equal(r.grad_input, rb.grad_input[0])


def test_accepts_torch_tensors_and_float32_inputs():
    x = torch.rand(1, 2, 6, dtype=torch.float32) + 0.5
    r = reference("avg", x, None, 3, dims=1, dtype="float32")
    assert r.output.dtype == np.float32
    # torch's float32 average is not correctly rounded either: within 1 ULP
    assert ulp_distance(F.avg_pool1d(x, 3).numpy(), r.output, "float32").max() <= 1
    exact = [round_fraction(sum(Fraction(float(v)) for v in x[0, c, 3 * j:3 * j + 3]) / 3,
                            FLOAT32) for c in range(2) for j in range(2)]
    assert r.output.ravel().tolist() == exact


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(op="nope"), ValueError, "op"),
        (dict(op="ppool", param=None), ValueError, "alpha"),
        (dict(op="avg", param=2.0), ValueError, "param"),
        (dict(op="ppool", param=float("nan")), ValueError, "alpha"),
        (dict(op="ppool", param=[1.0, 2.0, 3.0]), ValueError, "alpha"),
        (dict(op="avg", grad_output=np.ones((1, 2, 3))), ValueError, "grad_output"),
        (dict(op="avg", dtype="float8"), ValueError, "dtype"),
        (dict(op="avg", digits=0), ValueError, "digits"),
        (dict(op="avg", kernel_size=0), ValueError, "kernel_size"),
        (dict(op="avg", input=np.ones((4,))), ValueError, "input"),
        (dict(op="avg", input=np.array([["a"]])), TypeError, "input"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, exc, match):
    call = dict(op="avg", input=np.ones((1, 2, 4)), param=None, kernel_size=2)
    call.update(kwargs)
    op = call.pop("op")
    with pytest.raises(exc, match=match):
        reference(op, call.pop("input"), call.pop("param"), call.pop("kernel_size"), dims=1,
                  **call)


def test_domain_error_is_a_value_error_and_certification_error_exists():
    assert issubclass(OracleDomainError, ValueError)
    assert issubclass(CertificationError, ArithmeticError)


def test_notes_count_conventions():
    x = np.array([[[0.0, 1.0, 0.0, 2.0, 3.0, 4.0]]])
    r = reference("ppool", x, 0.5, 2, dims=1)
    assert r.notes["infinite derivative returned as 0"] == 2


def test_float64_results_are_correctly_rounded_against_mpmath():
    rng = np.random.default_rng(8)
    x = rng.uniform(0.001, 1000.0, (1, 1, 12))
    r = reference("ppool", x, 3.25, 3, dims=1, gradients=False)
    with mp.workdps(60):
        for j in range(4):
            xs = [mp.mpf(v) for v in x[0, 0, 3 * j:3 * j + 3]]
            y = mp.fsum(v**4.25 for v in xs) / mp.fsum(v**3.25 for v in xs)
            assert r.output[0, 0, j] == round_fraction(_mpf_to_fraction(y), FLOAT64)


@pytest.mark.parametrize("count_include_pad", [False, True])
def test_ppool_alpha_zero_and_powermean_p_one_are_avg_pool_on_a_grid(count_include_pad):
    """Proposition 1 at array level, with padding and ceil_mode: P-pooling at alpha = 0 and the
    power mean at p = 1 equal average pooling exactly (forward and backward), and so match
    torch's avg_pool within its bound."""
    rng = np.random.default_rng(5)
    for k, s, p, _, ceil in _grid(2, dilation=(1,)):
        x = rng.uniform(0.5, 2.0, (1, 2, 5, 6))
        t = _run_torch(F.avg_pool2d, x, 0, k, s, p, ceil, count_include_pad=count_include_pad)
        kw = dict(dims=2, grad_output=t[2], count_include_pad=count_include_pad)
        avg = reference("avg", x, None, k, s, p, 1, ceil, **kw)
        for op, param in (("ppool", 0.0), ("powermean", 1.0)):
            r = reference(op, x, param, k, s, p, 1, ceil, **kw)
            np.testing.assert_array_equal(r.output, avg.output)
            np.testing.assert_array_equal(r.grad_input, avg.grad_input)
        _assert_ulp(t[0], avg.output, ULP_BOUND["avg"][0], "avg_pool2d")


# ----------------------------------------------- known bugs of reference.py (owned elsewhere)


def test_digits_mode_exact_zero_from_cancellation():
    # windows [1, 2] and [2, 1] with upstream gradients +1 and -1: dy/dx[1] = d - d = 0
    x, g = [[[1.0, 2.0, 1.0]]], [[[1.0, -1.0]]]
    r64 = reference("ppool", x, 0.5, 2, 1, grad_output=g, dims=1)
    assert r64.grad_input[0, 0, 1] == 0.0
    r = reference("ppool", x, 0.5, 2, 1, grad_output=g, dims=1, digits=20)
    assert r.grad_input[0, 0, 1] == 0


def test_empty_batch_gives_empty_output_like_torch():
    x = np.zeros((0, 2, 4))
    assert tuple(F.avg_pool1d(torch.tensor(x), 2).shape) == (0, 2, 2)
    r = reference("avg", x, None, 2, dims=1)
    assert r.output.shape == (0, 2, 2) and r.grad_input.shape == (0, 2, 4)


@pytest.mark.parametrize("op, param", [("ppool", 0.5), ("ppool", -0.5), ("powermean", 0.5)])
def test_no_infinite_derivative_note_for_padded_zeros(op, param):
    x = np.array([[[1.0, 2.0, 3.0]]])
    r = reference(op, x, param, 3, 1, 1, dims=1, count_include_pad=True)
    assert "infinite derivative returned as 0" not in r.notes
    x0 = np.array([[[0.0, 2.0, 3.0]]])
    r = reference(op, x0, param, 3, 1, 1, dims=1, count_include_pad=True)
    assert r.notes["infinite derivative returned as 0"] >= 1  # the window [0, 2, 3]


@pytest.mark.parametrize("param", ["2", b"2", [1 + 2j], True, np.array([True])])
def test_parameter_must_be_real_not_a_string_or_bool(param):
    with pytest.raises(TypeError, match="alpha must be a real number"):
        reference("ppool", np.ones((1, 1, 4)), param, 2, dims=1)


def test_digits_true_is_not_one_digit():
    with pytest.raises(ValueError, match="digits must be a positive integer"):
        reference("ppool", np.ones((1, 1, 4)), 2.0, 2, dims=1, digits=True)


# ------------------------------------------------------------------ adaptive and global windows

ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
# (input spatial size, output_size): odd sizes, uneven and overlapping windows, an output larger
# than the input (windows repeat elements), global pooling, None (keep that axis)
ADAPTIVE_GRID = {
    1: [((7,), (3,)), ((5,), (5,)), ((3,), (7,)), ((9,), (1,)), ((6,), (4,))],
    2: [((5, 7), (3, 2)), ((3, 4), (5, 6)), ((5, 5), (1, 1)), ((7, 3), (None, 2)),
        ((6, 6), (4, 4))],
    3: [((3, 5, 4), (2, 3, 3)), ((2, 3, 2), (3, 4, 5)), ((3, 3, 5), (1, 1, 1)),
        ((4, 3, 5), (3, None, 2))],
}


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_adaptive_and_global_windows_match_torch(dims):
    rng = np.random.default_rng(100 + dims)
    for spatial, output_size in ADAPTIVE_GRID[dims]:
        x = rng.uniform(0.5, 2.0, (2, 3) + spatial)
        for op, fn in (("avg", ADAPTIVE_AVG[dims]), ("max", ADAPTIVE_MAX[dims])):
            y, gx, g = _run_torch(fn, x, 7, output_size)
            r = reference(op, x, None, dims=dims, grad_output=g, output_size=output_size)
            fwd, bwd = ULP_BOUND[op]
            what = f"adaptive {op} {dims}-D {spatial} -> {output_size}"
            assert r.output.shape == y.shape, what
            _assert_ulp(y, r.output, fwd, what + " forward")
            _assert_ulp(gx, r.grad_input, bwd, what + " backward")


@pytest.mark.parametrize("op, param", [("ppool", 2.5), ("powermean", 3.0), ("lp", 2.0)])
def test_global_pooling_is_one_window_over_the_plane(op, param):
    x = np.random.default_rng(5).uniform(0.5, 2.0, (2, 3, 4, 5))
    r = reference(op, x, param, dims=2, output_size=1)
    whole = reference(op, x, param, (4, 5), dims=2)
    assert r.output.shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(r.output, whole.output)
    np.testing.assert_array_equal(r.grad_input, whole.grad_input)
    assert r.grad_param == whole.grad_param


def test_output_size_excludes_kernel_arguments():
    with pytest.raises(ValueError, match="exclude each other"):
        reference("avg", np.ones((1, 1, 4)), None, 2, dims=1, output_size=2)
    with pytest.raises(ValueError, match="output_size must be positive"):
        reference("avg", np.ones((1, 1, 4)), None, dims=1, output_size=0)


def test_huge_exact_rationals_come_after_more_ball_precision(monkeypatch):
    """Windows whose exact rationals would be huge (``_Problem.exact_size_bits`` above
    ``_HUGE_EXACT_BITS``) try balls up to ``_HUGE_EXACT_FACTOR`` times the start precision
    before the exact evaluation (alpha = 1000 on values spanning 600 decades: 12 s a window
    in GMP, where 2,500 bits of ball decided the gradient 7.5e-174 in milliseconds); an exact
    midpoint still reaches the exact evaluation and is decided (every window counted huge)."""
    import importlib

    from flint import ctx

    ref = importlib.import_module("ppverify.oracle.reference")  # (the package's name is the
    # function's)

    seen = []
    original = ref._Problem.evaluate

    def evaluate(self, b, c, j, exact):
        if exact:
            seen.append(ctx.prec)
        return original(self, b, c, j, exact)

    monkeypatch.setattr(ref._Problem, "evaluate", evaluate)
    r = reference("ppool", np.array([[[1.0, 2116.0]]]), 0.5, 2, dims=1, dtype="float16")
    assert r.output.item() == 2072.0 and seen and min(seen) < (11 + 24) * ref._HUGE_EXACT_FACTOR
    seen.clear()
    monkeypatch.setattr(ref, "_HUGE_EXACT_BITS", -1.0)
    r = reference("ppool", np.array([[[1.0, 2116.0]]]), 0.5, 2, dims=1, dtype="float16")
    assert r.output.item() == 2072.0  # the same midpoint, decided exactly, later
    assert seen and min(seen) >= (11 + 24) * ref._HUGE_EXACT_FACTOR
    problem = ref._Problem.__new__(ref._Problem)
    problem.params = [1000.0]
    problem.window_inputs = lambda b, c, j: [1e300, 1e-300, 0.0, 2.0]
    assert problem.exact_size_bits([(0, 0, 0)]) > 2_000_000  # 1000 x (1050 + 1049 + 55)
    problem.params = [2.0]
    assert problem.exact_size_bits([(0, 0, 0)]) < 5_000
