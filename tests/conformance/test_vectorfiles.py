"""Golden files are untrusted input (issues 16 and 17): every corruption is a named error, nothing
corrupt is scored, and no file can exhaust memory or hang the reader."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ppverify.cli import main
from ppverify.conformance.vectorfiles import (
    MAX_ELEMENTS,
    VectorsFileError,
    load_results,
    load_vectors,
    schema_path,
)
from ppverify.conformance.vectors import build_vectors, score, write_results, write_vectors

# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def doc():
    """A small valid vectors document (ppool, 1-D, ordinary values) as plain JSON data."""
    built = build_vectors("ppool", dims=(1,), count=4, seed=5, kinds=("random",),
                          dtypes=("float64", "float32"))
    return json.loads(json.dumps(built))


def _perfect(doc) -> list[dict]:
    out = []
    for c in doc["cases"]:
        e = c["expected"]
        if e is None:
            out.append({"id": c["id"], "error": "rejected"})
        else:
            out.append({"id": c["id"], "output_shape": e["output_shape"], "output": e["output"],
                        "grad_input": e["grad_input"], "grad_param": e["grad_param"],
                        "error": None})
    return out


def _write(tmp_path, name, value) -> str:
    path = tmp_path / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return str(path)


def _valid_index(doc) -> int:
    return next(i for i, c in enumerate(doc["cases"]) if c["expected"] is not None)


# ------------------------------------------------------------------ the schema itself


def test_the_schemas_are_published_and_valid():
    import jsonschema

    for kind in ("vectors", "results"):
        path = schema_path(kind)
        assert path.is_file() and path.parent.name == "schemas"
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["format_version"] == {"const": 1}


def test_a_written_file_matches_its_schema(doc, tmp_path):
    import jsonschema

    path = tmp_path / "v.json"
    write_vectors(doc, path)
    jsonschema.validate(json.loads(path.read_text()),
                        json.loads(schema_path("vectors").read_text()))
    write_results(_perfect(doc), tmp_path / "r.json")
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text()),
                        json.loads(schema_path("results").read_text()))


# ------------------------------------------------------------------ corrupt vectors files

TOP = [
    ("a list", [], None, None, "not a JSON object"),
    ("null", None, None, None, "not a JSON object"),
    ("a string", "just text", None, None, "not a JSON object"),
    ("a number", 3, None, None, "not a JSON object"),
    ("deep nesting", '{"a":' * 100_000 + "1" + "}" * 100_000, None, None, "nested too deeply"),
    ("format_version 0", ("format_version", 0), None, "format_version", "0, expected 1"),
    ("format_version -1", ("format_version", -1), None, "format_version", "-1, expected 1"),
    ("format_version missing", ("format_version", ...), None, "format_version", "missing"),
    ("format_version 2", ("format_version", 2), None, "format_version", "newer"),
    ("op unknown", ("op", "unknown"), None, "op", "is not one of"),
    ("cases missing", ("cases", ...), None, "cases", "missing"),
    ("cases not a list", ("cases", {}), None, "cases", "not of type"),
]


@pytest.mark.parametrize("what, change, case, field, message", TOP, ids=[t[0] for t in TOP])
def test_a_corrupt_vectors_document_is_a_named_error(doc, tmp_path, what, change, case, field,
                                                     message):
    if isinstance(change, tuple):
        bad = copy.deepcopy(doc)
        if change[1] is ...:
            del bad[change[0]]
        else:
            bad[change[0]] = change[1]
    else:
        bad = change if not isinstance(change, str) or change.startswith("{") else \
            json.dumps(change)
    path = _write(tmp_path, "v.json", bad if isinstance(bad, str) else json.dumps(bad))
    with pytest.raises(VectorsFileError, match=message) as err:
        load_vectors(path)
    assert str(err.value).startswith(path)
    assert err.value.field == field and err.value.case == case


CASES = [
    ("dims 7", lambda c: c.update(dims=7), "dims", "7 is not one of"),
    ("kernel_size [-3]", lambda c: c.update(kernel_size=[-3]), "kernel_size[0]",
     "less than the minimum"),
    ("kernel_size [10**12]", lambda c: c.update(kernel_size=[10**12]), "kernel_size[0]",
     "greater than the maximum"),
    ("kernel_size too big for the input", lambda c: c.update(kernel_size=[99]), "kernel_size",
     "no output"),
    ("kernel_size of the wrong length", lambda c: c.update(kernel_size=[2, 2]),
     "kernel_size", "one entry per spatial axis"),
    ("input_shape [-1]", lambda c: c.update(input_shape=[-1]), "input_shape[0]",
     "less than the minimum"),
    ("input_shape disagrees with input", lambda c: c.update(input_shape=[1, 1, 1]), "input",
     "values for the input_shape"),
    ("true as an input value", lambda c: c["input"].__setitem__(0, True), "input[0]",
     "true is not a float"),
    ('"0x1p-3" as an input value', lambda c: c["input"].__setitem__(0, "0x1p-3"), "input[0]",
     '"0x1p-3" is not a float'),
    ("an input value not exact in the dtype",
     lambda c: (c.update(dtype="float16"), c["input"].__setitem__(0, 0.1)), "input",
     "#0 = 0.1 is not exactly representable in float16"),
    ("an infinite input (1e400)", lambda c: c["input"].__setitem__(0, 1234.5e300), "input",
     "finite inputs"),  # written as the literal 1e400, which JSON parsers read as inf
    ("a key missing", lambda c: c.pop("dtype"), "dtype", "missing"),
    ("a wrong type", lambda c: c.update(ceil_mode="no"), "ceil_mode", "not of type"),
    ("an unknown key", lambda c: c.update(colour="red"), "colour", "not a field"),
    ("no parameter", lambda c: c.update(param=None), "param", "needs parameter"),
    ("expected output of the wrong size", lambda c: c["expected"]["output"].append(1.0),
     "expected.output", "where"),
    ("expected output shape wrong", lambda c: c["expected"].update(output_shape=[7]),
     "expected.output_shape", "is not the output shape"),
    ("expected missing on a valid case", lambda c: c.update(expected=None), "expected",
     "not of type"),
    ("grad_output of the wrong size", lambda c: c["grad_output"].append(1.0), "grad_output",
     "values for an output"),
    ("another op", lambda c: c.update(op="avg"), "op", "in a file of op"),
]


@pytest.mark.parametrize("what, mutate, field, message", CASES, ids=[t[0] for t in CASES])
def test_a_corrupt_case_is_named_by_file_case_and_field(doc, tmp_path, what, mutate, field,
                                                        message):
    bad = copy.deepcopy(doc)
    i = _valid_index(bad)
    mutate(bad["cases"][i])
    path = _write(tmp_path, "v.json", json.dumps(bad).replace("1.2345e+303", "1e400"))
    with pytest.raises(VectorsFileError, match=message) as err:
        load_vectors(path)
    assert err.value.case == doc["cases"][i]["id"] and err.value.field == field
    assert str(err.value).startswith(f"{path}: case {doc['cases'][i]['id']!r}: field")


def test_duplicate_ids_are_refused(doc, tmp_path):
    bad = copy.deepcopy(doc)
    bad["cases"].append(copy.deepcopy(bad["cases"][0]))
    with pytest.raises(VectorsFileError, match="used twice"):
        load_vectors(_write(tmp_path, "v.json", bad))


def test_the_command_names_the_problem_and_scores_nothing(doc, tmp_path, capsys):
    bad = copy.deepcopy(doc)
    bad["cases"][_valid_index(bad)]["kernel_size"] = [-3]
    vectors = _write(tmp_path, "v.json", bad)
    results = tmp_path / "r.json"
    write_results(_perfect(doc), results)
    assert main(["check", "--vectors", vectors, "--results", str(results)]) == 2
    captured = capsys.readouterr()
    assert "CONFORMS" not in captured.out
    assert f"--vectors {vectors}: case" in captured.err and "'kernel_size[0]'" in captured.err


# ------------------------------------------------------------------ corrupt results files

RESULTS = [
    ("a list", [], None, None, "not a JSON object"),
    ("null", None, None, None, "not a JSON object"),
    ("deep nesting", '{"r":' * 100_000 + "1" + "}" * 100_000, None, None, "nested too deeply"),
    ("results missing", {"format": "ppverify-results", "format_version": 1}, None, "results",
     "missing"),
    ("an id missing", {"format": "ppverify-results", "format_version": 1,
                       "results": [{"output": [1.0]}]}, "#0", "id", "missing"),
    ("a boolean output", {"format": "ppverify-results", "format_version": 1,
                          "results": [{"id": "a", "output_shape": [1], "output": [True]}]},
     "a", "output[0]", "true is not a float"),
    ("an output without its shape", {"format": "ppverify-results", "format_version": 1,
                                     "results": [{"id": "a", "output": [1.0]}]},
     "a", "output_shape", "needs its output_shape"),
    ("an output of the wrong size", {"format": "ppverify-results", "format_version": 1,
                                     "results": [{"id": "a", "output_shape": [2],
                                                  "output": [1.0]}]},
     "a", "output", "1 values for the output_shape"),
    ("the same id twice", {"format": "ppverify-results", "format_version": 1,
                           "results": [{"id": "a"}, {"id": "a"}]}, "a", "id", "used twice"),
]


@pytest.mark.parametrize("what, value, case, field, message", RESULTS,
                         ids=[t[0] for t in RESULTS])
def test_a_corrupt_results_file_is_a_named_error(tmp_path, what, value, case, field, message):
    path = _write(tmp_path, "r.json", value if isinstance(value, str) else json.dumps(value))
    with pytest.raises(VectorsFileError, match=message) as err:
        load_results(path)
    assert str(err.value).startswith(path)
    assert (err.value.case, err.value.field) == (case, field)


def test_dev_zero_fails_fast_with_a_named_error(doc, tmp_path, capsys):
    vectors = _write(tmp_path, "v.json", doc)
    start = time.monotonic()
    for args in (["--vectors", vectors, "--results", "/dev/zero"],
                 ["--vectors", "/dev/zero", "--results", vectors]):
        assert main(["check", *args]) == 2
        err = capsys.readouterr().err
        assert "/dev/zero: not a JSON object" in err
    assert time.monotonic() - start < 5


def test_a_stream_longer_than_the_limit_is_refused(tmp_path):
    path = _write(tmp_path, "big.json", '{"format": "ppverify-results", "x": "'
                  + "a" * 5000 + '"}')
    with pytest.raises(VectorsFileError, match="larger than the 1000 bytes"):
        load_results(path, max_bytes=1000)


# ------------------------------------------------------------------ .npz bombs


def _zeros_entry(archive: zipfile.ZipFile, name: str, n: int) -> None:
    """An .npy entry of n float64 zeros, written in chunks (never n values in memory)."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
        chunk = bytes(8 << 20)
        left = 8 * n
        while left:
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))


