"""The report runs without torch: torch-only figures are skipped with a clear message.

Each test runs a fresh interpreter in which ``import torch`` fails (``sys.modules['torch'] =
None``), the way it fails on a machine without torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_report_does_not_import_torch():
    out = _run("""
        import json, sys
        import ppverify.report.command, ppverify.report.driver, ppverify.report.document
        from ppverify.report.catalogue import FIGURES
        import importlib
        for spec in FIGURES:
            importlib.import_module("ppverify.report." + spec.module)
        print(json.dumps({"torch": "torch" in sys.modules}))
    """)
    assert out == {"torch": False}


def test_report_without_torch_skips_the_accuracy_maps(tmp_path):
    out = _run(f"""
        import json, sys
        sys.modules["torch"] = None
        from ppverify.report.driver import build_report
        r = build_report({str(tmp_path)!r}, quick=True, claims=False,
                         only=("accuracy", "detail"))
        print(json.dumps({{f.spec.stem: f.skipped for f in r.figures}}))
    """)
    assert out["detail"] is None
    assert "torch is not available" in out["accuracy"]
    md = (tmp_path / "index.md").read_text()
    assert "**Skipped:** torch is not available" in md
    assert (tmp_path / "figures" / "detail.png").exists()
    assert not (tmp_path / "figures" / "accuracy.png").exists()


def test_command_without_torch_prints_the_skip(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.modules['torch'] = None; from ppverify.cli import main; "
         f"sys.exit(main(['report', '--out', {str(tmp_path)!r}, '--quick', '--no-claims', "
         "'--only', 'accuracy']))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "figure 5 (accuracy): skipped: torch is not available" in proc.stdout
    assert "[1/2] figure 5 accuracy: skipped" in proc.stderr  # plain progress lines off a TTY
