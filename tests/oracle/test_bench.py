"""`ppverify bench-oracle`: argument errors are usage errors, a tiny run prints its record."""

from __future__ import annotations

import json

import pytest

from ppverify.cli import main
from ppverify.oracle.bench import measure


@pytest.mark.parametrize("argv, message", [
    (["--windows", "0"], "windows must be a positive integer"),
    (["--repeat", "0"], "repeat must be a positive integer"),
    (["--jobs", "0"], "jobs must be a positive integer"),
    (["--alpha", "nan"], "alpha must be finite"),
])
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    assert main(["bench-oracle", "--windows", "8", *argv]) == 2
    assert message in capsys.readouterr().err


def test_measure_rejects_zero_windows():
    with pytest.raises(ValueError, match="windows must be a positive integer"):
        measure(0, 2.5, "float64", 1, 1)


def test_tiny_run_json(capsys):
    assert main(["bench-oracle", "--windows", "8", "--repeat", "1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["windows"] >= 8 and record["certified_windows_per_second"] > 0
