"""Reading golden vectors and results files: nothing is scored, or allocated, before it is checked.

A vectors or results file is a contract between ppverify and an implementation in any language,
so it is read as untrusted input. The validation rule, in order (the first failure is an error
naming the file, the case id and the field; nothing is scored):

1. **Size.** At most ``max_bytes`` (default ``MAX_FILE_BYTES``, 512 MiB) are read. A stream (a
   pipe, ``/dev/zero``) is read in chunks and refused as soon as it passes the limit or its
   first non-blank byte is not ``{``.
2. **JSON.** UTF-8 JSON whose top level is an object; the constants ``NaN``/``Infinity`` are
   refused (the format writes ``"nan"``, ``"inf"``, ``"-inf"`` as strings); nesting too deep
   for the parser is an error, not a crash.
3. **Schema.** The document must match the published JSON Schema shipped in the package
   (``schemas/vectors-v1.schema.json``, ``schemas/results-v1.schema.json``; ``schema_path``),
   checked with ``jsonschema``: the format name and ``format_version`` 1, every required key,
   the type and range of every field (dims 1-3, a known op and dtype, positive kernel sizes and
   shapes below 2^31, floats as JSON numbers or the three strings, no extra keys). A newer
   ``format_version`` is named as such.
4. **Rules the schema cannot state.** Case ids are unique and each case's op and pooling are
   the file's; the input has as many values as its shape says and, for a valid case, they are
   finite and exactly representable in the case's dtype (as is the parameter); the parameter
   is present exactly when the operator has one; the pooling arguments have one entry per
   spatial axis and give an output for the input's shape; ``expected`` holds as many values as
   that output (and the input gradient and error scales as many as the input), and
   ``grad_output`` as many as the output. In a results file an output has as many values as
   its ``output_shape``.

The ``.npz`` forms are checked the same way, and before any array is decompressed: the entries
are listed, each array's ``.npy`` header (dtype and shape) is read and compared with the size
the JSON header declares (vectors) or with the case's sizes (results scored against vectors,
``load_results(..., vectors=)``), and at most ``MAX_ELEMENTS`` values (2^24) are read from one
file; only float64 arrays (and strings for error messages) are taken, never pickles. The arrays
of an ``.npz`` stay numpy arrays in the document returned (no Python float per value).
"""

from __future__ import annotations

import json
import math
import zipfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

VECTORS_FORMAT = "ppverify-golden-vectors"
RESULTS_FORMAT = "ppverify-results"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ELEMENTS = 1 << 24  # values in the arrays of one file (128 MiB of float64)
_CHUNK = 1 << 20


class VectorsFileError(ValueError):
    """A vectors or results file that is not valid: ``file``, ``case`` (its id, or None for
    the whole document) and ``field`` say where, the message says what."""

    def __init__(self, file, message: str, case: str | None = None, field: str | None = None):
        self.file, self.case, self.field = str(file), case, field
        where = [self.file]
        if case is not None:
            where.append(f"case {case!r}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join(where)}: {message}")


def schema_path(kind: str) -> Path:
    """The published JSON Schema of ``kind`` ``"vectors"`` or ``"results"`` (a file in the
    installed package)."""
    return Path(str(resources.files("ppverify.conformance") / "schemas"
                    / f"{kind}-v1.schema.json"))


@lru_cache(maxsize=2)
def _validator(kind: str):
    import jsonschema

    schema = json.loads(schema_path(kind).read_text())
    return jsonschema.Draft202012Validator(schema)


# ------------------------------------------------------------------ bytes and JSON


