"""`ppverify eval`: one window from the command line."""

from __future__ import annotations

import json

from ppverify.cli import main


def test_negative_input_with_integer_alpha_gives_value_and_input_gradient(capsys):
    assert main(["eval", "--op", "ppool", "--param", "2", "--json", "--", "-1", "2"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["value"] == "1.4"  # ((-1)^3 + 2^3) / ((-1)^2 + 2^2)
    assert record["grad_param"] is None
    assert main(["eval", "--op", "ppool", "--param", "2", "--", "-1", "2"]) == 0
    assert "dy/dalpha    : undefined" in capsys.readouterr().out


def test_negative_input_with_non_integer_alpha_is_an_error(capsys):
    assert main(["eval", "--op", "ppool", "--param", "2.5", "--", "-1", "2"]) == 2
    assert "is not an integer" in capsys.readouterr().err


def test_tie_conventions_of_max_and_min(capsys):
    assert main(["eval", "--op", "max", "--json", "3", "1", "3"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["grad_input"] == ["1.0", "0.0", "0.0"] and record["ties"] == "first"
    assert main(["eval", "--op", "max", "--ties", "split", "--json", "3", "1", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["grad_input"] == ["0.5", "0.0", "0.5"]
    assert main(["eval", "--op", "min", "--ties", "last", "--json", "1", "1", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["grad_input"] == ["0.0", "1.0", "0.0"]
    assert main(["eval", "--op", "avg", "--ties", "split", "3", "3"]) == 2
    assert "--ties is for max and min" in capsys.readouterr().err
