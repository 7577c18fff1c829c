"""Time this checkout's compiled kernel against another build of it, call for call.

    python -m tests.kernel_ab OTHER.so [ROUNDS] [--threads N] [--rows TEXT]

OTHER.so is a ``ppool_kernel_*.so`` from another checkout's kernel cache (``PPVERIFY_CACHE``;
each library gets the plan with its own ABI version in the header: the plan's layout has not
changed between versions 4 and 5). Both libraries are loaded in one process and called through
ctypes with the same plan, input and output tensors, alternating call by call (each build first
in every other round, since 2026-12-07); each figure is
the best of ROUNDS (default 5) of one ``ppv_forward`` or ``ppv_backward`` call (wall time, or
with ``--cpu`` the process's CPU time over all its threads), so the Python layer and torch's
pooling are out of the comparison and both builds see the same load. ``--threads N`` runs every
case on N threads (one thread is the least disturbed by other jobs on shared cores); ``--rows
TEXT`` keeps the cases whose label contains TEXT. A case whose label says channels_last runs on
channels-last memory (input, output and gradients). ``--saved`` also times, on a second line
per case (``sfwd`` / ``sbwd``), the pair an autograd call with a learnable alpha runs instead:
``ppv_forward_saved`` (with dy/dalpha) and ``ppv_backward_saved`` (writing over the state where
the dtypes agree, as autograd's does) where the windows share no element (at an integer alpha
of 0-4 on windows of 16 elements or more on average, float32 / bfloat16 / float16:
``ppv_forward_saved_int`` and ``ppv_backward_saved_int``, the window state), else
``ppv_forward_overlap_saved`` and ``ppv_backward_overlap_saved`` (float32, bfloat16, float16;
float64: ``ppv_forward_overlap_saved64`` and ``ppv_backward_overlap_saved64``, where the other
build has them; the state's buffers are sized for either ABI:
version 4's 1 / S and y per output, 5's E per element and dy/dalpha per output). Used for issue
12's column tiles (docs/performance-history.md, "Before and after the column tiles"), channels-
last bands and the saving forward's one-pass dy/dx. ``--alpha A`` sets the parameter (default
2 for P-pooling, an integer weighed by multiplication; 2.5 takes the logarithm and exponential
a learned alpha takes). ``--op powermean`` (or ``lp``) times the power engine on the same
cases with p = 3.1 (with ``--saved``: its disjoint state, or where windows share elements its
overlap state, ``ppv_forward_power_overlap_saved`` and ``ppv_backward_power_overlap_saved``)."""

from __future__ import annotations

import argparse
import ctypes
import time

import torch

from ppverify.ops import _dispatch, _layout, _native

from .kernel_bits import _state_elements