def read_limited(path, max_bytes: int = MAX_FILE_BYTES, *, want_object: bool = True) -> bytes:
    """At most ``max_bytes`` of ``path``, refusing early what cannot be a JSON object."""
    chunks, total, checked = [], 0, not want_object
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            if not checked:
                stripped = chunk.lstrip(b" \t\r\n")
                if stripped:
                    if stripped[:1] != b"{":
                        raise VectorsFileError(path, f"not a JSON object (it starts with "
                                               f"{stripped[:12]!r})")
                    checked = True
            total += len(chunk)
            if total > max_bytes:
                raise VectorsFileError(path, f"larger than the {max_bytes} bytes allowed "
                                       f"(max_bytes)")
            chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str):
    raise ValueError(f"the constant {name} is not JSON (write \"nan\", \"inf\" or \"-inf\")")


def parse_json(path, data: bytes):
    """``data`` as JSON whose top level is an object (``VectorsFileError`` otherwise)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise VectorsFileError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") \
            from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise VectorsFileError(path, "not a valid file: JSON nested too deeply") from None
    except ValueError as err:
        raise VectorsFileError(path, f"not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        kind = {list: "a list", str: "a string", type(None): "null", bool: "a boolean",
                int: "a number", float: "a number"}.get(type(doc), type(doc).__name__)
        raise VectorsFileError(path, f"the top level is {kind}, not a JSON object")
    return doc


# ------------------------------------------------------------------ schema


def _short(value, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, np.ndarray) else f"<array {value.shape}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _locate(doc: dict, path: list, list_key: str):
    """(case id, field) of a JSON path inside ``doc[list_key][i]``."""
    if len(path) >= 2 and path[0] == list_key and isinstance(path[1], int):
        item = doc[list_key][path[1]]
        case = item.get("id") if isinstance(item, dict) else None
        if not isinstance(case, str):
            case = f"#{path[1]}"
        return case, _field(path[2:])
    return None, _field(path)


def validate_schema(path, doc: dict, kind: str) -> None:
    """The first schema violation of ``doc``, as a ``VectorsFileError`` (module doc)."""
    import jsonschema

    version = doc.get("format_version")
    expected_format = VECTORS_FORMAT if kind == "vectors" else RESULTS_FORMAT
    if doc.get("format") == expected_format and isinstance(version, int) \
            and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise VectorsFileError(path, f"format_version {version} is newer than this ppverify "
                               f"reads ({FORMAT_VERSION}): update ppverify", None,
                               "format_version")
    if doc.get("format") != expected_format:
        raise VectorsFileError(path, f"not a ppverify {kind} file (format "
                               f"{_short(doc.get('format'))}, expected {expected_format!r})",
                               None, "format")
    try:
        error = next(iter(_validator(kind).iter_errors(doc)), None)
        if error is None:
            return
        error = jsonschema.exceptions.best_match([error])
    except RecursionError:
        raise VectorsFileError(path, "nested too deeply to validate") from None
    where = list(error.absolute_path)
    message = error.message
    if error.validator == "required":
        missing = message.split("'")[1] if "'" in message else ""
        where.append(missing)
        message = "missing"
    elif error.validator == "anyOf" and str(error.schema.get("description", "")).startswith(
            "an IEEE double"):
        message = (f"{_short(error.instance)} is not a float (a JSON number, or \"inf\", "
                   f"\"-inf\", \"nan\")")
    elif error.validator == "const":
        message = f"{_short(error.instance)}, expected {_short(error.validator_value)}"
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {})
        extra = sorted(k for k in error.instance if k not in allowed)
        where.append(extra[0] if extra else "")
        message = "not a field of this format"
    elif len(message) > 200 or "True" in message or "False" in message or "None" in message:
        message = message.replace(repr(error.instance), _short(error.instance))[:300]
    case, field = _locate(doc, where, "cases" if kind == "vectors" else "results")
    raise VectorsFileError(path, message, case, field)


# ------------------------------------------------------------------ vectors: the rules


def _values(record: dict, key: str):
    value = record.get(key)
    if value is None or isinstance(value, np.ndarray):
        return value
    from .jsonio import decode_array

    return decode_array(value)


def check_vectors_rules(path, doc: dict) -> None:
    """Step 4 of the module doc for a vectors document already matching the schema."""
    from .cases import Case
    from .targets import CONVENTIONS

    op = doc["op"]
    pooling = doc.get("pooling", "windowed")
    has_param = CONVENTIONS[op].has_param
    seen: dict[str, int] = {}
    for i, record in enumerate(doc["cases"]):
        cid = record["id"]

        def fail(message, field=None, cid=cid):
            raise VectorsFileError(path, message, cid, field)

        if cid in seen:
            fail(f"the id is used twice (cases #{seen[cid]} and #{i})", "id")
        seen[cid] = i
        if record.get("op", op) != op:
            fail(f"op {record['op']!r} in a file of op {op!r}", "op")
        if record.get("pooling", "windowed") != pooling:
            fail(f"pooling {record.get('pooling', 'windowed')!r} in a file of pooling "
                 f"{pooling!r}", "pooling")
        shape = tuple(record["input_shape"])
        x = _values(record, "input")
        if x.size != math.prod(shape):
            fail(f"{x.size} values for the input_shape {list(shape)} "
                 f"({math.prod(shape)} values)", "input")
        if record["expect_error"] is not None:
            continue
        dims = record["dims"]
        if len(shape) not in (dims + 1, dims + 2):
            fail(f"a {len(shape)}-D input for {dims}-D pooling (expected {dims + 1} or "
                 f"{dims + 2} axes)", "input_shape")
        if has_param != (record["param"] is not None):
            fail(f"op {op!r} {'needs' if has_param else 'takes no'} parameter", "param")
        _check_channel_params(record, shape[-dims - 1], fail)
        _check_arguments(record, dims, pooling, fail)
        try:
            case = Case.from_dict(record)
            out_shape = case.expected_shape()
        except (ValueError, TypeError) as err:
            fail(f"the pooling arguments give no output for input_shape {list(shape)}: {err}",
                 "kernel_size" if pooling == "windowed" else "output_size")
        if math.prod(out_shape) == 0:
            fail(f"the pooling arguments give an empty output {list(out_shape)}", "kernel_size")
        _check_exact(x, record, fail)
        n_out = math.prod(out_shape)
        grad = _values(record, "grad_output")
        if grad is not None and grad.size != n_out:
            fail(f"{grad.size} values for an output of shape {list(out_shape)}", "grad_output")
        e = record["expected"]
        if list(e["output_shape"]) != list(out_shape):
            fail(f"{e['output_shape']} is not the output shape {list(out_shape)} the "
                 f"pooling arguments give", "expected.output_shape")
        for key, n in (("output", n_out), ("output_scale", n_out), ("grad_input", x.size),
                       ("grad_input_scale", x.size)):
            values = _values(e, key)
            if values is not None and values.size != n:
                fail(f"{values.size} values where {n} are expected", f"expected.{key}")


def _check_channel_params(record: dict, channels: int, fail) -> None:
    """One exponent per channel (``channel_params``): as many as channels, the first equal
    to ``param``, and then a parameter gradient (and its scale) per channel; without them,
    one number each."""
    cp = record.get("channel_params")
    e = record["expected"]
    if cp is None:
        for key in ("grad_param", "grad_param_scale"):
            if isinstance(e.get(key), list):
                fail("one number per case (a list is for cases with channel_params)",
                     f"expected.{key}")
        return
    if record["param"] is None:
        fail("per-channel exponents for an op that takes no parameter", "channel_params")
    if len(cp) != channels:
        fail(f"{len(cp)} exponents for {channels} channels", "channel_params")
    if float(cp[0]) != float(record["param"]):
        fail(f"the first exponent {cp[0]!r} must equal param {record['param']!r}",
             "channel_params")
    for key in ("grad_param", "grad_param_scale"):
        value = e.get(key)
        if value is not None and (not isinstance(value, list) or len(value) != channels):
            fail(f"one value per channel ({channels}) in a case with channel_params",
                 f"expected.{key}")


def _check_arguments(record: dict, dims: int, pooling: str, fail) -> None:
    if pooling == "windowed":
        for key in ("kernel_size", "padding", "dilation", "stride"):
            value = record.get(key)
            if key == "stride" and value is None:
                continue
            if value is None or len(value) != dims:
                fail(f"{_short(value)} must have one entry per spatial axis ({dims})", key)
        return
    if record.get("kernel_size"):
        fail(f"{pooling} pooling takes no kernel_size", "kernel_size")
    size = record.get("output_size")
    if pooling == "adaptive" and (size is None or len(size) != dims):
        fail(f"{_short(size)} must have one entry per spatial axis ({dims})", "output_size")
    if pooling == "global" and size is not None and (len(size) != dims
                                                     or any(v != 1 for v in size)):
        fail(f"{_short(size)}: global pooling has output_size 1 on every axis", "output_size")


def _check_exact(x: np.ndarray, record: dict, fail) -> None:
    from .values import representable

    dtype = record["dtype"]
    if not np.all(np.isfinite(x)):
        i = int(np.argmax(~np.isfinite(x)))
        fail(f"input value #{i} is {x[i]}: a valid case has finite inputs", "input")
    with np.errstate(over="ignore"):
        exact = representable(x, dtype)
    bad = exact != x
    if np.any(bad):
        i = int(np.argmax(bad))
        fail(f"input value #{i} = {float(x[i])!r} is not exactly representable in {dtype}",
             "input")
    named = [("param", record.get("param")), ("input_min", record.get("input_min"))]
    named += [(f"channel_params[{i}]", v) for i, v in enumerate(record.get("channel_params")
                                                                or ())]
    for key, value in named:
        if value is None:
            continue
        v = np.array([float(value)])
        with np.errstate(over="ignore"):
            if not (np.isfinite(v[0]) and representable(v, dtype)[0] == v[0]):
                fail(f"{float(value)!r} is not a finite number exactly representable in "
                     f"{dtype}", key)


# ------------------------------------------------------------------ results: the rules


def check_results_rules(path, doc: dict) -> dict[str, dict]:
    """Step 4 for a results document; ``{id: result}``."""
    out: dict[str, dict] = {}
    for i, r in enumerate(doc["results"]):
        rid = r["id"]
        if rid in out:
            raise VectorsFileError(path, f"the id is used twice (results #{list(out).index(rid)}"
                                   f" and #{i})", rid, "id")
        shape, output = r.get("output_shape"), r.get("output")
        if output is not None:
            if shape is None:
                raise VectorsFileError(path, "an output needs its output_shape", rid,
                                       "output_shape")
            n = len(output) if not isinstance(output, np.ndarray) else output.size
            if n != math.prod(shape):
                raise VectorsFileError(path, f"{n} values for the output_shape {shape}", rid,
                                       "output")
        out[rid] = r
    return out


# ------------------------------------------------------------------ .npz


def _npz_arrays(path) -> tuple[zipfile.ZipFile, dict[str, tuple[str, tuple, object]]]:
    """The archive and ``{entry name: (member name, shape, dtype)}`` from the ``.npy``
    headers only (nothing is decompressed beyond each header)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, ValueError) as err:
        raise VectorsFileError(path, f"not a valid .npz (zip) file: {err}") from None
    entries = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise VectorsFileError(path, f"entry {info.filename!r} is not an .npy array")
        name = info.filename[:-4]
        try:
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                header = read_header(f)
        except Exception as err:  # a corrupt header: whatever numpy or zipfile raises
            raise VectorsFileError(path, f"entry {name!r}: not a valid .npy array "
                                   f"({type(err).__name__}: {err})") from None
        shape, _, dtype = header
        entries[name] = (info.filename, tuple(shape), dtype)
    return archive, entries


