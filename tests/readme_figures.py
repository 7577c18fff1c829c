"""Re-measure every measured figure the README quotes, and print them with their label.

    python -m tests.readme_figures               # everything (about 25 minutes on 2 cores)
    python -m tests.readme_figures oracle prove  # selected groups

The README states two kinds of numbers: *bounds*, which the test suite holds (a test fails if
one stops being true), and *measurements* of speed, memory and observed accuracy on one
machine. Every measurement in the README was produced by this script (or by the command it
names), and is quoted with the machine, the date and the load average printed here. Groups:

  oracle   ppverify bench-oracle (1 process, --jobs 2, alpha = 1e6)
  prove    ppverify prove: wall and CPU time from a cold start
  survey   python -m tests.ops.ulp_survey, op path and --fallback: worst forward ULP per dtype
  check    ppverify check of ppverify.ops, 1-3 D, default and --thorough: wall time
  report   ppverify report into a temporary directory: wall time
  build    a fresh compile of the native kernel: seconds
  bench    ppverify bench (kernel path) and ppverify bench --fallback --repeats 3
  gem      ppverify bench --op gem --shape 8 64 56 56 --repeats 5 (2 threads and 1)
  matrix   ppverify bench --matrix --rss (issue 12's table; about 6 minutes)
  long1d   p_pool1d(x, 2.0, 3) on one (1, 1, 2_000_000) float32 signal: best of 7 rounds
           interleaved with max_pool1d (forward, forward+backward), and the peak-RSS growth of
           each in a fresh process (about a minute)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def machine_label() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch "
            f"{torch.__version__} ({torch.backends.cpu.get_cpu_capability()}), "
            f"{datetime.date.today().isoformat()}")


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def run(label: str, argv: list[str], tail: int = 12) -> None:
    """Run one command; print its wall and CPU time (with children) and the end of its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"\n### {label}\n$ {' '.join(argv)}\n  exit {proc.returncode}, wall {wall:.1f} s, "
          f"CPU {cpu:.1f} s, {load()}")
    # torch's profiler prints USDT probe lines on stderr: noise, not results
    lines = [line for line in (proc.stdout + proc.stderr).strip().splitlines()
             if not line.startswith("USDT:")]
    for line in lines[-tail:]:
        print("  | " + line)


def ppverify(*args: str) -> list[str]:
    return [str(BIN / "ppverify"), *args]


def module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", name, *args]


def group_oracle() -> None:
    run("oracle throughput, 1 process", ppverify("bench-oracle"), 4)
    run("oracle throughput, --jobs 2", ppverify("bench-oracle", "--jobs", "2"), 4)
    run("oracle throughput, alpha = 1e6", ppverify("bench-oracle", "--alpha", "1e6"), 4)


def group_prove() -> None:
    run("prove from a cold start", ppverify("prove"), 3)


def group_survey() -> None:
    run("accuracy survey, the op's own path", module("tests.ops.ulp_survey"), 8)
    run("accuracy survey, pure-torch path", module("tests.ops.ulp_survey", "--fallback"), 8)


def group_check() -> None:
    for dim in ("1", "2", "3"):
        run(f"check ppverify.ops, {dim}-D, default",
            ppverify("check", "ppverify.ops:p_pool{d}d", "--op", "ppool", "--dim", dim), 3)
    run("check ppverify.ops, 1-3 D, --thorough",
        ppverify("check", "ppverify.ops:p_pool{d}d", "--op", "ppool", "--thorough"), 3)


def group_report() -> None:
    with tempfile.TemporaryDirectory() as out:
        run("report, full", ppverify("report", "--out", out), 3)


def group_build() -> None:
    """The kernel's build into an empty cache, as one unit (``PPVERIFY_BUILD_JOBS=1``) and
    in parts with this machine's default number of compilers at once."""
    code = ("from ppverify.ops import _native; ok = _native.available(); "
            "print('available', ok, 'build seconds', _native.build_seconds, "
            "'jobs', _native.build_jobs())")
    for jobs in ("1", ""):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, PPVERIFY_CACHE=cache, PPVERIFY_BUILD_JOBS=jobs)
            t0 = time.perf_counter()
            cpu0 = os.times()
            proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            cpu1 = os.times()
            cpu = (cpu1.children_user + cpu1.children_system
                   - cpu0.children_user - cpu0.children_system)
            print(f"\n### native kernel, fresh build ({'one unit' if jobs else 'in parts'})"
                  f"\n  {proc.stdout.strip()} (process {time.perf_counter() - t0:.1f} s, "
                  f"CPU of its compilers {cpu:.1f} s), {load()}")


