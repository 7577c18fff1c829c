"""Golden vectors for implementations outside Python, and scoring results computed elsewhere.

Vectors file (``.json``, or ``.npz`` with the same content), format version 1
--------------------------------------------------------------------------------
A JSON object::

    {"format": "ppverify-golden-vectors", "format_version": 1,
     "op": "ppool", "title": ..., "formula": "y = sum x^(alpha+1) / sum x^alpha",
     "param_name": "alpha", "padding": "padded positions are excluded; ...",
     "float_encoding": ..., "tolerances_ulp": {"output": {"float32": 16, ...}, ...},
     "cases": [CASE, ...]}

Each CASE describes one call ``y = f(input, param, kernel_size, stride, padding, dilation,
ceil_mode)`` with torch's window layout (``ppverify.windows``), or, with ``"pooling":
"adaptive"``, ``y = f(input, param, output_size)`` (torch's adaptive window rule), or, with
``"pooling": "global"``, one value per plane ``y = f(input, param)``::

    {"id": "ppool2d-0007", "dims": 2, "dtype": "float32",      # float64/float32/float16/bfloat16
     "input_shape": [N, C, H, W], "input": [...],               # row-major, exact in dtype
     "param": 2.5,                                              # null for avg/max
     "channel_params": [2.5, 0.5, 3.0],                         # only with --per-channel:
                                                                # one per channel (C,)
     "kernel_size": [kh, kw], "stride": [sh, sw] or null (= kernel_size),
     "padding": [ph, pw], "dilation": [dh, dw], "ceil_mode": false,
     "count_include_pad": false,                                # padded zeros counted or not
     "pooling": "windowed", "output_size": null,                # adaptive: [oh, ow]
     "labels": {"dtype": ..., "kind": ..., "param": "ordinary",  # what the case exercises
                "feature": "stride", "layout": ..., "batched": ...},
     "grad_output": [...],                                      # upstream gradient, output shape
     "expect_error": null,                                      # or why the call must fail
     "expected": {"output_shape": [...], "output": [...],       # correctly rounded to dtype
                  "grad_input": [...],                          # VJP with grad_output
                  "grad_param": number or null,                 # d(sum g*y)/d(param)
                                                                # (per channel: a list)
                  "output_scale": [...], "grad_input_scale": [...], "grad_param_scale": number,
                  "conventions": {"note": count}}}              # see ppverify.oracle.operators

Floats are JSON numbers (shortest round-trip decimal; read them as IEEE doubles, then convert
to the case's dtype: the conversion is exact) or the strings "inf", "-inf", "nan". A case with
``expect_error`` has ``"expected": null``: a conforming implementation rejects it (raises or
returns an error), or, for domain errors marked ``"nan_signals": true``, returns NaN/Inf.

In the ``.npz`` form, the entry ``header`` holds the JSON above as a string, in which each
array is replaced by ``{"npz": "<key>"}`` naming the float64 array entry that holds it.

Both formats are published as JSON Schemas shipped in the package
(``ppverify/conformance/schemas/vectors-v1.schema.json`` and ``results-v1.schema.json``,
``schema_path("vectors")``). ``load_vectors`` and ``load_results`` (``vectorfiles``) accept a
file only if it matches the schema and the rules the schema cannot state (sizes agree with
shapes, values exact in their dtype, unique ids); anything else is a ``VectorsFileError``
naming the file, the case id and the field, and nothing is scored.

Results file (``.json`` or ``.npz``), format version 1
------------------------------------------------------
::

    {"format": "ppverify-results", "format_version": 1,
     "results": [{"id": "ppool2d-0007",
                  "output_shape": [...], "output": [...],     # row-major
                  "grad_input": [...] or null,                # null: no gradient computed
                  "grad_param": number or null,               # a list: one per channel
                  "error": null or "message"}, ...]}          # the call failed

In ``.npz`` form: entries ``<id>/output``, ``<id>/output_shape``, ``<id>/grad_input``,
``<id>/grad_param`` (0-d, or 1-d per channel), ``<id>/error`` (a string); absent entries mean
null.
Scoring (``ppverify check --vectors V --results R``) judges each result exactly as
``ppverify check`` judges a run and groups the failures by cause in the same way (the
smallest failing case of each group stands for it: results cannot be re-run to shrink); a case
without a result counts as failed. The file's error scales are float64, capped at its largest
value (a scale can exceed the range where terms of 1e328 cancel): scoring computes a capped
case's scales again from its input (in long double, no oracle run), and, as ``check`` does,
asks the oracle for the exact values of results beside an infinite reference
(``compare.beyond_range_errors``). A reader judging from the file alone sees the capped scale.

``build_vectors(..., accepts=("stride",))`` (``ppverify vectors --args kernel_size,stride``)
writes only cases using the pooling arguments an implementation supports; ``pooling`` and
``kinds``/``dtypes`` select as in ``ppverify check``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import atomic_open
from ..oracle import CertificationError, OracleDomainError, get_operator
from .cases import Case
from .compare import CATEGORIES, CATEGORY_TITLES, Finding, judge, judge_error_case
from .expected import Expected, expected_for, judged_under_other_ties, tie_conventions
from .generate import error_cases, iter_cases, make_plan
from .jsonio import (
    atomic_write_bytes,
    atomic_write_json,
    decode_array,
    decode_float,
    encode_array,
    encode_float,
)
from .runner import Outcome
from .targets import CONVENTIONS
from .tolerances import Tolerances
from .vectorfiles import (  # noqa: F401 - the readers are part of this module's interface
    FORMAT_VERSION,
    VectorsFileError,
    load_results,
    load_vectors,
    schema_path,
)
from .vectorfiles import RESULTS_FORMAT as RESULTS_FORMAT
from .vectorfiles import VECTORS_FORMAT as FORMAT

FLOAT_ENCODING = ("JSON numbers are shortest round-trip decimals of IEEE doubles, exact in the "
                  "case's dtype; 'inf', '-inf', 'nan' are strings; arrays are flat, row-major")


MAX_CASES_PER_DIM = 100_000  # one file; more: several files with other seeds


def build_vectors(op: str, dims=(1, 2, 3), count: int = 24, seed: int = 0,
                  dtypes=("float64", "float32", "float16", "bfloat16"),
                  include_errors: bool = True, kinds=None, pooling: str = "windowed",
                  accepts=None, batched_only: bool = False, per_channel: bool = False,
                  forward_only: bool = False) -> dict:
    """The vectors document for ``op`` (see module doc). ``accepts``: the optional pooling
    arguments used (default: every one of the operator's convention). ``vectors_stream``
    gives the same document without holding its cases."""
    header, records, _ = vectors_stream(op, dims, count, seed, dtypes, include_errors, kinds,
                                        pooling, accepts, batched_only, per_channel,
                                        forward_only)
    return {**header, "cases": list(records)}


def vectors_stream(op: str, dims=(1, 2, 3), count: int = 24, seed: int = 0,
                   dtypes=("float64", "float32", "float16", "bfloat16"),
                   include_errors: bool = True, kinds=None, pooling: str = "windowed",
                   accepts=None, batched_only: bool = False, per_channel: bool = False,
                   forward_only: bool = False):
    """``(header, records, total)``: the document without its cases, an iterator of the case
    records (each computed by the oracle as it is taken; cases the oracle cannot certify are
    left out) and the number of cases it goes through (for progress). Arguments are checked
    here: at most ``MAX_CASES_PER_DIM`` valid cases per dimension. With ``batched_only`` every
    valid case's input is batched, ``(N, C, *spatial)``; with ``per_channel`` every valid case
    has one exponent per channel (``channel_params``) and one parameter gradient per channel
    (error cases keep one exponent); with ``forward_only`` the expected gradients and their
    scales are null (for implementations without a backward; faster to write)."""
    from .values import VALUE_KINDS

    conv = CONVENTIONS[op]
    info = get_operator(op)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    if count > MAX_CASES_PER_DIM:
        raise ValueError(f"count {count} is more than the {MAX_CASES_PER_DIM} valid cases per "
                         f"dimension one vectors file holds; write several files with "
                         f"different --seed values instead")
    accepts = frozenset(conv.optional_args if accepts is None else accepts)
    unknown = accepts - set(conv.optional_args)
    if unknown:
        raise ValueError(f"--args: {op} takes {', '.join(('kernel_size',) + conv.optional_args)}"
                         f"; not {', '.join(sorted(unknown))}")
    if pooling != "windowed":
        accepts = frozenset()
    dims = tuple(dims)
    streams, total = [], 0
    for d in dims:
        plan = make_plan(op, pooling, accepts, dtypes=tuple(dtypes), layouts=("contiguous",),
                         kinds=tuple(kinds or VALUE_KINDS), batched_only=batched_only,
                         per_channel=per_channel)
        valid = iter_cases(op, d, accepts, count=count, seed=seed + d, pooling=pooling,
                           plan=plan)
        errors = error_cases(op, d, accepts, seed=seed, pooling=pooling) \
            if include_errors else []
        streams.append((valid, errors))
        total += count + len(errors)
    passed = tuple(a for a in conv.optional_args if a in accepts)

    def records():
        for valid, errors in streams:
            for case in valid:
                case.passed_args = passed
                case.gradients = not forward_only
                try:
                    exp = expected_for(case)
                except (OracleDomainError, CertificationError, ValueError):
                    yield None  # counted for progress, not written
                    continue
                yield _case_record(case, exp)
            for case in errors:
                yield _case_record(case, None)

    call = {"windowed": f"f(input, {'param, ' if conv.has_param else ''}kernel_size"
                        + "".join(f", {a}" for a in conv.optional_args if a in accepts) + ")",
            "adaptive": f"f(input, {'param, ' if conv.has_param else ''}output_size)",
            "global": f"f(input{', param' if conv.has_param else ''})"}[pooling]
    if per_channel:
        call += ("; param: a tensor of shape (C,), channel_params (one exponent per channel; "
                 "error cases: one number), and the parameter gradient one value per channel")
    if forward_only:
        call += "; forward only: the expected gradients are null, outputs alone are judged"
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "op": op, "title": info.title,
        "formula": info.formula, "param_name": info.param_name, "padding": info.padding,
        "pooling": pooling, "arguments": ["kernel_size", *sorted(accepts)]
        if pooling == "windowed" else [], "calling_convention": call,
        "float_encoding": FLOAT_ENCODING, "tolerances_ulp": Tolerances().to_dict(),
    }
    return header, _Records(records()), total


class _Records:
    """The records of ``vectors_stream``: iterating skips the cases the oracle left out;
    ``taken`` counts every case gone through (written or not), for progress."""

    def __init__(self, items):
        self._items = items
        self.taken = 0

    def __iter__(self):
        for record in self._items:
            self.taken += 1
            if record is not None:
                yield record


def _case_record(case: Case, exp: Expected | None) -> dict:
    record = case.to_dict()
    for key in ("layout", "passed_args", "kind", "gradients"):
        record.pop(key, None)
    record["kind"] = case.kind
    if exp is None:
        record["expected"] = None
        return record
    record["expected"] = {
        "output_shape": list(exp.output.shape),
        "output": encode_array(exp.output),
        "grad_input": None if exp.grad_input is None else encode_array(exp.grad_input),
        "grad_param": None if exp.grad_param is None else _encode_number_or_array(
            exp.grad_param),
        "output_scale": encode_array(_finite(exp.output_scale)),
        "grad_input_scale": None if exp.grad_input_scale is None
        else encode_array(_finite(exp.grad_input_scale)),
        "grad_param_scale": _encode_number_or_array(_finite(exp.grad_param_scale)),
        "conventions": dict(exp.notes),
    }
    return record


def _encode_number_or_array(value):
    """A parameter gradient (or its scale): one number, or a list of one per channel."""
    value = np.asarray(value, dtype=np.float64)
    return encode_array(value) if value.ndim else encode_float(float(value))


def _finite(scale):
    """Error scales as float64 (a scale beyond float64's range is capped at its maximum)."""
    return np.minimum(np.asarray(scale, dtype=np.longdouble),
                      np.finfo(np.float64).max).astype(np.float64)


# ------------------------------------------------------------------ writing and reading

_ARRAY_KEYS = ("input", "grad_output")
_EXPECTED_ARRAYS = ("output", "grad_input", "output_scale", "grad_input_scale")


def write_vectors(doc: dict, path: str | Path, *, records=None, total: int | None = None,
                  progress=None) -> int:
    """Write ``doc`` as JSON or .npz (by extension), atomically, one case at a time; the
    number of cases written. The cases come from ``records`` (default ``doc["cases"]``; the
    iterator of ``vectors_stream`` is written as the oracle computes it, never held whole).
    ``progress(done, total)`` is called after each case."""
    path = Path(path)
    if path.suffix not in (".npz", ".json"):
        raise ValueError(f"out must end in .json or .npz, got {str(path)!r}")
    head = {k: v for k, v in doc.items() if k != "cases"}
    items = doc.get("cases", []) if records is None else records
    written = 0

    def tick():
        nonlocal written
        written += 1
        if progress is not None:
            progress(getattr(items, "taken", written), total)

    with atomic_open(path) as handle:
        if path.suffix == ".json":
            handle.write(b"{\n")
            for key, value in head.items():
                handle.write(f" {json.dumps(key)}: {json.dumps(value, allow_nan=False)},\n"
                             .encode())
            handle.write(b' "cases": [')
            for i, record in enumerate(items):
                handle.write((",\n  " if i else "\n  ").encode()
                             + json.dumps(record, allow_nan=False).encode())
                tick()
            handle.write(b"\n ]\n}\n")
            return written
        cases = []
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for record in items:
                record = json.loads(json.dumps(record, allow_nan=False))
                for key in _ARRAY_KEYS:
                    _to_npz(record, key, f"{record['id']}/{key}", archive)
                if record.get("expected"):
                    for key in _EXPECTED_ARRAYS:
                        _to_npz(record["expected"], key, f"{record['id']}/expected/{key}",
                                archive)
                cases.append(record)
                tick()
            with archive.open("header.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.array(json.dumps({**head, "cases": cases},
                                                                 allow_nan=False)))
    return written