def _read_npz_array(path, archive, entries, name: str, size: int | None, *, text=False):
    """Entry ``name``, after its header says it holds ``size`` float64 values (or a string
    with ``text``)."""
    if name not in entries:
        raise VectorsFileError(path, f"entry {name!r} is missing")
    member, shape, dtype = entries[name]
    if text:
        if dtype.kind != "U" or shape != () or dtype.itemsize > 4 * MAX_FILE_BYTES // 64:
            raise VectorsFileError(path, f"entry {name!r} must be one string, got "
                                   f"{dtype} {shape}")
    else:
        if dtype != np.dtype("<f8") or dtype.hasobject:
            raise VectorsFileError(path, f"entry {name!r} must hold float64 values, got "
                                   f"{dtype}")
        if size is not None and math.prod(shape) != size:
            raise VectorsFileError(path, f"entry {name!r} holds {math.prod(shape)} values "
                                   f"(shape {list(shape)}) where {size} are declared")
    with archive.open(member) as f:
        array = np.lib.format.read_array(f, allow_pickle=False)
    return str(array) if text else array.ravel()


_VECTOR_ARRAYS = ("input", "grad_output")
_EXPECTED_ARRAYS = ("output", "grad_input", "output_scale", "grad_input_scale")


def load_vectors(path, max_bytes: int = MAX_FILE_BYTES,
                 max_elements: int = MAX_ELEMENTS) -> dict:
    """A vectors file (JSON or ``.npz``) as its JSON document, validated (module doc). In the
    ``.npz`` form the arrays come as float64 numpy arrays."""
    path = Path(path)
    if path.suffix != ".npz":
        doc = parse_json(path, read_limited(path, max_bytes))
        validate_schema(path, doc, "vectors")
        _no_references(path, doc)
        check_vectors_rules(path, doc)
        return doc
    archive, entries = _npz_arrays(path)
    with archive:
        if "header" not in entries:
            raise VectorsFileError(path, "the .npz has no 'header' entry")
        _, shape, dtype = entries["header"]
        if dtype.kind != "U" or shape != () or 4 * dtype.itemsize > max_bytes:
            raise VectorsFileError(path, f"entry 'header' must be one JSON string of at most "
                                   f"{max_bytes} bytes")
        text = _read_npz_array(path, archive, entries, "header", None, text=True)
        doc = parse_json(path, text.encode("utf-8", "surrogatepass"))
        validate_schema(path, doc, "vectors")
        declared = sum(n for record in doc["cases"] for n in _sizes(record).values()
                       if n is not None)
        if declared > max_elements:
            raise VectorsFileError(path, f"the header declares {declared} values in all, more "
                                   f"than the {max_elements} allowed (max_elements)")
        for record in doc["cases"]:
            _resolve_references(path, archive, entries, record)
    check_vectors_rules(path, doc)
    return doc


