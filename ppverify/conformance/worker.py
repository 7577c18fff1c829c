"""The worker process: the only place where a checked target is imported and called.

``serve(source, ...)`` runs in a process of its own (see ``isolation`` for how it is started and
watched). It first makes itself a worker: a new session and process group (so that the checker
can kill it and everything it started at once), stdin from ``/dev/null``, stdout and stderr into
a pipe that the checker forwards to *its* stderr (so a target's prints never mix with the
checker's output, ``--json`` included), every other inherited file descriptor closed, and the
kernel asked to kill it when its parent dies. Then it imports and resolves the target
(``TargetSource.resolve``), sends the checker a plain description of it, and answers cases one
at a time with plain data (``wire``). It never sends pickle, and the checker validates every
message, so whatever the target does here (patch numpy, the oracle, the verdict code; exit;
crash; hang; fork) stays here.

``zygote_main`` is a small fork server for targets given by name: started once per checker
process from a fresh interpreter that imports torch and this module but never any target, it
forks one worker per request (cheap restarts after a crash) and reports each worker's exit
status when asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass, field, replace

from . import wire


@dataclass
class TargetSource:
    """How the worker obtains the targets: a spec to resolve per dimension (a string
    ``module:callable`` is imported only in the worker), with ``resolve``'s options, and the
    checker's import path, working directory and environment (applied in the worker; variables
    read when torch is imported come from the zygote's start, the first check of the
    process)."""

    spec: object
    op: str
    dims: tuple[int, ...]
    pooling: str = "windowed"
    param_attr: str | None = None
    param_map: object = None
    param_fixed: bool = False
    params: tuple[float, ...] | None = None
    param_shape: tuple[str, ...] | None = None  # ``targets.parse_param_shape``'s
    sys_path: list[str] | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def by_name(self) -> bool:
        """Whether the whole source is plain data (a worker in a fresh process can take it)."""
        return isinstance(self.spec, str) and (self.param_map is None
                                               or isinstance(self.param_map, str))

    def resolve(self) -> dict:
        """``{dim: Target}``, with the parameter map's range (``runner.map_range``) filled in.
        Raises ``ValueError`` (naming the target) as ``targets.resolve`` does."""
        from .runner import map_range
        from .targets import Target, resolve

        out = {}
        for d in self.dims:
            if isinstance(self.spec, Target):
                t = self.spec
            else:
                t = resolve(self.spec, self.op, d, pooling=self.pooling,
                            param_attr=self.param_attr, param_map=self.param_map,
                            param_fixed=self.param_fixed, params=self.params)
            if t.param_map is not None and t.param_map_range is None:
                t = replace(t, param_map_range=map_range(t.param_map))
            out[d] = replace(t, param_shape=self.param_shape)
        return out


def _become_worker(keep: tuple[int, ...], noise_fd: int) -> None:
    """New session, standard streams redirected, other descriptors closed (module doc)."""
    with contextlib.suppress(OSError):
        os.setsid()
    _die_with_parent()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(noise_fd, 1)
    os.dup2(noise_fd, 2)
    keep_set = sorted(set(keep) | {0, 1, 2})
    start = 3
    for fd in keep_set:
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1
    os.closerange(start, _max_fd())
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    import faulthandler

    # a crash is reported by the checker as the case's result; an inherited faulthandler
    # (pytest enables one) would only add a traceback dump to the forwarded output
    faulthandler.disable()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)


def _max_fd() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), 1 << 16)
    except (ValueError, OSError):  # pragma: no cover
        return 4096


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def serve(source: TargetSource, request_fd: int, reply_fd: int, noise_fd: int) -> None:
    """The worker's whole life (module doc). Returns when the checker says stop or goes."""
    _become_worker((request_fd, reply_fd), noise_fd)  # closes noise_fd once it is 1 and 2
    if source.env:  # the checker's environment at the time of the check
        os.environ.clear()
        os.environ.update(source.env)
    if source.sys_path is not None:
        sys.path[:] = source.sys_path
    if source.cwd is not None:
        with contextlib.suppress(OSError):
            os.chdir(source.cwd)
    try:
        import torch

        torch.set_num_threads(1)  # cases are small; and forking after OpenMP started is unsafe
    except ImportError:
        pass
    from .runner import run_prepared

    try:
        targets = source.resolve()
    except Exception as err:  # ValueError names the problem; anything else is the target's
        message = str(err) if isinstance(err, ValueError) else \
            f"target {source.spec!r}: {type(err).__name__}: {err}"
        wire.write_frame(reply_fd, wire.pack({"kind": "error", "message": message}))
        return
    if let_compiled_code_recompile():
        targets = {d: replace(t, notes=t.notes + (COMPILED_NOTE,)) for d, t in targets.items()}
    wire.write_frame(reply_fd, wire.pack({
        "kind": "targets", "targets": {str(d): t.describe() for d, t in targets.items()}}))
    while True:
        try:
            message = wire.receive_object(request_fd)
        except EOFError:
            return
        if message is None:
            return
        dim, case = message
        let_compiled_code_recompile()  # torch.compile may first be called by the target itself
        wire.write_frame(reply_fd, wire.outcome_message(run_prepared(targets[dim], case)))


RECOMPILE_LIMIT = 1_000_000
COMPILED_NOTE = ("torch._dynamo is loaded in the worker (by the target or a library it "
                 "imports), so the target may be compiled: a compiled function recompiles for "
                 "each case's new shape, dtype or grad mode, and the worker raised dynamo's "
                 "recompile limits (8 and 256 by default) so that a compiled target runs "
                 "compiled in every case, not in eager mode past the limit (nor, with "
                 "fullgraph=True, failing on it)")


