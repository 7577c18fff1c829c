"""The engine can fail: false claims come back REFUTED, undecidable ones UNKNOWN (never
PROVED), a hung check hits its time limit, a crash and a witness disagreement are errors."""

from __future__ import annotations

import json
import time
from fractions import Fraction

import sympy as sp

import ppverify.claims as claims_pkg
from ppverify.claims import (
    PROVED,
    PROVED_UP_TO_N,
    REFUTED,
    UNKNOWN,
    Claim,
    Outcome,
    Step,
    all_ok,
    check_claims,
    render_markdown,
)
from ppverify.claims.command import run
from ppverify.claims.sym import decide_identity, decide_sign
from ppverify.claims.witness import differ, lt, make, ppool, ppool_points

a = sp.Symbol("alpha", real=True)
x1, x2 = sp.symbols("x1 x2", positive=True)
Y2 = (x1 ** (a + 1) + x2 ** (a + 1)) / (x1**a + x2**a)
POINTS = [{x1: 1, x2: 2, a: 1}, {x1: 1, x2: 3, a: 2}]


def _false_check():
    # deliberately false: "P-pooling is the average for every alpha" (N = 2)
    return decide_identity(Y2, (x1 + x2) / 2, POINTS)


def _true_check():
    c = sp.Symbol("c", positive=True)
    scaled = Y2.subs({x1: c * x1, x2: c * x2}, simultaneous=True)
    return decide_identity(sp.expand_power_base(scaled, force=True), c * Y2, POINTS, up_to=2)


def _undecidable_check():
    # y is not convex in alpha in general; SymPy's assumptions cannot decide the sign
    return decide_sign(sp.diff(Y2, a, 2), "d^2y/dalpha^2")


def _hanging_check():
    time.sleep(30)
    return Outcome(PROVED, "never", "never")


def _crashing_check():
    raise RuntimeError("boom")


def _lying_check():
    return Outcome(PROVED, "a wrong proof", "y <= mean for alpha >= 0",
                   steps=(Step(text="y <= mean (asserted by a broken decider)", kind="SymPy"),))


def _is_avg(pt):
    """The oracle's opinion of "y = mean" at a counterexample point of ``_false_check``."""
    xs = [float(Fraction(pt["x1"])), float(Fraction(pt["x2"]))]
    r = ppool(xs, float(Fraction(pt["alpha"])), False)
    return not differ(r.value, Fraction(pt["x1"]) / 2 + Fraction(pt["x2"]) / 2)


def _le_mean(pt):
    xs = pt["x"]
    r = ppool(xs, pt["alpha"], False)
    return not lt(sum(xs) / len(xs) + 1e-9, r.value)


def _claim(cid, check, witness=None, timeout=10.0):
    return Claim(cid, "test", cid, ("x > 0",), "test relation", "test strategy", check,
                 witness, timeout=timeout)


FALSE = _claim("false", _false_check, make(_is_avg, lambda: []))
TRUE = _claim("true", _true_check)
UNDECIDABLE = _claim("undecidable", _undecidable_check)
HANGING = _claim("hanging", _hanging_check, timeout=1.0)
CRASHING = _claim("crashing", _crashing_check)
LYING = _claim("lying", _lying_check,
               make(_le_mean, lambda: ppool_points(lambda xs, al: len(xs) == 2 and al >= 0,
                                                   [1.0, 3.0])))


def test_false_claim_is_refuted_with_a_valid_counterexample():
    (v,) = check_claims(catalogue=[FALSE])
    assert v.verdict == REFUTED
    cex = v.counterexample
    xs = [Fraction(cex["x1"]), Fraction(cex["x2"])]
    al = int(cex["alpha"])
    y = sum(t ** (al + 1) for t in xs) / sum(t**al for t in xs)
    assert y == Fraction(cex["lhs"]) != sum(xs) / 2 == Fraction(cex["rhs"])
    assert v.witness_agrees and v.error is None


def test_true_claim_is_proved_and_size_limited_proof_says_so():
    (v,) = check_claims(catalogue=[TRUE])
    assert v.verdict == PROVED_UP_TO_N and "N <= 2" in v.method
    out = decide_identity(Y2.subs(a, 0), (x1 + x2) / 2)
    assert out.verdict == PROVED


def test_undecidable_claim_is_unknown_not_proved():
    (v,) = check_claims(catalogue=[UNDECIDABLE])
    assert v.verdict == UNKNOWN
    assert v.error is None


def test_hanging_claim_times_out_as_unknown():
    t0 = time.perf_counter()
    (v,) = check_claims(catalogue=[HANGING])
    assert time.perf_counter() - t0 < 10
    assert v.verdict == UNKNOWN and "time limit" in v.method
    assert all_ok([v])  # undecided, but nothing crashed and nothing disagrees


def test_a_timed_out_worker_is_replaced_and_the_run_goes_on():
    t0 = time.perf_counter()
    verdicts = check_claims(catalogue=[HANGING, TRUE, FALSE], jobs=1)
    assert time.perf_counter() - t0 < 15
    assert [v.verdict for v in verdicts] == [UNKNOWN, PROVED_UP_TO_N, REFUTED]
    assert "time limit" in verdicts[0].method


def test_crash_is_an_error_not_a_verdict():
    (v,) = check_claims(catalogue=[CRASHING])
    assert v.verdict == UNKNOWN and v.error and "boom" in v.error
    assert not all_ok([v])


def test_witness_disagreement_is_detected():
    (v,) = check_claims(catalogue=[LYING])
    assert v.verdict == PROVED
    assert not v.witness_agrees and "DISAGREE" in v.witness
    assert "WITNESS DISAGREES" in render_markdown([v])


class _Args:
    def __init__(self, only=None, json_out=False, markdown=None):
        self.only, self.json, self.markdown, self.jobs, self.list = only, json_out, markdown, \
            None, False
        self.readme = None


def test_command_exit_status(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(claims_pkg, "CATALOGUE", [TRUE, FALSE, UNDECIDABLE])
    assert run(_Args()) == 0
    out = capsys.readouterr().out
    assert "REFUTED" in out and "PROVED_UP_TO_N" in out
    monkeypatch.setattr(claims_pkg, "CATALOGUE", [TRUE, LYING])
    md = tmp_path / "audit.md"
    assert run(_Args(markdown=str(md))) == 1
    assert "WITNESS DISAGREES" in md.read_text()
    monkeypatch.setattr(claims_pkg, "CATALOGUE", [CRASHING])
    assert run(_Args()) == 1
    assert run(_Args(only=["nope"])) == 2


def test_command_json_records(monkeypatch, capsys):
    monkeypatch.setattr(claims_pkg, "CATALOGUE", [FALSE, TRUE])
    assert run(_Args(json_out=True)) == 0
    data = json.loads(capsys.readouterr().out)
    rec = data["claims"][0]
    for key in ("id", "source", "statement", "hypotheses", "verdict", "method",
                "counterexample", "seconds"):
        assert key in rec
    assert rec["verdict"] == REFUTED and rec["counterexample"]
    assert data["ok"] is True
