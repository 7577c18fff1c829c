"""Max/min targets that follow another tie convention than torch's max_pool are accepted as
valid subgradients under --ties any (the default) and counted in the report; --ties first
requires torch's; a target that gives the whole derivative to every tied element is caught
under every setting (tests/conformance/_tie_impls.py: implementations written for the tests)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from ppverify.cli import main  # noqa: E402

T = "tests.conformance._tie_impls"
ARGS = ["--pooling", "global", "--kinds", "ties", "integers", "random", "--count", "60",
        "--no-shrink"]


def _run(target, op, capsys, *extra):
    code = main(["check", f"{T}:{target}", "--op", op, *ARGS, *extra, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("target, op, convention", [
    ("max_first", "max", None), ("max_split", "max", "split"), ("max_last", "max", "last"),
    ("min_split", "min", "split")])
def test_every_tie_convention_is_a_valid_subgradient(target, op, convention, capsys):
    code, report = _run(target, op, capsys)
    assert code == 0 and report["conforms"], [g["title"] for g in report["groups"]]
    if convention is None:
        assert report["tie_conventions"] == {}
    else:
        n = report["tie_conventions"][convention]
        assert n >= 10  # ties kind: a repeated maximum in most planes
        assert f"ties: {n} case(s) passed" in " ".join(report["notes"])


@pytest.mark.parametrize("target, op", [("max_split", "max"), ("max_last", "max"),
                                        ("min_split", "min")])
def test_ties_first_requires_torchs_convention(target, op, capsys):
    code, report = _run(target, op, capsys, "--ties", "first")
    assert code == 1
    assert {g["signature"]["category"] for g in report["groups"]} == {"wrong-gradient"}


def test_a_declared_convention_is_the_only_one_accepted(capsys):
    code, report = _run("max_split", "max", capsys, "--ties", "split")
    assert code == 0 and report["tie_conventions"] == {}
    assert "the oracle followed it" in " ".join(report["notes"])
    code, report = _run("max_first", "max", capsys, "--ties", "split")
    assert code == 1 and report["groups"][0]["signature"]["category"] == "wrong-gradient"
    assert "ties='split'" in report["groups"][0]["reproducer"]


@pytest.mark.parametrize("ties", ["any", "first", "split", "last"])
def test_the_whole_derivative_to_every_tied_element_is_caught(ties, capsys):
    code, report = _run("max_every", "max", capsys, "--ties", ties)
    assert code == 1 and report["groups"][0]["signature"]["category"] == "wrong-gradient"
