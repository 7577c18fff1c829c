"""A pytest-xdist session survives two workers reporting warnings at once (``tests/conftest.py``,
``ppverify._warnings``).

The controller re-creates a worker's warning by importing its category's module in that
worker's receiver thread; two threads importing torch's modules at once can deadlock Python's
import (the failure seen 2026-12-08). Checked here on synthetic sessions of two workers whose
tests warn at the same instant (a barrier in a directory): with the suite's controller hook the
controller holds torch before any worker reports; without it, it does not (the check's control).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

_TESTS = '''
import os, time, warnings
import pytest

@pytest.mark.parametrize("worker", [0, 1])
def test_warn_at_once(worker):
    from ppverify.ops._fallback import FallbackWarning
    from torch.jit import TracerWarning
    bar = os.environ["BARRIER_DIR"]
    open(os.path.join(bar, os.environ["PYTEST_XDIST_WORKER"]), "w").close()
    start = time.monotonic()
    while len(os.listdir(bar)) < 2 and time.monotonic() - start < 60:
        time.sleep(0.0005)
    warnings.warn("at once", FallbackWarning if worker == 0 else TracerWarning)
'''

_CONFTEST = '''
import os, sys

def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):
        with open(os.environ["TORCH_AT_START"], "w") as f:
            f.write(str("torch" in sys.modules))
'''


def _session(tmp_path: Path, with_hook: bool, workers: bool = True
             ) -> tuple[subprocess.CompletedProcess, str]:
    pytest.importorskip("xdist")
    pytest.importorskip("torch")
    run = tmp_path / ("hook" if with_hook else "plain")
    (run / "barrier").mkdir(parents=True)
    (run / "test_at_once.py").write_text(textwrap.dedent(_TESTS))
    (run / "conftest.py").write_text(textwrap.dedent(_CONFTEST))
    flag = run / "torch_at_start"
    env = dict(os.environ, BARRIER_DIR=str(run / "barrier"), TORCH_AT_START=str(flag),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    args = [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider",
            "-W", "default", "test_at_once.py"]
    if not workers:  # (the session's start alone: no worker, no test run)
        args[3:5] = ["-p", "no:xdist", "--collect-only"]
    if with_hook:
        args[3:3] = ["-p", "tests.conftest"]
    done = subprocess.run(args, cwd=run, env=env, capture_output=True, text=True, timeout=300)
    return done, flag.read_text() if flag.exists() else "(not written)"


def test_the_controller_holds_torch_before_two_workers_warn_at_once(tmp_path):
    done, torch_at_start = _session(tmp_path, with_hook=True)
    assert torch_at_start == "True"
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout and "INTERNALERROR" not in done.stdout + done.stderr


def test_without_the_hook_a_session_starts_without_torch(tmp_path):
    # the control: the check above would see a missing hook (at the start of a session
    # without workers, where the controller's pytest_configure runs as it does with them)
    _, torch_at_start = _session(tmp_path, with_hook=False, workers=False)
    assert torch_at_start == "False"


def test_ppverify_warning_categories_import_without_torch():
    code = ("import sys, ppverify._warnings as w; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(w.FallbackWarning.__module__, w.NativeKernelWarning.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["ppverify._warnings", "ppverify._warnings"]
    pytest.importorskip("torch")
    from ppverify._warnings import FallbackWarning, NativeKernelWarning
    from ppverify.ops import _fallback, _native

    assert _fallback.FallbackWarning is FallbackWarning
    assert _native.NativeKernelWarning is NativeKernelWarning
