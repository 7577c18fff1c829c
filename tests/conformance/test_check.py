"""The checker is itself tested: broken implementations are caught in the right category, correct
ones pass with no false alarm, and torch's real discrepancies stay found (regression tests)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from ppverify.conformance.cases import Case  # noqa: E402
from ppverify.conformance.driver import check, evaluate  # noqa: E402
from ppverify.conformance.targets import resolve  # noqa: E402
from ppverify.conformance.tolerances import Tolerances  # noqa: E402
from ppverify.oracle import ulp_distance  # noqa: E402

from ._impls import make_ppool  # noqa: E402

SAFE_KINDS = ("random", "ties", "all-equal", "tiny")
SAFE_PARAMS = (0.0, 1.0, 2.0, 2.5, 0.5, -1.0, -2.5, 8.0)


def _categories(report):
    return set(report.failed_categories)


# ------------------------------------------------------------------ no false alarms


@pytest.mark.parametrize("dims", [1, 2])
def test_careful_ppool_conforms(dims):
    report = check(make_ppool(dims), "ppool", dims, count=40, kinds=SAFE_KINDS,
                   params=SAFE_PARAMS)
    assert report.conforms, _categories(report)
    assert report.cases_run >= 35 and report.error_cases_run >= 5


def _max_pool_without_dilation(dims):
    fn = getattr(F, f"max_pool{dims}d")

    def max_pool(input, kernel_size, stride=None, padding=0, ceil_mode=False):
        return fn(input, kernel_size, stride, padding, 1, ceil_mode)

    return max_pool


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_torch_max_pool_conforms_without_empty_windows(dims):
    # without dilation no window is all padding, the one place torch's max_pool is wrong
    report = check(_max_pool_without_dilation(dims), "max", dims, count=40)
    assert report.conforms, _categories(report)


@pytest.mark.parametrize("dims", [1, 2])
def test_torch_avg_pool_conforms_without_overflowing_sums(dims):
    report = check(f"torch.nn.functional:avg_pool{dims}d", "avg", dims, count=40,
                   kinds=("random", "integers", "ties", "all-equal", "zeros", "tiny",
                          "subnormal"))
    assert report.conforms, _categories(report)


# ------------------------------------------------------------------ broken implementations

BROKEN = [
    # (name, bugs, value kinds, parameters, expected category)
    ("wrong gradient (scaled by 1.01)", dict(wrong_gradient=True), SAFE_KINDS, SAFE_PARAMS,
     "wrong-gradient"),
    ("naive formula overflows", dict(naive=True), ("random", "huge"), None, "nonfinite"),
    ("window placement shifted by one", dict(shift=1), SAFE_KINDS, SAFE_PARAMS, "wrong-value"),
    ("dilation ignored", dict(ignore_dilation=True), SAFE_KINDS, SAFE_PARAMS, "wrong-value"),
    ("computes in float16", dict(half=True), SAFE_KINDS, SAFE_PARAMS, "wrong-value"),
    ("alpha detached", dict(detach_alpha=True), SAFE_KINDS, SAFE_PARAMS, "missing-gradient"),
    ("ceil_mode ignored", dict(floor_mode=True), SAFE_KINDS, SAFE_PARAMS, "wrong-shape"),
    ("negative and NaN inputs accepted", dict(accept_negative=True), SAFE_KINDS, SAFE_PARAMS,
     "accepted-invalid"),
    ("log(0) in the weights", dict(nan_at_zero=True), ("zeros",), (2.0, 3.0), "nonfinite"),
]


@pytest.mark.parametrize("name,bugs,kinds,params,category", BROKEN,
                         ids=[b[0] for b in BROKEN])
def test_broken_ppool_is_caught(name, bugs, kinds, params, category):
    report = check(make_ppool(1, **bugs), "ppool", 1, count=30, kinds=kinds, params=params)
    assert category in _categories(report), (name, _categories(report))
    summary = report.categories[category]
    assert summary.minimal_case is not None
    if summary.minimal_case.expect_error is None:
        # shrunk: one plane and a handful of elements
        assert summary.minimal_case.input.size <= 8, summary.minimal_case.describe()
    assert "from ppverify.oracle import reference" in summary.reproducer
    assert not report.conforms


def test_lower_precision_avg_pool_is_caught():
    def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True):
        return F.avg_pool2d(input.half(), kernel_size, stride, padding, ceil_mode,
                            count_include_pad).to(input.dtype)

    report = check(avg_pool2d, "avg", 2, count=24, kinds=("random",),
                   dtypes=("float32", "float64"))
    assert "wrong-value" in _categories(report)


def test_raising_on_valid_input_is_caught():
    def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if ceil_mode:
            raise NotImplementedError("ceil_mode")
        return F.lp_pool1d(input, norm_type, kernel_size, stride, ceil_mode)

    report = check(lp_pool1d, "lp", 1, count=24, kinds=("random",))
    assert "exception" in _categories(report)
    assert "ceil_mode" in report.categories["exception"].worst.message


def test_missing_input_gradient_is_caught():
    def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        with torch.no_grad():
            return F.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)

    report = check(max_pool1d, "max", 1, count=12, kinds=("random",))
    assert "missing-gradient" in _categories(report)


def test_param_gradient_required_for_ppool_only():
    # lp's p is a hyperparameter: taking it as a float only is noted, not a failure
    def lp_pool1d(input, norm_type, kernel_size, stride=None):  # no ceil_mode: see below
        if isinstance(norm_type, torch.Tensor):
            raise TypeError("norm_type must be a float")
        return F.lp_pool1d(input, norm_type, kernel_size, stride)

    report = check(lp_pool1d, "lp", 1, count=12, kinds=("random",), dtypes=("float64",),
                   include_errors=False)
    assert report.conforms, _categories(report)
    assert any("parameter gradient not checked" in n for n in report.notes)


# ------------------------------------------------------------------ torch's real discrepancies


def _case(op, dims, x, param=None, kernel=2, dtype="float64", **kwargs):
    x = np.asarray(x, dtype=np.float64)
    kernel = (kernel,) * dims
    passed = tuple(kwargs) + (("stride",) if "stride" not in kwargs else ())
    case = Case(op, dims, dtype, x, param, kernel, kwargs.pop("stride", None),
                passed_args=passed, **kwargs)
    case.grad_output = np.ones(case.expected_shape())
    return case


def _findings(target, op, case, dims):
    result = evaluate(resolve(target, op, dims), case, Tolerances())
    return {f.category: f for f in result.findings}


def test_torch_lp_pool_ceil_mode_partial_window_scaled_by_full_kernel():
    # (1 + 1)^(1/2) over the partial window [x2, -]: torch multiplies the average of the one
    # element by the full kernel size 2, giving sqrt(2) instead of 1
    case = _case("lp", 1, [[[1.0, 1.0, 1.0]]], 2.0, ceil_mode=True)
    found = _findings(F.lp_pool1d, "lp", case, 1)
    assert "wrong-value" in found
    assert found["wrong-value"].got == pytest.approx(2 ** 0.5)
    assert found["wrong-value"].expected == 1.0


def test_torch_lp_pool_gradient_zero_at_all_zero_window():
    # torch documents "if the sum of all inputs to the power of p is zero, the gradient is set
    # to zero"; the one-sided partial derivative of (sum x^p)^(1/p) there is 1 (y(t e_i) = t)
    case = _case("lp", 2, np.zeros((1, 1, 2, 2)), 2.0)
    found = _findings(F.lp_pool2d, "lp", case, 2)
    assert found["wrong-gradient"].quantity == "grad_input"
    assert (found["wrong-gradient"].got, found["wrong-gradient"].expected) == (0.0, 1.0)


def test_torch_lp_pool_underflows_for_tiny_inputs():
    case = _case("lp", 1, [[[1e-200, 1e-200]]], 2.0)
    found = _findings(F.lp_pool1d, "lp", case, 1)
    assert found["wrong-value"].got == 0.0


def test_torch_lp_pool_overflows_in_float16():
    case = _case("lp", 1, [[[300.0, 1.0]]], 2.0, dtype="float16")
    found = _findings(F.lp_pool1d, "lp", case, 1)
    assert "nonfinite" in found and found["nonfinite"].quantity == "output"


def test_torch_lp_pool3d_has_no_float16_kernel():
    case = _case("lp", 3, np.ones((1, 1, 2, 2, 2)), 2.0, dtype="float16")
    assert "exception" in _findings(F.lp_pool3d, "lp", case, 3)


def test_torch_max_pool_gives_gradient_to_an_all_padding_window():
    # kernel 2, padding 1, dilation 2 on a length-1 input: the window {-1, 1} has no input
    # element; its output is -inf and no input should receive its gradient, but torch gives
    # one to an input element (with 2 channels, to channel 1's element; with 1, to none)
    case = _case("max", 1, [[[5.0], [7.0]]], kernel=2, padding=(1,), dilation=(2,))
    found = _findings(F.max_pool1d, "max", case, 1)
    assert found["wrong-gradient"].index == (0, 1, 0)
    assert (found["wrong-gradient"].got, found["wrong-gradient"].expected) == (1.0, 0.0)


def test_torch_avg_pool3d_rejects_a_valid_padded_input():
    # output size (1 + 2*1 - 2)/1 + 1 = 2 >= 1, valid for avg_pool1d/2d, rejected by 3d
    case = _case("avg", 3, np.ones((1, 1, 1, 1, 1)), kernel=2, stride=(1, 1, 1),
                 padding=(1, 1, 1), count_include_pad=True)
    assert "exception" in _findings(F.avg_pool3d, "avg", case, 3)
    case2 = _case("avg", 2, np.ones((1, 1, 1, 1)), kernel=2, stride=(1, 1), padding=(1, 1),
                  count_include_pad=True)
    assert _findings(F.avg_pool2d, "avg", case2, 2) == {}


def test_torch_avg_pool_sum_overflows_in_float32():
    big = 3.0e38
    case = _case("avg", 1, [[[big, big]]], dtype="float32", count_include_pad=True)
    found = _findings(F.avg_pool1d, "avg", case, 1)
    assert "nonfinite" in found


# ------------------------------------------------------------------ power mean (GeM)


def _gem1d(eps=None):
    def gem_pool1d(input, p, kernel_size, stride=None, padding=0, dilation=1,
                   ceil_mode=False):
        if dilation not in (1, (1,)):
            raise NotImplementedError("dilation")
        x = input if eps is None else input.clamp(min=eps)  # the usual GeM clamp
        s = F.avg_pool1d(x.pow(p), kernel_size, stride, padding, ceil_mode,
                         count_include_pad=False)
        return s.pow(1.0 / p)

    return gem_pool1d


def test_gem_via_avg_pool_conforms_on_ordinary_inputs():
    report = check(_gem1d(), "powermean", 1, count=30, kinds=("random", "ties", "all-equal"),
                   dtypes=("float64", "float32"), params=(1.0, 2.0, 3.0, 0.5),
                   include_errors=False)
    # the only complaint allowed: dilation is not implemented
    assert _categories(report) <= {"exception"}
    assert all("dilation" in r.findings[0].message for r in report.results if r.findings)


def test_gem_clamp_is_a_wrong_value_for_small_inputs():
    report = check(_gem1d(eps=1e-6), "powermean", 1, count=20, kinds=("tiny",),
                   dtypes=("float64", "float32"), params=(3.0,), include_errors=False)
    assert "wrong-value" in _categories(report)


def test_torch_lp_pool_loses_accuracy_in_pow_one_over_p():
    # S ** fl(1/3) = S ** (1/3) * S ** -(1/3 - fl(1/3)): relative error ~ |ln S| * 1.85e-17,
    # growing with the magnitude, so there is no fixed bound: 57 ULP at one element 4.6e78,
    # 117 ULP for the two-element window below (the README quotes both)
    case = _case("lp", 1, [[[4.631683569492601e78]]], 3.0, kernel=1)
    found = _findings(F.lp_pool1d, "lp", case, 1)
    assert found["wrong-value"].ulp > 16
    x = np.array([[[2.2130976133064446e102, 1.0431147704348682e91]]])
    found = _findings(F.lp_pool1d, "lp", _case("lp", 1, x, 3.0, kernel=2), 1)
    assert found["wrong-value"].ulp > 16  # the checker's measure allows for dy/dp * ulp(p)
    raw = ulp_distance(found["wrong-value"].got, found["wrong-value"].expected, "float64")
    assert raw > 100


def test_torch_lp_pool_input_gradient_overflows_at_a_small_p():
    # found by the small parameter class: the backward of pow(S, 1/p) forms S^(1/p - 1),
    # 284^19 at p = 0.05 over nine elements 1e30, beyond float32, while dy/dx = (y / x)^0.95
    # is 1.35e18 (the output itself, 1.2e49, is beyond float32: inf is right there)
    x = np.full((1, 1, 9), 1e30, dtype=np.float32).astype(np.float64)
    case = _case("lp", 1, x, 0.05, kernel=9, dtype="float32")
    found = _findings(F.lp_pool1d, "lp", case, 1)
    assert found["nonfinite"].quantity == "grad_input" and np.isinf(found["nonfinite"].got)
    assert found["nonfinite"].expected == pytest.approx(1.35085e18, rel=1e-4)


def test_torch_lp_pool_param_gradient_nan_for_a_huge_element():
    # p = 1: the value is exact, but dy/dp (true value -261.45) is NaN in float32
    x = np.array([[[2.6e37, 1.0, 1.0, 1.0]]], dtype=np.float32).astype(np.float64)
    case = _case("lp", 1, x, 1.0, kernel=4, dtype="float32")
    found = _findings(F.lp_pool1d, "lp", case, 1)
    assert set(found) == {"nonfinite"} and found["nonfinite"].quantity == "grad_param"
    assert np.isnan(found["nonfinite"].got) and np.isfinite(found["nonfinite"].expected)


# ------------------------------------------------------------------ ppverify.ops


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_ppverify_ops_conforms_on_ordinary_and_hard_inputs(dims):
    # an import error of the op is a failure here, not a skip
    import ppverify.ops  # noqa: F401

    report = check("ppverify.ops:p_pool{d}d", "ppool", dims, count=30,
                   kinds=("random", "integers", "ties", "all-equal", "zeros", "tiny", "huge"))
    assert report.conforms, {c: report.categories[c].minimal_finding.message
                             for c in report.failed_categories}


def test_ppverify_ops_conforms_everywhere():
    # every value kind, dtype, layout and huge parameters (earlier versions of the op failed
    # here: NaN dy/dalpha and input gradients at subnormal inputs; NaN/inf input gradients
    # and dy/dalpha in float64 at subnormal and wide-range inputs, e.g. x = [2e-309, 1, 1],
    # alpha = 1 or 100, until issue 11)
    import ppverify.ops  # noqa: F401

    report = check("ppverify.ops:p_pool{d}d", "ppool", (1, 2, 3), count=60)
    assert report.conforms, {c: report.categories[c].minimal_finding.message
                             for c in report.failed_categories}


@pytest.mark.parametrize("target, op, pooling", [
    ("p_pool{d}d", "ppool", "windowed"), ("gem_pool{d}d", "powermean", "windowed"),
    ("lp_pool{d}d", "lp", "windowed"), ("adaptive_p_pool{d}d", "ppool", "adaptive")])
def test_the_pure_torch_path_conforms(target, op, pooling, monkeypatch):
    # the path of machines without a compiler, of other devices and of torch.func: the suite
    # checked it with the checker only where a compiler was missing, and there it failed
    # (until 2026-12-05: alpha = -1 on a window of [1, 4e-287, 1.8e194] gave 0 where
    # y = 1.2e-286, R_n (R_n / R_d)^alpha underflowing in its power; and 6.28e-230 where
    # 6.18e-230, a subnormal power)
    from ppverify.ops import _dispatch

    monkeypatch.setattr(_dispatch, "BACKENDS", (_dispatch.TORCH,))  # in this process
    report = check(f"ppverify.ops:{target}", op, (1, 2, 3), pooling=pooling, count=60,
                   isolate=False)
    assert report.conforms, {c: report.categories[c].minimal_finding.message
                             for c in report.failed_categories}


@pytest.mark.parametrize("op, target", [("ppool", "p_pool{d}d"), ("powermean", "gem_pool{d}d"),
                                        ("lp", "lp_pool{d}d")])
def test_ppverify_ops_conform_with_small_parameters(op, target):
    # 0 < |p| < 1/4 (the "small" class): before, float64 input gradients were inf or NaN
    # where a window's dy/dx ~ (R / x)^(1 - p) exceeded the range and the sum did not
    # (p = 0.05 on wide values), and float16 Lp gave inf where per-window terms of 1e20
    # cancel to 0 (within tolerance now: the error scale itself is beyond float16's range)
    import ppverify.ops  # noqa: F401

    report = check(f"ppverify.ops:{target}", op, (1, 2, 3),
                   params=(0.05, 0.1, -0.1) if op != "ppool" else (0.05, -0.05, 0.01))
    assert report.conforms, {c: report.categories[c].minimal_finding.message
                             for c in report.failed_categories}


# ------------------------------------------------------------------ crashes and hangs


def test_a_crashing_target_costs_one_case_not_the_check():
    import os

    def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        if ceil_mode:
            os.abort()  # as a heap corruption detected by free() would
        return F.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)

    report = check(max_pool1d, "max", 1, count=20, kinds=("random",), include_errors=False)
    assert report.cases_run == 20
    assert "exception" in _categories(report)
    assert "crashed (SIGABRT)" in report.categories["exception"].worst.message
    assert report.categories["exception"].minimal_case.ceil_mode
    assert any("crashed or was killed in the worker process" in n for n in report.notes)


def test_a_hanging_target_is_killed():
    import time

    from ppverify.conformance.isolation import IsolatedRunner

    def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        time.sleep(60)

    case = _case("lp", 1, [[[1.0, 2.0]]], 2.0)
    with IsolatedRunner(resolve(lp_pool1d, "lp"), timeout=1.0, startup_timeout=1.0) as run:
        outcome = run(case)
    assert outcome.error.startswith("timed out after 1 s")


def test_a_slow_oracle_does_not_make_a_fast_target_time_out():
    # the worker runs a case while this process computes the oracle's values: an oracle
    # slower than the limit (40 s for a float64 3-D window of 125 elements at alpha = 100,
    # ppverify check 'ppverify.ops:p_pool{d}d' --op ppool --thorough --seed 6) made a target
    # that had answered in 0.2 s "time out after 30 s"; a reply already there is taken
    import time

    from ppverify.conformance.isolation import IsolatedRunner

    case = _case("lp", 1, [[[1.0, 2.0]]], 2.0)
    with IsolatedRunner(resolve(F.lp_pool1d, "lp"), timeout=1.0, startup_timeout=30.0) as run:
        assert run(case).error is None  # the first call (startup) out of the way
        pending = run.process.submit(case)
        time.sleep(2.5)  # the oracle, slower than the 1-s limit
        assert pending().error is None


def test_torch_max_pool2d_backward_corrupts_the_heap_at_an_all_padding_window():
    # found by `ppverify check torch.nn.functional:max_pool2d --op max`: the backward of a
    # window that is all padding writes outside the gradient buffer; glibc aborts with
    # "double free or corruption (out)". The checker must survive and report the crash.
    # Whether glibc notices depends on the heap's layout, which address space randomisation
    # changes from run to run (about 2 runs in 3 on an idle machine; when it does not notice,
    # the stray write touches no input's gradient and nothing is visible). So it runs in fresh
    # interpreters, as a user's `ppverify check` does, until one notices: 15 tries, a miss
    # probability far below 1e-5 idle; the first try usually suffices.
    import subprocess
    import sys

    script = (
        "import numpy as np, torch.nn.functional as F\n"
        "from ppverify.conformance.cases import Case\n"
        "from ppverify.conformance.driver import evaluate\n"
        "from ppverify.conformance.isolation import IsolatedRunner\n"
        "from ppverify.conformance.targets import resolve\n"
        "from ppverify.conformance.tolerances import Tolerances\n"
        "case = Case('max', 2, 'float64', np.array([[[[3.0, 1.0]]]]), None, (2, 2), None,\n"
        "            (1, 1), (2, 2), passed_args=('padding', 'dilation'))\n"
        "case.grad_output = np.ones(case.expected_shape())\n"
        "target = resolve(F.max_pool2d, 'max', 2)\n"
        "with IsolatedRunner(target) as run:\n"
        "    result = evaluate(target, case, Tolerances(), run)\n"
        "print(sorted({f.category for f in result.findings}))\n"
        "print([f.message for f in result.findings])\n")
    outputs = []
    for _ in range(15):
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr  # the checker itself always survives
        outputs.append(proc.stdout)
        if "crashed (SIGABRT)" in proc.stdout:
            break
    assert "crashed (SIGABRT)" in outputs[-1], outputs
    assert "'exception'" in outputs[-1].splitlines()[0]


def test_output_in_another_dtype_is_caught():
    def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True):
        return F.avg_pool1d(input.double(), kernel_size, stride, padding, ceil_mode,
                            count_include_pad)

    report = check(avg_pool1d, "avg", 1, count=8, kinds=("random",), dtypes=("float32",),
                   include_errors=False)
    assert "output dtype float64" in report.categories["wrong-shape"].worst.message


def test_target_module_that_raises_on_import_is_named(tmp_path, monkeypatch):
    (tmp_path / "broken_pool_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="cannot import module 'broken_pool_mod'.*boom"):
        resolve("broken_pool_mod:f", "lp", 1)


@pytest.mark.parametrize("params, match", [
    ([float("nan")], "params must be finite"),
    ([0.0], "p = 0"),
    (["2"], "params must be real numbers"),
])
def test_check_rejects_invalid_params(params, match):
    with pytest.raises(ValueError, match=match):
        check("torch.nn.functional:lp_pool1d", "lp", 1, params=params, count=1)


def test_check_rejects_params_for_an_op_without_one():
    with pytest.raises(ValueError, match="takes no parameter"):
        check("torch.nn.functional:avg_pool1d", "avg", 1, params=[2.0], count=1)


@pytest.mark.parametrize("dims", [0, 4, "2", [], [1, 5], True])
def test_check_rejects_bad_dims(dims):
    with pytest.raises(ValueError, match="dims must be 1, 2 or 3"):
        check("torch.nn.functional:lp_pool1d", "lp", dims, count=1)


def test_amax_as_global_max_pooling_splits_the_gradient_at_ties():
    # x.amax(dim) shares the gradient among tied maxima; max pooling (torch's max_pool and
    # adaptive_max_pool, and the oracle's default) gives it to the first maximum in scan
    # order: both are subgradients, and only ties="first" asks for torch's
    def global_max(x):
        return x.amax(dim=(-2, -1), keepdim=True)

    options = dict(pooling="global", count=70, kinds=("ties",), dtypes=("float64",),
                   include_errors=False, isolate=False, shrink_seconds=3)
    report = check(global_max, "max", 2, **options)
    assert report.conforms and report.tie_conventions["split"] > 0
    report = check(global_max, "max", 2, ties="first", **options)
    first = report.groups[0]
    assert (first.signature.category, first.signature.quantity) == ("wrong-gradient",
                                                                     "grad_input")
    assert first.minimal_finding.got == 0.5 and first.minimal_finding.expected in (0.0, 1.0)
    assert report.cases_passed > 0  # values right; windows without a tie pass


def test_torch_adaptive_avg_pool_to_one_accepts_any_rank():
    # adaptive_avg_pool2d(x, 1) takes a shortcut (a mean over the last two axes) that skips
    # the rank check output_size = 2 makes: a 5-D and a 2-D input pass silently (this is why
    # GeM layers built on it accept them; README, the torch findings)
    def global_avg(x):
        return F.adaptive_avg_pool2d(x, 1)

    report = check(global_avg, "avg", 2, pooling="global", count=5, isolate=False,
                   shrink_failures=False)
    accepted = {g.signature.kind for g in report.groups
                if g.signature.category == "accepted-invalid"}
    assert accepted == {"wrong rank (5-D input)", "wrong rank (2-D input)"}, accepted
    assert F.adaptive_avg_pool2d(torch.ones(1, 1, 2, 5, 5), 1).shape == (1, 1, 2, 1, 1)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D tensor"):
        F.adaptive_avg_pool2d(torch.ones(1, 1, 2, 5, 5), 2)


def test_the_package_exports_the_checker_functions_as_the_readme_imports_them():
    """``from ppverify.conformance import check`` (the README's Python example) gave a
    RecursionError in a fresh process, and the module ``ppverify.conformance.check`` instead
    of the function once anything had imported that module (the CLI, the pytest plugin): the
    driver's module had the function's name. Fresh processes, before and after the modules
    that import the driver."""
    import subprocess
    import sys

    script = (
        "import inspect\n"
        "from ppverify.conformance import check, CheckReport, Tolerances, "
        "assert_matches_oracle\n"
        "assert inspect.isfunction(check) and check.__name__ == 'check', check\n"
        "assert inspect.isclass(CheckReport) and inspect.isclass(Tolerances)\n"
        "assert callable(assert_matches_oracle)\n"
        "import ppverify.conformance.command, ppverify.conformance.pytest_plugin\n"
        "import ppverify.conformance as pkg\n"
        "assert inspect.isfunction(pkg.check), pkg.check\n"
        "from ppverify.conformance import check as again\n"
        "assert again is check\n"
        "import sys; assert 'torch' not in sys.modules\n"
    )
    for first in ("", "import ppverify.conformance.driver\n"):
        proc = subprocess.run([sys.executable, "-c", first + script], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, (first, proc.stderr[-2000:])
