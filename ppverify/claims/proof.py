"""The steps behind a verdict: each one says what it establishes and what decided it.

A check builds a ``Proof`` and records every step on it; ``Proof.outcome`` turns them into an
``Outcome``. The kinds of step (``Step.kind``):

* ``SymPy``, ``z3``, ``SymPy+z3``: decided by that engine (both: they agree; a disagreement
  raises ``EngineDisagreement``, which the engine reports as an error, never as a verdict);
* ``exact``: exact rational arithmetic (``Fraction`` / SymPy ``Rational``);
* ``flint``: python-flint interval arithmetic (ball or branch-and-bound); ``detail`` states the
  box;
* ``claim``: the verdict of another claim of the catalogue (whose own steps are in its record);
* ``rule``: a named standard theorem (the squeeze theorem, the algebra of limits, the chain rule,
  the intermediate value theorem, ...) applied to premises that are steps of the same record;
* ``argued``: asserted, not checked.

A step is *checked* unless its kind is ``argued``, or it is a ``claim`` step on a claim that
has argued steps itself. A verdict other than ARGUED or UNKNOWN may not rest on an argued step
(``Outcome`` refuses it); ARGUED lists the steps that are argued.

Inequality steps run both deciders: SymPy on an expression whose sign its assumptions can
settle, z3 on the relation under the hypotheses (``smt.decide``). Each may prove the step,
refute it, or not decide; the record names the engines that decided.
"""

from __future__ import annotations

import functools

import sympy as sp

from . import smt
from .model import ARGUED, UNKNOWN, Outcome, Step


class Undecided(Exception):
    """No engine could decide a step; the check reports UNKNOWN with this message."""


class EngineDisagreement(Exception):
    """SymPy and z3 decided the same step differently: an error, never a verdict."""


def sympy_sign(expr, sign: str) -> bool | None:
    """SymPy's assumptions on ``expr``: is ``expr <sign>`` (``'<0'``, ``'<=0'``, ``'>0'``,
    ``'>=0'``, ``'!=0'``) true everywhere (True), false everywhere (False) or unknown (None)?"""
    expr = sp.sympify(expr)
    for e in (expr, sp.simplify(expr), sp.factor(sp.simplify(expr))):
        yes, no = {
            "<0": (e.is_negative, e.is_nonnegative), "<=0": (e.is_nonpositive, e.is_positive),
            ">0": (e.is_positive, e.is_nonpositive), ">=0": (e.is_nonnegative, e.is_negative),
            "!=0": (e.is_nonzero, e.is_zero),
        }[sign]
        if yes:
            return True
        if no:
            return False
    return None


