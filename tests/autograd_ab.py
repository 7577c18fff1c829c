"""Time forward+backward through autograd with this checkout's kernel and another build of it.

    python -m tests.autograd_ab OTHER.so [ROUNDS] [--rows TEXT]

OTHER.so is a ``ppool_kernel_<hash>.so`` from another checkout's kernel cache
(``PPVERIFY_CACHE``; the same ABI version, its file name as built: the handshake checks it).
Both libraries are loaded in one process and swapped in as ``_native._lib`` call by call,
alternating round by round, so the whole autograd path (the saving forward with x and alpha
learnable, then ``backward``) runs on each with the same input under the same load; torch's
max and avg pooling of the same case are timed in the same rounds. Each figure is the best of
ROUNDS (default 9) of thread CPU time on one thread. Prints, per case, the forward (saving)
and fwd+bwd of both builds, and fwd+bwd over the slower of torch's two poolings (issue 12's
ratio). Entry points the other build lacks (test counters added since) are stubs that raise.
Used for issue 12's backward from the disjoint state by runs (docs/performance-history.md,
"The backward from the disjoint state by runs")."""

from __future__ import annotations

import argparse
import ctypes
import time
from pathlib import Path

import torch

from ppverify.ops import _native, adaptive_p_pool, p_pool2d

F = torch.nn.functional

# (label, shape, P-pooling, torch's max and avg pooling of the same windows)
CASES = [
    ("2-D f32 global (8,64,112,112)", (8, 64, 112, 112),
     lambda x, a: adaptive_p_pool(x, a, 1, dims=2),
     (lambda x: F.adaptive_max_pool2d(x, 1), lambda x: F.adaptive_avg_pool2d(x, 1))),
    ("2-D f32 adaptive 7 (8,64,56,56)", (8, 64, 56, 56),
     lambda x, a: adaptive_p_pool(x, a, 7, dims=2),
     (lambda x: F.adaptive_max_pool2d(x, 7), lambda x: F.adaptive_avg_pool2d(x, 7))),
] + [
    (f"2-D f32 k{k} (8,64,56,56)", (8, 64, 56, 56), lambda x, a, k=k: p_pool2d(x, a, k),
     (lambda x, k=k: F.max_pool2d(x, k), lambda x, k=k: F.avg_pool2d(x, k)))
    for k in (14, 28, 56)
]


class _Lenient(ctypes.CDLL):
    """A library whose missing entry points are stubs (``_native._open`` declares them all)."""

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            def missing(*args):
                raise AttributeError(f"{name} is not in this build")
            return missing


def _load_other(path: Path):
    real = ctypes.CDLL
    _native.ctypes.CDLL = _Lenient
    try:
        return _native._open(path)
    finally:
        _native.ctypes.CDLL = real


def _time(fn, x0: torch.Tensor, alpha: float | None) -> tuple[float, float]:
    """(forward, forward + backward) thread CPU seconds of one call."""
    x = x0.clone().requires_grad_(True)
    args = (x,) if alpha is None else (x, torch.tensor(alpha, dtype=torch.float64,
                                                       requires_grad=True))
    t0 = time.thread_time()
    y = fn(*args)
    t1 = time.thread_time()
    y.backward(torch.ones_like(y))
    return t1 - t0, time.thread_time() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="the other build's ppool_kernel_*.so")
    parser.add_argument("rounds", type=int, nargs="?", default=9)
    parser.add_argument("--rows", default="", help="keep the cases whose label contains this")
    args = parser.parse_args()
    torch.set_num_threads(1)
    this = _native.load()
    libs = {"other": _load_other(args.other), "this": this}
    for label, shape, fn, base in CASES:
        if args.rows not in label:
            continue
        x0 = torch.rand(shape) + 0.05
        best = {k: [1e9, 1e9] for k in (*libs, "max", "avg")}
        for lib in libs.values():  # an untimed round first: the first call of a case (plan,
            _native._lib = lib     # layout, allocator) had read 1.21x where reruns gave 0.95x
            _time(fn, x0, 2.0)
        _native._lib = this
        for b in base:
            _time(b, x0, None)
        for _ in range(args.rounds):
            for who, lib in libs.items():
                _native._lib = lib
                best[who] = [min(b, t) for b, t in zip(best[who], _time(fn, x0, 2.0))]
            _native._lib = this
            for who, b in zip(("max", "avg"), base):
                best[who] = [min(v, t) for v, t in zip(best[who], _time(b, x0, None))]
        slower = [max(best["max"][i], best["avg"][i]) for i in (0, 1)]
        o, t = best["other"], best["this"]
        print(f"{label:32s} fwd other {o[0] * 1e3:6.2f} this {t[0] * 1e3:6.2f} ms | fwd+bwd "
              f"other {o[1] * 1e3:6.2f} this {t[1] * 1e3:6.2f} ms ({t[1] / o[1]:.2f}x) | torch "
              f"max / avg fwd+bwd {best['max'][1] * 1e3:.2f} / {best['avg'][1] * 1e3:.2f} ms | "
              f"over the slower: fwd+bwd other {o[1] / slower[1]:.2f}x this "
              f"{t[1] / slower[1]:.2f}x, fwd this {t[0] / slower[0]:.2f}x", flush=True)
    _native._lib = this
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
