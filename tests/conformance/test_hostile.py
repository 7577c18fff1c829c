"""Nothing a target does may turn a failure into a pass, kill the checker or hang it (issue 16).

The hostile targets are fixtures in ``tests/conformance/hostile/``: each is imported only by
the checker's worker process, never by this test process. Every one of them must end in a
named non-conformance (exit status 1 from the command line), within seconds, and leave no
process behind; and the checker's own process must come out untouched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ppverify.conformance.driver import check  # noqa: E402

HOSTILE = Path(__file__).with_name("hostile")
QUICK = dict(count=6, kinds=("random",), shrink_failures=False)


@pytest.fixture
def hostile_path(monkeypatch):
    """The fixtures directory on the import path the worker gets (this process never imports
    from it)."""
    monkeypatch.syspath_prepend(str(HOSTILE))
    before = set(sys.modules)
    yield
    leaked = {m for m in set(sys.modules) - before if m.split(".")[0] in _FIXTURES}
    assert not leaked, f"the test process imported hostile fixtures {leaked}"


_FIXTURES = {p.stem for p in HOSTILE.glob("*.py")}


def _cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ppverify.cli", "check", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=HOSTILE)
    proc.seconds = time.monotonic() - start
    return proc


def _gone(pid: int, within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------ from the command line


@pytest.mark.parametrize("module, reason", [
    ("exit_at_import", "the process exited with status 0 while importing the target"),
    ("segfault_at_import", "the process crashed (SIGSEGV) while importing the target"),
])
def test_a_target_that_dies_at_import_is_a_named_failure_exit_1(module, reason):
    proc = _cli(f"{module}:avg_pool2d", "--op", "avg", "--count", "4")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert f"FAILURE of the target: {reason}" in proc.stdout
    assert proc.stdout.rstrip().endswith(f"DOES NOT CONFORM: {reason}")


def test_processes_left_running_neither_pass_nor_hang_the_command():
    # the harness waits for the checker's stdout and stderr to close: a sleeping child of the
    # target must hold neither, and must not outlive the check
    proc = _cli("fork_and_sleep:sleepy_avg_pool2d", "--op", "avg", "--count", "4", "--kinds",
                "random", "--no-shrink", timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "FAILURE of the target: the target left" in proc.stdout and proc.seconds < 30


def test_a_target_that_hangs_is_stopped_and_the_command_exits_1():
    proc = _cli("sleep_in_call:avg_pool2d", "--op", "avg", "--count", "6", "--timeout", "0.5",
                "--no-shrink", "--json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert not report["conforms"]
    assert report["failures"] == ["stopped: 2 cases ran past the time limit of 0.5 s; the "
                                  "target was not run on the rest"]
    assert proc.seconds < 30


def test_target_output_goes_to_stderr_and_json_stays_clean():
    proc = _cli("noisy:avg_pool2d", "--op", "avg", "--count", "6", "--kinds", "random",
                "--json")
    report = json.loads(proc.stdout)  # the target printed JSON-looking lines on its stdout
    assert report["conforms"] and proc.returncode == 0, proc.stderr
    assert "hello from the target's import" in proc.stderr
    assert '{"conforms": true}' in proc.stderr and "more noise" in proc.stderr


# ------------------------------------------------------------------ through the Python API


def test_a_target_that_hangs_at_import_is_killed(hostile_path):
    start = time.monotonic()
    report = check("sleep_at_import:avg_pool2d", "avg", 2, timeout=0.4, **QUICK)
    assert not report.conforms and report.cases_run == 0
    assert report.failures == ["the target did not finish importing within 2 s (killed)"]
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("name", ["avg_pool2d", "sleepy_avg_pool2d"])
def test_processes_a_target_leaves_running_are_a_failure_and_are_killed(hostile_path, name):
    report = check(f"fork_and_sleep:{name}", "avg", 2, **QUICK)
    assert report.cases_passed == report.cases_run > 0  # its values are right...
    assert not report.conforms  # ...but it left processes behind
    assert report.failures and all("left" in f and "killed" in f for f in report.failures)
    pids = [int(p) for f in report.failures
            for p in re.search(r"\(pid ([\d, ]+)", f).group(1).split(", ")]
    assert pids and all(_gone(pid) for pid in pids)


def test_patching_the_checker_at_import_changes_nothing_here(hostile_path):
    import ppverify.conformance.driver as check_mod
    import ppverify.oracle as oracle_mod

    originals = (check_mod.judge, oracle_mod.reference, np.isfinite,
                 check_mod.CheckReport.conforms)
    report = check("patch_at_import:avg_pool2d", "avg", 2, **QUICK)
    assert (check_mod.judge, oracle_mod.reference, np.isfinite,
            check_mod.CheckReport.conforms) == originals
    assert not report.conforms
    assert report.cases_passed == 0 and report.cases_run > 0
    assert {"wrong-value", "accepted-invalid"} <= set(report.failed_categories)


def test_forged_messages_are_refused(hostile_path):
    report = check("forge_at_import:avg_pool2d", "avg", 2, **QUICK)
    assert not report.conforms and report.cases_passed == 0
    assert report.failures and "malformed" in report.failures[0]


@pytest.mark.parametrize("name, status", [("avg_pool2d", "exited with status 0"),
                                          ("avg_pool2d_os_exit", "exited with status 0")])
def test_an_exit_inside_a_call_fails_every_case_it_ends(hostile_path, name, status):
    report = check(f"exit_in_call:{name}", "avg", 2, **QUICK)
    assert not report.conforms and report.cases_passed == 0
    assert report.convention is None  # a dying process is not a calling convention
    messages = {g.worst.message for g in report.groups}
    assert messages and all(status in m for m in messages)
    # on an error input too: dying is not raising an error
    assert report.error_cases_run and report.error_cases_passed == 0


# ------------------------------------------------------------------ Python objects


_CONSTRUCTED_IN: list[int] = []
_MAPPED_IN: list[int] = []


class _RecordingGeM(torch.nn.Module):
    """A correct GeM that records which process constructs it and evaluates its map."""

    def __init__(self, p=3.0, eps=1e-6):
        super().__init__()
        _CONSTRUCTED_IN.append(os.getpid())
        self.raw = torch.nn.Parameter(torch.tensor(float(p)))
        self.eps = eps

    def forward(self, x):
        p = _record_map(self.raw)
        return x.clamp(min=self.eps).pow(p).mean(dim=(-2, -1), keepdim=True).pow(1.0 / p)


def _record_map(v):
    _MAPPED_IN.append(os.getpid())
    return v * 1.0


def test_an_object_target_is_constructed_and_mapped_only_in_the_worker():
    _CONSTRUCTED_IN.clear()
    _MAPPED_IN.clear()
    report = check(_RecordingGeM, "powermean", 2, pooling="global", input_min=1e-6,
                   param_attr="raw", param_map=_record_map, count=6,
                   kinds=("random",), dtypes=("float64",), shrink_failures=False)
    assert report.cases_run > 0 and report.cases_passed == report.cases_run, \
        [g.worst.message for g in report.groups]
    assert _CONSTRUCTED_IN == [] and _MAPPED_IN == []  # this process did neither


def test_an_object_target_that_exits_is_a_failure_not_a_pass():
    def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                   count_include_pad=True):
        os._exit(0)

    report = check(avg_pool1d, "avg", 1, **QUICK)
    assert not report.conforms and report.cases_passed == 0 and report.error_cases_passed == 0


# ------------------------------------------------------------------ the messages themselves


def _case():
    from ppverify.conformance.cases import Case

    case = Case("avg", 1, "float64", np.ones((1, 1, 4)), None, (2,))
    case.grad_output = np.ones(case.expected_shape())
    return case


@pytest.mark.parametrize("header, arrays, match", [
    ({"kind": "outcome", "output_shape": [1, 1, 2]}, {}, "must come together"),
    ({"kind": "outcome", "output_shape": [1, 1, 3]}, {"output": np.ones(2)}, "2 values"),
    ({"kind": "outcome"}, {"grad_input": np.ones(3)}, "grad_input"),
    ({"kind": "outcome", "param_mode": "pickle"}, {}, "param_mode"),
    ({"kind": "outcome", "grad_param": [1.0]}, {}, "grad_param"),
    ({"kind": "outcome", "input_grad_missing": "yes"}, {}, "input_grad_missing"),
    ({"kind": "outcome", "output_shape": [-1]}, {"output": np.ones(1)}, "output_shape"),
    ({"kind": "verdict", "conforms": True}, {}, "expected an outcome"),
    ({"kind": "outcome"}, {"verdict": np.ones(1)}, "unexpected arrays"),
])
def test_a_malformed_outcome_is_refused_by_name(header, arrays, match):
    from ppverify.conformance import wire

    with pytest.raises(wire.ProtocolError, match=match):
        wire.outcome_from_message(wire.pack(header, arrays), _case())


def test_outcomes_round_trip_exactly():
    from ppverify.conformance import wire
    from ppverify.conformance.runner import Outcome

    out = Outcome(output=np.array([[[1.5, float("nan")]]]), output_shape=(1, 1, 2),
                  output_dtype="float64", grad_input=np.array([[[0.5, -0.0, 2.0**-1074, 1e308]]]),
                  grad_param=float("-inf"), param_mode="tensor")
    back = wire.outcome_from_message(wire.outcome_message(out), _case())
    assert back.output_shape == (1, 1, 2) and back.grad_param == float("-inf")
    np.testing.assert_array_equal(back.output, out.output)
    assert np.array_equal(back.grad_input, out.grad_input)
    assert np.signbit(back.grad_input.ravel()[1])


def test_reads_have_deadlines_and_size_limits():
    from ppverify.conformance import wire

    r, w = os.pipe()
    try:
        os.write(w, (10**9).to_bytes(8, "big"))
        with pytest.raises(wire.ProtocolError, match="more than"):  # refused before reading
            wire.read_frame(r, 1 << 20, time.monotonic() + 1)
        os.write(w, (100).to_bytes(8, "big") + b"x" * 10)  # then the writer stops
        start = time.monotonic()
        with pytest.raises(wire.Deadline):
            wire.read_frame(r, 1 << 20, time.monotonic() + 0.3)
        assert time.monotonic() - start < 2
    finally:
        os.close(r)
        os.close(w)