def _to_npz(record: dict, key: str, name: str, archive: zipfile.ZipFile) -> None:
    if record.get(key) is None:
        return
    with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, decode_array(record[key]), allow_pickle=False)
    record[key] = {"npz": name}


def write_results(results: list[dict], path: str | Path) -> None:
    """Write a results document (list of per-case dicts, see module doc), atomically."""
    doc = {"format": RESULTS_FORMAT, "format_version": FORMAT_VERSION, "results": results}
    path = Path(path)
    if path.suffix == ".npz":
        arrays = {}
        for r in results:
            for key in ("output", "grad_input", "output_shape"):
                if r.get(key) is not None:
                    arrays[f"{r['id']}/{key}"] = decode_array(r[key])
            if isinstance(r.get("grad_param"), list):  # one per channel: a 1-D entry
                arrays[f"{r['id']}/grad_param"] = decode_array(r["grad_param"])
            elif r.get("grad_param") is not None:
                arrays[f"{r['id']}/grad_param"] = np.array(decode_float(r["grad_param"]))
            if r.get("error") is not None:
                arrays[f"{r['id']}/error"] = np.array(str(r["error"]))
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(path, buf.getvalue())
    else:
        atomic_write_json(path, doc)


# ------------------------------------------------------------------------------ scoring


