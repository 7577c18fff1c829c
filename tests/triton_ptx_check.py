"""Compile ppverify's Triton kernels for a CUDA GPU (sm_90) on a machine without one.

    python -m tests.triton_ptx_check [--dtype float32 ...] [--case k2s2 ...]
        [--arithmetic float64|mixed] [--ptxas PATH]

Triton's compiler (TTIR -> TTGIR -> LLVM IR -> PTX) runs on every kernel the dispatcher
launches for P-pooling forward and backward (scalar and per-channel alpha), through a stub
driver that reports an sm_90 device; launches are compile-only (``warmup``), and the last stage
(ptxas, PTX -> cubin) is skipped (over 80 s per float64 kernel on a 2-core machine). Nothing is
executed, so this finds what only a compile can (a construct the interpreter accepts and the
compiler does not, a global that changes the kernel's cache key), never wrong values, speed or
memory: those are for ``python -m ppverify.ops.gpu_check`` on a GPU. The kernels are compiled
with the tile shapes a GPU gets (``_triton.TILE``), not the interpreter's larger ones.
``--ptxas PATH`` assembles each kernel's PTX with that ptxas (``-v``, sm_90a; a PTX ISA version
newer than the ptxas knows is lowered to its own, ``--ptx-version``) and prints its registers,
stack frame and spills per thread: a proxy for occupancy that needs no GPU (the CUDA toolkit's
ptxas; the one in Triton's wheel may be older than the PTX it emits). It uses Triton's private
driver and JIT internals (written against Triton 3.4-3.9) and is a development tool, not part
of the test suite; ``tests/ops/test_triton_source.py`` holds the rules it found.
Exit status 1 if any case fails to compile.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

import torch

CASES = {
    "k2s2": lambda F, x, a: F.p_pool2d(x, a, 2, 2),
    "k3s2p1": lambda F, x, a: F.p_pool2d(x, a, 3, 2, 1),
    "adaptive": lambda F, x, a: F.adaptive_p_pool2d(x, a, 3),
    "global": lambda F, x, a: F.adaptive_p_pool2d(x, a, 1),
}
DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
          "bfloat16": torch.bfloat16}


kernels: list = []  # every compiled kernel (Triton's CompiledKernel: .asm["ptx"], .name)


# SASS opcode classes for --cuobjdump's instruction mix (first match wins)
SASS_CLASSES = [("f64", ("DADD", "DMUL", "DFMA", "DSETP", "DMNMX")),
                ("f32", ("FADD", "FMUL", "FFMA", "FSETP", "FMNMX", "FSEL", "FCHK")),
                ("mufu", ("MUFU",)),
                ("convert", ("F2F", "F2I", "I2F", "F2FP", "I2FP", "F2IP")),
                ("memory", ("LDG", "STG", "LDS", "STS", "LDL", "STL", "ATOM", "RED", "LDC")),
                ("exchange", ("SHFL", "BAR", "VOTE")),
                ("branch", ("BRA", "BSSY", "BSYNC", "CALL", "RET", "EXIT"))]


def _instruction_mix(cuobjdump: str, cubin: str) -> str:
    """Static SASS opcode counts of ``cubin`` by class (``SASS_CLASSES``; the rest: integer
    and other)."""
    import re
    import subprocess
    from collections import Counter

    out = subprocess.run([cuobjdump, "-sass", cubin], capture_output=True, text=True)
    if out.returncode:
        return "cuobjdump failed: " + (out.stdout + out.stderr).strip()[-200:]
    counts: Counter = Counter()
    for op in re.findall(r"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)", out.stdout):
        base = op.split(".")[0]
        cls = next((name for name, ops in SASS_CLASSES if base in ops), "other")
        counts[cls] += 1
    total = sum(counts.values())
    parts = [f"{name} {counts[name]}" for name, _ in SASS_CLASSES] + [f"other {counts['other']}"]
    return f"{total} SASS instructions: " + ", ".join(parts)


def _ptxas_report(ptxas: str, ptx: str, ptx_version: str | None,
                  cuobjdump: str | None = None) -> str:
    """``ptxas -v`` of one kernel's PTX: registers, stack frame, spill stores and loads (and,
    with ``cuobjdump``, the instruction mix)."""
    import re
    import subprocess
    import tempfile

    if ptx_version:
        ptx = re.sub(r"^\.version \S+", f".version {ptx_version}", ptx, count=1, flags=re.M)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "k.ptx")
        with open(src, "w") as f:
            f.write(ptx)
        cubin = os.path.join(tmp, "k.cubin")
        out = subprocess.run([ptxas, "--gpu-name", "sm_90a", "-v", src, "-o", cubin],
                             capture_output=True, text=True)
        mix = _instruction_mix(cuobjdump, cubin) if cuobjdump and not out.returncode else ""
    text = out.stdout + out.stderr
    if out.returncode:
        return "ptxas failed: " + text.strip()[-300:]
    regs = re.search(r"Used (\d+) registers", text)
    frame = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill "
                      r"loads", text)
    return (f"{regs.group(1) if regs else '?'} registers, stack frame "
            f"{frame.group(1) if frame else '?'} B, spills {frame.group(2) if frame else '?'} B "
            f"stored / {frame.group(3) if frame else '?'} B loaded" + (f"; {mix}" if mix else ""))


def _install_stub_driver(compiled: list[str]) -> None:
    from triton.backends.compiler import GPUTarget
    from triton.backends.nvidia import compiler as nvidia
    from triton.runtime import jit
    from triton.runtime.driver import driver

    nvidia.CUDABackend.make_cubin = lambda self, src, metadata, opt, capability: b""

    class Stub:
        def get_current_target(self):
            return GPUTarget("cuda", 90, 32)

        def get_current_device(self):
            return 0

        def get_current_stream(self, device=None):
            return 0

        def get_active_torch_device(self):
            return torch.device("cpu")

        def is_active(self):
            return True

        def __getattr__(self, name):
            raise AttributeError(f"the stub driver has no {name}")

    driver.set_active(Stub())
    run = jit.JITFunction.run

    def compile_only(self, *args, grid, warmup, **kw):
        kernel = run(self, *args, grid=grid, warmup=True, **kw)
        compiled.append(getattr(self, "__name__", str(getattr(self, "fn", self))))
        kernels.append(kernel)
        return kernel

    jit.JITFunction.run = compile_only


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", action="append", choices=list(DTYPES),
                        help="dtypes to compile (default: all four)")
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="layouts to compile (default: all four)")
    parser.add_argument("--arithmetic", choices=("float64", "mixed"),
                        help="the kernels' arithmetic (PPVERIFY_TRITON_ARITHMETIC; default: the "
                             "environment's)")
    parser.add_argument("--ptxas", metavar="PATH",
                        help="assemble each kernel with this ptxas and print its registers and "
                             "spills")
    parser.add_argument("--cuobjdump", metavar="PATH",
                        help="with --ptxas: disassemble each kernel with this cuobjdump and "
                             "print its static SASS instruction mix (Triton's wheel has one)")
    parser.add_argument("--kernels", metavar="FILE",
                        help="compile this copy of _triton_kernels.py instead (a variant)")
    parser.add_argument("--config", metavar="JSON",
                        help='a tile of your own for every launch, e.g. \'{"SINGLE": false, '
                             '"BLOCK_K": 1, "WB": 512, "PPP": 1}\' (default: the GPU rule)')
    parser.add_argument("--ptx-version", metavar="V",
                        help="with --ptxas: rewrite the PTX's .version to V (e.g. 9.0 for CUDA "
                             "13.0's ptxas and Triton 3.9's PTX 9.4)")
    args = parser.parse_args(argv)
    os.environ["PPVERIFY_TRITON"] = "cpu"  # CPU tensors reach the Triton backend
    if args.arithmetic:
        os.environ["PPVERIFY_TRITON_ARITHMETIC"] = args.arithmetic
    import triton

    from ppverify.ops import _triton
    from ppverify.ops import functional as F

    compiled: list[str] = []
    _install_stub_driver(compiled)
    _triton.MIN_INTERPRETER_VERSION = (3, 0)  # the backend is chosen on any version
    if args.kernels:
        variant = _triton.load_kernels(args.kernels, "ppv_checked_kernels", interpret=False)
        _triton._kernels = lambda interpret: variant
    else:
        compiled_module = _triton._kernels
        _triton._kernels = lambda interpret: compiled_module(False)  # compiled, not interpreted
    config = _triton._config
    _triton._config = lambda K, n_out, interpret: config(K, n_out, False)  # a GPU's tiles
    if args.config:
        import json

        fixed = json.loads(args.config)
        _triton._config = lambda K, n_out, interpret: dict(fixed)
    failures = 0
    for dtype_name in args.dtype or list(DTYPES):
        dtype = DTYPES[dtype_name]
        for case in args.case or list(CASES):
            for per_channel in (False, True):
                x = (torch.rand(2, 3, 9, 9, dtype=dtype) + 0.1).requires_grad_()
                a = torch.full((3,) if per_channel else (), 2.0, dtype=torch.float64,
                               requires_grad=True)
                before = len(compiled)
                try:
                    CASES[case](F, x, a).sum().backward()
                    status = "ok"
                    if args.ptxas:
                        for kernel in kernels[before:]:
                            name = getattr(kernel, "name", "?")
                            report = _ptxas_report(args.ptxas, kernel.asm["ptx"],
                                                   args.ptx_version, args.cuobjdump)
                            print(f"  {name}: {report}", flush=True)
                except Exception as exc:  # report every case, then fail
                    failures += 1
                    status = f"FAIL {type(exc).__name__}: {str(exc)[-1500:]}"
                    traceback.print_exc(limit=3)
                kind = "per-channel" if per_channel else "scalar"
                print(f"{dtype_name:9} {case:9} alpha {kind:11} launches compiled "
                      f"{len(compiled) - before}: {status}", flush=True)
    print(f"triton {triton.__version__}: distinct kernels compiled {sorted(set(compiled))}, "
          f"failures {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
