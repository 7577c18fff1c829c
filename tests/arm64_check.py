"""Run the kernel built for ARM64 under qemu and compare it with this machine's, bit for bit.

    python -m tests.arm64_check [--march ARMV8] [--keep DIR]

Needs an x86-64 machine with a cross compiler and qemu's user mode (Debian / Ubuntu: ``apt
install g++-aarch64-linux-gnu qemu-user``). Builds ``ppool_kernel.cpp`` for ARM64 with the
flags an ARM machine's own build uses (``_native.FLAGS`` with ``cpu_target_flags("aarch64",
MARCH)``; default ``armv8-a``, since ``-mcpu=native`` needs the ARM CPU itself) and
``tests/arm64_driver.c``, runs every case below under ``qemu-aarch64`` (2 threads) through the
kernel's three pairs of entry points (``ppv_forward`` and the recomputing ``ppv_backward``;
where windows share no element, the saving forward and the backward from its state; where they
share some, the overlap state's pair), runs the same through this machine's kernel, and prints
how many runs agree bit for bit (outputs, input gradients, parameter gradients; where both
refuse a saved state, as autograd then recomputes, the outputs only). The ARM build runs the
kernel's vector code through avx2_neon.inc (the driver prints ``vector code 3``: NEON), this
machine's its own (AVX-512 or AVX2); no difference is allowed: every value must agree bit for
bit. Exit status 0 when every value agrees, 1 otherwise, 2 when the tools are missing.

The cases: P-pooling in float32, float64, bfloat16 and float16; 1-D, 2-D and 3-D windows (k2 s2,
k3 s2 p1, k3 s1 with dilation 2, ceil_mode), adaptive and global; contiguous and channels-last
memory; scalar alpha (0, 1, 2.5, -3, 1e3) and one per channel (-2 to 1e5); inputs with zeros,
ties, and values from 2^-60 to 2^60; the power mean (p 3, 1, -2, 0.25, per channel) and Lp (p 2,
3, 1, per channel) in float32, bfloat16 and float16 on the same windows."""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from ppverify.ops import _layout, _native

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "arm64_driver.c"
SYSROOT = "/usr/aarch64-linux-gnu"


def _inputs(kind: str, shape: tuple[int, ...], dtype: torch.dtype, gen) -> torch.Tensor:
    if kind == "rand":
        x = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.01
    elif kind == "zeros":  # a third of the elements zero
        x = torch.rand(shape, generator=gen, dtype=torch.float64)
        x[torch.rand(shape, generator=gen) < 0.33] = 0.0
    elif kind == "ties":  # few distinct values
        x = torch.randint(0, 4, shape, generator=gen).double() * 0.25
    else:  # "binades": values over 2^-60 .. 2^60 (within the narrow dtypes' ranges)
        span = {torch.float16: 12, torch.bfloat16: 60}.get(dtype, 60)
        e = torch.randint(-span, span + 1, shape, generator=gen).double()
        x = (torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5) * torch.pow(2.0, e)
    return x.to(dtype)


def cases():
    """(label, op, layout, x, param, param_dim, channels_last)"""
    gen = torch.Generator().manual_seed(12)
    geometries = [
        ("1-D k3 s2 p1", _layout.windowed(1, 3, 2, 1), (2, 9, 23)),
        ("2-D k2 s2", _layout.windowed(2, 2, 2), (2, 9, 8, 10)),
        ("2-D k3 s2 p1", _layout.windowed(2, 3, 2, 1), (2, 9, 11, 9)),
        ("2-D k3 s1 d2 ceil", _layout.windowed(2, 3, 1, 0, 2, True), (1, 9, 10, 9)),
        ("3-D k3 s2 p1", _layout.windowed(3, 3, 2, 1), (1, 9, 5, 6, 7)),
        ("2-D adaptive 3", _layout.adaptive(2, 3), (2, 9, 10, 8)),
        ("2-D global", _layout.adaptive(2, 1), (2, 9, 13, 12)),
    ]
    out = []
    for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        for label, layout, shape in geometries:
            for kind in ("rand", "zeros", "ties", "binades"):
                for alpha in (2.5, 0.0, 1.0, -3.0, 1e3, "per-channel"):
                    x = _inputs(kind, shape, dtype, gen)
                    if alpha == "per-channel":
                        param = torch.tensor([-2.0, 0.0, 0.5, 1.0, 3.0, 8.0, 40.0, 1e3, 1e5],
                                             dtype=torch.float64)[: shape[1]]
                        dim = 1
                    else:
                        param, dim = torch.tensor([alpha], dtype=torch.float64), 0
                    channels_last = len(shape) in (4, 5) and kind == "rand"
                    out.append((f"{dtype} {label} {kind} alpha={alpha}", "ppool", layout, x,
                                param, dim, channels_last))
    # the power mean (GeM) and Lp of the same kernel (float32, bfloat16, float16: their float64
    # is the pure-torch path's)
    for op, ps in (("powermean", (3.0, 1.0, -2.0, 0.25)), ("lp", (2.0, 3.0, 1.0))):
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            for label, layout, shape in geometries:
                for kind in ("rand", "zeros", "binades"):
                    for p in (*ps, "per-channel"):
                        x = _inputs(kind, shape, dtype, gen)
                        if p == "per-channel":
                            param = torch.tensor([1.0, 2.0, 3.0, 0.5, 4.0, 6.0, 8.0, 1.5, 10.0],
                                                 dtype=torch.float64)[: shape[1]]
                            dim = 1
                        else:
                            param, dim = torch.tensor([p], dtype=torch.float64), 0
                        out.append((f"{op} {dtype} {label} {kind} p={p}", op, layout, x, param,
                                    dim, len(shape) in (4, 5) and kind == "rand"))
    return out


