"""Run the claim checks, each in its own worker process with a time limit.

SymPy can hang, so every claim runs in a forked child (``multiprocessing`` "fork" context, so
the parent's imports are inherited and a cold start costs one SymPy import). The child runs
the symbolic check and then the oracle witness and sends back plain data; the parent kills it
when the claim's ``timeout`` expires and records ``UNKNOWN``. At most ``jobs`` children run at
once.

A crash in a check or a witness is an error (``Verdict.error``), never a verdict; a witness that
contradicts the symbolic verdict sets ``witness_agrees=False``. ``all_ok`` says whether a run
may exit 0.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict

from .model import UNKNOWN, Claim, Outcome, Verdict, WitnessReport

Progress = Callable[[Verdict, int, int], None]


def _child(claim: Claim, conn) -> None:
    t0 = time.perf_counter()
    try:
        outcome = claim.check()
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check of {claim.id} returned {type(outcome).__name__}, not Outcome")
        t_sym = time.perf_counter() - t0
        if claim.witness is None:
            report = WitnessReport(True, "no oracle witness for this claim")
        else:
            report = claim.witness(outcome)
        conn.send(("ok", asdict(outcome), asdict(report), t_sym))
    except BaseException as err:  # noqa: BLE001 - report every failure to the parent
        conn.send(("error", f"{type(err).__name__}: {err}", traceback.format_exc(), 0.0))
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
        return Verdict(claim.id, claim.source, claim.statement, list(claim.hypotheses),
                       UNKNOWN, method, evidence, None, round(seconds, 3),
                       witness_agrees=True, witness="not run", error=error,
                       relation=claim.relation, strategy=claim.strategy)
    return Verdict(claim.id, claim.source, claim.statement, list(claim.hypotheses),
                   outcome["verdict"], outcome["method"], outcome["evidence"],
                   outcome["counterexample"], round(seconds, 3),
                   witness_agrees=report["agrees"], witness=report["detail"], error=error,
                   relation=claim.relation, strategy=claim.strategy)


def _warm_up() -> None:
    """Load SymPy's lazily imported machinery (limits, series, inequalities) once in the
    parent, so that each forked worker does not import it again."""
    import sympy as sp

    t = sp.Symbol("t", positive=True)
    sp.limit(t * sp.exp(-t), t, sp.oo)
    sp.series(sp.log(1 + t), t, 0, 2)
    sp.reduce_inequalities([t > 1], [t])


def run_claims(claims: Sequence[Claim], progress: Progress | None = None,
               jobs: int | None = None) -> list[Verdict]:
    """Check ``claims`` (in parallel, ``jobs`` at a time); results in catalogue order."""
    if jobs is None:
        jobs = min(2, os.cpu_count() or 1)
    elif isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer (or None for up to 2), got {jobs!r}")
    ctx = mp.get_context("fork")
    _warm_up()
    pending = list(enumerate(claims))
    running: dict[int, tuple] = {}
    results: dict[int, Verdict] = {}
    total = len(claims)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                k, claim = pending.pop(0)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(claim, send), daemon=True)
                proc.start()
                send.close()
                running[k] = (claim, proc, recv, time.perf_counter())
            finished = _wait(running)
            for k in finished:
                claim, proc, recv, t0 = running.pop(k)
                v = _collect(claim, proc, recv, t0)
                results[k] = v
                if progress is not None:
                    progress(v, len(results), total)
    finally:
        for _claim, proc, recv, _ in running.values():
            proc.kill()
            proc.join()
            recv.close()
    return [results[k] for k in range(total)]


def _wait(running: dict[int, tuple]) -> list[int]:
    from multiprocessing.connection import wait

    now = time.perf_counter()
    deadline = min(t0 + c.timeout for c, _, _, t0 in running.values())
    conns = {recv: k for k, (_, _, recv, _) in running.items()}
    ready = wait(list(conns), timeout=max(0.0, deadline - now))
    done = [conns[r] for r in ready]
    now = time.perf_counter()
    done += [k for k, (c, _, _, t0) in running.items() if k not in done and now >= t0 + c.timeout]
    return done


def _collect(claim: Claim, proc, recv, t0: float) -> Verdict:
    msg = None
    if recv.poll():
        try:
            msg = recv.recv()
        except EOFError:
            msg = None
    seconds = time.perf_counter() - t0
    if msg is None:
        timed_out = seconds >= claim.timeout
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
        if timed_out:
            return _verdict(claim, seconds, timed_out=True)
        return _verdict(claim, seconds, error=f"worker exited with code {proc.exitcode}")
    proc.join()
    recv.close()
    if msg[0] == "error":
        return _verdict(claim, seconds, error=msg[1] + "\n" + msg[2])
    _, outcome, report, _t_sym = msg
    return _verdict(claim, seconds, outcome, report)


def all_ok(verdicts: Sequence[Verdict]) -> bool:
    """Every claim checked without a crash and both witnesses agree (whatever the verdicts)."""
    return all(v.ok for v in verdicts)