class Proof:
    """Collects the steps of one check."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    # -------------------------------------------------------------- recording
    def add(self, text: str, kind: str, detail: str = "") -> None:
        self.steps.append(Step(text=text, kind=kind, detail=detail))

    def argued(self, text: str, detail: str = "") -> None:
        """A step that is asserted, not checked (the verdict must then be ARGUED)."""
        self.add(text, "argued", detail)

    def rule(self, name: str, text: str) -> None:
        """A standard theorem applied to premises recorded as earlier steps."""
        self.add(text, "rule", name)

    def exact(self, ok: bool, text: str, detail: str = "") -> None:
        if not ok:
            raise Undecided(f"exact evaluation does not give: {text}")
        self.add(text, "exact", detail)

    # -------------------------------------------------------------- SymPy-only steps
    def sympy(self, condition, text: str, detail: str = "") -> None:
        """``condition`` must be SymPy-true (``True``), e.g. a limit compared with a value."""
        if condition is not True and condition != sp.true:
            raise Undecided(f"SymPy could not establish: {text} (got {condition})")
        self.add(text, "SymPy", detail)

    def zero(self, expr, text: str) -> None:
        """SymPy simplifies ``expr`` to 0 (an identity)."""
        self.sympy(sp.simplify(expr) == 0, text, "simplifies to 0")

    def limit(self, expr, var, point, want, text: str, direction: str = "+") -> None:
        """SymPy's limit of ``expr`` as ``var -> point`` equals ``want``."""
        got = sp.limit(expr, var, point, direction) if point not in (sp.oo, -sp.oo) else \
            sp.limit(expr, var, point)
        self.sympy(sp.simplify(got - want) == 0 if want not in (sp.oo, -sp.oo) else got == want,
                   text, f"limit = {got}")

    # -------------------------------------------------------------- both deciders
    def inequality(self, text: str, goal, hypotheses=(), *, sympy_form=None,
                   sympy_sign_of: str | None = None, require: bool = True) -> str:
        """A sign or inequality step, decided by SymPy and z3 independently.

        z3 gets ``goal`` under ``hypotheses``; SymPy gets ``sympy_form`` (an expression whose
        sign, ``sympy_sign_of``, is the goal, written in symbols whose assumptions encode the
        hypotheses), or ``goal.lhs - goal.rhs`` with the goal's sign when not given. Returns
        "holds" or "fails". With ``require`` a step that fails (or that neither decides) raises
        ``Undecided``. Both deciding differently raises ``EngineDisagreement``.
        """
        goal = sp.sympify(goal)
        s_ans = None
        if goal in (sp.true, sp.false) and not hypotheses:
            # SymPy settled the relation when it was built, from the symbols' assumptions
            s_ans = goal == sp.true
        if sympy_form is None and isinstance(goal, sp.Rel) and not hypotheses:
            sign = {sp.StrictLessThan: "<0", sp.LessThan: "<=0", sp.StrictGreaterThan: ">0",
                    sp.GreaterThan: ">=0", sp.Unequality: "!=0"}.get(type(goal))
            if sign is not None:
                sympy_form, sympy_sign_of = goal.lhs - goal.rhs, sign
        if sympy_form is not None:
            s_ans = sympy_sign(sympy_form, sympy_sign_of)
        z_ans = smt.decide(goal, hypotheses)
        z_bool = {smt.PROVED_Z3: True, smt.REFUTED_Z3: False}.get(z_ans.status)
        if s_ans is not None and z_bool is not None and s_ans != z_bool:
            raise EngineDisagreement(f"{text}: SymPy says {s_ans}, z3 says {z_bool} "
                                     f"({z_ans.reason}; {z_ans.counterexample})")
        engines = [n for n, r in (("SymPy", s_ans), ("z3", z_bool)) if r is not None]
        if not engines:
            raise Undecided(f"neither SymPy nor z3 decided: {text} (z3: {z_ans.reason})")
        holds = s_ans if s_ans is not None else z_bool
        detail = f"{goal}" + (f" under {', '.join(map(str, hypotheses))}" if hypotheses else "")
        if z_ans.atoms:
            detail += f"; z3 atoms: {', '.join(z_ans.atoms)}"
        if not holds:
            if require:
                raise Undecided(f"{text} fails ({'+'.join(engines)}; "
                                f"{z_ans.counterexample or ''})")
            self.add(f"fails: {text}", "+".join(engines), detail)
            return "fails"
        self.add(text, "+".join(engines), detail)
        return "holds"

    def counterexample(self, text: str, goal, hypotheses=(), *, fix=None) -> dict[str, str]:
        """z3 as a counterexample finder (values fixed by ``fix`` first); the counterexample is
        confirmed by SymPy without abstraction before it is returned."""
        ans = smt.find_counterexample(goal, hypotheses, fix=fix)
        if ans.status != smt.REFUTED_Z3:
            raise Undecided(f"z3 found no counterexample: {text} ({ans.reason})")
        self.add(text, "z3", f"counterexample {ans.counterexample} to {goal}, confirmed by "
                 "SymPy exactly")
        return ans.counterexample

    # -------------------------------------------------------------- other claims
    def uses(self, claim_id: str, want: str | tuple[str, ...] = "PROVED",
             text: str = "") -> Outcome:
        """The verdict of another claim (``want``: the verdict or verdicts required). A claim
        that is only ARGUED makes this step argued too."""
        from .catalogue import BY_ID

        out = _outcome_of(claim_id)
        wants = (want,) if isinstance(want, str) else tuple(want)
        if out.verdict not in wants:
            raise Undecided(f"{claim_id} gives {out.verdict}, not {'/'.join(wants)}")
        what = text or BY_ID[claim_id].statement
        if out.verdict == ARGUED:
            self.argued(f"{what} (from {claim_id}, which is ARGUED)", claim_id)
        else:
            self.add(what, "claim", f"{claim_id}: {out.verdict}")
        return out

    # -------------------------------------------------------------- result
    def outcome(self, verdict: str, method: str, evidence: str, counterexample=None) -> Outcome:
        return Outcome(verdict=verdict, method=method, evidence=evidence,
                       counterexample=counterexample, steps=tuple(self.steps))


@functools.cache
def _outcome_of(claim_id: str) -> Outcome:
    from .catalogue import BY_ID

    return BY_ID[claim_id].check()


def checked(fn):
    """Decorator for a check ``fn(pf: Proof) -> Outcome``: it gets a fresh ``Proof``; a step
    nobody could decide turns the result into UNKNOWN (with the steps decided so far)."""

    @functools.wraps(fn)
    def wrapper() -> Outcome:
        pf = Proof()
        try:
            return fn(pf)
        except Undecided as err:
            return Outcome(verdict=UNKNOWN, method="undecided step", evidence=str(err),
                           steps=tuple(pf.steps))

    return wrapper
