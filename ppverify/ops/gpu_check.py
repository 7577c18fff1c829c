"""The prepared GPU check of P-pooling's Triton kernels: one command, run once on a CUDA machine.

    python -m ppverify.ops.gpu_check [--json gpu_check.json]

Run it from the repository root (the accuracy survey uses the adversarial cases of
``tests/ops``) in an environment with a CUDA build of torch and Triton (``pip install -e
'.[torch,test,gpu]'``). On an H200 (torch 2.11, Triton 3.6.0, 2026-12-04) it took 159 s:
step 2 121 s (the kernels' first compilation, a few seconds per dtype and window size, is
part of it), step 3 3 s, step 4 30 s; the README has its figures. That was before the mixed
arithmetic joined steps 2-4 (2026-12-04: about half again of step 2's cases, every step's
dtypes twice; not yet timed on a GPU). It runs four steps, printing each one's figures and
time:

1. environment: the GPU, torch, CUDA and Triton versions; a P-pooling call on the GPU must run
   the Triton kernels (not the pure-torch fallback);
2. conformance: ``ppverify check`` (every dtype, memory layout, value kind, error inputs) of the
   windowed ops in 1-D, 2-D and 3-D and of the adaptive ops, through targets in this module
   that move each case to the GPU and the results back (``cuda_p_pool2d`` ...), in the
   default arithmetic and (half as many cases) in the mixed one;
3. accuracy survey: the adversarial grid of ``tests/ops/_cases.py`` (ties, zeros, 30 decades,
   subnormals, values near the maximum, alpha from -1e4 to 1e6; windowed and adaptive/global
   layouts; in float32 and float64 also the large-window adversary, global windows of 12544
   elements that the GPU sums in chunks) on the GPU in every dtype and arithmetic, against the
   oracle: forward within 2 ULP in
   float32/float16/bfloat16 (the issue's target) and 8 ULP in float64, gradients within the CPU
   tests' tolerances (``tests/ops/_compare.py``);
4. benchmark: ``ppverify.ops.bench_cuda`` (forward, forward+backward with learnable alpha, peak
   memory, against ``max_pool2d`` and ``avg_pool2d``) in bfloat16, float16 and float32, on
   (8, 64, 112, 112) and (32, 64, 112, 112); the targets (forward <= 1.2x max_pool2d,
   forward+backward <= 1.5x, peak memory <= 1.5x) are checked on bfloat16 and float32 at
   (8, 64, 112, 112) for kernel 2 stride 2 and kernel 3 stride 2 padding 1.

Exit status: 0 when every step passes and every target is met; 1 when something failed or a
target was missed (each listed at the end; a step that crashes is a failure with the end of its
traceback, and the later steps still run); 2 when the check cannot run here (no CUDA device, no
Triton, not run from a checkout), with the reason and no traceback. ``--json FILE`` writes every
figure, atomically, after every step (a run stopped by a time limit keeps what it measured).
``--device cpu`` with ``PPVERIFY_TRITON=cpu`` runs steps 1-3 through Triton's interpreter on the
CPU (how this script is tested; no benchmark there).

This module is a tool on top of the layers (it uses the oracle and the checker); the op layer
never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

from . import functional

DEVICE_ENV = "PPVERIFY_GPU_CHECK_DEVICE"  # the targets' device (set by main; default cuda)
SHAPES = [(8, 64, 112, 112), (32, 64, 112, 112)]
BENCH_DTYPES = ["bfloat16", "float16", "float32"]
TARGET_DTYPES = ("bfloat16", "float32")
FORWARD_ULP_TARGET = 2        # float32 / float16 / bfloat16 (the target)
FORWARD_ULP_FLOAT64 = 8       # the CPU tests' bound


class CannotRun(Exception):
    """The check cannot run on this machine (exit status 2)."""


# ------------------------------------------------------------------ targets for ppverify check


def _on_device(fn, input, param, *args):
    """``fn`` on the check's device (``$PPVERIFY_GPU_CHECK_DEVICE``, default cuda): the case's
    tensors moved there and the result moved back, both differentiably (the checker's
    gradients reach its CPU tensors)."""
    device = os.environ.get(DEVICE_ENV, "cuda")
    x = input.to(device)
    p = param.to(device) if isinstance(param, torch.Tensor) else param
    return fn(x, p, *args).cpu()


def cuda_p_pool1d(input, alpha, kernel_size, stride=None, padding=0, dilation=1,
                  ceil_mode=False):
    """``p_pool1d`` on the GPU (a ``ppverify check`` target)."""
    return _on_device(functional.p_pool1d, input, alpha, kernel_size, stride, padding,
                      dilation, ceil_mode)


def cuda_p_pool2d(input, alpha, kernel_size, stride=None, padding=0, dilation=1,
                  ceil_mode=False):
    """``p_pool2d`` on the GPU (a ``ppverify check`` target)."""
    return _on_device(functional.p_pool2d, input, alpha, kernel_size, stride, padding,
                      dilation, ceil_mode)


def cuda_p_pool3d(input, alpha, kernel_size, stride=None, padding=0, dilation=1,
                  ceil_mode=False):
    """``p_pool3d`` on the GPU (a ``ppverify check`` target)."""
    return _on_device(functional.p_pool3d, input, alpha, kernel_size, stride, padding,
                      dilation, ceil_mode)


def cuda_adaptive_p_pool1d(input, alpha, output_size):
    """``adaptive_p_pool1d`` on the GPU (a ``ppverify check`` target)."""
    return _on_device(functional.adaptive_p_pool1d, input, alpha, output_size)


def cuda_adaptive_p_pool2d(input, alpha, output_size):
    """``adaptive_p_pool2d`` on the GPU (a ``ppverify check`` target)."""
    return _on_device(functional.adaptive_p_pool2d, input, alpha, output_size)


def cuda_adaptive_p_pool3d(input, alpha, output_size):
    """``adaptive_p_pool3d`` on the GPU (a ``ppverify check`` target)."""
    return _on_device(functional.adaptive_p_pool3d, input, alpha, output_size)


# ----------------------------------------------------------------------------------- the steps


def environment(device: str) -> dict:
    """Step 1: what runs here; ``CannotRun`` when the kernels cannot."""
    from . import _triton

    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "triton": _triton._triton_version(), "device": device}
    if device == "cuda":
        if not torch.cuda.is_available():
            raise CannotRun(
                f"no CUDA device: torch {torch.__version__} (CUDA build: "
                f"{torch.version.cuda or 'none, a CPU-only build'}) reports "
                f"torch.cuda.is_available() == False. Run this on a machine with an NVIDIA "
                f"GPU and a CUDA build of torch")
        info["gpu"] = torch.cuda.get_device_name()
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability()))
    elif os.environ.get(_triton.ENV) != "cpu":
        raise CannotRun(f"--device cpu tests this script through Triton's interpreter and "
                        f"needs {_triton.ENV}=cpu")
    why = _triton.unavailable_reason(device)
    if why is not None:
        raise CannotRun(f"the Triton kernels cannot run on {device}: {why}")
    before = _triton.launches
    x = torch.rand(2, 3, 8, 8, device=device, requires_grad=True)
    functional.p_pool2d(x, 2.0, 3, 2, 1).sum().backward()
    if _triton.launches - before < 2:
        raise CannotRun(f"p_pool2d on {device} did not run the Triton kernels")
    return info


def conformance(count: int, adaptive_count: int, dims=(1, 2, 3), shrink_seconds: float = 20
                ) -> tuple[dict, list[str]]:
    """Step 2: ``ppverify check`` of the windowed and adaptive ops on the device, in the
    default arithmetic with ``count`` / ``adaptive_count`` cases, then in the mixed one with
    half as many (``_triton.ARITHMETICS``; float64 cases take float64 in both)."""
    from ..conformance.driver import check
    from . import _triton

    results, failures = {}, []
    before = _triton.launches
    runs = []
    for arith in _triton.ARITHMETICS:  # float64 cases take float64 in both
        share = 1 if arith == "float64" else 2
        suffix = "" if arith == "float64" else f" ({arith} arithmetic)"
        runs += [("windowed" + suffix, arith, "ppverify.ops.gpu_check:cuda_p_pool{d}d",
                  "windowed", max(1, count // share)),
                 ("adaptive" + suffix, arith, "ppverify.ops.gpu_check:cuda_adaptive_p_pool{d}d",
                  "adaptive", max(1, adaptive_count // share))]
    for name, arith, target, pooling, n in runs:
        t0 = time.monotonic()
        with _triton.forcing_arithmetic(arith):
            report = check(target, "ppool", dims, count=n, pooling=pooling, isolate=False,
                           shrink_failures=shrink_seconds > 0, shrink_seconds=shrink_seconds)
        results[name] = {"conforms": report.conforms, "cases": report.cases_run,
                         "error_cases": report.error_cases_run,
                         "failed": list(report.failed_categories),
                         "seconds": round(time.monotonic() - t0, 1)}
        print(f"  {name}: {report.cases_run} cases in {'/'.join(f'{d}-D' for d in dims)}, "
              f"{report.error_cases_run} error inputs: "
              f"{'conforms' if report.conforms else 'DOES NOT CONFORM'} "
              f"[{results[name]['seconds']} s]", flush=True)
        if not report.conforms:
            for category in report.failed_categories:
                finding = report.categories[category].minimal_finding
                failures.append(f"conformance ({name}): {category}: {finding.message}")
            failures += [f"conformance ({name}): {f}" for f in report.failures]
    if _triton.launches == before:
        failures.append("conformance: the Triton kernels never ran")
    return results, failures


def _survey_modules():
    try:
        from tests.ops import _cases, _compare
    except ImportError:
        cwd = str(Path.cwd())
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        try:
            from tests.ops import _cases, _compare
        except ImportError as err:
            raise CannotRun("the accuracy survey uses tests/ops/_cases.py and _compare.py: run "
                            f"this from the repository root ({err})") from None
    return _cases, _compare


def survey(device: str, dtypes, quick: bool = False) -> tuple[dict, list[str]]:
    """Step 3: the adversarial grid on the device against the oracle, every dtype in every
    arithmetic that serves it (``_triton.ARITHMETICS``: float32 and narrower inputs in float64
    and in the mixed arithmetic)."""
    from . import _triton

    _cases, _compare = _survey_modules()
    alpha = torch.tensor(_cases.ALPHAS, dtype=torch.float64)
    results, failures = {}, []
    windowed = _cases.GEOMETRIES[:2] if quick else _cases.GEOMETRIES
    adaptive = _cases.ADAPTIVE_GEOMETRIES[2:4] if quick else _cases.ADAPTIVE_GEOMETRIES
    runs_of = [(name, arith) for name in dtypes
               for arith in _triton.arithmetics_for(getattr(torch, name))]
    for name, arith in runs_of:
        large = not quick and name in ("float32", "float64")
        with _triton.forcing_arithmetic(arith):
            res, found = _survey_dtype(_cases, _compare, alpha, windowed, adaptive, name, device,
                                       large)
        label = name if arith == "float64" else f"{name} ({arith} arithmetic)"
        results[label] = {"arithmetic": arith, **res}
        failures += [f"survey {label}: {m}" for m in found]
        print(f"  {label}: {res['cases']} (kind, alpha) cases, forward max "
              f"{res.get('max_forward_ulp', 0):g} ULP (bound {res['forward_ulp_bound']}), "
              f"grad_input max {res.get('max_grad_input_ulp', 0):.3g} ULP raw, grad_alpha max "
              f"{res.get('max_grad_param_ulp', 0):.3g} ULP raw, {res['failed_batches']} batches "
              f"outside tolerance [{res['seconds']} s]", flush=True)
    return results, failures


def _survey_dtype(_cases, _compare, alpha, windowed, adaptive, name: str, device: str,
                  large: bool = False):
    """One dtype of the survey: ``(figures, failures)``. ``large``: also the large-window
    adversary (``_cases.LARGE_WINDOW_CASES``: global windows of 12544 elements, which a GPU
    evaluates in chunks of its tile; about 5 s of oracle time on the host)."""
    dtype = getattr(torch, name)
    limit = FORWARD_ULP_FLOAT64 if dtype == torch.float64 else FORWARD_ULP_TARGET
    failures = []
    t0 = time.monotonic()
    worst: dict[str, float] = {}
    cases = bad = 0
    runs = [(lambda x, g=g, limit=limit: _compare.check_case(
        x, alpha, *g[2:], dims=g[0], device=device, forward_ulp=limit), g[1],
        f"windowed {g}") for g in windowed]
    runs += [(lambda x, g=g, limit=limit: _compare.check_adaptive_case(
        "ppool", x, alpha, g[2], dims=g[0], device=device, forward_ulp=limit), g[1],
        f"adaptive {g}") for g in adaptive]
    gen = torch.Generator().manual_seed(13)
    for run, spatial, label in runs:
        x = torch.cat([_cases.values(kind, (1, len(alpha)) + tuple(spatial), dtype, gen)
                       for kind in _cases.KINDS])
        cases += x.shape[0] * x.shape[1]
        try:
            for key, v in run(x).items():
                key = "grad_param" if key == "grad_alpha" else key
                worst[key] = max(worst.get(key, 0.0), v)
        except AssertionError as err:
            bad += 1
            failures.append(f"{label}: {str(err)[:400]}")
    if large:
        x, alphas = _cases.large_window_input(dtype)
        cases += x.shape[1]
        try:
            for key, v in _compare.check_adaptive_case("ppool", x, alphas, 1, dims=1,
                                                       device=device,
                                                       forward_ulp=limit).items():
                worst[key] = max(worst.get(key, 0.0), v)
        except AssertionError as err:
            bad += 1
            failures.append(f"large window: {str(err)[:400]}")
    return {"cases": cases, "failed_batches": bad, "forward_ulp_bound": limit,
            **{f"max_{k}_ulp": v for k, v in worst.items()},
            "seconds": round(time.monotonic() - t0, 1)}, failures


def benchmark(repeats: int, inner: int, shapes=SHAPES, dtypes=BENCH_DTYPES,
              device: str = "cuda"):
    """Step 4: ``bench_cuda`` in every dtype and shape; the targets on the issue's cases."""
    from . import bench_cuda

    records, failures = [], []
    for shape in shapes:
        for name in dtypes:
            recs = bench_cuda.measure(shape, name, 2.0, repeats, inner, device=device)
            bench_cuda.print_records(recs)
            records += recs
            if name in TARGET_DTYPES and tuple(shape) == SHAPES[0]:
                for rec in recs:
                    failures += [f"target: {m}" for m in bench_cuda.target_failures(rec)]
    return records, failures