@dataclass
class Score:
    op: str
    cases: int = 0
    passed: int = 0
    missing: list[str] = field(default_factory=list)
    failures: dict[str, list[tuple[str, Finding]]] = field(default_factory=dict)
    tolerances: Tolerances = field(default_factory=Tolerances)
    groups: list = field(default_factory=list)
    tie_conventions: Counter = field(default_factory=Counter)  # max/min: passed under another

    @property
    def conforms(self) -> bool:
        return self.cases > 0 and not self.missing and not any(self.failures.values())

    def to_dict(self) -> dict:
        return {
            "op": self.op, "conforms": self.conforms, "cases": self.cases,
            "passed": self.passed, "missing_results": self.missing,
            "tie_conventions": dict(self.tie_conventions),
            "tolerances_ulp": self.tolerances.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
            "categories": {c: {"title": CATEGORY_TITLES[c], "failed_cases": len(v),
                               "worst": None if not v else {"id": _worst(v)[0],
                                                            **_worst(v)[1].to_dict()}}
                           for c, v in self.failures.items()},
        }


def _worst(items):
    return max(items, key=lambda item: item[1].severity)


def _outcome_from_result(result: dict, case: Case) -> Outcome:
    out = Outcome()
    if result.get("error") is not None:
        out.error, out.error_phase = str(result["error"]), "forward"
        return out
    if result.get("output") is None:  # no output and no error: judged as a missing output
        out.input_grad_missing = case.expect_error is None
        return out
    shape = tuple(int(v) for v in result.get("output_shape") or ())
    values = decode_array(result["output"])
    out.output_shape = shape
    out.output = values.reshape(shape) if values.size == int(np.prod(shape)) else values
    if result.get("grad_input") is None:
        out.input_grad_missing = case.expect_error is None
    else:
        g = decode_array(result["grad_input"])
        out.grad_input = g.reshape(case.input.shape) if g.size == case.input.size else g
    gp = result.get("grad_param")
    if case.param is not None and gp is not None:  # a list: one per channel (length judged)
        out.param_mode, out.grad_param = "tensor", _decode_number_or_array(gp)
        if case.per_channel and not isinstance(out.grad_param, np.ndarray):
            out.grad_param = np.array([out.grad_param])  # one channel's, written as a number
    return out


