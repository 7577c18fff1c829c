"""Where the Triton kernels' time goes on a CUDA GPU: a development tool, not in the suite.

    python -m tests.gpu_profile [--json FILE] [--quick]

Run it from the repository root on a machine with a CUDA GPU. It prints, for bfloat16 and
float32 (8, 64, 112, 112), kernel 2 stride 2 and kernel 3 stride 2 padding 1, learnable alpha:

1. ``torch.profiler`` of five forward+backward steps, in each arithmetic of the kernels
   (``_triton.ARITHMETICS``: float64 and mixed): each CUDA kernel's time per step and
   the CPU time of the host side, so that the kernels' share and the fixed host costs
   (allocations, the alpha gradient's reduction, launches) can be told apart;
2. ``cProfile`` of the host side of forward+backward steps (bfloat16 k2 s2), in each
   arithmetic: which Python functions take the host's time;
3. the compiled kernels' registers and spills (Triton's ``n_regs`` / ``n_spills``);
4. knock-out variants of the kernels (``VARIANTS``): the same kernels with one piece of the
   arithmetic replaced by a stand-in of no cost (wrong values: for timing only), so that the
   difference from the full kernel is that piece's cost; and tile-shape variants (``TILE``,
   ``NUM_WARPS``; ``DIRECTION_TILES``: one direction's tile changed, in each arithmetic),
   which compute the same values.

Times are CUDA kernel times from the profiler (mean over the profiled calls). This measures;
it asserts nothing. ``ppverify.ops.gpu_check`` is the conformance and target check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from ppverify.ops import _triton
from ppverify.ops import functional as F

SHAPE = (8, 64, 112, 112)
CONFIGS = {"k2s2": (2, 2, 0), "k3s2p1": (3, 2, 1)}
DTYPES = ("bfloat16", "float32")

# element offsets in int32 instead of int64 (right for tensors under 2**31 elements, so for the
# profiled shapes): every stride product of the loads, stores and scatters
INT32_OFFSETS = [(f"{v}.to(tl.int64) * {st}", f"{v}.to(tl.int32) * {st}")
                 for v, st in (("n", "san"), ("c", "sac"), ("n", "sxn"), ("c", "sxc"),
                               ("i_d", "sxd"), ("i_h", "sxh"), ("i_w", "sxw"), ("n", "syn"),
                               ("c", "syc"), ("od", "syd"), ("oh", "syh"), ("ow", "syw"),
                               ("n", "sgn"), ("c", "sgc"), ("od", "sgd"), ("oh", "sgh"),
                               ("ow", "sgw"), ("n", "sin_"), ("c", "sic"), ("i_d", "sid"),
                               ("i_h", "sih"), ("i_w", "siw"))]
# name: [(text in _triton_kernels.py, replacement)]: stand-ins of no cost, for timing only;
# the names starting with "mixed" time the mixed arithmetic (PPVERIFY_TRITON_ARITHMETIC=mixed)
VARIANTS = {
    "mixed_no_exp": [("    zc = tl.maximum(z, -800.0)\n",
                      "    return z * 0.0 + 1.0\n    zc = tl.maximum(z, -800.0)\n")],
    "mixed_no_ln": [("    up = xm > rm * SQRT2_F32\n",
                     "    return (xe - re).to(tl.float64) + (xm - rm).to(tl.float64)\n"
                     "    up = xm > rm * SQRT2_F32\n")],
    "mixed_int32_offsets": INT32_OFFSETS,
    "int32_offsets": INT32_OFFSETS,
    "no_exp": [("    zc = tl.minimum(tl.maximum(z, -746.0), 710.0)\n",
                "    return z * 0.0 + 1.0\n    zc = tl.minimum(tl.maximum(z, -746.0), 710.0)\n")],
    "no_ln_division": [("    s = (xm - rm2) / (xm + rm2)\n", "    s = (xm - rm2) * 0.25\n")],
    "no_ln": [("    up = xm > rm * SQRT2\n",
               "    return xe - re, xm - rm\n    up = xm > rm * SQRT2\n")],
    "no_ln_no_exp": [
        ("    zc = tl.minimum(tl.maximum(z, -746.0), 710.0)\n",
         "    return z * 0.0 + 1.0\n    zc = tl.minimum(tl.maximum(z, -746.0), 710.0)\n"),
        ("    up = xm > rm * SQRT2\n", "    return xe - re, xm - rm\n    up = xm > rm * SQRT2\n")],
}
TILES = [(512, 4), (256, 4), (1024, 4), (512, 8), (256, 2)]
# tile shapes for one direction only: (name, direction, config). "direct": one window element
# per step for 128 windows (BLOCK_K = 1, the chunked path: no lanes wasted on a window of 9
# padded to 16, no reduction across lanes; the forward loads its elements twice, the backward
# four times and computes ln and exp three times). "bwd256"/"bwd128": smaller backward tiles.
# Registers (bfloat16 k2 s2, mixed; Triton 3.9 + CUDA 13.0 ptxas, `python -m
# tests.triton_ptx_check --ptxas ... --config ...`): default tile 512: forward 88, backward 255
# with 236 B spilled; direct 128: 56 and 120; direct with 512 windows: 156 and 255 + spills;
# backward at 256 / 128: 152 / 96.
DIRECTION_TILES = [
    ("direct_forward", "forward", {"SINGLE": False, "BLOCK_K": 1, "WB": 128, "PPP": 1}),
    ("direct_backward", "backward", {"SINGLE": False, "BLOCK_K": 1, "WB": 128, "PPP": 1}),
    ("bwd256", "backward", 256),
    ("bwd128", "backward", 128),
]


def _with_config(direction: str, config):
    """``_triton.forward`` or ``_triton.backward`` launched with ``config`` (a tile dict, or an
    int: the default tile rule at that many elements), the other direction as it is. Returns a
    function that undoes it."""
    original = getattr(_triton, direction)
    default = _triton._config
    if isinstance(config, int):
        def chosen(K, n_out, interpret, tile=config):
            return _triton._tile_config(K, n_out, False, str(tile), tile)
    else:
        def chosen(K, n_out, interpret):
            return dict(config)

    def patched(*args, **kwargs):
        _triton._config = chosen
        try:
            return original(*args, **kwargs)
        finally:
            _triton._config = default

    setattr(_triton, direction, patched)
    return lambda: setattr(_triton, direction, original)


def _variant_module(name: str, edits) -> object:
    source = Path(_triton.KERNELS).read_text()
    for old, new in edits:
        if old not in source:
            raise SystemExit(f"variant {name}: {old!r} not found in the kernels' source")
        source = source.replace(old, new)
    folder = Path(tempfile.mkdtemp(prefix="ppv_variant_"))
    path = folder / f"ppv_kernels_{name}.py"
    path.write_text(source)
    return _triton.load_kernels(path, f"ppv_kernels_{name}", interpret=DEVICE == "cpu")


DEVICE = "cuda"  # --dry-run: "cpu", the kernels in Triton's interpreter (tests this script)


def _use(mod) -> None:
    _triton._modules[DEVICE == "cpu"] = mod


def _inputs(dtype: str):
    shape = SHAPE if DEVICE == "cuda" else (1, 2, 12, 12)
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    x = torch.rand(shape, generator=gen, device=DEVICE, dtype=getattr(torch, dtype))
    a = torch.tensor(2.0, dtype=torch.float64, device=DEVICE, requires_grad=True)
    return x, a


def _kernel_times(prof, steps: int) -> dict:
    """CUDA time per step (us) of every kernel, and the CPU time of the whole."""
    out = {}
    for ev in prof.key_averages():
        t = getattr(ev, "device_time_total", None)
        if t is None:
            t = getattr(ev, "cuda_time_total", 0)
        if t and ev.key and not ev.key.startswith(("aten::", "ProfilerStep", "cuda",
                                                   "Torch-Compiled", "autograd::")):
            out[ev.key[:60]] = round(t / steps, 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1])[:12])


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def profile_steps(dtype: str, cfg: str, steps: int = 5, backward: bool = True) -> dict:
    from torch.profiler import ProfilerActivity, profile

    x, a = _inputs(dtype)
    k, s, p = CONFIGS[cfg]
    g = None

    def step():
        nonlocal g
        if backward:
            xg = x.detach().requires_grad_(True)
            y = F.p_pool2d(xg, a, k, s, p, validate=False)
            if g is None:
                g = torch.ones_like(y)
            y.backward(g)
        else:
            with torch.no_grad():
                F.p_pool2d(x, a, k, s, p, validate=False)

    for _ in range(3):
        step()
    _sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    host = (time.perf_counter() - t0) / steps  # host time per step, no synchronisation
    _sync()
    wall = (time.perf_counter() - t0) / steps
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        _sync()
    cpu = sorted(prof.key_averages(), key=lambda ev: -ev.self_cpu_time_total)[:10]
    return {"host_us_per_step": round(1e6 * host, 1), "wall_us_per_step": round(1e6 * wall, 1),
            "kernels_us_per_step": _kernel_times(prof, steps),
            "self_cpu_us_per_step": {ev.key[:60]: round(ev.self_cpu_time_total / steps, 1)
                                     for ev in cpu}}


def host_profile(dtype: str, cfg: str, steps: int = 50, top: int = 25) -> list[dict]:
    """cProfile of ``steps`` forward+backward steps (validate=False): the Python functions
    with the most time of their own (the host side's share, to tell the launches from torch's
    dispatch and autograd)."""
    import cProfile
    import pstats

    x, a = _inputs(dtype)
    k, s, p = CONFIGS[cfg]
    g = torch.ones_like(F.p_pool2d(x, a, k, s, p, validate=False))

    def step():
        F.p_pool2d(x.detach().requires_grad_(True), a, k, s, p, validate=False).backward(g)

    for _ in range(5):
        step()
    _sync()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    _sync()
    prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (cc, nc, tottime, cumtime, ...)}
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [{"function": f"{Path(f).name}:{line}({name})", "calls_per_step": nc / steps,
             "self_us_per_step": round(1e6 * tt / steps, 1),
             "cumulative_us_per_step": round(1e6 * ct / steps, 1)}
            for (f, line, name), (cc, nc, tt, ct, _callers) in rows]


def registers() -> list[dict]:
    out = []
    for name in ("ppool_forward", "ppool_forward_mixed", "ppool_backward"):
        fn = getattr(_triton._modules[DEVICE == "cpu"], name)
        caches = getattr(fn, "device_caches", {})
        for entry in caches.values():
            cache = entry[0] if isinstance(entry, tuple) else entry
            for key, kernel in cache.items():
                out.append({"kernel": name, "n_regs": getattr(kernel, "n_regs", None),
                            "n_spills": getattr(kernel, "n_spills", None),
                            "key": str(key)[:160]})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--quick", action="store_true", help="one dtype, fewer variants")
    parser.add_argument("--dry-run", action="store_true",
                        help="on the CPU through Triton's interpreter (PPVERIFY_TRITON=cpu), "
                             "a small shape: tests this script, its times mean nothing")
    args = parser.parse_args(argv)
    global DEVICE
    if args.dry_run:
        DEVICE = "cpu"
        os.environ["TRITON_INTERPRET"] = "1"  # the variants' modules are interpreted too
    elif not torch.cuda.is_available():
        print("gpu_profile: no CUDA device", file=sys.stderr)
        return 2
    gpu = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu"
    record: dict = {"gpu": gpu, "torch": torch.__version__,
                    "triton": _triton._triton_version(), "shape": SHAPE}
    dtypes = DTYPES[:1] if args.quick else DTYPES

    def save():
        if args.json:
            Path(args.json).write_text(json.dumps(record, indent=1, default=str))

    t_start = time.monotonic()
    base = _triton._kernels(DEVICE == "cpu")
    record["profile"] = {}
    for arith in _triton.ARITHMETICS:
        with _triton.forcing_arithmetic(arith):
            for dtype in dtypes:
                for cfg in CONFIGS:
                    key = f"{dtype} {cfg} {arith}"
                    record["profile"][key] = {
                        "forward": profile_steps(dtype, cfg, backward=False),
                        "forward_backward": profile_steps(dtype, cfg)}
                    print(key, json.dumps(record["profile"][key], indent=1), flush=True)
                    save()
            key = f"{dtypes[0]} k2s2 {arith}"
            record.setdefault("host_profile", {})[key] = host_profile(dtypes[0], "k2s2")
        for row in record["host_profile"][key][:12]:
            print("host", key, row, flush=True)
        save()
    record["registers"] = registers()
    for r in record["registers"]:
        print("registers", r, flush=True)
    save()
    record["variants"] = {}
    variants = dict(list(VARIANTS.items())[:2]) if args.quick else VARIANTS
    for name, edits in variants.items():
        _use(_variant_module(name, edits))
        with _triton.forcing_arithmetic("mixed" if name.startswith("mixed") else "float64"):
            for cfg in CONFIGS:
                key = f"{name} {dtypes[0]} {cfg}"
                record["variants"][key] = profile_steps(dtypes[0], cfg)["kernels_us_per_step"]
                print("variant", key, record["variants"][key], flush=True)
        save()
    _use(base)
    record["tiles"] = {}
    tile0, warps0 = _triton.TILE, _triton.NUM_WARPS
    for tile, warps in TILES[:2] if args.quick else TILES:
        _triton.TILE, _triton.NUM_WARPS = tile, warps
        for cfg in CONFIGS:
            key = f"tile {tile} warps {warps} {dtypes[0]} {cfg}"
            record["tiles"][key] = profile_steps(dtypes[0], cfg)["kernels_us_per_step"]
            print(key, record["tiles"][key], flush=True)
        save()
    _triton.TILE, _triton.NUM_WARPS = tile0, warps0
    record["direction_tiles"] = {}
    for name, direction, config in DIRECTION_TILES:
        undo = _with_config(direction, config)
        try:
            for arith in _triton.ARITHMETICS:
                with _triton.forcing_arithmetic(arith):
                    for cfg in CONFIGS:
                        key = f"{name} {dtypes[0]} {cfg} {arith}"
                        record["direction_tiles"][key] = \
                            profile_steps(dtypes[0], cfg)["kernels_us_per_step"]
                        print(key, record["direction_tiles"][key], flush=True)
        finally:
            undo()
        save()
    record["seconds"] = round(time.monotonic() - t_start, 1)
    save()
    print(f"done in {record['seconds']} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
