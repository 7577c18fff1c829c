"""Running a target on a case: the only module of ``conformance`` that imports torch (lazily).

``run_case(target, case)`` builds the input tensor in the case's dtype and memory layout, passes
the parameter as a ``requires_grad`` tensor (falling back to a Python float when the target
refuses a tensor), calls the target forward, then autograd backward with the case's upstream
gradient, and returns an ``Outcome`` of plain numpy arrays. Nothing is judged here.
"""

from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass

import numpy as np

from .cases import Case
from .targets import Target


@dataclass
class Outcome:
    """What the target did on one case (values as float64 numpy arrays)."""

    output: np.ndarray | None = None
    output_shape: tuple[int, ...] | None = None
    output_dtype: str | None = None  # "float32", ...
    grad_input: np.ndarray | None = None
    grad_param: float | None = None
    error: str | None = None  # "TypeError: ..." when the call raised
    error_phase: str | None = None  # "forward" or "backward"
    input_grad_missing: bool = False
    param_mode: str = "none"  # "tensor", "float" (target refused a tensor), "none"
    param_grad_missing: bool = False


def torch_dtype(name: str):
    import torch

    return {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
            "bfloat16": torch.bfloat16}[name]


def make_input(case: Case, requires_grad: bool = True):
    """The input tensor: exact values in the case's dtype and memory layout, a leaf."""
    import torch

    dtype = torch_dtype(case.dtype)
    values = torch.tensor(case.input, dtype=torch.float64)
    if case.layout == "strided" and values.ndim >= 1:
        shape = tuple(values.shape)
        base = torch.zeros(shape[:-1] + (2 * shape[-1],), dtype=dtype)
        base[..., ::2] = values.to(dtype)
        x = base[..., ::2]
    elif case.layout == "channels_last" and values.ndim >= 2:
        channel = 1 if values.ndim == case.dims + 2 else 0
        x = values.to(dtype).movedim(channel, -1).contiguous().movedim(-1, channel)
    else:
        x = values.to(dtype).contiguous()
    x = x.detach()
    if requires_grad:
        x.requires_grad_(True)
    return x


def _to_numpy(t) -> np.ndarray:
    return t.detach().to("cpu").double().numpy().copy()


def _call(target: Target, case: Case, x, param):
    args = [x]
    if target.convention.has_param:
        args.append(param)
    args.append(case.kernel_arg())
    return target.fn(*args, **case.call_kwargs())


