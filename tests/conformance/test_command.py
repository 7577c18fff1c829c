"""`ppverify check`, `ppverify vectors` and the pytest plugin, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ppverify.cli import main
from ppverify.conformance.tolerances import Tolerances

pytest.importorskip("torch")


def test_tolerance_overrides_change_only_what_they_name():
    tol = Tolerances.parse(["output.float32=32", "grad_input.float16=16", "grad_param.all=1000"])
    assert tol.get("output", "float32") == 32 and tol.get("grad_param", "float32") == 1000
    assert tol.get("grad_input", "float32") == 64  # untouched
    assert tol.get("grad_input", "float16") == 16 and tol.get("output", "float16") == 4
    assert tol.changed()[0] == "output.float32=32 (default 16)"
    star = Tolerances.parse(["*.bfloat16=8"])
    assert {star.get(q, "bfloat16") for q in ("output", "grad_input", "grad_param")} == {8}
    for bad in ["float32", "float8=3", "output.float32=x", "speed.float32=3",
                "output.float32=-1"]:
        with pytest.raises(ValueError):
            Tolerances.parse([bad])
    # a bare dtype would set output, grad_input and grad_param alike (tightening grad_param
    # from 256 to 32): refused, with the fix in the message
    with pytest.raises(ValueError, match=r"name the quantity.*output\.float32=32"):
        Tolerances.parse(["float32=32"])


def test_check_exit_status_and_table(capsys):
    code = main(["check", "torch.nn.functional:max_pool1d", "--op", "max", "--count", "12",
                 "--tolerance", "output.float16=8"])
    out = capsys.readouterr().out
    assert "tolerances (ULP" in out and "overridden: output.float16=8 (default 4)" in out
    assert ("CONFORMS" in out) == (code == 0)
    code = main(["check", "torch.nn.functional:lp_pool1d", "--op", "lp", "--count", "30"])
    out = capsys.readouterr().out
    assert code == 1 and "DOES NOT CONFORM" in out and "reproducer:" in out


def test_check_json(capsys):
    code = main(["check", "torch.nn.functional:lp_pool1d", "--op", "lp", "--count", "20",
                 "--json", "--no-shrink"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["conforms"] is False
    assert report["tolerances_ulp"]["output"]["float32"] == 16
    assert report["cases_run"] >= 15
    failing = [c for c, s in report["categories"].items() if s["failed_cases"]]
    assert "wrong-value" in failing


def test_check_usage_errors(capsys):
    assert main(["check", "no.such.module:f", "--op", "lp"]) == 2
    assert main(["check", "torch.nn.functional:lp_pool1d"]) == 2
    assert main(["check", "x:y", "--op", "lp", "--tolerance", "float32"]) == 2
    assert "error" in capsys.readouterr().err


def test_vectors_then_score(tmp_path, capsys):
    vec = tmp_path / "avg.json"
    assert main(["vectors", "--op", "avg", "--out", str(vec), "--dim", "1", "--count",
                 "8"]) == 0
    assert "wrote" in capsys.readouterr().out
    doc = json.loads(vec.read_text())
    results = {"format": "ppverify-results", "format_version": 1, "results": [
        {"id": c["id"], "error": "rejected"} if c["expected"] is None else
        {"id": c["id"], **{k: c["expected"][k] for k in ("output_shape", "output",
                                                          "grad_input")}}
        for c in doc["cases"]]}
    res = tmp_path / "results.json"
    res.write_text(json.dumps(results))
    assert main(["check", "--vectors", str(vec), "--results", str(res)]) == 0
    assert "CONFORMS" in capsys.readouterr().out
    results["results"] = results["results"][1:]
    res.write_text(json.dumps(results))
    assert main(["check", "--vectors", str(vec), "--results", str(res), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["missing_results"]


def test_plugin_is_registered_and_does_not_import_torch():
    code = ("import sys, importlib.metadata as m\n"
            "eps = [e for e in m.entry_points(group='pytest11') if e.name == 'ppverify']\n"
            "assert eps and eps[0].value == 'ppverify.conformance.pytest_plugin', eps\n"
            "eps[0].load()\n"
            "assert 'torch' not in sys.modules and 'flint' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin_fixture_in_a_test_suite(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        import torch
        import torch.nn.functional as F

        def max_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False):
            return F.max_pool1d(input, kernel_size, stride, padding, 1, ceil_mode)

        def test_good(assert_matches_oracle):
            report = assert_matches_oracle(max_pool1d, op="max", dims=1, count=10)
            assert report.conforms

        def test_bad(assert_matches_oracle):
            assert_matches_oracle(F.lp_pool1d, op="lp", dims=1, count=20)

        class MaxGlobal(torch.nn.Module):  # a module with no parameter, global pooling
            def forward(self, x):
                return F.adaptive_max_pool2d(x, 1)

        def test_module_global(assert_matches_oracle):
            assert_matches_oracle(MaxGlobal, op="max", pooling="global", count=70,
                                  kinds=["random", "integers"], tolerances={"*.float16": 8})

        class MaxHead(torch.nn.Module):  # a head: (N, C, H, W) -> (N, C)
            def forward(self, x):
                if x.dim() != 4:
                    raise ValueError("expects (N, C, H, W)")
                return F.adaptive_max_pool2d(x, 1).flatten(1)

        def test_module_head(assert_matches_oracle):
            report = assert_matches_oracle(MaxHead, op="max", pooling="global", count=70,
                                           kinds=["random", "integers"], batched_only=True,
                                           flat_output=True)
            assert "takes only batched input" in " ".join(report.notes)
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-p", "no:benchmark", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed, 3 passed" in proc.stdout, proc.stdout[-3000:]
    assert "does not match the oracle" in proc.stdout
    assert "reproducer:" in proc.stdout


def test_progress_bar_only_on_a_terminal(monkeypatch):
    from ppverify._progress import Progress

    progress = Progress("ppverify check")
    assert progress._bar is None  # pytest captures stderr: not a terminal
    progress.close()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    progress = Progress("ppverify check")
    assert progress._bar is not None
    progress(1, 3)
    progress(3, 3)
    progress.close()


@pytest.mark.parametrize("argv, message", [
    (["--count", "0"], "count must be a positive integer"),
    (["--count", "-5"], "count must be a positive integer"),
    (["--param", "nan"], "params must be finite"),
    (["--param", "0"], "p = 0 is outside the Lp norm's domain"),
])
def test_check_bad_count_or_param_is_a_usage_error(argv, message, capsys):
    assert main(["check", "torch.nn.functional:lp_pool1d", "--op", "lp", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("target, message", [
    (":lp_pool1d", "both parts non-empty"),
    ("torch.nn.functional:", "both parts non-empty"),
])
def test_check_target_with_an_empty_part_is_a_usage_error(target, message, capsys):
    assert main(["check", target, "--op", "lp"]) == 2
    assert message in capsys.readouterr().err


def test_check_vectors_file_errors_name_the_option_and_file(tmp_path, capsys):
    missing = tmp_path / "missing.json"
    assert main(["check", "--vectors", str(missing), "--results", str(missing)]) == 2
    assert f"--vectors {missing}: No such file or directory" in capsys.readouterr().err
    truncated = tmp_path / "truncated.json"
    truncated.write_text("[1")
    assert main(["check", "--vectors", str(truncated), "--results", str(missing)]) == 2
    assert f"--vectors {truncated}:" in capsys.readouterr().err


def test_check_names_what_is_missing(capsys):
    assert main(["check", "torch.nn.functional:lp_pool2d"]) == 2
    assert "error: --op required" in capsys.readouterr().err
    assert main(["check", "--op", "lp"]) == 2
    assert "error: TARGET required" in capsys.readouterr().err


def test_op_min_and_the_current_directory_on_the_import_path(tmp_path, monkeypatch, capsys):
    (tmp_path / "mypool.py").write_text(
        "import torch.nn.functional as F\n"
        "def min_pool1d(input, kernel_size, stride=None, padding=0, dilation=1,\n"
        "               ceil_mode=False):\n"
        "    return -F.max_pool1d(-input, kernel_size, stride, padding, dilation, ceil_mode)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    code = main(["check", "mypool:min_pool1d", "--op", "min", "--json", "--kinds", "random",
                 "ties", "integers", "--no-shrink"])
    report = json.loads(capsys.readouterr().out)
    assert report["op"] == "min" and report["cases_run"] == 100
    # max_pool gives torch's empty-window -inf to an all-padding window; -(-inf) = +inf is
    # min's convention too, so the composition conforms where max_pool does
    assert code in (0, 1)
    assert report["cases_passed"] <= report["cases_run"]
    assert report["error_cases_passed"] <= report["error_cases_run"]


def test_dtypes_and_kinds_restrict_the_run(capsys):
    main(["check", "torch.nn.functional:avg_pool1d", "--op", "avg", "--json", "--dtypes",
          "float32", "--kinds", "random", "zeros", "--no-shrink"])
    report = json.loads(capsys.readouterr().out)
    coverage = report["coverage"]["1"]
    assert coverage["factors"]["dtype"] == ["float32"]
    assert coverage["factors"]["kind"] == ["random", "zeros"]
    assert coverage["pairs_covered"] == coverage["pairs_required"]


def test_wrong_dtype_still_judges_values():
    torch = pytest.importorskip("torch")
    from ppverify.conformance.driver import check

    def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True):
        y = torch.nn.functional.avg_pool1d(input.double(), kernel_size, stride, padding,
                                           ceil_mode, count_include_pad)
        return y * 1.01

    report = check(avg_pool1d, "avg", 1, count=12, kinds=("random",), dtypes=("float32",),
                   include_errors=False, isolate=False, shrink_seconds=0)
    first = report.groups[0]
    assert first.signature.category == "wrong-shape" and first.signature.symptom == "dtype"
    assert "output dtype float64" in first.worst.message
    assert any(k.startswith("wrong value") for k in first.also)


def test_nan_against_minus_infinity_is_not_a_finite_ulp_count():
    import math

    from ppverify.conformance.compare import errors_ulp

    err = errors_ulp([math.nan, -math.inf, 1.0], [-math.inf, -math.inf, 1.0], [1.0] * 3,
                     "float64")
    assert err.tolist() == [math.inf, 0.0, 0.0]


def test_an_infinity_passes_only_where_the_tolerance_band_reaches_the_overflow_threshold():
    """float16 overflows at 65520 (65504 + half its ULP, 32 / 2). With 8 ULP of the error
    scale allowed: a true 0 whose scale is 1e20 (per-window terms that cancel) may come out
    as inf of either sign; a scale of 2^13 reaches 8 * 8 = 64 from 65480 (65544: beyond);
    a scale of 2^12 only 32 (65512: not); NaN never, nor the infinity on the far side, nor
    one from an ordinary scale; float64 judges its own range."""
    import math

    from ppverify.conformance.compare import infinity_within_tolerance

    inf = math.inf
    got = [inf, -inf, inf, inf, math.nan, inf, inf]
    ref = [0.0, 0.0, 65480.0, 65480.0, 0.0, -65480.0, 1.0]
    scale = [1e20, 1e20, 2.0**13, 2.0**12, 1e20, 2.0**13, 1.0]
    assert infinity_within_tolerance(got, ref, scale, "float16", 8).tolist() == [
        True, True, True, False, False, False, False]
    below_max = float(np.nextafter(np.finfo(np.float64).max, 0))
    assert infinity_within_tolerance([inf, inf], [1.0, below_max], [1e300, 1e308], "float64",
                                     8).tolist() == [False, True]


def test_error_inputs_name_their_parameter():
    from ppverify.conformance.generate import error_cases

    labels = [c.expect_error for c in error_cases("powermean", 2, {"stride"})]
    assert "negative input with non-integer p = 2.5" in labels
    # a target restricted to integer exponents has no such error input (x**3 of a negative
    # number is real), and a declared clamp makes negative inputs valid
    assert not any("negative" in c.expect_error
                   for c in error_cases("powermean", 2, {"stride"}, params=(2.0, 3.0)))
    assert not any("negative" in c.expect_error
                   for c in error_cases("powermean", 2, (), pooling="global", input_min=1e-6))


def test_skipped_cases_are_listed_with_their_reason():
    from collections import Counter

    from ppverify.conformance.driver import CheckReport
    from ppverify.conformance.summary import format_report

    report = CheckReport("m:f", "lp", (1,), Tolerances(), cases_run=3, cases_passed=3,
                         cases_skipped=2,
                         skipped_reasons=Counter({"outside the oracle's domain: p = 0": 2}))
    text = format_report(report)
    assert "2 skipped" in text and "skipped 2: outside the oracle's domain: p = 0" in text
    with pytest.raises(ValueError, match="no case can be generated"):
        from ppverify.conformance.driver import check

        check("torch.nn.functional:lp_pool1d", "lp", 1, kinds=("zeros",), params=(-1.0,))


@pytest.mark.parametrize("option, value", [("layouts", ["bogus"]), ("dtypes", ["float8"]),
                                           ("kinds", ["random", "weird"])])
def test_the_fixture_names_a_bogus_selection(assert_matches_oracle, option, value):
    import torch.nn.functional as F

    with pytest.raises(ValueError, match=f"{option} must be .*got '{value[-1]}'"):
        assert_matches_oracle(F.avg_pool2d, op="avg", dims=2, **{option: value})
