"""``--forward-only``: targets without a backward (inference engines, exported models) are
judged on their outputs alone, by ``check`` and by vectors scoring; a forward defect still
shows. The ONNX export of ``ppverify.ops.GeM`` run in onnxruntime is checked this way (a
float64 defect of the export was found so: every |x| > 3.4e38 gave NaN)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from ppverify.cli import main  # noqa: E402
from ppverify.conformance.driver import check  # noqa: E402

O = "tests.conformance._onnx_impls"
GEM = dict(pooling="global", input_min=1e-6, isolate=False)


def test_a_target_without_backward_conforms_only_when_declared():
    report = check(f"{O}:gem_no_backward", "powermean", 2, **GEM)
    assert not report.conforms
    assert {g.signature.category for g in report.groups} == {"missing-gradient"}
    report = check(f"{O}:gem_no_backward", "powermean", 2, forward_only=True, **GEM)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    assert any("forward only" in n for n in report.notes)


def test_a_forward_defect_still_shows():
    report = check(f"{O}:gem_wrong_forward", "powermean", 2, forward_only=True,
                   shrink_failures=False, **GEM)
    assert not report.conforms
    assert report.groups[0].signature.category == "wrong-value"


@pytest.mark.parametrize("target, op, param", [("gem_onnxruntime", "powermean", 3.0),
                                               ("ppool_onnxruntime", "ppool", 2.0)])
def test_the_onnx_export_of_gem_in_onnxruntime_conforms_forward(target, op, param):
    pytest.importorskip("onnxruntime")  # in the test extras
    report = check(f"{O}:{target}", op, 2, pooling="global", params=(param,),
                   dtypes=("float16", "bfloat16", "float32", "float64"), batched_only=True,
                   forward_only=True, count=100)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    factors = report.coverage[2].to_dict()["factors"]
    assert {"huge", "wide", "subnormal"} <= set(factors["kind"])
    # bfloat16 reaches onnxruntime by pointer (numpy has none): its cases ran
    assert "bfloat16" in factors["dtype"]


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_forward_only_vectors_and_scoring(tmp_path, suffix, capsys):
    from ppverify.conformance.vectors import (
        load_results,
        load_vectors,
        results_from_target,
        score,
        write_results,
    )

    path = tmp_path / f"v{suffix}"
    assert main(["vectors", "--op", "powermean", "--pooling", "global", "--dim", "2",
                 "--count", "20", "--forward-only", "--out", str(path)]) == 0
    vectors = load_vectors(path)
    valid = [c for c in vectors["cases"] if c["expected"] is not None]
    assert valid and all(c["expected"]["grad_input"] is None
                         and c["expected"]["grad_param"] is None for c in valid)
    for target, conforms in ((f"{O}:power_mean_no_backward", True),
                             (f"{O}:power_mean_wrong_forward", False)):
        results = results_from_target(vectors, target)
        assert all(r["grad_input"] is None for r in results)
        write_results(results, tmp_path / f"r{suffix}")
        s = score(vectors, load_results(tmp_path / f"r{suffix}", vectors))
        assert s.conforms == conforms, [g.signature.title() for g in s.groups][:3]
        if not conforms:
            assert s.groups[0].signature.category == "wrong-value"


def test_full_vectors_scored_forward_only(tmp_path, capsys):
    from ppverify.conformance.vectors import (
        build_vectors,
        load_results,
        results_from_target,
        score,
        write_results,
        write_vectors,
    )

    vectors = build_vectors("ppool", dims=(1,), count=15, seed=2)
    write_vectors(vectors, tmp_path / "v.json")
    results = results_from_target(vectors, "ppverify.ops:p_pool1d")
    for r in results:  # an inference engine: outputs only
        r["grad_input"] = r["grad_param"] = None
    write_results(results, tmp_path / "r.json")
    got = load_results(tmp_path / "r.json", vectors)
    assert not score(vectors, got).conforms  # gradients asked for and missing
    assert score(vectors, got, forward_only=True).conforms
    assert main(["check", "--vectors", str(tmp_path / "v.json"), "--results",
                 str(tmp_path / "r.json"), "--forward-only", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["conforms"]


def test_the_onnx_export_of_windowed_p_pooling_conforms_forward():
    # one export per case (static shapes): a few cases here; 80 in float16/32/64 conformed
    # when measured (README, compatibility table)
    pytest.importorskip("onnxruntime")
    report = check(f"{O}:p_pool2d_onnxruntime", "ppool", 2, params=(2.0,),
                   dtypes=("float32", "float64"), forward_only=True, count=8, seed=3,
                   include_errors=False, timeout=120)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    assert report.cases_run == 8


def test_the_onnx_export_of_adaptive_p_pooling_conforms_forward():
    # a general adaptive layout (until 2026-12-05 it could not be exported); one export per
    # output size and dtype, dynamic N, C, H, W: a few cases here, 100 conformed when measured
    pytest.importorskip("onnxruntime")
    report = check(f"{O}:adaptive_p_pool2d_onnxruntime", "ppool", 2, pooling="adaptive",
                   params=(2.0,), dtypes=("float32", "float64"), batched_only=True,
                   forward_only=True, count=8, seed=5, include_errors=False, timeout=120)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    assert report.cases_run == 8


@pytest.mark.parametrize("target, op, param", [("gem_decomposed", "powermean", 3.0),
                                               ("ppool_decomposed", "ppool", 2.0)])
def test_the_lowered_exported_program_conforms_forward(target, op, param):
    # torch.export + ppverify.ops.decompositions: standard aten ops, every dtype
    report = check(f"{O}:{target}", op, 2, pooling="global", params=(param,),
                   batched_only=True, forward_only=True, count=100)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]
    assert set(report.coverage[2].to_dict()["factors"]["dtype"]) == {
        "float64", "float32", "float16", "bfloat16"}


def test_the_pytest_fixture_takes_the_new_declarations():
    from ppverify.conformance.pytest_plugin import assert_matches_oracle

    report = assert_matches_oracle(f"{O}:gem_no_backward", "powermean", pooling="global",
                                   input_min=1e-6, forward_only=True, count=20)
    assert report.conforms and any("forward only" in n for n in report.notes)
    report = assert_matches_oracle("tests.conformance._channel_impls:GeMmp", "powermean",
                                   pooling="global", input_min=1e-6, per_channel=True,
                                   count=20)
    assert any("one exponent per channel" in n for n in report.notes)
    with pytest.raises(AssertionError, match="does not match the oracle"):
        assert_matches_oracle("tests.conformance._channel_impls:GeMmpFirstExponent",
                              "powermean", pooling="global", input_min=1e-6,
                              per_channel=True, count=40, shrink_failures=False)