IN_PROCESS_COMPILED_NOTE = (
    "torch._dynamo is loaded in this process (by the target or a library it imports), so the "
    "target may be compiled: a compiled function recompiles for each case's new shape, dtype "
    "or grad mode, and the check (isolate=False) raised dynamo's recompile limits while it "
    "ran, restoring them after, so that a compiled target runs compiled in every case, not "
    "in eager mode past the limit (nor, with fullgraph=True, failing on it)")
#: dynamo's settings that stop recompilation (``torch._dynamo.config``; older names included)
RECOMPILE_LIMITS = ("recompile_limit", "accumulated_recompile_limit", "cache_size_limit",
                    "accumulated_cache_size_limit")


def let_compiled_code_recompile() -> bool:
    """Raise torch dynamo's recompile limits in this (worker) process, if dynamo is loaded.

    A ``torch.compile``d target recompiles for every new input shape, dtype and grad mode, and
    the cases vary all three on purpose: past ``recompile_limit`` (8) dynamo runs the function
    in eager mode, so the rest of a check would judge eager code under the compiled target's
    name (with ``fullgraph=True`` every later call raises instead). The worker keeps them
    raised; a check in the user's own process (``isolate=False``) raises them only while it
    runs (``RaisedRecompileLimits``)."""
    dynamo = sys.modules.get("torch._dynamo")
    if dynamo is None:
        return False
    config = dynamo.config
    for name in RECOMPILE_LIMITS:
        if isinstance(getattr(config, name, None), int):
            setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
    return True


class RaisedRecompileLimits:
    """Dynamo's recompile limits raised for a check in the user's process (``isolate=False``)
    and put back as they were by ``restore()``: without them the cases' variety alone (dtypes,
    ranks, grad modes) made a compiled ``fullgraph=True`` target raise
    ``FailOnRecompileLimitHit`` from its ninth case on, reported as the target's exception on
    valid input (or, without fullgraph, judged eager code). ``apply()`` before each case,
    since the target may load dynamo in its first call; True once dynamo is loaded."""

    def __init__(self) -> None:
        self.saved: dict[str, int] | None = None

    def apply(self) -> bool:
        dynamo = sys.modules.get("torch._dynamo")
        if dynamo is None:
            return False
        if self.saved is None:
            self.saved = {name: getattr(dynamo.config, name) for name in RECOMPILE_LIMITS
                          if isinstance(getattr(dynamo.config, name, None), int)}
        return let_compiled_code_recompile()

    def restore(self) -> None:
        dynamo = sys.modules.get("torch._dynamo")
        if dynamo is not None and self.saved:
            for name, value in self.saved.items():
                setattr(dynamo.config, name, value)


def run_forked(source: TargetSource, request_fd: int, reply_fd: int, noise_fd: int) -> None:
    """In a child of ``os.fork()``: serve, and never return into the parent's code."""
    _run_then_exit(lambda: serve(source, request_fd, reply_fd, noise_fd))


def _run_then_exit(work) -> None:
    """Run ``work()`` in a forked child and end the process with ``os._exit``, whatever
    happens: the target's ``sys.exit()`` status is kept (the checker reports it), anything
    else raised is status 70 with its traceback on stderr."""
    code = 0
    try:
        work()
    except SystemExit as err:  # the target's sys.exit(): the checker reports the status
        code = _exit_code(err)
    except BaseException:  # noqa: B036 - whatever happens, this process ends here
        code = 70
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _exit_code(err: SystemExit) -> int:
    if err.code is None:
        return 0
    return err.code & 0xFF if isinstance(err.code, int) else 1


# ------------------------------------------------------------------ the zygote


def zygote_main(sock_fd: int) -> None:  # pragma: no cover - runs in its own interpreter
    """Fork server for targets given by name (module doc). Requests are JSON messages on a
    ``SOCK_SEQPACKET`` socket: ``{"op": "spawn"}`` with three descriptors (the worker's request
    pipe, reply pipe and output pipe) answers ``{"pid": N}``; ``{"op": "wait", "pid": N}``
    answers ``{"status": S}`` (``os.waitpid``'s status) once that worker has ended. The zygote
    ends, killing the process groups of its workers, when the checker closes the socket."""
    sock = socket.socket(fileno=sock_fd)
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401 - preloaded once, so that every worker starts warm
    from . import runner, targets  # noqa: F401 - preloaded
    sock.send(json.dumps({"ready": True}).encode())
    children: set[int] = set()
    try:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 4)
            except OSError:
                break
            if not data:
                break
            request = json.loads(data)
            if request.get("op") == "spawn" and len(fds) == 3:
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    _zygote_child(*fds)
                for fd in fds:
                    os.close(fd)
                children.add(pid)
                sock.send(json.dumps({"pid": pid}).encode())
            elif request.get("op") == "wait":
                pid = int(request["pid"])
                status = None
                if pid in children:
                    with contextlib.suppress(ChildProcessError):
                        status = os.waitpid(pid, 0)[1]
                    children.discard(pid)
                sock.send(json.dumps({"status": status}).encode())
            else:
                for fd in fds:
                    os.close(fd)
                sock.send(json.dumps({"error": "bad request"}).encode())
    finally:
        for pid in children:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _zygote_child(request_fd: int, reply_fd: int, noise_fd: int) -> None:  # pragma: no cover
    def work():
        with contextlib.suppress(OSError):
            os.setsid()
        serve(wire.receive_object(request_fd), request_fd, reply_fd, noise_fd)

    _run_then_exit(work)
