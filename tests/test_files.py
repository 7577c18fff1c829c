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
