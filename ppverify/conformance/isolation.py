"""Running a target where it can touch neither the oracle's values nor the verdict.

The checker's process (the *parent*) computes the oracle's values and the verdict; it never
imports, constructs or calls the target. ``TargetProcess`` starts a worker process
(``worker.serve``) that does, and talks to it only through validated plain data (``wire``):

* **Where the worker comes from.** A target given by name (``"pkg.mod:fn"``, with its options as
  plain data) is imported in a worker forked from a *zygote*: a fresh interpreter started once
  per checker process, which has imported torch and ppverify's runner but never any target, so
  every worker starts clean and cheaply. A target given as a Python object (a function, a
  class, a module instance, a callable parameter map: the pytest plugin's usual case) already
  lives in the caller's process; its worker is forked from it.
* **Time limits.** Starting the worker (which imports and resolves the target) and its first
  case may take ``startup_timeout`` seconds (default 5 x ``timeout``: a first call may compile
  a kernel); every other case ``timeout`` seconds (default 30). A case past its limit is killed
  and reported as an exception on that case; after ``max_timeouts`` (default 2) the checker
  stops running the target and says so (``TargetStopped``). Every read and write has a
  deadline, so a worker that stops half-way through a message cannot hang the checker. The
  limit runs while the parent computes the oracle's values for the same case; a reply that is
  there when the parent comes to read it, or arrives within ``REPLY_GRACE`` seconds, is taken
  even if the oracle took longer than the limit (before, a 40-s oracle for a float64 3-D
  window of 125 elements at alpha = 100 made a target that answered in 0.2 s "time out").
* **Every way to die is named.** A worker that ends during a case (a signal, ``os._exit``,
  ``sys.exit``) is run again on that case alone in a fresh worker (telling apart a crash on the
  case from heap corruption left by an earlier one) and reported as "the process crashed
  (SIGSEGV)" or "exited with status N"; one that ends or hangs while importing the target is a
  ``WorkerFailure`` (the check reports it as a failure of the target, exit status 1). A reply
  that is not a well-formed message (``wire.ProtocolError``) is a failure too.
* **Process groups.** The worker leads a new session; stopping it kills the whole group
  (``killpg``), so processes the target forked die with it. Processes still in the group when
  the check ends (or right after the import) are a failure of the target ("left N processes
  running"), and are killed.
* **Output.** The worker's stdout and stderr go to a pipe that the parent forwards to its own
  stderr as it arrives (at most ``NOISE_LIMIT`` bytes), so ``--json`` on stdout stays clean.

What this does not do: the worker runs as the same user, so a target that deliberately attacks
the checker's process (signals it, ptraces it, rewrites its files) or double-forks out of its
process group is outside this model; run untrusted code in a container.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import wire
from .cases import Case
from .runner import Outcome
from .targets import Target, target_from_description
from .worker import TargetSource, run_forked

DEFAULT_TIMEOUT = 30.0
ZYGOTE_START_TIMEOUT = 300.0  # a fresh interpreter importing torch, on a busy machine
STARTUP_FACTOR = 5
NOISE_LIMIT = 256 * 1024
MAX_REPLY_BYTES = 64 * 1024 * 1024
#: seconds a reply may still take to arrive once the parent reads it after the deadline
REPLY_GRACE = 1.0


class WorkerFailure(Exception):
    """The worker died or hung while importing the target (the text says how)."""


class TargetStopped(Exception):
    """The checker stopped running the target (too many cases past their time limit)."""


def describe_status(status: int | None) -> str:
    """``os.waitpid``'s status in words: "the process crashed (SIGSEGV)", "exited with
    status 0"."""
    if status is None:
        return "the process ended"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"the process crashed ({name})"
    if os.WIFEXITED(status):
        return f"the process exited with status {os.WEXITSTATUS(status)}"
    return "the process ended"  # pragma: no cover


def process_group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) in process group ``pgid`` (Linux ``/proc``; [] elsewhere)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


# ------------------------------------------------------------------ the zygote (parent side)