def _expected_from_record(record: dict, case: Case) -> Expected:
    """The record's expected results. Its error scales are float64, capped at float64's largest
    value (``_finite``); where one is capped, the case's scales are computed again in long
    double (``expected.case_scales``: no oracle run), so that scoring judges as ``check``
    does (a scale of 1.5e328 read as 1.8e308 would tighten that result's tolerance 2^66-fold)."""
    from .expected import case_scales

    e = record["expected"]
    shape = tuple(e["output_shape"])
    gin = None if e.get("grad_input") is None else decode_array(e["grad_input"]).reshape(
        case.input.shape)
    gin_scale = None if e.get("grad_input_scale") is None else decode_array(
        e["grad_input_scale"]).reshape(case.input.shape)
    out_scale = decode_array(e["output_scale"]).reshape(shape)
    gpar_scale = _decode_number_or_array(e.get("grad_param_scale", 0.0))
    cap = np.finfo(np.float64).max
    if any(s is not None and np.any(np.asarray(s) >= cap)
           for s in (out_scale, gin_scale, gpar_scale)):
        out_scale, again, gpar_again = case_scales(case, gradients=gin_scale is not None)
        if gin_scale is not None:
            gin_scale, gpar_scale = again, gpar_again
        out_scale = out_scale.reshape(shape)
    return Expected(decode_array(e["output"]).reshape(shape), gin,
                    _decode_number_or_array(e.get("grad_param")), out_scale, gin_scale,
                    gpar_scale, Counter(e.get("conventions") or {}))


