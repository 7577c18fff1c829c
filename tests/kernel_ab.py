"""Time this checkout's compiled kernel against another build of it, call for call.

    python -m tests.kernel_ab OTHER.so [ROUNDS] [--threads N] [--rows TEXT]

OTHER.so is a ``ppool_kernel_*.so`` from another checkout's kernel cache (``PPVERIFY_CACHE``;
the same ABI version). Both libraries are loaded in one process and called through ctypes with
the same plan, input and output tensors, alternating round by round; each figure is the best
of ROUNDS (default 5) of one ``ppv_forward`` or ``ppv_backward`` call (wall time, or with
``--cpu`` the process's CPU time over all its threads), so the Python layer and
torch's pooling are out of the comparison and both builds see the same load. ``--threads N``
runs every case on N threads (one thread is the least disturbed by other jobs on shared
cores); ``--rows TEXT`` keeps the cases whose label contains TEXT. A case whose label says
channels_last runs on channels-last memory (input, output and gradients). ``--saved`` times
the pair an autograd call of a P-pooling op with overlapping windows runs instead
(``ppv_forward_overlap_saved`` and ``ppv_backward_overlap_saved``, the state of windows that
share elements; cases whose windows share none are skipped). Used for issue 12's column tiles
(README, "Before and after the column tiles") and channels-last bands."""

from __future__ import annotations

import argparse
import ctypes
import time

import torch

from ppverify.ops import _layout, _native

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
    ("2-D (8,64,112,112) global", (8, 64, 112, 112), _layout.adaptive(2, 1), 2, torch.float32),
    ("2-D (8,64,56,56) adaptive 7", (8, 64, 56, 56), _layout.adaptive(2, 7), 2, torch.float32),
    ("2-D (8,64,56,56) k14, 1 thread", (8, 64, 56, 56), _layout.windowed(2, 14), 1,
     torch.float32),
    ("2-D (8,64,56,56) k56, 1 thread", (8, 64, 56, 56), _layout.windowed(2, 56), 1,
     torch.float32),
    ("2-D (1,2,1000,1000) global", (1, 2, 1000, 1000), _layout.adaptive(2, 1), 2, torch.float32),
    ("2-D f64 (2,64,112,112) k3 s2 p1", (2, 64, 112, 112), _layout.windowed(2, 3, 2, 1), 2,
     torch.float64),
    ("2-D f64 (2,64,112,112) k2 s2", (2, 64, 112, 112), _layout.windowed(2, 2, 2), 2,
     torch.float64),
    # few planes (issue 12's segments)
    ("1-D (1,1,2e6) k3 s1 p1", (1, 1, 2_000_000), _layout.windowed(1, 3, 1, 1), 2,
     torch.float32),
    ("2-D (1,1,1000,1000) k3 s2 p1", (1, 1, 1000, 1000), _layout.windowed(2, 3, 2, 1), 2,
     torch.float32),
    ("2-D (1,3,224,224) k3 s2 p1", (1, 3, 224, 224), _layout.windowed(2, 3, 2, 1), 2,
     torch.float32),
    ("3-D (1,2,64,64,64) k3 s2 p1", (1, 2, 64, 64, 64), _layout.windowed(3, 3, 2, 1), 2,
     torch.float32),
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
                        help="time the overlap state's forward and backward (cases whose "
                             "windows share elements)")
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
    libs = (("other", other), ("this", _native.load()))
    for label, shape, layout, threads, dtype in CASES:
        if args.rows not in label:
            continue
        threads = args.threads or threads
        channels_last = "channels_last" in label
        x = torch.rand(shape, dtype=dtype) + 0.01
        if channels_last:  # the kernel reads the raw memory: (N, spatial..., C) order
            x = x.movedim(1, -1).contiguous().movedim(-1, 1)
        out = _layout.out_spatial(layout, shape[2:])
        plan = _native.make_plan("ppool", layout, shape, dtype, channels_last, 0, out)
        p = torch.tensor([2.0], dtype=torch.float64)
        y = torch.empty((shape[0], shape[1], *out), dtype=dtype)
        if channels_last:
            y = y.movedim(1, -1).contiguous().movedim(-1, 1)
        gy, gx, dp = torch.rand_like(y), torch.empty_like(x), torch.empty(1, dtype=torch.float64)
        if args.saved and (_native.plan_disjoint(plan) or dtype is torch.float64):
            continue
        n = _native.overlap_state_size(plan)
        state = [torch.empty(n, dtype=torch.float64), torch.empty(n, dtype=torch.float64),
                 torch.empty(shape[0] * shape[1], dtype=torch.float64)]
        ptrs = [t.data_ptr() for t in state]
        best: dict[str, float] = {}
        for _ in range(rounds):
            for name, lib in libs:
                t0 = clock()
                if args.saved:
                    assert lib.ppv_forward_overlap_saved(plan.ctypes.data, x.data_ptr(),
                                                         p.data_ptr(), y.data_ptr(), *ptrs,
                                                         threads) == 0
                else:
                    assert lib.ppv_forward(plan.ctypes.data, x.data_ptr(), p.data_ptr(),
                                           y.data_ptr(), threads) == 0
                t1 = clock()
                if args.saved:
                    assert lib.ppv_backward_overlap_saved(
                        plan.ctypes.data, x.data_ptr(), p.data_ptr(), *ptrs, gy.data_ptr(),
                        gx.data_ptr(), dp.data_ptr(), threads) == 0
                else:
                    assert lib.ppv_backward(plan.ctypes.data, x.data_ptr(), p.data_ptr(),
                                            gy.data_ptr(), gx.data_ptr(), dp.data_ptr(),
                                            threads) == 0
                t2 = clock()
                for key, v in ((name + " fwd", t1 - t0), (name + " bwd", t2 - t1)):
                    best[key] = min(best.get(key, float("inf")), v)
        print(f"{label:<32} fwd other {best['other fwd'] * 1e3:8.2f} ms this "
              f"{best['this fwd'] * 1e3:8.2f} ms ({best['this fwd'] / best['other fwd']:.2f}x)"
              f" | bwd other {best['other bwd'] * 1e3:8.2f} ms this "
              f"{best['this bwd'] * 1e3:8.2f} ms ({best['this bwd'] / best['other bwd']:.2f}x)",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
