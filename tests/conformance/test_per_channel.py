"""``ppverify check --per-channel``: layers whose exponent has one value per channel (GeMmp,
``PPool2d(num_channels=C)``). The correct ones written for the tests
(``tests/conformance/_channel_impls.py``) conform; a layer that uses one channel's exponent
everywhere, or routes every channel's dy/dp to one exponent, is caught with the declaration and
passes without it (one exponent for all channels cannot show either defect); a module whose
attribute cannot hold C values gets one message that names the fix."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ppverify.cli import main  # noqa: E402
from ppverify.conformance.cases import Case  # noqa: E402
from ppverify.conformance.driver import check  # noqa: E402
from ppverify.conformance.generate import generate_cases, make_plan  # noqa: E402
from ppverify.conformance.runner import Outcome, store_channel_params  # noqa: E402
from ppverify.conformance.wire import outcome_from_message, outcome_message  # noqa: E402

M = "tests.conformance._channel_impls"
GEM = ["--op", "powermean", "--pooling", "global", "--input-min", "1e-6"]


def _run(argv, capsys):
    code = main(["check", *argv, "--json", "--shrink-seconds", "4"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("argv", [
    [f"{M}:gem_per_channel", "--op", "powermean", "--pooling", "global"],
    [f"{M}:GeMmp", *GEM],  # p of shape (1,) widened to (C,)
    [f"{M}:LehmerChannels", "--op", "ppool", "--pooling", "global"],  # (1, C, 1, 1), ctor C
], ids=["function", "GeMmp", "constructor channel count"])
def test_correct_per_channel_layers_conform(argv, capsys):
    code, report = _run([*argv, "--per-channel"], capsys)
    assert code == 0 and report["conforms"], [g["title"] for g in report["groups"]][:5]
    assert report["cases_run"] == 100
    assert "one exponent per channel" in " ".join(report["notes"])


@pytest.mark.parametrize("name, quantity", [
    ("GeMmpFirstExponent", "output"), ("GeMmpGradientToFirst", "grad_param")])
def test_a_per_channel_defect_shows_only_with_the_declaration(name, quantity, capsys):
    code, report = _run([f"{M}:{name}", *GEM], capsys)
    assert code == 0 and report["conforms"]  # one exponent for every channel: no defect seen
    code, report = _run([f"{M}:{name}", *GEM, "--per-channel"], capsys)
    assert code == 1
    first = report["groups"][0]
    assert first["signature"]["quantity"] == quantity
    assert first["signature"]["category"] == ("wrong-value" if quantity == "output"
                                              else "wrong-gradient")
    minimal = Case.from_dict(first["minimal_case"])
    params = minimal.channel_params
    assert params is not None and len(params) == minimal.input.shape[1] == 2  # one dropped
    assert len(set(params)) >= 2  # the defect needs two channels with different exponents
    if quantity == "grad_param":  # judged per channel: the sum over channels is right
        assert "grad_param[" in first["minimal_finding"]["message"]


def test_shrinking_keeps_each_channel_with_its_exponent(capsys):
    # a one-channel variant carries that channel's exponent (and the defect then vanishes)
    code, report = _run([f"{M}:GeMmpFirstExponent", *GEM, "--per-channel"], capsys)
    for group in report["groups"]:
        case = Case.from_dict(group["minimal_case"])
        assert len(case.channel_params) == case.input.shape[case.input.ndim - 3]
        assert case.param == case.channel_params[0]


def test_reproducer_of_a_per_channel_module_runs(capsys):
    code, report = _run([f"{M}:GeMmpGradientToFirst", *GEM, "--per-channel"], capsys)
    source = report["groups"][0]["reproducer"]
    assert "store_channel_params(module, 'p', [" in source
    proc = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = proc.stdout.split("grad param ")[1].split("expected")
    assert "tensor([" in got[0]  # per channel, beside the oracle's per-channel values
    assert got[1].strip().startswith("[")


def test_an_attribute_that_cannot_hold_the_channels_is_named(capsys):
    code, report = _run([f"{M}:GeMGrid", *GEM, "--per-channel"], capsys)
    conv = report["convention"]
    assert code == 1 and conv is not None
    assert "attribute 'p' of shape (2, 3) cannot hold one exponent per channel" in conv["what"]
    assert "num_channels" in conv["what"]


def test_ppverify_layers_conform_per_channel():
    for target, op, pooling, attr in [
            ("ppverify.ops:p_pool{d}d", "ppool", "windowed", None),
            ("ppverify.ops:PPool2d", "ppool", "windowed", "raw_alpha"),
            ("ppverify.ops:GeM", "powermean", "global", "raw_p"),
            ("ppverify.ops:adaptive_gem_pool2d", "powermean", "adaptive", None),
            ("ppverify.ops:lp_pool2d", "lp", "windowed", None)]:
        dims = (1, 2, 3) if "{d}" in target else 2
        report = check(target, op, dims, pooling=pooling, param_attr=attr, per_channel=True,
                       count=60, isolate=False)
        assert report.conforms, (target, [g.signature.title() for g in report.groups][:3])
        assert report.param_modes["tensor"] == report.cases_run


def test_cases_draw_one_exponent_per_channel_from_the_row_class():
    plan = make_plan("powermean", "windowed", frozenset(), per_channel=True)
    cases = generate_cases("powermean", 2, frozenset(), count=80, seed=3, plan=plan)
    multi = [c for c in cases if c.input.shape[c.input.ndim - 3] > 1]
    assert multi and all(len(c.channel_params) == c.input.shape[c.input.ndim - 3]
                         for c in cases)
    assert any(len(set(c.channel_params)) > 1 for c in multi)
    for c in cases:
        assert c.param == c.channel_params[0]
        assert {Case(c.op, 2, c.dtype, c.input, p).param_class
                for p in c.channel_params} == {c.param_class}
        if c.kind == "zeros" or (c.input == 0).any():  # zeros: no negative exponent
            assert min(c.channel_params) > 0
    # without the declaration the cases (and the generator's stream) are as before
    plain = generate_cases("powermean", 2, frozenset(), count=80, seed=3)
    assert all(c.channel_params is None for c in plain)
    with pytest.raises(ValueError, match="takes no parameter"):
        make_plan("max", "windowed", frozenset(), per_channel=True)


def test_store_channel_params_fills_or_widens():
    class M(torch.nn.Module):
        def __init__(self, shape, learnable=True):
            super().__init__()
            if learnable:
                self.p = torch.nn.Parameter(torch.ones(shape))
            else:
                self.register_buffer("p", torch.ones(shape))

    m = M((1, 3, 1, 1))
    stored = store_channel_params(m, "p", [1.0, 2.0, 3.0])
    assert stored is m.p and m.p.shape == (1, 3, 1, 1)
    assert m.p.flatten().tolist() == [1.0, 2.0, 3.0]
    m = M((1,))
    store_channel_params(m, "p", [4.0, 5.0])
    assert isinstance(m.p, torch.nn.Parameter) and m.p.tolist() == [4.0, 5.0]
    m = M((1, 7, 1, 1), learnable=False)
    store_channel_params(m, "p", [4.0, 5.0])
    assert m.p.shape == (1, 2, 1, 1) and "p" in dict(m.named_buffers())
    with pytest.raises(TypeError, match="cannot hold one exponent per channel"):
        store_channel_params(M((2, 3)), "p", [1.0, 2.0])


def test_per_channel_gradients_cross_the_worker_boundary():
    case = Case("powermean", 1, "float32", np.ones((1, 2, 3)), 2.0, (2,),
                channel_params=(2.0, 3.0))
    out = Outcome(grad_param=np.array([0.5, -0.25]), param_mode="tensor",
                  case_channel_params=(2.0, 3.0), case_channel_params_raw=(1.5, 2.5))
    back = outcome_from_message(outcome_message(out), case)
    assert back.grad_param.tolist() == [0.5, -0.25]
    assert back.case_channel_params == (2.0, 3.0) and back.case_channel_params_raw == (1.5, 2.5)
    one = Case("powermean", 1, "float32", np.ones((1, 2, 3)), 2.0, (2,))
    from ppverify.conformance.wire import ProtocolError

    with pytest.raises(ProtocolError, match="per channel"):
        outcome_from_message(outcome_message(out), one)


def test_flag_help_and_refusals(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "--per-channel" in capsys.readouterr().out
    assert main(["check", "torch.nn.functional:max_pool2d", "--op", "max",
                 "--per-channel"]) == 2
    assert "takes no parameter" in capsys.readouterr().err


def test_constrained_layers_with_a_float64_map():
    """ppverify's constrained layers compute softplus in float64: declared so, they conform
    (per channel too); declared in the case's dtype, an exponent of 1 in float32 is
    0.99999997 in the layer and the report shows it (a zero's derivative differs)."""
    spec = "ppverify.ops:PPool2d(constraint='softplus')"
    for per_channel in (False, True):
        report = check(spec, "ppool", 2, param_attr="raw_alpha",
                       param_map="softplus(float64(v))", per_channel=per_channel,
                       isolate=False)
        assert report.conforms, [g.signature.title() for g in report.groups][:3]
    report = check(spec, "ppool", 2, param_attr="raw_alpha", param_map="softplus(v)",
                   isolate=False, shrink_failures=False)
    assert not report.conforms
    assert {g.signature.kind for g in report.groups} == {"zeros"}
    report = check("ppverify.ops:GeM(constraint='softplus+1')", "powermean", 2,
                   pooling="global", param_attr="raw_p", param_map="1 + softplus(float64(v))",
                   per_channel=True, isolate=False)
    assert report.conforms, [g.signature.title() for g in report.groups][:3]


# ------------------------------------------------------------------ vectors, per channel


@pytest.fixture(scope="module")
def channel_vectors(tmp_path_factory):
    from ppverify.conformance.vectors import build_vectors

    return build_vectors("powermean", dims=(2,), count=40, seed=5, pooling="global",
                         per_channel=True)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("target, conforms", [
    (f"{M}:gem_per_channel", True), (f"{M}:GeMmpFirstExponent(eps=0.0)", False),
    (f"{M}:GeMmpGradientToFirst(eps=0.0)", False)])  # (vectors declare no clamp)
def test_per_channel_vectors_score_as_check_judges(channel_vectors, tmp_path, suffix, target,
                                                   conforms):
    from ppverify.conformance.vectors import (
        load_results,
        load_vectors,
        results_from_target,
        score,
        write_results,
        write_vectors,
    )

    valid = [c for c in channel_vectors["cases"] if c["expected"] is not None]
    assert all(len(c["channel_params"]) == c["input_shape"][-3] for c in valid)
    assert all(isinstance(c["expected"]["grad_param"], list) for c in valid)
    assert "shape (C,)" in channel_vectors["calling_convention"]
    path = tmp_path / f"v{suffix}"
    write_vectors(channel_vectors, path)
    vectors = load_vectors(path)
    results = results_from_target(vectors, target)
    write_results(results, tmp_path / f"r{suffix}")
    s = score(vectors, load_results(tmp_path / f"r{suffix}", vectors))
    assert s.conforms == conforms, [g.signature.title() for g in s.groups][:3]
    if not conforms:
        quantity = "output" if "First" in target and "Gradient" not in target else "grad_param"
        assert s.groups[0].signature.quantity == quantity


def _first_valid(doc):
    import copy

    doc = copy.deepcopy(doc)
    record = next(c for c in doc["cases"] if c["expected"] is not None
                  and len(c["channel_params"]) > 1)
    return doc, record


@pytest.mark.parametrize("tamper, field, message", [
    (lambda r: r["channel_params"].pop(), "channel_params", "exponents for"),
    (lambda r: r["channel_params"].__setitem__(0, 0.123456789), "channel_params",
     "must equal param"),
    (lambda r: r["channel_params"].__setitem__(1, 0.1), "channel_params[1]",
     "exactly representable"),
    (lambda r: r["expected"].__setitem__("grad_param", 1.0), "expected.grad_param",
     "one value per channel"),
    (lambda r: (r.pop("channel_params"), r.__setitem__("param", r["param"])),
     "expected.grad_param", "a list is for cases with channel_params"),
])
def test_per_channel_vector_files_are_checked(channel_vectors, tmp_path, tamper, field,
                                              message):
    from ppverify.conformance.vectorfiles import VectorsFileError
    from ppverify.conformance.vectors import load_vectors

    doc, record = _first_valid(channel_vectors)
    if record["dtype"] == "float64" and field == "channel_params[1]":
        record["dtype"] = "float32"  # 0.1 is exact in float64
        record["expected"] = record["expected"]
    tamper(record)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(VectorsFileError) as err:
        load_vectors(path)
    assert err.value.case == record["id"] and err.value.field == field, str(err.value)
    assert message in str(err.value)


def test_vectors_cli_writes_per_channel_cases(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert main(["vectors", "--op", "ppool", "--dim", "1", "--count", "12", "--per-channel",
                 "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    valid = [c for c in doc["cases"] if c["expected"] is not None]
    assert valid and all("channel_params" in c for c in valid)
    assert not any("channel_params" in c for c in doc["cases"] if c["expect_error"])
    assert main(["vectors", "--op", "max", "--dim", "1", "--per-channel",
                 "--out", str(out)]) == 2
    assert "takes no parameter" in capsys.readouterr().err


def test_a_module_that_looks_per_channel_gets_a_hint():
    hint = "declare --per-channel"
    for spec, op, pooling, attr, why in [
            ("ppverify.ops:PPool2d", "ppool", "windowed", "raw_alpha",
             "constructor takes num_channels"),
            (f"{M}:GeMmp(mp=2)", "powermean", "global", None, "attribute 'p' holds 2 values")]:
        report = check(spec, op, 2, pooling=pooling, param_attr=attr, count=8,
                       include_errors=False, isolate=False, shrink_failures=False)
        notes = [n for n in report.notes if hint in n]
        assert len(notes) == 1 and why in notes[0], report.notes
        report = check(spec, op, 2, pooling=pooling, param_attr=attr, count=8,
                       include_errors=False, isolate=False, per_channel=True,
                       shrink_failures=False)
        assert not any(hint in n for n in report.notes)
    report = check(f"{M}:gem_per_channel", "powermean", 2, pooling="global", count=8,
                   isolate=False)  # a function: nothing to say
    assert not any(hint in n for n in report.notes)
