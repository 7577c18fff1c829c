"""float64's per-element logarithms and powers (issue 12, the exact engine's new path).

For a lane with |alpha| <= 16 whose window spans at least 1/16 (xmin <= 15/16 xmax) and whose
elements have |alpha ln x| <= 600, the exact engine forms each element's ln x (a double-double,
table-driven, no division) and x^alpha (a table exp with its low part) once per element, not
ln(x/R) and exp(alpha ln(x/R)) per element and window; every other lane keeps the per-window
path (``FASTLOG_MAX_A`` and the bound in ppool_kernel.cpp). These tests hold both against the
oracle with the path asserted by ``_native.pair_log_paths()``: the forward to 2 ULP (the
README's float64 figure; the suite's general bound is 8), the gradients to the suite's bound.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ppverify.ops import _native, p_pool2d

from ._cases import values
from ._compare import check_adaptive_case, check_case

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")

NEW_ALPHAS = [-16.0, -2.5, -1.0, 0.0, 0.5, 1.0, 2.0, 7.5, 16.0]


def _cache_elems() -> int:
    m = re.search(r"constexpr int64_t ELEM_CACHE_ELEMS = 1 << (\d+);",
                  _native.SOURCE.read_text())
    assert m, "ELEM_CACHE_ELEMS not found in the kernel source"
    return 1 << int(m.group(1))


def _decades(shape, decades: float, seed: int) -> torch.Tensor:
    """float64 values spread over ``decades`` decades (log-uniform), from 1e-3."""
    gen = torch.Generator().manual_seed(seed)
    return 10.0 ** (torch.rand(shape, generator=gen, dtype=torch.float64) * decades - 3)


@pytest.fixture
def paths():
    """The pair-log path counts of the calls made in the test (reset before it)."""
    _native.pair_log_paths()
    return _native.pair_log_paths


@pytest.mark.parametrize("geometry", [(2, (12, 11), 3, 2, 1), (2, (10, 12), 2, 2, 0),
                                      (3, (5, 6, 7), 3, 2, 1), (1, (40,), 4, 1, 2)],
                         ids=["2-D k3 s2 p1", "2-D k2 s2", "3-D k3 s2 p1", "1-D k4 s1 p2"])
def test_the_new_path_matches_the_oracle(geometry, paths):
    dims, spatial, k, s, p = geometry
    gen = torch.Generator().manual_seed(len(spatial) * 100 + k)
    for seed, alpha in enumerate(NEW_ALPHAS):
        for x in (values("uniform", (2, 3) + spatial, torch.float64, gen) + 0.05,
                  _decades((2, 3) + spatial, 6.0, seed)):
            check_case(x, alpha, k, s, p, dims=dims, forward_ulp=2)
    # every window has new lanes; a few (padded windows of 2 or 3 elements) have lanes whose
    # elements are within 1/16 of each other, which keep the per-window path (and which the
    # float64 overlap state's backward evaluates again alone: "old" windows of those lanes)
    counts = paths()
    assert counts["new"] > 10 * (counts["mixed"] + counts["old"]), counts


def test_global_windows_on_the_new_path_match_the_oracle(paths):
    for seed, alpha in enumerate(NEW_ALPHAS):
        x = _decades((2, 3, 6, 5), 4.0, seed)
        check_adaptive_case("ppool", x, alpha, 1, dims=2)
        check_adaptive_case("ppool", x, alpha, (2, 3), dims=2)
    counts = paths()
    assert counts["new"] > 0 and counts["old"] == 0 and counts["mixed"] == 0, counts


def test_weights_that_underflow_in_a_window_take_pass_3s_log_domain_form(paths):
    # 18 decades at |alpha| = 16: |alpha ln x| up to 16 ln(1e15) = 553 <= 600 (the new path),
    # weight ratios up to e^660 within a window, so w = x^a / S underflows for the smallest
    # elements and their gradients come from ln(S / R^a) (the redo in pass 3)
    for seed, alpha in enumerate([16.0, -16.0, 12.0]):
        x = _decades((2, 3, 5, 6), 18.0, 10 + seed)
        check_adaptive_case("ppool", x, alpha, 1, dims=2)
        check_case(x, alpha, 3, 2, 1, dims=2, forward_ulp=2)
    # 0 < alpha < 1 across 600 decades: w = x^a / S underflows for x = 1e-300 next to 1e300
    # (1e-510) while its gradient -a w y / x (about -1e90) does not: the log-domain form, with
    # ln(S / R^a) (|alpha ln x| = 0.85 x 690.8 = 587 <= 600: the new path)
    gen = torch.Generator().manual_seed(4)
    x = 10.0 ** (torch.randint(-300, 301, (1, 8, 4, 4), generator=gen).double())
    x[..., ::2, ::2] = 1e300
    x[..., 1::2, 1::2] = 1e-300
    check_case(x, 0.85, 2, 2, dims=2, forward_ulp=2)
    counts = paths()
    assert counts["new"] > 0 and counts["old"] == 0, counts


def test_lanes_outside_the_bound_keep_the_per_window_path(paths):
    # one alpha per channel (18 planes: groups of 8 lanes mixing channels): the large |alpha|
    # lanes keep log_ratio_dd, the others take the new path in the same windows
    alpha = torch.tensor([2.0, 40.0, -1.5, 1e3, 0.5, -20.0, 16.0, 1.0, -16.5],
                         dtype=torch.float64)
    x = _decades((2, 9, 10, 9), 5.0, 1)
    check_case(x, alpha, 3, 2, 1, dims=2, forward_ulp=2, gradients=False)
    counts = paths()
    assert counts["mixed"] > 0 and counts["old"] == 0, counts
    # with gradients, the overlap state's backward evaluates those lanes again by themselves
    # (their windows are outside the state's argument): one old-path window per mixed one
    check_case(x, alpha, 3, 2, 1, dims=2, forward_ulp=2)
    counts = paths()
    assert counts["mixed"] > 0 and counts["old"] == counts["mixed"], counts
    # windows whose elements are within 1/16 of each other keep it (ln(x/R) relative to
    # itself for dy/dalpha), and so do elements with |alpha ln x| above 600
    check_case(1.0 + torch.rand((1, 8, 6, 6), dtype=torch.float64) / 32, 2.0, 2, 2,
               dims=2, forward_ulp=2)
    check_case(_decades((1, 8, 6, 6), 40.0, 2), 16.0, 2, 2, dims=2)
    counts = paths()
    assert counts["new"] == 0 and counts["old"] > 0, counts


def test_cached_and_per_pair_terms_give_the_same_bits(paths):
    """A plane above ELEM_CACHE_ELEMS positions forms each element's terms per pair, a smaller
    one from the group's cache: the same function of x, so the windows they share (k2 s2, no
    padding: the top-left corner) have the same output and input gradient bits."""
    side = int(_cache_elems() ** 0.5) + 2  # side^2 > ELEM_CACHE_ELEMS
    big = _decades((1, 32, side, side), 5.0, 3)  # planes enough: not cut into segments
    small = big[..., :64, :64].clone()
    # channels-last: the disjoint state on both (on contiguous memory the small plane's
    # autograd call would save the overlap state, whose gradients are its own arithmetic's)
    big, small = (t.contiguous(memory_format=torch.channels_last) for t in (big, small))

    def run(x):
        xg = x.clone().requires_grad_(True)
        y = p_pool2d(xg, 2.5, 2, 2)
        y.backward(torch.ones_like(y))
        return y.detach(), xg.grad

    y_big, g_big = run(big)
    y_small, g_small = run(small)
    assert torch.equal(y_big[..., :32, :32], y_small)
    assert torch.equal(g_big[..., :64, :64], g_small)
    counts = paths()
    assert counts["new"] > 0 and counts["old"] == 0, counts


def _ln_arguments() -> np.ndarray:
    rng = np.random.default_rng(0)
    ends = np.array([0.703125, 0.75, 0.984375, 1.0, 1.03125, 1.40625])
    xs = np.concatenate([
        np.exp(rng.uniform(-744, 709, 1500)),             # every binade
        1 + rng.uniform(-0.05, 0.05, 400),                 # next to 1
        np.ldexp(rng.uniform(0.5, 1, 200), rng.integers(-1074, -1021, 200)),  # subnormal
        np.ldexp(1.0, np.arange(-1074, 1024, 7)),          # powers of two
        np.nextafter(ends, 0), np.nextafter(ends, 2),      # the table's subinterval ends
        np.array([1.7976931348623157e308, 5e-324, 2.2250738585072014e-308]),
    ])
    return xs


def test_ln_dd_is_within_its_bound_and_its_two_forms_agree():
    """ln_dd (the new path's ln x): |H + Lo - ln x| <= 2^-61.5 (the kernel's comment; measured
    2^-63.1 on these arguments, 2026-12-02), checked with mpmath at 200 bits; the 8-lane form
    (whole blocks of 8) and the one-double form (blocks of 7) give the same bits."""
    mpmath = pytest.importorskip("mpmath")
    xs = _ln_arguments()
    xs = xs[: len(xs) // 8 * 8]
    h, lo = _native.pair_log_elementary("ln", xs)
    with mpmath.workprec(200):
        worst = max(abs(mpmath.mpf(a) + mpmath.mpf(b) - mpmath.log(mpmath.mpf(x)))
                    for x, a, b in zip(xs, h, lo))
    assert worst <= 2.0 ** -61.5, float(worst)
    hs, ls = np.empty_like(h), np.empty_like(lo)
    for i in range(0, len(xs), 7):
        hs[i:i + 7], ls[i:i + 7] = _native.pair_log_elementary("ln", xs[i:i + 7])
    assert np.array_equal(hs.view(np.int64), h.view(np.int64))
    assert np.array_equal(ls.view(np.int64), lo.view(np.int64))


def test_exp_dd_tab_is_within_its_bound_and_its_two_forms_agree():
    """exp_dd_tab (the new path's x^alpha from alpha ln x): e + e_lo within 2^-56 of
    exp(th + tl) relative (measured 2^-57.0), e within 0.53 ULP of itself, for th in
    [-707, 709] (the new path uses |th| <= 600); 0 below -745.5; both forms the same bits."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(1)
    th = np.concatenate([rng.uniform(-707, 709, 1500), rng.uniform(-0.05, 0.05, 300),
                         np.array([0.0, -707.0, 600.0, -600.0, 709.0, -746.0, -800.0,
                                   -np.inf])])
    tl = np.where(np.isfinite(th), th * rng.uniform(-1, 1, th.size) * 2.0 ** -54, 0.0)
    th, tl = th[: th.size // 8 * 8], tl[: th.size // 8 * 8]
    e, el = _native.pair_log_elementary("exp", th, tl)
    assert np.all(e[th < -745.5] == 0.0) and np.all(el[th < -745.5] == 0.0)
    ok = th >= -707.0
    with mpmath.workprec(200):
        rel_dd = rel_hi = 0.0
        for a, b, v, vl in zip(th[ok], tl[ok], e[ok], el[ok]):
            ref = mpmath.exp(mpmath.mpf(a) + mpmath.mpf(b))
            rel_dd = max(rel_dd, float(abs(mpmath.mpf(v) + mpmath.mpf(vl) - ref) / ref))
            rel_hi = max(rel_hi, float(abs(mpmath.mpf(v) - ref) / np.spacing(v)))
    assert rel_dd <= 2.0 ** -56, rel_dd
    assert rel_hi <= 0.53, rel_hi  # in ULP of e
    es, els = np.empty_like(e), np.empty_like(el)
    for i in range(0, th.size, 7):
        es[i:i + 7], els[i:i + 7] = _native.pair_log_elementary("exp", th[i:i + 7], tl[i:i + 7])
    assert np.array_equal(es.view(np.int64), e.view(np.int64))
    assert np.array_equal(els.view(np.int64), el.view(np.int64))


def test_subnormal_windows_take_the_vector_split_and_ldexp_lanes(paths):
    # exact_window's per-window work in 8-lane vectors (split8, pow2_8): windows whose R (the
    # largest element for alpha >= 0, the smallest for alpha < 0) is subnormal take split8's
    # x 2^54 branch and y = q 2^e(R) by ldexp (e(R) < -1022: a subnormal y), lane by lane;
    # normal windows in the same groups take the vector product. Against the oracle, forward
    # and gradients; the ldexp lanes counted.
    gen = torch.Generator().manual_seed(7)
    shape = (2, 8, 6, 6)
    m = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5
    e = torch.randint(-1068, -1030, shape, generator=gen).double()
    x = m * 2.0 ** e
    x[1, :, :2] = m[1, :, :2]  # normal windows next to the subnormal ones
    for alpha in (2.0, 0.5, -1.0):
        check_case(x, alpha, 2, 2, dims=2, forward_ulp=2)
        check_case(x, alpha, 3, 2, 1, dims=2, forward_ulp=2)
    counts = paths()
    assert counts["ldexp_y"] > 0 and counts["new"] > 0, counts


def test_zeros_at_alpha_one_take_the_vector_window_constants(paths):
    # alpha = 1's zeros: dy/dx = -(y / R) / (sum x / R) / R there (GradConst::gz, formed in
    # vectors with the window's D, y / R, 1 / S), against the oracle
    gen = torch.Generator().manual_seed(11)
    x = values("zeros", (2, 8, 7, 6), torch.float64, gen)
    assert (x == 0).any() and (x > 0).any()
    for k, s, p in ((3, 2, 1), (2, 2, 0)):
        check_case(x, 1.0, k, s, p, dims=2, forward_ulp=2)
    counts = paths()
    assert counts["new"] + counts["mixed"] > 0, counts
