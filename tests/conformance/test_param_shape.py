"""``ppverify check --param-shape``: a function target given its parameter tensor in the shape
its code expects, ``(1, C, 1, 1)`` as GeM code that keeps ``p = torch.ones(1, C, 1, 1) * 3``
broadcasts it, instead of the default ``(C,)`` (per channel) or a 0-d tensor. The functions
are written for the tests (``tests/conformance/_channel_impls.py``, the careful power mean of
``_careful.py`` per channel): the correct one conforms with the declaration and cannot run
without it; one that pools every channel with the first exponent is caught."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from ppverify.cli import main  # noqa: E402
from ppverify.conformance.driver import check  # noqa: E402
from ppverify.conformance.targets import param_tensor_shape, parse_param_shape  # noqa: E402

M = "tests.conformance._channel_impls"
GLOBAL = ["--op", "powermean", "--pooling", "global"]


def _run(argv, capsys):
    code = main(["check", *argv, "--json", "--shrink-seconds", "4"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("shape", ["broadcast", "1,C,1,1", " 1, C, 1, 1 "])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "one exponent"])
def test_a_function_given_p_of_shape_1_c_1_1_conforms(shape, per_channel, capsys):
    flags = ["--per-channel"] if per_channel else []
    code, report = _run([f"{M}:gem_broadcast_p", *GLOBAL, *flags, "--param-shape", shape],
                        capsys)
    assert code == 0 and report["conforms"], [g["title"] for g in report["groups"]][:5]
    assert report["cases_run"] == 100


def test_without_the_declaration_the_function_cannot_run(capsys):
    code, report = _run([f"{M}:gem_broadcast_p", *GLOBAL, "--per-channel"], capsys)
    conv = report["convention"]
    assert code == 1 and conv is not None  # every case raised: a calling-convention failure
    assert "p has shape (2,), expected (1, 2, 1, 1)" in conv["what"]
    assert "--param-shape broadcast" in conv["hint"]


def test_the_first_channels_exponent_everywhere_is_caught(capsys):
    argv = [f"{M}:gem_broadcast_p_first", *GLOBAL, "--param-shape", "broadcast"]
    code, report = _run(argv, capsys)
    assert code == 0 and report["conforms"]  # one exponent for all channels: nothing to see
    code, report = _run([*argv, "--per-channel"], capsys)
    assert code == 1
    assert report["groups"][0]["signature"]["category"] == "wrong-value"
    source = report["groups"][0]["reproducer"]
    assert ".reshape(1, 2, 1, 1).clone().requires_grad_(True)" in source
    proc = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tensor([[[[" in proc.stdout.split("grad param ")[1]  # the (1, C, 1, 1) gradient


@pytest.mark.parametrize("text, message", [
    ("1,X,1", "token 'X'"), ("C,C", "C (the channel count) appears 2 times"),
    ("", "an empty shape"), ("2,C", "token '2'")])
def test_a_bad_shape_is_named(text, message, capsys):
    code = main(["check", f"{M}:gem_broadcast_p", *GLOBAL, "--param-shape", text])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "--param-shape" in err


def test_a_module_target_is_refused():
    with pytest.raises(ValueError, match="for function targets"):
        check(f"{M}:GeMmp", "powermean", 2, pooling="global", param_shape="1,C,1,1",
              count=5, isolate=False)


def test_shapes_resolve_per_case():
    assert param_tensor_shape(parse_param_shape("broadcast"), 3, 1) == (1, 3, 1)
    assert param_tensor_shape(parse_param_shape("broadcast"), 3, 3) == (1, 3, 1, 1, 1)
    assert param_tensor_shape(parse_param_shape("C,1"), 4, 2) == (4, 1)
    assert param_tensor_shape(parse_param_shape("1"), 4, 2) == (1,)
    assert param_tensor_shape(None, 4, 2) is None


def test_the_pytest_plugin_passes_the_shape_on():
    from ppverify.conformance.pytest_plugin import assert_matches_oracle

    report = assert_matches_oracle(f"{M}:gem_broadcast_p", "powermean", 2, count=20,
                                   pooling="global", per_channel=True, param_shape="broadcast")
    assert report.conforms and report.param_modes["tensor"] == report.cases_run
    with pytest.raises(AssertionError, match="does not match the oracle"):
        assert_matches_oracle(f"{M}:gem_broadcast_p", "powermean", 2, count=20,
                              pooling="global", per_channel=True)
