"""``python -m ppverify.ops.gpu_check`` and ``ppverify bench --device cuda`` without a GPU: a
clear refusal (no traceback) where there is no CUDA device, and the check's steps 1-3 run end to
end through Triton's interpreter (``--device cpu``), passing on the kernels and failing on a
deliberately broken one."""

from __future__ import annotations

import json
import os

import pytest
import torch

from ppverify.ops import _triton, bench_cuda, gpu_check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
needs_interpreter = pytest.mark.skipif(
    _triton._triton_version() is None
    or _triton.interpreter_too_old("the interpreter") is not None,
    reason="needs Triton >= 3.7 or 3.4-3.6 with numpy < 2.4 (pip install -e '.[test]')")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_without_cuda_the_check_and_the_bench_refuse_clearly(monkeypatch, capsys):
    from ppverify import cli

    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    assert gpu_check.main([]) == 2
    err = capsys.readouterr().err
    assert "gpu_check: cannot run: no CUDA device" in err and "Traceback" not in err
    assert cli.main(["bench", "--device", "cuda", "--repeats", "1"]) == 1
    err = capsys.readouterr().err
    assert "cannot run on cuda: no CUDA device" in err and "Traceback" not in err
    with pytest.raises(RuntimeError, match="no CUDA device"):
        bench_cuda.measure((1, 1, 4, 4))


def test_bench_arguments_are_checked(capsys):
    from ppverify import cli

    assert cli.main(["bench", "--dtype", "bfloat16", "--no-rss", "--repeats", "1"]) == 2
    assert "--dtype applies to --device cuda" in capsys.readouterr().err
    assert cli.main(["bench", "--device", "cuda", "--op", "gem"]) == 2
    assert "--op ppool" in capsys.readouterr().err
    assert cli.main(["bench", "--device", "cuda", "--fallback"]) == 2
    assert "--fallback" in capsys.readouterr().err
    assert cli.main(["bench", "--device", "cuda", "--matrix"]) == 2
    assert "--matrix measures the CPU paths" in capsys.readouterr().err
    # a bad argument is named before the device is looked at (also without CUDA)
    assert cli.main(["bench", "--device", "cuda", "--shape", "8", "0", "4", "4"]) == 2
    assert "shape must be four positive sizes" in capsys.readouterr().err
    assert cli.main(["bench", "--device", "cuda", "--repeats", "0"]) == 2
    assert "repeats must be a positive integer" in capsys.readouterr().err
    for kwargs, message in (({"dtype": "int8"}, "dtype must be"), ({"inner": 0}, "inner must"),
                            ({"shape": (8, 64, 112)}, "shape must")):
        with pytest.raises(ValueError, match=message):
            bench_cuda.measure(**kwargs)


def test_check_arguments_are_checked(monkeypatch, capsys):
    for argv in (["--count", "0"], ["--repeats", "-1"], ["--inner", "x"],
                 ["--skip", "everything"], ["--device", "tpu"]):
        with pytest.raises(SystemExit) as exit_:
            gpu_check.main(argv)
        assert exit_.value.code == 2, argv
        assert "error: argument" in capsys.readouterr().err
    monkeypatch.delenv("PPVERIFY_TRITON", raising=False)
    monkeypatch.delenv(gpu_check.DEVICE_ENV, raising=False)
    assert gpu_check.main(["--device", "cpu"]) == 2  # the interpreter must be asked for
    assert "needs PPVERIFY_TRITON=cpu" in capsys.readouterr().err
    assert gpu_check.DEVICE_ENV not in os.environ  # main() leaves the environment as it was


def _record(forward, forward_backward, peak):
    ratios = {"forward": forward, "forward_backward": forward_backward, "peak_memory": peak}
    return {"dtype": "bfloat16", "shape": [8, 64, 112, 112], "device": "GPU",
            "config": bench_cuda.CONFIGS[1], "ratios_vs_max_pool2d": ratios}


def test_targets_are_checked_against_max_pool2d():
    assert bench_cuda.target_failures(_record(1.2, 1.5, 1.5)) == []  # the bounds themselves
    missed = bench_cuda.target_failures(_record(1.21, 1.6, 1.51))
    assert len(missed) == 3
    assert "forward 1.21x max_pool2d > 1.2x" in missed[0]
    assert "kernel 3 stride 2 padding 1" in missed[0] and "bfloat16" in missed[0]
    assert bench_cuda.target_failures(_record(float("nan"), 1.0, 1.0))  # NaN is not a pass
    assert "peak memory not measured" in bench_cuda.target_failures(_record(1, 1, None))[0]


