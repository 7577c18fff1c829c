"""The oracle takes its inputs exactly or refuses them by name, states its limits (digits,
memory, processes) up front, and decides trivially exact midpoints (issues 16 and 17)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from ppverify.oracle import OracleMemoryError, reference
from ppverify.oracle import reference as reference_module  # noqa: F401 - the function
from ppverify.oracle.reference import (
    CHUNK_ELEMENTS,
    MAX_DIGITS,
    MAX_PRECISION,
    memory_estimate,
)

REF = sys.modules["ppverify.oracle.reference"]

# ------------------------------------------------------------------ exact inputs or a named error

BIG = 2**53 + 1  # the first integer float64 cannot hold


@pytest.mark.parametrize("x, where", [
    (np.array([[[BIG, 3]]], dtype=np.int64), "input element (0, 0, 0) = 9007199254740993"),
    (np.array([[[1, -BIG]]], dtype=np.int64), "input element (0, 0, 1) = -9007199254740993"),
    (np.array([[[2**63 + 1, 1]]], dtype=np.uint64), "= 9223372036854775809 (uint64)"),
    (np.array([[[np.longdouble(1) + np.longdouble(2) ** -60, 1]]], dtype=np.longdouble),
     "input element (0, 0, 0)"),
    (np.array([[[2**70 + 1, 1]]], dtype=object), "= 1180591620717411303425 (int)"),
])
def test_values_float64_cannot_hold_are_refused_by_name(x, where):
    if x.dtype == np.longdouble and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("long double is float64 on this machine")
    with pytest.raises(ValueError, match="not exactly representable in float64") as err:
        reference("avg", x, None, 2, dims=1)
    assert where in str(err.value) and "does not round them" in str(err.value)


@pytest.mark.parametrize("x, mean", [
    (np.array([[[2**62, 2**60]]], dtype=np.int64), (2**62 + 2**60) / 2),
    (np.array([[[2**63, 2**63]]], dtype=np.uint64), 2.0**63),
    (np.array([[[-(2**63), 0]]], dtype=np.int64), -(2.0**62)),
    (np.array([[[np.longdouble(1.5), 1]]], dtype=np.longdouble), 1.25),
    (np.array([[[2**70, 2**70]]], dtype=object), 2.0**70),
])
def test_large_values_float64_holds_are_taken_exactly(x, mean):
    assert reference("avg", x, None, 2, dims=1).output.ravel()[0] == mean


def test_torch_integer_tensors_and_other_arguments_are_checked_too():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="input element .* = 9007199254740993 \\(int64\\)"):
        reference("avg", torch.tensor([[[BIG, 1]]]), None, 2, dims=1)
    with pytest.raises(ValueError, match="alpha = 9007199254740993"):
        reference("ppool", np.ones((1, 1, 2)), np.int64(BIG), 2, dims=1)
    with pytest.raises(ValueError, match="grad_output element"):
        reference("avg", np.ones((1, 1, 2)), None, 2, dims=1,
                  grad_output=np.array([[[BIG]]], dtype=np.int64))


def test_nan_or_negative_where_no_window_reads_is_accepted():
    # kernel 2, stride 2 over 5 elements: element 4 is read by no window (documented)
    x = np.array([[[1.0, 2.0, 3.0, 4.0, math.nan]]])
    assert reference("ppool", x, 2.5, 2, dims=1).output.shape == (1, 1, 2)
    x[0, 0, 4] = -7.0
    r = reference("powermean", x, 0.5, 2, dims=1)
    assert r.grad_input[0, 0, 4] == 0.0


# ------------------------------------------------------------------ digits


def test_digits_above_the_precision_limit_say_so():
    assert MAX_DIGITS == 9855  # the first pass, ceil(D log2 10) + 28 bits, fits 2^15 bits
    assert math.ceil(MAX_DIGITS * math.log2(10)) + 28 <= MAX_PRECISION
    assert math.ceil((MAX_DIGITS + 1) * math.log2(10)) + 28 > MAX_PRECISION
    with pytest.raises(ValueError, match="above the oracle's precision limit") as err:
        reference("avg", np.ones((1, 1, 2)), None, 2, dims=1, digits=9860)
    assert "rounding boundary" not in str(err.value) and "9855" in str(err.value)
    assert reference("avg", np.ones((1, 1, 2)), None, 2, dims=1, digits=MAX_DIGITS) \
        .output.ravel()[0] == 1


# ------------------------------------------------------------------ trivially exact midpoints

MID = 1.0 + 2.0**-24  # exactly halfway between two float32 neighbours of 1


@pytest.mark.parametrize("op, p, window, kernel", [
    ("powermean", 0.1, [MID] * 4, 4),         # equal elements: y = c for every p
    ("powermean", -0.7, [MID] * 3, 3),
    ("lp", 0.1, [MID], 1),                    # one element: y = |x|
    ("lp", 2.5, [0.0, MID, 0.0], 3),          # one positive element and zeros
])
def test_trivially_exact_midpoints_are_decided(op, p, window, kernel):
    r = reference(op, np.array([[window]]), p, kernel, dims=1, dtype="float32")
    assert r.output.ravel()[0] == np.float32(1.0)  # ties to even
    positives = [v for v in window if v > 0]
    expected_grads = [float(np.float32(1.0 / len(positives))) if v > 0 else 0.0 for v in window]
    assert r.grad_input.ravel().tolist() == expected_grads
    assert float(r.grad_param) == 0.0


# ------------------------------------------------------------------ processes and memory


class _Recorder:
    workers: list[int] = []

    def __init__(self, max_workers=None, mp_context=None):
        import concurrent.futures

        _Recorder.workers.append(max_workers)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers)

    def __enter__(self):
        return self._pool.__enter__()

    def __exit__(self, *exc):
        return self._pool.__exit__(*exc)


def test_jobs_never_start_more_processes_than_there_is_work(monkeypatch):
    import concurrent.futures

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _Recorder)
    _Recorder.workers = []
    x = np.random.default_rng(0).uniform(0.5, 2, (1, 2, 6))
    serial = reference("ppool", x, 2.5, 2, dims=1)
    parallel = reference("ppool", x, 2.5, 2, dims=1, jobs=64)
    assert _Recorder.workers == [2]  # two planes: two processes, not 64
    np.testing.assert_array_equal(serial.grad_input, parallel.grad_input)

    from ppverify.oracle.bench import measure

    _Recorder.workers = []
    measure(windows=64, alpha=2.5, dtype="float32", repeat=1, jobs=1000)
    assert _Recorder.workers == [8]  # bench-oracle's 8 planes


def test_chunked_planes_give_identical_results(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 4.0, size=(2, 3, 9, 8))
    x[0, 0, :3, :3] = 0.0
    g = rng.normal(size=(2, 3, 5, 4))
    param = np.array([0.5, -1.5, 7.0])
    whole = reference("ppool", x, param, 3, 2, 1, dims=2, grad_output=g, dtype="float32")
    monkeypatch.setattr(REF, "CHUNK_ELEMENTS", 100)  # about one plane per chunk
    chunked = reference("ppool", x, param, 3, 2, 1, dims=2, grad_output=g, dtype="float32")
    for a, b in ((whole.output, chunked.output), (whole.grad_input, chunked.grad_input),
                 (whole.grad_param, chunked.grad_param)):
        np.testing.assert_array_equal(a, b)
    assert whole.notes == chunked.notes


def test_memory_is_stated_and_a_call_above_the_limit_is_refused_up_front():
    # (8, 64, 112, 112): 6.4 M elements in chunks of 65536: about half a GB, not 6.6 GB
    total = 8 * 64 * 112 * 112
    assert memory_estimate(CHUNK_ELEMENTS, total) < 0.5 * 2**30
    with pytest.raises(OracleMemoryError, match=r"about 9\.\d GiB .* 1 process") as err:
        reference("avg", np.ones((1, 1, 3000, 3000)), None, dims=2, output_size=1)
    assert isinstance(err.value, MemoryError) and isinstance(err.value, ValueError)
    with pytest.raises(MemoryError, match="memory limit of 0.0 GiB"):
        reference("avg", np.ones((1, 4, 8, 8)), None, 2, dims=2, memory_limit=1000)


def test_the_estimate_holds_on_a_real_run():
    # VmHWM: this process's own peak (ru_maxrss would start at the forking test process's size)
    code = (
        "import numpy as np\n"
        "from ppverify.oracle import reference\n"
        "from ppverify.oracle.reference import memory_estimate, CHUNK_ELEMENTS\n"
        "def peak():\n"
        "    line = [s for s in open('/proc/self/status') if s.startswith('VmHWM')][0]\n"
        "    return int(line.split()[1]) * 1024\n"
        "x = np.random.default_rng(0).uniform(0.1, 2, (1, 12, 96, 96)).astype(np.float32)\n"
        "before = peak()\n"
        "reference('ppool', x, 2.5, 2, dims=2, dtype='float32')\n"
        "print(peak() - before, memory_estimate(CHUNK_ELEMENTS, x.size))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    used, estimate = map(int, out.split())
    assert 10 * 2**20 < used < estimate, (used, estimate)  # it measured something, below
