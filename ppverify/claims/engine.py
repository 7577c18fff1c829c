"""Run the claim checks in worker processes, each claim under its own time limit.

SymPy can hang, so no check runs in the caller's process. ``jobs`` workers are forked
(``multiprocessing`` "fork" context: the parent's imports are inherited) and each runs claims
one after another, so SymPy's caches warmed by one check serve the next (a fresh process per
claim costs about 2.5 times the CPU). For every claim a worker runs the symbolic check and then
the oracle witness and sends back plain data. When a claim exceeds its ``timeout`` the parent
kills that worker, records ``UNKNOWN`` and forks a fresh one for the remaining claims; a worker
that dies is replaced the same way.

A crash in a check or a witness is an error (``Verdict.error``), never a verdict; so is a
disagreement between SymPy and z3 on a step (``proof.EngineDisagreement``) and a check whose
outcome breaks the rules of ``Outcome`` (a PROVED resting on an argued step). A witness that
contradicts the symbolic verdict sets ``witness_agrees=False``. ``all_ok`` says whether a run
may exit 0.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict

from .model import UNKNOWN, Claim, Outcome, Verdict, WitnessReport

Progress = Callable[[Verdict, int, int], None]


def _run_one(claim: Claim) -> tuple:
    try:
        outcome = claim.check()
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check of {claim.id} returned {type(outcome).__name__}, not Outcome")
        if claim.witness is None:
            report = WitnessReport(True, "no oracle witness for this claim")
        else:
            report = claim.witness(outcome)
        return ("ok", asdict(outcome), asdict(report))
    except BaseException as err:  # noqa: BLE001 - report every failure to the parent
        return ("error", f"{type(err).__name__}: {err}", traceback.format_exc())


def _worker(claims: Sequence[Claim], conn) -> None:
    """Receive claim indices, send back results, until told to stop (None) or killed."""
    try:
        while True:
            k = conn.recv()
            if k is None:
                return
            conn.send((k, _run_one(claims[k])))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    finally:
        conn.close()


def _verdict(claim: Claim, seconds: float, outcome: dict | None = None,
             report: dict | None = None, error: str | None = None,
             timed_out: bool = False) -> Verdict:
    if outcome is None:
        if timed_out:
            method = f"SymPy did not finish within the {claim.timeout:g} s time limit"
            evidence = "undecided (time limit)"
        else:
            method = "the check crashed"
            evidence = f"ERROR: {(error or '').splitlines()[0] if error else 'unknown'}"
        return Verdict(id=claim.id, source=claim.source, statement=claim.statement,
                       hypotheses=list(claim.hypotheses), verdict=UNKNOWN, method=method,
                       evidence=evidence, counterexample=None, seconds=round(seconds, 3),
                       witness_agrees=True, witness="not run", error=error,
                       relation=claim.relation, strategy=claim.strategy, reading=claim.reading,
                       takeaway=claim.takeaway)
    return Verdict(id=claim.id, source=claim.source, statement=claim.statement,
                   hypotheses=list(claim.hypotheses), verdict=outcome["verdict"],
                   method=outcome["method"], evidence=outcome["evidence"],
                   counterexample=outcome["counterexample"], seconds=round(seconds, 3),
                   witness_agrees=report["agrees"], witness=report["detail"], error=error,
                   relation=claim.relation, strategy=claim.strategy,
                   steps=[dict(s) for s in outcome["steps"]], reading=claim.reading,
                   takeaway=claim.takeaway)


def _warm_up() -> None:
    """Load SymPy's lazily imported machinery (limits, series, inequalities) and z3 once in
    the parent, so that each forked worker does not import them again."""
    import sympy as sp

    from . import smt

    t = sp.Symbol("t", positive=True)
    sp.limit(t * sp.exp(-t), t, sp.oo)
    sp.series(sp.log(1 + t), t, 0, 2)
    sp.reduce_inequalities([t > 1], [t])
    smt.decide(t**2 + 1 > 0)


class _Slot:
    """One worker process and the claim it is running (if any)."""

    def __init__(self, ctx, claims: Sequence[Claim]) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker, args=(claims, child), daemon=True)
        self.proc.start()
        child.close()
        self.k: int | None = None
        self.t0 = 0.0

    def start(self, k: int) -> None:
        self.k, self.t0 = k, time.perf_counter()
        self.conn.send(k)

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.proc.join(timeout=5)
        self.kill()


def run_claims(claims: Sequence[Claim], progress: Progress | None = None,
               jobs: int | None = None) -> list[Verdict]:
    """Check ``claims`` (``jobs`` workers in parallel); results in catalogue order."""
    if jobs is None:
        jobs = min(2, os.cpu_count() or 1)
    elif isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer (or None for up to 2), got {jobs!r}")
    ctx = mp.get_context("fork")
    _warm_up()
    claims = list(claims)
    pending = list(range(len(claims)))
    results: dict[int, Verdict] = {}
    total = len(claims)
    slots = [_Slot(ctx, claims) for _ in range(min(jobs, total))]

    def finish(k: int, v: Verdict) -> None:
        results[k] = v
        if progress is not None:
            progress(v, len(results), total)

    try:
        for slot in slots:
            if pending:
                slot.start(pending.pop(0))
        while any(slot.k is not None for slot in slots):
            for i, slot in enumerate(slots):
                if slot.k is None:
                    continue
                outcome = _poll(slot, claims[slot.k])
                if outcome is None:
                    continue
                k, verdict, replace = slot.k, outcome[0], outcome[1]
                slot.k = None
                if replace:
                    slot.kill()
                    slot = slots[i] = _Slot(ctx, claims)
                finish(k, verdict)
                if pending:
                    slot.start(pending.pop(0))
            _sleep_until_ready(slots, claims)
    finally:
        for slot in slots:
            if slot.k is None:
                slot.stop()
            else:
                slot.kill()
    return [results[k] for k in range(total)]


def _poll(slot: _Slot, claim: Claim) -> tuple[Verdict, bool] | None:
    """The slot's result if its claim is done (and whether the worker must be replaced)."""
    seconds = time.perf_counter() - slot.t0
    if slot.conn.poll():
        try:
            k, msg = slot.conn.recv()
        except (EOFError, OSError):
            return _verdict(claim, seconds, error=f"worker exited with code "
                            f"{slot.proc.exitcode}"), True
        if msg[0] == "error":
            return _verdict(claim, seconds, error=msg[1] + "\n" + msg[2]), False
        return _verdict(claim, seconds, msg[1], msg[2]), False
    if not slot.proc.is_alive():
        return _verdict(claim, seconds, error=f"worker exited with code {slot.proc.exitcode}"), \
            True
    if seconds >= claim.timeout:
        return _verdict(claim, seconds, timed_out=True), True
    return None


def _sleep_until_ready(slots: list[_Slot], claims: Sequence[Claim]) -> None:
    from multiprocessing.connection import wait

    busy = [s for s in slots if s.k is not None]
    if not busy:
        return
    now = time.perf_counter()
    deadline = min(s.t0 + claims[s.k].timeout for s in busy)
    wait([s.conn for s in busy] + [s.proc.sentinel for s in busy],
         timeout=max(0.0, deadline - now))


def all_ok(verdicts: Sequence[Verdict]) -> bool:
    """Every claim checked without a crash and both witnesses agree (whatever the verdicts)."""
    return all(v.ok for v in verdicts)
