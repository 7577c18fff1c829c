"""The README's examples hold: every ``ppverify`` command line it shows parses with the options
the command has today, and every Python block runs.

A command line is parsed, not run (its targets, such as ``mypkg.layers:GeM``, are the reader's
code); the parse is what goes stale when an option is renamed. A Python block runs in a fresh
namespace in a temporary directory, after a prelude that defines only the names the README
leaves to the reader (``candidate``, ``x``, ``model``).
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from pathlib import Path

import pytest

from ppverify.cli import SUBCOMMANDS, numbers_may_be_negative

README = Path(__file__).resolve().parents[1] / "README.md"
#: indented lines that show ppverify's output, not a command
OUTPUT = re.compile(r"ppverify check: error|ppverify called it as")


def command_lines(text: str) -> list[str]:
    """Indented code lines that run ``ppverify`` (continuations joined, comments dropped)."""
    lines, pending = [], ""
    for raw in text.splitlines():
        if not raw.startswith("    ") and not pending:
            continue
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        for part in re.split(r"&&", line):
            if not re.match(r"\s*(\S*/)?ppverify\s", part) or re.search(OUTPUT, part):
                continue
            words = shlex.split(part, comments=True)
            if words and Path(words[0]).name == "ppverify" and not words[0].endswith(":"):
                lines.append(shlex.join(words))
    return lines


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_readme_shows_commands_and_blocks():
    text = README.read_text()
    assert len(command_lines(text)) >= 25  # the extractor finds them (a broken regex finds none)
    assert len(python_blocks(text)) == len(PRELUDES)


def _parser(command: str) -> argparse.ArgumentParser:
    module = importlib.import_module(SUBCOMMANDS[command][0])
    p = argparse.ArgumentParser(prog=f"ppverify {command}", exit_on_error=False)
    module.add_arguments(p)
    numbers_may_be_negative(p)
    return p


@pytest.mark.parametrize("line", command_lines(README.read_text()))
def test_readme_command_parses(line):
    words = shlex.split(line)[1:]
    if not words:
        return
    assert words[0] in SUBCOMMANDS, f"README runs an unknown subcommand: {line}"
    if words[0] == "bench":
        pytest.importorskip("torch")
    parser = _parser(words[0])
    # exit_on_error=False turns a bad option or value into an exception instead of SystemExit
    parser.parse_args(words[1:])


def test_an_unknown_option_is_caught():
    # the test above can fail: a renamed option does not parse
    with pytest.raises((argparse.ArgumentError, SystemExit)):
        _parser("check").parse_args(["mod:f", "--op", "ppool", "--no-such-option"])


PRELUDES = {
    # names the README leaves to the reader, per block
    0: "import numpy as np\ncandidate = np.zeros((1, 3, 4, 4), np.float32)\n",
    1: "import torch\nx = torch.rand(2, 64, 9, 9)\n",
    2: "",  # the validation rule's example is whole
    3: ("import torch\nfrom ppverify.ops import PPool2d\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), PPool2d(2, alpha=1.0))\n"
        "x = torch.rand(1, 3, 10, 10)\n"),
}


@pytest.mark.parametrize("index", sorted(PRELUDES))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    if index:
        pytest.importorskip("torch")
    if index == 3:
        pytest.importorskip("onnxscript")
    block = python_blocks(README.read_text())[index]
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(PRELUDES[index] + block, f"README.md python block {index}", "exec"), namespace)
    if index == 3:
        assert (tmp_path / "model.pt2").stat().st_size > 0
