"""Every Triton kernel specialisation the dispatcher launches on a CUDA GPU passes the GPU
compiler's front end (its type checks over every branch), checked without a GPU by
``tests/ops/_triton_frontend.py`` in a fresh process (it installs a stub driver). The
interpreter tests (``test_triton.py``) run only the branches a launch takes, which is how a
``tl.atomic_add`` on bfloat16's int16 bits reached main: every bfloat16 backward failed to
compile for a GPU until 2026-12-02."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

triton = pytest.importorskip("triton")

ROOT = Path(__file__).resolve().parents[2]
KERNELS = ROOT / "ppverify" / "ops" / "_triton_kernels.py"
LAST_TESTED = (3, 9)  # the newest Triton whose compiler internals the harness was written for


def _front_end(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "tests.ops._triton_frontend", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if report["harness"] is not None:
        version = tuple(int(p) for p in triton.__version__.split(".")[:2])
        if version > LAST_TESTED:
            pytest.skip(f"triton {triton.__version__} is newer than the harness "
                        f"({report['harness']})")
        pytest.fail(f"the front-end harness could not run: {report['harness']}")
    return report


def test_every_kernel_specialisation_passes_the_gpu_front_end():
    report = _front_end()
    failed = [r for r in report["results"] if r["status"] != "ok"]
    # (float64 + 3 dtypes x 2 arithmetics) x 4 layouts x forward/backward, and the alpha
    # gradient's reduction x 3 modes
    assert len(report["results"]) == 59
    assert {r["arithmetic"] for r in report["results"]} == {"float64", "mixed"}
    assert not failed, json.dumps(failed, indent=1)


def test_the_check_catches_an_atomic_add_on_bfloat16_bits(tmp_path):
    """The defect of 2026-12-02 planted back: the bfloat16 guard in ``_scatter`` removed."""
    source = KERNELS.read_text()
    guard = "    if GXKIND == 3:  # BF16\n"
    assert source.count(guard) == 1
    planted = tmp_path / "planted_kernels.py"
    planted.write_text(source.replace(guard, "    if False:\n"))
    report = _front_end("--kernels", str(planted), "--dtype", "bfloat16")
    status = {(r["case"], r["pass"]): r["status"] for r in report["results"]}
    assert status[("k2s2", "forward")] == "ok"
    assert "atomic_add" in status[("k2s2", "backward")]
