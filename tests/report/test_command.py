"""``ppverify report`` is registered, parses its options and writes atomically."""

from __future__ import annotations

import os

import pytest

from ppverify.cli import SUBCOMMANDS, main
from ppverify.report import command
from ppverify.report.style import write_atomic


def test_registered_with_one_line():
    assert SUBCOMMANDS["report"][0] == "ppverify.report.command"
    assert command.HELP


def test_run_writes_one_figure_and_the_document(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path), "--quick", "--no-claims",
                 "--only", "convergence"]) == 0
    captured = capsys.readouterr()
    assert "figure 3 (convergence): convergence.png" in captured.out
    assert "prove not run" in captured.out
    assert (tmp_path / "figures" / "convergence.svg").exists()
    assert (tmp_path / "index.html").exists()


def test_unknown_figure_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--out", str(tmp_path), "--only", "nope"])
    assert exit_.value.code == 2  # a usage error, not any exit
    assert "'nope'" in capsys.readouterr().err
    assert not (tmp_path / "index.md").exists()


def test_write_atomic_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["a.txt"]


def test_json_record(tmp_path, capsys):
    import json

    assert main(["report", "--out", str(tmp_path), "--quick", "--no-claims", "--json",
                 "--only", "detail"]) == 0
    record = json.loads(capsys.readouterr().out)
    (figure,) = record["figures"]
    assert figure["stem"] == "detail" and figure["skipped"] is None
    assert 0 < figure["files"]["png"]["bytes"] < 500 * 1024
    assert record["claims"]["available"] is False and "prove not run" in record["claims"]["message"]


def test_out_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    target = tmp_path / "not_a_dir"
    target.write_text("")
    assert main(["report", "--out", str(target), "--quick", "--no-claims",
                 "--only", "interpolation"]) == 2
    assert "out must be a directory" in capsys.readouterr().err


def test_build_report_rejects_unknown_figures(tmp_path):
    from ppverify.report.driver import build_report

    with pytest.raises(ValueError, match="unknown figure"):
        build_report(tmp_path, quick=True, claims=False, only=("nosuch",))
    with pytest.raises(TypeError, match="sequence of figure names"):
        build_report(tmp_path, quick=True, claims=False, only="detail")
    assert not any(tmp_path.iterdir())


def test_only_keeps_the_other_figures_of_an_earlier_run_in_the_document(tmp_path):
    from ppverify.report.driver import build_report

    build_report(tmp_path, quick=True, claims=False, only=("detail", "convergence"))
    result = build_report(tmp_path, quick=True, claims=False, only=("detail",))
    by_stem = {f.spec.stem: f for f in result.figures}
    assert set(by_stem) == {"detail", "convergence"}
    assert by_stem["convergence"].kept and not by_stem["detail"].kept
    text = (tmp_path / "index.md").read_text()
    assert "figures/convergence.png" in text and "figures/detail.png" in text
    # a figure never drawn into this directory is not listed
    assert "figures/weights.png" not in text


def test_a_report_that_fails_halfway_leaves_the_old_report_whole(tmp_path, monkeypatch):
    from ppverify.report import driver

    driver.build_report(tmp_path, quick=True, claims=False, only=("detail", "convergence"))
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*")
              if p.is_file()}
    real = driver.draw_figure
    calls = []

    def dies_on_the_second_figure(spec, out, quick=False):
        calls.append(spec.stem)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C halfway
        return real(spec, out, quick)

    monkeypatch.setattr(driver, "draw_figure", dies_on_the_second_figure)
    with pytest.raises(KeyboardInterrupt):
        driver.build_report(tmp_path, quick=True, claims=False, only=("interpolation", "detail"))
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*")
             if p.is_file()}
    assert after == before  # the first figure was redrawn in the stage only
