"""Run the compiled kernel under AddressSanitizer and UndefinedBehaviorSanitizer.

    python -m tests.sanitize_check [--one-lane] [--plant] [--keep DIR]

Builds ``ppool_kernel.cpp`` with this machine's flags (``_native.FLAGS``) plus
``-fsanitize=address,undefined`` (and ``tests/arm64_driver.c`` with the same sanitizers), runs
``tests/arm64_check``'s 1,953 runs natively through the kernel's three pairs of entry points
(P-pooling in four dtypes, the power mean and Lp; 1-3-D windowed, adaptive and global;
contiguous and channels-last; zeros, ties, 2^-60 .. 2^60; alpha and p from -3 to 1e5, per
channel too), and reports every sanitizer message: an out-of-bounds access, a use after free,
a signed overflow, a misaligned or null access, a shift out of range, a float-to-int
conversion out of range. Exit status 0 when there is none, 1 otherwise, 2 when it cannot
build (no g++, or the build failed: its errors printed).

``--one-lane`` builds the one-lane forms (``-DPPV_ONE_LANE``: what a CPU without AVX2 or NEON
runs) instead of this machine's vector code. ``--plant`` builds a copy of the kernel with two
deliberate defects (a read before the plan array, a signed overflow in its parser), to show
that both sanitizers' reports reach this check.

The build takes 9-20 minutes on a 2-core machine (the sanitizers' instrumentation of the
large template functions); the runs, a minute. Not in the test suite for that reason: run it
after changing the kernel's memory handling. The sanitized build's results are also compared
with this machine's kernel bit for bit, for information only: the instrumentation changes what
GCC contracts into fma (docs/performance-history.md, "How much of the kernel's bits is GCC's
contraction"), so a few last-bit differences in gradients are expected there and do not fail
the check."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ppverify.ops import _native
from tests import arm64_check

SANITIZE = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g1"]

# (original, planted) pairs of ppool_kernel.cpp's text for --plant: in the plan's parser, which
# every run calls, a signed overflow (UndefinedBehaviorSanitizer reports it and goes on), then a
# read of the word before the plan (AddressSanitizer reports it and stops the driver)
PLANTS = [
    ("dtype = p[1]; layout = p[2]; N = p[3];",
     "dtype = p[1]; layout = p[2]; N = p[3];\n"
     "    volatile int64_t planted_big = INT64_MAX;  // planted: N + INT64_MAX overflows\n"
     "    if (N + planted_big == 0x5eed) return false;  // (a volatile: not folded away)\n"
     "    if (p[-1] == 0x5eed) return false;  // planted"),
]


def planted_source(work: Path) -> Path:
    """A copy of the kernel's source (and its includes) in ``work`` with PLANTS applied."""
    src = work / "src"
    src.mkdir(exist_ok=True)
    for f in _native.SOURCE.parent.glob("*.inc"):
        shutil.copy(f, src / f.name)
    text = _native.SOURCE.read_text()
    for old, new in PLANTS:
        if text.count(old) != 1:
            raise RuntimeError(f"cannot plant: {old!r} is not in the kernel once")
        text = text.replace(old, new)
    out = src / _native.SOURCE.name
    out.write_text(text)
    return out


def build(work: Path, one_lane: bool, plant: bool) -> tuple[Path, Path]:
    """The sanitized kernel and driver, in ``work``."""
    source = planted_source(work) if plant else _native.SOURCE
    flags = [*_native.FLAGS, *SANITIZE, *(["-DPPV_ONE_LANE"] if one_lane else [])]
    kernel, driver = work / "kernel_sanitized.so", work / "driver"
    print(f"building the kernel: g++ {' '.join(flags)} {source.name}", flush=True)
    started = time.monotonic()
    # (its stderr is GCC's notes on variable tracking, shown only when the build fails)
    proc = subprocess.run(["g++", *flags, str(source), "-o", str(kernel)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the sanitized build failed:\n{proc.stderr[-4000:]}")
    subprocess.run(["gcc", "-O1", *SANITIZE, str(arm64_check.DRIVER), "-o", str(driver),
                    "-ldl"], check=True)
    print(f"built in {time.monotonic() - started:.0f} s", flush=True)
    return kernel, driver


def reports(work: Path) -> list[str]:
    """The sanitizers' reports written under ``work`` (one file per process)."""
    return [p.read_text() for p in sorted(work.glob("sanitizer.*"))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one-lane", action="store_true",
                        help="build the one-lane forms (-DPPV_ONE_LANE)")
    parser.add_argument("--plant", action="store_true",
                        help="plant two defects, to show that the check reports them")
    parser.add_argument("--keep", type=Path, help="build and run in this directory, kept")
    args = parser.parse_args()
    if shutil.which("g++") is None or shutil.which("gcc") is None:
        print("needs g++ and gcc with their sanitizer runtimes (libasan, libubsan)",
              file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="ppverify-sanitize-"))
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("sanitizer.*"):
        old.unlink()
    try:
        kernel, driver = build(work, args.one_lane, args.plant)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 2
    log = str(work / "sanitizer")
    env = dict(os.environ,
               ASAN_OPTIONS=f"detect_leaks=0:log_path={log}",
               UBSAN_OPTIONS=f"print_stacktrace=1:halt_on_error=0:log_path={log}")
    prepared = arm64_check.prepare(arm64_check.cases())
    print(f"{len(prepared)} runs", flush=True)
    try:
        result = arm64_check.compare(prepared, work, kernel, driver, runner=[], env=env)
    except RuntimeError as e:  # AddressSanitizer stops the driver at its first report
        print(e, file=sys.stderr)
        result = None
    found = reports(work)
    for text in found:
        print(text.strip()[:4000])
    if result is not None:
        print(f"{result['driver']}; {len(prepared) - len(result['problems'])} of "
              f"{len(prepared)} runs bit for bit as this machine's kernel (for information)")
    print(f"{len(found)} sanitizer report file(s)" if found else
          "no sanitizer report" + ("" if result is not None else " (but the driver failed)"))
    return 0 if not found and result is not None else 1


if __name__ == "__main__":
    sys.exit(main())