def _write_json(path: str, data: dict) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, default=str)
    os.replace(tmp, target)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ppverify.ops.gpu_check", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE (JSON)")
    parser.add_argument("--count", type=_positive, default=100,
                        help="conformance cases per dimension, windowed (default 100; "
                             "adaptive: a third of it)")
    parser.add_argument("--repeats", type=_positive, default=10,
                        help="benchmark rounds (default 10, each of --inner calls)")
    parser.add_argument("--inner", type=_positive, default=20,
                        help="calls per timed round (default 20)")
    parser.add_argument("--skip", nargs="+", default=[],
                        choices=("conformance", "survey", "bench"), help="steps to skip")
    parser.add_argument("--quick", action="store_true",
                        help="a few cases per step (to test this script)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cuda (default); cpu runs steps 1-3 through Triton's interpreter "
                             "(needs PPVERIFY_TRITON=cpu; for testing this script)")
    args = parser.parse_args(argv)
    previous = os.environ.get(DEVICE_ENV)
    os.environ[DEVICE_ENV] = args.device
    try:
        return _run(args, argv)
    finally:  # main() may be called from Python (the tests): leave the environment as it was
        if previous is None:
            os.environ.pop(DEVICE_ENV, None)
        else:
            os.environ[DEVICE_ENV] = previous


