"""The README's set-up commands: CI must run exactly the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _indented_commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.startswith("    python -m venv")]


def test_ci_runs_the_readme_test_command_verbatim():
    commands = _indented_commands((ROOT / "README.md").read_text())
    assert len(commands) == 2, commands  # main job, test suite
    test_command = next(c for c in commands if "pytest" in c)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines


def test_install_pins_the_cpu_torch_wheel_and_main_job_needs_no_torch():
    main_job, test_command = _indented_commands((ROOT / "README.md").read_text())
    assert "torch" not in main_job
    assert "torch==2.13.0" in test_command
