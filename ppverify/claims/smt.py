"""z3 as the second, independent decider of sign and inequality steps.

A SymPy expression is translated into z3's real arithmetic. Sums, products and integer powers
translate exactly; everything else becomes an *atom*, a fresh real variable, with only facts
that are true of the term it replaces (so a proof about the atoms is a proof about the terms):

* ``b**e`` with a symbolic exponent: the exponent is split as ``c0 + k*core`` (``c0``, ``k``
  integers) and ``b**e = b**c0 * (b**core)**k``; the atom ``P = b**core`` is positive when SymPy
  knows ``b > 0``. Two atoms with the same ``core`` and positive bases are ordered like their
  bases when ``core > 0`` (reversed when ``core < 0``, equal when the bases are equal), and
  compared with 1 like their base (``1**core = 1``): the monotonicity of ``t -> t**core``.
* ``b**(p/q)`` with a fixed non-integer rational exponent and ``b > 0``: an atom ``P > 0`` with
  ``P**q = b**p``.
* ``log(b)`` with ``b > 0``: an atom ordered like its base among the other logarithms, with
  ``log 1 = 0`` and ``1 - 1/b <= log b <= b - 1``, strictly for ``b != 1`` (the tangent-line
  bounds of the strictly concave logarithm at 1).
* ``exp(u)``: a positive atom; any other function: an atom without facts.

A symbol's SymPy assumptions (positive, nonnegative, negative, integer) become facts.

``decide`` proves ``hypotheses => goal`` by showing ``hypotheses and not goal`` unsatisfiable.
Every denominator must first be shown non-zero under the hypotheses (z3 would otherwise give
``x/0`` an arbitrary value). A satisfying assignment is only reported as a counterexample after
SymPy has evaluated the original, un-abstracted hypotheses and goal at its symbol values and
found them true and false respectively; otherwise the answer is "undecided" (the model may be an
artefact of the abstraction). ``find_counterexample`` first fixes chosen symbols (typically an
exponent) to small integers, which often leaves a polynomial problem without atoms.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy as sp
import z3

TIMEOUT_MS = 4000

PROVED_Z3 = "proved"
REFUTED_Z3 = "refuted"
UNDECIDED_Z3 = "undecided"


@dataclass
class Answer:
    """z3's answer: ``status`` is "proved", "refuted" (with a verified ``counterexample``:
    symbol name -> exact value as a string) or "undecided" (with the ``reason``)."""

    status: str
    reason: str = ""
    counterexample: dict[str, str] | None = None
    atoms: list[str] = field(default_factory=list)


class _Translator:
    def __init__(self) -> None:
        self.vars: dict[Any, z3.ArithRef] = {}
        self.facts: list[z3.BoolRef] = []
        self.denominators: list[tuple[z3.ArithRef, sp.Expr]] = []
        self.power_atoms: dict[sp.Expr, list[tuple[sp.Expr, z3.ArithRef]]] = {}
        self.log_atoms: list[tuple[sp.Expr, z3.ArithRef]] = []
        self.atoms: dict[sp.Expr, z3.ArithRef] = {}
        self._n = itertools.count()

    # -------------------------------------------------------------- leaves
    def var(self, s) -> z3.ArithRef:
        if s not in self.vars:
            v = z3.Real(f"{s}")
            self.vars[s] = v
            if s.is_positive:
                self.facts.append(v > 0)
            elif s.is_nonnegative:
                self.facts.append(v >= 0)
            elif s.is_negative:
                self.facts.append(v < 0)
            elif s.is_nonpositive:
                self.facts.append(v <= 0)
            if s.is_integer:
                self.facts.append(z3.IsInt(v))
        return self.vars[s]

    def _fresh(self, term: sp.Expr, label: str) -> z3.ArithRef:
        if term not in self.atoms:
            self.atoms[term] = z3.Real(f"{label}{next(self._n)}[{term}]")
        return self.atoms[term]

    # -------------------------------------------------------------- expressions
    def tr(self, e) -> z3.ArithRef:
        e = sp.sympify(e)
        if e.is_Symbol or isinstance(e, sp.Indexed):
            return self.var(e)
        if e.is_Rational:
            return z3.RealVal(Fraction(int(e.p), int(e.q)))
        if e.is_Add:
            return z3.Sum([self.tr(t) for t in e.args])
        if e.is_Mul:
            num, den = [], []
            for f in e.args:
                b, ex = f.as_base_exp()
                if ex.is_Integer and ex < 0:
                    den.append(self.tr(b**-ex))
                else:
                    num.append(self.tr(f))
            out = z3.Product(num) if num else z3.RealVal(1)
            if den:
                d = z3.Product(den) if len(den) > 1 else den[0]
                self.denominators.append((d, sp.Mul(*[f for f in e.args
                                                      if f.as_base_exp()[1].is_negative])))
                out = out / d
            return out
        if e.is_Pow:
            return self._pow(*e.as_base_exp())
        if isinstance(e, sp.exp):
            return self._pow(sp.E, e.args[0])
        if isinstance(e, sp.log):
            return self._log(e)
        if e.is_number and e.is_real:
            # e.g. pi or sqrt(2) * something: an atom with its sign
            v = self._fresh(e, "c")
            q = Fraction(str(sp.Rational(sp.nsimplify(sp.N(e, 30), rational=True))))
            lo, hi = q - Fraction(1, 10**20), q + Fraction(1, 10**20)
            self.facts.append(z3.And(v > z3.RealVal(lo), v < z3.RealVal(hi)))
            return v
        return self._fresh(e, "f")  # an uninterpreted term: no facts

    def _pow(self, b, ex) -> z3.ArithRef:
        if ex.is_Integer:
            n = int(ex)
            if n >= 0:
                tb = self.tr(b)
                return tb**n if n > 1 else (tb if n == 1 else z3.RealVal(1))
            d = self.tr(b**-n)
            self.denominators.append((d, b**-n))
            return 1 / d
        c0, rest = ex.as_coeff_Add()
        k, core = rest.as_coeff_Mul()
        if c0.is_Integer and k.is_Integer and not core.is_number:
            atom = self._power_atom(b, core)
            kk = int(k)
            powered = atom**abs(kk) if abs(kk) != 1 else atom
            if kk < 0:
                powered = 1 / powered  # atom > 0 whenever this is used on a positive base
                self.denominators.append((atom if abs(kk) == 1 else atom**abs(kk), b**core))
            return powered * self._pow(b, c0) if c0 != 0 else powered
        if ex.is_Rational and b.is_positive:  # fixed rational, non-integer exponent
            atom = self._fresh(b**ex, "r")
            p, q = int(ex.p), int(ex.q)
            tb = self.tr(b)
            self.facts.append(atom > 0)
            if p > 0:
                self.facts.append(atom**q == tb**p)
            else:
                self.facts.append(atom**q * tb**(-p) == 1)
            return atom
        return self._fresh(b**ex, "f")

    def _power_atom(self, b, core) -> z3.ArithRef:
        term = b**core
        if term in self.atoms:
            return self.atoms[term]
        atom = self._fresh(term, "P")
        if b.is_positive or b == sp.E:
            self.facts.append(atom > 0)
            tb = self.tr(b) if b != sp.E else z3.RealVal(Fraction(27182818284590452, 10**16))
            tc = self.tr(core)
            one = z3.RealVal(1)
            # 1**core = 1: compare with the base 1; core = 0 gives 1
            self.facts += [
                z3.Implies(tc == 0, atom == one),
                z3.Implies(z3.And(tc > 0, tb < one), atom < one),
                z3.Implies(z3.And(tc > 0, tb > one), atom > one),
                z3.Implies(z3.And(tc < 0, tb < one), atom > one),
                z3.Implies(z3.And(tc < 0, tb > one), atom < one),
                z3.Implies(tb == one, atom == one),
            ]
            for b2, atom2 in self.power_atoms.get(core, []):
                tb2 = self.tr(b2) if b2 != sp.E else z3.RealVal(
                    Fraction(27182818284590452, 10**16))
                self.facts += [
                    z3.Implies(tb == tb2, atom == atom2),
                    z3.Implies(z3.And(tc > 0, tb < tb2), atom < atom2),
                    z3.Implies(z3.And(tc > 0, tb > tb2), atom > atom2),
                    z3.Implies(z3.And(tc < 0, tb < tb2), atom > atom2),
                    z3.Implies(z3.And(tc < 0, tb > tb2), atom < atom2),
                ]
            self.power_atoms.setdefault(core, []).append((b, atom))
        return atom

    def _log(self, e) -> z3.ArithRef:
        if e in self.atoms:
            return self.atoms[e]
        atom = self._fresh(e, "L")
        b = e.args[0]
        if b.is_positive:
            tb = self.tr(b)
            one = z3.RealVal(1)
            # ln b <= b - 1 and b ln b >= b - 1, strictly unless b = 1 (strict concavity)
            self.facts += [z3.Implies(tb == one, atom == 0), z3.Implies(tb > one, atom > 0),
                           z3.Implies(tb < one, atom < 0), atom <= tb - one,
                           atom * tb >= tb - one,
                           z3.Implies(tb != one, z3.And(atom < tb - one, atom * tb > tb - one))]
            for b2, atom2 in self.log_atoms:
                tb2 = self.tr(b2)
                self.facts += [z3.Implies(tb < tb2, atom < atom2),
                               z3.Implies(tb > tb2, atom > atom2),
                               z3.Implies(tb == tb2, atom == atom2)]
            self.log_atoms.append((b, atom))
        return atom

    def formula(self, rel) -> z3.BoolRef:
        rel = sp.sympify(rel)
        if rel is sp.true or rel == sp.true:
            return z3.BoolVal(True)
        if rel is sp.false or rel == sp.false:
            return z3.BoolVal(False)
        if isinstance(rel, sp.And):
            return z3.And([self.formula(r) for r in rel.args])
        if isinstance(rel, sp.Or):
            return z3.Or([self.formula(r) for r in rel.args])
        if isinstance(rel, sp.Not):
            return z3.Not(self.formula(rel.args[0]))
        if isinstance(rel, sp.Implies):
            return z3.Implies(self.formula(rel.args[0]), self.formula(rel.args[1]))
        ops = {sp.StrictLessThan: lambda x, y: x < y, sp.LessThan: lambda x, y: x <= y,
               sp.StrictGreaterThan: lambda x, y: x > y, sp.GreaterThan: lambda x, y: x >= y,
               sp.Equality: lambda x, y: x == y, sp.Unequality: lambda x, y: x != y}
        for cls, op in ops.items():
            if isinstance(rel, cls):
                return op(self.tr(rel.lhs), self.tr(rel.rhs))
        raise TypeError(f"cannot translate {rel!r} ({type(rel).__name__}) to z3")


def _normalise(e):
    """Split powers of products/quotients of positive bases and collect exponents, so that
    ``(x/m)**a`` and ``x**(a-1)`` share the atoms ``x**a`` and ``m**a``."""
    e = sp.sympify(e)
    if isinstance(e, sp.Basic) and not isinstance(e, sp.logic.boolalg.Boolean):
        return sp.expand_power_exp(sp.expand_power_base(e))
    if isinstance(e, sp.Rel):
        return e.func(_normalise(e.lhs), _normalise(e.rhs))
    if isinstance(e, (sp.And, sp.Or, sp.Not, sp.Implies)):
        return e.func(*[_normalise(a) for a in e.args])
    return e


def _value(v: z3.ArithRef) -> Fraction:
    if z3.is_rational_value(v):
        return Fraction(v.as_fraction())
    if z3.is_algebraic_value(v):
        return Fraction(v.approx(30).as_fraction()).limit_denominator(10**12)
    raise ValueError(f"cannot read the value {v}")


def _holds(rel, subs) -> bool | None:
    """SymPy's exact truth value of ``rel`` at ``subs`` (None when it cannot tell)."""
    r = sp.sympify(rel).subs(subs)
    if r in (sp.true, True):
        return True
    if r in (sp.false, False):
        return False
    if isinstance(r, sp.Rel):
        diff = sp.nsimplify(r.lhs - r.rhs) if r.lhs.is_number and r.rhs.is_number else None
        if diff is not None and diff.is_real is False:
            return False  # not even a real number: the relation does not hold
        try:
            out = r.func(sp.N(r.lhs, 60), sp.N(r.rhs, 60))
        except TypeError:
            return None
        if out in (sp.true, sp.false):
            # confirm at a second precision to rule out a rounding artefact
            again = r.func(sp.N(r.lhs, 120), sp.N(r.rhs, 120))
            return bool(out) if again == out else None
    return None