def group_bench() -> None:
    run("bench, kernel path", ppverify("bench"), 14)
    run("bench, pure-torch path", ppverify("bench", "--fallback", "--repeats", "3"), 14)


def group_gem() -> None:
    shape = ("--shape", "8", "64", "56", "56", "--repeats", "5")
    run("bench, power mean and Lp", ppverify("bench", "--op", "gem", *shape), 40)
    # one thread: under load, torch's 2-thread ops lose more to a busy second core than the
    # kernel does, so the 2-thread ratios flatter the kernel
    run("bench, power mean and Lp, 1 thread", ppverify("bench", "--op", "gem", *shape,
                                                       "--threads", "1"), 40)


def group_matrix() -> None:
    run("bench --matrix (issue 12's table)", ppverify("bench", "--matrix", "--rss"), 40)


_LONG1D_TIME = """
import time, torch
from torch.nn.functional import max_pool1d
from ppverify.ops import p_pool1d
p_pool1d(torch.rand(1, 1, 8), 2.0, 3)
x = torch.rand(1, 1, 2_000_000)
xg = x.clone().requires_grad_(True)
ops = {"p_pool1d fwd": lambda: p_pool1d(x, 2.0, 3),
       "max_pool1d fwd": lambda: max_pool1d(x, 3),
       "p_pool1d fwd+bwd": lambda: p_pool1d(xg, 2.0, 3).sum().backward(),
       "max_pool1d fwd+bwd": lambda: max_pool1d(xg, 3).sum().backward()}
best = dict.fromkeys(ops, float("inf"))
for _ in range(7):
    for name, op in ops.items():
        t = time.perf_counter(); op(); best[name] = min(best[name], time.perf_counter() - t)
print(", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in best.items()))
"""

_LONG1D_RSS = """
import resource, sys, torch
from torch.nn.functional import max_pool1d
from ppverify.ops import p_pool1d
torch.set_num_threads(2)
p_pool1d(torch.rand(1, 1, 8), 2.0, 3)
op = p_pool1d if sys.argv[1] == "p_pool1d" else (lambda x, a, k: max_pool1d(x, k))
x = torch.rand(1, 1, 2_000_000, requires_grad=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
y = op(x, 2.0, 3)
fwd = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
y.sum().backward()
both = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(f"{sys.argv[1]}: peak RSS +{fwd / 1024:.1f} MB forward, +{both / 1024:.1f} MB fwd+bwd")
"""


def group_long1d() -> None:
    run("one long 1-D signal, time", [sys.executable, "-c", _LONG1D_TIME], 2)
    for op in ("p_pool1d", "max_pool1d"):
        run(f"one long 1-D signal, RSS of {op}", [sys.executable, "-c", _LONG1D_RSS, op], 2)


_LAYER_CALL = """
import time, torch
from torch.nn.functional import max_pool2d
from ppverify.ops import PPool2d, p_pool2d
torch.set_num_threads(1)
x = torch.rand(1, 1, 4, 4)
layer = PPool2d(2, alpha=2.0)
calls = {"PPool2d": lambda: layer(x), "p_pool2d": lambda: p_pool2d(x, 2.0, 2),
         "max_pool2d": lambda: max_pool2d(x, 2)}
best = dict.fromkeys(calls, float("inf"))
with torch.no_grad():
    for name, call in calls.items():
        for _ in range(2000):
            call()
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(20000):
                call()
            best[name] = min(best[name], (time.perf_counter() - t) / 20000)
print(", ".join(f"{k} {v * 1e6:.1f} us" for k, v in best.items()),
      f"(PPool2d / max_pool2d {best['PPool2d'] / best['max_pool2d']:.2f}x)")
"""


def group_layer() -> None:
    run("per-call forward of the PPool2d layer, (1,1,4,4), no_grad, 1 thread",
        [sys.executable, "-c", _LAYER_CALL], 2)


GROUPS = {"oracle": group_oracle, "prove": group_prove, "survey": group_survey,
          "check": group_check, "report": group_report, "build": group_build,
          "bench": group_bench, "gem": group_gem, "matrix": group_matrix,
          "long1d": group_long1d, "layer": group_layer}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="*", default=list(GROUPS), metavar="GROUP",
                        help=f"any of {', '.join(GROUPS)} (default: all)")
    args = parser.parse_args()
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {unknown}; known: {', '.join(GROUPS)}")
    print(f"# README figures: {machine_label()}; {load()} at the start")
    for name in args.groups:
        GROUPS[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