def _without_gradients(expected: Expected) -> Expected:
    from dataclasses import replace

    return replace(expected, grad_input=None, grad_param=None, grad_input_scale=None)


def _decode_number_or_array(value):
    if value is None:
        return None
    return decode_array(value) if isinstance(value, list | np.ndarray) else decode_float(value)


def score(vectors: dict, results: dict[str, dict], tol: Tolerances | None = None,
          ties: str = "any", forward_only: bool = False) -> Score:
    """Judge ``results`` (by case id) against ``vectors``; failures grouped as by ``check``.
    ``ties`` (max and min) as in ``check``: under ``"any"`` a result whose only failure is its
    input gradient is judged again, by the oracle, under the other tie conventions. With
    ``forward_only`` (or vectors written so: their expected gradients null) only outputs are
    judged."""
    from .diagnosis import group_failures
    from .driver import CaseResult
    from .reproducer import reproducer
    from .targets import TIES

    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)}, got {ties!r}")

    tol = tol or Tolerances()
    s = Score(vectors["op"], tolerances=tol)
    s.failures = {c: [] for c in CATEGORIES}
    judged = []
    for record in vectors["cases"]:
        case = Case.from_dict(record)
        s.cases += 1
        result = results.get(case.id)
        if result is None:
            s.missing.append(case.id)
            continue
        if forward_only:
            case.gradients = False
        outcome = _outcome_from_result(result, case)
        if case.expect_error is not None:
            findings = judge_error_case(case, outcome)
        else:
            conventions = tie_conventions(case, ties)
            expected = _expected_from_record(record, case) if conventions[0] == "first" \
                else expected_for(case, ties=conventions[0])
            if not case.gradients:
                expected = _without_gradients(expected)
            findings, passed_as = judged_under_other_ties(
                case, judge(case, outcome, expected, tol, False), conventions,
                lambda other, case=case, outcome=outcome: judge(case, outcome, other, tol, False))
            if passed_as is not None:
                s.tie_conventions[passed_as] += 1
        for f in findings:
            s.failures[f.category].append((case.id, f))
        s.passed += not findings
        judged.append(CaseResult(case, findings, None, outcome.output_shape))
    s.groups = group_failures(judged)
    for g in s.groups:  # results cannot be re-run: the smallest failing case stands for each
        smallest = min((r for r in judged if r.case.id in set(g.case_ids)),
                       key=lambda r: r.case.input.size)
        g.minimal_case = smallest.case
        from .diagnosis import primary

        g.minimal_finding = primary(smallest.findings)
        g.reproducer = f"# vectors case {smallest.case.id}\n" + reproducer(
            "yourmodule:your_function", smallest.case)
    return s