def decide(goal, hypotheses=(), *, timeout_ms: int = TIMEOUT_MS) -> Answer:
    """Does ``hypotheses => goal`` hold for every real value of the free symbols (with their
    SymPy assumptions)? ``goal`` and each hypothesis are SymPy relations or boolean
    combinations of them."""
    tr = _Translator()
    hyps = [tr.formula(_normalise(h)) for h in hypotheses]
    g = tr.formula(_normalise(goal))
    base = tr.facts + hyps
    names = sorted(str(k) for k in tr.atoms)
    for d, what in tr.denominators:
        s = z3.Solver()
        s.set(timeout=timeout_ms)
        s.add(*tr.facts, *hyps, d == 0)
        if s.check() != z3.unsat:
            return Answer(UNDECIDED_Z3, f"z3 cannot show the denominator {what} is non-zero",
                          atoms=names)
    s = z3.Solver()
    s.set(timeout=timeout_ms)
    s.add(*base, z3.Not(g))
    res = s.check()
    if res == z3.unsat:
        return Answer(PROVED_Z3, "hypotheses and not goal: unsat", atoms=names)
    if res == z3.unknown:
        return Answer(UNDECIDED_Z3, f"z3: unknown ({s.reason_unknown()})", atoms=names)
    model = s.model()
    subs, cex = {}, {}
    for sym, v in tr.vars.items():
        val = model.eval(v, model_completion=True)
        try:
            q = _value(val)
        except ValueError:
            return Answer(UNDECIDED_Z3, f"unreadable model value {val}", atoms=names)
        subs[sym] = sp.Rational(q.numerator, q.denominator)
        cex[str(sym)] = str(subs[sym])
    if all(_holds(h, subs) is True for h in hypotheses) and _holds(goal, subs) is False:
        return Answer(REFUTED_Z3, "counterexample verified by SymPy without abstraction",
                      cex, atoms=names)
    return Answer(UNDECIDED_Z3, "z3's model was not confirmed without the abstraction "
                  f"({cex})", atoms=names)


def find_counterexample(goal, hypotheses=(), *, fix: dict | None = None,
                        timeout_ms: int = TIMEOUT_MS) -> Answer:
    """z3 as a counterexample finder: try ``decide`` with each combination of the values in
    ``fix`` (symbol -> list of values) substituted; the first verified counterexample wins
    (its dict includes the fixed values)."""
    fix = fix or {}
    keys = list(fix)
    last = Answer(UNDECIDED_Z3, "no combination tried")
    for combo in itertools.product(*(fix[k] for k in keys)) if keys else [()]:
        sub = dict(zip(keys, combo))
        ans = decide(sp.sympify(goal).subs(sub), [sp.sympify(h).subs(sub) for h in hypotheses],
                     timeout_ms=timeout_ms)
        if ans.status == REFUTED_Z3:
            ans.counterexample = {**{str(k): str(v) for k, v in sub.items()},
                                  **(ans.counterexample or {})}
            return ans
        last = ans
    return last
