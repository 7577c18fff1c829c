"""`ppverify prove` through the real CLI, the layer rule (no torch) and the audit document."""

from __future__ import annotations

import json
import subprocess
import sys

from ppverify.claims import check_claims, render_markdown
from ppverify.claims.command import write_atomic
from ppverify.cli import SUBCOMMANDS, main


def test_registered_in_cli():
    assert SUBCOMMANDS["prove"][0] == "ppverify.claims.command"


def test_cli_only_json(capsys):
    assert main(["prove", "--only", "P1", "E2.dx", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in data["claims"]] == ["P1", "E2.dx"]
    assert data["claims"][1]["counterexample"]["printed"] == "3/625"
    assert data["ok"] is True


def test_cli_table_and_markdown(tmp_path, capsys):
    md = tmp_path / "sub" / "audit.md"
    assert main(["prove", "--only", "P2.squeeze", "T.bounds", "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "P2.squeeze" in out and "REFUTED" in out and "T.bounds" in out
    text = md.read_text()
    assert text.startswith("# ppverify prove")
    assert "### P2.squeeze: REFUTED" in text and "**Counterexample:**" in text
    assert text.index("## What a reader should take from this") < text.index("## Summary")
    assert "**Steps:**" in text and "[SymPy+z3]" in text
    assert not list(md.parent.glob(".prove-*"))  # no temporary file left behind


def test_cli_unknown_id_is_a_usage_error(capsys):
    assert main(["prove", "--only", "no.such.claim"]) == 2
    assert "unknown claim id" in capsys.readouterr().err


def test_write_atomic_replaces(tmp_path):
    path = tmp_path / "a.md"
    write_atomic(str(path), "one")
    write_atomic(str(path), "two")
    assert path.read_text() == "two"


def test_markdown_lists_every_field():
    (v,) = check_claims(["P1.bwd.subst"], jobs=1)
    text = render_markdown([v])
    for field in ("Source", "Statement", "Hypotheses", "Method", "Evidence", "Counterexample",
                  "Oracle witness", "Decided by", "Steps"):
        assert f"**{field}:**" in text


def test_claims_layer_imports_no_torch():
    code = ("import sys; import ppverify.claims as c; "
            "c.check_claims(['E2.chain', 'T.bounds'], jobs=1); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_cli_bad_jobs_is_a_usage_error(capsys):
    assert main(["prove", "--only", "P1", "--jobs", "-1"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert main(["prove", "--only", "P1", "--jobs", "0"]) == 2


def test_check_claims_rejects_bad_jobs():
    import pytest

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be a positive integer"):
            check_claims(["P1"], jobs=bad)


def test_cli_markdown_bad_paths_are_usage_errors(tmp_path, capsys):
    assert main(["prove", "--only", "P1", "--markdown", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["prove", "--only", "P1", "--markdown", str(blocker / "audit.md")]) == 2
    assert "cannot write --markdown" in capsys.readouterr().err


def test_write_atomic_is_not_private(tmp_path):
    import os
    import stat

    path = tmp_path / "audit.md"
    write_atomic(str(path), "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_cli_readme_rewrites_only_the_block(tmp_path, monkeypatch, capsys):
    import ppverify.claims as claims_pkg
    from ppverify.claims.catalogue import BY_ID
    from ppverify.claims.readme import BEGIN, END

    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{BEGIN}\nSTALE-BLOCK\n{END}\n\nrest\n")
    monkeypatch.setattr(claims_pkg, "CATALOGUE", [BY_ID["T.harmonic"], BY_ID["E2.dx"]])
    assert main(["prove", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n") and text.endswith("\nrest\n") and "STALE-BLOCK" not in text
    assert "| T.harmonic |" in text and "| E2.dx |" in text
    assert "audit block of" in capsys.readouterr().out


def test_cli_readme_usage_errors(tmp_path, capsys):
    assert main(["prove", "--only", "P1", "--readme", "README.md"]) == 2
    assert "--readme needs every claim" in capsys.readouterr().err
    plain = tmp_path / "plain.md"
    plain.write_text("no markers\n")
    assert main(["prove", "--readme", str(plain)]) == 2
    assert "no generated audit block" in capsys.readouterr().err
    assert main(["prove", "--readme", str(tmp_path / "missing.md")]) == 2
    assert "cannot read --readme" in capsys.readouterr().err
