"""The ``ppverify`` command line: --help, --version and the ``eval`` subcommand."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ppverify import __version__
from ppverify.cli import SUBCOMMANDS, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppverify.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_help_lists_every_subcommand_in_a_fresh_process():
    r = run_cli("--help")
    assert r.returncode == 0
    assert "usage: ppverify" in r.stdout
    for name, (_, help_text) in SUBCOMMANDS.items():
        assert name in r.stdout
        assert help_text.split()[0] in r.stdout
    assert "eval" in SUBCOMMANDS


def test_help_imports_neither_torch_nor_sympy():
    code = ("import sys; from ppverify.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'sympy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "False False"


def test_python_dash_m_ppverify_is_the_ppverify_command():
    r = subprocess.run([sys.executable, "-m", "ppverify", "--version"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"ppverify {__version__}"
    bad = subprocess.run([sys.executable, "-m", "ppverify", "no-such-command"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "no-such-command" in bad.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"ppverify {__version__}"


def test_no_arguments_prints_help(capsys):
    assert main([]) == 0
    assert "COMMAND" in capsys.readouterr().out


def test_eval_prints_value_and_gradients(capsys):
    assert main(["eval", "--op", "ppool", "--param", "2", "1", "2", "3", "4"]) == 0
    out = capsys.readouterr().out
    # (1 + 8 + 27 + 64) / (1 + 4 + 9 + 16) = 100 / 30
    assert f"y            = {100 / 30!r}" in out
    assert "dy/dx[3]" in out and "dy/dalpha" in out


def test_eval_json_parses_and_is_correct(capsys):
    assert main(["eval", "--op", "ppool", "--param", "0.5", "--json", "0", "1", "4"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["op"] == "ppool" and record["param"] == 0.5 and record["dtype"] == "float64"
    assert record["inputs"] == [0.0, 1.0, 4.0]
    assert float(record["value"]) == 3.0  # (1 + 8) / (1 + 2), the zero drops out
    assert len(record["grad_input"]) == 3 and float(record["grad_input"][0]) == 0.0
    assert record["conventions"] == {"infinite derivative returned as 0": 1}
    assert record["grad_param"] is not None


def test_eval_dtype_and_digits(capsys):
    assert main(["eval", "--op", "avg", "--dtype", "float32", "--json", "1", "1.0000001"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["dtype"] == "float32" and record["grad_param"] is None
    assert main(["eval", "--op", "lp", "--param", "2", "--digits", "30", "--json", "1", "1"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["value"].startswith("1.41421356237309504880168872")


def test_eval_convention_notes_are_printed(capsys):
    assert main(["eval", "--op", "ppool", "--param", "0.5", "0", "1", "4"]) == 0
    assert "convention: infinite derivative returned as 0 (1 window)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--op", "ppool", "--param", "0.5", "1", "-2", "3"], "(batch 0, channel 0, (1,))"),
        (["--op", "ppool", "--param", "2", "1", "2", "nan"], "(batch 0, channel 0, (2,))"),
        (["--op", "lp", "--param", "2", "inf", "1"], "(batch 0, channel 0, (0,))"),
        (["--op", "ppool", "1", "2"], "--param"),
        (["--op", "avg", "--param", "2", "1", "2"], "takes no --param"),
        (["--op", "lp", "--param", "0", "1", "2"], "p = 0"),
    ],
)
def test_eval_bad_input_exits_2_naming_the_element(argv, needle, capsys):
    assert main(["eval", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ppverify eval: error:") and needle in err


def test_eval_bad_input_in_a_fresh_process():
    r = run_cli("eval", "--op", "powermean", "--param", "1.5", "2", "-3")
    assert r.returncode == 2
    assert "input element (batch 0, channel 0, (1,))" in r.stderr and "-3.0" in r.stderr
    r = run_cli("eval", "--op", "nope", "1")
    assert r.returncode == 2 and "--op" in r.stderr


def test_eval_docstring_examples_run(capsys):
    """Every example in ``ppverify eval --help`` works (alpha = 1e6 once raised
    CertificationError: dy/dalpha cancelled over ~1e8 bits)."""
    import ppverify.oracle.command as command

    examples = [line.strip() for line in command.__doc__.splitlines()
                if line.strip().startswith("ppverify eval")]
    assert len(examples) >= 3
    for line in examples:
        assert main(line.split()[1:]) == 0, line
    assert "dy/dalpha" in capsys.readouterr().out


def test_closed_stdout_gives_no_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "ppverify.cli", "eval", "--op", "avg",
                             "1", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader goes away before the output is written (like `| head`)
    err = proc.stderr.read().decode()
    status = proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    # a status of its own: 1 means "the verdict is negative" for check and prove
    assert status == 141


def _without_torch(args: list[str]):
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.modules['torch'] = None; from ppverify.cli import main; "
            f"sys.exit(main({args!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])


def test_bench_without_torch_says_what_to_install_instead_of_a_traceback():
    helped = _without_torch(["bench", "--help"])
    assert helped.returncode == 0, helped.stderr
    assert "needs torch" in helped.stdout and "pip install torch==2.13.0" in helped.stdout
    assert "Traceback" not in helped.stdout + helped.stderr
    ran = _without_torch(["bench"])
    assert ran.returncode == 2
    assert "needs torch" in ran.stderr and "Traceback" not in ran.stderr


def test_every_subcommand_help_works_without_torch():
    from ppverify.cli import SUBCOMMANDS

    for name in SUBCOMMANDS:
        proc = _without_torch([name, "--help"])
        assert proc.returncode == 0, (name, proc.stderr)
        assert "Traceback" not in proc.stderr, name


@pytest.mark.parametrize("args, value", [
    (["--op", "max", "1e308", "-1e308"], 1e308),           # an exponent: not an option
    (["--op", "min", "2", "-.5e-3"], -0.0005),
    (["--op", "ppool", "--param", "-1e1", "1", "2"], None),  # an option's negative value
])
def test_eval_reads_negative_numbers_with_exponents_as_values(capsys, args, value):
    assert main(["eval", *args, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    if value is not None:
        assert float(record["value"]) == value
    else:
        assert record["param"] == -10.0


def test_eval_still_refuses_unknown_options_and_non_finite_values(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--op", "max", "--bogus", "2"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["eval", "--op", "max", "-inf", "2"]) == 2
    assert "finite" in capsys.readouterr().err