def _memory(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """x with the memory the kernel reads: (N, spatial..., C) order for channels-last."""
    return x.movedim(1, -1).contiguous().movedim(-1, 1) if channels_last else x.contiguous()


def _raw(t: torch.Tensor) -> bytes:
    """t's memory, in its storage order, as bytes."""
    return t.detach().cpu().view(torch.uint8).numpy().tobytes() if t.is_contiguous() else \
        t.movedim(1, -1).contiguous().view(torch.uint8).numpy().tobytes()


MODES = {0: "fwd+bwd", 1: "disjoint state", 2: "overlap state"}


def _sizes(c) -> dict:
    """The byte and element counts of case ``c``'s buffers (the driver's header)."""
    x, plan = c["x"], c["plan"]
    y_bytes = c["gy"].numel() * c["gy"].element_size()
    jac_bytes = x.numel() * _native.jac_dtype(x.dtype).itemsize
    overlap = c["mode"] == 2  # (dw: the overlap state's float dy/dalpha, padded lanes)
    state = _native.overlap_weights_size(plan) if overlap else 0
    dw = _native.overlap_state_size(plan) if overlap else c["gy"].numel()
    return dict(x=x.numel() * x.element_size(), y=y_bytes, jac=jac_bytes,
                dw=dw, state=state, ref=int(plan[3]) * int(plan[4]))


def run_case(lib, c) -> dict:
    """Case ``c`` through ``lib`` (this machine's kernel), as the driver runs it: statuses and
    the raw y, gx, dparam."""
    z = _sizes(c)
    x, param, gy, plan = c["x"], c["param"], c["gy"], c["plan"].ctypes.data
    y = torch.zeros(z["y"], dtype=torch.uint8)
    gx = torch.zeros(z["x"], dtype=torch.uint8)
    dp = torch.zeros(param.shape, dtype=torch.float64)
    if c["mode"] == 1:
        jac = torch.zeros(z["jac"], dtype=torch.uint8)
        dw = torch.zeros(z["dw"], dtype=torch.float64)
        fs = lib.ppv_forward_saved(plan, x.data_ptr(), param.data_ptr(), y.data_ptr(),
                                   jac.data_ptr(), dw.data_ptr(), 2)
        bs = lib.ppv_backward_saved(plan, jac.data_ptr(), dw.data_ptr(), gy.data_ptr(),
                                    gx.data_ptr(), dp.data_ptr(), 2)
    elif c["mode"] == 2:
        weights = torch.zeros(z["state"], dtype=torch.float32)
        dw = torch.zeros(z["dw"], dtype=torch.float32)
        ref = torch.zeros(z["ref"], dtype=torch.float64)
        fs = lib.ppv_forward_overlap_saved(plan, x.data_ptr(), param.data_ptr(), y.data_ptr(),
                                           weights.data_ptr(), dw.data_ptr(), ref.data_ptr(),
                                           2)
        bs = lib.ppv_backward_overlap_saved(plan, x.data_ptr(), param.data_ptr(),
                                            weights.data_ptr(), dw.data_ptr(), ref.data_ptr(),
                                            gy.data_ptr(), gx.data_ptr(), dp.data_ptr(), 2)
    else:
        fs = lib.ppv_forward(plan, x.data_ptr(), param.data_ptr(), y.data_ptr(), 2)
        bs = lib.ppv_backward(plan, x.data_ptr(), param.data_ptr(), gy.data_ptr(),
                              gx.data_ptr(), dp.data_ptr(), 2)
    return dict(status=(fs, bs), y=y.numpy().tobytes(), gx=gx.numpy().tobytes(),
                dp=_raw(dp))


def prepare(all_cases):
    """Per case and entry-point pair (mode): plan, x, param, gy in the kernel's memory. Mode 0
    (forward, recomputing backward) for every case; mode 1 (the disjoint state's pair) where
    no element lies in two windows; mode 2 (the overlap state's pair) where some does and the
    kernel saves that state (P-pooling in float32, bfloat16, float16)."""
    prepared = []
    gen = torch.Generator().manual_seed(5)
    for label, op, layout, x, param, dim, cl in all_cases:
        shape = tuple(x.shape)
        x = _memory(x, cl)
        out = _layout.out_spatial(layout, shape[2:])
        plan = _native.make_plan(op, layout, shape, x.dtype, cl, dim, out)
        gy = _memory(torch.rand((shape[0], shape[1], *out), generator=gen,
                                dtype=torch.float64).to(x.dtype), cl)
        modes = [0, 1 if _native.plan_disjoint(plan) else
                 2 if _native.saves_overlap(op, x.dtype) else None]
        for mode in (m for m in modes if m is not None):
            prepared.append(dict(label=f"{label} [{MODES[mode]}]", plan=plan, x=x,
                                 param=param, gy=gy, dtype=x.dtype, mode=mode))
    return prepared


def write_cases(prepared, path: Path, threads: int = 2) -> None:
    """The driver's input file: every case run on ``threads`` threads."""
    with open(path, "wb") as f:
        f.write(struct.pack("<q", len(prepared)))
        for c in prepared:
            z = _sizes(c)
            f.write(struct.pack("<10q", len(c["plan"]), z["x"], len(c["param"]), z["y"], threads,
                                c["mode"], z["jac"], z["dw"], z["state"], z["ref"]))
            f.write(np.ascontiguousarray(c["plan"], dtype=np.int64).tobytes())
            f.write(_raw(c["x"]))
            f.write(c["param"].numpy().tobytes())
            f.write(_raw(c["gy"]))


def _ulps(a: bytes, b: bytes, dtype: torch.dtype) -> tuple[int, int]:
    """(values that differ, the largest difference in ULP) of two arrays of ``dtype``."""
    np_int = {torch.float64: np.int64, torch.float32: np.int32}.get(dtype, np.int16)
    ia = np.frombuffer(a, dtype=np_int).astype(np.int64)
    ib = np.frombuffer(b, dtype=np_int).astype(np.int64)
    differ = ia != ib
    if not differ.any():
        return 0, 0
    magnitude = np.int64((1 << (np.dtype(np_int).itemsize * 8 - 1)) - 1)
    # ordered integers: negative floats mirrored below zero
    oa = np.where(ia < 0, -(ia & magnitude), ia)
    ob = np.where(ib < 0, -(ib & magnitude), ib)
    return int(differ.sum()), int(np.abs(oa - ob)[differ].max())


def tools() -> tuple[str, str, str] | None:
    """The cross compilers (C++, C) and qemu-aarch64, or None where one is missing."""
    found = tuple(shutil.which(t) for t in ("aarch64-linux-gnu-g++", "aarch64-linux-gnu-gcc",
                                             "qemu-aarch64"))
    return found if all(found) else None


def kernel_flags(target: list[str]) -> list[str]:
    """This machine's kernel flags with ``target`` in place of its CPU options (whatever
    $PPVERIFY_MARCH chose): a build for another machine."""
    flags = [f for f in _native.FLAGS if not f.startswith(_native._TARGET_OPTIONS)]
    return [flags[0], *target, *flags[1:]]


def build(work: Path, march: str = "armv8-a", quiet: bool = False,
          mcpu: str | None = None) -> tuple[Path, Path]:
    """The kernel for ARM64 (``kernel_flags`` with ``-march=MARCH``, or ``-mcpu=MCPU`` as a
    machine's own ``-mcpu=native`` names its CPU, tuning included) and the driver, in
    ``work``."""
    cxx, cc, _ = tools()
    flags = kernel_flags([f"-mcpu={mcpu}"] if mcpu else
                         _native.cpu_target_flags("aarch64", march))
    kernel, driver = work / "kernel_arm64.so", work / "driver"
    if not quiet:
        print(f"building the kernel for ARM64: {cxx} {' '.join(flags)}", flush=True)
    subprocess.run([cxx, *flags, str(_native.SOURCE), "-o", str(kernel)], check=True)
    subprocess.run([cc, "-O2", str(DRIVER), "-o", str(driver), "-ldl"], check=True)
    return kernel, driver


def qemu() -> list[str]:
    """The command prefix that runs an ARM64 program here: qemu-aarch64 with ``-cpu max``
    (every ARMv8/v9 feature a build may use, SVE among them) and the cross sysroot."""
    return [tools()[2], "-cpu", "max", "-L", SYSROOT]


def compare(prepared, work: Path, kernel: Path, driver: Path,
            runner: list[str] | None = None, env: dict | None = None) -> dict:
    """Runs ``prepared`` through ``driver`` with ``kernel`` (by ``runner``, a command prefix:
    default ``qemu()``; ``[]`` runs a native build directly; ``env``: its environment) and
    through this machine's kernel: ``problems`` (label -> what differs), ``refusals``,
    ``totals`` (values compared), ``driver`` (its output line)."""
    write_cases(prepared, work / "cases.bin")
    run = subprocess.run([*(qemu() if runner is None else runner), str(driver), str(kernel),
                          str(work / "cases.bin"), str(work / "out.bin")],
                         capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"the driver failed (exit status {run.returncode}): "
                           f"{run.stderr.strip()[-2000:]}")
    lib = _native.load()
    data = (work / "out.bin").read_bytes()
    at, refusals, totals, problems = 0, 0, {"y": 0, "gx": 0, "dp": 0}, {}
    for c in prepared:
        fs, bs = struct.unpack_from("<2i", data, at)
        at += 8
        got = {"status": (fs, bs)}
        z = _sizes(c)
        for key, n in (("y", z["y"]), ("gx", z["x"]), ("dp", c["param"].numel() * 8)):
            got[key] = data[at:at + n]
            at += n
        want = run_case(lib, c)
        found = []
        if got["status"] != want["status"]:
            found.append(f"status {got['status']}, here {want['status']}")
        # a state the forward refuses (status bit 1 or _UNSAVED) is not read by autograd,
        # which recomputes: only y is compared then
        refused = c["mode"] != 0 and bool(want["status"][0] & (_native._UNSAVED | 1))
        refusals += refused
        for key in ("y",) if refused else ("y", "gx", "dp"):
            dtype = torch.float64 if key == "dp" else c["dtype"]
            differ, ulps = _ulps(got[key], want[key], dtype)
            totals[key] += len(want[key]) // dtype.itemsize
            if differ:
                found.append(f"{key}: {differ} differ (up to {ulps} ULP)")
        if found:
            problems[c["label"]] = "; ".join(found)
    return dict(problems=problems, refusals=refusals, totals=totals, driver=run.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--march", default="armv8-a", help="the ARM architecture to build for")
    parser.add_argument("--mcpu", help="build for this CPU instead, its tuning included "
                        "(neoverse-v1: Graviton 3, SVE; neoverse-n1: Graviton 2)")
    parser.add_argument("--keep", type=Path, help="build and run in this directory, kept")
    args = parser.parse_args()
    if tools() is None:
        print("needs aarch64-linux-gnu-g++, aarch64-linux-gnu-gcc and qemu-aarch64 "
              "(apt install g++-aarch64-linux-gnu qemu-user)", file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="ppverify-arm64-"))
    work.mkdir(parents=True, exist_ok=True)
    kernel, driver = build(work, args.march, mcpu=args.mcpu)
    prepared = prepare(cases())
    print(f"{len(prepared)} cases; running them under qemu-aarch64", flush=True)
    try:
        r = compare(prepared, work, kernel, driver)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(r["driver"])
    for label, what in r["problems"].items():
        print(f"  {label}: {what}")
    bad, totals = len(r["problems"]), r["totals"]
    by_mode = {m: sum(c["mode"] == m for c in prepared) for m in MODES}
    print(f"{len(prepared) - bad} of {len(prepared)} runs agree bit for bit with "
          f"this machine's kernel ({_native.vector_isa()} code): " + ", ".join(
              f"{by_mode[m]} {MODES[m]}" for m in MODES) +
          f" ({r['refusals']} states refused by both, their outputs compared); {totals['y']} "
          f"outputs, {totals['gx']} input gradients, {totals['dp']} parameter gradients; "
          f"{bad} differ")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
