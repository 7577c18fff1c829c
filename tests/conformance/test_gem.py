"""GeM / power-mean / Lp layers in every target form, each checked by one `ppverify check`
command with no wrapper code (tests/conformance/_gem_impls.py): the correct ones conform, each
broken one is reported in a group of its own, first, with a minimal case that fails the same
way (and a reproducer that runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")

from ppverify.cli import main  # noqa: E402
from ppverify.conformance.cases import Case  # noqa: E402
from ppverify.conformance.diagnosis import primary, signature_of  # noqa: E402
from ppverify.conformance.driver import evaluate  # noqa: E402
from ppverify.conformance.targets import resolve  # noqa: E402
from ppverify.conformance.tolerances import Tolerances  # noqa: E402

G = "tests.conformance._gem_impls"
GLOBAL = ["--op", "powermean", "--pooling", "global"]

CORRECT = {
    "global GeM function": [f"{G}:gem", *GLOBAL, "--input-min", "1e-6"],
    "GeM module, learnable p": [f"{G}:GeM(p=3)", *GLOBAL, "--input-min", "1e-6"],
    "GeM module, fixed p": [f"{G}:GeMFixed(p=3)", *GLOBAL, "--input-min", "1e-6"],
    "GeM module, p = softplus(raw) + 1": [f"{G}:GeMSoftplus", *GLOBAL, "--input-min", "1e-6",
                                          "--param-attr", "raw_p",
                                          "--param-map", "softplus(v) + 1"],
    "adaptive power mean function": [f"{G}:power_mean_adaptive", "--op", "powermean",
                                     "--pooling", "adaptive"],
    "windowed Lp module": [f"{G}:LpPool", "--op", "lp"],
    "GeM neck, batched (N, C, H, W) -> (N, C), p >= 1": [
        f"{G}:GeMHead", *GLOBAL, "--input-min", "1e-6", "--param-min", "1", "--batched-only",
        "--flat-output"],
}


def _run(argv, capsys):
    code = main(["check", *argv, "--json", "--shrink-seconds", "4"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_layer_conforms(name, capsys):
    code, report = _run(CORRECT[name], capsys)
    assert code == 0 and report["conforms"], [g["title"] for g in report["groups"]][:5]
    assert report["cases_run"] >= 95 and report["error_cases_run"] >= 2
    coverage = report["coverage"]["2"]
    assert coverage["pairs_covered"] == coverage["pairs_required"]
    notes = " ".join(report["notes"])
    if "--input-min" in CORRECT[name]:
        assert "clamps its input below 1e-06" in notes
    if "fixed" in name or "Lp" in name:
        assert "parameter gradient not checked: the parameter is fixed" in notes
    if "softplus" in name:
        assert "p = softplus(v) + 1" in notes
    if "--batched-only" in CORRECT[name]:
        assert "takes only batched input" in notes and "judged as (N, C, 1, ...)" in notes
        assert coverage["factors"]["batched"] == ["batched"], coverage["factors"]


BROKEN = {
    # name: (command, (category, quantity, symptom, kind, param))
    "float16 overflow of x^p on ordinary values": (
        [f"{G}:gem_naive", *GLOBAL, "--input-min", "1e-6"],
        ("nonfinite", "output", "inf", "float16", "activations", "ordinary")),
    "parameter used through the wrong transform": (
        [f"{G}:GeMExp", *GLOBAL, "--input-min", "1e-6", "--param-attr", "raw_p",
         "--param-map", "softplus(v) + 1"],
        ("wrong-value", "output", "finite", None, None, "ordinary")),
    "output clamped to a range": (
        [f"{G}:gem_clamped", *GLOBAL, "--input-min", "1e-6"],
        ("wrong-value", "output", "finite", None, "activations", "ordinary")),
    "0/0 at an all-zero window": (
        [f"{G}:lehmer_global", "--op", "ppool", "--pooling", "global"],
        ("nonfinite", "output", "nan", None, "zeros", "ordinary")),
    "NaN parameter gradient on dead channels": (
        [f"{G}:GeMDeadChannel", *GLOBAL],
        ("nonfinite", "grad_param", "nan", None, "zeros", "ordinary")),
    "float16 overflow of x^p in a neck that flattens (the declarations hide no defect)": (
        [f"{G}:GeMHeadNaive", *GLOBAL, "--input-min", "1e-6", "--param-min", "1",
         "--batched-only", "--flat-output"],
        ("nonfinite", "output", "inf", "float16", "activations", "ordinary")),
}


def _target(argv):
    spec, args = argv[0], [a for a in argv[1:] if a not in ("--batched-only", "--flat-output")]
    opts = dict(zip(args[::2], args[1::2]))
    target = resolve(spec, opts["--op"], 2, pooling=opts.get("--pooling", "windowed"),
                     param_attr=opts.get("--param-attr"), param_map=opts.get("--param-map"))
    return replace(target, batched_only="--batched-only" in argv,
                   flat_output="--flat-output" in argv)


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_layer_is_reported_first_in_its_own_group(name, capsys):
    argv, (category, quantity, symptom, dtype, kind, param) = BROKEN[name]
    code, report = _run(argv, capsys)
    assert code == 1 and report["convention"] is None
    first = report["groups"][0]
    sig = first["signature"]
    assert (sig["category"], sig["quantity"], sig["symptom"]) == (category, quantity, symptom)
    assert sig["param"] == param
    assert dtype is None or sig["dtype"] == dtype
    assert kind is None or sig["kind"] == kind
    # the minimal case fails in the same group
    case = Case.from_dict(first["minimal_case"])
    target = _target(argv)
    from ppverify.conformance.runner import prepare_case

    case = prepare_case(target, case) if case.param_raw is None and target.param_map else case
    result = evaluate(target, case, Tolerances())
    lead = primary(result.findings)
    assert lead is not None
    assert signature_of(case, lead, result.output_shape).to_dict() == sig
    assert case.input.size <= 8 or not first["shrunk"]


def test_convention_mix_up_is_said_once(capsys):
    # gem(x, p, eps) given the windowed convention receives the kernel size as eps
    code, report = _run([f"{G}:gem_positional", "--op", "powermean"], capsys)
    assert code == 1 and report["groups"] == []
    conv = report["convention"]
    assert conv["cases"] >= 0.8 * conv["total"]
    assert conv["signature"] == "gem_positional(x, p, eps=1e-06)"
    assert conv["call"] == "gem_positional(input, <param>, <kernel_size>)"
    assert "--pooling global" in conv["hint"]
    assert report["error_cases_passed"] == 0 and report["cases_passed"] == 0
    main(["check", f"{G}:gem_positional", "--op", "powermean"])
    text = capsys.readouterr().out
    assert "DOES NOT CONFORM: calling convention" in text and "== group" not in text


HEAD = [f"{G}:GeMHead", *GLOBAL, "--input-min", "1e-6"]


def test_a_neck_undeclared_is_led_to_each_declaration(capsys):
    # (N, C) outputs, unbatched inputs refused, p < 1 refused: each shows as a hint naming
    # the declaration, one run after another, and nothing is judged as passing meanwhile
    code, report = _run(HEAD, capsys)
    conv = report["convention"]
    assert code == 1 and conv is not None and report["cases_passed"] == 0
    assert "spatial axes dropped" in conv["what"]
    assert "declare --flat-output" in conv["hint"] and "--param-min 1" in conv["hint"]
    code, report = _run([*HEAD, "--flat-output", "--param-min", "1"], capsys)
    notes = " ".join(report["notes"])
    assert code == 1 and report["convention"] is None
    assert "unbatched (C, *spatial) inputs failed" in notes and "--batched-only" in notes
    assert {g["signature"]["category"] for g in report["groups"]} == {"exception"}
    code, report = _run([*HEAD, "--flat-output", "--batched-only"], capsys)
    notes = " ".join(report["notes"])
    assert code == 1 and "declare them (--param-min 1" in notes, notes
    assert "with a parameter <= 0.5 raised AssertionError" in notes


def test_flat_output_is_judged_in_its_order_and_only_for_global_pooling(capsys):
    code, report = _run([f"{G}:GeMHeadTransposed", *GLOBAL, "--input-min", "1e-6",
                         "--param-min", "1", "--batched-only", "--flat-output"], capsys)
    assert code == 1 and report["cases_passed"] < report["cases_run"]
    categories = {g["signature"]["category"] for g in report["groups"]}
    # (C, N) is another shape unless N == C, where the values land in the wrong places
    assert report["convention"] is None and "wrong-shape" in categories
    assert categories & {"wrong-value", "wrong-gradient"}, categories
    assert main(["check", f"{G}:LpPool", "--op", "lp", "--flat-output"]) == 2
    assert "--flat-output) is for global pooling" in capsys.readouterr().err


def test_reproducer_of_a_module_runs(capsys):
    code, report = _run([f"{G}:GeMDeadChannel", *GLOBAL], capsys)
    source = report["groups"][0]["reproducer"]
    assert "module = Target(" in source and "module.p.fill_(" in source
    proc = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "grad param  tensor([nan]" in proc.stdout


@pytest.mark.parametrize("argv, message", [
    ([f"{G}:LpPool", "--op", "lp", "--pooling", "global"], "is it windowed pooling"),
    ([f"{G}:gem", "--op", "powermean", "--pooling", "global", "--param-attr", "p"],
     "--param-attr and --param-map are for nn.Module targets"),
    ([f"{G}:GeM", "--op", "powermean", "--pooling", "global", "--param-attr", "q"],
     "has no attribute 'q'"),
    ([f"{G}:GeM(3)", "--op", "powermean", "--pooling", "global"], "by name"),
    ([f"{G}:GeM(p=3)", "--op", "powermean", "--pooling", "global", "--param-map", "v.exp()"],
     "attributes are not allowed"),
    ([f"{G}:_careful", "--op", "powermean"], "expected a function returning a tensor"),
    # a property is a new tensor at each read: before, every non-float64 case "missed" its
    # gradient (ppverify.ops:GeM's p, a float64 cast of raw_p, without --param-attr raw_p)
    ([f"{G}:GeMSoftplusProperty", *GLOBAL],
     "GeMSoftplusProperty.p is computed each time it is read"),
    (["ppverify.ops:GeM", *GLOBAL], "GeM's parameters: raw_p"),
    (["torch.nn.functional:F", "--op", "max"], "has no attribute"),
])
def test_anything_else_gets_one_clear_message(argv, message, capsys):
    assert main(["check", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_torch_softplus_backward_overflows_for_a_large_incoming_gradient():
    # why _gem_impls.GeMSoftplus writes softplus as log1p(exp(-|v|)) + relu(v): torch's
    # F.softplus backward forms grad * exp(v) before dividing by 1 + exp(v), so dy/dp = 1e307
    # (a float64 GeM on wide-range inputs) reaching p = softplus(v) + 1 at v = 2.95 gives inf
    v = torch.tensor(2.95, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch.nn.functional.softplus(v), [v],
                               torch.tensor(1e307, dtype=torch.float64))
    assert torch.isinf(g)
    from ._gem_impls import _softplus

    (g,) = torch.autograd.grad(_softplus(v), [v], torch.tensor(1e307, dtype=torch.float64))
    assert torch.isfinite(g) and abs(float(g) / 1e307 - float(torch.sigmoid(v))) < 1e-15