BOMB = 60_000_000  # 480 MB of float64 zeros, about 0.5 MB compressed


@pytest.fixture(scope="module")
def bombs(tmp_path_factory, doc):
    """A results .npz and a vectors .npz, each with one entry of 60 M zeros (issue 17)."""
    root = tmp_path_factory.mktemp("bombs")
    i = _valid_index(doc)
    cid = doc["cases"][i]["id"]
    results = root / "results.npz"
    with zipfile.ZipFile(results, "w", zipfile.ZIP_DEFLATED) as z:
        _zeros_entry(z, f"{cid}/output", BOMB)
    vectors = root / "vectors.npz"  # an entry larger than its header declares
    header = copy.deepcopy(doc)
    header["cases"][i]["input"] = {"npz": "big"}
    with zipfile.ZipFile(vectors, "w", zipfile.ZIP_DEFLATED) as z:
        _zeros_entry(z, "big", BOMB // 60)
        with z.open("header.npy", "w") as f:
            np.lib.format.write_array(f, np.array(json.dumps(header)))
    declared = root / "declared.npz"  # a header declaring 60 M values: refused before reading
    header["cases"][i]["input_shape"] = [1, 1, BOMB]
    with zipfile.ZipFile(declared, "w", zipfile.ZIP_DEFLATED) as z:
        _zeros_entry(z, "big", 8)
        with z.open("header.npy", "w") as f:
            np.lib.format.write_array(f, np.array(json.dumps(header)))
    vectors_json = root / "v.json"
    vectors_json.write_text(json.dumps(doc))
    return {"results": results, "vectors": vectors, "declared": declared,
            "vectors_json": vectors_json, "id": cid}


def test_npz_bombs_are_refused_before_they_are_decompressed(bombs):
    assert bombs["results"].stat().st_size < 2_000_000
    v = load_vectors(bombs["vectors_json"])
    with pytest.raises(VectorsFileError, match=f"holds {BOMB} values where the case needs"):
        load_results(bombs["results"], v)
    with pytest.raises(VectorsFileError, match=f"more than {MAX_ELEMENTS} values in all"):
        load_results(bombs["results"])
    with pytest.raises(VectorsFileError, match=f"entry 'big' holds {BOMB // 60} values"):
        load_vectors(bombs["vectors"])
    with pytest.raises(VectorsFileError, match="declares .* values in all, more than"):
        load_vectors(bombs["declared"])


def test_npz_bombs_keep_the_memory_small(bombs):
    # VmHWM, this process's peak (ru_maxrss would include the forking test process's size)
    code = (
        "import sys\n"
        "from ppverify.cli import main\n"
        "status = main(['check', '--vectors', sys.argv[1], '--results', sys.argv[2]])\n"
        "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM')]\n"
        "print(status, int(peak[0].split()[1]) // 1024)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(bombs["vectors_json"]),
                           str(bombs["results"])], capture_output=True, text=True, timeout=120)
    status, peak_mb = map(int, proc.stdout.split())
    assert status == 2 and "holds 60000000 values" in proc.stderr
    assert peak_mb < 400, peak_mb  # 60 M values would be 480 MB as floats, GBs as a list


