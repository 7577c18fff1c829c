"""Run Triton's compiler front end (Python AST -> Triton IR, with its type checks) on every
kernel specialisation the dispatcher launches for a CUDA GPU, on a machine without one.

    python -m tests.ops._triton_frontend [--kernels FILE]

Every specialisation: each dtype in each arithmetic that serves it (``_triton.ARITHMETICS``:
float64 inputs in float64 only), each layout of ``CASES``, forward and backward, and the alpha
gradient's reduction.

The interpreter (``TRITON_INTERPRET=1``, ``tests/ops/test_triton.py``) executes only the
branches a launch takes; the GPU compiler type-checks every branch of the kernel, including those
that a runtime argument makes dead. A construct valid in the interpreter can then fail every GPU
compile: ``tl.atomic_add`` on the bfloat16 gradient (passed as int16 bits) failed so, in the
branch for overlapping windows, while the non-overlapping bfloat16 backward was being compiled
(found by ``tests/triton_ptx_check.py``, 2026-12-02). This check stops each compile right after
the front end (the first stage; the later ones, TTGIR -> LLVM -> PTX, take minutes per kernel on
two cores and are ``tests/triton_ptx_check.py``'s), so every specialisation takes about half a
second. Nothing is executed: values, speed and memory are for ``python -m
ppverify.ops.gpu_check`` on a GPU.

``--kernels FILE`` compiles a copy of ``_triton_kernels.py`` (the tests plant a defect in one).
The last line printed is JSON: ``{"harness": null | reason it could not run, "results":
[{"dtype", "arithmetic", "case", "pass", "status"}]}``, status ``"ok"`` or the compiler's message.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import shutil
import sys
import tempfile

os.environ.pop("TRITON_INTERPRET", None)  # compiled kernels, whatever the caller's environment
# a cache of its own: a kernel that some other run compiled in full (a GPU, or a script that
# assembles for sm_90) would be loaded from Triton's cache, never reaching the stage that
# stops the compile here, and its front end would go unchecked
os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="ppverify_frontend_")
atexit.register(shutil.rmtree, os.environ["TRITON_CACHE_DIR"], ignore_errors=True)
import torch  # noqa: E402

# (name, layout arguments, input shape, memory format): one per distinct tile shape and
# gradient kind of the dispatcher (disjoint and overlapping windows, SINGLE and chunked
# windows, adaptive windows, channels_last); geometry ints are not specialised by the kernels
CASES = [
    ("k2s2", ("windowed", 2, 2, 2), (2, 3, 8, 8), torch.contiguous_format),
    ("k3s2p1 channels_last", ("windowed", 2, 3, 2, 1), (2, 3, 9, 9), torch.channels_last),
    ("adaptive 3", ("adaptive", 2, 3), (2, 3, 9, 9), torch.contiguous_format),
    ("global 40x40 (chunked)", ("adaptive", 2, 1), (1, 3, 40, 40), torch.contiguous_format),
]
DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
          "bfloat16": torch.bfloat16}


class FrontEndDone(Exception):
    """Raised by the stage after the front end: the kernel's Triton IR was generated."""


def _install(kernels_file: str | None):
    """Stub sm_90 driver, compile stops after the front end, GPU tile shapes, compiled (not
    interpreted) kernels. Returns ``_triton``."""
    os.environ["PPVERIFY_TRITON"] = "cpu"  # CPU tensors reach the Triton backend
    from triton.backends.nvidia import compiler as nvidia

    from ppverify.ops import _triton
    from tests.triton_ptx_check import _install_stub_driver

    _install_stub_driver([])
    add_stages = nvidia.CUDABackend.add_stages

    def front_end_only(self, stages, *args, **kwargs):
        add_stages(self, stages, *args, **kwargs)

        def stop(src, metadata):
            raise FrontEndDone()
        stages["ttgir"] = stop

    nvidia.CUDABackend.add_stages = front_end_only
    _triton.MIN_INTERPRETER_VERSION = (3, 0)  # the backend is chosen on any version
    if kernels_file:
        module = _triton.load_kernels(kernels_file, "planted_triton_kernels", interpret=False)
        _triton._kernels = lambda interpret: module
    else:
        kernels = _triton._kernels
        _triton._kernels = lambda interpret: kernels(False)
    config = _triton._config
    _triton._config = lambda K, n_out, interpret: config(K, n_out, False)  # GPU tiles
    return _triton


def _front_end(call) -> str:
    try:
        call()
    except FrontEndDone:
        return "ok"
    except Exception as exc:  # the compiler's own error: report its innermost cause
        cause = exc
        while cause.__cause__ is not None:
            cause = cause.__cause__
        return f"{type(cause).__name__}: {str(cause)[-600:]}"
    return "the kernel was launched without being compiled (the stub did not stop it)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", help="compile this copy of _triton_kernels.py")
    parser.add_argument("--dtype", action="append", choices=list(DTYPES))
    args = parser.parse_args(argv)
    try:
        _triton = _install(args.kernels)
        from ppverify.ops import _layout
    except Exception as exc:  # a Triton without these internals: the harness cannot run
        print(json.dumps({"harness": f"{type(exc).__name__}: {exc}", "results": []}))
        return 0
    results = []
    runs = [(dtype_name, arith) for dtype_name in args.dtype or list(DTYPES)
            for arith in _triton.arithmetics_for(DTYPES[dtype_name])]
    for dtype_name, arith in runs:
        os.environ["PPVERIFY_TRITON_ARITHMETIC"] = arith  # this process is the harness's own
        for name, (kind, *layout_args), shape, memory_format in CASES:
            layout = getattr(_layout, kind)(*layout_args)
            x = (torch.rand(shape, dtype=DTYPES[dtype_name]) + 0.1).contiguous(
                memory_format=memory_format)
            alpha = torch.full((), 2.0, dtype=torch.float64)
            geo = _triton._geometry(layout, tuple(shape[2:]))
            grad_y = torch.ones((*shape[:2], *geo.out), dtype=x.dtype)
            for direction, call in (
                    ("forward", functools.partial(_triton.forward, x, alpha, layout,
                                                  memory_format)),
                    ("backward", functools.partial(_triton.backward, grad_y, x, alpha, layout,
                                                   True, memory_format))):
                status = _front_end(call)
                results.append({"dtype": dtype_name, "arithmetic": arith, "case": name,
                                "pass": direction, "status": status})
                print(f"{dtype_name:9} {arith:7} {name:24} {direction:8} {status[:200]}",
                      flush=True)
    for mode, shape in enumerate([(), (3,), (2, 3)]):  # the alpha gradient's reduction
        part = torch.zeros(6, 4, dtype=torch.float64)
        part_e = torch.full((6, 4), -4000, dtype=torch.int64)
        param = torch.zeros(shape, dtype=torch.float64)
        status = _front_end(functools.partial(_triton._param_gradient, part, part_e, param,
                                              2, 3))
        results.append({"dtype": "float64", "arithmetic": "float64",
                        "case": f"alpha gradient, mode {mode}",
                        "pass": "param", "status": status})
        print(f"float64   alpha gradient mode {mode}     param    {status[:200]}", flush=True)
    print(json.dumps({"harness": None, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