CASES = [  # label, shape, layout, threads, dtype
    ("1-D (1,1,2e6) k3", (1, 1, 2_000_000), _layout.windowed(1, 3), 2, torch.float32),
    ("1-D (8,64,12544) k3 s2 p1", (8, 64, 12544), _layout.windowed(1, 3, 2, 1), 2,
     torch.float32),
    ("2-D (8,64,112,112) k3 s2 p1", (8, 64, 112, 112), _layout.windowed(2, 3, 2, 1), 2,
     torch.float32),
    ("2-D (8,64,112,112) k2 s2", (8, 64, 112, 112), _layout.windowed(2, 2, 2), 2,
     torch.float32),
    ("2-D bf16 (8,64,112,112) k3 s2 p1", (8, 64, 112, 112), _layout.windowed(2, 3, 2, 1), 2,
     torch.bfloat16),
    ("2-D f16 (8,64,112,112) k3 s2 p1", (8, 64, 112, 112), _layout.windowed(2, 3, 2, 1), 2,
     torch.float16),
    ("2-D (8,64,112,112) global", (8, 64, 112, 112), _layout.adaptive(2, 1), 2, torch.float32),
    ("2-D (8,64,56,56) adaptive 7", (8, 64, 56, 56), _layout.adaptive(2, 7), 2, torch.float32),
    # a ResNet-50 head's global pooling, each 7 x 7 plane one row of 49 (_dispatch._global_rows)
    ("2-D (8,2048,7,7) global, as rows of 49", (8, 2048, 1, 49), _layout.adaptive(2, 1), 2,
     torch.float32),
    # the matrix's small row (its RSS: the overlap backward's coefficient slots)
    ("2-D (1,64,56,56) k3 s2 p1", (1, 64, 56, 56), _layout.windowed(2, 3, 2, 1), 2,
     torch.float32),
    ("2-D (8,64,56,56) k14, 1 thread", (8, 64, 56, 56), _layout.windowed(2, 14), 1,
     torch.float32),
    ("2-D (8,64,56,56) k28, 1 thread", (8, 64, 56, 56), _layout.windowed(2, 28), 1,
     torch.float32),
    ("2-D (8,64,56,56) k56, 1 thread", (8, 64, 56, 56), _layout.windowed(2, 56), 1,
     torch.float32),
    # windows that share no element, several to a row (the saved states' backwards spread a
    # row's window factors or go run by run: SPREAD_RUN; 2026-12-07)
    ("2-D (8,64,56,56) k8 runs", (8, 64, 56, 56), _layout.windowed(2, 8), 2, torch.float32),
    ("2-D (8,64,64,64) k32 runs", (8, 64, 64, 64), _layout.windowed(2, 32), 2, torch.float32),
    ("2-D (8,64,96,96) k48 runs", (8, 64, 96, 96), _layout.windowed(2, 48), 2, torch.float32),
    ("2-D (8,64,112,112) adaptive 2 runs", (8, 64, 112, 112), _layout.adaptive(2, 2), 2,
     torch.float32),
    ("1-D (8,64,3136) k14 runs", (8, 64, 3136), _layout.windowed(1, 14), 2, torch.float32),
    ("1-D (8,64,3136) k16 runs", (8, 64, 3136), _layout.windowed(1, 16), 2, torch.float32),
    ("3-D (2,16,28,28,28) k7 runs", (2, 16, 28, 28, 28), _layout.windowed(3, 7), 2,
     torch.float32),
    ("2-D (1,2,1000,1000) global", (1, 2, 1000, 1000), _layout.adaptive(2, 1), 2, torch.float32),
    # the matrix's 3 planes 1024x1024 global: planes that do not share out evenly on 2 threads
    ("2-D (1,3,1024,1024) global", (1, 3, 1024, 1024), _layout.adaptive(2, 1), 2, torch.float32),
    # one plane whose lane sums pass 2^17 terms (the power engine's compensated dy/dp sums)
    ("2-D (1,1,2896,2896) global", (1, 1, 2896, 2896), _layout.adaptive(2, 1), 2, torch.float32),
    ("2-D f64 (2,64,112,112) k3 s2 p1", (2, 64, 112, 112), _layout.windowed(2, 3, 2, 1), 2,
     torch.float64),
    ("2-D f64 (2,64,112,112) k2 s2", (2, 64, 112, 112), _layout.windowed(2, 2, 2), 2,
     torch.float64),
    # the GeM matrix's float64 global row (MID2)
    ("2-D f64 (8,64,56,56) global", (8, 64, 56, 56), _layout.adaptive(2, 1), 2, torch.float64),
    # few planes (issue 12's segments)
    ("1-D (1,1,2e6) k3 s1 p1", (1, 1, 2_000_000), _layout.windowed(1, 3, 1, 1), 2,
     torch.float32),
    # short signals: segments of fewer columns (scratch_bounded_cols; the GeM matrix's row)
    ("1-D (1,1,1e5) k3 s1", (1, 1, 100_000), _layout.windowed(1, 3, 1), 2, torch.float32),
    ("1-D (1,1,1e5) k3 s1, 1 thread", (1, 1, 100_000), _layout.windowed(1, 3, 1), 1,
     torch.float32),
    ("1-D (1,1,2e5) k3 s1", (1, 1, 200_000), _layout.windowed(1, 3, 1), 2, torch.float32),
    ("1-D (4,2,5e4) k3 s1", (4, 2, 50_000), _layout.windowed(1, 3, 1), 2, torch.float32),
    # a short signal: the call's fixed costs
    ("1-D (1,1,6000) k3 s1", (1, 1, 6000), _layout.windowed(1, 3, 1), 2, torch.float32),
    # planes of 1024-4096 columns (cut into segments since 2026-12-07)
    ("1-D (1,3,4000) k3 s1", (1, 3, 4000), _layout.windowed(1, 3, 1), 2, torch.float32),
    ("1-D (1,8,3000) k3 s1", (1, 8, 3000), _layout.windowed(1, 3, 1), 2, torch.float32),
    ("2-D (1,1,1000,1000) k3 s2 p1", (1, 1, 1000, 1000), _layout.windowed(2, 3, 2, 1), 2,
     torch.float32),
    ("2-D (1,3,224,224) k3 s2 p1", (1, 3, 224, 224), _layout.windowed(2, 3, 2, 1), 2,
     torch.float32),
    ("3-D (1,2,64,64,64) k3 s2 p1", (1, 2, 64, 64, 64), _layout.windowed(3, 3, 2, 1), 2,
     torch.float32),
    # short split axes (segments_for_span): a depth of 8 outputs, one plane, few rows
    ("3-D (1,2,16,64,64) k3 s2 p1", (1, 2, 16, 64, 64), _layout.windowed(3, 3, 2, 1), 2,
     torch.float32),
    ("3-D (1,1,40,40,40) k3 s1 p1", (1, 1, 40, 40, 40), _layout.windowed(3, 3, 1, 1), 2,
     torch.float32),
    ("2-D (1,1,64,4000) k3 s1 p1", (1, 1, 64, 4000), _layout.windowed(2, 3, 1, 1), 2,
     torch.float32),
    # float64 planes in segments (their backward through the overlap state's arithmetic per
    # segment since 2026-12-07: fused_group64)
    ("1-D f64 (2,3,5e4) k3 s2 p1", (2, 3, 50_000), _layout.windowed(1, 3, 2, 1), 2,
     torch.float64),
    ("1-D f64 (1,1,2e4) k3 s1", (1, 1, 20_000), _layout.windowed(1, 3, 1), 2, torch.float64),
    ("2-D f64 (1,3,300,300) k3 s2 p1", (1, 3, 300, 300), _layout.windowed(2, 3, 2, 1), 2,
     torch.float64),
    ("2-D f64 (2,8,224,224) k3 s2 p1", (2, 8, 224, 224), _layout.windowed(2, 3, 2, 1), 2,
     torch.float64),
    ("3-D f64 (2,4,32,64,64) k3 s2 p1", (2, 4, 32, 64, 64), _layout.windowed(3, 3, 2, 1), 2,
     torch.float64),
    ("2-D f64 (1,1,64,4000) k3 s1 p1", (1, 1, 64, 4000), _layout.windowed(2, 3, 1, 1), 2,
     torch.float64),
    ("2-D f64 (1,3,64,4000) k3 s2 p1", (1, 3, 64, 4000), _layout.windowed(2, 3, 2, 1), 2,
     torch.float64),
    ("3-D f64 (1,2,16,64,64) k3 s2 p1", (1, 2, 16, 64, 64), _layout.windowed(3, 3, 2, 1), 2,
     torch.float64),
    ("2-D f64 (1,1,1000,1000) k3 s2 p1", (1, 1, 1000, 1000), _layout.windowed(2, 3, 2, 1), 2,
     torch.float64),
    # channels-last memory (issue 12's native channels_last kernels)
    ("2-D channels_last (8,64,112,112) k3 s2 p1", (8, 64, 112, 112),
     _layout.windowed(2, 3, 2, 1), 2, torch.float32),
    ("2-D channels_last (8,64,112,112) k2 s2", (8, 64, 112, 112), _layout.windowed(2, 2, 2), 2,
     torch.float32),
    ("2-D channels_last (8,64,112,112) k3 s1 p1", (8, 64, 112, 112),
     _layout.windowed(2, 3, 1, 1), 2, torch.float32),
    ("2-D channels_last (8,17,112,112) k3 s2 p1", (8, 17, 112, 112),
     _layout.windowed(2, 3, 2, 1), 2, torch.float32),
    ("2-D channels_last bf16 (8,64,112,112) k3 s2 p1", (8, 64, 112, 112),
     _layout.windowed(2, 3, 2, 1), 2, torch.bfloat16),
    ("3-D channels_last (2,32,32,64,64) k3 s2 p1", (2, 32, 32, 64, 64),
     _layout.windowed(3, 3, 2, 1), 2, torch.float32),
    # fewer channels than lanes (packed planes; a build before them lays its state out in 8
    # lanes per pixel, which the buffers here hold too: _state_elements)
    ("2-D channels_last (8,3,224,224) k3 s2 p1", (8, 3, 224, 224),
     _layout.windowed(2, 3, 2, 1), 2, torch.float32),
    ("2-D channels_last (8,3,224,224) global", (8, 3, 224, 224), _layout.adaptive(2, 1), 2,
     torch.float32),
    # 32 planes of 224 x 224 (rows of 14 KB a lane: since 2026-12-06 the saving forward
    # keeps its weights between its passes, not the plane's rows: keeps_plane_weights)
    ("2-D (4,8,224,224) global", (4, 8, 224, 224), _layout.adaptive(2, 1), 2, torch.float32),
    # 24 planes, 3 groups of 8 on 2 threads (lane slices since 2026-12-06: xlane_balances)
    ("2-D (8,3,224,224) global", (8, 3, 224, 224), _layout.adaptive(2, 1), 2, torch.float32),
    ("2-D channels_last (1,3,1000,1000) global", (1, 3, 1000, 1000), _layout.adaptive(2, 1), 2,
     torch.float32),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", help="the other build's ppool_kernel_*.so")
    parser.add_argument("rounds", nargs="?", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for every case (default: each case's own)")
    parser.add_argument("--rows", default="", help="only the cases whose label contains this")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU time of the process (all its threads) instead of wall time: "
                             "less moved by other jobs on shared cores")
    parser.add_argument("--saved", action="store_true",
                        help="also time the saving forward and the backward from its state")
    parser.add_argument("--op", choices=("ppool", "powermean", "lp"), default="ppool",
                        help="the operator (default ppool, alpha = 2; powermean and lp: "
                             "p = 3.1, a learned GeM exponent)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="the parameter instead (alpha or p), e.g. 2.5: a learned alpha")
    args = parser.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    other = ctypes.CDLL(args.other)
    rounds = args.rounds
    vp, i32 = ctypes.c_void_p, ctypes.c_int
    other.ppv_forward.argtypes = [vp, vp, vp, vp, i32]
    other.ppv_forward.restype = i32
    other.ppv_backward.argtypes = [vp, vp, vp, vp, vp, vp, i32]
    other.ppv_backward.restype = i32
    other.ppv_forward_overlap_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, i32]
    other.ppv_forward_overlap_saved.restype = i32
    other.ppv_backward_overlap_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, vp, vp, i32]
    other.ppv_backward_overlap_saved.restype = i32
    other.ppv_forward_saved.argtypes = [vp, vp, vp, vp, vp, vp, i32]
    other.ppv_forward_saved.restype = i32
    other.ppv_backward_saved.argtypes = [vp, vp, vp, vp, vp, vp, i32]
    other.ppv_backward_saved.restype = i32
    other.ppv_abi_version.restype = ctypes.c_int64
    other.ppv_abi_version.argtypes = []
    libs = (("other", other), ("this", _native.load()))
    abi = {"other": int(other.ppv_abi_version()), "this": _native.ABI_VERSION}
    for label, shape, layout, threads, dtype in CASES:
        if args.rows not in label:
            continue
        threads = args.threads or threads
        if (args.op == "ppool" and getattr(layout, "is_global", False)
                and shape[-1] > _dispatch.GLOBAL_ROW_MAX_PPOOL):
            # (the op gives P-pooling such a plane as shorter rows, _dispatch._global_rows:
            # as it stands, its saving forward keeps no usable state)
            print(f"{label:<32} skipped: P-pooling's rows are at most "
                  f"{_dispatch.GLOBAL_ROW_MAX_PPOOL} wide", flush=True)
            continue
        channels_last = "channels_last" in label
        x = torch.rand(shape, dtype=dtype) + 0.01
        if channels_last:  # the kernel reads the raw memory: (N, spatial..., C) order
            x = x.movedim(1, -1).contiguous().movedim(-1, 1)
        out = _layout.out_spatial(layout, shape[2:])
        plan = _native.make_plan(args.op, layout, shape, dtype, channels_last, 0, out)
        plans = {name: plan.copy() for name in abi}
        for name, version in abi.items():
            plans[name][0] = version
        value = args.alpha if args.alpha is not None else 2.0 if args.op == "ppool" else 3.1
        p = torch.tensor([value], dtype=torch.float64)
        y = torch.empty((shape[0], shape[1], *out), dtype=dtype)
        if channels_last:
            y = y.movedim(1, -1).contiguous().movedim(-1, 1)
        gy, gx, dp = torch.rand_like(y), torch.empty_like(x), torch.empty(1, dtype=torch.float64)
        best: dict[str, float] = {}
        saved = (_saved_timer(plans, x, p, y, gy, gx, dp, threads, clock, args.op)
                 if args.saved else None)
        for r in range(rounds):
            # each build first in every other round: a build that always ran second would find
            # the caches and the clock as the other's calls left them
            for name, lib in (libs if r % 2 == 0 else libs[::-1]):
                plan = plans[name]
                t0 = clock()
                assert lib.ppv_forward(plan.ctypes.data, x.data_ptr(), p.data_ptr(),
                                       y.data_ptr(), threads) == 0
                t1 = clock()
                assert lib.ppv_backward(plan.ctypes.data, x.data_ptr(), p.data_ptr(),
                                        gy.data_ptr(), gx.data_ptr(), dp.data_ptr(),
                                        threads) == 0
                t2 = clock()
                times = [(name + " fwd", t1 - t0), (name + " bwd", t2 - t1)]
                if saved is not None:
                    times += saved(lib, name)
                for key, v in times:
                    best[key] = min(best.get(key, float("inf")), v)
        kinds = (("fwd", "bwd"), ("sfwd", "sbwd")) if saved is not None else (("fwd", "bwd"),)
        for i, (f, b) in enumerate(kinds):
            print(f"{label if i == 0 else '':<32} {f:>4} other {best['other ' + f] * 1e3:8.2f} ms"
                  f" this {best['this ' + f] * 1e3:8.2f} ms "
                  f"({best['this ' + f] / best['other ' + f]:.2f}x) | {b} other "
                  f"{best['other ' + b] * 1e3:8.2f} ms this {best['this ' + b] * 1e3:8.2f} ms "
                  f"({best['this ' + b] / best['other ' + b]:.2f}x)"
                  f"{_refused_note(saved) if i == 1 else ''}", flush=True)
    return 0


def _refused_note(saved) -> str:
    """The suffix of a case whose saving forward refused its state (ST_UNSAVED)."""
    refused = sorted(getattr(saved, "refused", ()))
    return f" (state refused by {' and '.join(refused)}: the op recomputes)" if refused else ""


def _saved_timer(plans, x, p, y, gy, gx, dp, threads, clock, op="ppool"):
    """A function ``(lib, name) -> [(name + " sfwd", s), (name + " sbwd", s)]`` that times one
    saving forward and the backward from its state with ``lib`` (``plans[name]``), or None
    where the case has no saved state (the recomputing backward serves it)."""
    plan = plans["this"]
    if (op == "ppool" and _native.plan_disjoint(plan) and x.dtype != torch.float64
            and _native.plan_window_mean(plan) >= _native.INT_STATE_MIN_MEAN
            and _native.int_state_alpha(p)):
        return _int_state_timer(plans, x, p, y, gy, gx, dp, threads, clock)
    if _native.plan_disjoint(plan) and not _dispatch.float64_overlap_serves_disjoint(
            op, x.dtype, x.is_contiguous(), plan):
        jac = torch.zeros(x.shape, dtype=_native.jac_dtype(x.dtype)).as_strided(
            x.shape, x.stride())
        dw = torch.empty(y.shape, dtype=torch.float64).as_strided(y.shape, y.stride())

        # the backward writes over jac where the dtypes agree, as autograd's does
        gxs = jac if jac.dtype == x.dtype else gx
        refused: set[str] = set()

        def run(lib, name):
            ptr = plans[name].ctypes.data
            t0 = clock()
            code = lib.ppv_forward_saved(ptr, x.data_ptr(), p.data_ptr(), y.data_ptr(),
                                         jac.data_ptr(), dw.data_ptr(), threads)
            t1 = clock()
            # ST_UNSAVED (a segmented call of the power engine): the op's backward recomputes;
            # the backward from the state is timed all the same, and the line says so
            assert code & ~_native._UNSAVED == 0, code
            if code:
                refused.add(name)
            assert lib.ppv_backward_saved(ptr, jac.data_ptr(), dw.data_ptr(), gy.data_ptr(),
                                          gxs.data_ptr(), dp.data_ptr(), threads) == 0
            t2 = clock()
            return [(name + " sfwd", t1 - t0), (name + " sbwd", t2 - t1)]
        run.refused = refused  # the builds whose saving forward refused the state
        return run
    if op != "ppool":
        return _power_overlap_timer(plans, x, p, y, gy, gx, dp, threads, clock)
    if not _native.saves_overlap("ppool", x.dtype):
        return None
    # (sized for builds before the packed channels-last planes too: kernel_bits'
    # _state_elements)
    n = max(_state_elements(plan, _native.overlap_state_size(plan)),
            _state_elements(plan, _native.overlap_weights_size(plan)))
    rs, ys = torch.empty(n, dtype=torch.float64), torch.empty(n, dtype=torch.float64)
    # (float64: ref holds S, y and y's low part per window and lane)
    lc = torch.empty(max(2 * n + (n + 1) // 2, x.shape[0] * x.shape[1]), dtype=torch.float64)
    f64 = x.dtype == torch.float64

    def entries(lib):
        if f64:
            lib.ppv_forward_overlap_saved64.argtypes = [ctypes.c_void_p] * 7 + [ctypes.c_int]
            lib.ppv_backward_overlap_saved64.argtypes = [ctypes.c_void_p] * 9 + [ctypes.c_int]
            return lib.ppv_forward_overlap_saved64, lib.ppv_backward_overlap_saved64
        return lib.ppv_forward_overlap_saved, lib.ppv_backward_overlap_saved

    # the kernel refuses the state where it segments the planes (few planes, long rows) or a
    # window goes to the exact engine: autograd then recomputes, so there is no second line
    if entries(_native.load())[0](plan.ctypes.data, x.data_ptr(), p.data_ptr(), y.data_ptr(),
                                  rs.data_ptr(), ys.data_ptr(), lc.data_ptr(), threads) != 0:
        return None

    def run_overlap(lib, name):
        ptr = plans[name].ctypes.data
        fwd, bwd = entries(lib)
        t0 = clock()
        assert fwd(ptr, x.data_ptr(), p.data_ptr(), y.data_ptr(), rs.data_ptr(), ys.data_ptr(),
                   lc.data_ptr(), threads) == 0
        t1 = clock()
        assert bwd(ptr, x.data_ptr(), p.data_ptr(), rs.data_ptr(), ys.data_ptr(), lc.data_ptr(),
                   gy.data_ptr(), gx.data_ptr(), dp.data_ptr(), threads) == 0
        t2 = clock()
        return [(name + " sfwd", t1 - t0), (name + " sbwd", t2 - t1)]
    return run_overlap


def _int_state_timer(plans, x, p, y, gy, gx, dp, threads, clock):
    """``_saved_timer``'s function for the integer-alpha window state (P-pooling of a narrow
    dtype at an alpha of 0-4, windows that share no element and hold 16 elements or more on
    average: what autograd saves there, ``_native.forward_saved_int``): each window's S and
    y, the backward forming dy/dx from x (into a gradient of its own)."""
    sums = torch.empty(2 * y.numel(), dtype=torch.float64)
    dw = torch.empty(y.shape, dtype=torch.float64).as_strided(y.shape, y.stride())

    def run(lib, name):
        # (ABI 6 added the dw_float flag before the threads: 0, dw in double)
        flag = [0] if lib.ppv_abi_version() >= 6 else []
        lib.ppv_forward_saved_int.argtypes = ([ctypes.c_void_p] * 6
                                              + [ctypes.c_int] * (1 + len(flag)))
        lib.ppv_backward_saved_int.argtypes = ([ctypes.c_void_p] * 8
                                               + [ctypes.c_int] * (1 + len(flag)))
        ptr = plans[name].ctypes.data
        t0 = clock()
        assert lib.ppv_forward_saved_int(ptr, x.data_ptr(), p.data_ptr(), y.data_ptr(),
                                         dw.data_ptr(), sums.data_ptr(), *flag, threads) == 0
        t1 = clock()
        assert lib.ppv_backward_saved_int(ptr, x.data_ptr(), p.data_ptr(), sums.data_ptr(),
                                          dw.data_ptr(), gy.data_ptr(), gx.data_ptr(),
                                          dp.data_ptr(), *flag, threads) == 0
        t2 = clock()
        return [(name + " sfwd", t1 - t0), (name + " sbwd", t2 - t1)]
    return run


def _power_overlap_timer(plans, x, p, y, gy, gx, dp, threads, clock):
    """``_saved_timer``'s form for the power mean and Lp where windows share elements: the
    overlap state's pair (``ppv_forward_power_overlap_saved``: E / x per element, y / S and
    dy/dp per window; ``ppv_backward_power_overlap_saved`` writing over E / x), or None where
    the dtype has no such state or the kernel refuses it."""
    if not _native.saves_power_overlap("powermean", x.dtype):
        return None
    jdtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    jac = torch.empty(x.shape, dtype=jdtype).as_strided(x.shape, x.stride())
    cw = torch.empty(y.shape, dtype=torch.float64).as_strided(y.shape, y.stride())
    dw = torch.empty_like(cw)
    gxs = jac if jdtype == x.dtype else gx

    def entries(lib):
        lib.ppv_forward_power_overlap_saved.argtypes = [ctypes.c_void_p] * 7 + [ctypes.c_int]
        lib.ppv_backward_power_overlap_saved.argtypes = [ctypes.c_void_p] * 8 + [ctypes.c_int]
        return lib.ppv_forward_power_overlap_saved, lib.ppv_backward_power_overlap_saved

    plan = plans["this"]
    if entries(_native.load())[0](plan.ctypes.data, x.data_ptr(), p.data_ptr(), y.data_ptr(),
                                  jac.data_ptr(), dw.data_ptr(), cw.data_ptr(), threads) != 0:
        return None

    def run(lib, name):
        ptr = plans[name].ctypes.data
        fwd, bwd = entries(lib)
        t0 = clock()
        assert fwd(ptr, x.data_ptr(), p.data_ptr(), y.data_ptr(), jac.data_ptr(),
                   dw.data_ptr(), cw.data_ptr(), threads) == 0
        t1 = clock()
        assert bwd(ptr, p.data_ptr(), jac.data_ptr(), cw.data_ptr(), dw.data_ptr(),
                   gy.data_ptr(), gxs.data_ptr(), dp.data_ptr(), threads) == 0
        t2 = clock()
        return [(name + " sfwd", t1 - t0), (name + " sbwd", t2 - t1)]
    return run


if __name__ == "__main__":
    raise SystemExit(main())
