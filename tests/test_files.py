"""ppverify._files.write_atomic: the one atomic-write helper of every layer."""

import os
import stat

import pytest

from ppverify import _files
from ppverify._files import write_atomic


def test_writes_text_and_bytes_and_creates_the_directory(tmp_path):
    target = tmp_path / "new" / "a.md"
    write_atomic(target, "α = 1\n")
    assert target.read_text(encoding="utf-8") == "α = 1\n"
    write_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in target.parent.iterdir()] == ["a.md"]  # no temporary left behind


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "b", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "c"
    target.write_bytes(b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(_files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_the_umask_is_read_without_being_changed(monkeypatch):
    # a write must not set the process umask to 0, even for an instant: another thread
    # creating a file then would make it world-writable
    calls = []
    real_umask = os.umask

    def spy(mask):
        calls.append(mask)
        return real_umask(mask)

    monkeypatch.setattr(_files.os, "umask", spy)
    old = real_umask(0o027)
    try:
        assert _files.current_umask() == 0o027
    finally:
        real_umask(old)
    if os.path.exists("/proc/self/status"):
        assert calls == []


def test_staged_directory_swaps_the_whole_set_and_keeps_other_files(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.md").write_text("old")
    (out / "notes-by-the-user.txt").write_text("mine")
    with _files.staged_directory(out) as stage:
        assert stage != out and (stage / "notes-by-the-user.txt").read_text() == "mine"
        (stage / "index.md").write_text("new")
        assert (out / "index.md").read_text() == "old"  # nothing visible before the end
    assert (out / "index.md").read_text() == "new"
    assert (out / "notes-by-the-user.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # no stage left behind


def test_staged_directory_leaves_the_old_set_when_the_build_fails(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.md").write_text("old")
    with pytest.raises(RuntimeError, match="killed"), _files.staged_directory(out) as stage:
        (stage / "index.md").write_text("half")
        raise RuntimeError("killed halfway")
    assert (out / "index.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_staged_directory_creates_a_new_directory_and_removes_stale_stages(tmp_path):
    stale = tmp_path / ".reports.staging-999999999"  # no such process
    stale.mkdir()
    with _files.staged_directory(tmp_path / "reports") as stage:
        (stage / "a").write_text("1")
    assert (tmp_path / "reports" / "a").read_text() == "1"
    assert not stale.exists()


def test_staged_directory_without_an_atomic_exchange(tmp_path, monkeypatch):
    monkeypatch.setattr(_files, "_exchange", lambda a, b: False)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.md").write_text("old")
    with _files.staged_directory(out) as stage:
        (stage / "index.md").write_text("new")
    assert (out / "index.md").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]