def _sizes(record: dict) -> dict[str, int | None]:
    """The number of values each array of a (schema-valid) case record must hold, from its
    declared shapes; None where the header does not say (checked after, by the rules)."""
    n_in = math.prod(record["input_shape"])
    e = record.get("expected")
    n_out = math.prod(e["output_shape"]) if isinstance(e, dict) else None
    return {"input": n_in, "grad_output": n_out, "output": n_out, "output_scale": n_out,
            "grad_input": n_in, "grad_input_scale": n_in}


def _resolve_references(path, archive, entries, record: dict) -> None:
    sizes = _sizes(record)
    targets = [(record, k) for k in _VECTOR_ARRAYS]
    if isinstance(record.get("expected"), dict):
        targets += [(record["expected"], k) for k in _EXPECTED_ARRAYS]
    for holder, key in targets:
        value = holder.get(key)
        if isinstance(value, dict) and "npz" in value:
            holder[key] = _read_npz_array(path, archive, entries, value["npz"], sizes[key])


def _no_references(path, doc: dict) -> None:
    for record in doc["cases"]:
        holders = [(record, _VECTOR_ARRAYS)]
        if isinstance(record.get("expected"), dict):
            holders.append((record["expected"], _EXPECTED_ARRAYS))
        for holder, keys in holders:
            for key in keys:
                if isinstance(holder.get(key), dict):
                    raise VectorsFileError(path, "an .npz reference in a JSON file (write the "
                                           "values)", record["id"], key)