def format_score(s: Score) -> str:
    from .summary import format_groups, format_tolerances
    from .targets import TIE_TITLES

    lines = [f"ppverify check --vectors ({s.op}): {s.cases} cases, {s.passed} passed, "
             f"{len(s.missing)} without results", ""]
    lines += format_tolerances(s.tolerances)
    lines.append("")
    lines += format_groups(s.groups)
    for convention, n in s.tie_conventions.items():
        lines.append(f"ties: {n} case(s) passed with the derivative at a tie "
                     f"{TIE_TITLES[convention]} (--ties first requires torch's)")
    if s.missing:
        lines.append(f"missing results: {', '.join(s.missing[:10])}"
                     + (" ..." if len(s.missing) > 10 else ""))
    lines.append("")
    lines.append("CONFORMS" if s.conforms else "DOES NOT CONFORM")
    return "\n".join(lines)


def results_from_target(vectors: dict, target) -> list[dict]:
    """Compute a results document's entries by running a Python (torch) target on vectors.

    ``target`` is ``"module:callable"`` (``{d}`` is replaced by each case's dimension) or a
    callable; every conventional pooling argument is passed explicitly. Mainly a worked
    example of the results format; ``ppverify check TARGET`` is the direct way.
    """
    from dataclasses import replace

    from .runner import run_case
    from .targets import Target, resolve

    op = vectors["op"]
    pooling = vectors.get("pooling", "windowed")
    args = tuple(a for a in CONVENTIONS[op].optional_args
                 if a in vectors.get("arguments", CONVENTIONS[op].optional_args))
    targets: dict[int, Target] = {}
    out = []
    for record in vectors["cases"]:
        case = Case.from_dict(record)
        if case.dims not in targets:
            t = resolve(target, op, case.dims, pooling=pooling)
            targets[case.dims] = replace(t, accepts=frozenset(args))
        case.passed_args = args if pooling == "windowed" else ()
        o = run_case(targets[case.dims], case)
        out.append({
            "id": case.id, "error": o.error,
            "output_shape": None if o.output_shape is None else list(o.output_shape),
            "output": None if o.output is None else encode_array(o.output),
            "grad_input": None if o.grad_input is None else encode_array(o.grad_input),
            "grad_param": None if o.grad_param is None else _encode_number_or_array(
                o.grad_param),
        })
    return out
