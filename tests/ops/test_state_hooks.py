"""Eager autograd's saved state and torch's saved-tensor machinery: the kernel's state is saved
with ``save_for_backward`` (``_dispatch._EagerPool``), so saved-tensor hooks see it (offloading
and packing hooks give the same gradients), ``torch.utils.checkpoint`` drops it with the
region's other activations, and a retained graph's gradient can be changed in place."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from ppverify.ops import _dispatch, _layout, _native

pytestmark = pytest.mark.skipif(not _native.available(), reason="no compiled kernel")

# (label, operator, layout, dtype, parameter): one of each state form
CASES = [
    ("disjoint", "ppool", _layout.windowed(2, 2, 2), torch.float32, 2.5),
    ("overlap", "ppool", _layout.windowed(2, 3, 2, 1), torch.float32, 2.5),
    ("window-sums", "ppool", _layout.windowed(2, 4, 4), torch.float32, 2.0),
    ("power-overlap", "powermean", _layout.windowed(2, 3, 2, 1), torch.float64, 3.1),
    ("global", "powermean", _layout.adaptive(2, 1), torch.float32, 3.1),
]


def _grads(op, layout, x, param):
    xr = x.clone().requires_grad_(True)
    p = torch.tensor(param, dtype=torch.float64, requires_grad=True)
    y = _dispatch.pool(op, xr, p, layout)
    y.backward(torch.linspace(0.5, 1.5, y.numel(), dtype=y.dtype).reshape(y.shape))
    return xr.grad, p.grad


@pytest.mark.parametrize(("label", "op", "layout", "dtype", "param"), CASES,
                         ids=[c[0] for c in CASES])
def test_packing_hooks_see_the_state_and_give_the_same_gradients(label, op, layout, dtype,
                                                                 param):
    x = torch.rand(2, 8, 16, 12, generator=torch.Generator().manual_seed(1)).to(dtype) + 0.05
    want = _grads(op, layout, x, param)
    packed = []

    def pack(t):  # an offloading hook's shape: a copy out, a copy back
        packed.append(t.numel())
        return t.clone()

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t.clone()):
        got = _grads(op, layout, x, param)
    assert len(packed) > 2  # x, the parameter and the state's buffers
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))
    with torch.autograd.graph.save_on_cpu():
        got = _grads(op, layout, x, param)
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))


def test_a_retained_graphs_gradient_may_be_changed_in_place():
    """The first backward writes the input's gradient over the saved state; autograd may keep
    that tensor as ``x.grad``. Changing it in place must not make the next backward of the
    retained graph find a saved tensor modified ("modified by an inplace operation")."""
    x = (torch.rand(2, 8, 12, 10) + 0.1).requires_grad_(True)
    alpha = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    y = _dispatch.pool("ppool", x, alpha, _layout.windowed(2, 3, 2, 1))
    g = torch.rand_like(y)
    y.backward(g, retain_graph=True)
    first = x.grad.clone()
    x.grad.zero_()  # an optimiser's in-place step on the gradient
    x.grad = None
    y.backward(g)  # recomputes (the state was spent)
    torch.testing.assert_close(x.grad, first, rtol=1e-5, atol=1e-7)


_CHECKPOINT_MEMORY = textwrap.dedent("""
    import ctypes, gc, sys
    import torch
    from torch.utils.checkpoint import checkpoint
    from ppverify.ops import p_pool2d

    def rss_mib():
        gc.collect()
        ctypes.CDLL(None).malloc_trim(0)
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    alpha = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    blocks = {"max": lambda t: torch.nn.functional.max_pool2d(t, 3, 1, 1) * 1.0,
              "pp": lambda t: p_pool2d(t, alpha, 3, 1, 1)}
    shape = tuple(map(int, sys.argv[1].split(","))) if len(sys.argv) > 1 else (2, 64, 64, 64)
    x = torch.rand(shape)
    held = {}
    for name, block in blocks.items():
        for ck in (False, True, False, True):  # the second round is the one kept
            xr = x.clone().requires_grad_(True)
            base = rss_mib()
            y = xr
            for _ in range(4):
                y = checkpoint(block, y, use_reentrant=False) if ck else block(y)
            held[name, ck] = rss_mib() - base
            y.sum().backward()
            del y, xr
    print(held["max", True], held["pp", True], held["pp", False])
""")


def checkpoint_memory(shape: str | None = None) -> tuple[float, float, float]:
    """``(checkpointed max_pool2d, checkpointed P-pooling, plain P-pooling)``: resident MiB
    held after the forward of four k3 s1 p1 layers on ``torch.rand(shape)`` ("N,C,H,W";
    default 2,64,64,64), in a fresh process. ``python -m tests.ops.test_state_hooks
    4,64,112,112`` prints them (the README's figures)."""
    out = subprocess.run([sys.executable, "-c", _CHECKPOINT_MEMORY, *([shape] if shape else [])],
                         capture_output=True, text=True, check=True)
    max_ck, pp_ck, pp_plain = map(float, out.stdout.split())
    return max_ck, pp_ck, pp_plain


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, glibc")
def test_checkpointing_drops_the_state():
    """Four checkpointed P-pooling layers hold no more after the forward than four
    checkpointed max-pooling layers (each region's output); without checkpointing they hold
    their states too. Resident memory after ``malloc_trim``, in a fresh process."""
    max_ck, pp_ck, pp_plain = checkpoint_memory()
    assert pp_ck <= max_ck + 1.5, (max_ck, pp_ck)
    assert pp_plain >= pp_ck + 4.0, (pp_plain, pp_ck)  # the measure sees the states


if __name__ == "__main__":
    max_ck, pp_ck, pp_plain = checkpoint_memory(*sys.argv[1:2])
    print(f"MiB held after the forward: checkpointed max_pool2d {max_ck:.1f}, checkpointed "
          f"P-pooling {pp_ck:.1f}, P-pooling without checkpointing {pp_plain:.1f}")