@needs_interpreter
def test_bench_runs_through_the_interpreter(monkeypatch, capsys):
    """The benchmark's code path on tiny shapes, kernels interpreted on the CPU (wall-clock
    times, not GPU figures): records, ratios, the table and the target check all work, and
    it refuses to time a path that is not the Triton kernels."""
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    before = _triton.launches
    records = bench_cuda.measure((1, 2, 6, 6), "bfloat16", repeats=1, inner=1,
                                 configs=bench_cuda.CONFIGS[1:], device="cpu")
    assert _triton.launches - before >= 7
    assert _triton.forced_arithmetic is None  # the benchmark leaves no arithmetic forced
    (rec,) = records
    assert "interpreter" in rec["device"] and rec["peak_bytes"]["p_pool2d"] is None
    for base in bench_cuda.BASELINES:
        for prefix in ("ratios_vs_", "ratios_novalidate_vs_", "ratios_mixed_vs_",
                       "ratios_mixed_novalidate_vs_"):
            for key in ("forward", "forward_backward"):
                assert rec[f"{prefix}{base}"][key] > 0
    bench_cuda.print_records(records)
    out = capsys.readouterr().out
    assert "p_pool2d() / max_pool2d: forward" in out and "peak memory n/a" in out
    assert "p_pool2d(mixed arithmetic, validate=False) / avg_pool2d: forward" in out
    assert "mixed / float64 arithmetic (validate=False): forward" in out
    assert any("not measured" in m for m in bench_cuda.target_failures(rec))
    monkeypatch.setenv("PPVERIFY_TRITON", "0")
    with pytest.raises(RuntimeError, match="did not run the Triton kernels"):
        bench_cuda.measure((1, 1, 4, 4), repeats=1, inner=1, configs=bench_cuda.CONFIGS[:1],
                           device="cpu")


@needs_interpreter
def test_a_crashing_step_is_a_failure_and_the_others_still_run(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    monkeypatch.chdir(ROOT)

    def crash(*args, **kwargs):
        raise RuntimeError("out of memory in this test")

    monkeypatch.setattr(gpu_check, "survey", crash)
    monkeypatch.setattr(gpu_check, "conformance", lambda *a, **k: ({"ran": True}, []))
    out = tmp_path / "partial.json"
    assert gpu_check.main(["--device", "cpu", "--quick", "--json", str(out)]) == 1
    record = json.loads(out.read_text())
    assert record["conformance"] == {"ran": True}  # the step after the crash ran
    assert record["failures"][0].startswith("survey crashed: RuntimeError: out of memory")
    assert "FAIL survey crashed" in capsys.readouterr().out


@needs_interpreter
def test_check_passes_through_the_interpreter(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    monkeypatch.chdir(ROOT)
    out = tmp_path / "gpu_check.json"
    before = _triton.launches
    assert gpu_check.main(["--device", "cpu", "--quick", "--json", str(out)]) == 0
    assert _triton.launches - before > 20
    record = json.loads(out.read_text())
    assert record["failures"] == []
    assert record["conformance"]["windowed"]["conforms"]
    assert record["conformance"]["adaptive"]["conforms"]
    for name in ("float32", "bfloat16"):
        assert record["survey"][name]["max_forward_ulp"] <= gpu_check.FORWARD_ULP_TARGET
        assert record["survey"][name]["failed_batches"] == 0
    assert "0 failure(s)" in capsys.readouterr().out


@needs_interpreter
def test_check_fails_on_a_broken_kernel(monkeypatch, capsys):
    """Every output of the forward kernel off by a relative 1e-3: conformance and survey fail,
    the exit status is 1 and the failures are listed."""
    monkeypatch.setenv("PPVERIFY_TRITON", "cpu")
    monkeypatch.chdir(ROOT)
    forward = _triton.forward

    def broken(*args, **kwargs):
        y, flag = forward(*args, **kwargs)
        return y * (1 + 1e-3), flag

    monkeypatch.setattr(_triton, "forward", broken)
    assert gpu_check.main(["--device", "cpu", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "FAIL conformance (windowed): wrong-value" in out
    assert "FAIL survey float32" in out
