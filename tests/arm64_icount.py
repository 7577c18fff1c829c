"""Instructions the ARM64 kernel executes under qemu: its vector code (NEON) against its one-lane
forms, on the same cases. A stand-in for speed where no ARM machine is at hand: not time.

    python -m tests.arm64_icount [--keep DIR]

Needs what tests/arm64_check.py needs (``apt install g++-aarch64-linux-gnu qemu-user``). Builds
the kernel for ARM64 (armv8-a, the flags of arm64_check) twice: as an ARM machine builds it
(``avx2_neon.inc``: the vector code) and with ``-DPPV_ONE_LANE`` (the one-lane forms, which GCC
vectorises lane by lane with NEON on its own), then runs each case below through
``tests/arm64_driver.c`` under ``qemu-aarch64 -d in_asm,exec,nochain`` (one thread) and counts
the guest instructions executed: each translated block's length times its executions, less a
run with no case (the process's start-up, about 2.6 million). Counts are exact and repeatable;
how they turn into time depends on the ARM core (a NEON instruction does 2 doubles or 4 floats
on Neoverse and Apple cores alike; the one-lane forms' loops are NEON code too), so a ratio
near 1 says "about the same", not more. Each run logs 50-150 MB to the work directory (removed
after counting)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ppverify.ops import _layout, _native
from tests import arm64_check

_BLOCK = re.compile(r"^0x[0-9a-f]+:")
_TRACE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def cases() -> list[tuple[str, tuple, int]]:
    """(label, arm64_check case, mode): (1, 16, 56, 56) inputs, one entry-point pair each."""
    gen = torch.Generator().manual_seed(3)
    k2, k3 = _layout.windowed(2, 2, 2), _layout.windowed(2, 3, 2, 1)
    glob = _layout.adaptive(2, 1)
    f32, f64, bf16, f16 = torch.float32, torch.float64, torch.bfloat16, torch.float16
    spec = [  # label, op, layout, dtype, channels_last, mode (arm64_check.MODES), parameter
        ("f32 k2 s2 forward + backward", "ppool", k2, f32, False, 0, 2.5),
        ("f32 k2 s2 saving forward + backward", "ppool", k2, f32, False, 1, 2.5),
        ("f32 k3 s2 p1 forward + backward", "ppool", k3, f32, False, 0, 2.5),
        ("f32 k3 s2 p1 overlap state's pair", "ppool", k3, f32, False, 2, 2.5),
        ("f32 k3 s2 p1 channels-last", "ppool", k3, f32, True, 0, 2.5),
        ("f32 global", "ppool", glob, f32, False, 0, 2.5),
        ("bf16 k3 s2 p1", "ppool", k3, bf16, False, 0, 2.5),
        ("f16 k2 s2", "ppool", k2, f16, False, 0, 2.5),
        ("f64 k2 s2", "ppool", k2, f64, False, 0, 2.5),
        ("f64 k3 s2 p1", "ppool", k3, f64, False, 0, 2.5),
        ("power mean f32 k3 s2 p1 (p 3)", "powermean", k3, f32, False, 0, 3.0),
        ("Lp bf16 k2 s2 (p 2)", "lp", k2, bf16, False, 0, 2.0),
    ]
    out = []
    for label, op, layout, dtype, cl, mode, p in spec:
        x = (torch.rand((1, 16, 56, 56), generator=gen, dtype=torch.float64) + 0.01).to(dtype)
        case = (label, op, layout, x, torch.tensor([p], dtype=torch.float64), 0, cl)
        out.append((label, case, mode))
    return out


def count(log: Path) -> int:
    """Guest instructions executed, from a qemu ``-d in_asm,exec,nochain`` log."""
    sizes: dict[int, int] = {}
    runs: dict[int, int] = {}
    start, n = None, 0
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                if start is not None:
                    sizes[start] = n
                start, n = None, 0
            elif _BLOCK.match(line):
                if start is None:
                    start = int(line.split(":")[0], 16)
                n += 1
            elif m := _TRACE.match(line):
                pc = int(m.group(1), 16)
                runs[pc] = runs.get(pc, 0) + 1
    if start is not None:
        sizes[start] = n
    missing = [pc for pc in runs if pc not in sizes]
    assert not missing, f"{len(missing)} executed blocks were never translated in {log}"
    return sum(sizes[pc] * k for pc, k in runs.items())


def run_counted(qemu: str, work: Path, driver: Path, kernel: Path, cases_file: Path) -> int:
    log = work / "qemu.log"
    subprocess.run([qemu, "-L", arm64_check.SYSROOT, "-d", "in_asm,exec,nochain", "-D", str(log),
                    str(driver), str(kernel), str(cases_file), str(work / "out.bin")],
                   check=True, capture_output=True)
    try:
        return count(log)
    finally:
        log.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build and run in this directory, kept")
    args = parser.parse_args()
    cxx, cc = shutil.which("aarch64-linux-gnu-g++"), shutil.which("aarch64-linux-gnu-gcc")
    qemu = shutil.which("qemu-aarch64")
    if not (cxx and cc and qemu):
        print("needs aarch64-linux-gnu-g++, aarch64-linux-gnu-gcc and qemu-aarch64 "
              "(apt install g++-aarch64-linux-gnu qemu-user)", file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="ppverify-arm64-icount-"))
    work.mkdir(parents=True, exist_ok=True)
    flags = [f for f in _native.FLAGS if not f.startswith(_native._TARGET_OPTIONS)]
    flags[1:1] = _native.cpu_target_flags("aarch64", "armv8-a")
    builds = {"vector code (NEON)": [], "one-lane forms": ["-DPPV_ONE_LANE"]}
    kernels = {name: work / f"kernel_{i}.so" for i, name in enumerate(builds)}
    print("building the kernel for ARM64 twice (about 80 s each, in parallel)", flush=True)
    procs = [subprocess.Popen([cxx, *flags, *extra, "-Wno-psabi", str(_native.SOURCE), "-o",
                               str(kernels[name])]) for name, extra in builds.items()]
    driver = work / "driver"
    subprocess.run([cc, "-O2", str(arm64_check.DRIVER), "-o", str(driver), "-ldl"], check=True)
    if any(p.wait() != 0 for p in procs):
        return 1
    empty = work / "empty.bin"
    arm64_check.write_cases([], empty)
    start = {name: run_counted(qemu, work, driver, k, empty) for name, k in kernels.items()}
    print(f"start-up (no case): {', '.join(f'{n} {c / 1e6:.2f}M' for n, c in start.items())}")
    names = list(builds)
    print(f"{'case, (1, 16, 56, 56), one thread':40s} {names[0]:>20s} {names[1]:>16s}  ratio")
    for label, case, mode in cases():
        prepared = [c for c in arm64_check.prepare([case]) if c["mode"] == mode]
        assert prepared, f"{label}: no run of mode {mode}"
        one = work / "case.bin"
        arm64_check.write_cases(prepared, one)
        got = {n: run_counted(qemu, work, driver, k, one) - start[n] for n, k in kernels.items()}
        a, b = got[names[0]], got[names[1]]
        print(f"{label:40s} {a / 1e6:19.2f}M {b / 1e6:15.2f}M  {a / b:5.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