def load_results(path, vectors: dict | None = None, max_bytes: int = MAX_FILE_BYTES,
                 max_elements: int = MAX_ELEMENTS) -> dict[str, dict]:
    """A results file as ``{id: result}``, validated (module doc). With ``vectors`` (a
    validated vectors document) an ``.npz`` entry is read only if its header declares the
    size the case needs; without, at most ``max_elements`` values are read in all."""
    path = Path(path)
    if path.suffix != ".npz":
        doc = parse_json(path, read_limited(path, max_bytes))
        validate_schema(path, doc, "results")
        return check_results_rules(path, doc)
    limits = None if vectors is None else _result_limits(vectors)
    archive, entries = _npz_arrays(path)
    grouped: dict[str, dict] = {}
    for name in entries:
        rid, _, key = name.rpartition("/")
        if limits is not None and rid and rid not in limits:
            continue  # a result for no case of these vectors: not read
        if key not in ("output", "output_shape", "grad_input", "grad_param", "error") or not rid:
            raise VectorsFileError(path, f"entry {name!r}: expected <id>/output, "
                                   f"<id>/output_shape, <id>/grad_input, <id>/grad_param or "
                                   f"<id>/error", rid or None, key or None)
        grouped.setdefault(rid, {})[key] = name
    total = 0
    out: dict[str, dict] = {}
    with archive:
        for rid, names in grouped.items():
            entry = {"id": rid}
            for key, name in names.items():
                if key == "error":
                    entry["error"] = _read_npz_array(path, archive, entries, name, None,
                                                     text=True)
                    continue
                shape = entries[name][1]
                n = math.prod(shape)
                want = _wanted(limits, rid, key, n)
                total += n
                if want is not None and n != want:
                    raise VectorsFileError(path, f"entry {name!r} holds {n} values where the "
                                           f"case needs {want}", rid, key)
                if total > max_elements:
                    raise VectorsFileError(path, f"more than {max_elements} values in all "
                                           f"(max_elements)", rid, key)
                values = _read_npz_array(path, archive, entries, name, n)
                if key == "grad_param":  # 0-d: one number; 1-d: one per channel
                    entry[key] = values.tolist() if len(shape) == 1 else float(values[0])
                elif key == "output_shape":
                    if not np.all((values >= 0) & (values < 2**31) & (values == np.round(values))):
                        raise VectorsFileError(path, "output_shape must be non-negative "
                                               "integers", rid, key)
                    entry[key] = [int(v) for v in values]
                else:
                    entry[key] = values
            out[rid] = entry
    return check_results_rules(path, {"results": list(out.values())})


def _result_limits(vectors: dict) -> dict[str, dict[str, int]]:
    """For each case id: the sizes its results may have (output: the expected output's,
    output_shape: its rank, grad_input: the input's, grad_param: 1, or one per channel)."""
    limits = {}
    for record in vectors["cases"]:
        n_in = math.prod(record["input_shape"])
        e = record.get("expected")
        out_shape = e["output_shape"] if isinstance(e, dict) else None
        limits[record["id"]] = {
            "output": None if out_shape is None else math.prod(out_shape),
            "output_shape": None if out_shape is None else len(out_shape),
            "grad_input": n_in, "grad_param": len(record.get("channel_params") or (0,))}
    return limits


def _wanted(limits, rid: str, key: str, n: int) -> int | None:
    if limits is None:
        return None
    want = limits[rid][key]
    if want is None:  # an error case: an output of any size is accepted, within reason
        return n if n <= 1 << 20 else 1 << 20
    return want