class _Zygote:
    """The fork server (``worker.zygote_main``), started on first use, once per process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._log = None

    def _start(self, timeout: float) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root = str(Path(__file__).resolve().parents[2])
        code = ("import sys; del sys.path[0]; sys.path.insert(0, sys.argv[2]); "
                "from ppverify.conformance.worker import zygote_main; "
                "zygote_main(int(sys.argv[1]))")
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, str(child.fileno()), root], pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)
        child.close()
        self._sock = parent
        try:
            reply = self._receive(timeout)
        except (OSError, ValueError) as err:
            detail = self._tail()
            self.close()
            raise WorkerFailure(f"the worker server did not start ({err}){detail}") from None
        if not reply.get("ready"):  # pragma: no cover
            self.close()
            raise WorkerFailure("the worker server did not start")
        atexit.register(self.close)

    def _tail(self) -> str:
        if self._log is None:
            return ""
        with contextlib.suppress(OSError):
            self._log.seek(0)
            text = self._log.read()[-2000:].decode(errors="replace").strip()
            return f": {text}" if text else ""
        return ""

    def _receive(self, timeout: float) -> dict:
        self._sock.settimeout(timeout)
        data = self._sock.recv(1 << 16)
        if not data:
            raise OSError("it closed the connection")
        return json.loads(data)

    def spawn(self, fds: list[int]) -> int:
        """Fork a worker holding ``fds`` (starting the zygote first if needed; its start,
        an interpreter importing torch, is not the target's time)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self.close()
                self._start(ZYGOTE_START_TIMEOUT)
            try:
                socket.send_fds(self._sock, [json.dumps({"op": "spawn"}).encode()], fds)
                return int(self._receive(ZYGOTE_START_TIMEOUT)["pid"])
            except (OSError, ValueError, KeyError) as err:
                self.close()
                raise WorkerFailure(f"the worker server failed ({err})") from None

    def wait(self, pid: int, timeout: float = 10.0) -> int | None:
        with self._lock:
            if self._sock is None:
                return None
            try:
                self._sock.send(json.dumps({"op": "wait", "pid": pid}).encode())
                status = self._receive(timeout).get("status")
            except (OSError, ValueError):
                self.close()
                return None
            return status if isinstance(status, int) else None

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


_ZYGOTE = _Zygote()
#: the zygote needs SOCK_SEQPACKET and descriptor passing (Linux); elsewhere a target given by
#: name is imported in a worker forked from the checker's process (still never in it)
ZYGOTE_AVAILABLE = hasattr(socket, "SOCK_SEQPACKET") and hasattr(socket, "send_fds")


# ------------------------------------------------------------------ one worker


class _Worker:
    """One worker process and its three pipes (request, reply, output)."""

    def __init__(self, source: TargetSource, noise, timeout: float):
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        out_r, out_w = os.pipe()
        self.noise = noise
        self.by_zygote = source.by_name and ZYGOTE_AVAILABLE
        try:
            if self.by_zygote:
                self.pid = _ZYGOTE.spawn([req_r, rep_w, out_w])
            else:
                self.pid = os.fork()
                if self.pid == 0:  # pragma: no cover - the child
                    os.close(req_w)
                    os.close(rep_r)
                    os.close(out_r)
                    run_forked(source, req_r, rep_w, out_w)
        except BaseException:
            for fd in (req_r, req_w, rep_r, rep_w, out_r, out_w):
                os.close(fd)
            raise
        for fd in (req_r, rep_w, out_w):
            os.close(fd)
        self.request_fd, self.reply_fd, self.output_fd = req_w, rep_r, out_r
        flags = fcntl.fcntl(req_w, fcntl.F_GETFL)
        fcntl.fcntl(req_w, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.cases: list[str] = []
        self.status: int | None = None
        self.alive = True
        self.first = True  # the first case may take the startup time limit
        if self.by_zygote:
            self.send(source, time.monotonic() + timeout)

    def send(self, obj, deadline: float) -> None:
        wire.send_object(self.request_fd, obj, deadline)

    def receive(self, deadline: float, max_bytes: int = MAX_REPLY_BYTES) -> bytes:
        drain = (self.output_fd, self._forward) if self.output_fd is not None else None
        return wire.read_frame(self.reply_fd, max_bytes, deadline, drain)

    def _forward(self, chunk: bytes) -> None:
        if not chunk:
            self.output_fd = None  # closed: nothing more to forward
            return
        self.noise(chunk)

    def drain_output(self) -> None:
        """Forward what the worker wrote and nobody read yet (its last words)."""
        fd = self.output_fd
        if fd is None:
            return
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        with contextlib.suppress(OSError):
            for _ in range(64):
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                self.noise(chunk)

    def leftovers(self) -> list[int]:
        """Processes other than the worker in its process group."""
        return [p for p in process_group_members(self.pid) if p != self.pid]

    def stop(self, graceful: bool = False) -> int | None:
        """End the worker and its process group; its exit status."""
        if not self.alive:
            return self.status
        self.alive = False
        if graceful:
            with contextlib.suppress(OSError, wire.Deadline):
                self.send(None, time.monotonic() + 1.0)
            self._wait_exit(2.0)
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(self.pid, signal.SIGKILL)
        self.drain_output()
        for fd in (self.request_fd, self.reply_fd, self.output_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.output_fd = None
        if self.by_zygote:
            self.status = _ZYGOTE.wait(self.pid)
        else:
            with contextlib.suppress(ChildProcessError):
                self.status = os.waitpid(self.pid, 0)[1]
        return self.status

    def _wait_exit(self, seconds: float) -> None:
        """Give a worker told to stop a moment to exit by itself (its reply pipe closes)."""
        end = time.monotonic() + seconds
        with contextlib.suppress(wire.Deadline, EOFError, wire.ProtocolError, OSError):
            while time.monotonic() < end:
                self.receive(end, max_bytes=0)


# ------------------------------------------------------------------ the target's process


class TargetProcess:
    """The worker that runs one target (module doc): ``start()`` describes it, ``run(dim,
    case)`` runs a case, ``close()`` ends it and returns the failures found at the end.

    ``crashes`` counts dead or killed workers, ``incidents`` explains crashes that came from an
    earlier case (heap corruption), ``failures`` lists failures of the target as a whole
    (processes left running, a malformed reply), ``stopped`` says why the checker stopped
    running it (or is None).
    """

    def __init__(self, source: TargetSource, *, timeout: float = DEFAULT_TIMEOUT,
                 startup_timeout: float | None = None, max_timeouts: int = 2, noise=None):
        if isinstance(timeout, bool) or not (isinstance(timeout, (int, float))
                                             and 0 < timeout < 1e6):
            raise ValueError(f"timeout must be a positive number of seconds (below 1e6), got "
                             f"{timeout!r}")
        self.source = source
        self.timeout = float(timeout)
        self.startup_timeout = float(startup_timeout if startup_timeout is not None
                                     else STARTUP_FACTOR * timeout)
        self.max_timeouts = max_timeouts
        self.targets: dict[int, Target] | None = None
        self.crashes = 0
        self.timeouts = 0
        self.incidents: list[str] = []
        self.failures: list[str] = []
        self.stopped: str | None = None
        self._worker: _Worker | None = None
        self._ran_once = False
        self._noise_sent = 0
        self._noise = noise or _stderr_writer()

    # -- output forwarding
    def _forward(self, chunk: bytes) -> None:
        left = NOISE_LIMIT - self._noise_sent
        if left > 0:
            self._noise(chunk[:left])
            if len(chunk) >= left:
                self._noise(b"\n[ppverify check: the target's further output is not shown]\n")
        self._noise_sent += len(chunk)

    # -- lifecycle
    def start(self) -> dict[int, Target]:
        """Start the worker; return ``{dim: Target}`` (descriptions without callables).

        Raises ``ValueError`` when the target cannot be resolved (a usage error: no such
        module or attribute, no parameter found, ...), ``WorkerFailure`` when the worker dies
        or does not answer within ``startup_timeout`` while importing it."""
        worker, described = self._spawn()
        self._worker = worker
        self.targets = described
        extra = worker.leftovers()
        if extra:
            self._leftover_failure(extra, "while it was imported")
            for pid in extra:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        return described

    def _spawn(self) -> tuple[_Worker, dict[int, Target]]:
        worker = _Worker(self.source, self._forward, self.startup_timeout)
        deadline = time.monotonic() + self.startup_timeout  # from the fork: the target's time
        try:
            payload = worker.receive(deadline, max_bytes=1 << 22)
            header, _ = wire.unpack(payload)
            if header.get("kind") == "error":
                message = wire.text(header, "message", optional=False)
                worker.stop()
                raise ValueError(message)
            if header.get("kind") != "targets" or not isinstance(header.get("targets"), dict):
                raise wire.ProtocolError("expected the target's description")
            described = {}
            for d in self.source.dims:
                described[d] = target_from_description(
                    header["targets"].get(str(d)), self.source.op, self.source.pooling,
                    self.source.param_fixed)
        except wire.Deadline:
            worker.stop()
            raise WorkerFailure(f"the target did not finish importing within "
                                f"{self.startup_timeout:g} s (killed)") from None
        except (EOFError, OSError):
            status = worker.stop()
            raise WorkerFailure(f"{describe_status(status)} while importing the "
                                f"target") from None
        except wire.ProtocolError as err:
            worker.stop()
            raise WorkerFailure(f"the worker sent a malformed message while importing the "
                                f"target: {err}") from None
        return worker, described

    def _leftover_failure(self, pids: list[int], when: str) -> None:
        shown = ", ".join(map(str, pids[:5])) + (" ..." if len(pids) > 5 else "")
        self.failures.append(f"the target left {len(pids)} process(es) running {when} "
                             f"(pid {shown}); they were killed")

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None or not worker.alive:
            return
        extra = worker.leftovers()
        if extra:
            self._leftover_failure(extra, "when the check ended")
        worker.stop(graceful=not extra)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- cases
    def run(self, dim: int, case: Case) -> Outcome:
        """The target's outcome on ``case`` (see the module doc for crashes and time limits);
        ``TargetStopped`` once the checker has stopped running the target."""
        return self.submit(case, dim)()

    def __call__(self, case: Case) -> Outcome:
        """``run(case.dims, case)``: a runner for ``check.evaluate``."""
        return self.run(case.dims, case)

    run_case = __call__

    def submit(self, case: Case, dim: int | None = None):
        """Send ``case`` to the worker now and return a function that waits for its
        ``Outcome``, so that the caller can compute the oracle's values meanwhile (call it
        exactly once, before the next ``submit``). ``TargetStopped`` once the checker has
        stopped running the target."""
        if self.stopped:
            raise TargetStopped(self.stopped)
        dim = case.dims if dim is None else dim
        sent = self._send(dim, case)

        def result() -> Outcome:
            outcome, reason, history = self._receive(case, *sent)
            return outcome if outcome is not None else self._after_failure(dim, case, reason,
                                                                           history)

        return result

    def _after_failure(self, dim: int, case: Case, reason: str, history: list[str]) -> Outcome:
        self.crashes += 1
        if reason.startswith("timed out"):
            self.timeouts += 1
            if self.timeouts >= self.max_timeouts:
                self.stopped = (f"{self.timeouts} cases ran past the time limit of "
                                f"{self.timeout:g} s; the target was not run on the rest")
            return Outcome(error=f"{reason} running the target", error_phase="crash")
        if not history or reason.startswith("the worker sent"):
            return Outcome(error=f"{reason} running the target", error_phase="crash")
        # run it again alone in a fresh worker, where nothing ran before
        alone, reason_alone, _ = self._receive(case, *self._send(dim, case))
        if alone is None:
            self.crashes += 1
            if reason_alone.startswith("timed out"):
                self.timeouts += 1
            return Outcome(error=f"{reason_alone} running the target", error_phase="crash")
        self.incidents.append(
            f"{reason} during case {case.id or case.describe()}, which runs fine alone: heap "
            f"corruption by one of the {len(history)} earlier cases in that process "
            f"(last: {history[-1]})")
        return alone

    def _send(self, dim: int, case: Case):
        """Send a case; ``(worker, deadline, limit, history, failure)`` for ``_receive``."""
        if self._worker is None or not self._worker.alive:
            try:
                self._worker, _ = self._spawn()
            except (WorkerFailure, ValueError) as err:
                self.stopped = f"the target could not be started again: {err}"
                raise TargetStopped(self.stopped) from None
        worker = self._worker
        # the first call of the run may compile a kernel; a restarted worker's does not
        limit = self.startup_timeout if worker.first and not self._ran_once else self.timeout
        deadline = time.monotonic() + limit
        history = list(worker.cases)
        failure = None
        try:
            worker.send((dim, case), deadline)
        except wire.Deadline:
            failure = wire.Deadline()
        except OSError as err:
            failure = err
        return worker, deadline, limit, history, failure

    def _receive(self, case: Case, worker: _Worker, deadline: float, limit: float,
                 history: list[str], failure) -> tuple[Outcome | None, str, list[str]]:
        try:
            if failure is not None:
                raise failure
            # (the oracle may have outlasted the deadline: a reply already sent is taken)
            payload = worker.receive(max(deadline, time.monotonic() + REPLY_GRACE),
                                     MAX_REPLY_BYTES + 16 * case.input.size)
            outcome = wire.outcome_from_message(payload, case)
        except wire.Deadline:
            worker.stop()
            self._ran_once = True
            return None, f"timed out after {limit:g} s", history
        except (EOFError, OSError):
            status = worker.stop()
            return None, describe_status(status), history
        except wire.ProtocolError as err:
            worker.stop()
            self.failures.append(f"the worker sent a malformed reply: {err}")
            return None, f"the worker sent a malformed reply ({err})", history
        worker.first = False
        self._ran_once = True
        worker.cases.append(case.id or case.describe())
        return outcome, "", history


def _stderr_writer():
    def write(chunk: bytes) -> None:
        stream = sys.stderr
        try:
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                stream.flush()
                buffer.write(chunk)
                buffer.flush()
            else:
                stream.write(chunk.decode(errors="replace"))
                stream.flush()
        except (OSError, ValueError):
            pass

    return write


class IsolatedRunner:
    """A resolved ``Target`` run in a worker forked from this process: ``runner(case)``
    returns the ``Outcome`` (for tests and callers that hold a ``Target``; ``check`` uses
    ``TargetProcess`` directly)."""

    def __init__(self, target: Target, timeout: float = DEFAULT_TIMEOUT,
                 startup_timeout: float | None = None):
        self.process = TargetProcess(TargetSource(target, target.op, (1, 2, 3), target.pooling),
                                     timeout=timeout, startup_timeout=startup_timeout)
        self.process.start()

    def __call__(self, case: Case) -> Outcome:
        return self.process.run(case.dims, case)

    @property
    def crashes(self) -> int:
        return self.process.crashes

    @property
    def incidents(self) -> list[str]:
        return self.process.incidents

    def close(self) -> None:
        self.process.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