# ------------------------------------------------------------------ fuzzing the reader

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**15, 10**15)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=16)
FUZZ = settings(max_examples=int(os.environ.get("PPVERIFY_FUZZ_EXAMPLES", "120")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(value=JSON, as_results=st.booleans())
def test_arbitrary_json_is_a_named_error(tmp_path_factory, value, as_results):
    path = tmp_path_factory.mktemp("fuzz") / "f.json"
    path.write_text(json.dumps(value))
    with pytest.raises(VectorsFileError) as err:
        (load_results if as_results else load_vectors)(path)
    assert str(err.value).startswith(str(path))


def _paths(value, prefix=()):
    """Every path into a JSON value (dict keys and list indices)."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _replace(value, path, new):
    if not path:
        return new
    out = copy.copy(value)
    out[path[0]] = _replace(value[path[0]], path[1:], new)
    return out


@FUZZ
@given(data=st.data())
def test_a_mutated_vectors_file_is_a_named_error_or_scored_without_a_traceback(
        doc, tmp_path_factory, data):
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths[1:]), label="path")
    new = data.draw(JSON, label="new value")
    mutated = _replace(doc, path, new)
    assume(mutated != doc)
    file = tmp_path_factory.mktemp("fuzz") / "v.json"
    file.write_text(json.dumps(mutated))
    try:
        loaded = load_vectors(file)
    except VectorsFileError as err:
        assert str(err).startswith(str(file))
        return
    results = {r["id"]: r for r in _perfect(doc)}
    score(loaded, results)  # accepted: it is scored, and scoring never raises


def _close(a, b) -> bool:
    numbers = (int, float)
    return (isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool)
            and not isinstance(b, bool) and math.isfinite(a) and math.isfinite(b)
            and abs(a - b) <= 1e-6 * (1 + abs(b)))


@FUZZ
@given(data=st.data())
def test_a_corrupted_result_is_never_scored_conforming(doc, tmp_path_factory, data):
    perfect = _perfect(doc)
    valid = [i for i, c in enumerate(doc["cases"]) if c["expected"] is not None]
    i = data.draw(st.sampled_from(valid), label="result")
    keys = ["id", "output_shape", "output", "grad_input", "grad_param", "error"]
    key = data.draw(st.sampled_from(keys), label="key")
    path = (i, key)
    if key in ("output", "grad_input") and data.draw(st.booleans(), label="one element"):
        path += (data.draw(st.integers(0, len(perfect[i][key]) - 1), label="element"),)
    old = perfect[i]
    for p in path[1:]:
        old = old[p]
    new = data.draw(JSON | st.sampled_from(["inf", "-inf", "nan"]), label="new value")
    assume(new != old and not _close(new, old))
    assume(not (key == "grad_param" and new is None))  # no parameter gradient: not judged
    mutated = _replace(perfect, path, new)
    file = tmp_path_factory.mktemp("fuzz") / "r.json"
    file.write_text(json.dumps({"format": "ppverify-results", "format_version": 1,
                                "results": mutated}))
    vectors_file = tmp_path_factory.mktemp("fuzz") / "v.json"
    vectors_file.write_text(json.dumps(doc))
    vectors = load_vectors(vectors_file)
    try:
        results = load_results(file, vectors)
    except VectorsFileError as err:
        assert str(err).startswith(str(file))
        return
    assert not score(vectors, results).conforms, (path, old, new)


def test_the_perfect_results_do_conform(doc, tmp_path):
    """The fuzz tests above start from results that conform (so a non-conforming verdict is
    the mutation's doing)."""
    vectors = load_vectors(_write(tmp_path, "v.json", doc))
    results = load_results(_write(tmp_path, "r.json", {
        "format": "ppverify-results", "format_version": 1, "results": _perfect(doc)}), vectors)
    assert score(vectors, results).conforms
