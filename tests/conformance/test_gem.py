"""GeM / power-mean / Lp layers in every target form, each checked by one `ppverify check`
command with no wrapper code (tests/conformance/_gem_impls.py): the correct ones conform, each
broken one is reported in a group of its own, first, with a minimal case that fails the same
way (and a reproducer that runs)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from ppverify.cli import main  # noqa: E402
from ppverify.conformance.cases import Case  # noqa: E402
from ppverify.conformance.check import evaluate  # noqa: E402
from ppverify.conformance.diagnosis import primary, signature_of  # noqa: E402
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
}


def _target(argv):
    spec, args = argv[0], argv[1:]
    opts = dict(zip(args[::2], args[1::2]))
    return resolve(spec, opts["--op"], 2, pooling=opts.get("--pooling", "windowed"),
                   param_attr=opts.get("--param-attr"), param_map=opts.get("--param-map"))


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
