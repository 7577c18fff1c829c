"""Instructions the ARM64 kernel executes under qemu: its vector code (NEON) against its one-lane
forms, on the same cases. A stand-in for speed where no ARM machine is at hand: not time.

    python -m tests.arm64_icount [--x86] [--keep DIR]

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
after counting).

``--x86`` adds the same comparison for x86-64 (``-march=x86-64-v3``: the AVX2 emulation against
the one-lane forms, which GCC vectorises with AVX2; both under ``qemu-x86_64 -cpu max``), a
calibration: on x86 the two builds' times were measured (the vector code 2.2-3.4x faster on AMD
EPYC Zen 3: README, "On CPUs without AVX-512"), so its instruction ratio shows what ratio went
with that gain."""

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


def run_counted(command: list[str], work: Path, kernel: Path, cases_file: Path) -> int:
    """Guest instructions of one driver run (``command``: qemu with its options, then the
    driver)."""
    log = work / "qemu.log"
    subprocess.run([*command[:-1], "-d", "in_asm,exec,nochain", "-D", str(log), command[-1],
                    str(kernel), str(cases_file), str(work / "out.bin")],
                   check=True, capture_output=True)
    try:
        return count(log)
    finally:
        log.unlink()


def targets(x86: bool) -> dict[str, dict] | str:
    """Per machine: the compilers, the kernel's flags and how qemu runs the driver; or a
    sentence naming what is missing."""
    tools = {t: shutil.which(t) for t in ("aarch64-linux-gnu-g++", "aarch64-linux-gnu-gcc",
                                           "qemu-aarch64", "g++", "gcc", "qemu-x86_64")}
    need = ["aarch64-linux-gnu-g++", "aarch64-linux-gnu-gcc", "qemu-aarch64"]
    need += ["g++", "gcc", "qemu-x86_64"] if x86 else []
    missing = [t for t in need if not tools[t]]
    if missing:
        return f"needs {', '.join(missing)} (apt install g++-aarch64-linux-gnu qemu-user)"
    flags = arm64_check.kernel_flags
    out = {"ARM64": dict(cxx=tools["aarch64-linux-gnu-g++"], cc=tools["aarch64-linux-gnu-gcc"],
                         flags=flags(_native.cpu_target_flags("aarch64", "armv8-a")),
                         qemu=[tools["qemu-aarch64"], "-L", arm64_check.SYSROOT])}
    if x86:
        out["x86-64-v3"] = dict(cxx=tools["g++"], cc=tools["gcc"],
                                flags=flags(_native.cpu_target_flags("x86_64", "x86-64-v3")),
                                qemu=[tools["qemu-x86_64"], "-cpu", "max"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="build and run in this directory, kept")
    parser.add_argument("--x86", action="store_true",
                        help="also x86-64-v3 (AVX2) under qemu-x86_64: a calibration")
    args = parser.parse_args()
    machines = targets(args.x86)
    if isinstance(machines, str):
        print(machines, file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="ppverify-arm64-icount-"))
    work.mkdir(parents=True, exist_ok=True)
    builds = {"vector code": [], "one-lane forms": ["-DPPV_ONE_LANE"]}
    print(f"building the kernel {2 * len(machines)} times (about 80 s each, two at a time)",
          flush=True)
    runs = {}  # (machine, build) -> (qemu command with the driver, kernel)
    for m, tgt in machines.items():
        driver = work / f"driver_{m}"
        subprocess.run([tgt["cc"], "-O2", str(arm64_check.DRIVER), "-o", str(driver), "-ldl"],
                       check=True)
        procs = []
        for i, (name, extra) in enumerate(builds.items()):
            kernel = work / f"kernel_{m}_{i}.so"
            procs.append(subprocess.Popen([tgt["cxx"], *tgt["flags"], *extra, "-Wno-psabi",
                                           str(_native.SOURCE), "-o", str(kernel)]))
            runs[m, name] = ([*tgt["qemu"], str(driver)], kernel)
        if any(p.wait() != 0 for p in procs):
            return 1
    empty = work / "empty.bin"
    arm64_check.write_cases([], empty)
    start = {k: run_counted(cmd, work, kernel, empty) for k, (cmd, kernel) in runs.items()}
    print("start-up (no case): " + ", ".join(f"{m} {b} {c / 1e6:.2f}M"
                                             for (m, b), c in start.items()))
    print("millions of instructions executed, (1, 16, 56, 56), one thread: "
          "vector code / one-lane forms = ratio")
    print(f"{'case':38s}" + "".join(f" | {m:^30s}" for m in machines))
    for label, case, mode in cases():
        prepared = [c for c in arm64_check.prepare([case]) if c["mode"] == mode]
        assert prepared, f"{label}: no run of mode {mode}"
        one = work / "case.bin"
        arm64_check.write_cases(prepared, one, threads=1)
        line = f"{label:38s}"
        for m in machines:
            a, b = (run_counted(runs[m, name][0], work, runs[m, name][1], one) - start[m, name]
                    for name in builds)
            line += f" | {a / 1e6:8.2f} / {b / 1e6:8.2f} = {a / b:5.2f}x"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
