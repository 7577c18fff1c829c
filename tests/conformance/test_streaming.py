"""Long runs stream: cases are generated, run and written one at a time, with progress, and a
count no file could hold is refused at once (issues 16 and 17)."""

from __future__ import annotations

import json
import time

import pytest

from ppverify.cli import main
from ppverify.conformance import generate


def _count_generated(monkeypatch) -> list[int]:
    made = [0]
    original = generate._cases_from_rows

    def counting(*args, **kwargs):
        for case in original(*args, **kwargs):
            made[0] += 1
            yield case

    monkeypatch.setattr(generate, "_cases_from_rows", counting)
    return made


def test_check_runs_each_case_as_it_is_generated(monkeypatch):
    pytest.importorskip("torch")
    from ppverify.conformance.driver import check

    made = _count_generated(monkeypatch)
    seen = []
    report = check("torch.nn.functional:avg_pool1d", "avg", 1, count=30, kinds=("random",),
                   include_errors=False, isolate=False, shrink_failures=False,
                   progress=lambda done, total: seen.append((done, total, made[0])))
    assert report.cases_run == 30
    assert seen[0] == (1, 30, 1) and seen[-1] == (30, 30, 30)  # never ahead of the runs
    assert all(generated == done for done, _, generated in seen)
    assert not report.results  # passing cases are counted, not kept


def test_vectors_are_computed_as_they_are_written(monkeypatch, tmp_path):
    from ppverify.conformance import vectors

    made = _count_generated(monkeypatch)
    header, records, total = vectors.vectors_stream("avg", (1,), count=20, kinds=("random",),
                                                    include_errors=False)
    assert made[0] == 0 and total == 20  # nothing computed yet
    seen = []
    written = vectors.write_vectors(header, tmp_path / "v.json", records=records, total=total,
                                    progress=lambda done, total: seen.append((done, made[0])))
    assert written == len(json.loads((tmp_path / "v.json").read_text())["cases"]) > 15
    assert all(done == generated for done, generated in seen)


def test_a_count_no_vectors_file_could_hold_is_refused_at_once(capsys, tmp_path):
    start = time.monotonic()
    status = main(["vectors", "--op", "ppool", "--count", "100000000",
                   "--out", str(tmp_path / "v.json")])
    assert status == 2 and time.monotonic() - start < 5
    assert "count 100000000 is more than the 100000 valid cases" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_killed_vectors_run_leaves_the_old_file_whole(tmp_path):
    from ppverify.conformance import vectors

    out = tmp_path / "v.json"
    out.write_text("old")
    header, _, _ = vectors.vectors_stream("avg", (1,), count=3)

    def records():
        yield from vectors.build_vectors("avg", (1,), count=2)["cases"]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vectors.write_vectors(header, out, records=records())
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["v.json"]
