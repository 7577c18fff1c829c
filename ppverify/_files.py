"""Writing files so that nothing the user had is lost: one atomic-write helper for every layer."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from pathlib import Path

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status`` (``Umask:``, since 4.7). Elsewhere the only way
    is ``os.umask(0)`` followed by restoring it; that is done under a lock, but another thread
    creating a file in that instant (outside this module) could still see umask 0.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        umask = os.umask(0)
        os.umask(umask)
    return umask


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then
    ``os.replace`` it: a reader sees the old file or the new one, never a partial one.

    ``str`` data is written as UTF-8. The parent directory is created if needed; the file gets
    the permissions the umask gives a new file (``mkstemp`` alone would make it private).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_open(path) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_open(path: str | Path):
    """``write_atomic`` for data written piece by piece: yields a binary file (a temporary
    file beside ``path``) that replaces ``path`` when the block ends normally; if the block
    raises, or the process is killed, ``path`` is untouched and the temporary file removed
    (a killed process leaves a ``.NAME.*.tmp`` file behind)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_stale_stages(out: Path) -> None:
    """Delete staging directories left by runs that were killed (their process is gone)."""
    import shutil

    for stage in out.parent.glob(f".{out.name}.staging-*"):
        try:
            pid = int(stage.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(stage, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


@contextlib.contextmanager
def staged_directory(out: str | Path):
    """Build a directory as a whole: yield a staging copy of ``out``, then swap it in.

    The staging directory is a copy of ``out`` (if it exists), so files the caller does not
    rewrite, including any the user put there, are kept. When the block ends normally, the
    staging directory replaces ``out`` in one step where the system allows it (Linux
    ``renameat2`` exchange; elsewhere two renames, with ``out`` briefly absent), and the old
    content is deleted; a reader sees the old set of files or the new one, never a mix. If the
    block raises, or the process is killed, ``out`` is untouched (a killed run's staging
    directory is removed by the next run).
    """
    import shutil

    out = Path(out)
    target = out.resolve() if out.is_symlink() else out
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_stages(target)
    stage = target.parent / f".{target.name}.staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    if target.exists():
        shutil.copytree(target, stage, symlinks=True)
    else:
        stage.mkdir()
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if not target.exists():
        os.rename(stage, target)
        return
    if _exchange(stage, target):
        shutil.rmtree(stage, ignore_errors=True)  # now holds the old content
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.rename(target, old)
    os.rename(stage, target)
    shutil.rmtree(old, ignore_errors=True)