def _describe(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def run_case(target: Target, case: Case) -> Outcome:
    """Run ``target`` forward and backward on ``case``; exceptions are recorded, not raised."""
    import torch

    out = Outcome()
    try:
        x = make_input(case, requires_grad=case.expect_error is None)
    except Exception as err:  # values not representable, e.g. wrong rank errors built by hand
        out.error, out.error_phase = _describe(err), "setup"
        return out
    conv = target.convention
    param = None
    if conv.has_param:
        param = torch.tensor(case.param, dtype=torch_dtype(case.dtype), requires_grad=True)
        out.param_mode = "tensor"
    try:
        try:
            y = _call(target, case, x, param)
        except Exception:
            if param is None:
                raise
            # a target that takes its parameter as a Python number only
            y = _call(target, case, x, float(case.param))
            out.param_mode, param = "float", None
    except Exception as err:
        out.error, out.error_phase = _describe(err), "forward"
        return out
    if isinstance(y, tuple | list):  # e.g. return_indices
        y = y[0]
    if not isinstance(y, torch.Tensor):
        out.error, out.error_phase = f"returned {type(y).__name__}, not a tensor", "forward"
        return out
    out.output_shape = tuple(y.shape)
    out.output_dtype = str(y.dtype).removeprefix("torch.")
    out.output = _to_numpy(y)
    if case.expect_error is not None:
        return out
    expected_shape = case.expected_shape()
    if out.output_shape != expected_shape:
        return out
    wrt = [x] + ([param] if param is not None else [])
    if not y.requires_grad:
        out.input_grad_missing = True
        out.param_grad_missing = param is not None
        return out
    g = torch.tensor(case.grad_output if case.grad_output is not None
                     else np.ones(expected_shape), dtype=torch.float64).to(y.dtype)
    try:
        grads = torch.autograd.grad(y, wrt, grad_outputs=g, allow_unused=True)
    except Exception as err:
        out.error, out.error_phase = _describe(err), "backward"
        return out
    if grads[0] is None:
        out.input_grad_missing = True
    else:
        out.grad_input = _to_numpy(grads[0])
    if param is not None:
        if grads[1] is None:
            out.param_grad_missing = True
        else:
            out.grad_param = float(_to_numpy(grads[1]).sum())
    return out


def format_exception(err: BaseException) -> str:  # pragma: no cover - debugging aid
    return "".join(traceback.format_exception_only(type(err), err)).strip()


class IsolatedRunner:
    """Runs cases in a forked worker process, so that a target that crashes the process (a
    segfault, heap corruption caught by ``free``, ``abort()``) or hangs costs one case, not the
    whole check.

    ``runner(case)`` returns the worker's ``Outcome``. When the worker dies, the case is run
    again alone in a fresh worker: if it crashes again, its outcome is the error "the process
    crashed (SIGSEGV)" (an exception on valid input); if it then runs, the crash came from heap
    corruption left by an earlier case, and ``incidents`` records which cases ran in the dead
    worker. A case that takes longer than ``timeout`` seconds is killed and reported. The worker
    runs torch with one thread (forking after OpenMP started is unsafe otherwise).
    """

    def __init__(self, target: Target, timeout: float = 120.0):
        self.target = target
        self.timeout = timeout
        self.crashes = 0
        self.incidents: list[str] = []
        self._proc = None
        self._conn = None
        self._history: list[str] = []

    def _start(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker, args=(self.target, child), daemon=True)
        self._proc.start()
        child.close()
        self._history = []

    def _attempt(self, case: Case) -> tuple[Outcome | None, str]:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        try:
            self._conn.send(case)
            if self._conn.poll(self.timeout):
                outcome = self._conn.recv()
                self._history.append(case.id or case.describe())
                return outcome, ""
            reason = f"timed out after {self.timeout:g} s"
        except (EOFError, OSError):
            reason = ""
        return None, self._stop(reason)

    def _stop(self, reason: str) -> str:
        import signal

        proc = self._proc
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        code = proc.exitcode
        if not reason:
            if code is not None and code < 0:
                try:
                    name = signal.Signals(-code).name
                except ValueError:
                    name = f"signal {-code}"
                reason = f"the process crashed ({name})"
            else:
                reason = f"the process exited with status {code}"
        self._conn.close()
        self._proc = self._conn = None
        return reason

    def __call__(self, case: Case) -> Outcome:
        outcome, reason = self._attempt(case)
        if outcome is not None:
            return outcome
        self.crashes += 1
        earlier = list(self._history)
        if reason.startswith("timed out") or not earlier:
            return Outcome(error=f"{reason} running the target", error_phase="crash")
        alone, reason_alone = self._attempt(case)  # fresh worker, nothing ran before
        if alone is None:
            self.crashes += 1
            return Outcome(error=f"{reason_alone} running the target", error_phase="crash")
        self.incidents.append(
            f"{reason} during case {case.id or case.describe()}, which runs fine alone: heap "
            f"corruption by one of the {len(earlier)} earlier cases in that process "
            f"(last: {earlier[-1]})")
        return alone

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._proc.join(2)
            if self._proc.is_alive():
                self._proc.kill()
            self._conn.close()
            self._proc = self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _worker(target: Target, conn) -> None:  # pragma: no cover - runs in the child
    import faulthandler

    import torch

    # A crash of the target is reported by the parent as a case result; the traceback dump that
    # an inherited faulthandler (pytest enables one) would print is only noise.
    faulthandler.disable()
    torch.set_num_threads(1)
    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        if case is None:
            return
        conn.send(run_case(target, case))