def _run(args: argparse.Namespace, argv) -> int:
    start = time.monotonic()
    record: dict = {"command": "python -m ppverify.ops.gpu_check " + " ".join(
        sys.argv[1:] if argv is None else argv), "failures": []}
    failures: list[str] = record["failures"]

    def step(key: str, title: str, fn) -> None:
        """Run one step; a crash is a failure of that step (with the traceback's tail) and
        the later steps still run; the JSON record is rewritten after every step, so a check
        stopped by a time limit keeps what it measured."""
        print(title, flush=True)
        t0 = time.monotonic()
        try:
            record[key], found = fn()
            failures.extend(found)
        except CannotRun:
            raise
        except Exception as err:  # reported as a failure; the other steps still run
            tail = traceback.format_exc().strip().splitlines()[-6:]
            failures.append(f"{key} crashed: {type(err).__name__}: {err} | "
                            + " | ".join(line.strip() for line in tail[:-1]))
            print(f"  CRASHED: {type(err).__name__}: {err}", flush=True)
        record.setdefault("step_seconds", {})[key] = round(time.monotonic() - t0, 1)
        if args.json:
            record["elapsed_s"] = round(time.monotonic() - start, 1)
            _write_json(args.json, record)

    try:
        print("1. environment", flush=True)
        record["environment"] = environment(args.device)
        print("  " + ", ".join(f"{k} {v}" for k, v in record["environment"].items()),
              flush=True)
        if "survey" not in args.skip:
            _survey_modules()  # fail early, before the long steps, when not in a checkout
        if "conformance" not in args.skip:
            count = 4 if args.quick else args.count
            step("conformance", "2. conformance (ppverify check on the device)",
                 lambda: conformance(count, max(2, count // 3),
                                     dims=(2,) if args.quick else (1, 2, 3),
                                     shrink_seconds=0 if args.quick else 20))
        if "survey" not in args.skip:
            dtypes = ["float32", "bfloat16"] if args.quick else \
                ["float64", "float32", "float16", "bfloat16"]
            step("survey", "3. accuracy survey (tests/ops/_cases.py against the oracle)",
                 lambda: survey(args.device, dtypes, quick=args.quick))
        if "bench" not in args.skip and args.device == "cuda":
            step("bench", "4. benchmark (ppverify bench --device cuda)",
                 lambda: benchmark(args.repeats, args.inner))
    except CannotRun as err:
        print(f"gpu_check: cannot run: {err}", file=sys.stderr)
        return 2
    record["elapsed_s"] = round(time.monotonic() - start, 1)
    if args.json:
        _write_json(args.json, record)
    print(f"\n{len(failures)} failure(s) in {record['elapsed_s']} s", flush=True)
    for line in failures:
        print(f"  FAIL {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
